//! Detector logic of an actuated controller: which loops call and extend which phase, and
//! whether a phase has a call or is still being extended.

use nutgiao_config::{DetectorKind, Intersection};

use crate::signal::DetectorSnapshot;

#[derive(Debug, Clone)]
struct Loop {
    id: String,
    kind: DetectorKind,
}

/// Loops per phase (in the intersection's phase order), with the counts seen when each
/// phase last ended its green, so that arrivals during its red place a call.
#[derive(Debug, Clone)]
pub struct Actuation {
    loops: Vec<Vec<Loop>>,
    counts_at_green_end: Vec<Vec<u32>>,
    passage_s: Vec<f64>,
}

impl Actuation {
    /// A loop serves a phase when it lies on one of the phase's approaches, in a lane that
    /// carries one of the phase's movements there.
    pub fn new(inter: &Intersection) -> Actuation {
        let loops: Vec<Vec<Loop>> = inter
            .phases
            .iter()
            .map(|phase| {
                inter
                    .detectors
                    .iter()
                    .filter(|d| {
                        let lane_turns = inter
                            .approaches
                            .iter()
                            .find(|a| a.id == d.approach)
                            .and_then(|a| a.lanes.get(usize::from(d.lane)))
                            .map(|l| l.movements.clone());
                        phase.movements.iter().any(|m| {
                            m.approach == d.approach && lane_turns.as_ref().is_none_or(|t| t.contains(&m.turn))
                        })
                    })
                    .map(|d| Loop { id: d.id.clone(), kind: d.kind })
                    .collect()
            })
            .collect();
        let counts_at_green_end = loops.iter().map(|l| vec![0; l.len()]).collect();
        Actuation { loops, counts_at_green_end, passage_s: inter.phases.iter().map(|p| p.passage_s).collect() }
    }

    /// Does the phase have demand? A phase without loops, or with a loop missing from the
    /// snapshot (a detector fault), is on recall: a cabinet serves it every cycle.
    pub fn has_call(&self, phase: usize, snap: &DetectorSnapshot) -> bool {
        let loops = &self.loops[phase];
        if loops.is_empty() {
            return true;
        }
        loops.iter().enumerate().any(|(i, l)| match snap.detectors.get(&l.id) {
            None => true,
            Some(r) => {
                r.presence || (l.kind == DetectorKind::Upstream && r.count != self.counts_at_green_end[phase][i])
            }
        })
    }

    /// Is a vehicle still arriving within the passage time? Faulty or missing loops never
    /// extend, so a fault cannot hold a green to its maximum every cycle.
    pub fn extends(&self, phase: usize, snap: &DetectorSnapshot) -> bool {
        self.loops[phase]
            .iter()
            .filter_map(|l| snap.detectors.get(&l.id))
            .any(|r| r.presence || r.gap_s < self.passage_s[phase])
    }

    pub fn green_ended(&mut self, phase: usize, snap: &DetectorSnapshot) {
        for (i, l) in self.loops[phase].iter().enumerate() {
            if let Some(r) = snap.detectors.get(&l.id) {
                self.counts_at_green_end[phase][i] = r.count;
            }
        }
    }

    /// Detector ids that serve a phase (for the algorithms' flow measurements).
    pub fn loop_ids(&self, phase: usize, kind: DetectorKind) -> impl Iterator<Item = &str> {
        self.loops[phase].iter().filter(move |l| l.kind == kind).map(|l| l.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::DetectorReading;
    use crate::testing::arterial;

    #[test]
    fn loops_map_to_the_phases_of_their_approach() {
        let site = arterial();
        let j1 = site.intersection("J1").unwrap();
        let a = Actuation::new(j1);
        let p2 = j1.phases.iter().position(|p| p.id == 2).unwrap();
        let ids: Vec<&str> = a.loop_ids(p2, DetectorKind::Upstream).collect();
        assert_eq!(ids, ["J1-W-0-adv", "J1-W-1-adv"]);
    }

    #[test]
    fn arrival_on_red_calls_and_gap_ends_extension() {
        let site = arterial();
        let j1 = site.intersection("J1").unwrap();
        let mut a = Actuation::new(j1);
        let p4 = j1.phases.iter().position(|p| p.id == 4).unwrap();
        let mut snap = DetectorSnapshot::default();
        for d in &j1.detectors {
            snap.detectors
                .insert(d.id.clone(), DetectorReading { count: 3, occupancy: 0.0, presence: false, gap_s: 9.0 });
        }
        a.green_ended(p4, &snap);
        assert!(!a.has_call(p4, &snap));
        assert!(!a.extends(p4, &snap));
        snap.detectors.get_mut("J1-N-0-adv").unwrap().count = 4;
        snap.detectors.get_mut("J1-N-0-adv").unwrap().gap_s = 1.0;
        assert!(a.has_call(p4, &snap));
        assert!(a.extends(p4, &snap));
        snap.detectors.remove("J1-N-0-stop");
        a.green_ended(p4, &snap);
        assert!(a.has_call(p4, &snap), "a missing loop puts its phase on recall");
    }
}
