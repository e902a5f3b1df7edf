//! A site file skeleton from a SUMO network: every traffic light becomes an intersection,
//! every edge into it an approach with one phase, and the stages, conflicts and a fixed plan
//! come from the traffic light's own program. Timing floors (yellow, red clearance) come from
//! the ITE formulas, so the result passes `nutgiao check` as it is; the engineer then refines it.

use std::collections::{BTreeMap, BTreeSet};

use nutgiao_config::topology::{ite_red_clearance_s, ite_yellow_s};
use nutgiao_config::{
    Approach, Bound, Detector, DetectorKind, Intersection, Lane, Link, MovementRef, Node, Phase, Plan, PlanTiming,
    Site, SiteInfo, Turn,
};

use super::error::SumoError;
use super::net::{Connection, Direction, Net, TlLogic};

/// Distance of the advance loop upstream of the stop line, as on the reference arterial.
const ADVANCE_LOOP_M: f64 = 60.0;
const LOOP_LENGTH_M: f64 = 2.0;
/// Floor of an imported minimum green: enough to start a queue moving.
const IMPORTED_MIN_GREEN_S: f64 = 5.0;
/// Ceiling of an imported maximum green for fixed-time programs.
const IMPORTED_MAX_GREEN_S: f64 = 60.0;
const IMPORTED_PASSAGE_S: f64 = 2.5;

/// Builds the site of a network. `name` becomes the site name.
pub fn import_net(net: &Net, name: &str) -> Result<Site, SumoError> {
    let tls_ids: Vec<&str> = {
        let mut ids: Vec<&str> = net.tl_logics.iter().map(|t| t.id.as_str()).collect();
        ids.dedup();
        ids
    };
    if tls_ids.is_empty() {
        return Err(SumoError::Mapping("the network has no traffic lights (<tlLogic>), so nothing to control".into()));
    }
    // A traffic light stands where the edges it controls end.
    let mut node_of_tls: BTreeMap<String, String> = BTreeMap::new();
    for tls in &tls_ids {
        let ends: BTreeSet<&str> =
            net.controlled(tls).iter().filter_map(|(_, c)| net.edge(&c.from).map(|e| e.to.as_str())).collect();
        match ends.len() {
            1 => {
                node_of_tls.insert(ends.into_iter().next().unwrap_or_default().to_owned(), (*tls).to_owned());
            }
            0 => return Err(SumoError::Mapping(format!("traffic light {tls} controls no connection"))),
            _ => {
                return Err(SumoError::Mapping(format!(
                    "traffic light {tls} controls the junctions {} together; joined traffic lights are not supported",
                    ends.into_iter().collect::<Vec<_>>().join(", ")
                )));
            }
        }
    }
    let site_id = |junction: &str| node_of_tls.get(junction).cloned().unwrap_or_else(|| junction.to_owned());
    let point =
        |junction: &str| net.junction(junction).map(|j| (round1(j.x - net.offset.0), round1(j.y - net.offset.1)));

    let mut nodes = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &net.edges {
        for j in [&e.from, &e.to] {
            if node_of_tls.contains_key(j) || !seen.insert(j.clone()) {
                continue;
            }
            let (x, y) =
                point(j).ok_or_else(|| SumoError::Mapping(format!("edge {}: unknown junction `{j}`", e.id)))?;
            nodes.push(Node { id: j.clone(), x, y });
        }
    }

    let links: Vec<Link> = net
        .edges
        .iter()
        .filter(|e| !e.lanes.is_empty())
        .map(|e| Link {
            id: e.id.clone(),
            from: site_id(&e.from),
            to: site_id(&e.to),
            lanes: u8::try_from(e.lanes.len()).unwrap_or(u8::MAX),
            speed_limit_kmh: round1(e.lanes.iter().map(|l| l.speed_ms).fold(0.0, f64::max) * 3.6),
            length_m: Some(round1(e.lanes[0].length_m)),
            lane_width_m: e.lanes[0].width_m.unwrap_or(3.2),
        })
        .collect();

    let mut intersections = Vec::new();
    let mut plans: BTreeMap<String, Plan> = BTreeMap::new();
    for (junction, tls) in &node_of_tls {
        let program = net.default_program(tls).ok_or_else(|| SumoError::Mapping(format!("no program for {tls}")))?;
        let (inter, timing) = import_intersection(net, junction, tls, program, &links, &point)?;
        if let Some((cycle, timing)) = timing {
            let id = format!("sumo-{}-{}", program.program_id, cycle);
            plans
                .entry(id.clone())
                .or_insert_with(|| Plan {
                    id,
                    description: format!("SUMO program {} of the imported network", program.program_id),
                    cycle_s: cycle as f64,
                    timings: Vec::new(),
                })
                .timings
                .push(timing);
        }
        intersections.push(inter);
    }

    Ok(Site {
        site: SiteInfo {
            name: name.to_owned(),
            description: "Imported from a SUMO network by `nutgiao import-sumo`".into(),
            timezone: "Asia/Ho_Chi_Minh".into(),
        },
        nodes,
        links,
        intersections,
        cameras: Vec::new(),
        plans: plans.into_values().collect(),
        demand: Default::default(),
        vehicle_class: Default::default(),
        control: Default::default(),
        modbus_map: Default::default(),
        operations: Default::default(),
    })
}

