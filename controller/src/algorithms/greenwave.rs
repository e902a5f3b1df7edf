//! Corridor coordination: one common cycle (the longest Webster cycle of the corridor, so
//! that the critical intersection has its capacity, or the two-way progression cycle when
//! that is longer or nearly as long), the same Webster splits at every intersection (from
//! the corridor's highest flow ratio per stage), and offsets that make a two-way green wave
//! along the links between the intersections.

use nutgiao_config::{Intersection, Site};

use super::PlanAlgorithm;
use super::webster::{REPLAN_S, Webster, plan_for, webster_cycle_s};
use crate::plan::{Coordination, CorridorPlan, stage_change_interval_s};
use crate::signal::DetectorSnapshot;

/// Wraps a time difference into (-C/2, C/2].
fn wrap(x: f64, cycle: f64) -> f64 {
    let r = x.rem_euclid(cycle);
    if r > cycle / 2.0 { r - cycle } else { r }
}

/// Travel time along the link from `a` to `b` at the speed limit, if they are adjacent.
fn travel_s(site: &Site, a: &str, b: &str) -> Option<f64> {
    let l = site.links.iter().find(|l| l.from == a && l.to == b)?;
    Some(site.link_length_m(l) / (l.speed_limit_kmh / 3.6))
}

/// Offsets (s) of the first stage of each intersection, in site order: each next
/// intersection's offset relative to the previous one minimises the squared miss of both
/// directions' platoons (`d - t_ab` outbound, `-d - t_ba` inbound), searched in 0.1 s steps.
pub fn two_way_offsets(site: &Site, cycle_s: f64) -> Vec<f64> {
    let ids: Vec<&str> = site.intersections.iter().map(|i| i.id.as_str()).collect();
    let mut offsets = vec![0.0; ids.len()];
    for k in 1..ids.len() {
        let (a, b) = (ids[k - 1], ids[k]);
        let d = match (travel_s(site, a, b), travel_s(site, b, a)) {
            (Some(ab), Some(ba)) => {
                let steps = (cycle_s * 10.0) as usize;
                (0..steps)
                    .map(|i| i as f64 / 10.0)
                    .min_by(|x, y| {
                        let cost = |d: f64| wrap(d - ab, cycle_s).powi(2) + wrap(-d - ba, cycle_s).powi(2);
                        cost(*x).total_cmp(&cost(*y))
                    })
                    .unwrap_or(0.0)
            }
            (Some(ab), None) => ab,
            (None, Some(ba)) => -ba,
            (None, None) => 0.0,
        };
        offsets[k] = ((offsets[k - 1] + d).rem_euclid(cycle_s) * 10.0).round() / 10.0 % cycle_s;
    }
    offsets
}

/// The phases of `inter` that serve an approach whose link comes from another intersection
/// of the site: they receive the platoons of the green wave. An entry approach (from a
/// boundary node, the ends of the corridor) and the side streets receive none.
pub fn platoon_phases(site: &Site, inter: &Intersection) -> Vec<u8> {
    inter
        .phases
        .iter()
        .filter(|phase| {
            phase.movements.iter().any(|m| {
                inter
                    .approaches
                    .iter()
                    .find(|a| a.id == m.approach)
                    .and_then(|a| site.link(&a.link))
                    .is_some_and(|l| l.from != inter.id && site.intersection(&l.from).is_some())
            })
        })
        .map(|phase| phase.id)
        .collect()
}

/// Start-up lost time of a queue (HCM's 2 s): a platoon released from a stop line reaches
/// the next one this much later than a vehicle at the speed limit.
pub const STARTUP_LOST_S: f64 = 2.0;

/// The cycle at which alternating offsets give both directions a green wave: each platoon
/// takes half a cycle per link (mean over the corridor's links, both ways, plus the start-up
/// lost time). `None` for a corridor without links between its intersections.
pub fn progression_cycle_s(site: &Site) -> Option<f64> {
    let ids: Vec<&str> = site.intersections.iter().map(|i| i.id.as_str()).collect();
    let times: Vec<f64> =
        ids.windows(2).flat_map(|w| [travel_s(site, w[0], w[1]), travel_s(site, w[1], w[0])]).flatten().collect();
    if times.is_empty() {
        return None;
    }
    Some(2.0 * (times.iter().sum::<f64>() / times.len() as f64 + STARTUP_LOST_S))
}

