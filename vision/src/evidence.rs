//! Violation evidence: a JPEG of the moment with the box, trail, lane and time drawn in,
//! and a short MP4 of the frames around it (2 s before and 2 s after). Files are fsynced
//! before the event's row is written, and their SHA-256 goes into the row; so a violation is
//! reported when its clip is complete, 2 s of stream time after it happened.

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

/// Frames kept for the clip: 2 s before the violation at 5 frames per second...
const CLIP_FRAMES: usize = 10;
const CLIP_FPS: f64 = 5.0;
/// ...and this long after it.
pub const CLIP_AFTER_S: f64 = 2.0;

pub struct EvidenceWriter {
    dir: PathBuf,
    camera: String,
    recent: VecDeque<Mat>,
    last_kept_s: f64,
    held: Vec<HeldClip>,
}

/// A clip still collecting the frames after its violation.
struct HeldClip {
    stem: String,
    frames: Vec<Mat>,
    until_s: f64,
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
        Ok(Self {
            dir: dir.to_owned(),
            camera: camera.to_owned(),
            recent: VecDeque::new(),
            last_kept_s: f64::MIN,
            held: Vec::new(),
        })
    }

    /// Keeps a half-size copy of every fifth-of-a-second frame for the clip.
    pub fn remember(&mut self, image: &Mat, t_s: f64) -> Result<()> {
        // A microsecond of slack: stream times are sums of frame intervals, and 0.8 - 0.6
        // is a hair under 0.2 in floating point.
        if t_s - self.last_kept_s < 1.0 / CLIP_FPS - 1e-6 {
            return Ok(());
        }
        self.last_kept_s = t_s;
        let mut small = Mat::default();
        let size = Size::new((image.cols() / 2) & !1, (image.rows() / 2) & !1);
        imgproc::resize(image, &mut small, size, 0.0, 0.0, imgproc::INTER_AREA)
            .map_err(VisionError::opencv(&self.camera))?;
        for clip in self.held.iter_mut().filter(|c| t_s <= c.until_s) {
            clip.frames.push(small.clone());
        }
        self.recent.push_back(small);
        if self.recent.len() > CLIP_FRAMES {
            self.recent.pop_front();
        }
        Ok(())
    }

    /// The JPEG of the moment, written and synced now; the clip is started (`hold_clip`).
    pub fn still(&self, image: &Mat, track: &Track, caption: &str, stem: &str) -> Result<Evidence> {
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
        Ok(Evidence { sha256: write_synced(&jpg_path, jpeg.as_slice())?, path: jpg_path.display().to_string() })
    }

    /// Starts the clip of a violation at `t_s`: the frames kept so far, then those of the
    /// next `CLIP_AFTER_S` as `remember` keeps them.
    pub fn hold_clip(&mut self, stem: &str, t_s: f64) {
        self.held.push(HeldClip {
            stem: stem.to_owned(),
            frames: self.recent.iter().cloned().collect(),
            until_s: t_s + CLIP_AFTER_S,
        });
    }

    /// Writes the clips complete at stream time `t_s` (all of them when `end` is set: the
    /// stream is over) and returns each clip's stem with its evidence. A clip that cannot be
    /// written is logged and its violation goes out with the JPEG alone: the event must not
    /// be held for ever because of its clip.
    pub fn complete_clips(&mut self, t_s: f64, end: bool) -> Vec<(String, Option<Evidence>)> {
        let (done, open): (Vec<HeldClip>, Vec<HeldClip>) =
            std::mem::take(&mut self.held).into_iter().partition(|c| end || t_s >= c.until_s);
        self.held = open;
        done.into_iter()
            .map(|c| {
                let clip = self.write_clip(&c).unwrap_or_else(|e| {
                    tracing::error!(camera = %self.camera, "evidence clip {} not written: {e}", c.stem);
                    None
                });
                (c.stem, clip)
            })
            .collect()
    }

    fn write_clip(&self, clip: &HeldClip) -> Result<Option<Evidence>> {
        let Some(first) = clip.frames.first() else { return Ok(None) };
        let clip_path = self.dir.join(format!("{}.mp4", clip.stem));
        let mut w = Mp4Writer::create(&clip_path, first.cols(), first.rows(), CLIP_FPS)?;
        for f in &clip.frames {
            w.push(f)?;
        }
        w.finish()?;
        let bytes = std::fs::read(&clip_path).map_err(VisionError::io(&clip_path))?;
        std::fs::File::open(&clip_path).and_then(|f| f.sync_all()).map_err(VisionError::io(&clip_path))?;
        Ok(Some(Evidence { sha256: format!("{:x}", Sha256::digest(&bytes)), path: clip_path.display().to_string() }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clip_holds_two_seconds_before_and_two_after_its_violation() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EvidenceWriter::new(dir.path(), "c").unwrap();
        let image = Mat::new_rows_cols_with_default(120, 160, opencv::core::CV_8UC3, Scalar::all(90.0)).unwrap();
        // Five frames a second kept; the violation at 2.0 s.
        for k in 0..=10 {
            w.remember(&image, f64::from(k) * 0.2).unwrap();
        }
        w.hold_clip("v", 2.0);
        assert!(w.complete_clips(2.0, false).is_empty());
        for k in 11..=19 {
            w.remember(&image, f64::from(k) * 0.2).unwrap();
        }
        assert!(w.complete_clips(3.8, false).is_empty(), "not complete before 4.0 s");
        w.remember(&image, 4.0).unwrap();
        assert_eq!(w.held[0].frames.len(), CLIP_FRAMES + 10, "10 kept before (with the moment) and 10 after");
        let done = w.complete_clips(4.0, false);
        assert_eq!(done.len(), 1);
        let (stem, clip) = &done[0];
        let clip = clip.as_ref().unwrap();
        assert_eq!(stem, "v");
        let bytes = std::fs::read(&clip.path).unwrap();
        assert_eq!(clip.sha256, format!("{:x}", Sha256::digest(&bytes)));
        assert!(w.held.is_empty());
    }

    #[test]
    fn at_the_end_of_a_stream_a_clip_goes_out_with_what_it_has() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EvidenceWriter::new(dir.path(), "c").unwrap();
        let image = Mat::new_rows_cols_with_default(120, 160, opencv::core::CV_8UC3, Scalar::all(90.0)).unwrap();
        w.remember(&image, 0.0).unwrap();
        w.hold_clip("v", 0.0);
        let done = w.complete_clips(0.1, true);
        assert_eq!(done.len(), 1);
        assert!(done[0].1.is_some());
    }
}
