//! End-to-end tests of `nutgiao field` and `nutgiao control` against real peers: mbpoll as a
//! SCADA master, and a pymodbus server standing in for a third-party cabinet.

use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nutgiao_controller::CorridorPlan;
use nutgiao_controller::modbus::map::{crc16, encode_plan};

use crate::support::{arterial_on_free_ports, have, nutgiao, root};

/// Kills the child when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until something accepts connections on the port (the peer is up), at most 20 s.
fn wait_listening(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mbpoll(args: &[String]) -> Output {
    Command::new("mbpoll").args(args).output().unwrap()
}

/// Registers printed by mbpoll as `[addr]: value` lines.
fn registers(out: &Output) -> Vec<(u16, i64)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (a, v) = l.trim().strip_prefix('[')?.split_once("]:")?;
            Some((a.trim().parse().ok()?, v.split_whitespace().next()?.parse().ok()?))
        })
        .collect()
}

fn reg(regs: &[(u16, i64)], addr: u16) -> i64 {
    regs.iter().find(|(a, _)| *a == addr).map(|(_, v)| *v).unwrap_or_else(|| panic!("register {addr} in {regs:?}"))
}

fn mb(port: u16, table: &str, start: u16, rest: &[String]) -> Vec<String> {
    let mut a: Vec<String> =
        ["-m", "tcp", "-p", &port.to_string(), "-a", "1", "-t", table, "-0", "-r", &start.to_string(), "-1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    if rest.is_empty() {
        a.extend(["-c".to_string(), "15".to_string(), "127.0.0.1".to_string()]);
    } else {
        a.push("127.0.0.1".to_string());
        a.extend(rest.iter().cloned());
    }
    a
}