/// Webster's cycle may be up to this share longer than the two-way progression cycle and
/// still run at the progression cycle: the wave saves more delay than the few percent of
/// capacity cost, and the plan does not jump between 45 and 46 s from one five-minute
/// measurement to the next (each jump walks the offsets for a few cycles).
pub const PROGRESSION_TOLERANCE: f64 = 0.1;

/// Flow ratios per stage, the same for every intersection: the corridor's highest per stage
/// (when every intersection has as many stages). With alternating offsets the yield points
/// of neighbouring intersections are half a cycle apart only if their coordinated greens are
/// equally long; splits that differ from one intersection to the next (five-minute counts
/// differ by 10-30 % on the same demand) cut one direction's platoon short.
fn corridor_ratios(ys: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = ys.first().map_or(0, Vec::len);
    if ys.iter().any(|y| y.len() != n) {
        return ys.to_vec();
    }
    let common: Vec<f64> = (0..n).map(|s| ys.iter().map(|y| y[s]).fold(0.0, f64::max)).collect();
    vec![common; ys.len()]
}

pub struct GreenWave {
    name: String,
    webster: Webster,
    coordination: Coordination,
}

impl GreenWave {
    pub fn new(site: &Site, name: &str) -> GreenWave {
        GreenWave { name: name.to_owned(), webster: Webster::new(site), coordination: Coordination::FixedTime }
    }

    /// Plans flagged to run actuated-coordinated in the field controllers (see `ADAPTIVE`).
    pub fn actuated_coordinated(mut self) -> GreenWave {
        self.coordination = Coordination::ActuatedCoordinated;
        self
    }
}

/// The coordinated corridor plan for flow ratios `ys` (per intersection, per stage), flagged
/// to run as `coordination` says: Webster splits from the corridor's flow ratios
/// (`corridor_ratios`) at the common cycle, alternating offsets.
pub fn coordinated_plan(
    site: &Site,
    ys: &[Vec<f64>],
    plan_id: u16,
    name: String,
    coordination: Coordination,
) -> CorridorPlan {
    let cycle = site
        .intersections
        .iter()
        .zip(ys)
        .map(|(inter, y)| {
            let lost: f64 = (0..inter.stages.len()).map(|s| stage_change_interval_s(inter, s)).sum();
            webster_cycle_s(lost, y.iter().sum())
        })
        .fold(site.control.min_cycle_s, f64::max)
        .min(site.control.max_cycle_s)
        .round();
    // Longer than Webster's if that is what makes the two-way wave fit: the delay it saves
    // the platoons outweighs the longer waits at light demand; and kept when Webster's is
    // only a little longer (`PROGRESSION_TOLERANCE`).
    let cycle = match progression_cycle_s(site) {
        Some(c) if cycle <= c * (1.0 + PROGRESSION_TOLERANCE) && c <= site.control.max_cycle_s => c.round(),
        _ => cycle,
    };
    let ys = corridor_ratios(ys);
    let splits = |inter: &Intersection, y: &[f64], cycle: f64| plan_for(site, inter, y, Some(cycle), plan_id);
    let mut intersections: Vec<_> =
        site.intersections.iter().zip(&ys).map(|(inter, y)| splits(inter, y, cycle)).collect();
    // A minimum-green floor may have lengthened one cycle: coordinate on the longest.
    let common = intersections.iter().map(|p| p.cycle_s).fold(cycle, f64::max);
    if common > cycle {
        intersections = site.intersections.iter().zip(&ys).map(|(inter, y)| splits(inter, y, common)).collect();
    }
    for (p, o) in intersections.iter_mut().zip(two_way_offsets(site, common)) {
        p.offset_s = o;
        *p = p.clone().with_coordination(coordination);
    }
    CorridorPlan { name, intersections }
}

impl PlanAlgorithm for GreenWave {
    fn name(&self) -> &str {
        &self.name
    }