type Timing = Option<(u32, PlanTiming)>;

fn import_intersection(
    net: &Net,
    junction: &str,
    tls: &str,
    program: &TlLogic,
    links: &[Link],
    point: &dyn Fn(&str) -> Option<(f64, f64)>,
) -> Result<(Intersection, Timing), SumoError> {
    let (x, y) = point(junction).ok_or_else(|| SumoError::Mapping(format!("unknown junction `{junction}`")))?;
    let controlled = net.controlled(tls);
    let j = net.junction(junction);

    // Approaches: edges into the junction, in the order of their first link index.
    let mut incoming: Vec<&str> = Vec::new();
    for (_, c) in &controlled {
        if !incoming.contains(&c.from.as_str()) {
            incoming.push(&c.from);
        }
    }
    let mut approaches = Vec::new();
    let mut phases: Vec<Phase> = Vec::new();
    let mut phase_of_approach: BTreeMap<String, u8> = BTreeMap::new();
    let mut used_ids = BTreeSet::new();
    for edge_id in incoming {
        let edge = net.edge(edge_id).ok_or_else(|| SumoError::Mapping(format!("unknown edge `{edge_id}`")))?;
        let from = net.junction(&edge.from).map_or((x, y), |f| (f.x - net.offset.0, f.y - net.offset.1));
        let heading = (x - from.0).atan2(y - from.1).to_degrees().rem_euclid(360.0);
        let bound = Bound::from_heading(heading);
        let side = match bound {
            Bound::Eastbound => "W",
            Bound::Westbound => "E",
            Bound::Southbound => "N",
            Bound::Northbound => "S",
        };
        let mut id = format!("{tls}-{side}");
        if approaches.iter().any(|a: &Approach| a.id == id) {
            id = format!("{tls}-{edge_id}");
        }
        let conns: Vec<&Connection> = controlled.iter().map(|(_, c)| *c).filter(|c| c.from == edge_id).collect();
        let mut exits: BTreeMap<Turn, String> = BTreeMap::new();
        for c in &conns {
            if let Some(t) = turn_of(c.dir) {
                exits.entry(t).or_insert_with(|| c.to.clone());
            }
        }
        let lanes: Vec<Lane> = edge
            .lanes
            .iter()
            .map(|l| {
                let mut movements: Vec<Turn> = conns
                    .iter()
                    .filter(|c| c.from_lane == l.index)
                    .filter_map(|c| turn_of(c.dir).filter(|t| exits.get(t) == Some(&c.to)))
                    .collect();
                movements.sort();
                movements.dedup();
                // Right before through before left, kerb to median, as engineers list them.
                movements.sort_by_key(|t| match t {
                    Turn::Right => 0,
                    Turn::Through => 1,
                    Turn::Left => 2,
                    Turn::UTurn => 3,
                });
                Lane { movements }
            })
            .collect();
        let crossing = j.map_or(20.0, |j| extent_along(&j.shape, heading)).max(1.0);
        let speed_ms = links.iter().find(|l| l.id == edge_id).map_or(13.89, |l| l.speed_limit_kmh / 3.6);
        let nema = match bound {
            Bound::Eastbound => 2,
            Bound::Southbound => 4,
            Bound::Westbound => 6,
            Bound::Northbound => 8,
        };
        let phase_id = if used_ids.insert(nema) {
            nema
        } else {
            let free = (10u8..=250).find(|n| !used_ids.contains(n)).unwrap_or(255);
            used_ids.insert(free);
            free
        };
        let mut movements: Vec<MovementRef> =
            exits.keys().map(|t| MovementRef { approach: id.clone(), turn: *t }).collect();
        movements.sort_by_key(|m| match m.turn {
            Turn::Through => 0,
            Turn::Right => 1,
            Turn::Left => 2,
            Turn::UTurn => 3,
        });
        let green_in = |ph: &super::net::TlPhase| {
            conns.iter().any(|c| {
                let idx = c.tl.as_ref().map_or(usize::MAX, |(_, i)| *i);
                matches!(ph.state.chars().nth(idx), Some('G' | 'g'))
            })
        };
        let min_green = program
            .phases
            .iter()
            .filter(|ph| ph.is_green_stage() && green_in(ph))
            .filter_map(|ph| ph.min_dur_s)
            .fold(IMPORTED_MIN_GREEN_S, f64::max);
        let max_green = program
            .phases
            .iter()
            .filter(|ph| ph.is_green_stage() && green_in(ph))
            .filter_map(|ph| ph.max_dur_s)
            .fold(None, |acc: Option<f64>, v| Some(acc.map_or(v, |a| a.max(v))))
            .unwrap_or(IMPORTED_MAX_GREEN_S)
            .max(min_green);
        phases.push(Phase {
            id: phase_id,
            name: format!("{bound} ({edge_id})"),
            movements,
            conflicts: Vec::new(),
            min_green_s: min_green,
            max_green_s: max_green,
            yellow_s: ceil1(ite_yellow_s(speed_ms)),
            red_clearance_s: ceil1(ite_red_clearance_s(round1(crossing), speed_ms)),
            pedestrian_clearance_s: None,
            passage_s: IMPORTED_PASSAGE_S.min(max_green),
        });
        phase_of_approach.insert(edge_id.to_owned(), phase_id);
        approaches.push(Approach {
            id,
            link: edge_id.to_owned(),
            lanes,
            exits,
            turn_ratios: BTreeMap::new(),
            crossing_m: Some(round1(crossing)),
        });
    }

    // Stages: the phases green in each green phase of SUMO's program, in program order.
    let stage_of_program_phase: Vec<Option<Vec<u8>>> = program
        .phases
        .iter()
        .map(|ph| {
            if !ph.is_green_stage() {
                return None;
            }
            let mut ids: Vec<u8> = controlled
                .iter()
                .filter(|(i, c)| {
                    matches!(ph.state.chars().nth(*i), Some('G' | 'g'))
                        && turn_of(c.dir).is_some()
                        && approaches.iter().any(|a| {
                            a.link == c.from && a.exits.get(&turn_of(c.dir).unwrap_or(Turn::UTurn)) == Some(&c.to)
                        })
                })
                .filter_map(|(_, c)| phase_of_approach.get(&c.from).copied())
                .collect();
            ids.sort();
            ids.dedup();
            (!ids.is_empty()).then_some(ids)
        })
        .collect();
    let mut stages: Vec<Vec<u8>> = Vec::new();
    for s in stage_of_program_phase.iter().flatten() {
        if !stages.contains(s) {
            stages.push(s.clone());
        }
    }
    for p in &phases {
        if !stages.iter().any(|s| s.contains(&p.id)) {
            stages.push(vec![p.id]);
        }
    }
    // Phases never green together in SUMO's program must not be green together here.
    let ids: Vec<u8> = phases.iter().map(|p| p.id).collect();
    for p in &mut phases {
        p.conflicts = ids
            .iter()
            .copied()
            .filter(|o| *o != p.id && !stages.iter().any(|s| s.contains(o) && s.contains(&p.id)))
            .collect();
    }

    let mut detectors = Vec::new();
    for a in &approaches {
        let length = net.edge(&a.link).and_then(|e| e.lanes.first()).map_or(0.0, |l| l.length_m);
        for (k, _) in a.lanes.iter().enumerate() {
            let lane = u8::try_from(k).unwrap_or(u8::MAX);
            detectors.push(Detector {
                id: format!("{}-{k}-stop", a.id),
                approach: a.id.clone(),
                lane,
                kind: DetectorKind::StopLine,
                distance_m: 0.0,
                length_m: LOOP_LENGTH_M,
            });
            if length > ADVANCE_LOOP_M + LOOP_LENGTH_M + 5.0 {
                detectors.push(Detector {
                    id: format!("{}-{k}-adv", a.id),
                    approach: a.id.clone(),
                    lane,
                    kind: DetectorKind::Upstream,
                    distance_m: ADVANCE_LOOP_M,
                    length_m: LOOP_LENGTH_M,
                });
            }
        }
    }

    let width = j.map_or(20.0, |j| {
        let xs = j.shape.iter().map(|p| p.0);
        let ys = j.shape.iter().map(|p| p.1);
        let span =
            |v: Vec<f64>| v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min);
        round1(span(xs.collect()).max(span(ys.collect())))
    });
    let inter = Intersection {
        id: tls.to_owned(),
        name: format!("SUMO traffic light {tls}"),
        x,
        y,
        width_m: if width > 0.0 { width } else { 20.0 },
        approaches,
        phases,
        stages: stages.clone(),
        detectors,
        field_controller: None,
    };
    let timing = plan_timing(program, &stage_of_program_phase, &stages, &inter);
    let mut inter = inter;
    inter.approaches.sort_by_key(|a| phase_of_approach.get(&a.link).copied().unwrap_or(u8::MAX));
    inter.phases.sort_by_key(|p| p.id);
    for p in &mut inter.phases {
        p.conflicts.sort();
    }
    inter.detectors.sort_by_key(|d| inter.approaches.iter().position(|a| a.id == d.approach));
    Ok((inter, timing))
}

