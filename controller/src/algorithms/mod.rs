//! Plan algorithms, each behind `PlanAlgorithm`: they read detector snapshots and propose
//! corridor plans. They never touch the signals: every plan goes through `validate_plan` and
//! a `Sequencer`, in-process (`PlannedControl`) or in the field controllers (via Modbus).
//!
//! Max-pressure is the exception that proves the rule: it decides stages, not plans, so it
//! drives the sequencers in `Mode::Directed` (in-process only) and the sequencer still holds
//! every minimum green, yellow and red clearance.

pub mod flow;
pub mod greenwave;
pub mod maxpressure;
pub mod scats;
pub mod webster;

use nutgiao_config::Site;

use crate::control::{ControlError, SequencedControl};
use crate::plan::CorridorPlan;
use crate::sequencer::Mode;
use crate::signal::{DetectorSnapshot, SignalControl, SiteSignals};

/// What `adaptive` (the default) is, chosen by measurement: `cargo bench --bench
/// control_delay` runs every algorithm on the reference arterial (3600 s, step 1 s, seeds
/// 1..5; 2026-12-02). The lowest mean time loss comes from the green-wave plans run
/// actuated-coordinated: 24.9 s (26.1 s before the arterial hold below, 25.4 s before the
/// side stages served the vehicles between their loops), against 27.7 s for
/// the same plans fixed-time, 30.0 s fully actuated (with gap reduction; 35.2 s without),
/// 30.7 s for SUMO's Webster + offsets plan, 33.2 s for SCATS-like balancing, 35.7 s for
/// max-pressure (with its switching margin; 56.3 s without) and 53.7 s for the 90 s fixed
/// plan. That is 46 % of the fixed plan: the target (at most 45 %, 24.2 s) is missed by
/// 0.7 s.
///
/// The plans: one common cycle, Webster's from the measured flows but the two-way
/// progression cycle when that is longer or Webster's is at most 10 % longer (45 s here:
/// 285.6 m at 50 km/h plus 2 s start-up, twice), the same Webster splits at every
/// intersection (from the corridor's highest flow ratio per stage), alternating offsets.
/// Actuated-coordinated (`Mode::Coordinated`): side stages gap out and the arterial takes the
/// slack up to its yield point, and past it by up to 6 s while a platoon's tail still arrives
/// on the advance loops (at the ends of the corridor only the platoons from the next signal
/// hold it, not the entry approach's random arrivals); a side stage ends once the vehicles
/// counted onto its approach have crossed its stop line (and no vehicle within 1 s); a side
/// stage still in use may run on into the arterial's green by a bounded share, because a split from counts does not know how fast a side lane discharges
/// (in SUMO far below 1800 veh/h: waiting permitted lefts block the one lane). In SUMO
/// (`benches/sumo_control.py`, docs/sumo.md) this is 24.4 s on the base demand (delay_based
/// 20.1 s) and 43.5 s on the peak (delay_based 25.7 s): at 1 s steps our yellow and red
/// clearances cost 12 s a cycle against SUMO's 6 s.
///
/// Over Modbus `adaptive` sends the same green-wave plans flagged actuated-coordinated
/// (`plan::ACTUATED_COORDINATED`, register map v1.1, docs/modbus.md), and the cabinets run
/// them in `Mode::Coordinated` on their own detectors; a map v1.0 cabinet runs them
/// fixed-time. `green-wave` sends them unflagged, fixed-time. Measured over real Modbus on
/// loopback (`nutgiao field --simulate` + `nutgiao control --controller adaptive`, 600 s in
/// real time, step 0.5 s, seeds 1..12; 2026-12-01): 24.8 s mean time loss flagged against
/// 24.2 s before the flag (difference +0.6 s, standard error 0.4 s; stops 0.84 against 0.78),
/// so the field does not yet show the in-process gain; in-process at the same step and length
/// (seeds 1..5) it is 22.8 s against 23.6 s, and only 0.2 s over 1800 s.
pub const ADAPTIVE: &str = "green-wave, actuated-coordinated";

/// First plan id the algorithms number their plans from (site plans use 1..).
pub const ALGORITHM_PLAN_IDS: u16 = 100;

pub trait PlanAlgorithm: Send {
    fn name(&self) -> &str;

    /// Does the algorithm need fresh detector data? (A fixed plan does not.)
    fn needs_detectors(&self) -> bool {
        true
    }

    /// Sees one snapshot; returns a new corridor plan when it wants one sent.
    fn observe(&mut self, site: &Site, snap: &DetectorSnapshot) -> Option<CorridorPlan>;
}

/// A site plan, sent once.
pub struct FixedPlan {
    name: String,
    plan: Option<CorridorPlan>,
}

