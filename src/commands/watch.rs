use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nutgiao_vision::camera::CameraSetup;
use nutgiao_vision::ingest::Pacing;
use nutgiao_vision::service::{CameraService, ServiceOptions};
use nutgiao_vision::signals::{NoFeed, SignalFeed};
use nutgiao_vision::store::EventStore;

use crate::cli::WatchArgs;
use crate::scaleout::{self, BusSignals};
use crate::services::Reported;

pub fn run(args: &WatchArgs) -> anyhow::Result<ExitCode> {
    let site = super::load_site(&args.site)?;
    if let Some(unknown) = args.cameras.iter().find(|c| !site.cameras.iter().any(|k| &k.id == *c)) {
        bail!("--camera {unknown}: the site has no such camera (it has {})", camera_ids(&site));
    }
    // On the bus: events go out through a durable outbox, signal states come in.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
    let broker = args.bus.mqtt.clone().or_else(|| site.operations.mqtt.clone());
    let node = args.bus.node.clone().unwrap_or_else(|| format!("watch-{}", scaleout::host_name()));
    let signals = BusSignals::default();
    let bus = match &broker {
        Some(broker) => {
            let outbox = args.outbox.clone().unwrap_or_else(|| args.store.with_extension("outbox.sqlite"));
            let metrics = nutgiao_ops::Metrics::new(&site.site.name)?;
            let (bus, publisher) = nutgiao_ops::bus::Bus::open(
                &outbox,
                broker,
                &scaleout::client_id(&node, "events"),
                &site.site.name,
                metrics,
            )
            .with_context(|| format!("event bus {broker}"))?;
            rt.spawn(publisher.run());
            rt.spawn(scaleout::receive_signals(broker.clone(), node.clone(), site.site.name.clone(), signals.clone()));
            tracing::info!(node = %node, broker = %broker, outbox = %outbox.display(), "on the event bus");
            Some(bus)
        }
        None => None,
    };
    // Recorded files are judged from the signal heads in the image: the live signal state says
    // nothing about the moment a recording shows.
    let feed: Arc<dyn SignalFeed> =
        if bus.is_some() && args.camera_dir.is_none() { signals.feed() } else { Arc::new(NoFeed) };
    let store = EventStore::open(&args.store)?;
    let pruned = store.prune(Duration::from_secs_f64(args.retention_days.max(0.0) * 86400.0))?;
    if pruned > 0 {
        tracing::info!("pruned {pruned} events older than {} days", args.retention_days);
    }
    let store = Arc::new(Mutex::new(store));
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = nutgiao_vision::crossbeam_channel::unbounded();
    let pacing = if args.camera_dir.is_some() { Pacing::EveryFrame } else { Pacing::Live };
    let options = ServiceOptions {
        store,
        evidence_dir: Some(args.evidence.clone()),
        pacing,
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        stop: stop.clone(),
        subscriber: Some(tx),
    };
    let mut services = Vec::new();
    let watched: Vec<_> =
        site.cameras.iter().filter(|c| args.cameras.is_empty() || args.cameras.contains(&c.id)).collect();
    let decoder_threads = nutgiao_vision::ingest::decoder_threads(args.decoder_threads, watched.len(), pacing);
    for cam in watched {
        // A camera with a bad calibration is reported and skipped; the others keep running.
        let mut setup = match CameraSetup::from_site(&site, &cam.id) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}");
                continue;
            }
        };
        setup.decoder_threads = decoder_threads;
        if let Some(dir) = &args.camera_dir {
            setup.uri = dir.join(format!("{}.mp4", cam.id)).display().to_string();
        }
        services.push(CameraService::spawn(setup, feed.clone(), options.clone()));
    }
    drop(options);
    let mut out = match &args.events {
        Some(p) => Some(std::fs::File::create(p).with_context(|| format!("events file {}", p.display()))?),
        None => None,
    };
    let mut report = |event: &nutgiao_vision::VisionEvent| -> anyhow::Result<()> {
        if let Some(bus) = &bus {
            // The event is in the vision store already; a bus failure is logged, never fatal.
            if let Err(e) = Reported::of(event).publish(bus, event) {
                tracing::error!("event {} not queued for the bus: {e}", event.id);
            }
        }
        if let Some(f) = out.as_mut() {
            writeln!(f, "{}", serde_json::to_string(event)?)?;
        }
        Ok(())
    };
    let started = Instant::now();
    let deadline = args.duration.map(Duration::from_secs_f64);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(event) => report(&event)?,
            Err(nutgiao_vision::crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            Err(nutgiao_vision::crossbeam_channel::RecvTimeoutError::Timeout) => {}
        }
        if deadline.is_some_and(|d| started.elapsed() >= d) {
            stop.store(true, Ordering::Relaxed);
        }
        if services.iter().all(|s| s.is_finished()) {
            // Drain what the cameras sent before they finished.
            while let Ok(event) = rx.try_recv() {
                report(&event)?;
            }
            break;
        }
    }
    for s in services {
        let h = s.join();
        println!("{}", serde_json::to_string(&h)?);
    }
    if let Some(bus) = &bus {
        // The outbox keeps whatever the broker has not acknowledged yet for the next start;
        // waiting a little lets a short run hand over what it reported.
        let unsent = bus.wait_sent(Duration::from_secs(5));
        let report = serde_json::json!({ "node": node, "bus_unsent": unsent, "signals": signals.seen() });
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn camera_ids(site: &nutgiao_config::Site) -> String {
    site.cameras.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
}
