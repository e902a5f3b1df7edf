//! Detector logic of an actuated controller: which loops call and extend which phase, and
//! whether a phase has a call or is still being extended.

use nutgiao_config::{DetectorKind, Intersection};

use crate::signal::DetectorSnapshot;

#[derive(Debug, Clone)]
struct Loop {
    id: String,
    kind: DetectorKind,
}

/// Seconds past the minimum green over which fully actuated operation reduces the allowed
/// gap from the passage time to `MIN_GAP_S`. Measured on the arterial (docs/sumo.md): with
/// the site's 2.5 s passage and no reduction, side greens ran 25-32 s on stragglers and
/// `actuated` lost 35.2 s per vehicle in nutgiao's simulator and 39.9 s in SUMO; reducing to
/// 1 s over 10 s gives 30.0 s and 29.9 s (seeds 1..5). Over 20 s was about 1 s better in SUMO
/// (seeds 1-3) but 1.5 s worse in nutgiao's simulator.
pub const GAP_REDUCTION_S: f64 = 10.0;
/// The smallest allowed gap after reduction: a saturated queue's headway is about 2 s, its
/// gap (headway less the time on the loop) below 1.5 s.
pub const MIN_GAP_S: f64 = 1.0;

/// The allowed gap `past_min_s` seconds after the minimum green (never above `passage_s`).
pub fn reduced_gap_s(passage_s: f64, past_min_s: f64) -> f64 {
    let floor = MIN_GAP_S.min(passage_s);
    passage_s - (passage_s - floor) * (past_min_s / GAP_REDUCTION_S).clamp(0.0, 1.0)
}

/// Loops per phase (in the intersection's phase order), with the counts seen when each
/// phase last ended its green, so that arrivals during its red place a call.
#[derive(Debug, Clone)]
pub struct Actuation {
    loops: Vec<Vec<Loop>>,
    counts_at_green_end: Vec<Vec<u32>>,
    passage_s: Vec<f64>,
    /// Per phase: vehicles still between its loops when its green last ended (they wait for
    /// the next green at the stop line and will be counted there).
    left_between: Vec<i64>,
}

