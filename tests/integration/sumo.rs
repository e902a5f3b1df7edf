//! The SUMO bridge against a real SUMO 1.15 process on the reference arterial: the TraCI
//! client, `nutgiao import-sumo` followed by `nutgiao check`, and a short controlled run.

use std::path::PathBuf;
use std::time::Duration;

use nutgiao_controller::sumo::process::SumoLaunch;
use nutgiao_controller::sumo::{SumoError, SumoProcess, SumoRun, run_control};

use crate::support::{arterial, have, nutgiao, shared_data};

/// The arterial folder and SUMO, or `None` with a message saying which is missing.
fn sumo_arterial() -> Option<PathBuf> {
    let data = shared_data()?.join("sumo-arterial");
    if !have("sumo") {
        eprintln!("skipping: `sumo` is not on PATH (Debian package sumo)");
        return None;
    }
    Some(data)
}

/// SUMO on the static arterial, with an induction loop 100 m into WJ1's kerb lane and a
/// lane-area detector over its last 142 m.
fn start_arterial(data: &std::path::Path, dir: &std::path::Path, end_s: u32) -> SumoProcess {
    let loops = dir.join("loops.add.xml");
    std::fs::write(
        &loops,
        r#"<additional>
            <inductionLoop id="wj1_kerb" lane="WJ1_0" pos="100" period="60" file="NUL"/>
            <laneAreaDetector id="wj1_kerb_queue" lane="WJ1_0" pos="150" endPos="292" period="60" file="NUL"/>
        </additional>"#,
    )
    .unwrap();
    let args: Vec<String> = [
        "-n",
        &data.join("arterial_static.net.xml").display().to_string(),
        "-r",
        &data.join("arterial.rou.xml").display().to_string(),
        "-a",
        &loops.display().to_string(),
        "-e",
        &end_s.to_string(),
        "--seed",
        "1",
        "--no-step-log",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    SumoProcess::start(&SumoLaunch::new(args)).expect("SUMO starts and accepts TraCI")
}

#[test]
fn traci_client_steps_reads_and_sets_signals_on_a_real_sumo() {
    let Some(data) = sumo_arterial() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut sumo = start_arterial(&data, dir.path(), 60);
    let c = &mut sumo.client;

    let (api, version) = c.version().unwrap();
    assert!(api >= 20, "TraCI API {api}");
    assert!(version.contains("1."), "{version}");
    assert_eq!(c.tl_ids().unwrap(), ["J1", "J2", "J3"]);
    assert_eq!(c.tl_program("J1").unwrap(), "0");
    // netconvert's default program starts with the arterial green.
    assert_eq!(c.tl_state("J1").unwrap(), "rrrrGGGggrrrrGGGgg");
    assert_eq!(c.tl_phase("J1").unwrap(), 0);

    let mut passed = 0;
    for _ in 0..20 {
        c.step().unwrap();
        passed += c.loop_vehicle_count("wj1_kerb").unwrap();
    }
    assert_eq!(c.sim_time_s().unwrap(), 20.0);
    assert!(passed > 0, "vehicles entering from W must cross the loop in 20 s");
    assert!(c.loop_time_since_detection_s("wj1_kerb").unwrap() >= 0.0);

    // Hold J1 all red: the eastbound queue on WJ1 must build up.
    let red = "r".repeat(18);
    c.set_tl_state("J1", &red).unwrap();
    for _ in 0..30 {
        c.step().unwrap();
    }
    assert_eq!(c.tl_state("J1").unwrap(), red);
    let halting = c.lane_halting("WJ1_0").unwrap() + c.lane_halting("WJ1_1").unwrap();
    assert!(halting >= 3, "only {halting} vehicles halt on WJ1 after 30 s of red");
    let jam = c.lane_area_jam_length_m("wj1_kerb_queue").unwrap();
    assert!(jam > 0.0, "the lane-area detector over WJ1's kerb lane sees no queue after 30 s of red");

    // A refused request is a clear error and leaves the session usable.
    let err = c.tl_state("J9").unwrap_err();
    assert!(matches!(err, SumoError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("J9"), "{err}");
    c.set_tl_phase("J2", 2).unwrap();
    assert_eq!(c.tl_state("J2").unwrap(), "GGggrrrrrGGggrrrrr");
    assert!(c.min_expected_vehicles().unwrap() > 0);
    sumo.close().expect("SUMO closes cleanly");
}

#[test]
fn sumo_quitting_on_a_bad_request_is_a_clear_error() {
    let Some(data) = sumo_arterial() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut sumo = start_arterial(&data, dir.path(), 60);
    sumo.client.step().unwrap();
    // SUMO 1.15 treats a state of the wrong length as fatal and exits.
    let err = sumo.client.set_tl_state("J2", "GG").unwrap_err();
    assert!(matches!(err, SumoError::ConnectionLost { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("traffic light `J2`") && msg.contains("closed the connection"), "{msg}");
    assert!(sumo.client.step().is_err());
}

#[test]
fn sumo_dying_mid_run_is_an_error_not_a_hang() {
    let Some(data) = sumo_arterial() else { return };
    let dir = tempfile::tempdir().unwrap();
    let mut sumo = start_arterial(&data, dir.path(), 3600);
    sumo.client.step().unwrap();
    let pid = sumo.pid().unwrap();
    let killed = std::process::Command::new("kill").args(["-9", &pid.to_string()]).status().unwrap();
    assert!(killed.success());
    let mut err = None;
    // The socket may still hold one buffered answer; the next request cannot succeed.
    for _ in 0..3 {
        if let Err(e) = sumo.client.step() {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("stepping a killed SUMO fails");
    assert!(matches!(err, SumoError::ConnectionLost { .. }), "{err}");
    assert!(err.to_string().contains("simulation step"), "{err}");
}

#[test]
fn sumo_that_cannot_load_is_reported_with_its_exit() {
    if !have("sumo") {
        eprintln!("skipping: `sumo` is not on PATH");
        return;
    }
    let mut launch = SumoLaunch::new(vec!["-c".into(), "/nonexistent/run.sumocfg".into()]);
    launch.connect_timeout = Duration::from_secs(30);
    let err = SumoProcess::start(&launch).unwrap_err();
    assert!(matches!(err, SumoError::ExitedBeforeConnect { .. }), "{err}");
}

#[test]
fn import_sumo_writes_a_site_that_check_accepts() {
    let Some(data) = shared_data() else { return };
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("imported.toml");
    let out = nutgiao()
        .args(["import-sumo"])
        .arg(data.join("sumo-arterial/arterial_static.net.xml"))
        .arg("-o")
        .arg(&site)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let check = nutgiao().arg("check").arg(&site).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let text = std::fs::read_to_string(&site).unwrap();
    assert!(text.contains("name = \"arterial_static\""));

    let bad = dir.path().join("bad.net.xml");
    std::fs::write(&bad, "<net><edge id=\"a\"").unwrap();
    let out = nutgiao().arg("import-sumo").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad.net.xml"));
}

/// A configuration of our own for the shared arterial (static lights, 3600 s, 1 s steps), so
/// that SUMO writes nothing into the read-only shared folder.
fn own_sumocfg(data: &std::path::Path, dir: &std::path::Path) -> std::path::PathBuf {
    let cfg = dir.join("arterial.sumocfg");
    std::fs::write(
        &cfg,
        format!(
            r#"<configuration><input><net-file value="{}"/><route-files value="{}"/></input>
               <time><begin value="0"/><end value="3600"/><step-length value="1"/></time></configuration>"#,
            data.join("arterial_static.net.xml").display(),
            data.join("arterial.rou.xml").display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn actuated_control_runs_the_arterial_in_sumo_with_sumos_own_figures() {
    let Some(data) = sumo_arterial() else { return };
    let site = nutgiao_config::load(arterial()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_sumocfg(&data, dir.path());
    let stats = dir.path().join("stats.xml");
    let run = SumoRun {
        sumocfg: cfg,
        seed: 3,
        extra_args: vec![
            "--statistic-output".into(),
            stats.display().to_string(),
            "--duration-log.statistics".into(),
            "--no-step-log".into(),
        ],
        end_s: Some(240.0),
    };
    let mut control = nutgiao_controller::by_name(&site, "actuated").unwrap();
    let summary = run_control(&site, &run, control.as_mut()).unwrap();
    assert_eq!(summary.steps, 240);
    assert_eq!(summary.end_time_s, 240.0);
    assert!(summary.arrived > 50, "{summary:?}");
    assert_eq!(summary.teleports, 0);
    // Both stages were served at every intersection: at least 3 changes each.
    assert!(summary.state_changes >= 9 * 3, "{summary:?}");
    let xml = std::fs::read_to_string(&stats).expect("SUMO wrote its statistics");
    assert!(xml.contains("<vehicleTripStatistics"), "{xml}");
}

#[test]
fn a_site_that_does_not_match_the_network_is_refused_before_sumo_starts() {
    let Some(data) = sumo_arterial() else { return };
    let mut site = nutgiao_config::load(arterial()).unwrap();
    site.intersections[1].approaches[0].link = "J1J2x".into();
    let run =
        SumoRun { sumocfg: data.join("arterial_static.sumocfg"), seed: 1, extra_args: Vec::new(), end_s: Some(10.0) };
    let mut control = nutgiao_controller::by_name(&nutgiao_config::load(arterial()).unwrap(), "actuated").unwrap();
    let err = run_control(&site, &run, control.as_mut()).unwrap_err().to_string();
    assert!(err.contains("J1J2"), "{err}");
}

#[test]
fn control_with_sumo_runs_the_command_line_interface_scripts_rely_on() {
    let Some(data) = sumo_arterial() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cfg = own_sumocfg(&data, dir.path());
    let trips = dir.path().join("trips.xml");
    let out = nutgiao()
        .args(["control"])
        .arg(arterial())
        .arg("--sumo")
        .arg(&cfg)
        .args(["--controller", "fixed:fixed90", "--seed", "2", "--duration", "150", "--", "--tripinfo-output"])
        .arg(&trips)
        .arg("--no-step-log")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("the summary is JSON on stdout");
    assert_eq!(summary["controller"], "fixed:fixed90");
    assert_eq!(summary["steps"], 150);
    assert_eq!(summary["teleports"], 0);
    // SUMO honoured the passed-through argument and wrote one tripinfo per arrived vehicle.
    let xml = std::fs::read_to_string(&trips).unwrap();
    assert_eq!(xml.matches("<tripinfo ").count() as u64, summary["arrived"].as_u64().unwrap());

    let missing = dir.path().join("missing.sumocfg");
    let out = nutgiao().arg("control").arg(arterial()).arg("--sumo").arg(&missing).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.sumocfg"));
}
