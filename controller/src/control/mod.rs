//! Signal control of a whole site by name: the built-in fixed-time and actuated runners and
//! the plan algorithms. Every one of them drives one `Sequencer` per intersection, so the
//! safety rules are enforced in exactly one place.

use nutgiao_config::Site;
use thiserror::Error;

use crate::plan::CorridorPlan;
use crate::safety::PlanError;
use crate::sequencer::{Mode, Sequencer};
use crate::signal::{DetectorSnapshot, SignalControl, SiteSignals};

/// Names `by_name` accepts besides `fixed:PLAN`.
pub const NAMES: &[&str] = &["actuated", "webster", "scats", "max-pressure", "green-wave", "adaptive"];

#[derive(Debug, Error)]
pub enum ControlError {
    #[error("unknown controller `{name}`; expected fixed:PLAN or one of {}", NAMES.join(", "))]
    UnknownController { name: String },
    #[error("controller `{name}`: the site has no plan `{plan}` (its plans: {known})")]
    UnknownPlan { name: String, plan: String, known: String },
    #[error("controller `{name}`: {source}")]
    Plan {
        name: String,
        #[source]
        source: PlanError,
    },
    #[error(
        "controller `{name}` decides stages, not plans: it runs in-process only (nutgiao simulate), not over Modbus"
    )]
    StageDecisions { name: String },
    #[error("no intersection `{intersection}` in the site")]
    UnknownIntersection { intersection: String },
}

/// The site's plan `plan_name`, asked for as the controller `name` (`fixed:PLAN`).
pub fn site_plan(site: &Site, name: &str, plan_name: &str) -> Result<CorridorPlan, ControlError> {
    CorridorPlan::named(site, plan_name).ok_or_else(|| ControlError::UnknownPlan {
        name: name.to_owned(),
        plan: plan_name.to_owned(),
        known: site.plans.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(", "),
    })
}

/// A `SignalControl` for the site by name: `fixed:PLAN`, `actuated`, or a plan algorithm.
pub fn by_name(site: &Site, name: &str) -> Result<Box<dyn SignalControl>, ControlError> {
    if let Some(plan_name) = name.strip_prefix("fixed:") {
        let plan = site_plan(site, name, plan_name)?;
        return Ok(Box::new(SequencedControl::fixed(site, name, &plan)?));
    }
    match name {
        "actuated" => Ok(Box::new(SequencedControl::uniform(site, name, Mode::Actuated)?)),
        "adaptive" => {
            let algorithm = crate::algorithms::planner(site, "adaptive")?;
            Ok(Box::new(crate::algorithms::PlannedControl::new(site, name, algorithm)?.coordinated()))
        }
        "max-pressure" => Ok(Box::new(crate::algorithms::maxpressure::MaxPressure::new(site)?)),
        _ if NAMES.contains(&name) => {
            let algorithm = crate::algorithms::planner(site, name)?;
            Ok(Box::new(crate::algorithms::PlannedControl::new(site, name, algorithm)?))
        }
        _ => Err(ControlError::UnknownController { name: name.to_owned() }),
    }
}

/// One sequencer per intersection of the site, updated together.
#[derive(Debug, Clone)]
pub struct SequencedControl {
    name: String,
    sequencers: Vec<Sequencer>,
    signals: SiteSignals,
}

impl SequencedControl {
    /// Every intersection in the same mode.
    pub fn uniform(site: &Site, name: &str, mode: Mode) -> Result<SequencedControl, ControlError> {
        let sequencers = site
            .intersections
            .iter()
            .map(|i| Sequencer::new(i, mode.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| ControlError::Plan { name: name.to_owned(), source })?;
        Ok(Self::from_sequencers(name, sequencers))
    }

    /// A corridor plan; intersections the plan does not time run actuated.
    pub fn fixed(site: &Site, name: &str, plan: &CorridorPlan) -> Result<SequencedControl, ControlError> {
        let sequencers = site
            .intersections
            .iter()
            .map(|i| {
                let mode = match plan.for_intersection(&i.id) {
                    Some(p) => Mode::Fixed(p.clone()),
                    None => {
                        tracing::info!(intersection = %i.id, plan = %plan.name, "not timed by the plan: runs actuated");
                        Mode::Actuated
                    }
                };
                Sequencer::new(i, mode)
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| ControlError::Plan { name: name.to_owned(), source })?;
        Ok(Self::from_sequencers(name, sequencers))
    }

    pub fn from_sequencers(name: &str, sequencers: Vec<Sequencer>) -> SequencedControl {
        let signals =
            sequencers.iter().map(|s| (s.intersection().id.clone(), s.states().to_vec())).collect::<SiteSignals>();
        SequencedControl { name: name.to_owned(), sequencers, signals }
    }

    pub fn sequencers(&self) -> &[Sequencer] {
        &self.sequencers
    }

    pub fn sequencers_mut(&mut self) -> &mut [Sequencer] {
        &mut self.sequencers
    }

    /// Advances every sequencer; the signals are returned by `SignalControl::update`.
    pub fn step(&mut self, snapshot: &DetectorSnapshot) {
        for seq in &mut self.sequencers {
            seq.update(snapshot);
            if let Some(out) = self.signals.get_mut(&seq.intersection().id) {
                out.clear();
                out.extend_from_slice(seq.states());
            }
        }
    }

    pub fn signals(&self) -> &SiteSignals {
        &self.signals
    }
}

impl SignalControl for SequencedControl {
    fn name(&self) -> &str {
        &self.name
    }

    fn update(&mut self, snapshot: &DetectorSnapshot) -> &SiteSignals {
        self.step(snapshot);
        &self.signals
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::arterial;

    #[test]
    fn names_resolve_or_fail_clearly() {
        let site = arterial();
        assert_eq!(by_name(&site, "fixed:fixed90").unwrap().name(), "fixed:fixed90");
        assert_eq!(by_name(&site, "actuated").unwrap().name(), "actuated");
        insta::assert_snapshot!(by_name(&site, "fixed:nope").err().unwrap().to_string(),
            @"controller `fixed:nope`: the site has no plan `nope` (its plans: fixed90, webster, webster-coord)");
        insta::assert_snapshot!(by_name(&site, "magic").err().unwrap().to_string(),
            @"unknown controller `magic`; expected fixed:PLAN or one of actuated, webster, scats, max-pressure, green-wave, adaptive");
    }
}