/// SUMO's program as a fixed plan: each stage's split is its green plus the yellow and red
/// phases that follow it. Left out when the program does not fit nutgiao's safety floors.
fn plan_timing(program: &TlLogic, stage_of: &[Option<Vec<u8>>], stages: &[Vec<u8>], inter: &Intersection) -> Timing {
    let cycle: f64 = program.phases.iter().map(|p| p.duration_s).sum();
    let first = stage_of.iter().position(Option::is_some)?;
    let mut splits = vec![0.0; stages.len()];
    let mut current = None;
    let mut first_green_start = None;
    let mut t = 0.0;
    for k in 0..program.phases.len() {
        let idx = (first + k) % program.phases.len();
        if let Some(s) = &stage_of[idx] {
            let pos = stages.iter().position(|x| x == s)?;
            if current != Some(pos) && first_green_start.is_none() {
                first_green_start = Some(program.phases[..idx].iter().map(|p| p.duration_s).sum::<f64>());
            }
            current = Some(pos);
        }
        splits[current?] += program.phases[idx].duration_s;
        t += program.phases[idx].duration_s;
    }
    let _ = t;
    if !(20.0..=240.0).contains(&cycle) || cycle.fract() != 0.0 {
        return None;
    }
    for (split, stage) in splits.iter().zip(stages) {
        let ph: Vec<&Phase> = stage.iter().filter_map(|id| inter.phases.iter().find(|p| p.id == *id)).collect();
        let change = ph.iter().map(|p| p.yellow_s + p.red_clearance_s).fold(0.0, f64::max);
        let min_green = ph.iter().map(|p| p.min_green_s).fold(0.0, f64::max);
        if split - change < min_green {
            return None;
        }
    }
    let offset = (program.offset_s + first_green_start.unwrap_or(0.0)).rem_euclid(cycle);
    Some((cycle as u32, PlanTiming { intersection: inter.id.clone(), offset_s: round1(offset), splits_s: splits }))
}

