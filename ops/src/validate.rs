//! An operator's manual plan must pass the same plan validator as every other plan, plus
//! the site's own cycle range, before anything is sent.

use nutgiao_config::Site;
use nutgiao_controller::IntersectionPlan;
use nutgiao_controller::safety::validate_plan;

pub fn check_override(site: &Site, plan: &IntersectionPlan) -> Result<(), String> {
    let inter =
        site.intersection(&plan.intersection).ok_or_else(|| format!("unknown intersection `{}`", plan.intersection))?;
    let c = &site.control;
    if !(plan.cycle_s >= c.min_cycle_s && plan.cycle_s <= c.max_cycle_s) {
        return Err(format!("cycle {} s is outside the site's {}..{} s", plan.cycle_s, c.min_cycle_s, c.max_cycle_s));
    }
    validate_plan(inter, plan).map_err(|e| e.to_string())
}