/// Queued cars a lane holds between the stop line and a 60 m advance loop (7.5 m each): the
/// most `Actuation::between_loops` carries over from one green to the next per advance loop,
/// so a missed stop-line count cannot pile up from cycle to cycle.
pub const BETWEEN_LOOPS_MAX_PER_LANE: i64 = 8;

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
        let left_between = vec![0; loops.len()];
        Actuation {
            loops,
            counts_at_green_end,
            passage_s: inter.phases.iter().map(|p| p.passage_s).collect(),
            left_between,
        }
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
        self.extends_within(phase, snap, self.passage_s[phase])
    }

    /// `extends` with gap reduction (volume-density operation): the allowed gap shrinks
    /// linearly from the phase's passage time, `past_min_s` = 0 (the end of the minimum
    /// green), to `MIN_GAP_S` at `GAP_REDUCTION_S`. A queue discharging at saturation
    /// headways still holds the green; the random stragglers behind it no longer do.
    pub fn extends_reduced(&self, phase: usize, snap: &DetectorSnapshot, past_min_s: f64) -> bool {
        self.extends_within(phase, snap, reduced_gap_s(self.passage_s[phase], past_min_s))
    }

    /// Is a vehicle approaching on one of the phase's upstream (advance) loops: on it now, or
    /// past it less than `gap_s` ago? Stop-line loops do not count: a vehicle on them is
    /// already being served. Faulty or missing loops never count.
    pub fn approaching(&self, phase: usize, snap: &DetectorSnapshot, gap_s: f64) -> bool {
        self.loops[phase]
            .iter()
            .filter(|l| l.kind == DetectorKind::Upstream)
            .filter_map(|l| snap.detectors.get(&l.id))
            .any(|r| r.presence || r.gap_s < gap_s)
    }

    /// Vehicles known to be between the phase's upstream (advance) loops and its stop line:
    /// those still between them when its green last ended, plus those counted on its upstream
    /// loops since, less those counted on its stop-line loops since. Zero or less once every
    /// vehicle that passed an advance loop has crossed (or when the phase has no upstream
    /// loops); missing loops count nothing.
    pub fn between_loops(&self, phase: usize, snap: &DetectorSnapshot) -> i64 {
        self.left_between[phase]
            + self.loops[phase]
                .iter()
                .zip(&self.counts_at_green_end[phase])
                .filter_map(|(l, at_end)| {
                    let n = i64::from(snap.detectors.get(&l.id)?.count.wrapping_sub(*at_end));
                    Some(if l.kind == DetectorKind::Upstream { n } else { -n })
                })
                .sum::<i64>()
    }

    /// Is a vehicle on one of the phase's stop-line loops?
    pub fn at_stop_line(&self, phase: usize, snap: &DetectorSnapshot) -> bool {
        self.loops[phase]
            .iter()
            .filter(|l| l.kind == DetectorKind::StopLine)
            .filter_map(|l| snap.detectors.get(&l.id))
            .any(|r| r.presence)
    }

    /// Is a vehicle on one of the phase's loops (either kind), or did one leave it less than
    /// `gap_s` ago? Faulty or missing loops never count.
    pub fn passed_within(&self, phase: usize, snap: &DetectorSnapshot, gap_s: f64) -> bool {
        self.extends_within(phase, snap, gap_s)
    }

    fn extends_within(&self, phase: usize, snap: &DetectorSnapshot, gap_s: f64) -> bool {
        self.loops[phase].iter().filter_map(|l| snap.detectors.get(&l.id)).any(|r| r.presence || r.gap_s < gap_s)
    }

    /// The phase's green ends: arrivals from now on call it, and the vehicles still between
    /// its loops stay counted there. Without that, a vehicle the green left behind was
    /// counted on the advance loop before and on the stop line after, and hid one arrival
    /// from the next green, so a side green could end with it still queued (measured on the
    /// arterial, adaptive in nutgiao's simulator: 24.92 -> 24.87 s, seeds 1..5; 6..10 24.36 ->
    /// 24.31 s, 11..20 24.61 -> 24.60 s; in SUMO, docs/sumo.md).
    pub fn green_ended(&mut self, phase: usize, snap: &DetectorSnapshot) {
        let upstream = self.loops[phase].iter().filter(|l| l.kind == DetectorKind::Upstream).count() as i64;
        self.left_between[phase] = self.between_loops(phase, snap).clamp(0, BETWEEN_LOOPS_MAX_PER_LANE * upstream);
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

    /// Every loop of `inter` with `count` vehicles so far, none on it, the last 9 s ago.
    fn every_loop_counted(inter: &Intersection, count: u32) -> DetectorSnapshot {
        let mut snap = DetectorSnapshot::default();
        for d in &inter.detectors {
            snap.detectors.insert(d.id.clone(), DetectorReading { count, occupancy: 0.0, presence: false, gap_s: 9.0 });
        }
        snap
    }

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
        let mut snap = every_loop_counted(j1, 3);
        a.green_ended(p4, &snap);
        assert!(!a.has_call(p4, &snap));
        assert!(!a.extends(p4, &snap));
        snap.detectors.get_mut("J1-N-0-adv").unwrap().count = 4;
        snap.detectors.get_mut("J1-N-0-adv").unwrap().gap_s = 1.0;
        assert!(a.has_call(p4, &snap));
        assert!(a.extends(p4, &snap));
        // Gap reduction: a 1.8 s gap holds the green at the end of the minimum green, not
        // once the gap has been reduced.
        snap.detectors.get_mut("J1-N-0-adv").unwrap().gap_s = 1.8;
        assert!(a.extends_reduced(p4, &snap, 0.0));
        assert!(a.extends_reduced(p4, &snap, 4.0), "gap {} at 4 s", reduced_gap_s(2.5, 4.0));
        assert!(!a.extends_reduced(p4, &snap, 8.0), "gap {} at 8 s", reduced_gap_s(2.5, 8.0));
        assert!(!a.extends_reduced(p4, &snap, 60.0));
        snap.detectors.get_mut("J1-N-0-adv").unwrap().presence = true;
        assert!(a.extends_reduced(p4, &snap, 60.0), "a vehicle on the loop always extends");
        snap.detectors.get_mut("J1-N-0-adv").unwrap().presence = false;
        snap.detectors.remove("J1-N-0-stop");
        a.green_ended(p4, &snap);
        assert!(a.has_call(p4, &snap), "a missing loop puts its phase on recall");
    }

    #[test]
    fn vehicles_between_the_loops_are_counted_from_the_end_of_green() {
        let site = arterial();
        let j1 = site.intersection("J1").unwrap();
        let mut a = Actuation::new(j1);
        let p4 = j1.phases.iter().position(|p| p.id == 4).unwrap();
        let mut snap = every_loop_counted(j1, 7);
        a.green_ended(p4, &snap);
        assert_eq!(a.between_loops(p4, &snap), 0);
        assert!(!a.at_stop_line(p4, &snap));
        // Three vehicles pass the advance loop during red; then two cross the stop line.
        snap.detectors.get_mut("J1-N-0-adv").unwrap().count = 10;
        assert_eq!(a.between_loops(p4, &snap), 3);
        snap.detectors.get_mut("J1-N-0-stop").unwrap().count = 9;
        snap.detectors.get_mut("J1-N-0-stop").unwrap().presence = true;
        assert_eq!(a.between_loops(p4, &snap), 1);
        assert!(a.at_stop_line(p4, &snap));
        assert!(a.passed_within(p4, &snap, 0.5), "a vehicle on a loop");
        snap.detectors.get_mut("J1-N-0-stop").unwrap().presence = false;
        snap.detectors.get_mut("J1-N-0-stop").unwrap().gap_s = 1.0;
        assert!(a.passed_within(p4, &snap, 1.5) && !a.passed_within(p4, &snap, 0.5));
        // The green ends with that one still between the loops: it stays counted, and crosses
        // in the next green.
        a.green_ended(p4, &snap);
        assert_eq!(a.between_loops(p4, &snap), 1);
        snap.detectors.get_mut("J1-N-0-stop").unwrap().count = 10;
        assert_eq!(a.between_loops(p4, &snap), 0);
        // A miscount is carried over at most as far as a lane's queue between the loops.
        snap.detectors.get_mut("J1-N-0-adv").unwrap().count = 40;
        a.green_ended(p4, &snap);
        assert_eq!(a.between_loops(p4, &snap), BETWEEN_LOOPS_MAX_PER_LANE);
        // Counters wrap like a cabinet's.
        snap.detectors.get_mut("J1-N-0-adv").unwrap().count = u32::MAX;
        snap.detectors.get_mut("J1-N-0-stop").unwrap().count = u32::MAX - 30 + 8;
        a.green_ended(p4, &snap);
        assert_eq!(a.between_loops(p4, &snap), 0);
        snap.detectors.get_mut("J1-N-0-adv").unwrap().count = 1;
        assert_eq!(a.between_loops(p4, &snap), 2);
        // A missing loop counts nothing.
        snap.detectors.remove("J1-N-0-adv");
        assert_eq!(a.between_loops(p4, &snap), 0);
    }

    #[test]
    fn the_allowed_gap_shrinks_from_the_passage_time_to_the_minimum_gap() {
        assert_eq!(reduced_gap_s(2.5, -1.0), 2.5);
        assert_eq!(reduced_gap_s(2.5, 0.0), 2.5);
        assert!((reduced_gap_s(2.5, GAP_REDUCTION_S / 2.0) - 1.75).abs() < 1e-9);
        assert_eq!(reduced_gap_s(2.5, GAP_REDUCTION_S), MIN_GAP_S);
        assert_eq!(reduced_gap_s(2.5, 1000.0), MIN_GAP_S);
        assert_eq!(reduced_gap_s(0.5, 1000.0), 0.5, "never above a passage time shorter than the floor");
    }
}
