//! Measured flows per stage: counts at each lane's loop (the advance loop where there is
//! one) turned into the critical lane flow ratio y = q / s of every stage.
//!
//! A phase without loops is measured by the vision nodes instead: their stop-line counts per
//! approach (`vision:<approach>`, see `central::vision_detector_id`) spread over the
//! approach's lanes. Loops win where there are both: they count every lane and do not depend
//! on light or weather.

use std::collections::BTreeMap;

use nutgiao_config::{DetectorKind, Intersection, Site};

use crate::signal::DetectorSnapshot;

/// A detector that measures one of a phase's lanes.
#[derive(Debug, Clone)]
struct Source {
    id: String,
    /// Share of the detector's count that falls on one lane: 1 for a lane's loop, 1/lanes for
    /// an approach's vision count.
    share: f64,
    /// Vision counts appear with the first vehicle, so a missing start means zero; a loop
    /// missing at the start of a window has a counter of unknown origin and is skipped.
    from_zero: bool,
}

/// One intersection's loops per stage and their counts at the start of the window.
#[derive(Debug, Clone)]
pub struct FlowMeter {
    /// Per stage, per phase, the detectors measuring its lanes.
    loops: Vec<Vec<Vec<Source>>>,
    start_counts: BTreeMap<String, u32>,
    start_s: Option<f64>,
    /// Smoothed flow ratio per stage.
    pub y: Vec<f64>,
    /// Smoothed lane flow (veh/h) of each stage's critical lane.
    pub q_vph: Vec<f64>,
}

impl FlowMeter {
    pub fn new(inter: &Intersection) -> FlowMeter {
        let act = crate::actuation::Actuation::new(inter);
        let loops = inter
            .stages
            .iter()
            .map(|stage| {
                stage
                    .iter()
                    .filter_map(|id| inter.phases.iter().position(|p| p.id == *id))
                    .map(|p| {
                        let lane_loops = |kind| {
                            act.loop_ids(p, kind)
                                .map(|id| Source { id: id.to_owned(), share: 1.0, from_zero: false })
                                .collect::<Vec<_>>()
                        };
                        let up = lane_loops(DetectorKind::Upstream);
                        if !up.is_empty() {
                            return up;
                        }
                        let stop = lane_loops(DetectorKind::StopLine);
                        if !stop.is_empty() {
                            return stop;
                        }
                        vision_counts(inter, &inter.phases[p])
                    })
                    .collect()
            })
            .collect();
        FlowMeter {
            loops,
            start_counts: BTreeMap::new(),
            start_s: None,
            y: vec![0.0; inter.stages.len()],
            q_vph: vec![0.0; inter.stages.len()],
        }
    }

    /// Closes the window at `snap.now_s` (if it lasted at least `min_window_s`), folds its
    /// flows into the smoothed values with weight `alpha`, and opens the next one. Returns
    /// whether a window was closed.
    pub fn close_window(&mut self, snap: &DetectorSnapshot, sat_flow_vph: f64, min_window_s: f64, alpha: f64) -> bool {
        let Some(start) = self.start_s else {
            self.reset(snap);
            return false;
        };
        let dt = snap.now_s - start;
        if dt < min_window_s {
            return false;
        }
        for (s, phases) in self.loops.iter().enumerate() {
            let q = phases
                .iter()
                .flat_map(|ids| ids.iter())
                .filter_map(|src| {
                    let now = snap.detectors.get(&src.id)?.count;
                    let then = match self.start_counts.get(&src.id) {
                        Some(c) => *c,
                        None if src.from_zero => 0,
                        None => return None,
                    };
                    Some(f64::from(now.wrapping_sub(then)) * src.share * 3600.0 / dt)
                })
                .fold(0.0, f64::max);
            self.q_vph[s] = if self.start_s.is_some() && self.q_vph[s] > 0.0 {
                alpha * q + (1.0 - alpha) * self.q_vph[s]
            } else {
                q
            };
            self.y[s] = self.q_vph[s] / sat_flow_vph;
        }
        self.reset(snap);
        true
    }

    fn reset(&mut self, snap: &DetectorSnapshot) {
        self.start_s = Some(snap.now_s);
        self.start_counts = snap.detectors.iter().map(|(k, r)| (k.clone(), r.count)).collect();
    }
}

/// The vision counts of the approaches a phase serves, each spread over its lanes.
fn vision_counts(inter: &Intersection, phase: &nutgiao_config::Phase) -> Vec<Source> {
    let mut approaches: Vec<&str> = phase.movements.iter().map(|m| m.approach.as_str()).collect();
    approaches.sort_unstable();
    approaches.dedup();
    approaches
        .into_iter()
        .filter_map(|a| {
            let lanes = inter.approaches.iter().find(|x| x.id == a)?.lanes.len().max(1);
            Some(Source { id: crate::central::vision_detector_id(a), share: 1.0 / lanes as f64, from_zero: true })
        })
        .collect()
}

/// A meter per intersection that has stages, in site order.
pub fn meters(site: &Site) -> Vec<(String, FlowMeter)> {
    site.intersections.iter().map(|i| (i.id.clone(), FlowMeter::new(i))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::DetectorReading;
    use crate::testing::arterial;

    fn snapshot(now_s: f64, counts: &[(&str, u32)]) -> DetectorSnapshot {
        DetectorSnapshot {
            now_s,
            detectors: counts
                .iter()
                .map(|(id, n)| ((*id).to_owned(), DetectorReading { count: *n, ..DetectorReading::default() }))
                .collect(),
            queues_m: BTreeMap::new(),
        }
    }

    #[test]
    fn a_phase_without_loops_is_measured_by_vision_counts_over_its_lanes() {
        let mut j1 = arterial().intersection("J1").unwrap().clone();
        // J1's northern side street loses its loops; its camera still counts.
        j1.detectors.retain(|d| d.approach != "J1-N");
        let side = j1.stages.iter().position(|s| s.contains(&4)).unwrap();
        let arterial_stage = j1.stages.iter().position(|s| s.contains(&2)).unwrap();
        let mut meter = FlowMeter::new(&j1);
        let arterial_loop = "J1-W-0-adv";
        assert!(j1.detectors.iter().any(|d| d.id == arterial_loop), "the site's J1-W advance loop");
        meter.close_window(&snapshot(0.0, &[(arterial_loop, 1000)]), 1800.0, 60.0, 1.0);
        // 600 s later: 60 vehicles counted by vision on J1-N (one lane), 100 on J1-W's loop,
        // and a vision count on J1-W, which has loops and so must not matter.
        let later = snapshot(600.0, &[(arterial_loop, 1100), ("vision:J1-N", 60), ("vision:J1-W", 5000)]);
        assert!(meter.close_window(&later, 1800.0, 60.0, 1.0));
        assert!((meter.q_vph[side] - 360.0).abs() < 1e-9, "side stage {:?}", meter.q_vph);
        assert!((meter.q_vph[arterial_stage] - 600.0).abs() < 1e-9, "arterial stage {:?}", meter.q_vph);
    }
}
