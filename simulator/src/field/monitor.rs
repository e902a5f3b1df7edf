//! The conflict monitor (a cabinet's MMU): watches only the indications actually shown,
//! independently of the sequencer and the plan validator, and latches flash on any fault.

use nutgiao_config::Intersection;
use nutgiao_controller::{Indication, PhaseState};

/// Observed times carry the caller's rounding; a real MMU allows a few milliseconds too.
const TOLERANCE_S: f64 = 1e-3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MonitorFault {
    ConflictingGreens = 1,
    ShortYellow = 2,
    MissingRedClearance = 3,
    /// An indication sequence no signal head may show (yellow to green, red to yellow, ...).
    DualIndication = 4,
}

impl MonitorFault {
    pub fn code(self) -> u16 {
        self as u16
    }
}

#[derive(Debug, Clone)]
pub struct ConflictMonitor {
    ids: Vec<u8>,
    conflicts: Vec<Vec<usize>>,
    yellow_s: Vec<f64>,
    red_clearance_s: Vec<f64>,
    last: Vec<Option<(Indication, f64)>>,
    red_from: Vec<Option<f64>>,
    latched: Option<(MonitorFault, String)>,
}

impl ConflictMonitor {
    pub fn new(inter: &Intersection) -> ConflictMonitor {
        let ids: Vec<u8> = inter.phases.iter().map(|p| p.id).collect();
        ConflictMonitor {
            conflicts: inter
                .phases
                .iter()
                .map(|p| p.conflicts.iter().filter_map(|c| ids.iter().position(|i| i == c)).collect())
                .collect(),
            yellow_s: inter.phases.iter().map(|p| p.yellow_s).collect(),
            red_clearance_s: inter.phases.iter().map(|p| p.red_clearance_s).collect(),
            last: vec![None; ids.len()],
            red_from: vec![None; ids.len()],
            latched: None,
            ids,
        }
    }

    /// The latched fault and its description; only a restart of the cabinet clears it.
    pub fn fault(&self) -> Option<&(MonitorFault, String)> {
        self.latched.as_ref()
    }

    /// Checks the indications shown at `now`; returns a newly latched fault.
    pub fn observe(&mut self, now: f64, states: &[PhaseState]) -> Option<(MonitorFault, String)> {
        if self.latched.is_some() {
            return None;
        }
        let fault = self.check(now, states);
        for (i, s) in states.iter().enumerate().take(self.ids.len()) {
            let changed = self.last[i].is_none_or(|(ind, _)| ind != s.indication);
            if changed {
                if s.indication == Indication::Red && self.last[i].is_some() {
                    self.red_from[i] = Some(now);
                }
                self.last[i] = Some((s.indication, now));
            }
        }
        if let Some(f) = &fault {
            self.latched = Some(f.clone());
        }
        fault
    }

