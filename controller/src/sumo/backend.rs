//! SUMO as the street: each step nutgiao reads the site's detectors and queues from SUMO,
//! asks the `SignalControl` for the phase indications, and shows them on SUMO's traffic lights.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use nutgiao_config::Site;

use super::codec::{Value, cmd, var};
use super::error::SumoError;
use super::net::Net;
use super::process::{SumoLaunch, SumoProcess};
use super::signals::TlsMapping;
use super::traci::{as_f64, as_i32};
use crate::signal::{DetectorReading, DetectorSnapshot, SignalControl};

/// One controlled SUMO run.
#[derive(Debug, Clone, PartialEq)]
pub struct SumoRun {
    pub sumocfg: PathBuf,
    pub seed: u64,
    /// Passed to SUMO unchanged, after nutgiao's own arguments.
    pub extra_args: Vec<String>,
    /// Stop at this simulation time even if vehicles remain.
    pub end_s: Option<f64>,
}

/// What nutgiao saw of a run; SUMO's own outputs hold the trip figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SumoRunSummary {
    pub controller: String,
    pub sumo_version: String,
    /// SUMO's simulation step (the configuration's, or `--step-length` among the extra
    /// arguments): signals change only between steps, so every interval lasts a whole number
    /// of steps, at least its own length.
    pub step_length_s: f64,
    pub steps: u64,
    pub end_time_s: f64,
    pub departed: u64,
    pub arrived: u64,
    pub teleports: u64,
    /// State strings sent to SUMO (only changes are sent).
    pub state_changes: u64,
    pub wall_s: f64,
}

/// TraCI's induction-loop variable "vehicle ids of the last step" (not in `codec::var`, which
/// belongs to the TraCI client).
const LAST_STEP_VEHICLE_ID_LIST: u8 = 0x12;

/// Vehicle length plus standstill gap of SUMO's default car: the space one halting vehicle
/// takes in a queue.
const QUEUED_VEHICLE_SPACE_M: f64 = 7.5;

/// The files a `.sumocfg` names, resolved against its directory.
#[derive(Debug, Clone, PartialEq)]
pub struct SumoConfig {
    pub net_file: PathBuf,
    pub additional_files: Vec<PathBuf>,
    pub step_length_s: f64,
    /// `<end>`: SUMO closes the TraCI connection once it is reached.
    pub end_s: Option<f64>,
}

