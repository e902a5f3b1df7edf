//! Semantic validation of a site: references, safety floors of every phase and plan,
//! camera geometry. Each finding carries the key path it is about; `lib.rs` turns paths
//! into file:line:col.

// `!(x > 0.0)` is deliberate throughout: a NaN must fail every check, which `x <= 0.0` would pass.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};

use crate::homography::Homography;
use crate::model::{Camera, CountingLine, Intersection, Phase, Site, Turn, ZoneKind};
use crate::source::KeyPath;
use crate::topology::{self, MIN_GREEN_FLOOR_S};

/// A problem found at a key path.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub path: KeyPath,
    pub message: String,
}

/// Plan algorithms the controller knows, besides `fixed:PLAN`.
pub const ALGORITHMS: &[&str] = &["adaptive", "webster", "scats", "max-pressure", "green-wave", "actuated"];

#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, path: KeyPath, message: impl Into<String>) {
        self.0.push(Finding { path, message: message.into() });
    }
}

pub fn validate(site: &Site) -> Vec<Finding> {
    let mut f = Findings::default();
    let root = KeyPath::root();
    check_ids(site, &mut f);
    for (i, link) in site.links.iter().enumerate() {
        let p = root.key("link").index(i);
        for (key, end) in [("from", &link.from), ("to", &link.to)] {
            if site.point(end).is_none() {
                f.push(p.key(key), format!("link {}: `{end}` is neither a node nor an intersection", link.id));
            }
        }
        if link.from == link.to {
            f.push(p.key("to"), format!("link {} starts and ends at `{}`", link.id, link.to));
        }
        if link.lanes == 0 {
            f.push(p.key("lanes"), format!("link {} has no lanes", link.id));
        }
        if !(link.speed_limit_kmh > 0.0 && link.speed_limit_kmh <= 130.0) {
            f.push(
                p.key("speed_limit_kmh"),
                format!("link {} speed limit {} km/h is outside 0..130", link.id, link.speed_limit_kmh),
            );
        }
        if !(link.lane_width_m >= 2.0 && link.lane_width_m <= 5.0) {
            f.push(
                p.key("lane_width_m"),
                format!("link {} lane width {} m is outside 2..5 m", link.id, link.lane_width_m),
            );
        }
        if site.point(&link.from).is_some() && site.point(&link.to).is_some() && site.link_length_m(link) < 10.0 {
            let key = if link.length_m.is_some() { "length_m" } else { "to" };
            f.push(
                p.key(key),
                format!("link {} is {:.1} m long; at least 10 m is needed", link.id, site.link_length_m(link)),
            );
        }
    }
    for (i, inter) in site.intersections.iter().enumerate() {
        check_intersection(site, inter, &root.key("intersection").index(i), &mut f);
    }
    for (i, cam) in site.cameras.iter().enumerate() {
        check_camera(site, cam, &root.key("camera").index(i), &mut f);
    }
    check_plans(site, &mut f);
    check_demand(site, &mut f);
    check_control(site, &mut f);
    for (class, params) in &site.vehicle_class {
        let p = root.key("vehicle_class").key(class.as_str());
        let positive = [
            ("length_m", params.length_m),
            ("width_m", params.width_m),
            ("accel_ms2", params.accel_ms2),
            ("decel_ms2", params.decel_ms2),
            ("max_speed_kmh", params.max_speed_kmh),
        ];
        for (key, v) in positive {
            if !(v > 0.0 && v.is_finite()) {
                f.push(p.key(key), format!("{class} {key} must be positive, got {v}"));
            }
        }
        if params.emergency_decel_ms2 < params.decel_ms2 {
            f.push(
                p.key("emergency_decel_ms2"),
                format!("{class} emergency deceleration is below its comfortable deceleration"),
            );
        }
        if !(0.0..=1.0).contains(&params.sigma) {
            f.push(p.key("sigma"), format!("{class} sigma {} is outside 0..1", params.sigma));
        }
        if params.abreast == 0 || params.abreast > 3 {
            f.push(p.key("abreast"), format!("{class} abreast {} is outside 1..3", params.abreast));
        }
    }
    let ops = &site.operations;
    if ops.listen.parse::<SocketAddr>().is_err() {
        f.push(root.key("operations").key("listen"), format!("`{}` is not an IP:PORT address", ops.listen));
    }
    if let Some(m) = &ops.mqtt
        && !is_host_port(m)
    {
        f.push(root.key("operations").key("mqtt"), format!("`{m}` is not a HOST:PORT address"));
    }
    f.0
}

fn is_host_port(s: &str) -> bool {
    s.rsplit_once(':').is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
}

