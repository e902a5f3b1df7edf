//! Max-pressure: at each decision the stage whose movements have the largest pressure
//! (queue upstream minus queue on the exit link) is requested. It decides stages, so it drives
//! the sequencers in `Mode::Directed`: minimum green, yellow and red clearance stay with the
//! sequencer. A stage is held for at least `DECISION_GREEN_S`, because switching more often
//! lets the change intervals eat the capacity (see SUMO's 5 s row in the arterial README),
//! and it switches only when the pressure it gains pays for the switch (`switch_margin_m`).

use std::collections::BTreeMap;

use nutgiao_config::{DetectorKind, Site};

use crate::control::{ControlError, SequencedControl};
use crate::sequencer::Mode;
use crate::signal::{DetectorSnapshot, SignalControl, SiteSignals};

pub const DECISION_GREEN_S: f64 = 10.0;
/// Road length a queued vehicle takes (as the SUMO bridge counts halting vehicles).
const QUEUED_VEHICLE_M: f64 = 7.5;
/// Metres of queue a stopped loop stands for when no queue measurement is available.
const OCCUPIED_LOOP_QUEUE_M: f64 = 30.0;

struct Movement {
    approach: String,
    lanes: Vec<u8>,
    /// The approach the exit link feeds at the next intersection, with its lanes.
    downstream: Option<(String, Vec<u8>)>,
}

pub struct MaxPressure {
    inner: SequencedControl,
    /// Per intersection, per stage, its change interval (yellow + red clearance).
    change_s: Vec<Vec<f64>>,
    /// Saturation flow per lane (veh/s).
    sat_flow_vps: f64,
    /// Per intersection, per stage, its movements.
    movements: Vec<Vec<Vec<Movement>>>,
    /// Stop-line loop per approach lane, for when the snapshot has no queues.
    stop_loops: BTreeMap<(String, u8), String>,
}

