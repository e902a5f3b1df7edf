//! `nutgiao count`: a recorded video through the pipeline, every frame, as fast as it goes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nutgiao_config::DetectorBackend;
use opencv::prelude::*;

use crate::annotate;
use crate::camera::CameraSetup;
use crate::detect::background::BackgroundDetector;
use crate::encode::Mp4Writer;
use crate::error::{Result, VisionError};
use crate::event::VisionEvent;
use crate::ingest::{FrameSource, Pacing, SourceSpec};
use crate::pipeline::CameraPipeline;
use crate::report::{self, CountSummary};
use crate::signals::NoFeed;

#[derive(Debug, Clone, Default)]
pub struct CountOutputs {
    pub csv: Option<PathBuf>,
    pub summary: Option<PathBuf>,
    pub annotated: Option<PathBuf>,
    pub events: Option<PathBuf>,
    /// Turning movements in 1- and 15-minute bins.
    pub movements: Option<PathBuf>,
    /// Queue zones' occupancy and queue length per minute.
    pub lanes: Option<PathBuf>,
}

pub struct CountResult {
    pub summary: CountSummary,
    pub events: Vec<VisionEvent>,
}

/// The size frames are decoded to. When only the background detector and the signal-head
/// reader look at the picture (no annotated video), GStreamer scales them straight to the
/// detector's working size: converting a 1280 x 720 picture to BGR and shrinking it again in
/// OpenCV cost 8.5 ms of CPU a frame where 640 x 360 costs 3.
fn ingest_resolution(setup: &CameraSetup, outputs: &CountOutputs) -> Option<[u32; 2]> {
    let processing = setup.resolution?;
    let only_detector = outputs.annotated.is_none() && !matches!(setup.backend, DetectorBackend::Dnn);
    if !only_detector {
        return Some(processing);
    }
    let [w, h] = BackgroundDetector::working_size([processing[0] as i32, processing[1] as i32]);
    Some([w as u32, h as u32])
}

pub fn run(setup: CameraSetup, outputs: &CountOutputs) -> Result<CountResult> {
    let camera = setup.camera.clone();
    let mut source = FrameSource::open(&SourceSpec {
        camera: camera.clone(),
        uri: setup.uri.clone(),
        resolution: ingest_resolution(&setup, outputs),
        pacing: Pacing::EveryFrame,
        decoder_threads: setup.decoder_threads,
    })?;
    let mut pipeline = CameraPipeline::new(setup, None)?;
    let mut writer: Option<Mp4Writer> = None;
    let mut events = Vec::new();
    let started = Instant::now();
    let (mut first_pts, mut last_pts) = (None, 0.0);
    loop {
        let t0 = Instant::now();
        let Some(frame) = source.next_frame(Duration::from_secs(30))? else { break };
        pipeline.times.ingest_s += t0.elapsed().as_secs_f64();
        first_pts.get_or_insert(frame.pts_s);
        last_pts = frame.pts_s;
        let new = pipeline.process(&frame, &NoFeed)?;
        events.extend(new);
        if let Some(path) = &outputs.annotated {
            let ta = Instant::now();
            if writer.is_none() {
                writer = Some(Mp4Writer::create(path, frame.image.cols(), frame.image.rows(), 25.0)?);
            }
            let mut img = frame.image.clone();
            let scale = (img.cols() as f64 / 640.0).max(0.6);
            let cv = VisionError::opencv(&camera);
            for t in pipeline.tracks() {
                annotate::draw_track(&mut img, t, scale).map_err(&cv)?;
            }
            annotate::draw_lines(&mut img, &pipeline.setup.lines, &pipeline.totals, scale).map_err(&cv)?;
            let bottom = img.rows() as f64 - 6.0;
            annotate::text(
                &mut img,
                &format!("t={:.2}s", frame.pts_s),
                [4.0, bottom],
                0.4 * scale,
                opencv::core::Scalar::all(255.0),
            )
            .map_err(&cv)?;
            if let Some(w) = writer.as_mut() {
                w.push(&img)?;
            }
            pipeline.times.annotate_s += ta.elapsed().as_secs_f64();
        }
    }
    events.extend(pipeline.finish()?);
    if let Some(w) = writer {
        w.finish()?;
    }
    let wall = started.elapsed().as_secs_f64();
    let frames = pipeline.times.frames;
    let duration_s = last_pts - first_pts.unwrap_or(0.0);
    let summary = CountSummary {
        frames,
        fps: frames as f64 / wall.max(1e-9),
        video_fps: if duration_s > 0.0 { (frames.saturating_sub(1)) as f64 / duration_s } else { 0.0 },
        duration_s,
        lines: pipeline.line_totals(&events),
        movements: report::movement_totals(&events),
        stage_times_s: pipeline.times,
    };
    if let Some(p) = &outputs.csv {
        report::write_csv(p, &events)?;
    }
    if let Some(p) = &outputs.movements {
        report::write_movements_csv(p, &events)?;
    }
    if let Some(p) = &outputs.lanes {
        report::write_lanes_csv(p, &events)?;
    }
    if let Some(p) = &outputs.summary {
        report::write_json(p, &summary)?;
    }
    if let Some(p) = &outputs.events {
        let mut text = String::new();
        for e in &events {
            text.push_str(
                &serde_json::to_string(e).map_err(|e| VisionError::Io { path: p.clone(), source: e.into() })?,
            );
            text.push('\n');
        }
        std::fs::write(p, text).map_err(VisionError::io(p))?;
    }
    Ok(CountResult { summary, events })
}