fn check_ids(site: &Site, f: &mut Findings) {
    let root = KeyPath::root();
    let mut places = BTreeMap::new();
    for (i, n) in site.nodes.iter().enumerate() {
        dup(&mut places, &n.id, root.key("node").index(i).key("id"), f);
    }
    for (i, n) in site.intersections.iter().enumerate() {
        dup(&mut places, &n.id, root.key("intersection").index(i).key("id"), f);
    }
    let mut links = BTreeMap::new();
    for (i, l) in site.links.iter().enumerate() {
        dup(&mut links, &l.id, root.key("link").index(i).key("id"), f);
    }
    let mut approaches = BTreeMap::new();
    let mut detectors = BTreeMap::new();
    for (i, inter) in site.intersections.iter().enumerate() {
        let p = root.key("intersection").index(i);
        for (j, a) in inter.approaches.iter().enumerate() {
            dup(&mut approaches, &a.id, p.key("approach").index(j).key("id"), f);
        }
        for (j, d) in inter.detectors.iter().enumerate() {
            dup(&mut detectors, &d.id, p.key("detector").index(j).key("id"), f);
        }
        let mut phases = BTreeMap::new();
        for (j, ph) in inter.phases.iter().enumerate() {
            dup(&mut phases, &ph.id.to_string(), p.key("phase").index(j).key("id"), f);
        }
    }
    let mut cams = BTreeMap::new();
    for (i, c) in site.cameras.iter().enumerate() {
        dup(&mut cams, &c.id, root.key("camera").index(i).key("id"), f);
        let mut lines = BTreeMap::new();
        for (j, l) in c.lines.iter().enumerate() {
            dup(&mut lines, &l.id, root.key("camera").index(i).key("line").index(j).key("id"), f);
        }
        let mut zones = BTreeMap::new();
        for (j, z) in c.zones.iter().enumerate() {
            dup(&mut zones, &z.id, root.key("camera").index(i).key("zone").index(j).key("id"), f);
        }
    }
    let mut plans = BTreeMap::new();
    for (i, p) in site.plans.iter().enumerate() {
        dup(&mut plans, &p.id, root.key("plan").index(i).key("id"), f);
    }
    let mut flows = BTreeMap::new();
    for (i, fl) in site.demand.flows.iter().enumerate() {
        dup(&mut flows, &fl.id, root.key("demand").key("flow").index(i).key("id"), f);
    }
}

fn dup(seen: &mut BTreeMap<String, ()>, id: &str, path: KeyPath, f: &mut Findings) {
    if id.trim().is_empty() {
        f.push(path, "id must not be empty");
    } else if seen.insert(id.to_owned(), ()).is_some() {
        f.push(path, format!("duplicate id `{id}`"));
    }
}

