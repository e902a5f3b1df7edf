use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use nutgiao_vision::camera::CameraSetup;
use nutgiao_vision::ingest::Pacing;
use nutgiao_vision::service::{CameraService, ServiceOptions};
use nutgiao_vision::signals::NoFeed;
use nutgiao_vision::store::EventStore;

use crate::cli::WatchArgs;

pub fn run(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let site = nutgiao_config::load(&args.site).with_context(|| format!("site file {}", args.site.display()))?;
    let store = EventStore::open(&args.store)?;
    let pruned = store.prune(Duration::from_secs_f64(args.retention_days.max(0.0) * 86400.0))?;
    if pruned > 0 {
        tracing::info!("pruned {pruned} events older than {} days", args.retention_days);
    }
    let store = Arc::new(Mutex::new(store));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = nutgiao_vision::crossbeam_channel::unbounded();
    let options = ServiceOptions {
        store,
        evidence_dir: Some(args.evidence.clone()),
        pacing: if args.camera_dir.is_some() { Pacing::EveryFrame } else { Pacing::Live },
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        stop: stop.clone(),
        subscriber: Some(tx),
    };
    let mut services = Vec::new();
    for cam in &site.cameras {
        // A camera with a bad calibration is reported and skipped; the others keep running.
        let mut setup = match CameraSetup::from_site(&site, &cam.id) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}");
                continue;
            }
        };
        if let Some(dir) = &args.camera_dir {
            setup.uri = dir.join(format!("{}.mp4", cam.id)).display().to_string();
        }
        services.push(CameraService::spawn(setup, Arc::new(NoFeed), options.clone()));
    }
    drop(options);
    let mut out = match &args.events {
        Some(p) => Some(std::fs::File::create(p).with_context(|| format!("events file {}", p.display()))?),
        None => None,
    };
    let started = Instant::now();
    let deadline = args.duration.map(Duration::from_secs_f64);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(event) => {
                if let Some(f) = out.as_mut() {
                    writeln!(f, "{}", serde_json::to_string(&event)?)?;
                }
            }
            Err(nutgiao_vision::crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            Err(nutgiao_vision::crossbeam_channel::RecvTimeoutError::Timeout) => {}
        }
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            stop.store(true, Ordering::Relaxed);
        }
        if services.iter().all(|s| s.is_finished()) {
            // Drain what the cameras sent before they finished.
            while let Ok(event) = rx.try_recv() {
                if let Some(f) = out.as_mut() {
                    writeln!(f, "{}", serde_json::to_string(&event)?)?;
                }
            }
            break;
        }
    }
    for s in services {
        let h = s.join();
        println!("{}", serde_json::to_string(&h)?);
    }
    Ok(ExitCode::SUCCESS)
}
