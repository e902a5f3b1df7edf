//! Timing plans as the controller computes and sends them, independent of where they came
//! from (a site file's `[[plan]]`, an algorithm, or a field controller's registers).

use serde::{Deserialize, Serialize};

use nutgiao_config::{Intersection, Plan, Site};

/// Set in `IntersectionPlan::plan_id` for a plan run actuated-coordinated (register map
/// v1.1, docs/modbus.md: bit 15 of PLAN_ID). The flag lives in the plan number rather than a
/// field of its own so that it travels wherever a plan does (the central controller, the
/// operators' overrides, the plan block and its checksum, the status register), and so that a
/// map v1.0 cabinet, which never looks at the bit, runs the plan fixed-time as before.
pub const ACTUATED_COORDINATED: u16 = 0x8000;

/// How a field controller runs a plan's cycle, offset and splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coordination {
    /// Every stage gets its split.
    FixedTime,
    /// Side stages gap out and the first (coordinated) stage takes the slack up to its yield
    /// point (`sequencer::Mode::Coordinated`).
    ActuatedCoordinated,
}

/// The timing of one intersection: a cycle split into its stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntersectionPlan {
    /// Plan number (as carried in the field controller's registers), with
    /// `ACTUATED_COORDINATED` set for a plan run actuated-coordinated.
    pub plan_id: u16,
    pub intersection: String,
    pub cycle_s: f64,
    /// Start of the first stage's green relative to the corridor's cycle reference.
    pub offset_s: f64,
    /// Split per stage, in the intersection's stage order: green plus its change and
    /// clearance intervals. The splits add up to the cycle.
    pub splits_s: Vec<f64>,
}

impl IntersectionPlan {
    pub fn coordination(&self) -> Coordination {
        if self.plan_id & ACTUATED_COORDINATED != 0 {
            Coordination::ActuatedCoordinated
        } else {
            Coordination::FixedTime
        }
    }

    /// The plan number without the coordination flag.
    pub fn number(&self) -> u16 {
        self.plan_id & !ACTUATED_COORDINATED
    }

    pub fn with_coordination(mut self, c: Coordination) -> IntersectionPlan {
        self.plan_id = match c {
            Coordination::FixedTime => self.number(),
            Coordination::ActuatedCoordinated => self.number() | ACTUATED_COORDINATED,
        };
        self
    }
}

/// A plan for a whole corridor (or the part of it that a plan names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorridorPlan {
    pub name: String,
    pub intersections: Vec<IntersectionPlan>,
}

impl CorridorPlan {
    /// A site file's fixed plan; `plan_id` numbers it for the field controllers.
    pub fn from_site(plan: &Plan, plan_id: u16) -> CorridorPlan {
        CorridorPlan {
            name: plan.id.clone(),
            intersections: plan
                .timings
                .iter()
                .map(|t| IntersectionPlan {
                    plan_id,
                    intersection: t.intersection.clone(),
                    cycle_s: plan.cycle_s,
                    offset_s: t.offset_s,
                    splits_s: t.splits_s.clone(),
                })
                .collect(),
        }
    }

    /// A named plan of the site (`fixed90`, or `fixed:fixed90`).
    pub fn named(site: &Site, name: &str) -> Option<CorridorPlan> {
        let id = name.strip_prefix("fixed:").unwrap_or(name);
        let idx = site.plans.iter().position(|p| p.id == id)?;
        Some(CorridorPlan::from_site(&site.plans[idx], u16::try_from(idx + 1).unwrap_or(u16::MAX)))
    }

    pub fn for_intersection(&self, id: &str) -> Option<&IntersectionPlan> {
        self.intersections.iter().find(|p| p.intersection == id)
    }
}

/// The change interval (yellow + red clearance) that ends a stage: the longest of the
/// phases it serves, because every one of them must complete its own.
pub fn stage_change_interval_s(inter: &Intersection, stage: usize) -> f64 {
    inter.stages.get(stage).map_or(0.0, |phases| {
        phases
            .iter()
            .filter_map(|id| inter.phases.iter().find(|p| p.id == *id))
            .map(|p| p.yellow_s + p.red_clearance_s)
            .fold(0.0, f64::max)
    })
}
