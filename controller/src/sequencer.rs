//! The safe phase sequencer of one intersection: the only code that turns plans and
//! detector calls into indications. Whatever drives it (a fixed plan, actuation, an
//! algorithm's stage requests, a Modbus-committed plan), it guarantees:
//! - only the phases of one stage are green, so conflicting phases are never green together;
//! - a green lasts at least its stage's minimum (and pedestrian clearance);
//! - a green ends in yellow for at least the phase's yellow time, then red for at least its
//!   red clearance, before any next stage's green starts;
//! - plans change only at the end of a stage, and a new offset is reached gradually.
//!
//! Time is whatever `now_s` the caller gives; indications change only on calls, so with a
//! coarse step an interval lasts until the first call at or after its end (never shorter).

use nutgiao_config::Intersection;

use crate::actuation::Actuation;
use crate::plan::{Coordination, IntersectionPlan, stage_change_interval_s};
use crate::safety::{PlanError, stage_max_green_s, stage_min_green_s, validate_plan};
use crate::signal::{DetectorSnapshot, Indication, PhaseId, PhaseState};

const EPS: f64 = 1e-6;
/// Most a fixed-time green is shortened or lengthened per stage while walking to a new
/// offset, as a share of the stage's split: drivers on a coordinated route barely notice.
pub const MAX_CORRECTION_SHARE: f64 = 0.2;

/// How the sequencer decides when a stage ends and which comes next.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Run a validated timing plan: every stage in order, greens from the splits.
    Fixed(IntersectionPlan),
    /// Fully actuated: min green, extension by passage time reduced over the green
    /// (`actuation::GAP_REDUCTION_S`; gap-out), max-out; stages without a call are skipped,
    /// and the next called stage in order is served.
    Actuated,
    /// Actuated-coordinated: a plan's cycle, offset and order. The first, coordinated stage
    /// ends at the plan's yield point (the end of its split's green) wherever it started, or up
    /// to `ARTERIAL_HOLD_S` (`INTERIOR_ARTERIAL_HOLD_S` inside the corridor) later while a
    /// vehicle is still arriving on its advance loops (the tail of a platoon; only the platoon
    /// phases' loops count where some are set, see `set_platoon_phases`). Every other stage
    /// ends early once the vehicles it knows of are served (`side_in_use`; after its minimum
    /// green), so the arterial starts early and gets the time the side streets did not use; a
    /// side stage still in use at its planned end may run on by `SIDE_EXTENSION_SHARE` of the
    /// coordinated stage's green above its minimum, which the coordinated stage gives up, for
    /// the vehicles it knows of (`RUN_ON_GAP_S`).
    Coordinated(IntersectionPlan),
    /// An algorithm requests the stage (see `request_stage`); min green still holds and a
    /// requested change always runs the full yellow and red clearance.
    Directed,
}

impl Mode {
    /// The mode a plan asks for: fixed-time, or actuated-coordinated when flagged
    /// (`plan::ACTUATED_COORDINATED`).
    pub fn for_plan(plan: IntersectionPlan) -> Mode {
        match plan.coordination() {
            Coordination::FixedTime => Mode::Fixed(plan),
            Coordination::ActuatedCoordinated => Mode::Coordinated(plan),
        }
    }