    fn observe(&mut self, site: &Site, snap: &DetectorSnapshot) -> Option<CorridorPlan> {
        let ys = self.webster.measure(site, snap, REPLAN_S)?;
        let id = self.webster.plan_id();
        Some(coordinated_plan(site, &ys, id, format!("{}-{id}", self.name), self.coordination))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::validate_plan;
    use crate::testing::arterial;

    #[test]
    fn the_common_cycle_fits_the_two_way_wave_unless_demand_needs_longer() {
        let site = arterial();
        // 285.6 m at 50 km/h is 20.6 s, plus 2 s of start-up: twice that.
        let c = progression_cycle_s(&site).unwrap();
        assert!((c - 45.1).abs() < 0.1, "{c}");
        let light = coordinated_plan(
            &site,
            &[vec![0.25, 0.14], vec![0.25, 0.14], vec![0.25, 0.14]],
            100,
            "t".into(),
            Coordination::ActuatedCoordinated,
        );
        assert!(light.intersections.iter().all(|p| p.cycle_s == 45.0), "{light:?}");
        let heavy = coordinated_plan(
            &site,
            &[vec![0.45, 0.22], vec![0.45, 0.22], vec![0.45, 0.22]],
            100,
            "t".into(),
            Coordination::ActuatedCoordinated,
        );
        assert!(heavy.intersections.iter().all(|p| p.cycle_s > 60.0), "{heavy:?}");
    }

    #[test]
    fn adaptive_flags_its_plans_actuated_coordinated_and_green_wave_does_not() {
        let site = arterial();
        let snap = DetectorSnapshot::default();
        for (name, want) in [("adaptive", Coordination::ActuatedCoordinated), ("green-wave", Coordination::FixedTime)] {
            let plan = crate::algorithms::planner(&site, name).unwrap().observe(&site, &snap).unwrap();
            for p in &plan.intersections {
                assert_eq!((p.coordination(), p.number()), (want, 101), "{name}: {p:?}");
                validate_plan(site.intersection(&p.intersection).unwrap(), p).unwrap();
            }
        }
        assert_eq!(crate::algorithms::next_plan_id(0x7FFE), 0x7FFF);
        assert_eq!(crate::algorithms::next_plan_id(0x7FFF), crate::algorithms::ALGORITHM_PLAN_IDS);
    }

    #[test]
    fn every_intersection_gets_the_same_splits_and_the_wave_keeps_its_cycle() {
        let site = arterial();
        // J2's side street counted more: every intersection plans for it.
        let plan = coordinated_plan(
            &site,
            &[vec![0.30, 0.12], vec![0.26, 0.16], vec![0.28, 0.14]],
            100,
            "t".into(),
            Coordination::ActuatedCoordinated,
        );
        let first = &plan.intersections[0];
        for p in &plan.intersections {
            validate_plan(site.intersection(&p.intersection).unwrap(), p).unwrap();
            assert_eq!((p.cycle_s, &p.splits_s), (first.cycle_s, &first.splits_s), "{plan:?}");
        }
        // Webster's splits for the highest ratios (0.30, 0.16) at J1's 45 s cycle.
        let j1 = site.intersection("J1").unwrap();
        assert_eq!(first.splits_s, plan_for(&site, j1, &[0.30, 0.16], Some(45.0), 100).splits_s);
        // Webster's cycle a little above the progression cycle (46.4 s here) keeps the wave.
        let y = vec![vec![0.38, 0.2]; 3];
        let lost: f64 = (0..2).map(|s| stage_change_interval_s(site.intersection("J1").unwrap(), s)).sum();
        assert!(webster_cycle_s(lost, 0.58) > 45.5, "{}", webster_cycle_s(lost, 0.58));
        assert!(
            coordinated_plan(&site, &y, 100, "t".into(), Coordination::ActuatedCoordinated)
                .intersections
                .iter()
                .all(|p| p.cycle_s == 45.0)
        );
    }

    #[test]
    fn platoons_arrive_on_the_approaches_from_another_signal() {
        let site = arterial();
        let phases = |id: &str| platoon_phases(&site, site.intersection(id).unwrap());
        // J1: westbound (6) comes from J2, eastbound (2) enters from W; J3 the other way round.
        assert_eq!(phases("J1"), [6]);
        assert_eq!(phases("J2"), [2, 6]);
        assert_eq!(phases("J3"), [2]);
    }

    #[test]
    fn arterial_offsets_alternate_for_a_two_way_wave() {
        let site = arterial();
        // 285.6 m at 50 km/h is 20.6 s: with a 40 s cycle both directions fit by alternating.
        let o = two_way_offsets(&site, 40.0);
        assert_eq!(o[0], 0.0);
        assert!((o[1] - 20.0).abs() <= 0.7, "{o:?}");
        assert!(o[2].min(40.0 - o[2]) <= 1.4, "{o:?}");
        let plan = coordinated_plan(
            &site,
            &[vec![0.3, 0.14], vec![0.3, 0.14], vec![0.3, 0.14]],
            100,
            "t".into(),
            Coordination::ActuatedCoordinated,
        );
        for p in &plan.intersections {
            validate_plan(site.intersection(&p.intersection).unwrap(), p).unwrap();
        }
    }
}
