//! The plan validator: every timing plan, wherever it came from (a site file, an algorithm,
//! a Modbus write), passes through here before a sequencer may run it. Nothing is clamped or
//! repaired: a plan that breaks a limit is refused with the reason.

use nutgiao_config::Intersection;
use thiserror::Error;

use crate::plan::{IntersectionPlan, stage_change_interval_s};

/// Tolerance on "splits add up to the cycle": one count of the 0.1 s register unit, halved.
pub const SPLIT_SUM_TOLERANCE_S: f64 = 0.05;
/// Shortest and longest cycle any plan may have, whatever the site says.
pub const CYCLE_RANGE_S: (f64, f64) = (20.0, 240.0);

/// Why a plan was refused. `fault_code` is what a field controller shows in its status.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error("plan {plan_id} is for intersection `{got}`, not `{expected}`")]
    WrongIntersection { plan_id: u16, expected: String, got: String },
    #[error("plan {plan_id} for {intersection}: cycle {cycle_s} s is outside {}..{} s", CYCLE_RANGE_S.0, CYCLE_RANGE_S.1)]
    Cycle { plan_id: u16, intersection: String, cycle_s: f64 },
    #[error("plan {plan_id} for {intersection}: offset {offset_s} s must be within 0..cycle ({cycle_s} s)")]
    Offset { plan_id: u16, intersection: String, offset_s: f64, cycle_s: f64 },
    #[error("plan {plan_id} for {intersection}: {splits} splits for {stages} stages")]
    StageCount { plan_id: u16, intersection: String, splits: usize, stages: usize },
    #[error("plan {plan_id} for {intersection}: splits add up to {total_s:.2} s, not the cycle {cycle_s} s")]
    SplitSum { plan_id: u16, intersection: String, total_s: f64, cycle_s: f64 },
    #[error(
        "plan {plan_id} for {intersection}: stage {stage} split {split_s} s leaves {green_s:.1} s of green, below the minimum {min_green_s} s"
    )]
    GreenBelowMinimum { plan_id: u16, intersection: String, stage: usize, split_s: f64, green_s: f64, min_green_s: f64 },
}

impl PlanError {
    /// The number a field controller puts in its fault-code register (see docs/modbus.md).
    pub fn fault_code(&self) -> u16 {
        match self {
            PlanError::WrongIntersection { .. } => 1,
            PlanError::Cycle { .. } => 2,
            PlanError::Offset { .. } => 3,
            PlanError::StageCount { .. } => 4,
            PlanError::SplitSum { .. } => 5,
            PlanError::GreenBelowMinimum { .. } => 6,
        }
    }
}

/// Minimum green of a stage: every phase it serves must get its own minimum and its
/// pedestrian clearance.
pub fn stage_min_green_s(inter: &Intersection, stage: usize) -> f64 {
    inter.stages.get(stage).map_or(0.0, |phases| {
        phases
            .iter()
            .filter_map(|id| inter.phases.iter().find(|p| p.id == *id))
            .map(|p| p.min_green_s.max(p.pedestrian_clearance_s.unwrap_or(0.0)))
            .fold(0.0, f64::max)
    })
}

/// Maximum green of a stage for actuation: the longest of its phases' maxima, never below
/// its minimum.
pub fn stage_max_green_s(inter: &Intersection, stage: usize) -> f64 {
    let max = inter.stages.get(stage).map_or(0.0, |phases| {
        phases
            .iter()
            .filter_map(|id| inter.phases.iter().find(|p| p.id == *id))
            .map(|p| p.max_green_s)
            .fold(0.0, f64::max)
    });
    max.max(stage_min_green_s(inter, stage))
}

/// Checks one intersection's plan against the site's safety limits.
pub fn validate_plan(inter: &Intersection, plan: &IntersectionPlan) -> Result<(), PlanError> {
    let id = plan.plan_id;
    let name = || inter.id.clone();
    if plan.intersection != inter.id {
        return Err(PlanError::WrongIntersection { plan_id: id, expected: name(), got: plan.intersection.clone() });
    }
    if !(plan.cycle_s.is_finite() && plan.cycle_s >= CYCLE_RANGE_S.0 && plan.cycle_s <= CYCLE_RANGE_S.1) {
        return Err(PlanError::Cycle { plan_id: id, intersection: name(), cycle_s: plan.cycle_s });
    }
    if !(plan.offset_s.is_finite() && plan.offset_s >= 0.0 && plan.offset_s < plan.cycle_s) {
        return Err(PlanError::Offset {
            plan_id: id,
            intersection: name(),
            offset_s: plan.offset_s,
            cycle_s: plan.cycle_s,
        });
    }
    if plan.splits_s.len() != inter.stages.len() {
        return Err(PlanError::StageCount {
            plan_id: id,
            intersection: name(),
            splits: plan.splits_s.len(),
            stages: inter.stages.len(),
        });
    }
    let total: f64 = plan.splits_s.iter().sum();
    if !total.is_finite() || (total - plan.cycle_s).abs() > SPLIT_SUM_TOLERANCE_S {
        return Err(PlanError::SplitSum { plan_id: id, intersection: name(), total_s: total, cycle_s: plan.cycle_s });
    }
    for (s, split) in plan.splits_s.iter().enumerate() {
        let min_green = stage_min_green_s(inter, s);
        let green = split - stage_change_interval_s(inter, s);
        if green.is_nan() || green + 1e-9 < min_green {
            return Err(PlanError::GreenBelowMinimum {
                plan_id: id,
                intersection: name(),
                stage: s + 1,
                split_s: *split,
                green_s: green,
                min_green_s: min_green,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::arterial;

    fn plan(splits: Vec<f64>) -> IntersectionPlan {
        IntersectionPlan {
            plan_id: 7,
            intersection: "J1".into(),
            cycle_s: splits.iter().sum(),
            offset_s: 0.0,
            splits_s: splits,
        }
    }

    #[test]
    fn accepts_the_site_plans() {
        let site = arterial();
        for p in &site.plans {
            let cp = crate::CorridorPlan::from_site(p, 1);
            for ip in &cp.intersections {
                validate_plan(site.intersection(&ip.intersection).unwrap(), ip).unwrap();
            }
        }
    }

    #[test]
    fn refusals_name_the_cause() {
        let site = arterial();
        let j1 = site.intersection("J1").unwrap();
        let short = validate_plan(j1, &plan(vec![40.0, 9.0])).unwrap_err();
        assert_eq!(short.fault_code(), 6);
        insta::assert_snapshot!(short.to_string(), @"plan 7 for J1: stage 2 split 9 s leaves 3.5 s of green, below the minimum 5 s");
        let mut p = plan(vec![40.0, 40.0]);
        p.cycle_s = 90.0;
        insta::assert_snapshot!(validate_plan(j1, &p).unwrap_err().to_string(), @"plan 7 for J1: splits add up to 80.00 s, not the cycle 90 s");
        let mut p = plan(vec![40.0, 40.0]);
        p.offset_s = 80.0;
        assert_eq!(validate_plan(j1, &p).unwrap_err().fault_code(), 3);
        let p = plan(vec![40.0, 40.0, 10.0]);
        assert_eq!(validate_plan(j1, &p).unwrap_err().fault_code(), 4);
        let mut p = plan(vec![40.0, 40.0]);
        p.cycle_s = f64::NAN;
        assert_eq!(validate_plan(j1, &p).unwrap_err().fault_code(), 2);
    }
}
