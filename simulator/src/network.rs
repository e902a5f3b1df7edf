//! The site compiled into the simulator's network: lanes with lengths and speed limits,
//! turning movements with their phase, paths across the junction, and link geometry for
//! world positions. Indices replace string ids so the step loop never hashes.

use std::collections::BTreeMap;

use nutgiao_config::topology::kmh_to_ms;
use nutgiao_config::{DetectorKind, Site, Turn};

use crate::SimError;

/// SUMO netconvert's default lateral acceleration limit for turning speeds (m/s^2).
const TURN_LATERAL_ACCEL: f64 = 5.5;

pub(crate) const NONE: u32 = u32::MAX;

pub(crate) fn turn_index(t: Turn) -> usize {
    match t {
        Turn::Left => 0,
        Turn::Through => 1,
        Turn::Right => 2,
        Turn::UTurn => 3,
    }
}

#[derive(Debug, Clone)]
pub(crate) struct NetLink {
    pub id: String,
    pub length: f64,
    pub speed: f64,
    pub first_lane: u32,
    pub lanes: u8,
    pub lane_width: f64,
    /// Approach whose stop line ends this link, if it ends at an intersection.
    pub approach: u32,
    /// Upstream end (site metres) and unit direction of travel.
    pub start: (f64, f64),
    pub dir: (f64, f64),
    pub heading_deg: f64,
    /// Enters from a boundary node: demand may be inserted here.
    pub from_boundary: bool,
}

impl NetLink {
    /// World position of a point `s` metres along lane `lane`, `lat` metres right of its centre.
    pub fn world(&self, lane: u8, s: f64, lat: f64) -> (f64, f64) {
        let right = (self.dir.1, -self.dir.0);
        let off = (f64::from(self.lanes) - f64::from(lane) - 0.5) * self.lane_width + lat;
        (self.start.0 + self.dir.0 * s + right.0 * off, self.start.1 + self.dir.1 * s + right.1 * off)
    }
}

