//! `nutgiao demo`: the closed loop on the simulator. The corridor is simulated in real time
//! under its virtual field controllers (Modbus TCP on loopback), which the central adaptive
//! controller drives; the operators' surface shows it all.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use nutgiao_controller::central::Central;
use nutgiao_ops::events::LaneMeasured;
use nutgiao_simulator::camera::{Conditions, Destination, Film, FilmOptions, TimeOfDay};
use nutgiao_simulator::field::FieldSite;
use nutgiao_simulator::{SimOptions, Simulation};
use nutgiao_vision::camera::CameraSetup;
use nutgiao_vision::ingest::Pacing;
use nutgiao_vision::service::{CameraService, ServiceOptions};
use nutgiao_vision::store::EventStore;
use serde_json::json;

use crate::cli::DemoArgs;
use crate::services;

/// How often lane queues are reported (simulated seconds).
const LANE_REPORT_S: f64 = 2.0;

pub fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if let Some(d) = args.duration
        && !(d.is_finite() && d > 0.0)
    {
        anyhow::bail!("--duration {d}: must be a positive number of seconds");
    }
    let site = Arc::new(super::load_site(&args.site)?);
    let data_dir = PathBuf::from(&site.operations.data_dir);
    let (state, command_rx) = services::open_ops(site.clone(), &data_dir)?;
    let live = state.live.clone();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let field = FieldSite::new(&site).context("virtual field controllers")?;
    let servers = rt.block_on(field.serve(&site)).context("starting the virtual field controllers")?;
    let algorithm = site.control.algorithm.clone();
    let central = Central::new(&site, &algorithm).with_context(|| format!("controller {algorithm}"))?;
    let handle = central.handle();
    rt.spawn(central.run(None));
    rt.spawn(services::mirror_central(handle.clone(), live.clone()));
    rt.spawn(services::apply_overrides(command_rx, handle.clone(), live.clone()));

    let listener = rt
        .block_on(tokio::net::TcpListener::bind(&args.listen))
        .with_context(|| format!("--listen {}", args.listen))?;
    let addr = listener.local_addr()?;
    rt.spawn(async move {
        if let Err(e) = nutgiao_ops::serve(listener, state, std::future::pending()).await {
            tracing::error!("{e}");
        }
    });
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        rt.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                tracing::info!("interrupted: shutting down");
                stop.store(true, Ordering::SeqCst);
            }
        });
    }

    println!("nutgiao demo: {} ({})", site.site.name, site.site.description);
    println!("  dashboard   http://{addr}/");
    println!("  metrics     http://{addr}/metrics");
    println!("  API         http://{addr}/api/corridor  (OpenAPI: http://{addr}/api/openapi.json)");
    for i in &site.intersections {
        if let Some(fc) = &i.field_controller {
            println!("  cabinet {:<4} modbus://{}  (unit {})", i.id, fc.address, fc.unit_id);
        }
    }
    println!("  controller  {algorithm}; Ctrl-C stops everything");

    // The synthetic cameras film the simulation over RTSP and the vision pipeline watches them,
    // with the cabinets' signals as its feed. The demo injects some misbehaviour so that there
    // is something to detect (the site file keeps SUMO's well-behaved demand).
    let film_site = with_demo_misbehaviour(&site);
    let mut film = if args.no_cameras || site.cameras.is_empty() {
        None
    } else {
        let opts = FilmOptions {
            conditions: Conditions::for_time(TimeOfDay::Day),
            seed: 1,
            destination: Destination::Rtsp { address: "127.0.0.1".into() },
        };
        Some(Film::new(&film_site, &opts, None).context("synthetic cameras")?)
    };
    let vision = match &film {
        Some(f) => {
            for c in f.camera_ids() {
                if let Some(cam) = site.cameras.iter().find(|x| x.id == c) {
                    println!("  camera {c:<8} {}", cam.uri);
                }
            }
            Some(start_vision(&site, &data_dir, &live, &stop)?)
        }
        None => None,
    };
    let step_s = film.as_ref().map_or(SimOptions::default().step_s, Film::frame_interval_s);
    let mut sim = Simulation::new(&film_site, SimOptions { step_s, ..SimOptions::default() }).context("simulation")?;
    let mut control = field.clone();
    let duration = args.duration.unwrap_or(f64::INFINITY);
    let mut next_lane_report = 0.0;
    nutgiao_simulator::run_realtime(&mut sim, &mut control, duration, 1.0, |sim| {
        for (id, phases) in sim.signals() {
            live.report_signals(id, phases);
        }
        if sim.now_s() >= next_lane_report {
            next_lane_report = sim.now_s() + LANE_REPORT_S;
            report_lanes(&live, sim);
        }
        if let Some(f) = film.as_mut()
            && let Err(e) = f.capture(sim)
        {
            tracing::error!("synthetic cameras stopped: {e}");
            film = None;
        }
        !stop.load(Ordering::SeqCst)
    });
    let summary = sim.summary();
    for s in servers {
        s.abort();
    }
    stop.store(true, Ordering::SeqCst);
    if let Some((cameras, forwarder, health)) = vision {
        for c in cameras {
            c.join();
        }
        let _ = forwarder.join();
        let _ = health.join();
    }
    let film_summary = match film.map(Film::finish).transpose() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("synthetic cameras: {e}");
            None
        }
    };

    // The same demand, seed and duration under SUMO's default 90 s plan, as fast as possible.
    let baseline = match nutgiao_controller::by_name(&site, "fixed:fixed90") {
        Ok(mut fixed) => {
            let mut base = Simulation::new(&site, SimOptions::default()).context("baseline simulation")?;
            nutgiao_simulator::run(&mut base, fixed.as_mut(), summary.sim_time_s, |_| {});
            Some(base.summary())
        }
        Err(e) => {
            tracing::warn!("no fixed90 baseline: {e}");
            None
        }
    };
    let report = json!({
        "site": site.site.name,
        "controller": algorithm,
        "sim_time_s": summary.sim_time_s,
        "simulation": summary,
        "baseline_fixed90": baseline,
        "time_loss_vs_fixed90": baseline.as_ref().map(|b| summary.mean_time_loss_s / b.mean_time_loss_s.max(1e-9)),
        "controllers": handle.status(),
        "cameras": film_summary.as_ref().map(|f| json!({
            "frames_per_camera": f.frames_per_camera,
            "true_line_crossings": f.crossings,
            "counted": live.count_total(),
            "true_violations_in_view": f.violations,
            "violations_reported": live.violations(usize::MAX).len(),
        })),
    });
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.summary {
        std::fs::write(path, &text).with_context(|| format!("--summary {}", path.display()))?;
    }
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}

