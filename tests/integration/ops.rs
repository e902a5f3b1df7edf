//! The operators' surface end to end: the HTTP API, /metrics checked by promtool and
//! scraped by a real Prometheus, the MQTT bus against a real Mosquitto, and the dashboard
//! in a real headless Chromium.

use std::sync::Arc;
use std::time::Duration;

use nutgiao_controller::control::SequencedControl;
use nutgiao_controller::sequencer::Mode;
use nutgiao_controller::{CorridorPlan, DetectorSnapshot};
use nutgiao_ops::events::{CameraHealth, VehicleCounted, ViolationDetected};
use nutgiao_ops::{ControlCommand, Live, PlanStatus, Tokens};
use serde_json::Value;

use crate::support::{Child, arterial, free_port, have, have_mosquitto, http, mosquitto_on, root, wait_for};

/// A running ops server with a real fixed-time sequencer as its central controller, so that
/// overrides reach real signals. Sim time runs 20 times faster than the wall clock.
struct Harness {
    base: String,
    live: Live,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

const TOKEN: &str = "alice:s3cret";

fn start() -> Harness {
    let site = Arc::new(nutgiao_config::load(arterial()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let state = nutgiao_ops::open(site.clone(), dir.path(), Tokens::parse(TOKEN)).unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let state = nutgiao_ops::ApiState { live: state.live.with_commands(tx), ..state };
    let live = state.live.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(nutgiao_ops::serve(listener, state, std::future::pending()));

    let automatic = CorridorPlan::named(&site, "fixed90").unwrap();
    let mut control = SequencedControl::fixed(&site, "fixed90", &automatic).unwrap();
    let loop_live = live.clone();
    runtime.spawn(async move {
        for p in &automatic.intersections {
            loop_live.report_plan(PlanStatus { name: "fixed90".into(), plan: p.clone(), manual: false });
        }
        let mut now = 0.0;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        loop {
            tick.tick().await;
            while let Ok(cmd) = rx.try_recv() {
                let (id, name, plan, manual) = match cmd {
                    ControlCommand::Override { intersection, name, plan } => (intersection, name, plan, true),
                    ControlCommand::Automatic { intersection } => {
                        let plan = automatic.for_intersection(&intersection).unwrap().clone();
                        (intersection, "fixed90".to_owned(), plan, false)
                    }
                };
                let seq = control.sequencers_mut().iter_mut().find(|s| s.intersection().id == id).unwrap();
                seq.set_mode(Mode::Fixed(plan.clone())).unwrap();
                loop_live.report_plan(PlanStatus { name, plan, manual });
            }
            now += 1.0;
            control.step(&DetectorSnapshot { now_s: now, ..Default::default() });
            for (id, phases) in control.signals() {
                loop_live.report_signals(id, phases);
            }
        }
    });
    Harness { base, live, _runtime: runtime, _dir: dir }
}

fn count(camera: &str, class: &str, t: f64) -> VehicleCounted {
    VehicleCounted {
        camera: camera.into(),
        line: "J1-W-stop".into(),
        lane: Some(0),
        direction: "positive".into(),
        class: class.into(),
        time_s: t,
    }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn api_reads_live_state_and_audits_every_write() {
    let h = start();
    for i in 0..7 {
        h.live.report_count(count("cam-J1-W", if i % 3 == 0 { "motorbike" } else { "car" }, 60.0 * f64::from(i)));
    }
    let (status, body) = http("GET", &format!("{}/api/counts?bin=900", h.base), &[], None);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["total"], 7);
    assert_eq!(v["series"][0]["by_class"]["motorbike"], 3);
    let (_, csv) = http("GET", &format!("{}/api/counts.csv", h.base), &[], None);
    assert_eq!(csv.lines().nth(1), Some("0,900,cam-J1-W,J1-W-stop,positive,3,4,0,0,7"), "{csv}");
    // Turning movements: totals per camera and movement, by class, and their metric.
    for (class, turn) in [("car", "left"), ("motorbike", "left"), ("car", "through")] {
        h.live.report_movement(nutgiao_ops::events::MovementCounted {
            camera: "cam-J1-W".into(),
            from: "J1-W-stop".into(),
            to: if turn == "left" { "J1-N-exit" } else { "J1-E-exit" }.into(),
            turn: turn.into(),
            class: class.into(),
            time_s: 1.0,
        });
    }
    let (status, body) = http("GET", &format!("{}/api/movements", h.base), &[], None);
    assert_eq!(status, 200, "{body}");
    let v = json(&body);
    let left = v["movements"].as_array().unwrap().iter().find(|m| m["turn"] == "left").cloned().unwrap();
    assert_eq!((left["to"].as_str(), left["total"].as_u64()), (Some("J1-N-exit"), Some(2)), "{body}");
    assert_eq!(left["by_class"]["motorbike"], 1);
    let (_, metrics) = http("GET", &format!("{}/metrics", h.base), &[], None);
    assert!(
        metrics.lines().any(|l| l.starts_with("nutgiao_movements_counted_total{")
            && l.contains("turn=\"through\"")
            && l.ends_with(" 1")),
        "{metrics}"
    );

    let (status, body) = http("GET", &format!("{}/api/counts?bin=90", h.base), &[], None);
    assert_eq!(
        (status, json(&body)["error"].as_str().unwrap()),
        (400, "bin 90 s must be a multiple of 60 between 60 and 86400")
    );

    let signals = wait_for(10, "signals of J1", || {
        let (_, body) = http("GET", &format!("{}/api/intersections/J1", h.base), &[], None);
        let v = json(&body);
        v["signals"].as_array().filter(|a| a.len() == 4).cloned()
    });
    assert!(signals.iter().any(|p| p["indication"] == "green"), "{signals:?}");

    // Writes: no token, a wrong token, an unsafe plan, a bad body: refused, nothing sent.
    let url = format!("{}/api/intersections/J2/override", h.base);
    let (status, _) = http("POST", &url, &[], Some(r#"{"plan":"webster"}"#));
    assert_eq!(status, 401);
    let (status, _) = http("POST", &url, &[("Authorization", "Bearer nope")], Some(r#"{"plan":"webster"}"#));
    assert_eq!(status, 401);
    let auth = [("Authorization", "Bearer s3cret")];
    let (status, body) = http("POST", &url, &auth, Some(r#"{"cycle_s":60,"splits_s":[50,10]}"#));
    assert_eq!(status, 422, "{body}");
    insta::assert_snapshot!(json(&body)["error"].as_str().unwrap(), @"unsafe plan for J2: plan 900 for J2: stage 2 split 10 s leaves 4.5 s of green, below the minimum 5 s");
    let (status, body) = http("POST", &url, &auth, Some(r#"{"plan":"webster","colour":"red"}"#));
    assert_eq!(status, 400, "{body}");
    assert!(json(&body)["error"].as_str().unwrap().contains("unknown field `colour`"), "{body}");
    let (status, body) = http("GET", &format!("{}/api/plans", h.base), &[], None);
    assert_eq!(status, 200);
    assert_eq!(json(&body)["in_effect"]["J2"]["name"], "fixed90", "a refused write changed the plan");

    let (status, body) = http("POST", &url, &auth, Some(r#"{"plan":"webster"}"#));
    assert_eq!(status, 202, "{body}");
    wait_for(10, "the override to take effect", || {
        let (_, body) = http("GET", &format!("{}/api/plans", h.base), &[], None);
        (json(&body)["in_effect"]["J2"]["name"] == "webster").then_some(())
    });
    let (_, body) = http("GET", &format!("{}/api/audit", h.base), &[], None);
    let audit = json(&body);
    let entries: Vec<(String, bool)> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["who"].as_str().unwrap().to_owned(), e["accepted"].as_bool().unwrap()))
        .collect();
    assert_eq!(entries, [("alice".to_owned(), true), ("alice".to_owned(), false), ("alice".to_owned(), false)]);

    // Violations and their acknowledgement.
    h.live.report_violation(ViolationDetected {
        id: "v-1".into(),
        camera: "cam-J1-W".into(),
        kind: "red_light".into(),
        class: "motorbike".into(),
        time_s: 10.0,
        speed_kmh: Some(31.0),
        evidence: None,
        evidence_sha256: None,
    });
    let ack = format!("{}/api/violations/v-1/ack", h.base);
    let (status, body) = http("POST", &ack, &auth, Some(r#"{"note":"ticket issued"}"#));
    assert_eq!(status, 200, "{body}");
    let (_, body) = http("GET", &format!("{}/api/violations", h.base), &[], None);
    assert_eq!(json(&body)[0]["acknowledged_by"], "alice");
    let (status, _) = http("POST", &format!("{}/api/violations/nope/ack", h.base), &auth, None);
    assert_eq!(status, 404);
}

#[test]
fn every_route_is_in_the_openapi_document() {
    let h = start();
    let (status, body) = http("GET", &format!("{}/api/openapi.json", h.base), &[], None);
    assert_eq!(status, 200);
    let doc = json(&body);
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "J1");
            let m = method.to_uppercase();
            let body = (m == "POST").then_some("{}");
            let (status, text) = if path == "/api/stream" {
                (200, String::new()) // a stream never ends; its route is exercised by the browser test
            } else {
                http(&m, &format!("{}{concrete}", h.base), &[], body)
            };
            assert!(status != 404 || concrete.contains("violations"), "{m} {path}: {status} {text}");
            assert_ne!(status, 405, "{m} {path} is documented but not routed");
        }
    }
}

#[test]
fn metrics_pass_promtool_and_a_real_prometheus_scrapes_the_counts() {
    if !have("promtool") || !have("prometheus") {
        eprintln!("skipping: promtool/prometheus not installed (scripts/bootstrap.sh installs them)");
        return;
    }
    let h = start();
    for i in 0..42 {
        h.live.report_count(count(if i % 2 == 0 { "cam-J1-W" } else { "cam-J2-E" }, "car", f64::from(i)));
    }
    h.live.report_camera(CameraHealth {
        camera: "cam-J1-W".into(),
        up: true,
        fps: 25.0,
        frames: 250,
        dropped: 1,
        stages: vec![("detect".into(), 0.004), ("track".into(), 0.001)],
        cause: None,
    });
    wait_for(10, "signal metrics", || {
        let (_, m) = http("GET", &format!("{}/metrics", h.base), &[], None);
        m.contains("nutgiao_signal_indication").then_some(())
    });
    let (_, metrics) = http("GET", &format!("{}/metrics", h.base), &[], None);
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(promtool.stdin.as_mut().unwrap(), metrics.as_bytes()).unwrap();
    let out = promtool.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let dir = tempfile::tempdir().unwrap();
    let target = h.base.trim_start_matches("http://");
    let cfg = dir.path().join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: nutgiao\n    static_configs:\n      - targets: ['{target}']\n"),
    )
    .unwrap();
    let port = free_port();
    let _prom = Child(
        std::process::Command::new("prometheus")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let query = format!("http://127.0.0.1:{port}/api/v1/query?query=sum(nutgiao_vehicles_counted_total)");
    let value = wait_for(60, "Prometheus to scrape nutgiao", || {
        let (status, body) = std::panic::catch_unwind(|| http("GET", &query, &[], None)).ok()?;
        let v: Value = serde_json::from_str(&body).ok()?;
        let s = v["data"]["result"][0]["value"][1].as_str()?.to_owned();
        (status == 200).then_some(s)
    });
    assert_eq!(value, "42");
}

#[test]
fn the_bus_keeps_events_while_the_broker_is_down_and_sends_each_once() {
    if !have_mosquitto() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The broker is started only after the first process has spooled its events.
    let port = free_port();
    let broker = format!("127.0.0.1:{port}");
    let metrics = nutgiao_ops::Metrics::new("arterial").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let outbox = dir.path().join("bus.db");
    // A first process: the broker is down, so its events stay on disk.
    let (bus, publisher) =
        nutgiao_ops::bus::Bus::open(&outbox, &broker, "nutgiao-test", "arterial", metrics.clone()).unwrap();
    let first = runtime.spawn(publisher.run());
    for i in 0..25 {
        bus.publish("counts", "cam-J1-W", &format!("c-{i}"), &count("cam-J1-W", "car", f64::from(i))).unwrap();
    }
    bus.publish("counts", "cam-J1-W", "c-3", &count("cam-J1-W", "car", 3.0)).unwrap(); // a retry, same id
    wait_for(10, "the events to be counted as spooled", || {
        metrics.render().contains("nutgiao_bus_spooled_events{kind=\"counts\",site=\"arterial\"} 25").then_some(())
    });
    first.abort();
    drop(bus);

    let _broker = mosquitto_on(dir.path(), port);
    let sub = std::process::Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "nutgiao/arterial/#",
            "-q",
            "1",
            "-C",
            "26",
            "-W",
            "60",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Give the subscriber time to subscribe before anything is published.
    std::thread::sleep(Duration::from_secs(2));
    // The next process finds the spooled events on disk and sends them, then a new one.
    let (bus, publisher) =
        nutgiao_ops::bus::Bus::open(&outbox, &broker, "nutgiao-test-2", "arterial", metrics.clone()).unwrap();
    runtime.spawn(publisher.run());
    bus.publish("violations", "cam-J1-W", "v-9", &serde_json::json!({"kind": "red_light"})).unwrap();
    let out = sub.wait_with_output().unwrap();
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout).lines().map(json).collect();
    let mut ids: Vec<String> = lines.iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    let mut expected: Vec<String> = (0..25).map(|i| format!("c-{i}")).chain(["v-9".to_owned()]).collect();
    expected.sort();
    assert_eq!(ids, expected, "every event exactly once");
    assert_eq!(lines[0]["site"], "arterial");
}

#[test]
fn the_dashboard_shows_live_signals_counts_and_an_override_in_chromium() {
    let script = root().join("tests/browser/dashboard.mjs");
    let module = root().join("tests/browser/node_modules/playwright-core");
    if !have("chromium") || !have("node") || !module.is_dir() {
        eprintln!("skipping: chromium, node or playwright-core missing (scripts/bootstrap.sh installs them)");
        return;
    }
    let h = start();
    let live = h.live.clone();
    let feeder = std::thread::spawn(move || {
        for i in 0..150 {
            live.report_count(count("cam-J1-W", "motorbike", f64::from(i)));
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let out = std::process::Command::new("node").arg(&script).arg(&h.base).arg("s3cret").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = json(stdout.lines().last().unwrap_or("{}"));
    assert!(report["counts_grew"].as_bool().unwrap(), "{report}");
    assert_eq!(report["plan_after_override"], "webster", "{report}");
    // Webster at J2: arterial split 25 s - 4.8 s change = 20.2 s of green (fixed90: 40.2 s).
    let green = report["arterial_green_after_override_s"].as_f64().unwrap();
    assert!((green - 20.2).abs() < 1.01, "{report}");
    feeder.join().unwrap();
}
