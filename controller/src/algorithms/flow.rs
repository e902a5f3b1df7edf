//! Measured flows per stage: counts at each lane's loop (the advance loop where there is
//! one) turned into the critical lane flow ratio y = q / s of every stage.

use std::collections::BTreeMap;

use nutgiao_config::{DetectorKind, Intersection, Site};

use crate::signal::DetectorSnapshot;

/// One intersection's loops per stage and their counts at the start of the window.
#[derive(Debug, Clone)]
pub struct FlowMeter {
    /// Per stage, per phase, the loop ids measuring its lanes.
    loops: Vec<Vec<Vec<String>>>,
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
                        let up: Vec<String> = act.loop_ids(p, DetectorKind::Upstream).map(str::to_owned).collect();
                        if up.is_empty() {
                            act.loop_ids(p, DetectorKind::StopLine).map(str::to_owned).collect()
                        } else {
                            up
                        }
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
                .filter_map(|id| {
                    let now = snap.detectors.get(id)?.count;
                    let then = *self.start_counts.get(id)?;
                    Some(f64::from(now.wrapping_sub(then)) * 3600.0 / dt)
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

/// A meter per intersection that has stages, in site order.
pub fn meters(site: &Site) -> Vec<(String, FlowMeter)> {
    site.intersections.iter().map(|i| (i.id.clone(), FlowMeter::new(i))).collect()
}
