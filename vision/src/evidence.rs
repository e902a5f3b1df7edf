//! Violation evidence: a JPEG of the moment with the box, trail, lane and time drawn in,
//! and a short MP4 of the frames before it. Files are fsynced before the event's row is
//! written, and their SHA-256 goes into the row.

use std::collections::VecDeque;
use std::io::Write;
use std::path::{Path, PathBuf};

use opencv::core::{Mat, Scalar, Size, Vector};
use opencv::imgcodecs;
use opencv::imgproc;
use opencv::prelude::*;
use sha2::{Digest, Sha256};

use crate::annotate;
use crate::encode::Mp4Writer;
use crate::error::{Result, VisionError};
use crate::event::Evidence;
use crate::track::Track;

/// Frames kept for the clip: 2 s before the violation at 5 frames per second.
const CLIP_FRAMES: usize = 10;
const CLIP_FPS: f64 = 5.0;

pub struct EvidenceWriter {
    dir: PathBuf,
    camera: String,
    recent: VecDeque<Mat>,
    last_kept_s: f64,
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<String> {
    let mut f = std::fs::File::create(path).map_err(VisionError::io(path))?;
    f.write_all(bytes).map_err(VisionError::io(path))?;
    f.sync_all().map_err(VisionError::io(path))?;
    Ok(format!("{:x}", Sha256::digest(bytes)))
}

impl EvidenceWriter {
    pub fn new(dir: &Path, camera: &str) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(VisionError::io(dir))?;
        Ok(Self { dir: dir.to_owned(), camera: camera.to_owned(), recent: VecDeque::new(), last_kept_s: f64::MIN })
    }

    /// Keeps a half-size copy of every fifth-of-a-second frame for the clip.
    pub fn remember(&mut self, image: &Mat, t_s: f64) -> Result<()> {
        if t_s - self.last_kept_s < 1.0 / CLIP_FPS {
            return Ok(());
        }
        self.last_kept_s = t_s;
        let mut small = Mat::default();
        let size = Size::new((image.cols() / 2) & !1, (image.rows() / 2) & !1);
        imgproc::resize(image, &mut small, size, 0.0, 0.0, imgproc::INTER_AREA)
            .map_err(VisionError::opencv(&self.camera))?;
        self.recent.push_back(small);
        if self.recent.len() > CLIP_FRAMES {
            self.recent.pop_front();
        }
        Ok(())
    }

    pub fn write(&self, image: &Mat, track: &Track, caption: &str, stem: &str) -> Result<Vec<Evidence>> {
        let cv = VisionError::opencv(&self.camera);
        let mut img = image.try_clone().map_err(&cv)?;
        let scale = (img.cols() as f64 / 640.0).max(1.0);
        annotate::draw_track(&mut img, track, scale).map_err(&cv)?;
        annotate::text(&mut img, caption, [8.0, 20.0 * scale], 0.6 * scale, Scalar::new(0.0, 0.0, 255.0, 0.0))
            .map_err(&cv)?;
        let mut jpeg = Vector::<u8>::new();
        imgcodecs::imencode(".jpg", &img, &mut jpeg, &Vector::from_slice(&[imgcodecs::IMWRITE_JPEG_QUALITY, 90]))
            .map_err(&cv)?;
        let jpg_path = self.dir.join(format!("{stem}.jpg"));
        let mut evidence =
            vec![Evidence { sha256: write_synced(&jpg_path, jpeg.as_slice())?, path: jpg_path.display().to_string() }];
        if let Some(first) = self.recent.front() {
            let clip_path = self.dir.join(format!("{stem}.mp4"));
            let mut w = Mp4Writer::create(&clip_path, first.cols(), first.rows(), CLIP_FPS)?;
            for f in &self.recent {
                w.push(f)?;
            }
            w.finish()?;
            let bytes = std::fs::read(&clip_path).map_err(VisionError::io(&clip_path))?;
            std::fs::File::open(&clip_path).and_then(|f| f.sync_all()).map_err(VisionError::io(&clip_path))?;
            evidence.push(Evidence {
                sha256: format!("{:x}", Sha256::digest(&bytes)),
                path: clip_path.display().to_string(),
            });
        }
        Ok(evidence)
    }
}
