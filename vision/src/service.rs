//! The live per-camera service: a thread per camera that ingests, detects, tracks, counts
//! and judges; writes every event to the store BEFORE handing it to subscribers; reconnects
//! with backoff when the camera goes away; and keeps its health for metrics.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::camera::CameraSetup;
use crate::error::VisionError;
use crate::event::{CameraStatusEvent, EventKind, VisionEvent, wall_clock_now};
use crate::ingest::{FrameSource, Pacing, SourceSpec};
use crate::pipeline::{CameraPipeline, StageTimes};
use crate::signals::SignalFeed;
use crate::store::EventStore;

/// What an operator (and /metrics) sees of one camera.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CameraHealth {
    pub camera: String,
    pub up: bool,
    /// Frames processed per second over the last few seconds.
    pub fps: f64,
    pub frames: u64,
    /// Frames the camera sent that were dropped because processing fell behind.
    pub dropped_frames: u64,
    pub reconnects: u64,
    pub cause: Option<String>,
    pub stage_times_s: StageTimes,
    /// Mean time from a frame leaving GStreamer to its events being stored, seconds.
    pub frame_to_event_s: f64,
}

#[derive(Clone)]
pub struct ServiceOptions {
    pub store: Arc<Mutex<EventStore>>,
    pub evidence_dir: Option<PathBuf>,
    /// Live cameras reconnect for ever; a recorded file is read once to its end.
    pub pacing: Pacing,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub stop: Arc<AtomicBool>,
    /// Every stored event is sent here too (a dashboard, a JSON-lines file, the demo).
    pub subscriber: Option<crossbeam_channel::Sender<VisionEvent>>,
}

pub struct CameraService {
    pub camera: String,
    pub health: Arc<Mutex<CameraHealth>>,
    handle: JoinHandle<()>,
}

impl CameraService {
    pub fn spawn(setup: CameraSetup, signals: Arc<dyn SignalFeed>, options: ServiceOptions) -> CameraService {
        let camera = setup.camera.clone();
        let health = Arc::new(Mutex::new(CameraHealth { camera: camera.clone(), ..Default::default() }));
        let h = health.clone();
        let handle = std::thread::Builder::new()
            .name(format!("camera {camera}"))
            .spawn(move || run_camera(setup, signals.as_ref(), &options, &h))
            .unwrap_or_else(|e| panic!("cannot start a thread for camera: {e}"));
        CameraService { camera, health, handle }
    }

    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }

    pub fn join(self) -> CameraHealth {
        let _ = self.handle.join();
        self.health.lock().map(|h| h.clone()).unwrap_or_default()
    }
}

/// Stores first, then tells subscribers: an event anyone has seen is on disk.
fn publish(options: &ServiceOptions, event: VisionEvent) -> Result<(), VisionError> {
    {
        let store = options.store.lock().unwrap_or_else(|p| p.into_inner());
        store.insert(&event)?;
    }
    if let Some(tx) = &options.subscriber {
        // A subscriber that went away does not stop the camera.
        let _ = tx.send(event);
    }
    Ok(())
}

fn status(camera: &str, pts_s: f64, up: bool, health: &CameraHealth, cause: Option<String>) -> VisionEvent {
    let wall = wall_clock_now();
    VisionEvent {
        id: format!("{camera}:camera_status:{wall}:{}", if up { "up" } else { "down" }),
        camera: camera.to_owned(),
        pts_s,
        wall_utc: wall,
        kind: EventKind::CameraStatus(CameraStatusEvent {
            up,
            fps: health.fps,
            dropped_frames: health.dropped_frames,
            cause,
        }),
    }
}

fn update(health: &Mutex<CameraHealth>, f: impl FnOnce(&mut CameraHealth)) -> CameraHealth {
    let mut h = health.lock().unwrap_or_else(|p| p.into_inner());
    f(&mut h);
    h.clone()
}