fn turn_of(d: Direction) -> Option<Turn> {
    match d {
        Direction::Straight => Some(Turn::Through),
        Direction::Left | Direction::PartLeft => Some(Turn::Left),
        Direction::Right | Direction::PartRight => Some(Turn::Right),
        // Turnarounds are left out: they stay red under nutgiao's control.
        Direction::Turnaround | Direction::Invalid => None,
    }
}

/// Extent of the junction polygon along a heading: the distance a vehicle crosses.
fn extent_along(shape: &[(f64, f64)], heading_deg: f64) -> f64 {
    if shape.is_empty() {
        return 20.0;
    }
    let (dx, dy) = (heading_deg.to_radians().sin(), heading_deg.to_radians().cos());
    let proj: Vec<f64> = shape.iter().map(|(x, y)| x * dx + y * dy).collect();
    proj.iter().copied().fold(f64::MIN, f64::max) - proj.iter().copied().fold(f64::MAX, f64::min)
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn ceil1(v: f64) -> f64 {
    ((v * 10.0) - 1e-9).ceil() / 10.0
}

/// The sections of a site that an import can fill, in the order engineers read them.
#[derive(serde::Serialize)]
struct Skeleton<'a> {
    site: &'a SiteInfo,
    #[serde(rename = "node")]
    nodes: &'a [Node],
    #[serde(rename = "link")]
    links: &'a [Link],
    #[serde(rename = "intersection")]
    intersections: &'a [Intersection],
    #[serde(rename = "plan")]
    plans: &'a [Plan],
    control: &'a nutgiao_config::ControlSettings,
}

