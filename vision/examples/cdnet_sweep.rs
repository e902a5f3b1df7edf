//! Tuning aid: foreground F1 on CDnet highway for a grid of background-detector settings.
//! `cargo run -p nutgiao-vision --release --example cdnet_sweep -- ../shared/data/video/cdnet-highway`

use std::path::PathBuf;

use nutgiao_vision::detect::background::{BackgroundParams, Subtractor};
use nutgiao_vision::segmentation::score_cdnet;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "../shared/data/video/cdnet-highway".into()));
    // KNN ignores var_threshold (its distance threshold is fixed at 400), so only MOG2 is swept.
    for subtractor in [Subtractor::Mog2] {
        for var_threshold in [30.0, 50.0, 70.0, 90.0] {
            for (open_px, close_px) in [(1, 11), (1, 15), (3, 15), (3, 21)] {
                for fill_holes in [true, false] {
                    let p = BackgroundParams {
                        subtractor,
                        var_threshold,
                        open_px,
                        close_px,
                        fill_holes,
                        ..Default::default()
                    };
                    match score_cdnet(&dir.join("highway.mp4"), &dir, p.clone(), 470, 1700) {
                        Ok(c) => println!(
                            "{subtractor:?} var {var_threshold} open {open_px} close {close_px} fill {fill_holes}: P {:.4} R {:.4} F1 {:.4}",
                            c.precision(),
                            c.recall(),
                            c.f1()
                        ),
                        Err(e) => println!("{e}"),
                    }
                }
            }
        }
    }
}
