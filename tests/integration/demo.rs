//! `nutgiao demo`: the closed loop, headless, for a minute of simulated (and wall) time.

use serde_json::Value;

use crate::support::{arterial_on_free_ports, nutgiao};

#[test]
fn a_headless_demo_runs_the_closed_loop_and_summarises_it() {
    let dir = tempfile::tempdir().unwrap();
    let (site, _) = arterial_on_free_ports(dir.path());
    let summary = dir.path().join("summary.json");
    let out = nutgiao()
        .current_dir(dir.path())
        .env("NUTGIAO_TOKEN", "ops:t")
        .arg("demo")
        .arg(&site)
        .args(["--listen", "127.0.0.1:0", "--duration", "60", "--no-cameras", "--summary"])
        .arg(&summary)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("dashboard   http://127.0.0.1:"), "{stdout}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(s["sim_time_s"], 60.0);
    // The central controller reached every cabinet over Modbus and runs them.
    let controllers = s["controllers"].as_array().unwrap();
    assert_eq!(controllers.len(), 3, "{s}");
    for c in controllers {
        assert_eq!(c["up"], true, "{c}");
        assert!(c["requests"].as_u64().unwrap() >= 20, "{c}");
        assert_eq!(c["errors"], 0, "{c}");
        // Central once the controller has committed a plan; until then the cabinet runs its
        // own local plan, never anything else.
        assert!(c["mode"] == "central" || c["mode"] == "local_fallback", "{c}");
    }
    // Vehicles flowed under the cabinets' signals, without teleports.
    let sim = &s["simulation"];
    assert!(sim["inserted"].as_u64().unwrap() > 20, "{sim}");
    assert!(sim["arrived"].as_u64().unwrap() > 0, "{sim}");
    assert_eq!(sim["teleports"], 0, "{sim}");
    assert!(s["baseline_fixed90"]["inserted"].as_u64().unwrap() > 20, "{s}");
    // The operators' data survived the run on disk.
    assert!(dir.path().join("out/data/ops.db").is_file());
}