#[test]
fn mbpoll_reads_status_writes_a_plan_and_gets_an_exception_for_an_unsafe_one() {
    if !have("mbpoll") {
        eprintln!("skipping: mbpoll is not installed (scripts/bootstrap.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (site_path, ports) = arterial_on_free_ports(dir.path());
    let _field = Running(
        nutgiao()
            .args(["field", site_path.to_str().unwrap(), "--duration", "120"])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(ports[0]);

    let status = mbpoll(&mb(ports[0], "3", 0, &[]));
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let regs = registers(&status);
    assert_eq!(reg(&regs, 0), 1, "map version");
    assert_eq!(reg(&regs, 6), 2, "local mode before any commit");
    assert_eq!(reg(&regs, 14), 12, "J1 has 12 detectors");

    let site = nutgiao_config::load(&site_path).unwrap();
    let j1 = site.intersection("J1").unwrap();
    let plan = CorridorPlan::named(&site, "webster-coord").unwrap().for_intersection("J1").unwrap().clone();
    let words = encode_plan(&site.modbus_map, j1, &plan).unwrap();
    let values: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    let write = mbpoll(&mb(ports[0], "4", 0, &values));
    assert!(write.status.success(), "{}", String::from_utf8_lossy(&write.stderr));
    let commit = mbpoll(&mb(ports[0], "4", 200, &[crc16(&words).to_string()]));
    assert!(
        commit.status.success(),
        "{}{}",
        String::from_utf8_lossy(&commit.stdout),
        String::from_utf8_lossy(&commit.stderr)
    );
    let regs = registers(&mbpoll(&mb(ports[0], "3", 0, &[])));
    assert_eq!(reg(&regs, 6), 1, "central mode after the commit");
    assert_eq!(reg(&regs, 8), 0, "no plan fault");
    assert_eq!(reg(&regs, 10) as u16, crc16(&words), "committed checksum");

    // 7 s side-street split: 1.5 s of green after 3 s yellow and 2.5 s red clearance.
    let mut unsafe_plan = plan.clone();
    unsafe_plan.plan_id = 9;
    unsafe_plan.splits_s = vec![33.0, 7.0];
    let bad = encode_plan(&site.modbus_map, j1, &unsafe_plan).unwrap();
    let values: Vec<String> = bad.iter().map(|w| w.to_string()).collect();
    assert!(mbpoll(&mb(ports[0], "4", 0, &values)).status.success());
    let refused = mbpoll(&mb(ports[0], "4", 200, &[crc16(&bad).to_string()]));
    let text = format!("{}{}", String::from_utf8_lossy(&refused.stdout), String::from_utf8_lossy(&refused.stderr));
    assert!(!refused.status.success(), "{text}");
    assert!(text.to_lowercase().contains("illegal data value"), "{text}");
    let regs = registers(&mbpoll(&mb(ports[0], "3", 0, &[])));
    assert_eq!(reg(&regs, 8), 6, "fault: green below minimum");
    assert_eq!(reg(&regs, 10) as u16, crc16(&words), "the safe plan stays committed");
    assert!([0, 3].contains(&reg(&regs, 13)), "only the safe plan 3 may be pending: {regs:?}");
    assert!([0, 3].contains(&reg(&regs, 5)), "the unsafe plan 9 never runs: {regs:?}");
}

#[test]
fn control_drives_a_pymodbus_cabinet_and_a_down_cabinet_blocks_nothing() {
    let python = root().join(".venv/bin/python");
    if !python.is_file() {
        eprintln!("skipping: {} is missing (scripts/bootstrap.sh creates it)", python.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("commits.jsonl");
    let (site_path, ports) = arterial_on_free_ports(dir.path());
    let port = ports[0];
    // J2 and J3 point at ports nobody listens on: those cabinets are down.
    let _cabinet = Running(
        Command::new(&python)
            .arg(root().join("tests/peers/cabinet.py"))
            .arg(port.to_string())
            .arg(&state)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_listening(port);
    let out = nutgiao()
        .args(["control", site_path.to_str().unwrap(), "--controller", "fixed:webster-coord", "--duration", "6"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let commits = std::fs::read_to_string(&state).unwrap_or_default();
    let first: serde_json::Value = serde_json::from_str(commits.lines().next().expect("a commit")).unwrap();
    assert_eq!(first["plan_id"], 3);
    assert_eq!(first["cycle"], 400);
    assert_eq!(first["offset"], 257);
    assert_eq!(first["splits"], serde_json::json!([260, 140]));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let by_id = |id: &str| {
        status["intersections"].as_array().unwrap().iter().find(|s| s["intersection"] == id).unwrap().clone()
    };
    let j1 = by_id("J1");
    assert_eq!(j1["up"], true);
    assert_eq!(j1["mode"], "central");
    assert_eq!(j1["plan_in_effect"], 3);
    assert!(j1["field"]["heartbeat"].as_u64().unwrap() >= 1, "{j1}");
    for id in ["J2", "J3"] {
        let s = by_id(id);
        assert_eq!(s["up"], false, "{s}");
        assert!(s["last_error"].as_str().unwrap().contains(id), "{s}");
    }
}

#[test]
fn field_and_control_run_the_arterial_together() {
    let dir = tempfile::tempdir().unwrap();
    let (site_path, ports) = arterial_on_free_ports(dir.path());
    let field = nutgiao()
        .args(["field", site_path.to_str().unwrap(), "--simulate", "--duration", "15"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    for p in ports {
        wait_listening(p);
    }
    let control = nutgiao()
        .args(["control", site_path.to_str().unwrap(), "--controller", "fixed:webster", "--duration", "5"])
        .output()
        .unwrap();
    assert!(control.status.success(), "{}", String::from_utf8_lossy(&control.stderr));
    let status: serde_json::Value = serde_json::from_slice(&control.stdout).unwrap();
    assert_eq!(status["controller"], "fixed:webster");
    for s in status["intersections"].as_array().unwrap() {
        assert_eq!(s["up"], true, "{s}");
        assert_eq!(s["mode"], "central", "{s}");
        assert_eq!(s["plan_sent"], 2, "{s}");
        assert_eq!(s["field"]["monitor_fault"], 0, "{s}");
    }
    let out = field.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(summary.is_object(), "the simulation summary: {summary}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("central plan committed"), "{log}");
    assert!(!log.contains("conflict monitor"), "{log}");
}