impl SumoConfig {
    pub fn load(path: &Path) -> Result<SumoConfig, SumoError> {
        let text = super::error::read_input(path, "cannot read SUMO configuration")?;
        let bad = |message: String| SumoError::Xml { path: path.to_owned(), what: "configuration", message };
        let doc = roxmltree::Document::parse(&text).map_err(|e| bad(e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let value = |name: &str| {
            doc.descendants().find(|n| n.has_tag_name(name)).and_then(|n| n.attribute("value")).map(str::to_owned)
        };
        let files = |v: Option<String>| -> Vec<PathBuf> {
            v.map(|s| s.split([',', ' ']).filter(|f| !f.is_empty()).map(|f| dir.join(f)).collect()).unwrap_or_default()
        };
        let net_file = files(value("net-file"))
            .into_iter()
            .next()
            .ok_or_else(|| bad("it names no <net-file>; nutgiao needs the network to map signals".into()))?;
        let step_length_s = match value("step-length") {
            Some(s) => s.trim().parse().map_err(|_| bad(format!("step-length `{s}` is not a number")))?,
            None => 1.0,
        };
        let end_s = match value("end") {
            Some(s) => Some(s.trim().parse().map_err(|_| bad(format!("end `{s}` is not a number")))?),
            None => None,
        };
        Ok(SumoConfig { net_file, additional_files: files(value("additional-files")), step_length_s, end_s })
    }
}

/// A site detector as a SUMO induction loop.
#[derive(Debug, Clone, PartialEq)]
struct LoopSite {
    id: String,
    lane: String,
    pos_m: f64,
}

/// Places every detector of the site on its SUMO lane, measured back from the stop line.
fn loops(site: &Site, net: &Net) -> Result<Vec<LoopSite>, SumoError> {
    let mut out = Vec::new();
    for inter in &site.intersections {
        for d in &inter.detectors {
            let (_, approach) = site
                .approach(&d.approach)
                .ok_or_else(|| SumoError::Mapping(format!("detector {}: unknown approach `{}`", d.id, d.approach)))?;
            let edge = net.edge(&approach.link).ok_or_else(|| {
                SumoError::Mapping(format!(
                    "detector {}: approach {} link `{}` is not an edge of the SUMO network",
                    d.id, approach.id, approach.link
                ))
            })?;
            let lane = edge.lanes.iter().find(|l| l.index == d.lane).ok_or_else(|| {
                SumoError::Mapping(format!("detector {}: SUMO edge {} has no lane {}", d.id, edge.id, d.lane))
            })?;
            // The loop's downstream edge sits distance_m before the stop line; SUMO places a
            // loop by a single position, so use the middle of the loop.
            let pos = (lane.length_m - d.distance_m - d.length_m / 2.0).clamp(0.1, (lane.length_m - 0.1).max(0.1));
            out.push(LoopSite { id: d.id.clone(), lane: format!("{}_{}", edge.id, d.lane), pos_m: pos });
        }
    }
    Ok(out)
}

fn loops_xml(loops: &[LoopSite]) -> String {
    let mut s = String::from("<additional>\n");
    for l in loops {
        s.push_str(&format!(
            "    <inductionLoop id=\"{}\" lane=\"{}\" pos=\"{:.2}\" period=\"60\" file=\"NUL\"/>\n",
            xml_escape(&l.id),
            xml_escape(&l.lane),
            l.pos_m
        ));
    }
    s.push_str("</additional>\n");
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Runs SUMO under `control` until SUMO has no more vehicles to simulate, `end_s`, or the
/// configuration's end time. SUMO is stopped on every error.
pub fn run_control(site: &Site, run: &SumoRun, control: &mut dyn SignalControl) -> Result<SumoRunSummary, SumoError> {
    let started = Instant::now();
    let cfg = SumoConfig::load(&run.sumocfg)?;
    let net = Net::load(&cfg.net_file)?;
    let mappings: Vec<TlsMapping> =
        site.intersections.iter().map(|i| TlsMapping::new(site, i, &net)).collect::<Result<_, _>>()?;
    let loops = loops(site, &net)?;
    let queue_lanes: Vec<((String, u8), String)> = site
        .intersections
        .iter()
        .flat_map(|i| &i.approaches)
        .flat_map(|a| (0..a.lanes.len()).map(move |k| (a, k)))
        .map(|(a, k)| {
            let lane = u8::try_from(k).unwrap_or(u8::MAX);
            ((a.id.clone(), lane), format!("{}_{k}", a.link))
        })
        .collect();

    let dir = tempfile::Builder::new().prefix("nutgiao-sumo-").tempdir().map_err(|cause| SumoError::Io {
        what: "cannot create a temporary directory",
        path: std::env::temp_dir(),
        cause,
    })?;
    let loops_file = dir.path().join("nutgiao_detectors.add.xml");
    std::fs::write(&loops_file, loops_xml(&loops)).map_err(|cause| SumoError::Io {
        what: "cannot write the detector file",
        path: loops_file.clone(),
        cause,
    })?;
    // `-a` replaces the configuration's additional files, so they are passed again with ours.
    let mut additional: Vec<String> = cfg.additional_files.iter().map(|p| p.display().to_string()).collect();
    additional.push(loops_file.display().to_string());
    let mut args = vec![
        "-c".to_owned(),
        run.sumocfg.display().to_string(),
        "--seed".to_owned(),
        run.seed.to_string(),
        "-a".to_owned(),
        additional.join(","),
    ];
    args.extend(run.extra_args.iter().cloned());

    let end_s =
        [run.end_s, extra_value(&run.extra_args, "--end", "-e").or(cfg.end_s)].into_iter().flatten().reduce(f64::min);
    let step_length_s = extra_value(&run.extra_args, "--step-length", "").unwrap_or(cfg.step_length_s);
    log_change_intervals(site, step_length_s);

    let mut sumo = SumoProcess::start(&SumoLaunch::new(args))?;
    let result = drive(&mut sumo, &mappings, &loops, &queue_lanes, end_s, control);
    match result {
        Ok(mut summary) => {
            sumo.close()?;
            summary.step_length_s = step_length_s;
            summary.wall_s = started.elapsed().as_secs_f64();
            tracing::info!(
                controller = summary.controller,
                steps = summary.steps,
                arrived = summary.arrived,
                teleports = summary.teleports,
                wall_s = summary.wall_s,
                "SUMO run finished"
            );
            Ok(summary)
        }
        Err(e) => {
            let e = match (&e, sumo.exit_status()) {
                (SumoError::ConnectionLost { during, .. } | SumoError::Timeout { during, .. }, Some(status)) => {
                    SumoError::BadResponse(format!("SUMO exited ({status}) during {during}"))
                }
                _ => e,
            };
            drop(sumo);
            Err(e)
        }
    }
}

fn drive(
    sumo: &mut SumoProcess,
    mappings: &[TlsMapping],
    loops: &[LoopSite],
    queue_lanes: &[((String, u8), String)],
    end_s: Option<f64>,
    control: &mut dyn SignalControl,
) -> Result<SumoRunSummary, SumoError> {
    let client = &mut sumo.client;
    let (api, sumo_version) = client.version()?;
    tracing::info!(api, sumo_version, port = sumo.port, "connected to SUMO");
    let mut requests: Vec<(u8, u8, String)> = vec![
        (cmd::GET_SIM, var::TIME, String::new()),
        (cmd::GET_SIM, var::MIN_EXPECTED_VEHICLES, String::new()),
        (cmd::GET_SIM, var::DEPARTED_VEHICLES_NUMBER, String::new()),
        (cmd::GET_SIM, var::ARRIVED_VEHICLES_NUMBER, String::new()),
        (cmd::GET_SIM, var::TELEPORT_STARTING_VEHICLES_NUMBER, String::new()),
    ];
    for l in loops {
        // Not LAST_STEP_VEHICLE_NUMBER: that counts every vehicle on the loop in each step, so a
        // vehicle queued over a loop is counted once per second it stands there (at 1 s steps
        // on the arterial, 2.3 times the real flow at a side street's stop line and 1.6 times on
        // the arterial, so the flow-based plans gave side streets too little of a too long
        // cycle). A loop counts a vehicle once, when it arrives: the ids not on it the step before.
        requests.push((cmd::GET_INDUCTION_LOOP, LAST_STEP_VEHICLE_ID_LIST, l.id.clone()));
        requests.push((cmd::GET_INDUCTION_LOOP, var::LAST_STEP_OCCUPANCY, l.id.clone()));
        requests.push((cmd::GET_INDUCTION_LOOP, var::LAST_STEP_TIME_SINCE_DETECTION, l.id.clone()));
    }
    for (_, lane) in queue_lanes {
        requests.push((cmd::GET_LANE, var::LAST_STEP_VEHICLE_HALTING_NUMBER, lane.clone()));
    }

    let mut summary = SumoRunSummary {
        controller: control.name().to_owned(),
        sumo_version,
        step_length_s: 0.0,
        steps: 0,
        end_time_s: 0.0,
        departed: 0,
        arrived: 0,
        teleports: 0,
        state_changes: 0,
        wall_s: 0.0,
    };
    let mut counts: BTreeMap<String, u32> = loops.iter().map(|l| (l.id.clone(), 0)).collect();
    let mut on_loop: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut sent: BTreeMap<String, String> = BTreeMap::new();
    loop {
        let values = client.get_many(&requests)?;
        let mut it = values.into_iter();
        let mut next = || it.next().ok_or_else(|| SumoError::BadResponse("fewer answers than requests".into()));
        let now_s = as_f64(next()?, "simulation time")?;
        let expected = as_i32(next()?, "expected vehicles")?;
        summary.departed += count(next()?, "departed vehicles")?;
        summary.arrived += count(next()?, "arrived vehicles")?;
        summary.teleports += count(next()?, "teleporting vehicles")?;
        summary.end_time_s = now_s;
        if summary.steps > 0 && expected <= 0 {
            break;
        }
        if end_s.is_some_and(|end| now_s >= end) {
            break;
        }

        let mut snapshot = DetectorSnapshot { now_s, ..Default::default() };
        for l in loops {
            let ids = vehicle_ids(next()?, "loop vehicle ids")?;
            let before = on_loop.entry(l.id.clone()).or_default();
            let passed = entered(before, &ids);
            *before = ids;
            let occupancy = as_f64(next()?, "loop occupancy")? / 100.0;
            let since = as_f64(next()?, "loop time since detection")?;
            let total = counts.entry(l.id.clone()).or_default();
            *total = total.wrapping_add(u32::try_from(passed).unwrap_or(u32::MAX));
            snapshot.detectors.insert(
                l.id.clone(),
                DetectorReading { count: *total, occupancy, presence: since <= 0.0, gap_s: since.max(0.0) },
            );
        }
        for (key, _) in queue_lanes {
            let halting = count(next()?, "lane halting number")?;
            snapshot.queues_m.insert(key.clone(), halting as f64 * QUEUED_VEHICLE_SPACE_M);
        }

        let signals = control.update(&snapshot);
        for m in mappings {
            let Some(phases) = signals.get(&m.tls) else {
                return Err(SumoError::Mapping(format!(
                    "controller {} gave no signals for intersection {}",
                    control.name(),
                    m.tls
                )));
            };
            let state = m.state(phases, now_s)?;
            if sent.get(&m.tls) != Some(&state) {
                client.set_tl_state(&m.tls, &state)?;
                tracing::trace!(tls = m.tls, state, now_s, "signal state");
                summary.state_changes += 1;
                sent.insert(m.tls.clone(), state);
            }
        }
        client.step()?;
        summary.steps += 1;
    }
    Ok(summary)
}

/// A number given among the extra SUMO arguments as `LONG V`, `LONG=V` or `SHORT V` (the
/// last one counts, as in SUMO); it overrides the configuration's (`--end`, `--step-length`).
fn extra_value(args: &[String], long: &str, short: &str) -> Option<f64> {
    let mut value = None;
    for (k, a) in args.iter().enumerate() {
        if let Some(v) = a.strip_prefix(long).and_then(|rest| rest.strip_prefix('=')) {
            value = v.parse().ok();
        } else if a == long || (!short.is_empty() && a == short) {
            value = args.get(k + 1).and_then(|v| v.parse().ok());
        }
    }
    value
}

/// How long a change interval (yellow, then red clearance) lasts when signals change only
/// between SUMO's steps of `step_s`: each part lasts until the first step at or after its
/// end, so each is never shorter than the site's and at most one step longer. At the
/// arterial's 1 s steps the arterial's 3.3 s yellow and 1.5 s red clearance take 4 + 2 s,
/// the side streets' 3.0 + 2.5 s 3 + 3 s.
pub fn change_interval_on_steps(yellow_s: f64, red_clearance_s: f64, step_s: f64) -> f64 {
    let on_steps = |t: f64| (t / step_s - 1e-6).ceil().max(0.0) * step_s;
    on_steps(yellow_s) + on_steps(red_clearance_s)
}

/// Says how much SUMO's step lengthens each phase's change interval (lost time every cycle).
fn log_change_intervals(site: &Site, step_s: f64) {
    if !(step_s.is_finite() && step_s > 0.0) {
        return;
    }
    for inter in &site.intersections {
        for p in &inter.phases {
            let site_s = p.yellow_s + p.red_clearance_s;
            let run_s = change_interval_on_steps(p.yellow_s, p.red_clearance_s, step_s);
            if run_s > site_s + 1e-6 {
                tracing::info!(
                    intersection = %inter.id,
                    phase = p.id,
                    step_s,
                    "yellow {} s + red clearance {} s last {run_s:.1} s at SUMO's step ({site_s:.1} s in the site)",
                    p.yellow_s,
                    p.red_clearance_s
                );
            }
        }
    }
}

fn vehicle_ids(v: Value, what: &str) -> Result<Vec<String>, SumoError> {
    match v {
        Value::StringList(ids) => Ok(ids),
        other => Err(SumoError::BadResponse(format!("{what} came as a {} value", other.type_name()))),
    }
}

/// Vehicles on a loop now that were not on it in the step before: each vehicle counts once
/// however many steps it stands on the loop.
fn entered(before: &[String], now: &[String]) -> u64 {
    now.iter().filter(|id| !before.contains(id)).count() as u64
}

fn count(v: Value, what: &str) -> Result<u64, SumoError> {
    let n = as_i32(v, what)?;
    u64::try_from(n).map_err(|_| SumoError::BadResponse(format!("{what} is negative ({n})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_files_resolve_against_the_config_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("x.sumocfg");
        std::fs::write(
            &cfg,
            r#"<configuration><input><net-file value="n.net.xml"/><additional-files value="a.xml,b.xml"/></input>
               <time><step-length value="0.5"/></time></configuration>"#,
        )
        .unwrap();
        let c = SumoConfig::load(&cfg).unwrap();
        assert_eq!(c.net_file, dir.path().join("n.net.xml"));
        assert_eq!(c.additional_files, vec![dir.path().join("a.xml"), dir.path().join("b.xml")]);
        assert_eq!(c.step_length_s, 0.5);
        assert_eq!(c.end_s, None);
        let args = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(extra_value(&args(&["--no-step-log", "-e", "60"]), "--end", "-e"), Some(60.0));
        assert_eq!(extra_value(&args(&["--end=90", "--step-length", "0.5"]), "--end", "-e"), Some(90.0));
        assert_eq!(extra_value(&args(&["--step-length", "0.5"]), "--step-length", ""), Some(0.5));
        assert_eq!(extra_value(&args(&["--step-length=0.1", "-e", "5"]), "--step-length", ""), Some(0.1));
        assert_eq!(extra_value(&args(&["--step-lengthx=2"]), "--step-length", ""), None);
        std::fs::write(&cfg, "<configuration/>").unwrap();
        assert!(SumoConfig::load(&cfg).unwrap_err().to_string().contains("net-file"));
    }

    #[test]
    fn change_intervals_last_whole_steps_never_less_than_the_site() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        // The arterial's phases: 3.3 s yellow + 1.5 s red; the side streets' 3.0 + 2.5 s.
        assert!(close(change_interval_on_steps(3.3, 1.5, 1.0), 6.0));
        assert!(close(change_interval_on_steps(3.0, 2.5, 1.0), 6.0));
        assert!(close(change_interval_on_steps(3.3, 1.5, 0.5), 5.0));
        assert!(close(change_interval_on_steps(3.0, 2.5, 0.5), 5.5));
        assert!(close(change_interval_on_steps(3.3, 1.5, 0.1), 4.8));
        assert!(close(change_interval_on_steps(3.0, 0.0, 1.0), 3.0));
        for step in [0.1, 0.2, 0.25, 0.5, 1.0, 2.0] {
            for (y, r) in [(3.3, 1.5), (3.0, 2.5), (4.0, 1.0), (3.6, 0.7)] {
                let t = change_interval_on_steps(y, r, step);
                assert!(t + 1e-9 >= y + r && t <= y + r + 2.0 * step + 1e-9, "{y} {r} {step}: {t}");
            }
        }
    }

    /// The sequencer, updated once a SUMO step, shows each change interval for exactly
    /// `change_interval_on_steps` (fixed90 at J1: arterial phase 2 to side phase 4 and back).
    #[test]
    fn the_sequencer_at_sumos_step_runs_the_change_intervals_on_steps() {
        use crate::plan::CorridorPlan;
        use crate::sequencer::{Mode, Sequencer};
        use crate::signal::Indication;
        let site = crate::testing::arterial();
        let j1 = site.intersection("J1").unwrap();
        let plan = CorridorPlan::named(&site, "fixed90").unwrap().for_intersection("J1").unwrap().clone();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
        for step in [1.0_f64, 0.5, 0.1] {
            let mut seq = Sequencer::new(j1, Mode::Fixed(plan.clone())).unwrap();
            // (time, phase, new indication) of every change after the first update.
            let mut events = Vec::new();
            let mut before = seq.states().to_vec();
            for k in 0..=(200.0 / step).round() as usize {
                let now = k as f64 * step;
                let states = seq.update(&DetectorSnapshot { now_s: now, ..Default::default() }).to_vec();
                if k > 0 {
                    for (old, new) in before.iter().zip(&states) {
                        if old.indication != new.indication {
                            events.push((now, new.phase, new.indication));
                        }
                    }
                }
                before = states;
            }
            let after = |t0: f64, phase, ind| events.iter().find(|e| e.0 > t0 && e.1 == phase && e.2 == ind).unwrap().0;
            let y2 = after(0.0, 2, Indication::Yellow);
            assert!(close(after(y2, 2, Indication::Red) - y2, change_interval_on_steps(3.3, 0.0, step)), "step {step}");
            let g4 = after(y2, 4, Indication::Green);
            assert!(close(g4 - y2, change_interval_on_steps(3.3, 1.5, step)), "step {step}: {}", g4 - y2);
            let y4 = after(g4, 4, Indication::Yellow);
            let g2 = after(y4, 2, Indication::Green);
            assert!(close(g2 - y4, change_interval_on_steps(3.0, 2.5, step)), "step {step}: {}", g2 - y4);
        }
    }

    #[test]
    fn a_vehicle_standing_on_a_loop_counts_once() {
        let ids = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let steps = [ids(&["a"]), ids(&["a"]), ids(&["a", "b"]), ids(&["b"]), ids(&[]), ids(&["c"])];
        let mut before = Vec::new();
        let mut total = 0;
        for now in steps {
            total += entered(&before, &now);
            before = now;
        }
        assert_eq!(total, 3);
        assert!(vehicle_ids(Value::Int(2), "loop vehicle ids").is_err());
    }

    #[test]
    fn loops_sit_upstream_of_the_stop_line_on_the_named_lane() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let net_path = root.join("../shared/data/sumo-arterial/arterial_static.net.xml");
        if !net_path.is_file() {
            eprintln!("skipping: ../shared/data/sumo-arterial is not beside the checkout");
            return;
        }
        let site = nutgiao_config::load(root.join("config/examples/arterial.toml")).unwrap();
        let net = Net::load(&net_path).unwrap();
        let l = loops(&site, &net).unwrap();
        let adv = l.iter().find(|l| l.id == "J1-W-1-adv").unwrap();
        assert_eq!(adv.lane, "WJ1_1");
        assert!((adv.pos_m - (292.8 - 61.0)).abs() < 1e-6, "{}", adv.pos_m);
        let stop = l.iter().find(|l| l.id == "J2-N-0-stop").unwrap();
        assert_eq!(stop.lane, "N2J2_0");
        assert!((stop.pos_m - (189.6 - 1.0)).abs() < 1e-6);
        assert!(loops_xml(&l).contains(r#"<inductionLoop id="J1-W-1-adv" lane="WJ1_1" pos="231.80""#));
    }
}