fn check_intersection(site: &Site, inter: &Intersection, p: &KeyPath, f: &mut Findings) {
    if !(inter.width_m > 0.0) {
        f.push(p.key("width_m"), format!("intersection {} width must be positive", inter.id));
    }
    for (j, a) in inter.approaches.iter().enumerate() {
        let ap = p.key("approach").index(j);
        match site.link(&a.link) {
            None => f.push(ap.key("link"), format!("approach {}: unknown link `{}`", a.id, a.link)),
            Some(l) if l.to != inter.id => f.push(
                ap.key("link"),
                format!("approach {}: link {} ends at `{}`, not at intersection {}", a.id, l.id, l.to, inter.id),
            ),
            Some(l) if usize::from(l.lanes) != a.lanes.len() => f.push(
                ap.key("lane"),
                format!("approach {} lists {} lanes but link {} has {}", a.id, a.lanes.len(), l.id, l.lanes),
            ),
            Some(_) => {}
        }
        for (turn, exit) in &a.exits {
            match site.link(exit) {
                None => {
                    f.push(ap.key("exits").key(turn.as_str()), format!("approach {}: unknown exit link `{exit}`", a.id))
                }
                Some(l) if l.from != inter.id => f.push(
                    ap.key("exits").key(turn.as_str()),
                    format!("approach {}: exit link {exit} does not start at intersection {}", a.id, inter.id),
                ),
                Some(_) => {}
            }
        }
        for (k, lane) in a.lanes.iter().enumerate() {
            if lane.movements.is_empty() {
                f.push(
                    ap.key("lane").index(k).key("movements"),
                    format!("approach {} lane {k} allows no movement", a.id),
                );
            }
            for m in &lane.movements {
                if !a.exits.contains_key(m) {
                    f.push(
                        ap.key("lane").index(k).key("movements"),
                        format!("approach {} lane {k} allows {m} but the approach has no {m} exit", a.id),
                    );
                }
            }
        }
        if !a.turn_ratios.is_empty() {
            let sum: f64 = a.turn_ratios.values().sum();
            if (sum - 1.0).abs() > 1e-6 || a.turn_ratios.values().any(|r| *r < 0.0) {
                f.push(ap.key("turn_ratios"), format!("approach {} turn ratios add up to {sum}, not 1", a.id));
            }
            for t in a.turn_ratios.keys() {
                if !a.exits.contains_key(t) {
                    f.push(
                        ap.key("turn_ratios").key(t.as_str()),
                        format!("approach {} has a {t} ratio but no {t} exit", a.id),
                    );
                }
            }
        }
        if let Some(c) = a.crossing_m
            && !(c > 0.0)
        {
            f.push(ap.key("crossing_m"), format!("approach {} crossing distance must be positive", a.id));
        }
    }

    let phase_ids: BTreeSet<u8> = inter.phases.iter().map(|ph| ph.id).collect();
    for (j, ph) in inter.phases.iter().enumerate() {
        check_phase(site, inter, ph, &phase_ids, &p.key("phase").index(j), f);
    }
    check_crossing_movements(site, inter, p, f);

    if inter.stages.is_empty() {
        f.push(p.key("stages"), format!("intersection {} has no stages", inter.id));
    }
    let mut served = BTreeSet::new();
    for (s, stage) in inter.stages.iter().enumerate() {
        let sp = p.key("stages").index(s);
        if stage.is_empty() {
            f.push(sp.clone(), format!("intersection {} stage {} serves no phase", inter.id, s + 1));
        }
        for (a, id) in stage.iter().enumerate() {
            if !phase_ids.contains(id) {
                f.push(sp.clone(), format!("intersection {} stage {} names unknown phase {id}", inter.id, s + 1));
            }
            served.insert(*id);
            for other in &stage[a + 1..] {
                if other == id {
                    f.push(sp.clone(), format!("intersection {} stage {} names phase {id} twice", inter.id, s + 1));
                } else if conflicting(inter, *id, *other) {
                    f.push(
                        sp.clone(),
                        format!("intersection {} stage {} greens conflicting phases {id} and {other}", inter.id, s + 1),
                    );
                }
            }
        }
    }
    for (j, ph) in inter.phases.iter().enumerate() {
        if !served.contains(&ph.id) {
            f.push(
                p.key("phase").index(j).key("id"),
                format!("phase {} is in no stage, so it would never be green", ph.id),
            );
        }
    }

    for (j, d) in inter.detectors.iter().enumerate() {
        let dp = p.key("detector").index(j);
        let Some(a) = inter.approaches.iter().find(|a| a.id == d.approach) else {
            f.push(
                dp.key("approach"),
                format!("detector {}: `{}` is not an approach of {}", d.id, d.approach, inter.id),
            );
            continue;
        };
        if usize::from(d.lane) >= a.lanes.len() {
            f.push(dp.key("lane"), format!("detector {}: approach {} has no lane {}", d.id, a.id, d.lane));
        }
        if !(d.length_m > 0.0) || d.distance_m < 0.0 {
            f.push(dp.key("length_m"), format!("detector {}: length must be positive and distance not negative", d.id));
        }
        if let Some(l) = site.link(&a.link)
            && d.distance_m + d.length_m > site.link_length_m(l)
        {
            f.push(
                dp.key("distance_m"),
                format!("detector {} at {} m lies beyond the start of link {}", d.id, d.distance_m + d.length_m, l.id),
            );
        }
    }

    if let Some(fc) = &inter.field_controller {
        let fp = p.key("field_controller");
        if !is_host_port(&fc.address) {
            f.push(fp.key("address"), format!("`{}` is not a HOST:PORT address", fc.address));
        }
        for (k, a) in fc.allow.iter().enumerate() {
            if a.parse::<IpAddr>().is_err() {
                f.push(fp.key("allow").index(k), format!("`{a}` is not an IP address"));
            }
        }
        if !(fc.backup_time_s > 0.0) {
            f.push(fp.key("backup_time_s"), "backup time must be positive");
        }
        if fc.local_plan != "actuated" && !site.plans.iter().any(|pl| pl.id == fc.local_plan) {
            f.push(
                fp.key("local_plan"),
                format!("local plan `{}` is neither `actuated` nor a plan of this site", fc.local_plan),
            );
        }
        if fc.timeout_ms == 0 {
            f.push(fp.key("timeout_ms"), "timeout must be positive");
        }
    }
}