    pub fn plan(&self) -> Option<&IntersectionPlan> {
        match self {
            Mode::Fixed(p) | Mode::Coordinated(p) => Some(p),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Interval {
    Green { stage: usize, start_s: f64, end_s: f64 },
    Change { from: usize, to: usize, start_s: f64 },
}

/// The start-up red after flash: due at the next update, then held until a time.
#[derive(Debug, Clone, Copy, PartialEq)]
enum StartRed {
    Due,
    Until(f64),
}

#[derive(Debug, Clone)]
struct PhaseTiming {
    id: PhaseId,
    yellow_s: f64,
    red_clearance_s: f64,
}

#[derive(Debug, Clone)]
struct StageTiming {
    /// Indices into `Sequencer::phases`.
    phases: Vec<usize>,
    min_green_s: f64,
    max_green_s: f64,
    change_s: f64,
}

/// What an observer (status registers, logs, algorithms) may want to know.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequencerStatus {
    /// Stage being served, or the one being changed to.
    pub stage: usize,
    pub in_green: bool,
    /// Seconds since the current interval began.
    pub interval_elapsed_s: f64,
    /// Position in the running plan's cycle (s), or since the first stage last started.
    pub cycle_timer_s: f64,
    /// The plan id in effect (0 for actuated or directed).
    pub plan_id: u16,
    pub transition_pending: bool,
}

#[derive(Debug, Clone)]
pub struct Sequencer {
    intersection: Intersection,
    phases: Vec<PhaseTiming>,
    stages: Vec<StageTiming>,
    mode: Mode,
    pending: Option<Mode>,
    requested: Option<usize>,
    interval: Option<Interval>,
    states: Vec<PhaseState>,
    /// When each ending phase of the current change turned red.
    red_at: Vec<Option<f64>>,
    actuation: Actuation,
    cycle_start_s: f64,
    now_s: f64,
    start_red: Option<StartRed>,
    /// Per phase (in `phases` order): fed by the platoons of an upstream signal.
    platoon: Vec<bool>,
}

impl Sequencer {
    /// A sequencer in `mode`; a fixed plan is validated first.
    pub fn new(inter: &Intersection, mode: Mode) -> Result<Sequencer, PlanError> {
        if let Some(plan) = mode.plan() {
            validate_plan(inter, plan)?;
        }
        let phases: Vec<PhaseTiming> = inter
            .phases
            .iter()
            .map(|p| PhaseTiming { id: p.id, yellow_s: p.yellow_s, red_clearance_s: p.red_clearance_s })
            .collect();
        let stages = inter
            .stages
            .iter()
            .enumerate()
            .map(|(s, ids)| StageTiming {
                phases: ids.iter().filter_map(|id| phases.iter().position(|p| p.id == *id)).collect(),
                min_green_s: stage_min_green_s(inter, s),
                max_green_s: stage_max_green_s(inter, s),
                change_s: stage_change_interval_s(inter, s),
            })
            .collect();
        let states =
            phases.iter().map(|p| PhaseState { phase: p.id, indication: Indication::Red, since_s: 0.0 }).collect();
        Ok(Sequencer {
            intersection: inter.clone(),
            red_at: vec![None; phases.len()],
            phases,
            stages,
            mode,
            pending: None,
            requested: None,
            interval: None,
            states,
            actuation: Actuation::new(inter),
            start_red: None,
            cycle_start_s: 0.0,
            now_s: 0.0,
            platoon: vec![false; inter.phases.len()],
        })
    }

    /// The phases whose approaches carry the platoons of an upstream signal of the corridor
    /// (`algorithms::greenwave::platoon_phases`). Where the coordinated stage has some, only
    /// their advance loops hold it past its yield point: the random arrivals of an entry
    /// approach (an end of the corridor) then no longer hold it for stragglers. Unknown ids
    /// are ignored; with none set (the default) every phase's loops hold as before.
    pub fn set_platoon_phases(&mut self, ids: &[PhaseId]) {
        self.platoon = self.phases.iter().map(|p| ids.contains(&p.id)).collect();
    }

    pub fn intersection(&self) -> &Intersection {
        &self.intersection
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// The mode that takes over at the next stage end, if any.
    pub fn pending(&self) -> Option<&Mode> {
        self.pending.as_ref()
    }

    pub fn stage_count(&self) -> usize {
        self.stages.len()
    }

    /// Runs `mode` from the next stage end on. A fixed plan is validated first and a refused
    /// one changes nothing. Before the first update it applies at once.
    pub fn set_mode(&mut self, mode: Mode) -> Result<(), PlanError> {
        if let Some(plan) = mode.plan() {
            validate_plan(&self.intersection, plan)?;
        }
        if self.interval.is_none() {
            self.mode = mode;
            self.pending = None;
        } else if mode == self.mode {
            self.pending = None;
        } else {
            self.pending = Some(mode);
        }
        Ok(())
    }

    /// Starts over at the next update as if just switched on (any pending mode taking over):
    /// all red, then the stage the mode calls for. Only for a caller that has itself brought
    /// every phase to red and through its red clearance (a cabinet leaving flash): the
    /// sequencer's own yellow and red clearance of the interval it was in are dropped.
    ///
    /// `from_flash`: the heads were flashing, so road users from every approach may be in the
    /// junction; every phase shows steady red for the longest red clearance before the first
    /// green (a start-up red), instead of a green straight after flashing red.
    pub fn restart(&mut self, from_flash: bool) {
        if let Some(mode) = self.pending.take() {
            self.mode = mode;
        }
        self.interval = None;
        self.requested = None;
        self.red_at.iter_mut().for_each(|r| *r = None);
        self.start_red = from_flash.then_some(StartRed::Due);
    }

    /// For `Mode::Directed`: the stage an algorithm wants now. The change happens once the
    /// current green has run its minimum.
    pub fn request_stage(&mut self, stage: usize) {
        if stage < self.stages.len() {
            self.requested = Some(stage);
        }
    }

    pub fn states(&self) -> &[PhaseState] {
        &self.states
    }

    pub fn status(&self) -> SequencerStatus {
        let (stage, in_green, start) = match self.interval {
            Some(Interval::Green { stage, start_s, .. }) => (stage, true, start_s),
            Some(Interval::Change { to, start_s, .. }) => (to, false, start_s),
            None => (0, false, self.now_s),
        };
        let cycle_timer_s = match self.mode.plan() {
            Some(p) => (self.now_s - p.offset_s).rem_euclid(p.cycle_s),
            None => self.now_s - self.cycle_start_s,
        };
        SequencerStatus {
            stage,
            in_green,
            interval_elapsed_s: self.now_s - start,
            cycle_timer_s,
            plan_id: self.mode.plan().map_or(0, |p| p.plan_id),
            transition_pending: self.pending.is_some(),
        }
    }

    /// Advances to `snap.now_s` and returns the phase states (in the site's phase order).
    pub fn update(&mut self, snap: &DetectorSnapshot) -> &[PhaseState] {
        let now = snap.now_s.max(self.now_s);
        self.now_s = now;
        if self.interval.is_none() {
            if self.start_red == Some(StartRed::Due) {
                let hold = self.phases.iter().map(|p| p.red_clearance_s).fold(0.0, f64::max);
                // Red from now on, whatever the sequencer last held: the heads were flashing.
                for i in 0..self.states.len() {
                    self.states[i] = PhaseState { phase: self.phases[i].id, indication: Indication::Red, since_s: now };
                }
                self.start_red = Some(StartRed::Until(now + hold));
            }
            if let Some(StartRed::Until(t)) = self.start_red {
                if now + EPS < t {
                    return &self.states;
                }
                self.start_red = None;
            }
            self.start(now);
        }
        // Each pass either ends a green or ends a change, and a new interval always lasts a
        // positive time, so two passes are enough; the bound just makes it obvious.
        for _ in 0..4 {
            match self.interval {
                Some(Interval::Green { stage, start_s, end_s }) => match self.green_end(stage, start_s, end_s, snap) {
                    Some(next) => self.begin_change(stage, next, snap),
                    None => break,
                },
                Some(Interval::Change { from, to, start_s }) => {
                    if !self.advance_change(from, start_s, now) {
                        break;
                    }
                    self.begin_green(to, now, false);
                }
                None => break,
            }
        }
        &self.states
    }

    fn set(&mut self, phase: usize, indication: Indication, now: f64) {
        let st = &mut self.states[phase];
        if st.indication != indication {
            st.indication = indication;
            st.since_s = now;
        }
    }

    fn start(&mut self, now: f64) {
        for i in 0..self.states.len() {
            self.states[i] = PhaseState { phase: self.phases[i].id, indication: Indication::Red, since_s: now };
        }
        let stage = match &self.mode {
            Mode::Fixed(p) | Mode::Coordinated(p) => {
                // Join the plan where it stands, as SUMO does with a program's offset.
                let pos = (now - p.offset_s).rem_euclid(p.cycle_s);
                let mut acc = 0.0;
                let mut stage = 0;
                let mut green_left = 0.0;
                for (s, split) in p.splits_s.iter().enumerate() {
                    if pos < acc + split {
                        stage = s;
                        green_left = acc + split - self.stages[s].change_s - pos;
                        break;
                    }
                    acc += split;
                }
                if green_left <= EPS {
                    // In a change interval: nothing was green before, so the next stage may
                    // start now; its green is lengthened to the plan by the offset logic.
                    let next = (stage + 1) % self.stages.len();
                    self.begin_green(next, now, false);
                } else {
                    let end = now + green_left.max(self.stages[stage].min_green_s);
                    self.green_on(stage, now, end);
                }
                return;
            }
            Mode::Actuated | Mode::Directed => 0,
        };
        self.begin_green(stage, now, true);
    }

    fn green_on(&mut self, stage: usize, now: f64, end_s: f64) {
        if stage == 0 {
            self.cycle_start_s = now;
        }
        for i in self.stages[stage].phases.clone() {
            self.set(i, Indication::Green, now);
        }
        self.interval = Some(Interval::Green { stage, start_s: now, end_s });
    }

    fn begin_green(&mut self, stage: usize, now: f64, _startup: bool) {
        let st = &self.stages[stage];
        let end = match &self.mode {
            Mode::Coordinated(p) if stage == 0 => now + coordinated_green_s(p, &self.stages, now),
            Mode::Fixed(p) | Mode::Coordinated(p) => now + fixed_green_s(p, stage, st, now),
            Mode::Actuated | Mode::Directed => now + st.min_green_s,
        };
        self.green_on(stage, now, end);
    }

    /// `Some(next stage)` when the green of `stage` should end now.
    fn green_end(&mut self, stage: usize, start_s: f64, end_s: f64, snap: &DetectorSnapshot) -> Option<usize> {
        let now = self.now_s;
        let st = &self.stages[stage];
        let elapsed = now - start_s;
        if elapsed + EPS < st.min_green_s {
            return None;
        }
        let n = self.stages.len();
        match &self.mode {
            Mode::Fixed(_) => (now + EPS >= end_s).then_some((stage + 1) % n),
            Mode::Coordinated(p) => {
                if stage == 0 {
                    if now + EPS < end_s {
                        return None;
                    }
                    // Past the yield point: hold for the tail of a platoon still arriving,
                    // within the hold and the stage's maximum green.
                    let platoon = st.phases.iter().any(|&p| self.platoon[p]);
                    // Where every coordinated phase receives platoons (inside the corridor), a
                    // shorter hold: what it releases late reaches the next signal late.
                    let interior = st.phases.iter().all(|&p| self.platoon[p]);
                    let hold = if interior { INTERIOR_ARTERIAL_HOLD_S } else { ARTERIAL_HOLD_S };
                    let limit = (end_s + hold).min(start_s + st.max_green_s.max(end_s - start_s));
                    let arriving = st
                        .phases
                        .iter()
                        .filter(|&&p| !platoon || self.platoon[p])
                        .any(|&p| self.actuation.approaching(p, snap, HOLD_GAP_S));
                    return (!arriving || now + EPS >= limit).then_some(1 % n);
                }
                // Past its planned end (the run-on) a side stage serves the vehicles it knows
                // of and those on its loops, not a gap's later arrivals.
                let gap = if now + EPS < end_s { SIDE_GAP_S } else { RUN_ON_GAP_S };
                let extended = st.phases.iter().any(|&p| side_in_use(&self.actuation, p, snap, gap));
                // A side stage still in use may run on into the coordinated stage's time (whose
                // end stays put), so a queue the split was too short for is not left behind.
                let force_off =
                    (end_s + side_extension_s(p, &self.stages)).min(start_s + st.max_green_s.max(end_s - start_s));
                (!extended || now + EPS >= force_off).then_some((stage + 1) % n)
            }
            Mode::Actuated => {
                let called = (1..n).map(|k| (stage + k) % n).find(|&s| self.stage_has_call(s, snap));
                let next = match (called, self.pending.is_some()) {
                    (Some(s), _) => s,
                    // A new plan is waiting: a resting green is a safe point to hand over.
                    (None, true) => (stage + 1) % n,
                    (None, false) => return None,
                };
                let maxed_out = elapsed + EPS >= st.max_green_s;
                let past_min = elapsed - st.min_green_s;
                let extended = st.phases.iter().any(|&p| self.actuation.extends_reduced(p, snap, past_min));
                (maxed_out || !extended || self.pending.is_some()).then_some(next)
            }
            Mode::Directed => match self.requested {
                Some(r) if r != stage => Some(r),
                _ if self.pending.is_some() => Some((stage + 1) % n),
                _ => None,
            },
        }
    }

    fn stage_has_call(&self, stage: usize, snap: &DetectorSnapshot) -> bool {
        self.stages[stage].phases.iter().any(|&p| self.actuation.has_call(p, snap))
    }

    fn begin_change(&mut self, from: usize, to: usize, snap: &DetectorSnapshot) {
        let now = self.now_s;
        if let Some(mode) = self.pending.take() {
            tracing::info!(intersection = %self.intersection.id, from = ?self.mode.plan().map(|p| p.plan_id),
                to = ?mode.plan().map(|p| p.plan_id), "plan transition at the end of stage {}", from + 1);
            self.mode = mode;
        }
        let to = match &self.mode {
            Mode::Fixed(_) | Mode::Coordinated(_) => (from + 1) % self.stages.len(),
            _ => to,
        };
        if self.requested == Some(to) {
            self.requested = None;
        }
        self.red_at.iter_mut().for_each(|r| *r = None);
        for p in self.stages[from].phases.clone() {
            if !self.stages[to].phases.contains(&p) {
                self.set(p, Indication::Yellow, now);
                self.actuation.green_ended(p, snap);
            }
        }
        self.interval = Some(Interval::Change { from, to, start_s: now });
    }

    /// Moves ending phases from yellow to red; `true` once every one has had its full red
    /// clearance (measured from when its red actually began) and the stage's change interval
    /// has run.
    fn advance_change(&mut self, from: usize, start_s: f64, now: f64) -> bool {
        let mut done = now + EPS >= start_s + self.stages[from].change_s;
        for p in self.stages[from].phases.clone() {
            if self.states[p].indication == Indication::Green {
                continue; // continues into the next stage
            }
            if self.states[p].indication == Indication::Yellow && now + EPS >= start_s + self.phases[p].yellow_s {
                self.set(p, Indication::Red, now);
                self.red_at[p] = Some(now);
            }
            match self.red_at[p] {
                Some(t) if now + EPS >= t + self.phases[p].red_clearance_s => {}
                _ => done = false,
            }
        }
        done
    }
}

/// Share of the coordinated stage's green above its minimum that a side stage may take when
/// it is still in use at its planned end. Measured on the arterial (docs/sumo.md): 0.15-0.25
/// was best in both simulators before the arterial hold; with the hold (which takes side
/// time at the other end of the side stage) 0.3 is best in nutgiao's simulator (0.2, 0.25 and
/// 0.4 lose 0.1-0.3 s); at 0.45 and above the arterial loses more than the side gains.
pub const SIDE_EXTENSION_SHARE: f64 = 0.3;

/// A side stage of an actuated-coordinated plan stays green while a vehicle left one of
/// its loops less than this long ago (besides the vehicles it knows of, `side_in_use`).
/// At 1 s steps: a gap of at most 1 s, a queue discharging at saturation headways.
pub const SIDE_GAP_S: f64 = 1.5;
/// The gap that keeps a side stage green during its run-on (past its planned end): none, so
/// only a vehicle on a loop or known to be between the loops (`side_in_use`) holds it. The
/// run-on is for a queue the split was too short for; with `SIDE_GAP_S` a stream of random
/// arrivals held it to its force-off at the arterial's expense. Measured on the arterial
/// (adaptive, nutgiao's simulator, docs/sumo.md): seeds 1..5 24.87 -> 24.26 s, 6..10 24.31 ->
/// 23.96 s, 11..20 24.60 -> 24.12 s; SUMO base and peak unchanged within 0.1 s with
/// `INTERIOR_ARTERIAL_HOLD_S`, 1.2 s worse on the peak without it.
pub const RUN_ON_GAP_S: f64 = 0.0;
/// Vehicles counted between a side phase's advance loop and its stop line hold its green
/// only while one of its loops saw a vehicle less than this long ago, so that a missed count
/// cannot hold it to its force-off every cycle. 60 m at 40 km/h take 5.4 s.
pub const BETWEEN_LOOPS_STALE_S: f64 = 6.0;

/// Is a side (non-coordinated) phase of an actuated-coordinated plan still in use? A vehicle on
/// a stop-line loop, a vehicle that passed an advance loop during red or green and has not
/// crossed the stop line yet (`Actuation::between_loops`), or a vehicle on or less than `gap_s`
/// off any loop (`SIDE_GAP_S`, or `RUN_ON_GAP_S` past the planned end). With the passage time
/// alone (2.5 s on the arterial's side streets) the green ran 2.5 s past the last queued
/// vehicle, yet gapped out before a vehicle that had passed the 60 m advance loop reached the
/// stop line. Measured on the arterial (nutgiao's simulator, seeds 1..5, docs/sumo.md): 25.4 ->
/// 25.0 s with the hold on every phase (seeds 6..10 24.8 -> 24.5 s, 11..20 25.1 -> 24.8 s).
fn side_in_use(actuation: &Actuation, phase: usize, snap: &DetectorSnapshot, gap_s: f64) -> bool {
    actuation.at_stop_line(phase, snap)
        || (actuation.between_loops(phase, snap) > 0 && actuation.passed_within(phase, snap, BETWEEN_LOOPS_STALE_S))
        || actuation.passed_within(phase, snap, gap_s)
}

/// Longest an actuated-coordinated plan's coordinated stage is held past its yield point for
/// vehicles still arriving on its advance loops. With two-way alternating offsets a platoon
/// reaches the next stop line a little after that intersection's yield point (start-up and
/// the yellow the upstream vehicles cross in), and a vehicle that misses it waits a whole
/// red. Measured on the arterial (nutgiao's simulator, seeds 1..5, docs/sumo.md): a hold of
/// 3-6 s takes the arterial's time loss from 25.1 s to 22.5 s per vehicle but costs the side
/// streets 2-3 s, so the mean gains 0.3 s; with the 0.3 run-on share and one set of splits
/// for the corridor 0.7 s. 2 s gains less, 8 s no more. With the side stages' `side_in_use`
/// and the hold only for platoons at the ends of the corridor (`set_platoon_phases`), 4/5/6/8
/// s give 25.0/24.9/24.9/24.9 s (seeds 6..10: 24.4/24.3/24.4/24.3 s).
pub const ARTERIAL_HOLD_S: f64 = 6.0;
/// `ARTERIAL_HOLD_S` inside the corridor, where both arterial directions are platoon phases
/// (`set_platoon_phases`): a tail held there reaches the end signals that much later, past
/// their own hold. With `RUN_ON_GAP_S` (nutgiao's simulator, docs/sumo.md): 4/5/6 s give
/// 24.25/24.13/24.26 s on seeds 1..5 (6..10: 23.84/23.87/23.96 s, 11..20 5 s 24.09 s).
pub const INTERIOR_ARTERIAL_HOLD_S: f64 = 5.0;
/// A vehicle that passed an advance loop less than this long ago holds the coordinated
/// stage (with the site's 60 m advance loops at 50 km/h: still 10 m or more from the stop
/// line). Measured: 3.5 s is about 0.2 s better than the 2.5 s passage time.
pub const HOLD_GAP_S: f64 = 3.5;

/// How long a side stage of a coordinated plan may run past its planned end.
fn side_extension_s(plan: &IntersectionPlan, stages: &[StageTiming]) -> f64 {
    let st = &stages[0];
    let nominal = plan.splits_s[0] - st.change_s;
    (SIDE_EXTENSION_SHARE * (nominal - st.min_green_s)).max(0.0)
}

/// Green of the coordinated (first) stage of an actuated-coordinated plan that starts at
/// `now`: it ends at the plan's yield point (the end of its split's green), so time the side
/// stages left unused lengthens it and time they ran over shortens it, and the platoons of
/// the green wave find it where the offsets put it. Never below the minimum green; when the
/// stage starts so late that the yield point has passed, it walks back like a fixed plan.
fn coordinated_green_s(plan: &IntersectionPlan, stages: &[StageTiming], now: f64) -> f64 {
    let st = &stages[0];
    let nominal = plan.splits_s[0] - st.change_s;
    let remaining = (plan.offset_s + nominal - now).rem_euclid(plan.cycle_s);
    // The earliest the stage can start: every other stage at its minimum green.
    let early_max: f64 =
        stages.iter().zip(&plan.splits_s).skip(1).map(|(s, split)| (split - s.change_s - s.min_green_s).max(0.0)).sum();
    if remaining > nominal + early_max + EPS {
        return fixed_green_s(plan, 0, st, now);
    }
    remaining.min(st.max_green_s.max(nominal)).max(st.min_green_s)
}

/// Green of a fixed-time stage that starts at `now`: the split's green, shortened (short
/// way) or lengthened (long way) towards the plan's offset, never below the minimum green and
/// never by more than `MAX_CORRECTION_SHARE` of the split.
fn fixed_green_s(plan: &IntersectionPlan, stage: usize, st: &StageTiming, now: f64) -> f64 {
    let split = plan.splits_s[stage];
    let nominal = split - st.change_s;
    let planned_start = plan.offset_s + plan.splits_s[..stage].iter().sum::<f64>();
    let late = (now - planned_start).rem_euclid(plan.cycle_s);
    let limit = MAX_CORRECTION_SHARE * split;
    let green = if late < 0.01 || plan.cycle_s - late < 0.01 {
        nominal
    } else if late <= plan.cycle_s / 2.0 {
        nominal - late.min(limit).min((nominal - st.min_green_s).max(0.0))
    } else {
        let room = (st.max_green_s.max(nominal) - nominal).max(0.0);
        nominal + (plan.cycle_s - late).min(limit).min(room)
    };
    green.max(st.min_green_s)
}

#[cfg(test)]
mod tests;
