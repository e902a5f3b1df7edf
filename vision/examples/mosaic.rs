//! Review aid: every Nth frame of a video tiled into one PNG, with frame times, so that an
//! engineer can check counts by eye. `--example mosaic -- VIDEO OUT.png STEP COLS TILE_WIDTH`

use std::time::Duration;

use nutgiao_vision::annotate;
use nutgiao_vision::ingest::{FrameSource, Pacing, SourceSpec};
use opencv::core::{Mat, Rect, Scalar, Size, Vector};
use opencv::prelude::*;
use opencv::{imgcodecs, imgproc};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let (video, out) = (&a[1], &a[2]);
    let step: u64 = a[3].parse()?;
    let cols: i32 = a[4].parse()?;
    let tw: i32 = a[5].parse()?;
    let mut src = FrameSource::open(&SourceSpec {
        camera: "review".into(),
        uri: video.clone(),
        resolution: None,
        pacing: Pacing::EveryFrame,
        decoder_threads: None,
    })?;
    let mut tiles = Vec::new();
    while let Some(f) = src.next_frame(Duration::from_secs(30))? {
        if f.index % step == 0 {
            let th = tw * f.image.rows() / f.image.cols();
            let mut t = Mat::default();
            imgproc::resize(&f.image, &mut t, Size::new(tw, th), 0.0, 0.0, imgproc::INTER_AREA)?;
            annotate::text(&mut t, &format!("{:.1}s", f.pts_s), [3.0, 12.0], 0.4, Scalar::new(0.0, 255.0, 255.0, 0.0))?;
            tiles.push(t);
        }
    }
    let th = tiles[0].rows();
    let rows = (tiles.len() as i32 + cols - 1) / cols;
    let mut m = Mat::new_rows_cols_with_default(rows * th, cols * tw, opencv::core::CV_8UC3, Scalar::all(0.0))?;
    for (i, t) in tiles.iter().enumerate() {
        let (r, c) = (i as i32 / cols, i as i32 % cols);
        let mut roi = Mat::roi_mut(&mut m, Rect::new(c * tw, r * th, tw, th))?;
        t.copy_to(&mut roi)?;
    }
    imgcodecs::imwrite(out, &m, &Vector::new())?;
    Ok(())
}