/// Vision over every camera of the site, reporting into the live state.
type Vision = (Vec<CameraService>, std::thread::JoinHandle<()>, std::thread::JoinHandle<()>);

fn start_vision(
    site: &nutgiao_config::Site,
    data_dir: &std::path::Path,
    live: &nutgiao_ops::Live,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vision> {
    let store = EventStore::open(&data_dir.join("events.db"))?;
    let (tx, rx) = nutgiao_vision::crossbeam_channel::unbounded();
    let options = ServiceOptions {
        store: Arc::new(std::sync::Mutex::new(store)),
        evidence_dir: Some(data_dir.join("evidence")),
        pacing: Pacing::Live,
        backoff_min: std::time::Duration::from_millis(500),
        backoff_max: std::time::Duration::from_secs(5),
        stop: stop.clone(),
        subscriber: Some(tx),
    };
    let mut cameras = Vec::new();
    let decoder_threads = nutgiao_vision::ingest::decoder_threads(None, site.cameras.len(), Pacing::Live);
    for cam in &site.cameras {
        match CameraSetup::from_site(site, &cam.id) {
            Ok(mut setup) => {
                setup.decoder_threads = decoder_threads;
                cameras.push(CameraService::spawn(setup, services::signal_feed(live.clone()), options.clone()))
            }
            Err(e) => tracing::error!("camera {}: {e}", cam.id),
        }
    }
    let forwarder = services::forward_vision(rx, live.clone(), None);
    let health =
        services::mirror_cameras(cameras.iter().map(|c| c.health.clone()).collect(), live.clone(), stop.clone());
    Ok((cameras, forwarder, health))
}

/// The site with a little misbehaviour for the cameras to catch, unless it has its own.
fn with_demo_misbehaviour(site: &nutgiao_config::Site) -> nutgiao_config::Site {
    let mut s = site.clone();
    let m = &mut s.demand.misbehaviour;
    if m.red_light_runner + m.wrong_way + m.illegal_stop + m.speeder == 0.0 {
        m.red_light_runner = 0.02;
        m.wrong_way = 0.005;
        m.illegal_stop = 0.01;
        m.speeder = 0.05;
    }
    s
}

fn report_lanes(live: &nutgiao_ops::Live, sim: &Simulation) {
    let snap = sim.detector_snapshot();
    for ((approach, lane), queue_m) in &snap.queues_m {
        let Some((inter, a)) = live.site.approach(approach) else { continue };
        // Occupancy of the lane's stop-line loop, when it has one.
        let occupancy = inter
            .detectors
            .iter()
            .find(|d| d.approach == a.id && d.lane == *lane && d.kind == nutgiao_config::DetectorKind::StopLine)
            .and_then(|d| snap.detectors.get(&d.id))
            .map_or(0.0, |r| r.occupancy);
        live.report_lane(LaneMeasured {
            intersection: inter.id.clone(),
            approach: approach.clone(),
            lane: *lane,
            queue_m: *queue_m,
            occupancy,
        });
    }
}
