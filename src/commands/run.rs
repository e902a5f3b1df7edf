//! `nutgiao run`: a deployment on a real site. The central controller drives the site's
//! field controllers over Modbus TCP, the vision pipeline watches its cameras, and the
//! operators' surface (API, dashboard, /metrics, MQTT) shows and publishes it all.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use nutgiao_controller::central::Central;
use nutgiao_vision::camera::CameraSetup;
use nutgiao_vision::ingest::Pacing;
use nutgiao_vision::service::{CameraService, ServiceOptions};
use nutgiao_vision::store::EventStore;

use crate::cli::SiteArgs;
use crate::services;

pub fn run(args: &SiteArgs) -> anyhow::Result<ExitCode> {
    let site = Arc::new(super::load_site(&args.site)?);
    let data_dir = PathBuf::from(&site.operations.data_dir);
    let (state, command_rx) = services::open_ops(site.clone(), &data_dir)?;
    let live = state.live.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;

    let bus = match &site.operations.mqtt {
        Some(broker) => {
            let client = crate::scaleout::client_id(&format!("nutgiao-{}", site.site.name), "events");
            let (bus, publisher) = nutgiao_ops::bus::Bus::open(
                &data_dir.join("bus.db"),
                broker,
                &client,
                &site.site.name,
                live.metrics.clone(),
            )?;
            rt.spawn(publisher.run());
            Some(bus)
        }
        None => None,
    };

    let algorithm = site.control.algorithm.clone();
    let central = Central::new(&site, &algorithm).with_context(|| format!("controller {algorithm}"))?;
    let handle = central.handle();
    rt.spawn(central.run(None));
    if let Some(broker) = &site.operations.mqtt {
        // Edge vision nodes elsewhere read the signal states and send their counts here.
        crate::scaleout::join_as_central(
            &rt,
            broker,
            &format!("nutgiao-{}", site.site.name),
            site.clone(),
            handle.clone(),
        )
        .with_context(|| format!("event bus {broker}"))?;
    }
    rt.spawn(services::mirror_central(handle.clone(), live.clone()));
    rt.spawn(services::mirror_cabinet_signals(handle.clone(), live.clone()));
    rt.spawn(services::apply_overrides(command_rx, handle, live.clone()));

    let stop = Arc::new(AtomicBool::new(false));
    let store = EventStore::open(&data_dir.join("events.db"))?;
    let pruned = store.prune(Duration::from_secs(u64::from(site.operations.retention_days) * 86_400))?;
    if pruned > 0 {
        tracing::info!("pruned {pruned} events older than {} days", site.operations.retention_days);
    }
    let (tx, rx) = nutgiao_vision::crossbeam_channel::unbounded();
    let options = ServiceOptions {
        store: Arc::new(Mutex::new(store)),
        evidence_dir: Some(data_dir.join("evidence")),
        pacing: Pacing::Live,
        backoff_min: Duration::from_secs(1),
        backoff_max: Duration::from_secs(30),
        stop: stop.clone(),
        subscriber: Some(tx),
    };
    let mut cameras = Vec::new();
    let decoder_threads = nutgiao_vision::ingest::decoder_threads(None, site.cameras.len(), Pacing::Live);
    for cam in &site.cameras {
        // A camera that cannot be set up is reported; the others keep running.
        match CameraSetup::from_site(&site, &cam.id) {
            Ok(mut setup) => {
                setup.decoder_threads = decoder_threads;
                cameras.push(CameraService::spawn(setup, services::signal_feed(live.clone()), options.clone()))
            }
            Err(e) => tracing::error!("camera {}: {e}", cam.id),
        }
    }
    drop(options);
    let forwarder = services::forward_vision(rx, live.clone(), bus);
    let health =
        services::mirror_cameras(cameras.iter().map(|c| c.health.clone()).collect(), live.clone(), stop.clone());

    let listener = rt
        .block_on(tokio::net::TcpListener::bind(&site.operations.listen))
        .with_context(|| format!("operations.listen {}", site.operations.listen))?;
    let addr = listener.local_addr()?;
    println!(
        "nutgiao run: {} with {} cameras and {} intersections",
        site.site.name,
        cameras.len(),
        site.intersections.len()
    );
    println!("  dashboard http://{addr}/   metrics http://{addr}/metrics   API http://{addr}/api/corridor");
    rt.block_on(async {
        tokio::select! {
            r = nutgiao_ops::serve(listener, state, std::future::pending()) => r.map_err(anyhow::Error::from),
            r = tokio::signal::ctrl_c() => { r?; tracing::info!("interrupted: shutting down"); Ok(()) }
        }
    })?;
    stop.store(true, Ordering::SeqCst);
    for c in cameras {
        c.join();
    }
    let _ = forwarder.join();
    let _ = health.join();
    rt.shutdown_timeout(Duration::from_secs(2));
    Ok(ExitCode::SUCCESS)
}
