//! Property tests of the validator: it accepts exactly the timings that meet the safety
//! floors, never greens conflicting phases together, and never panics on damaged input.

use std::path::Path;

use nutgiao_config::topology::{ite_red_clearance_s, ite_yellow_s, kmh_to_ms};
use nutgiao_config::{Site, parse};
use proptest::prelude::*;

fn minimal_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minimal.toml")).unwrap()
}

fn minimal() -> Site {
    parse(&minimal_text(), "minimal.toml").unwrap()
}

fn reparse(site: &Site) -> Result<Site, nutgiao_config::ConfigError> {
    parse(&toml::to_string(site).unwrap(), "generated.toml")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Phase 2 serves a 50 km/h approach 14.4 m across: the validator must accept its timing
    /// exactly when min green >= 4 s, yellow >= the ITE interval and red >= (W + L) / v.
    #[test]
    fn phase_timing_is_accepted_iff_it_meets_the_floors(
        min_green in 0.0f64..12.0, yellow in 0.0f64..6.0, red in 0.0f64..4.0,
    ) {
        let (min_green, yellow, red) = ((min_green * 10.0).round() / 10.0, (yellow * 10.0).round() / 10.0, (red * 10.0).round() / 10.0);
        let mut site = minimal();
        let phase = &mut site.intersections[0].phases[0];
        phase.min_green_s = min_green;
        phase.yellow_s = yellow;
        phase.red_clearance_s = red;
        let v = kmh_to_ms(50.0);
        let yellow_floor = (ite_yellow_s(v) * 10.0).ceil() / 10.0;
        let red_floor = (ite_red_clearance_s(14.4, v) * 10.0).ceil() / 10.0;
        // The fixed plan's 35 s stage split leaves at least 25 s of green for any timing drawn
        // here, so the plan never hides the phase's own verdict.
        let safe = min_green >= 4.0 && yellow + 1e-9 >= yellow_floor && red + 1e-9 >= red_floor;
        let result = reparse(&site);
        if safe {
            prop_assert!(result.is_ok(), "{:?}", result.err().map(|e| e.to_string()));
        }
        if !safe {
            prop_assert!(result.is_err());
        }
    }

    /// Any assignment of the four phases to stages is accepted only if no stage holds two
    /// phases that conflict.
    #[test]
    fn no_accepted_stage_greens_conflicting_phases(assign in proptest::collection::vec(0usize..3, 4)) {
        let mut site = minimal();
        let ids = [2u8, 6, 4, 8];
        let mut stages = vec![Vec::new(); 3];
        for (id, s) in ids.iter().zip(&assign) {
            stages[*s].push(*id);
        }
        stages.retain(|s| !s.is_empty());
        let n = stages.len();
        site.intersections[0].stages = stages.clone();
        // Keep the fixed plan's splits consistent with the number of stages.
        site.plans[0].timings[0].splits_s = vec![60.0 / n as f64; n];
        site.plans[0].timings[0].offset_s = 0.0;
        let conflicting = stages.iter().any(|s| {
            s.iter().any(|a| s.iter().any(|b| (a % 4 == 2) != (b % 4 == 2) && a != b))
        });
        let result = reparse(&site);
        if conflicting {
            prop_assert!(result.is_err());
        }
        if let Ok(site) = result {
            for stage in &site.intersections[0].stages {
                for a in stage {
                    let pa = site.intersections[0].phases.iter().find(|p| p.id == *a).unwrap();
                    for b in stage {
                        prop_assert!(!pa.conflicts.contains(b));
                    }
                }
            }
        }
    }

    /// Damaged files never panic the loader, and every error is located inside the file.
    #[test]
    fn damaged_files_are_rejected_with_a_location(cut in 0usize..6000, len in 1usize..40, junk in "[\\[\\]=\"a-z0-9 \n]{0,8}") {
        let text = minimal_text();
        let start = cut.min(text.len());
        let end = (start + len).min(text.len());
        let (start, end) = (floor_char(&text, start), floor_char(&text, end));
        let damaged = format!("{}{}{}", &text[..start], junk, &text[end..]);
        let lines = damaged.lines().count() + 1;
        if let Err(e) = parse(&damaged, "damaged.toml") {
            for d in e.diagnostics() {
                prop_assert!(d.line >= 1 && d.line <= lines, "{d}");
                prop_assert!(d.col >= 1, "{d}");
            }
        }
    }
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}
