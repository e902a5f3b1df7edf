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
/// control_delay` runs every algorithm on the reference arterial (3600 s, 5 seeds). On the
/// simulator as of this writing, fully actuated control (gap-out on the advance loops,
/// max-out, skipping uncalled stages) had the lowest mean time loss of all, well below the
/// Webster plans with or without green-wave offsets, SCATS-like balancing and max-pressure:
/// with demand that fluctuates cycle by cycle (Poisson arrivals, 500 veh/h of side traffic
/// per junction) reacting to each gap beats any plan recomputed from averaged flows. So
/// `adaptive` runs the actuated sequencers in-process, and over Modbus it leaves the
/// cabinets on their local actuation (heartbeats and monitoring only) until the operators
/// or the fallback send a plan.
pub const ADAPTIVE: &str = "actuated";

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
        let plan = CorridorPlan::named(site, plan_name).ok_or_else(|| ControlError::UnknownPlan {
            name: name.to_owned(),
            plan: plan_name.to_owned(),
            known: site.plans.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", "),
        })?;
        return Ok(Box::new(FixedPlan { name: name.to_owned(), plan: Some(plan) }));
    }
    Ok(match name {
        "actuated" => Box::new(LocalActuation("actuated")),
        // See ADAPTIVE: the measured best is the cabinets' own actuation.
        "adaptive" => Box::new(LocalActuation("adaptive")),
        "webster" => Box::new(webster::Webster::new(site)),
        "green-wave" => Box::new(greenwave::GreenWave::new(site, name)),
        "scats" => Box::new(scats::Scats::new(site)),
        "max-pressure" => return Err(ControlError::StageDecisions { name: name.to_owned() }),
        _ => return Err(ControlError::UnknownController { name: name.to_owned() }),
    })
}

/// A plan algorithm run in-process over the site's sequencers. Until its first plan the
/// sequencers run actuated.
pub struct PlannedControl {
    name: String,
    site: Site,
    algorithm: Box<dyn PlanAlgorithm>,
    inner: SequencedControl,
}

impl PlannedControl {
    pub fn new(site: &Site, name: &str, algorithm: Box<dyn PlanAlgorithm>) -> Result<PlannedControl, ControlError> {
        Ok(PlannedControl {
            name: name.to_owned(),
            site: site.clone(),
            algorithm,
            inner: SequencedControl::uniform(site, name, Mode::Actuated)?,
        })
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
                    && let Err(e) = seq.set_mode(Mode::Fixed(p.clone()))
                {
                    tracing::error!("{}: plan refused, the previous one keeps running: {e}", self.name);
                }
            }
        }
        self.inner.update(snapshot)
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
