//! Trajectories and signal states along each arterial direction, sampled for the
//! time-space diagrams.

use std::collections::VecDeque;

use nutgiao_controller::Indication;

use crate::network::{NONE, Network};
use crate::sim::Veh;

/// One point of a vehicle's trajectory: time (s) and distance along the arterial (m).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrajectoryPoint {
    pub vehicle: u64,
    pub t: f32,
    pub d: f32,
}

/// Indication changes at one stop line: distance along the arterial, intersection id, and
/// `(t, indication)` at every change.
pub type StopLineSignals = (f64, String, Vec<(f64, Indication)>);

/// What one arterial direction recorded.
#[derive(Debug, Clone, Default)]
pub struct ArterialRecord {
    pub name: String,
    pub length_m: f64,
    pub points: Vec<TrajectoryPoint>,
    /// Per stop line: distance, intersection id, and indication changes `(t, indication)`.
    pub signals: Vec<StopLineSignals>,
}

#[derive(Debug, Clone)]
pub(crate) struct Trajectories {
    /// Per link: arterial index and the link's start distance along it, or NONE.
    link_art: Vec<(u32, f64)>,
    pub records: Vec<ArterialRecord>,
    slots: Vec<Vec<u32>>,
    next_sample: f64,
}

/// Sampling period of trajectories (s): fine enough for a diagram of an hour.
const SAMPLE_S: f64 = 1.0;

impl Trajectories {
    pub fn new(net: &Network) -> Trajectories {
        let mut link_art = vec![(NONE, 0.0); net.links.len()];
        let mut records = Vec::new();
        let mut slots = Vec::new();
        for (ai, a) in net.arterials.iter().enumerate() {
            for &(l, d) in &a.links {
                link_art[l as usize] = (ai as u32, d);
            }
            records.push(ArterialRecord {
                name: a.name.clone(),
                length_m: a.length,
                points: Vec::new(),
                signals: a.stop_lines.iter().map(|(d, _, id)| (*d, id.clone(), Vec::new())).collect(),
            });
            slots.push(a.stop_lines.iter().map(|(_, s, _)| *s).collect());
        }
        Trajectories { link_art, records, slots, next_sample: 0.0 }
    }

    pub fn record(
        &mut self,
        now: f64,
        net: &Network,
        lanes: &[VecDeque<u32>],
        vehs: &[Veh],
        indication: &[Indication],
        dt: f64,
    ) {
        for (rec, slots) in self.records.iter_mut().zip(&self.slots) {
            for (k, &s) in slots.iter().enumerate() {
                let ind = if s == NONE { Indication::Green } else { indication[s as usize] };
                let changes = &mut rec.signals[k].2;
                if changes.last().is_none_or(|(_, last)| *last != ind) {
                    changes.push((now - dt, ind));
                }
            }
        }
        if now + 1e-9 < self.next_sample {
            return;
        }
        self.next_sample = now + SAMPLE_S.max(dt);
        for (li, q) in lanes.iter().enumerate() {
            if q.is_empty() {
                continue;
            }
            let (art, start) = self.link_art[net.lanes[li].link as usize];
            if art == NONE {
                continue;
            }
            let rec = &mut self.records[art as usize];
            for &s in q {
                let v = &vehs[s as usize];
                rec.points.push(TrajectoryPoint { vehicle: v.id, t: now as f32, d: (start + v.pos) as f32 });
            }
        }
    }
}