fn run_camera(setup: CameraSetup, signals: &dyn SignalFeed, options: &ServiceOptions, health: &Mutex<CameraHealth>) {
    let camera = setup.camera.clone();
    let mut backoff = options.backoff_min;
    let mut last_pts = 0.0;
    while !options.stop.load(Ordering::Relaxed) {
        let result = run_session(&setup, signals, options, health, &mut last_pts);
        let cause = match result {
            Ok(()) => None,
            Err(e) => Some(e.to_string()),
        };
        let was_up = health.lock().map(|h| h.up).unwrap_or(false);
        let h = update(health, |h| {
            h.up = false;
            h.cause = cause.clone();
            h.fps = 0.0;
        });
        if let Some(c) = &cause {
            tracing::warn!(camera = %camera, "camera down: {c}");
        }
        if (cause.is_some() || was_up)
            && let Err(e) = publish(options, status(&camera, last_pts, false, &h, cause.clone()))
        {
            tracing::error!(camera = %camera, "cannot store camera status: {e}");
        }
        if options.pacing == Pacing::EveryFrame || options.stop.load(Ordering::Relaxed) {
            return;
        }
        if was_up {
            backoff = options.backoff_min;
        }
        tracing::info!(camera = %camera, "reconnecting in {:.1} s", backoff.as_secs_f64());
        let until = Instant::now() + backoff;
        while Instant::now() < until && !options.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        backoff = (backoff * 2).min(options.backoff_max);
        update(health, |h| h.reconnects += 1);
    }
}

/// One connection to the camera, until it ends or fails.
fn run_session(
    setup: &CameraSetup,
    signals: &dyn SignalFeed,
    options: &ServiceOptions,
    health: &Mutex<CameraHealth>,
    last_pts: &mut f64,
) -> Result<(), VisionError> {
    let camera = setup.camera.clone();
    let mut source = FrameSource::open(&SourceSpec {
        camera: camera.clone(),
        uri: setup.uri.clone(),
        resolution: setup.resolution,
        pacing: options.pacing,
        decoder_threads: setup.decoder_threads,
    })?;
    let mut pipeline = CameraPipeline::new(setup.clone(), options.evidence_dir.as_deref())?;
    if options.pacing == Pacing::Live {
        pipeline.session = Some(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64),
        );
    }
    let result = run_frames(&camera, &mut source, &mut pipeline, signals, options, health, last_pts);
    // However the session ends, the violations waiting for their clips' last frames go out
    // with what they have; a failure here is logged, the session's own outcome is reported.
    if let Err(e) = finish(&mut pipeline, options) {
        tracing::error!(camera = %camera, "events held at the end of the session not stored: {e}");
    }
    result
}

/// Reads and processes frames until the stream ends, fails or the service is stopped.
fn run_frames(
    camera: &str,
    source: &mut FrameSource,
    pipeline: &mut CameraPipeline,
    signals: &dyn SignalFeed,
    options: &ServiceOptions,
    health: &Mutex<CameraHealth>,
    last_pts: &mut f64,
) -> Result<(), VisionError> {
    let timeout = Duration::from_secs(if options.pacing == Pacing::Live { 5 } else { 30 });
    let mut window = (Instant::now(), 0u64);
    let mut prev_pts: Option<f64> = None;
    let mut frame_interval = f64::INFINITY;
    let mut latency_sum = 0.0;
    while !options.stop.load(Ordering::Relaxed) {
        let t0 = Instant::now();
        let Some(frame) = source.next_frame(timeout)? else { return Ok(()) };
        pipeline.times.ingest_s += t0.elapsed().as_secs_f64();
        let got = Instant::now();
        let mut dropped = 0;
        if let Some(p) = prev_pts {
            let dt = frame.pts_s - p;
            if dt > 0.0 {
                frame_interval = frame_interval.min(dt);
                dropped = ((dt / frame_interval).round() as u64).saturating_sub(1);
            }
        }
        prev_pts = Some(frame.pts_s);
        *last_pts = frame.pts_s;
        if frame.index == 0 {
            let h = update(health, |h| {
                h.up = true;
                h.cause = None;
            });
            tracing::info!(camera = %camera, "camera up");
            publish(options, status(camera, frame.pts_s, true, &h, None))?;
        }
        for event in pipeline.process(&frame, signals)? {
            publish(options, event)?;
        }
        latency_sum += got.elapsed().as_secs_f64();
        window.1 += 1;
        let elapsed = window.0.elapsed().as_secs_f64();
        let fps = if elapsed >= 2.0 {
            let fps = window.1 as f64 / elapsed;
            window = (Instant::now(), 0);
            Some(fps)
        } else {
            None
        };
        let times = pipeline.times;
        update(health, |h| {
            h.frames += 1;
            h.dropped_frames += dropped;
            if let Some(f) = fps {
                h.fps = f;
            }
            h.stage_times_s = times;
            h.frame_to_event_s = latency_sum / times.frames.max(1) as f64;
        });
    }
    Ok(())
}

/// Stores and sends what the pipeline still holds when a session ends.
fn finish(pipeline: &mut CameraPipeline, options: &ServiceOptions) -> Result<(), VisionError> {
    for event in pipeline.finish()? {
        publish(options, event)?;
    }
    Ok(())
}