fn conflicting(inter: &Intersection, a: u8, b: u8) -> bool {
    let declares = |x: u8, y: u8| inter.phases.iter().any(|p| p.id == x && p.conflicts.contains(&y));
    declares(a, b) || declares(b, a)
}

fn check_phase(site: &Site, inter: &Intersection, ph: &Phase, ids: &BTreeSet<u8>, pp: &KeyPath, f: &mut Findings) {
    let id = ph.id;
    if ph.movements.is_empty() {
        f.push(pp.key("movements"), format!("phase {id} serves no movement"));
    }
    let mut fastest: Option<f64> = None;
    let mut widest: f64 = 0.0;
    for (k, m) in ph.movements.iter().enumerate() {
        let Some(a) = inter.approaches.iter().find(|a| a.id == m.approach) else {
            f.push(
                pp.key("movements").index(k),
                format!("phase {id}: `{}` is not an approach of {}", m.approach, inter.id),
            );
            continue;
        };
        if !a.exits.contains_key(&m.turn) {
            f.push(pp.key("movements").index(k), format!("phase {id}: approach {} has no {} movement", a.id, m.turn));
        }
        if let Some(v) = site.approach_speed_ms(a) {
            fastest = Some(fastest.map_or(v, |f: f64| f.max(v)));
        }
        widest = widest.max(a.crossing_m.unwrap_or(inter.width_m));
    }
    for c in &ph.conflicts {
        if *c == id {
            f.push(pp.key("conflicts"), format!("phase {id} lists itself as a conflict"));
        } else if !ids.contains(c) {
            f.push(pp.key("conflicts"), format!("phase {id} conflicts with unknown phase {c}"));
        } else if !inter.phases.iter().any(|o| o.id == *c && o.conflicts.contains(&id)) {
            f.push(
                pp.key("conflicts"),
                format!(
                    "conflict matrix is not symmetric: phase {id} conflicts with {c} but phase {c} does not list {id}"
                ),
            );
        }
    }
    if !(ph.min_green_s >= MIN_GREEN_FLOOR_S) {
        f.push(
            pp.key("min_green_s"),
            format!("phase {id} min_green {} s is below the {} s floor", ph.min_green_s, MIN_GREEN_FLOOR_S),
        );
    }
    if !(ph.max_green_s >= ph.min_green_s) {
        f.push(
            pp.key("max_green_s"),
            format!("phase {id} max_green {} s is below its min_green {} s", ph.max_green_s, ph.min_green_s),
        );
    }
    if let Some(v) = fastest {
        let y = topology::ite_yellow_s(v);
        // Compare in tenths, the resolution of the field controller's registers.
        if (ph.yellow_s * 10.0).round() < (y * 10.0).ceil() - 1e-9 {
            f.push(
                pp.key("yellow_s"),
                format!(
                    "phase {id} yellow {} s is below the ITE change interval {:.1} s for {:.0} km/h",
                    ph.yellow_s,
                    (y * 10.0).ceil() / 10.0,
                    v * 3.6
                ),
            );
        }
        let r = topology::ite_red_clearance_s(widest, v);
        if (ph.red_clearance_s * 10.0).round() < (r * 10.0).ceil() - 1e-9 {
            f.push(
                pp.key("red_clearance_s"),
                format!(
                    "phase {id} red clearance {} s is below (W + L) / v = ({widest} m + {} m) / {:.2} m/s = {:.1} s",
                    ph.red_clearance_s,
                    topology::ITE_VEHICLE_LENGTH_M,
                    v,
                    (r * 10.0).ceil() / 10.0
                ),
            );
        }
    }
    if let Some(pc) = ph.pedestrian_clearance_s
        && !(pc >= 0.0)
    {
        f.push(pp.key("pedestrian_clearance_s"), format!("phase {id} pedestrian clearance must not be negative"));
    }
    if !(ph.passage_s > 0.0 && ph.passage_s <= ph.max_green_s) {
        f.push(
            pp.key("passage_s"),
            format!("phase {id} passage {} s must be positive and within max green", ph.passage_s),
        );
    }
}