    fn check(&self, now: f64, states: &[PhaseState]) -> Option<(MonitorFault, String)> {
        let shows_go = |i: usize| matches!(states[i].indication, Indication::Green | Indication::Yellow);
        for i in 0..self.ids.len().min(states.len()) {
            for &j in &self.conflicts[i] {
                if j < states.len() && shows_go(i) && shows_go(j) {
                    return Some((
                        MonitorFault::ConflictingGreens,
                        format!("phases {} and {} released together at {now:.1} s", self.ids[i], self.ids[j]),
                    ));
                }
            }
        }
        for (i, s) in states.iter().enumerate().take(self.ids.len()) {
            let Some((old, since)) = self.last[i] else { continue };
            if old == s.indication {
                continue;
            }
            let id = self.ids[i];
            match (old, s.indication) {
                (Indication::Yellow, Indication::Red) if now - since + TOLERANCE_S < self.yellow_s[i] => {
                    return Some((
                        MonitorFault::ShortYellow,
                        format!("phase {id} yellow lasted {:.2} s of {} s", now - since, self.yellow_s[i]),
                    ));
                }
                (Indication::Yellow, Indication::FlashingRed) if now - since + TOLERANCE_S < self.yellow_s[i] => {
                    return Some((
                        MonitorFault::ShortYellow,
                        format!("phase {id} yellow lasted {:.2} s of {} s before flash", now - since, self.yellow_s[i]),
                    ));
                }
                (Indication::Green, Indication::Red | Indication::FlashingRed) => {
                    return Some((
                        MonitorFault::ShortYellow,
                        format!("phase {id} went from green to {} without yellow", s.indication),
                    ));
                }
                // Flash on request comes after the red clearance, as a change to another stage
                // would (a latched fault flashes at once, but then the monitor no longer looks).
                (Indication::Red, Indication::FlashingRed) => {
                    if let Some(t) = self.red_from[i]
                        && now - t + TOLERANCE_S < self.red_clearance_s[i]
                    {
                        return Some((
                            MonitorFault::MissingRedClearance,
                            format!(
                                "phase {id} flashing {:.2} s after it turned red (red clearance {} s)",
                                now - t,
                                self.red_clearance_s[i]
                            ),
                        ));
                    }
                }
                (Indication::Red, Indication::Green) => {
                    for &j in &self.conflicts[i] {
                        if let Some(t) = self.red_from[j]
                            && now - t + TOLERANCE_S < self.red_clearance_s[j]
                        {
                            return Some((
                                MonitorFault::MissingRedClearance,
                                format!(
                                    "phase {id} green {:.2} s after phase {} turned red (red clearance {} s)",
                                    now - t,
                                    self.ids[j],
                                    self.red_clearance_s[j]
                                ),
                            ));
                        }
                    }
                }
                // Leaving flash: road users from every approach may be in the junction, so a
                // steady red comes first (then the rule above holds the conflicting reds).
                (Indication::FlashingRed | Indication::FlashingYellow, Indication::Green) => {
                    return Some((
                        MonitorFault::MissingRedClearance,
                        format!("phase {id} green straight after flashing, without a steady red first"),
                    ));
                }
                (Indication::Yellow, Indication::Green) | (Indication::Red, Indication::Yellow) => {
                    return Some((
                        MonitorFault::DualIndication,
                        format!("phase {id} showed {old} then {}", s.indication),
                    ));
                }
                _ => {}
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> nutgiao_config::Site {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/arterial.toml");
        nutgiao_config::load(p).unwrap()
    }

    fn states(ind: [Indication; 4]) -> Vec<PhaseState> {
        // Arterial phase order: 2, 6, 4, 8.
        [2u8, 6, 4, 8].iter().zip(ind).map(|(p, i)| PhaseState { phase: *p, indication: i, since_s: 0.0 }).collect()
    }

    use Indication::{Green as G, Red as R, Yellow as Y};

    #[test]
    fn latches_conflicting_greens() {
        let s = site();
        let mut m = ConflictMonitor::new(s.intersection("J1").unwrap());
        assert!(m.observe(0.0, &states([G, G, R, R])).is_none());
        let f = m.observe(1.0, &states([G, G, G, R])).unwrap();
        assert_eq!(f.0, MonitorFault::ConflictingGreens);
        assert!(m.observe(2.0, &states([R, R, R, R])).is_none(), "latched, not re-reported");
        assert_eq!(m.fault().unwrap().0, MonitorFault::ConflictingGreens);
    }

    #[test]
    fn catches_short_yellow_and_missing_clearance() {
        let s = site();
        let j1 = s.intersection("J1").unwrap();
        let mut m = ConflictMonitor::new(j1);
        m.observe(0.0, &states([G, G, R, R]));
        m.observe(10.0, &states([Y, Y, R, R]));
        assert_eq!(m.observe(12.0, &states([R, R, R, R])).unwrap().0, MonitorFault::ShortYellow);

        let mut m = ConflictMonitor::new(j1);
        m.observe(0.0, &states([G, G, R, R]));
        m.observe(10.0, &states([Y, Y, R, R]));
        assert!(m.observe(13.3, &states([R, R, R, R])).is_none());
        assert_eq!(m.observe(14.0, &states([R, R, G, G])).unwrap().0, MonitorFault::MissingRedClearance);

        let mut m = ConflictMonitor::new(j1);
        m.observe(0.0, &states([G, G, R, R]));
        m.observe(10.0, &states([Y, Y, R, R]));
        m.observe(13.3, &states([R, R, R, R]));
        assert!(m.observe(14.8, &states([R, R, G, G])).is_none(), "full 1.5 s clearance");
        assert_eq!(m.observe(15.0, &states([R, R, R, G])).unwrap().0, MonitorFault::ShortYellow, "green to red");
    }

    #[test]
    fn leaving_flash_needs_a_steady_red_before_any_green() {
        use Indication::FlashingRed as F;
        let s = site();
        let j1 = s.intersection("J1").unwrap();
        let mut m = ConflictMonitor::new(j1);
        m.observe(0.0, &states([F, F, F, F]));
        assert_eq!(m.observe(5.0, &states([G, G, R, R])).unwrap().0, MonitorFault::MissingRedClearance);

        let mut m = ConflictMonitor::new(j1);
        m.observe(0.0, &states([F, F, F, F]));
        assert!(m.observe(5.0, &states([R, R, R, R])).is_none());
        // The side street's red clearance (2.5 s) must pass before the arterial goes green.
        assert_eq!(m.observe(6.0, &states([G, G, R, R])).unwrap().0, MonitorFault::MissingRedClearance);

        let mut m = ConflictMonitor::new(j1);
        m.observe(0.0, &states([F, F, F, F]));
        m.observe(5.0, &states([R, R, R, R]));
        assert!(m.observe(7.5, &states([G, G, R, R])).is_none(), "start-up red of 2.5 s");
    }
}
