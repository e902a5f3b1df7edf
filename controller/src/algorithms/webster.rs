//! Webster's fixed-time plan from measured flows: cycle C = (1.5 L + 5) / (1 - Y), greens
//! in proportion to each stage's critical flow ratio, never below a stage's minimum green.

use nutgiao_config::{Intersection, Site};

use super::flow::{FlowMeter, meters};
use super::{ALGORITHM_PLAN_IDS, PlanAlgorithm, tidy_splits};
use crate::plan::{CorridorPlan, IntersectionPlan, stage_change_interval_s};
use crate::safety::stage_min_green_s;
use crate::signal::DetectorSnapshot;

/// Flow ratio sum above which Webster's formula is capped (oversaturation).
const MAX_Y: f64 = 0.9;
/// How often the plan is recomputed from the flows.
pub const REPLAN_S: f64 = 300.0;
/// Smoothing of successive windows' flows.
const ALPHA: f64 = 0.7;

/// Webster's cycle for lost time `lost_s` and flow ratio sum `y`.
pub fn webster_cycle_s(lost_s: f64, y: f64) -> f64 {
    (1.5 * lost_s + 5.0) / (1.0 - y.min(MAX_Y))
}

/// The plan for one intersection at `cycle_s` (or Webster's own cycle when `None`).
pub fn plan_for(site: &Site, inter: &Intersection, y: &[f64], cycle_s: Option<f64>, plan_id: u16) -> IntersectionPlan {
    let n = inter.stages.len();
    let change: Vec<f64> = (0..n).map(|s| stage_change_interval_s(inter, s)).collect();
    let min_g: Vec<f64> = (0..n).map(|s| stage_min_green_s(inter, s)).collect();
    let lost: f64 = change.iter().sum();
    let y_sum: f64 = y.iter().sum();
    let (lo, hi) = (site.control.min_cycle_s, site.control.max_cycle_s);
    let slack = 0.1 * n as f64;
    let floor = lost + min_g.iter().sum::<f64>() + slack;
    let cycle = cycle_s.unwrap_or_else(|| webster_cycle_s(lost, y_sum).clamp(lo, hi)).max(floor).round();
    let greens = share_greens(cycle - lost - slack, y, &min_g);
    let splits: Vec<f64> = greens.iter().zip(&change).map(|(g, c)| g + c).collect();
    IntersectionPlan {
        plan_id,
        intersection: inter.id.clone(),
        cycle_s: cycle,
        offset_s: 0.0,
        splits_s: tidy_splits(cycle, &splits),
    }
}

/// Splits `green_s` in proportion to `y`, with every stage at least its minimum.
pub fn share_greens(green_s: f64, y: &[f64], min_g: &[f64]) -> Vec<f64> {
    let n = y.len();
    let weights: Vec<f64> = if y.iter().sum::<f64>() > 1e-9 { y.to_vec() } else { vec![1.0; n] };
    let mut fixed = vec![false; n];
    let mut g = vec![0.0; n];
    for _ in 0..n {
        let free_green = green_s - (0..n).filter(|&i| fixed[i]).map(|i| min_g[i]).sum::<f64>();
        let free_w: f64 = (0..n).filter(|&i| !fixed[i]).map(|i| weights[i]).sum();
        let mut changed = false;
        for i in 0..n {
            if fixed[i] {
                g[i] = min_g[i];
                continue;
            }
            g[i] = if free_w > 0.0 { free_green * weights[i] / free_w } else { free_green / n as f64 };
            if g[i] < min_g[i] {
                fixed[i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    g.iter().zip(min_g).map(|(g, m)| g.max(*m)).collect()
}

pub struct Webster {
    meters: Vec<(String, FlowMeter)>,
    next_plan_s: f64,
    plan_id: u16,
}

impl Webster {
    pub fn new(site: &Site) -> Webster {
        Webster { meters: meters(site), next_plan_s: 0.0, plan_id: ALGORITHM_PLAN_IDS }
    }

    /// Measures; `Some(y per intersection)` when it is time for a new plan.
    pub(crate) fn measure(&mut self, site: &Site, snap: &DetectorSnapshot, every_s: f64) -> Option<Vec<Vec<f64>>> {
        if snap.now_s + 1e-9 < self.next_plan_s {
            return None;
        }
        let first = self.next_plan_s == 0.0;
        for (_, m) in &mut self.meters {
            m.close_window(snap, site.control.saturation_flow_vph, 1.0, ALPHA);
        }
        // The first plan comes from a short window, then every `every_s`.
        self.next_plan_s = if first { snap.now_s + 120.0 } else { snap.now_s + every_s };
        self.plan_id = super::next_plan_id(self.plan_id);
        Some(self.meters.iter().map(|(_, m)| m.y.clone()).collect())
    }

    pub(crate) fn plan_id(&self) -> u16 {
        self.plan_id
    }
}

impl PlanAlgorithm for Webster {
    fn name(&self) -> &str {
        "webster"
    }

    fn observe(&mut self, site: &Site, snap: &DetectorSnapshot) -> Option<CorridorPlan> {
        let ys = self.measure(site, snap, REPLAN_S)?;
        let intersections =
            site.intersections.iter().zip(&ys).map(|(inter, y)| plan_for(site, inter, y, None, self.plan_id)).collect();
        Some(CorridorPlan { name: format!("webster-{}", self.plan_id), intersections })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::validate_plan;
    use crate::testing::arterial;
    use proptest::prelude::*;

    #[test]
    fn arterial_flows_give_a_short_cycle_favouring_the_arterial() {
        let site = arterial();
        let j1 = site.intersection("J1").unwrap();
        // 800 veh/h over two arterial lanes plus turning-in side traffic; 250 veh/h per side lane.
        let p = plan_for(&site, j1, &[500.0 / 1800.0, 250.0 / 1800.0], None, 100);
        validate_plan(j1, &p).unwrap();
        assert!(p.cycle_s >= 40.0 && p.cycle_s <= 50.0, "{p:?}");
        assert!(p.splits_s[0] > p.splits_s[1], "{p:?}");
    }

    proptest! {
        #[test]
        fn any_flows_give_a_valid_plan(y0 in 0.0f64..2.0, y1 in 0.0f64..2.0, c in proptest::option::of(20.0f64..200.0)) {
            let site = arterial();
            for inter in &site.intersections {
                let p = plan_for(&site, inter, &[y0, y1], c, 101);
                prop_assert!(validate_plan(inter, &p).is_ok(), "{:?} {:?}", p, validate_plan(inter, &p));
            }
        }
    }
}