/// Movements whose paths cross (approach headings roughly perpendicular, and neither a
/// right turn, or any movement against the opposing through) must be in phases declared
/// conflicting, else the conflict matrix would allow a crash.
fn check_crossing_movements(site: &Site, inter: &Intersection, p: &KeyPath, f: &mut Findings) {
    let heading = |approach: &str| {
        inter
            .approaches
            .iter()
            .find(|a| a.id == approach)
            .and_then(|a| site.link(&a.link))
            .map(|l| site.link_heading_deg(l))
    };
    for (i, a) in inter.phases.iter().enumerate() {
        for b in &inter.phases[i + 1..] {
            if conflicting(inter, a.id, b.id) {
                continue;
            }
            'pair: for ma in &a.movements {
                for mb in &b.movements {
                    let (Some(ha), Some(hb)) = (heading(&ma.approach), heading(&mb.approach)) else { continue };
                    let diff = (ha - hb).rem_euclid(360.0);
                    let perpendicular = (45.0..135.0).contains(&diff) || (225.0..315.0).contains(&diff);
                    if perpendicular && ma.turn != Turn::Right && mb.turn != Turn::Right {
                        f.push(
                            p.key("phase").index(i).key("conflicts"),
                            format!(
                                "phases {} and {} serve crossing movements {ma} and {mb} but are not declared conflicting",
                                a.id, b.id
                            ),
                        );
                        break 'pair;
                    }
                }
            }
        }
    }
}

fn inside(p: [f64; 2], res: [u32; 2]) -> bool {
    p[0] >= 0.0 && p[1] >= 0.0 && p[0] <= f64::from(res[0]) && p[1] <= f64::from(res[1])
}

/// A departure line's positive crossing has to be its link's travel direction on the
/// ground: the wrong-way rule reads every negative crossing as a driver against the flow.
fn check_departure_line(site: &Site, cam: &Camera, line: &CountingLine, dep: &str, lp: &KeyPath, f: &mut Findings) {
    let id = &cam.id;
    if line.approach.is_some() {
        f.push(
            lp.key("departure"),
            format!("camera {id} line {}: a line is on an approach or on a departure, not both", line.id),
        );
    }
    let Some(link) = site.link(dep) else {
        f.push(lp.key("departure"), format!("camera {id} line {}: unknown link `{dep}`", line.id));
        return;
    };
    if link.from != cam.intersection {
        f.push(
            lp.key("departure"),
            format!(
                "camera {id} line {}: link {dep} starts at `{}`, not at the camera's intersection {}",
                line.id, link.from, cam.intersection
            ),
        );
        return;
    }
    let (Some(a), Some(b)) = (site.point(&link.from), site.point(&link.to)) else { return };
    let Ok(h) = Homography::estimate(&cam.calibration) else { return };
    // The positive direction crosses from the left of p0->p1 to its right on screen.
    let [p0, p1] = line.points;
    let mid = [(p0[0] + p1[0]) / 2.0, (p0[1] + p1[1]) / 2.0];
    let step = [-(p1[1] - p0[1]) * 0.05, (p1[0] - p0[0]) * 0.05];
    let (Some(g0), Some(g1)) = (h.to_ground(mid), h.to_ground([mid[0] + step[0], mid[1] + step[1]])) else { return };
    let along = (g1[0] - g0[0]) * (b.0 - a.0) + (g1[1] - g0[1]) * (b.1 - a.1);
    if !(along > 0.0) {
        f.push(
            lp.key("points"),
            format!(
                "camera {id} line {}: its positive direction points towards {}, against the travel of departure \
                 link {dep}; swap its two points",
                line.id, link.from
            ),
        );
    }
}

