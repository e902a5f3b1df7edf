//! Foreground segmentation scored against CDnet 2014 ground-truth masks.
//!
//! CDnet labels: 0 background, 50 hard shadow (background for scoring), 85 outside the
//! region of interest, 170 unknown/boundary (not scored), 255 moving object.

use std::path::Path;
use std::time::Duration;

use opencv::core::Mat;
use opencv::imgcodecs;
use opencv::prelude::*;
use serde::Serialize;

use crate::detect::background::{BackgroundDetector, BackgroundParams};
use crate::error::{Result, VisionError};
use crate::ingest::{FrameSource, Pacing, SourceSpec};

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Confusion {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl Confusion {
    pub fn precision(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fp).max(1) as f64
    }
    pub fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }

    /// Adds one frame: `predicted` is 0/255, `truth` a CDnet label mask.
    pub fn add(&mut self, predicted: &Mat, truth: &Mat) -> opencv::Result<()> {
        let (p, t) = (predicted.data_bytes()?, truth.data_bytes()?);
        for (&p, &t) in p.iter().zip(t) {
            let fg = p > 127;
            match t {
                255 => {
                    if fg {
                        self.tp += 1
                    } else {
                        self.fn_ += 1
                    }
                }
                0 | 50 => {
                    if fg {
                        self.fp += 1
                    } else {
                        self.tn += 1
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Runs the background detector over a CDnet sequence and scores frames `first..=last`
/// (1-based, as the ground-truth files are numbered).
pub fn score_cdnet(video: &Path, dataset: &Path, params: BackgroundParams, first: u64, last: u64) -> Result<Confusion> {
    let camera = "cdnet";
    let cv = VisionError::opencv(camera);
    let mut source = FrameSource::open(&SourceSpec {
        camera: camera.into(),
        uri: video.display().to_string(),
        resolution: None,
        pacing: Pacing::EveryFrame,
        decoder_threads: None,
    })?;
    let roi_path = dataset.join("ROI.bmp");
    let roi = imgcodecs::imread(&*roi_path.to_string_lossy(), imgcodecs::IMREAD_GRAYSCALE).map_err(&cv)?;
    let mut detector: Option<BackgroundDetector> = None;
    let mut confusion = Confusion::default();
    while let Some(frame) = source.next_frame(Duration::from_secs(30))? {
        let n = frame.index + 1;
        if n > last {
            break;
        }
        let det = match &mut detector {
            Some(d) => d,
            None => {
                let mut d =
                    BackgroundDetector::new(camera, params.clone(), [frame.image.cols(), frame.image.rows()], &[])?;
                if !roi.empty() {
                    d.set_roi_mask(roi.clone())?;
                }
                detector.insert(d)
            }
        };
        let mask = det.foreground(&frame.image)?;
        if n >= first {
            let gt_path = dataset.join(format!("groundtruth/gt{n:06}.png"));
            let gt = imgcodecs::imread(&*gt_path.to_string_lossy(), imgcodecs::IMREAD_GRAYSCALE).map_err(&cv)?;
            if gt.empty() {
                return Err(VisionError::Io {
                    path: gt_path,
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "ground-truth mask missing or unreadable",
                    ),
                });
            }
            confusion.add(mask, &gt).map_err(&cv)?;
        }
    }
    Ok(confusion)
}

/// Vehicles crossing a pixel line according to the ground-truth masks alone (frames
/// `first..=last`): the true count the pipeline's count on the same line is judged by.
/// The masks' object blobs go through the tracker and counting line with perfect
/// segmentation, so what remains is only the line logic, which the unit and property
/// tests cover.
pub fn truth_crossings(dataset: &Path, line: [f64; 4], first: u64, last: u64, fps: f64) -> Result<Vec<(u64, i8)>> {
    use crate::counting::{LineCounter, LineGeometry};
    use crate::detect::{BoxPx, Detection, VehicleKind};
    use crate::track::{Tracker, TrackerParams};
    use opencv::core;
    use opencv::imgproc;

    let cv = VisionError::opencv("cdnet-truth");
    let mut tracker = Tracker::new(TrackerParams::default(), None);
    let mut counter = LineCounter::new(LineGeometry::new(
        "truth",
        [line[0], line[1]],
        [line[2], line[3]],
        crate::camera::PIXEL_HYSTERESIS,
        None,
    ));
    let mut out = Vec::new();
    for n in first..=last {
        let gt_path = dataset.join(format!("groundtruth/gt{n:06}.png"));
        let gt = imgcodecs::imread(&*gt_path.to_string_lossy(), imgcodecs::IMREAD_GRAYSCALE).map_err(&cv)?;
        if gt.empty() {
            return Err(VisionError::Io {
                path: gt_path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "ground-truth mask missing or unreadable"),
            });
        }
        let mut objects = Mat::default();
        imgproc::threshold(&gt, &mut objects, 254.0, 255.0, imgproc::THRESH_BINARY).map_err(&cv)?;
        let (mut labels, mut stats, mut centroids) = (Mat::default(), Mat::default(), Mat::default());
        let k = imgproc::connected_components_with_stats(
            &objects,
            &mut labels,
            &mut stats,
            &mut centroids,
            8,
            core::CV_32S,
        )
        .map_err(&cv)?;
        let mut dets = Vec::new();
        for i in 1..k {
            let at = |c: i32| stats.at_2d::<i32>(i, c).map(|v| *v as f64).map_err(&cv);
            if at(imgproc::CC_STAT_AREA)? < 60.0 {
                continue;
            }
            dets.push(Detection {
                bbox: BoxPx {
                    x: at(imgproc::CC_STAT_LEFT)?,
                    y: at(imgproc::CC_STAT_TOP)?,
                    w: at(imgproc::CC_STAT_WIDTH)?,
                    h: at(imgproc::CC_STAT_HEIGHT)?,
                },
                kind: VehicleKind::Vehicle,
                confidence: 1.0,
            });
        }
        let t = (n - 1) as f64 / fps;
        for tr in tracker.update(t, &dets) {
            if let Some(c) = counter.observe(tr.id, t, tr.ground_point_px(), None, tr.is_counted_state()) {
                out.push((n, c.direction));
            }
        }
    }
    Ok(out)
}
