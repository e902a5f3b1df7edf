//! Scale-out: two edge vision nodes (`nutgiao watch`, one camera each) and one central
//! controller (`nutgiao control`) in separate processes exchange counts and signal states
//! through a real Mosquitto broker, while the virtual field controllers run the corridor.

use std::collections::BTreeMap;
use std::process::Stdio;

use serde_json::Value;

use crate::support::{Child, arterial_films, arterial_on_free_ports, mosquitto, nutgiao, wait_for, watch_films};

/// Stop-line crossings into the intersection that a node reported, as the controller counts them.
fn stop_line_arrivals(events: &std::path::Path, camera: &str, stop_lines: &[&str]) -> u64 {
    std::fs::read_to_string(events)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["kind"] == "count" && e["camera"] == camera && e["direction"] == 1)
        .filter(|e| stop_lines.iter().any(|l| e["line"] == *l))
        .count() as u64
}

#[test]
fn two_watch_nodes_and_one_control_exchange_counts_and_signals_through_mosquitto() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_broker, broker)) = mosquitto(dir.path()) else { return };
    let films = arterial_films();
    let (site, ports) = arterial_on_free_ports(dir.path());
    let site = site.to_str().unwrap().to_owned();

    let _field = Child(
        nutgiao()
            .args(["field", &site, "--simulate", "--duration", "600"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    for p in ports {
        wait_for(20, "a field controller to listen", || std::net::TcpStream::connect(("127.0.0.1", p)).ok());
    }
    let control_log = std::fs::File::create(dir.path().join("control.log")).unwrap();
    let mut control = Child(
        nutgiao()
            .args(["control", &site, "--controller", "fixed:webster", "--duration", "600"])
            .args(["--mqtt", &broker, "--node", "central"])
            .stdout(Stdio::piped())
            .stderr(control_log)
            .spawn()
            .unwrap(),
    );
    // The central node is on the bus once its signal states are there (retained).
    let port = broker.rsplit_once(':').unwrap().1.to_owned();
    wait_for(30, "the central node's signal states on the broker", || {
        let out = std::process::Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port, "-t", "nutgiao/arterial/signals/J2", "-C", "1", "-W", "2"])
            .output()
            .ok()?;
        (out.status.success() && !out.stdout.is_empty()).then_some(())
    });
    // Its count subscription connects alongside; give it a moment to be in place.
    std::thread::sleep(std::time::Duration::from_secs(1));

    let edges: Vec<(&str, &str)> = vec![("edge-1", "cam-J1-W"), ("edge-2", "cam-J2-E")];
    let nodes: Vec<std::process::Child> = edges
        .iter()
        .map(|(node, camera)| {
            watch_films(site.as_ref(), films, &dir.path().join(node))
                .args(["--camera", camera, "--mqtt", &broker, "--node", node])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut expected: BTreeMap<&str, u64> = BTreeMap::new();
    for ((node, camera), child) in edges.iter().zip(nodes) {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{node}: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let report: Value = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["node"] == *node)
            .unwrap_or_else(|| panic!("{node} printed no bus report: {stdout}"));
        assert_eq!(report["bus_unsent"], 0, "{node} handed every event to the broker: {report}");
        // The edge node sees every intersection's signals, from the central node.
        for j in ["J1", "J2", "J3"] {
            let seen = &report["signals"][j];
            assert!(seen["messages"].as_u64().unwrap_or(0) >= 1, "{node} saw no signals of {j}: {report}");
            assert_eq!(seen["source"], "central-state", "{report}");
            assert!(!seen["last"]["phases"].as_array().unwrap().is_empty(), "{report}");
        }
        let stop_lines: &[&str] = if *camera == "cam-J1-W" { &["J1-W-stop"] } else { &["J2-E-stop"] };
        let n = stop_line_arrivals(&dir.path().join(node).with_extension("jsonl"), camera, stop_lines);
        assert!(n > 0, "{node} counted no arrivals at its stop line");
        expected.insert(camera, n);
    }

    // The central node has heard both edge nodes: every arrival each of them counted.
    let pid = control.0.id().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut control.0.stdout.take().unwrap(), &mut stdout).unwrap();
    let exit = control.0.wait().unwrap();
    let log = std::fs::read_to_string(dir.path().join("control.log")).unwrap();
    assert!(exit.success(), "control: {log}");
    let status: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout} {log}"));
    for ((node, camera), approach) in edges.iter().zip(["J1-W", "J2-E"]) {
        let heard = &status["vision"][camera];
        assert_eq!(heard["source"], format!("{node}-events"), "{status}");
        assert_eq!(heard["counted"], expected[camera], "{camera}: {status}");
        assert_eq!(heard["by_approach"][approach], expected[camera], "{camera}: {status}");
    }
    for s in status["intersections"].as_array().unwrap() {
        assert_eq!(s["up"], true, "{s}");
    }
}