fn check_camera(site: &Site, cam: &Camera, p: &KeyPath, f: &mut Findings) {
    let id = &cam.id;
    let inter = site.intersection(&cam.intersection);
    if inter.is_none() {
        f.push(p.key("intersection"), format!("camera {id}: unknown intersection `{}`", cam.intersection));
    }
    if !cam.uri.contains("://") {
        f.push(p.key("uri"), format!("camera {id}: `{}` is not a URI (file://, rtsp://, http://)", cam.uri));
    }
    if cam.resolution[0] < 64 || cam.resolution[1] < 64 || cam.resolution[0] > 7680 || cam.resolution[1] > 4320 {
        f.push(
            p.key("resolution"),
            format!("camera {id}: resolution {:?} is outside 64x64..7680x4320", cam.resolution),
        );
    }
    if !(cam.fps > 0.0 && cam.fps <= 120.0) {
        f.push(p.key("fps"), format!("camera {id}: frame rate {} is outside 0..120", cam.fps));
    }
    for (k, c) in cam.calibration.iter().enumerate() {
        if !inside(c.image, cam.resolution) {
            f.push(
                p.key("calibration").index(k),
                format!("camera {id}: calibration point {:?} is outside the image", c.image),
            );
        }
    }
    if let Err(e) = Homography::estimate(&cam.calibration) {
        f.push(p.key("calibration"), format!("camera {id}: homography {e}"));
    }
    if !cam.roi.is_empty() && cam.roi.len() < 3 {
        f.push(p.key("roi"), format!("camera {id}: region of interest needs at least 3 points"));
    }
    for (k, pt) in cam.roi.iter().enumerate() {
        if !inside(*pt, cam.resolution) {
            f.push(p.key("roi").index(k), format!("camera {id}: region point {pt:?} is outside the image"));
        }
    }
    if cam.detector.kind == crate::model::DetectorBackend::Dnn && cam.detector.model.is_none() {
        f.push(p.key("detector").key("model"), format!("camera {id}: the dnn detector needs a model file"));
    }
    let approach_ok =
        |a: &Option<String>| a.as_ref().is_none_or(|a| inter.is_some_and(|i| i.approaches.iter().any(|x| &x.id == a)));
    for (k, line) in cam.lines.iter().enumerate() {
        let lp = p.key("line").index(k);
        for pt in &line.points {
            if !inside(*pt, cam.resolution) {
                f.push(
                    lp.key("points"),
                    format!(
                        "camera {id} line {}: point {pt:?} is outside the {}x{} image",
                        line.id, cam.resolution[0], cam.resolution[1]
                    ),
                );
            }
        }
        if (line.points[0][0] - line.points[1][0]).hypot(line.points[0][1] - line.points[1][1]) < 2.0 {
            f.push(lp.key("points"), format!("camera {id} line {}: the two points coincide", line.id));
        }
        if !approach_ok(&line.approach) {
            f.push(
                lp.key("approach"),
                format!(
                    "camera {id} line {}: `{}` is not an approach of {}",
                    line.id,
                    line.approach.as_deref().unwrap_or(""),
                    cam.intersection
                ),
            );
        }
        if !(line.hysteresis_m >= 0.0) {
            f.push(lp.key("hysteresis_m"), format!("camera {id} line {}: hysteresis must not be negative", line.id));
        }
        if let Some(dep) = &line.departure {
            check_departure_line(site, cam, line, dep, &lp, f);
        }
    }
    for (k, z) in cam.zones.iter().enumerate() {
        let zp = p.key("zone").index(k);
        let need = if z.kind == ZoneKind::SolidLine { 2 } else { 3 };
        if z.points.len() < need {
            f.push(zp.key("points"), format!("camera {id} zone {}: needs at least {need} points", z.id));
        }
        for pt in &z.points {
            if !inside(*pt, cam.resolution) {
                f.push(zp.key("points"), format!("camera {id} zone {}: point {pt:?} is outside the image", z.id));
            }
        }
        if !approach_ok(&z.approach) {
            f.push(zp.key("approach"), format!("camera {id} zone {}: unknown approach", z.id));
        }
        match z.kind {
            ZoneKind::NoStopping if !z.max_dwell_s.is_some_and(|d| d > 0.0) => {
                f.push(
                    zp.key("max_dwell_s"),
                    format!("camera {id} zone {}: a no-stopping zone needs a positive max_dwell_s", z.id),
                );
            }
            ZoneKind::Speed if !z.speed_limit_kmh.is_some_and(|v| v > 0.0) => {
                f.push(
                    zp.key("speed_limit_kmh"),
                    format!("camera {id} zone {}: a speed zone needs a positive speed_limit_kmh", z.id),
                );
            }
            _ => {}
        }
    }
    for (k, h) in cam.signal_heads.iter().enumerate() {
        let hp = p.key("signal_head").index(k);
        if let Some(i) = inter
            && !i.phases.iter().any(|ph| ph.id == h.phase)
        {
            f.push(hp.key("phase"), format!("camera {id}: signal head of unknown phase {}", h.phase));
        }
        if h.lamps.iter().any(|l| !inside(*l, cam.resolution)) {
            f.push(hp.key("lamps"), format!("camera {id}: signal head lamps lie outside the image"));
        }
    }
}