impl MaxPressure {
    pub fn new(site: &Site) -> Result<MaxPressure, ControlError> {
        let inner = SequencedControl::uniform(site, "max-pressure", Mode::Directed)?;
        let movements = site
            .intersections
            .iter()
            .map(|inter| {
                inter
                    .stages
                    .iter()
                    .map(|stage| {
                        stage
                            .iter()
                            .filter_map(|id| inter.phases.iter().find(|p| p.id == *id))
                            .flat_map(|p| p.movements.iter())
                            .filter_map(|m| {
                                let a = inter.approaches.iter().find(|a| a.id == m.approach)?;
                                let lanes = (0..a.lanes.len() as u8)
                                    .filter(|l| a.lanes[usize::from(*l)].movements.contains(&m.turn))
                                    .collect();
                                let downstream = a.exits.get(&m.turn).and_then(|exit| {
                                    site.approach_of_link(exit)
                                        .map(|(_, da)| (da.id.clone(), (0..da.lanes.len() as u8).collect()))
                                });
                                Some(Movement { approach: a.id.clone(), lanes, downstream })
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let stop_loops = site
            .intersections
            .iter()
            .flat_map(|i| i.detectors.iter())
            .filter(|d| d.kind == DetectorKind::StopLine)
            .map(|d| ((d.approach.clone(), d.lane), d.id.clone()))
            .collect();
        let change_s = site
            .intersections
            .iter()
            .map(|i| (0..i.stages.len()).map(|s| crate::plan::stage_change_interval_s(i, s)).collect())
            .collect();
        Ok(MaxPressure {
            inner,
            change_s,
            sat_flow_vps: site.control.saturation_flow_vph / 3600.0,
            movements,
            stop_loops,
        })
    }

    /// How much more pressure (m of queue) stage `to` must have than `from` at intersection
    /// `k` for a switch: the queue a lane discharges in the change intervals of the switch
    /// and of the switch back (on the arterial 4.8 + 5.5 s, about 39 m). Without it the
    /// stages swapped every 11-13 s and the change intervals ate the capacity: 56.3 s in
    /// nutgiao's simulator and 137 s in SUMO's peak, against 35.4 and 116 s with it
    /// (docs/sumo.md).
    pub fn switch_margin_m(&self, k: usize, from: usize, to: usize) -> f64 {
        let c = &self.change_s[k];
        (c[from] + c[to]) * self.sat_flow_vps * QUEUED_VEHICLE_M
    }

    fn queue_m(&self, snap: &DetectorSnapshot, approach: &str, lane: u8) -> f64 {
        let key = (approach.to_owned(), lane);
        if let Some(q) = snap.queues_m.get(&key) {
            return *q;
        }
        self.stop_loops
            .get(&key)
            .and_then(|id| snap.detectors.get(id))
            .map_or(0.0, |r| if r.presence { OCCUPIED_LOOP_QUEUE_M } else { 0.0 })
    }

    fn pressure(&self, snap: &DetectorSnapshot, movements: &[Movement]) -> f64 {
        movements
            .iter()
            .map(|m| {
                let up: f64 = m.lanes.iter().map(|l| self.queue_m(snap, &m.approach, *l)).sum::<f64>()
                    / m.lanes.len().max(1) as f64;
                let down = m.downstream.as_ref().map_or(0.0, |(a, lanes)| {
                    lanes.iter().map(|l| self.queue_m(snap, a, *l)).sum::<f64>() / lanes.len().max(1) as f64
                });
                up - down
            })
            .sum()
    }
}

impl SignalControl for MaxPressure {
    fn name(&self) -> &str {
        "max-pressure"
    }

    fn update(&mut self, snapshot: &DetectorSnapshot) -> &SiteSignals {
        let mut requests = Vec::new();
        for (k, seq) in self.inner.sequencers().iter().enumerate() {
            let st = seq.status();
            if !st.in_green || st.interval_elapsed_s < DECISION_GREEN_S {
                continue;
            }
            let pressures: Vec<f64> = self.movements[k].iter().map(|m| self.pressure(snapshot, m)).collect();
            let best = (0..pressures.len()).max_by(|a, b| pressures[*a].total_cmp(&pressures[*b]));
            if let Some(best) = best
                && best != st.stage
                && pressures[best] > pressures[st.stage] + self.switch_margin_m(k, st.stage, best)
            {
                requests.push((k, best));
            }
        }
        for (k, stage) in requests {
            self.inner.sequencers_mut()[k].request_stage(stage);
        }
        self.inner.update(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::Indication;
    use crate::testing::arterial;

    /// J1's side stage green after `secs` of 1 s updates with the given side queue (m per lane).
    fn side_served(side_queue_m: f64, secs: u32) -> bool {
        let site = arterial();
        let mut mp = MaxPressure::new(&site).unwrap();
        let mut snap = DetectorSnapshot::default();
        for inter in &site.intersections {
            for a in &inter.approaches {
                for l in 0..a.lanes.len() as u8 {
                    let side = a.id.ends_with("-N") || a.id.ends_with("-S");
                    snap.queues_m.insert((a.id.clone(), l), if side { side_queue_m } else { 0.0 });
                }
            }
        }
        let mut served = false;
        for t in 0..secs {
            snap.now_s = f64::from(t);
            let signals = mp.update(&snap);
            served |= signals["J1"].iter().any(|s| s.phase == 4 && s.indication == Indication::Green);
        }
        served
    }

    #[test]
    fn switches_only_when_the_pressure_pays_for_the_change_intervals() {
        let site = arterial();
        let mp = MaxPressure::new(&site).unwrap();
        let margin = mp.switch_margin_m(0, 0, 1);
        // (4.8 s + 5.5 s) at 1800 veh/h is 5.15 vehicles of 7.5 m.
        assert!((margin - 38.6).abs() < 0.1, "{margin}");
        // The side stage's pressure is the queue summed over its six movements (per lane).
        assert!(!side_served(margin / 6.0 - 1.0, 60), "a small side queue does not pay for a switch");
        assert!(side_served(margin / 6.0 + 1.0, 60), "a larger one does");
    }
}
