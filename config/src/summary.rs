//! The one-screen summary that `nutgiao check` prints for a valid site.

use std::fmt::Write;

use crate::model::Site;

impl Site {
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let lanes: u32 = self.links.iter().map(|l| u32::from(l.lanes)).sum();
        let demand: f64 = self.demand.flows.iter().map(|f| f.vehicles_per_hour).sum();
        let _ = writeln!(s, "site {}: {}", self.site.name, self.site.description);
        let _ = writeln!(
            s,
            "  {} intersections, {} links ({lanes} lanes), {} boundary nodes, {} cameras, {} plans",
            self.intersections.len(),
            self.links.len(),
            self.nodes.len(),
            self.cameras.len(),
            self.plans.len()
        );
        for i in &self.intersections {
            let approaches: Vec<String> = i
                .approaches
                .iter()
                .map(|a| {
                    let bound = self.link(&a.link).map(|l| self.link_bound(l).as_str()).unwrap_or("?");
                    format!("{} ({bound}, {} lanes)", a.id, a.lanes.len())
                })
                .collect();
            let _ = writeln!(s, "  {} {}: {}", i.id, i.name, approaches.join(", "));
            let stages: Vec<String> =
                i.stages.iter().map(|st| st.iter().map(u8::to_string).collect::<Vec<_>>().join("+")).collect();
            let _ = writeln!(s, "    stages {}", stages.join(" -> "));
            for p in &i.phases {
                let _ = writeln!(
                    s,
                    "    phase {:>2} {:<18} green {:>4.1}..{:>5.1} s, yellow {:.1} s, red {:.1} s, {} movements",
                    p.id,
                    p.name,
                    p.min_green_s,
                    p.max_green_s,
                    p.yellow_s,
                    p.red_clearance_s,
                    p.movements.len()
                );
            }
            if let Some(fc) = &i.field_controller {
                let _ = writeln!(
                    s,
                    "    field controller modbus://{} unit {}, local plan {}",
                    fc.address, fc.unit_id, fc.local_plan
                );
            }
            if !i.detectors.is_empty() {
                let _ = writeln!(s, "    {} detectors", i.detectors.len());
            }
        }
        for c in &self.cameras {
            let _ = writeln!(
                s,
                "  camera {} at {}: {}x{} @ {} fps, {} lines, {} zones, {}",
                c.id,
                c.intersection,
                c.resolution[0],
                c.resolution[1],
                c.fps,
                c.lines.len(),
                c.zones.len(),
                c.uri
            );
        }
        for p in &self.plans {
            let _ = writeln!(
                s,
                "  plan {}: cycle {} s, {} intersections{}",
                p.id,
                p.cycle_s,
                p.timings.len(),
                describe(&p.description)
            );
        }
        let _ = writeln!(
            s,
            "  demand: {} flows, {demand:.0} veh/h for {} s; control: {}",
            self.demand.flows.len(),
            self.demand.duration_s,
            self.control.algorithm
        );
        s
    }
}

fn describe(d: &str) -> String {
    if d.is_empty() { String::new() } else { format!(" ({d})") }
}
