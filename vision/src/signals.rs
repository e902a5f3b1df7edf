//! Where the pipeline learns what each signal shows: the controller's status feed, or as a
//! fallback the signal head's lamps in the image.

use opencv::core::{Mat, Vec3b};
use opencv::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Light {
    Red,
    Yellow,
    Green,
}

/// The controller's status feed. Implemented for closures so that the live system can wrap
/// its `watch::Receiver<SiteSignals>` without this crate depending on the controller.
pub trait SignalFeed: Send + Sync {
    /// What `phase` of `intersection` shows now; `None` when the feed does not know.
    fn indication(&self, intersection: &str, phase: u8) -> Option<Light>;
}

impl<F> SignalFeed for F
where
    F: Fn(&str, u8) -> Option<Light> + Send + Sync,
{
    fn indication(&self, intersection: &str, phase: u8) -> Option<Light> {
        self(intersection, phase)
    }
}

/// No feed: red-light running is judged from the image only (or not at all).
pub struct NoFeed;

impl SignalFeed for NoFeed {
    fn indication(&self, _: &str, _: u8) -> Option<Light> {
        None
    }
}

/// Reads a signal head's lit lamp: the lamp clearly brighter than the other two. `lamps` are
/// in processing pixels; `scale` is the image's pixels per processing pixel (below 1 when
/// the frame was decoded smaller than the processing size).
pub fn read_signal_head(image: &Mat, lamps: &[[f64; 2]; 3], scale: f64) -> Option<Light> {
    let mut brightness = [0.0f64; 3];
    let r = ((2.0 * scale).round() as i32).max(1);
    for (i, c) in lamps.iter().enumerate() {
        let (cx, cy) = ((c[0] * scale).round() as i32, (c[1] * scale).round() as i32);
        let mut sum = 0.0;
        let mut n = 0.0;
        for y in cy - r..=cy + r {
            for x in cx - r..=cx + r {
                if x < 0 || y < 0 || x >= image.cols() || y >= image.rows() {
                    continue;
                }
                let p = image.at_2d::<Vec3b>(y, x).ok()?;
                sum += p.0.iter().copied().max().unwrap_or(0) as f64;
                n += 1.0;
            }
        }
        if n == 0.0 {
            return None;
        }
        brightness[i] = sum / n;
    }
    let (lit, max) = brightness.iter().enumerate().fold((0, f64::MIN), |b, (i, v)| if *v > b.1 { (i, *v) } else { b });
    let others = brightness.iter().enumerate().filter(|(i, _)| *i != lit).map(|(_, v)| *v).fold(f64::MIN, f64::max);
    // A dark head or glare over all three lamps tells nothing.
    if max < 120.0 || max - others < 50.0 {
        return None;
    }
    Some([Light::Red, Light::Yellow, Light::Green][lit])
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::{CV_8UC3, Point, Scalar};
    use opencv::imgproc;

    #[test]
    fn the_lit_lamp_is_read_and_a_dark_head_is_unknown() {
        let lamps = [[20.0, 10.0], [20.0, 25.0], [20.0, 40.0]];
        let mut img = Mat::new_rows_cols_with_default(60, 40, CV_8UC3, Scalar::all(30.0)).unwrap();
        assert_eq!(read_signal_head(&img, &lamps, 1.0), None);
        imgproc::circle(&mut img, Point::new(20, 10), 5, Scalar::new(40.0, 40.0, 250.0, 0.0), -1, imgproc::LINE_8, 0)
            .unwrap();
        assert_eq!(read_signal_head(&img, &lamps, 1.0), Some(Light::Red));
    }

    #[test]
    fn a_head_is_read_on_a_frame_decoded_at_half_size() {
        // Lamps given in processing pixels, the frame at half of them, the lamp half as big.
        let lamps = [[40.0, 20.0], [40.0, 50.0], [40.0, 80.0]];
        let mut img = Mat::new_rows_cols_with_default(60, 40, CV_8UC3, Scalar::all(30.0)).unwrap();
        imgproc::circle(&mut img, Point::new(20, 40), 3, Scalar::new(60.0, 220.0, 60.0, 0.0), -1, imgproc::LINE_8, 0)
            .unwrap();
        assert_eq!(read_signal_head(&img, &lamps, 0.5), Some(Light::Green));
        assert_eq!(read_signal_head(&img, &lamps, 1.0), None, "read at full-size places: off the lamps");
    }
}
