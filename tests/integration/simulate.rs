//! End-to-end tests of `nutgiao simulate`: the command line that scripts rely on, its
//! outputs, and clear errors for bad input.

use crate::support::{arterial, nutgiao};

#[test]
fn simulate_prints_the_summary_and_writes_csvs_and_time_space_diagrams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary_path = dir.path().join("s.json");
    let out = nutgiao()
        .arg("simulate")
        .arg(arterial())
        .args(["--duration", "600", "--seed", "1", "--controller", "fixed:fixed90", "--quiet", "--out"])
        .arg(dir.path().join("out"))
        .arg("--summary")
        .arg(&summary_path)
        .output()
        .expect("run nutgiao");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("summary JSON on stdout");
    for key in [
        "inserted",
        "arrived",
        "teleports",
        "mean_time_loss_s",
        "mean_waiting_s",
        "mean_travel_time_s",
        "vehicle_steps",
        "wall_s",
    ] {
        assert!(printed.get(key).is_some(), "summary lacks {key}: {printed}");
    }
    assert!(printed["inserted"].as_u64().unwrap_or(0) > 300);
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary_path).expect("summary file")).expect("json");
    assert_eq!(written["arrived"], printed["arrived"]);
    let outdir = dir.path().join("out");
    let vehicles = std::fs::read_to_string(outdir.join("vehicles.csv")).expect("vehicles.csv");
    assert!(vehicles.starts_with("id,flow,class,"));
    assert_eq!(vehicles.lines().count() as u64 - 1, printed["arrived"].as_u64().unwrap_or(0));
    let intervals = std::fs::read_to_string(outdir.join("intervals.csv")).expect("intervals.csv");
    assert!(intervals.lines().any(|l| l.starts_with("0.0,300.0,J1-W,0,")));
    for dir_name in ["eastbound", "westbound"] {
        let svg = std::fs::read_to_string(outdir.join(format!("time_space_{dir_name}.svg"))).expect("svg");
        assert!(svg.contains("<polyline") && svg.contains("rgb(220,0,0)"), "trajectories and red bars");
        let png = std::fs::read(outdir.join(format!("time_space_{dir_name}.png"))).expect("png");
        assert_eq!(&png[1..4], b"PNG");
    }
}

#[test]
fn simulate_rejects_an_unknown_controller_by_name() {
    let out = nutgiao()
        .arg("simulate")
        .arg(arterial())
        .args(["--duration", "60", "--controller", "fixed:nonexistent", "--quiet"])
        .output()
        .expect("run nutgiao");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nonexistent"), "{err}");
}

#[test]
fn simulate_rejects_a_bad_step() {
    let out = nutgiao().arg("simulate").arg(arterial()).args(["--step", "0", "--quiet"]).output().expect("run nutgiao");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("step"));
}
