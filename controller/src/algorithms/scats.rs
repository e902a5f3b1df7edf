//! SCATS-like cycle-by-cycle balancing: every cycle, each stage's degree of saturation
//! DS = q / (s g / C) is measured; the common cycle grows when the worst DS is high and
//! shrinks when it is low, and splits move a few seconds per cycle towards equal DS.
//! Offsets keep the corridor's two-way green wave (SCATS "linking").

use nutgiao_config::Site;

use super::flow::{FlowMeter, meters};
use super::greenwave::two_way_offsets;
use super::webster::share_greens;
use super::{ALGORITHM_PLAN_IDS, PlanAlgorithm, tidy_splits};
use crate::plan::{CorridorPlan, IntersectionPlan, stage_change_interval_s};
use crate::safety::stage_min_green_s;
use crate::signal::DetectorSnapshot;

const DS_HIGH: f64 = 0.9;
const DS_LOW: f64 = 0.7;
const CYCLE_STEP_S: f64 = 4.0;
/// Most a split moves per cycle.
const SPLIT_STEP_S: f64 = 4.0;

pub struct Scats {
    meters: Vec<(String, FlowMeter)>,
    cycle_s: f64,
    greens: Vec<Vec<f64>>,
    next_s: f64,
    plan_id: u16,
}

impl Scats {
    pub fn new(site: &Site) -> Scats {
        Scats {
            meters: meters(site),
            cycle_s: site.control.min_cycle_s.max(60.0).min(site.control.max_cycle_s),
            greens: Vec::new(),
            next_s: 0.0,
            plan_id: ALGORITHM_PLAN_IDS,
        }
    }
}

impl PlanAlgorithm for Scats {
    fn name(&self) -> &str {
        "scats"
    }

    fn observe(&mut self, site: &Site, snap: &DetectorSnapshot) -> Option<CorridorPlan> {
        if snap.now_s + 1e-9 < self.next_s {
            return None;
        }
        let first = self.greens.is_empty();
        let sat = site.control.saturation_flow_vph;
        let mut worst: f64 = 0.0;
        let mut targets = Vec::new();
        for (k, inter) in site.intersections.iter().enumerate() {
            let n = inter.stages.len();
            let change: Vec<f64> = (0..n).map(|s| stage_change_interval_s(inter, s)).collect();
            let min_g: Vec<f64> = (0..n).map(|s| stage_min_green_s(inter, s)).collect();
            let lost: f64 = change.iter().sum();
            let meter = &mut self.meters[k].1;
            meter.close_window(snap, sat, 1.0, 0.5);
            if first {
                self.greens.push(share_greens(self.cycle_s - lost - 0.1 * n as f64, &vec![1.0; n], &min_g));
                continue;
            }
            let g = &self.greens[k];
            for (g, q) in g.iter().zip(&meter.q_vph) {
                let cap = sat * g / self.cycle_s;
                if cap > 0.0 {
                    worst = worst.max(q / cap);
                }
            }
            targets.push((meter.y.clone(), min_g, lost));
        }
        if !first {
            let lo = site.control.min_cycle_s;
            let hi = site.control.max_cycle_s;
            if worst > DS_HIGH {
                self.cycle_s = (self.cycle_s + CYCLE_STEP_S).min(hi);
            } else if worst < DS_LOW {
                self.cycle_s = (self.cycle_s - CYCLE_STEP_S).max(lo);
            }
            for (k, (y, min_g, lost)) in targets.into_iter().enumerate() {
                let n = y.len();
                let budget = self.cycle_s - lost - 0.1 * n as f64;
                let target = share_greens(budget, &y, &min_g);
                let moved: Vec<f64> = self.greens[k]
                    .iter()
                    .zip(&target)
                    .map(|(g, t)| g + (t - g).clamp(-SPLIT_STEP_S, SPLIT_STEP_S))
                    .collect();
                // Rescale the moved greens to the budget, then floor them at their minimum.
                let total: f64 = moved.iter().sum();
                let weights: Vec<f64> = moved.iter().map(|g| g / total.max(1e-9)).collect();
                self.greens[k] = share_greens(budget, &weights, &min_g);
            }
        }
        // A minimum-green floor can exceed the budget: the cycle must then grow.
        let need = site
            .intersections
            .iter()
            .zip(&self.greens)
            .map(|(inter, g)| {
                let n = inter.stages.len();
                g.iter().sum::<f64>() + (0..n).map(|s| stage_change_interval_s(inter, s)).sum::<f64>() + 0.1 * n as f64
            })
            .fold(0.0, f64::max);
        self.cycle_s = self.cycle_s.max(need.ceil());
        self.plan_id = super::next_plan_id(self.plan_id);
        let offsets = two_way_offsets(site, self.cycle_s);
        let intersections = site
            .intersections
            .iter()
            .zip(&self.greens)
            .zip(offsets)
            .map(|((inter, g), offset_s)| {
                let splits: Vec<f64> =
                    g.iter().enumerate().map(|(s, g)| g + stage_change_interval_s(inter, s)).collect();
                IntersectionPlan {
                    plan_id: self.plan_id,
                    intersection: inter.id.clone(),
                    cycle_s: self.cycle_s,
                    offset_s,
                    splits_s: tidy_splits(self.cycle_s, &splits),
                }
            })
            .collect();
        self.next_s = snap.now_s + self.cycle_s;
        Some(CorridorPlan { name: format!("scats-{}", self.plan_id), intersections })
    }
}
