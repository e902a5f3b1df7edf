//! `nutgiao check` on the example and on broken site files.

use crate::support::{arterial, nutgiao, root};

/// `nutgiao check SITE`'s standard error, once it has failed with exit code 1.
fn check_fails(site: &std::path::Path) -> String {
    let out = nutgiao().arg("check").arg(site).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn check_accepts_the_arterial_and_prints_a_summary() {
    let out = nutgiao().arg("check").arg(arterial()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("3 intersections, 20 links (28 lanes)"), "{stdout}");
    assert!(stdout.contains("demand: 20 flows, 3100 veh/h"), "{stdout}");
    assert!(stdout.trim_end().ends_with("arterial.toml: OK"), "{stdout}");
}

#[test]
fn check_rejects_a_broken_site_with_exit_code_1_and_a_located_message() {
    let site = root().join("config/tests/fixtures/broken/min_green_below_floor.toml");
    let stderr = check_fails(&site);
    assert!(
        stderr.contains("min_green_below_floor.toml:134:1: intersection[0].phase[2].min_green_s: phase 4 min_green 2 s is below the 4 s floor"),
        "{stderr}"
    );
    assert!(stderr.contains("1 problem found; nothing was applied"), "{stderr}");
}

#[test]
fn errors_are_logged_as_json_objects_with_log_format_json() {
    let out = nutgiao().args(["--log-format", "json", "simulate", "/nonexistent/site.toml"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.contains("nonexistent")).unwrap_or_else(|| panic!("{stderr}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert_eq!(v["level"], "ERROR", "{line}");
}

#[test]
fn check_rejects_a_departure_line_drawn_against_its_link() {
    let text = std::fs::read_to_string(arterial()).unwrap();
    let reversed = text.replacen(
        "departure = \"J1W\"\npoints = [[838.8, 250.1], [702.9, 257.6]]",
        "departure = \"J1W\"\npoints = [[702.9, 257.6], [838.8, 250.1]]",
        1,
    );
    assert_ne!(reversed, text, "the example's J1-E-departure line moved");
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site.toml");
    std::fs::write(&site, reversed).unwrap();
    let stderr = check_fails(&site);
    assert!(
        stderr.contains("camera[0].line[2].points: camera cam-J1-W line J1-E-departure: its positive direction points towards J1, against the travel of departure link J1W; swap its two points"),
        "{stderr}"
    );
}