impl PlanAlgorithm for FixedPlan {
    fn name(&self) -> &str {
        &self.name
    }
    fn needs_detectors(&self) -> bool {
        false
    }
    fn observe(&mut self, _: &Site, _: &DetectorSnapshot) -> Option<CorridorPlan> {
        self.plan.take()
    }
}

/// No central plan: the field controllers run their local actuation.
pub struct LocalActuation(&'static str);

impl PlanAlgorithm for LocalActuation {
    fn name(&self) -> &str {
        self.0
    }
    fn needs_detectors(&self) -> bool {
        false
    }
    fn observe(&mut self, _: &Site, _: &DetectorSnapshot) -> Option<CorridorPlan> {
        None
    }
}

/// The plan algorithm for a name, for the central controller (plans over Modbus).
pub fn planner(site: &Site, name: &str) -> Result<Box<dyn PlanAlgorithm>, ControlError> {
    if let Some(plan_name) = name.strip_prefix("fixed:") {
        let plan = crate::control::site_plan(site, name, plan_name)?;
        return Ok(Box::new(FixedPlan { name: name.to_owned(), plan: Some(plan) }));
    }
    Ok(match name {
        "actuated" => Box::new(LocalActuation("actuated")),
        "webster" => Box::new(webster::Webster::new(site)),
        // See ADAPTIVE.
        "green-wave" => Box::new(greenwave::GreenWave::new(site, name)),
        "adaptive" => Box::new(greenwave::GreenWave::new(site, name).actuated_coordinated()),
        "scats" => Box::new(scats::Scats::new(site)),
        "max-pressure" => return Err(ControlError::StageDecisions { name: name.to_owned() }),
        _ => return Err(ControlError::UnknownController { name: name.to_owned() }),
    })
}

/// A plan algorithm run in-process over the site's sequencers. Until its first plan the
/// sequencers run actuated.
pub struct PlannedControl {
    name: String,
    /// Run the plans actuated-coordinated (side stages gap out) rather than fixed.
    coordinated: bool,
    site: Site,
    algorithm: Box<dyn PlanAlgorithm>,
    inner: SequencedControl,
}

impl PlannedControl {
    pub fn new(site: &Site, name: &str, algorithm: Box<dyn PlanAlgorithm>) -> Result<PlannedControl, ControlError> {
        Ok(PlannedControl {
            coordinated: false,
            name: name.to_owned(),
            site: site.clone(),
            algorithm,
            inner: SequencedControl::uniform(site, name, Mode::Actuated)?,
        })
    }
}

impl PlannedControl {
    /// Plans run actuated-coordinated: see `Mode::Coordinated`.
    pub fn coordinated(mut self) -> PlannedControl {
        self.coordinated = true;
        for seq in self.inner.sequencers_mut() {
            let phases = greenwave::platoon_phases(&self.site, seq.intersection());
            seq.set_platoon_phases(&phases);
        }
        self
    }
}

impl SignalControl for PlannedControl {
    fn name(&self) -> &str {
        &self.name
    }

    fn update(&mut self, snapshot: &DetectorSnapshot) -> &SiteSignals {
        if let Some(plan) = self.algorithm.observe(&self.site, snapshot) {
            for seq in self.inner.sequencers_mut() {
                if let Some(p) = plan.for_intersection(&seq.intersection().id)
                    && let Err(e) = seq.set_mode(if self.coordinated {
                        Mode::Coordinated(p.clone())
                    } else {
                        Mode::for_plan(p.clone())
                    })
                {
                    tracing::error!("{}: plan refused, the previous one keeps running: {e}", self.name);
                }
            }
        }
        self.inner.update(snapshot)
    }
}

/// The plan id after `id`: algorithm plans are numbered from `ALGORITHM_PLAN_IDS` and wrap
/// before they reach the coordination flag bit.
pub(crate) fn next_plan_id(id: u16) -> u16 {
    match id.checked_add(1) {
        Some(n) if n >= ALGORITHM_PLAN_IDS && n & crate::plan::ACTUATED_COORDINATED == 0 => n,
        _ => ALGORITHM_PLAN_IDS,
    }
}

/// Rounds splits up to 0.1 s (the register unit) and gives the last stage what is left of
/// the cycle, so that they add up exactly; callers leave 0.1 s per stage of slack so that no
/// green drops below its minimum.
pub(crate) fn tidy_splits(cycle_s: f64, splits: &[f64]) -> Vec<f64> {
    let mut out: Vec<f64> = splits.iter().map(|s| ((s * 10.0) - 1e-6).ceil() / 10.0).collect();
    if let Some(last) = out.len().checked_sub(1) {
        let rest: f64 = out[..last].iter().sum();
        out[last] = ((cycle_s - rest) * 10.0).round() / 10.0;
    }
    out
}