fn check_plans(site: &Site, f: &mut Findings) {
    for (i, plan) in site.plans.iter().enumerate() {
        let pp = KeyPath::root().key("plan").index(i);
        if !(plan.cycle_s >= 20.0 && plan.cycle_s <= 240.0) {
            f.push(pp.key("cycle_s"), format!("plan {} cycle {} s is outside 20..240 s", plan.id, plan.cycle_s));
        }
        let mut seen = BTreeSet::new();
        for (j, t) in plan.timings.iter().enumerate() {
            let tp = pp.key("timing").index(j);
            if !seen.insert(t.intersection.as_str()) {
                f.push(tp.key("intersection"), format!("plan {} times intersection {} twice", plan.id, t.intersection));
            }
            let Some(inter) = site.intersection(&t.intersection) else {
                f.push(tp.key("intersection"), format!("plan {}: unknown intersection `{}`", plan.id, t.intersection));
                continue;
            };
            if !(t.offset_s >= 0.0 && t.offset_s < plan.cycle_s) {
                f.push(
                    tp.key("offset_s"),
                    format!("plan {} {}: offset {} s must be within 0..cycle", plan.id, inter.id, t.offset_s),
                );
            }
            if t.splits_s.len() != inter.stages.len() {
                f.push(
                    tp.key("splits_s"),
                    format!(
                        "plan {} {}: {} splits for {} stages",
                        plan.id,
                        inter.id,
                        t.splits_s.len(),
                        inter.stages.len()
                    ),
                );
                continue;
            }
            let total: f64 = t.splits_s.iter().sum();
            if (total - plan.cycle_s).abs() > 0.05 {
                f.push(
                    tp.key("splits_s"),
                    format!(
                        "plan {} {}: splits add up to {total} s, not the cycle {} s",
                        plan.id, inter.id, plan.cycle_s
                    ),
                );
            }
            for (s, (split, stage)) in t.splits_s.iter().zip(&inter.stages).enumerate() {
                let phases: Vec<&Phase> =
                    stage.iter().filter_map(|id| inter.phases.iter().find(|p| p.id == *id)).collect();
                let change = phases.iter().map(|p| p.yellow_s + p.red_clearance_s).fold(0.0, f64::max);
                let min_green = phases
                    .iter()
                    .map(|p| p.min_green_s.max(p.pedestrian_clearance_s.unwrap_or(0.0)))
                    .fold(0.0, f64::max);
                let green = split - change;
                if green + 1e-9 < min_green {
                    f.push(
                        tp.key("splits_s").index(s),
                        format!(
                            "plan {} {}: stage {} split {split} s leaves {green:.1} s of green, below the minimum {min_green} s",
                            plan.id,
                            inter.id,
                            s + 1
                        ),
                    );
                }
            }
        }
    }
}

fn check_demand(site: &Site, f: &mut Findings) {
    let dp = KeyPath::root().key("demand");
    let d = &site.demand;
    if !(d.duration_s > 0.0) {
        f.push(dp.key("duration_s"), "demand duration must be positive");
    }
    let mut last = f64::NEG_INFINITY;
    for (k, pt) in d.profile.iter().enumerate() {
        if pt[0] <= last || pt[1] < 0.0 {
            f.push(dp.key("profile").index(k), "profile points need increasing times and factors of at least 0");
        }
        last = pt[0];
    }
    let check_mix = |mix: &BTreeMap<crate::model::VehicleClass, f64>, path: KeyPath, f: &mut Findings| {
        if mix.values().any(|s| *s < 0.0) || mix.values().sum::<f64>() <= 0.0 {
            f.push(path, "class shares must be at least 0 and add up to more than 0");
        }
    };
    check_mix(&d.mix, dp.key("mix"), f);
    for (k, fl) in d.flows.iter().enumerate() {
        let fp = dp.key("flow").index(k);
        match site.link(&fl.from) {
            None => f.push(fp.key("from"), format!("flow {}: unknown link `{}`", fl.id, fl.from)),
            Some(l) if !site.is_boundary(&l.from) => {
                f.push(fp.key("from"), format!("flow {}: link {} does not start at a boundary node", fl.id, l.id));
            }
            Some(_) => {}
        }
        if let Some(to) = &fl.to {
            match site.link(to) {
                None => f.push(fp.key("to"), format!("flow {}: unknown link `{to}`", fl.id)),
                Some(l) if !site.is_boundary(&l.to) => {
                    f.push(fp.key("to"), format!("flow {}: link {} does not end at a boundary node", fl.id, l.id));
                }
                Some(_) => {
                    if site.link(&fl.from).is_some() && site.route(&fl.from, to).is_none() {
                        f.push(fp.key("to"), format!("flow {}: no route from {} to {to}", fl.id, fl.from));
                    }
                }
            }
        } else if let Some((_, a)) = site.approach_of_link(&fl.from)
            && a.turn_ratios.is_empty()
        {
            f.push(fp.key("to"), format!("flow {}: no destination and approach {} has no turn ratios", fl.id, a.id));
        }
        if !(fl.vehicles_per_hour >= 0.0 && fl.vehicles_per_hour <= 20_000.0) {
            f.push(
                fp.key("vehicles_per_hour"),
                format!("flow {}: {} veh/h is outside 0..20000", fl.id, fl.vehicles_per_hour),
            );
        }
        if let Some(end) = fl.end_s
            && end <= fl.begin_s
        {
            f.push(fp.key("end_s"), format!("flow {}: ends at {end} s, not after its begin {} s", fl.id, fl.begin_s));
        }
        if let Some(mix) = &fl.mix {
            check_mix(mix, fp.key("mix"), f);
        }
    }
    let m = &d.misbehaviour;
    let mp = dp.key("misbehaviour");
    for (key, v) in [
        ("red_light_runner", m.red_light_runner),
        ("wrong_way", m.wrong_way),
        ("illegal_stop", m.illegal_stop),
        ("speeder", m.speeder),
    ] {
        if !(0.0..=1.0).contains(&v) {
            f.push(mp.key(key), format!("share {v} is outside 0..1"));
        }
    }
    if !(m.speeding_factor >= 1.0) {
        f.push(mp.key("speeding_factor"), format!("speeding factor {} must be at least 1", m.speeding_factor));
    }
}