#[derive(Debug, Clone)]
pub(crate) struct NetLane {
    pub link: u32,
    pub index: u8,
    /// Bit per turn (`turn_index`) that the lane's markings allow.
    pub turns: u8,
    /// Detectors on this lane.
    pub detectors: Vec<u32>,
    /// Position in `Network::approach_lanes`, for queue measures, or NONE.
    pub queue_slot: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct NetApproach {
    pub id: String,
    pub link: u32,
    pub movements: [u32; 4],
}

#[derive(Debug, Clone)]
pub(crate) struct Movement {
    pub approach: u32,
    pub turn: Turn,
    pub intersection: u32,
    /// Slot in the flat signal-indication array, or NONE for an unsignalised movement.
    pub signal_slot: u32,
    pub phase: u8,
    pub exit_link: u32,
    /// Path length across the junction, stop line to the exit link's start.
    pub length: f64,
    /// Speed limit on the turning path.
    pub speed: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct NetIntersection {
    pub id: String,
    /// Phase ids in the order of their signal slots.
    pub phases: Vec<u8>,
    pub first_slot: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct NetDetector {
    pub id: String,
    /// Span along the lane (from upstream edge to downstream edge).
    pub from: f64,
    pub to: f64,
}

/// An arterial direction: a chain of links joined by through movements.
#[derive(Debug, Clone)]
pub struct Arterial {
    pub name: String,
    /// Links in order, with the distance of each link's start from the chain start.
    pub links: Vec<(u32, f64)>,
    /// Stop lines along the chain: (distance, signal slot, intersection id).
    pub stop_lines: Vec<(f64, u32, String)>,
    pub length: f64,
}

#[derive(Debug, Clone)]
pub(crate) struct Network {
    pub links: Vec<NetLink>,
    pub lanes: Vec<NetLane>,
    pub approaches: Vec<NetApproach>,
    pub movements: Vec<Movement>,
    pub intersections: Vec<NetIntersection>,
    pub detectors: Vec<NetDetector>,
    /// Approach lanes in a fixed order: (approach, lane index, global lane).
    pub approach_lanes: Vec<(u32, u8, u32)>,
    pub signal_slots: usize,
    pub arterials: Vec<Arterial>,
    link_index: BTreeMap<String, u32>,
}

fn unit(a: (f64, f64), b: (f64, f64)) -> Option<(f64, f64)> {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let n = dx.hypot(dy);
    (n > 1e-9).then(|| (dx / n, dy / n))
}

impl Network {
    pub fn link_by_id(&self, id: &str) -> Option<u32> {
        self.link_index.get(id).copied()
    }

    pub fn build(site: &Site) -> Result<Network, SimError> {
        let bad = |thing: String, cause: String| SimError::Network { thing, cause };
        let mut link_index = BTreeMap::new();
        for (i, l) in site.links.iter().enumerate() {
            link_index.insert(l.id.clone(), i as u32);
        }
        // Half the junction box each link loses at an intersection end: the crossing of the
        // approach that runs along it, as netconvert builds the box.
        let half_box = |inter: &str, along_link: &str| -> f64 {
            site.intersection(inter).map_or(0.0, |i| {
                i.approaches.iter().find(|a| a.link == along_link).and_then(|a| a.crossing_m).unwrap_or(i.width_m) / 2.0
            })
        };
        let mut links = Vec::with_capacity(site.links.len());
        let mut lanes = Vec::new();
        for l in &site.links {
            let a = site
                .point(&l.from)
                .ok_or_else(|| bad(format!("link {}", l.id), format!("unknown `from` {}", l.from)))?;
            let b = site.point(&l.to).ok_or_else(|| bad(format!("link {}", l.id), format!("unknown `to` {}", l.to)))?;
            let dir = unit(a, b).ok_or_else(|| bad(format!("link {}", l.id), "its ends coincide".into()))?;
            let length = site.link_length_m(l);
            if length <= 0.0 || l.lanes == 0 || l.speed_limit_kmh <= 0.0 {
                return Err(bad(
                    format!("link {}", l.id),
                    "needs a positive length, lane count and speed limit".into(),
                ));
            }
            // The reverse link runs along the same road: its approach's crossing is this link's box.
            let reverse = site.links.iter().find(|r| r.from == l.to && r.to == l.from).map(|r| r.id.clone());
            let back_off = reverse
                .as_deref()
                .map_or_else(|| site.intersection(&l.from).map_or(0.0, |i| i.width_m / 2.0), |r| half_box(&l.from, r));
            let start = (a.0 + dir.0 * back_off, a.1 + dir.1 * back_off);
            let first_lane = lanes.len() as u32;
            for k in 0..l.lanes {
                lanes.push(NetLane {
                    link: links.len() as u32,
                    index: k,
                    turns: 0b1111,
                    detectors: Vec::new(),
                    queue_slot: NONE,
                });
            }
            links.push(NetLink {
                id: l.id.clone(),
                length,
                speed: kmh_to_ms(l.speed_limit_kmh),
                first_lane,
                lanes: l.lanes,
                lane_width: l.lane_width_m,
                approach: NONE,
                start,
                dir,
                heading_deg: site.link_heading_deg(l),
                from_boundary: site.is_boundary(&l.from),
            });
        }

        let mut approaches = Vec::new();
        let mut movements = Vec::new();
        let mut intersections = Vec::new();
        let mut approach_lanes = Vec::new();
        let mut slot = 0u32;
        let mut approach_ids = BTreeMap::new();
        for (ii, inter) in site.intersections.iter().enumerate() {
            let phases: Vec<u8> = inter.phases.iter().map(|p| p.id).collect();
            intersections.push(NetIntersection { id: inter.id.clone(), phases: phases.clone(), first_slot: slot });
            for a in &inter.approaches {
                let li = *link_index
                    .get(&a.link)
                    .ok_or_else(|| bad(format!("approach {}", a.id), format!("unknown link {}", a.link)))?;
                let ai = approaches.len() as u32;
                approach_ids.insert(a.id.clone(), ai);
                links[li as usize].approach = ai;
                let link = links[li as usize].clone();
                for (k, lane) in a.lanes.iter().enumerate().take(link.lanes as usize) {
                    let g = link.first_lane + k as u32;
                    lanes[g as usize].turns = lane.movements.iter().fold(0u8, |m, t| m | 1 << turn_index(*t));
                    lanes[g as usize].queue_slot = approach_lanes.len() as u32;
                    approach_lanes.push((ai, k as u8, g));
                }
                let mut movs = [NONE; 4];
                for (turn, exit) in &a.exits {
                    let ei = *link_index
                        .get(exit)
                        .ok_or_else(|| bad(format!("approach {} exit {turn}", a.id), format!("unknown link {exit}")))?;
                    let (phase_pos, phase) = inter
                        .phases
                        .iter()
                        .enumerate()
                        .find(|(_, p)| p.movements.iter().any(|m| m.approach == a.id && m.turn == *turn))
                        .map_or((NONE, 0), |(k, p)| (slot + k as u32, p.id));
                    let (length, speed) =
                        crossing(&link, &links[ei as usize], *turn, a.crossing_m.unwrap_or(inter.width_m));
                    movs[turn_index(*turn)] = movements.len() as u32;
                    movements.push(Movement {
                        approach: ai,
                        turn: *turn,
                        intersection: ii as u32,
                        signal_slot: phase_pos,
                        phase,
                        exit_link: ei,
                        length,
                        speed: speed.min(link.speed.max(links[ei as usize].speed)),
                    });
                }
                approaches.push(NetApproach { id: a.id.clone(), link: li, movements: movs });
            }
            slot += phases.len() as u32;
        }

        let mut detectors = Vec::new();
        for inter in &site.intersections {
            for d in &inter.detectors {
                let ai = *approach_ids
                    .get(&d.approach)
                    .ok_or_else(|| bad(format!("detector {}", d.id), format!("unknown approach {}", d.approach)))?;
                let link = &links[approaches[ai as usize].link as usize];
                if d.lane >= link.lanes {
                    return Err(bad(
                        format!("detector {}", d.id),
                        format!("lane {} but link {} has {} lanes", d.lane, link.id, link.lanes),
                    ));
                }
                let g = link.first_lane + u32::from(d.lane);
                let to = (link.length - d.distance_m).max(0.0);
                let from = match d.kind {
                    DetectorKind::StopLine | DetectorKind::Upstream => (to - d.length_m).max(0.0),
                };
                lanes[g as usize].detectors.push(detectors.len() as u32);
                detectors.push(NetDetector { id: d.id.clone(), from, to });
            }
        }

        let mut net = Network {
            links,
            lanes,
            approaches,
            movements,
            intersections,
            detectors,
            approach_lanes,
            signal_slots: slot as usize,
            arterials: Vec::new(),
            link_index,
        };
        net.arterials = net.find_arterials(site);
        Ok(net)
    }

    /// Movement taken from `link` by `turn`, if the link ends at an approach with that exit.
    pub fn movement(&self, link: u32, turn: Turn) -> Option<u32> {
        let a = self.links[link as usize].approach;
        if a == NONE {
            return None;
        }
        let m = self.approaches[a as usize].movements[turn_index(turn)];
        (m != NONE).then_some(m)
    }

    /// The longest chains of through movements, one per direction of travel.
    fn find_arterials(&self, site: &Site) -> Vec<Arterial> {
        let mut chains: Vec<Vec<u32>> = Vec::new();
        for (i, l) in self.links.iter().enumerate() {
            if !l.from_boundary {
                continue;
            }
            let mut chain = vec![i as u32];
            let mut cur = i as u32;
            while let Some(m) = self.movement(cur, Turn::Through) {
                let next = self.movements[m as usize].exit_link;
                if chain.contains(&next) || chain.len() > 1000 {
                    break;
                }
                chain.push(next);
                cur = next;
            }
            if chain.len() > 1 {
                chains.push(chain);
            }
        }
        let longest = chains.iter().map(Vec::len).max().unwrap_or(0);
        let mut out: Vec<Arterial> = Vec::new();
        for chain in chains.into_iter().filter(|c| c.len() == longest) {
            let bound = site.link_bound(&site.links[chain[0] as usize]);
            let mut name = bound.as_str().to_owned();
            let same = out.iter().filter(|a| a.name.starts_with(&name)).count();
            if same > 0 {
                name = format!("{name}_{}", same + 1);
            }
            let mut links = Vec::new();
            let mut stop_lines = Vec::new();
            let mut d = 0.0;
            for &li in &chain {
                links.push((li, d));
                let l = &self.links[li as usize];
                d += l.length;
                if let Some(m) = self.movement(li, Turn::Through) {
                    let mv = &self.movements[m as usize];
                    stop_lines.push((d, mv.signal_slot, self.intersections[mv.intersection as usize].id.clone()));
                    d += mv.length;
                }
            }
            out.push(Arterial { name, links, stop_lines, length: d });
        }
        out
    }

    /// Points of a junction path: stop line of `from_lane` to the start of `to_lane`.
    pub fn junction_path(&self, from_lane: u32, to_lane: u32) -> [(f64, f64); 3] {
        let fl = &self.lanes[from_lane as usize];
        let tl = &self.lanes[to_lane as usize];
        let a = &self.links[fl.link as usize];
        let b = &self.links[tl.link as usize];
        let p0 = a.world(fl.index, a.length, 0.0);
        let p2 = b.world(tl.index, 0.0, 0.0);
        let ctrl = ray_meet(p0, a.dir, p2, b.dir).unwrap_or(((p0.0 + p2.0) / 2.0, (p0.1 + p2.1) / 2.0));
        [p0, ctrl, p2]
    }
}

/// Where the ray from `p` along `d` meets the line through `q` along `e`, ahead of `p`.
fn ray_meet(p: (f64, f64), d: (f64, f64), q: (f64, f64), e: (f64, f64)) -> Option<(f64, f64)> {
    let den = d.0 * e.1 - d.1 * e.0;
    if den.abs() < 1e-6 {
        return None;
    }
    let t = ((q.0 - p.0) * e.1 - (q.1 - p.1) * e.0) / den;
    (t > 0.0).then_some((p.0 + d.0 * t, p.1 + d.1 * t))
}

/// Point and heading (deg clockwise from north) at parameter `u` of a quadratic Bezier.
pub(crate) fn bezier(p: &[(f64, f64); 3], u: f64) -> ((f64, f64), f64) {
    let v = 1.0 - u;
    let x = v * v * p[0].0 + 2.0 * v * u * p[1].0 + u * u * p[2].0;
    let y = v * v * p[0].1 + 2.0 * v * u * p[1].1 + u * u * p[2].1;
    let dx = 2.0 * v * (p[1].0 - p[0].0) + 2.0 * u * (p[2].0 - p[1].0);
    let dy = 2.0 * v * (p[1].1 - p[0].1) + 2.0 * u * (p[2].1 - p[1].1);
    ((x, y), dx.atan2(dy).to_degrees().rem_euclid(360.0))
}

fn bezier_length(p: &[(f64, f64); 3]) -> f64 {
    let mut len = 0.0;
    let mut prev = p[0];
    for k in 1..=32 {
        let (q, _) = bezier(p, f64::from(k) / 32.0);
        len += (q.0 - prev.0).hypot(q.1 - prev.1);
        prev = q;
    }
    len
}

/// Length and speed limit of the path across the junction for a movement, from the kerb-side
/// lanes' geometry; a through movement crosses the box straight.
fn crossing(from: &NetLink, to: &NetLink, turn: Turn, crossing_m: f64) -> (f64, f64) {
    if turn == Turn::Through {
        return (crossing_m, from.speed.min(to.speed));
    }
    let lane_from = if turn == Turn::Right { 0 } else { from.lanes - 1 };
    let lane_to = if turn == Turn::Right { 0 } else { to.lanes - 1 };
    let p0 = from.world(lane_from, from.length, 0.0);
    let p2 = to.world(lane_to, 0.0, 0.0);
    let Some(ctrl) = ray_meet(p0, from.dir, p2, to.dir) else {
        return (crossing_m, from.speed.min(to.speed));
    };
    let pts = [p0, ctrl, p2];
    let radius = (ctrl.0 - p0.0).hypot(ctrl.1 - p0.1).min((ctrl.0 - p2.0).hypot(ctrl.1 - p2.1));
    let speed = (TURN_LATERAL_ACCEL * radius.max(1.0)).sqrt();
    (bezier_length(&pts).max(1.0), speed)
}