/// The site as TOML, leaving out the sections an import cannot know (cameras, demand,
/// register map, operations) so that the engineer sees what to fill in.
pub fn to_toml(site: &Site, source: &str) -> Result<String, SumoError> {
    let skeleton = Skeleton {
        site: &site.site,
        nodes: &site.nodes,
        links: &site.links,
        intersections: &site.intersections,
        plans: &site.plans,
        control: &site.control,
    };
    let body = toml::to_string(&skeleton).map_err(|e| SumoError::Mapping(format!("cannot write the site: {e}")))?;
    Ok(format!(
        "# Imported from {source} by `nutgiao import-sumo`.\n\
         # One phase per approach (NEMA numbers 2 eastbound, 4 southbound, 6 westbound, 8 northbound); stages and\n\
         # conflicts follow the traffic light's own SUMO program; U-turns are left out and stay red.\n\
         # Yellow and red clearance follow the ITE formulas; review min/max greens and add demand and cameras.\n\n{body}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_net(name: &str) -> Option<Net> {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sumo-arterial").join(name);
        if !p.is_file() {
            eprintln!("skipping: ../shared/data/sumo-arterial is not beside the checkout");
            return None;
        }
        Some(Net::load(&p).unwrap())
    }

    #[test]
    fn the_arterial_imports_to_a_valid_site() {
        let Some(net) = shared_net("arterial_static.net.xml") else { return };
        let site = import_net(&net, "arterial").unwrap();
        let text = to_toml(&site, "arterial_static.net.xml").unwrap();
        let reparsed = nutgiao_config::parse(&text, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(reparsed.intersections.len(), 3);
        let j1 = reparsed.intersection("J1").unwrap();
        assert_eq!(j1.stages, vec![vec![2, 6], vec![4, 8]]);
        assert_eq!(j1.phases.iter().find(|p| p.id == 2).unwrap().conflicts, vec![4, 8]);
        let w = j1.approaches.iter().find(|a| a.link == "WJ1").unwrap();
        assert_eq!(w.id, "J1-W");
        assert_eq!(w.crossing_m, Some(14.4));
        assert_eq!(reparsed.plans[0].cycle_s, 90.0);
        assert_eq!(reparsed.plans[0].timings[0].splits_s, vec![45.0, 45.0]);
        insta::assert_snapshot!("arterial_static_import", text);
    }

    #[test]
    fn actuated_programs_give_their_min_and_max_greens() {
        let Some(net) = shared_net("arterial_actuated.net.xml") else { return };
        let site = import_net(&net, "arterial").unwrap();
        let j2 = site.intersection("J2").unwrap();
        let p2 = j2.phases.iter().find(|p| p.id == 2).unwrap();
        assert_eq!((p2.min_green_s, p2.max_green_s), (5.0, 50.0));
        nutgiao_config::parse(&to_toml(&site, "x").unwrap(), "imported.toml").unwrap();
    }

    #[test]
    fn a_network_without_traffic_lights_is_refused() {
        let net = Net::parse(
            r#"<net><edge id="a" from="x" to="y"><lane id="a_0" index="0" speed="10" length="50"/></edge></net>"#,
        )
        .unwrap();
        let err = import_net(&net, "n").unwrap_err().to_string();
        assert!(err.contains("no traffic lights"), "{err}");
    }
}