fn check_control(site: &Site, f: &mut Findings) {
    let cp = KeyPath::root().key("control");
    let c = &site.control;
    let known = ALGORITHMS.contains(&c.algorithm.as_str())
        || c.algorithm.strip_prefix("fixed:").is_some_and(|p| site.plans.iter().any(|pl| pl.id == p));
    if !known {
        f.push(
            cp.key("algorithm"),
            format!("unknown algorithm `{}`; expected one of {} or fixed:PLAN", c.algorithm, ALGORITHMS.join(", ")),
        );
    }
    if let Some(fb) = &c.fallback_plan
        && !site.plans.iter().any(|p| &p.id == fb)
    {
        f.push(cp.key("fallback_plan"), format!("unknown plan `{fb}`"));
    }
    if !(c.min_cycle_s >= 20.0 && c.min_cycle_s <= c.max_cycle_s && c.max_cycle_s <= 240.0) {
        f.push(
            cp.key("min_cycle_s"),
            format!("cycle range {}..{} s must lie within 20..240 s", c.min_cycle_s, c.max_cycle_s),
        );
    }
    if !(c.stale_after_s > 0.0) {
        f.push(cp.key("stale_after_s"), "stale_after_s must be positive");
    }
    if !(c.heartbeat_period_s > 0.0) {
        f.push(cp.key("heartbeat_period_s"), "heartbeat period must be positive");
    }
    if !(c.saturation_flow_vph >= 600.0 && c.saturation_flow_vph <= 2600.0) {
        f.push(
            cp.key("saturation_flow_vph"),
            format!("saturation flow {} veh/h/lane is outside 600..2600", c.saturation_flow_vph),
        );
    }
    for inter in &site.intersections {
        if let Some(fc) = &inter.field_controller
            && fc.backup_time_s <= c.heartbeat_period_s
        {
            let i = site.intersections.iter().position(|x| x.id == inter.id).unwrap_or(0);
            f.push(
                KeyPath::root().key("intersection").index(i).key("field_controller").key("backup_time_s"),
                format!(
                    "backup time {} s must exceed the heartbeat period {} s",
                    fc.backup_time_s, c.heartbeat_period_s
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arterial() -> Site {
        toml::from_str(include_str!("../examples/arterial.toml")).unwrap()
    }

    fn departure_findings(site: &Site) -> Vec<String> {
        validate(site).into_iter().map(|f| f.message).filter(|m| m.contains("depart")).collect()
    }

    #[test]
    fn a_departure_line_must_point_along_its_link() {
        let mut site = arterial();
        assert_eq!(departure_findings(&site), Vec::<String>::new());
        let line = site.cameras[0].lines.iter_mut().find(|l| l.id == "J1-E-departure").unwrap();
        line.points.swap(0, 1);
        let found = departure_findings(&site);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("against the travel of departure link J1W"), "{found:?}");
    }

    #[test]
    fn a_departure_line_names_a_link_leaving_the_camera_s_junction() {
        let mut site = arterial();
        let line = site.cameras[0].lines.iter_mut().find(|l| l.id == "J1-E-departure").unwrap();
        line.departure = Some("WJ1".into());
        let found = departure_findings(&site);
        assert!(found.iter().any(|m| m.contains("link WJ1 starts at `W`")), "{found:?}");
        let line = site.cameras[0].lines.iter_mut().find(|l| l.id == "J1-E-departure").unwrap();
        line.departure = Some("J1W".into());
        line.approach = Some("J1-W".into());
        let found = departure_findings(&site);
        assert!(found.iter().any(|m| m.contains("not both")), "{found:?}");
    }
}
