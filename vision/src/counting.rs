//! Directional counting lines with hysteresis.
//!
//! A crossing counts only when the track's ground point has been at least `hysteresis`
//! on one side of the line and then at least `hysteresis` on the other, having passed
//! between the line's end points; each track counts at most once per line. So a box that
//! jitters around a stop line while the queue creeps forward cannot count twice, and a
//! tentative track that dies (a shadow) cannot count at all.

use std::collections::HashMap;

use nutgiao_config::Homography;

/// A counting line in image pixels, with hysteresis measured on the ground when calibrated.
#[derive(Debug, Clone)]
pub struct LineGeometry {
    pub id: String,
    pub p0: [f64; 2],
    pub p1: [f64; 2],
    /// Minimum travel past the line, in metres with a homography, else in pixels.
    pub hysteresis: f64,
    /// Ground-plane end points, when calibrated.
    ground: Option<([f64; 2], [f64; 2])>,
}

impl LineGeometry {
    pub fn new(id: &str, p0: [f64; 2], p1: [f64; 2], hysteresis: f64, homography: Option<&Homography>) -> Self {
        let ground = homography.and_then(|h| Some((h.to_ground(p0)?, h.to_ground(p1)?)));
        Self { id: id.to_owned(), p0, p1, hysteresis, ground }
    }

    /// Signed distance of a track's ground point: positive on the right of p0->p1 as seen
    /// on screen (image y points down), so a positive crossing goes left to right.
    /// The magnitude is metres on the ground when calibrated, else pixels.
    pub fn signed_distance(&self, image: [f64; 2], ground: Option<[f64; 2]>) -> f64 {
        let side = cross(self.p0, self.p1, image);
        let magnitude = match (self.ground, ground) {
            (Some((g0, g1)), Some(g)) => cross(g0, g1, g).abs() / dist(g0, g1).max(1e-9),
            _ => side.abs() / dist(self.p0, self.p1).max(1e-9),
        };
        side.signum() * magnitude
    }

    /// Where along p0->p1 the point projects (0 at p0, 1 at p1).
    pub fn along(&self, image: [f64; 2]) -> f64 {
        let d = [self.p1[0] - self.p0[0], self.p1[1] - self.p0[1]];
        let len2 = (d[0] * d[0] + d[1] * d[1]).max(1e-9);
        ((image[0] - self.p0[0]) * d[0] + (image[1] - self.p0[1]) * d[1]) / len2
    }
}

fn cross(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

#[derive(Debug, Default, Clone)]
struct TrackOnLine {
    /// Side (+1 / -1) where the track was last clear of the hysteresis band.
    origin: Option<i8>,
    /// It passed through the segment (not around its ends) since leaving `origin`.
    passed_between_ends: bool,
    /// A completed crossing waiting for the track to be confirmed.
    pending: Option<i8>,
    counted: bool,
    last_side: Option<i8>,
}

/// A crossing of one line by one track: +1 left-to-right of p0->p1, -1 the other way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing {
    pub track: u64,
    pub direction: i8,
}

#[derive(Debug, Clone)]
pub struct LineCounter {
    pub line: LineGeometry,
    tracks: HashMap<u64, TrackOnLine>,
}

/// Tolerance at the line's ends: a ground point a little outside still crossed this lane.
const END_MARGIN: f64 = 0.05;

impl LineCounter {
    pub fn new(line: LineGeometry) -> Self {
        Self { line, tracks: HashMap::new() }
    }

    /// Feeds one observation of a track; returns the crossing if it counts now.
    pub fn observe(
        &mut self,
        track: u64,
        image: [f64; 2],
        ground: Option<[f64; 2]>,
        confirmed: bool,
    ) -> Option<Crossing> {
        let d = self.line.signed_distance(image, ground);
        let between_ends = (-END_MARGIN..=1.0 + END_MARGIN).contains(&self.line.along(image));
        let h = self.line.hysteresis;
        let st = self.tracks.entry(track).or_default();
        if st.counted {
            return None;
        }
        let side: i8 = if d >= 0.0 { 1 } else { -1 };
        if st.last_side.is_some_and(|s| s != side) && between_ends {
            st.passed_between_ends = true;
        }
        st.last_side = Some(side);
        if st.origin.is_none() {
            st.origin = Some(side);
        }
        if d.abs() >= h {
            match st.origin {
                Some(o) if o != side && st.passed_between_ends && st.pending.is_none() => st.pending = Some(side),
                Some(o) if o != side => {}
                _ => {
                    st.origin = Some(side);
                    st.passed_between_ends = false;
                }
            }
        }
        if confirmed && let Some(direction) = st.pending {
            st.counted = true;
            return Some(Crossing { track, direction });
        }
        None
    }

    /// Forgets tracks the tracker has dropped.
    pub fn retain(&mut self, alive: &dyn Fn(u64) -> bool) {
        self.tracks.retain(|id, _| alive(*id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn horizontal(h: f64) -> LineCounter {
        // p0 -> p1 points right along the image; its right on screen is downwards (y grows).
        LineCounter::new(LineGeometry::new("l", [0.0, 100.0], [200.0, 100.0], h, None))
    }

    #[test]
    fn a_vehicle_driving_down_the_image_counts_once_positive() {
        let mut c = horizontal(5.0);
        let hits: Vec<Crossing> =
            (0..40).filter_map(|i| c.observe(7, [100.0, 60.0 + i as f64 * 2.0], None, true)).collect();
        assert_eq!(hits, vec![Crossing { track: 7, direction: 1 }]);
    }

    #[test]
    fn driving_around_the_end_of_the_line_does_not_count() {
        let mut c = horizontal(5.0);
        let hits = (0..40).filter_map(|i| c.observe(1, [300.0, 60.0 + i as f64 * 2.0], None, true)).count();
        assert_eq!(hits, 0);
    }

    #[test]
    fn a_tentative_track_counts_only_once_confirmed() {
        let mut c = horizontal(5.0);
        assert_eq!(c.observe(1, [100.0, 90.0], None, false), None);
        assert_eq!(c.observe(1, [100.0, 110.0], None, false), None);
        assert_eq!(c.observe(1, [100.0, 112.0], None, true), Some(Crossing { track: 1, direction: 1 }));
    }

    proptest! {
        /// Stop-and-go at a stop line: any jitter, any amount, never more than one count.
        #[test]
        fn a_jittering_track_never_counts_twice(steps in proptest::collection::vec(-12.0f64..12.0, 1..300)) {
            let mut c = horizontal(3.0);
            let mut y = 95.0;
            let mut n = 0;
            for s in steps {
                y += s;
                if c.observe(1, [100.0, y], None, true).is_some() { n += 1; }
            }
            prop_assert!(n <= 1);
        }

        /// Box jitter smaller than the hysteresis band never counts, wherever it starts.
        #[test]
        fn jitter_inside_the_band_never_counts(start in -2.9f64..2.9, steps in proptest::collection::vec(-1.0f64..1.0, 1..300)) {
            let mut c = horizontal(3.0);
            let mut n = 0;
            for (i, s) in steps.iter().enumerate() {
                let y = 100.0 + (start + s).clamp(-2.99, 2.99);
                let _ = i;
                if c.observe(1, [100.0, y], None, true).is_some() { n += 1; }
            }
            prop_assert_eq!(n, 0);
        }

        /// A vehicle that goes through with stop-and-go jitter counts exactly once, in its direction.
        #[test]
        fn a_vehicle_that_goes_through_counts_exactly_once(jitter in proptest::collection::vec(-4.0f64..4.0, 60), up in any::<bool>()) {
            let mut c = horizontal(3.0);
            let mut got = Vec::new();
            for (i, j) in jitter.iter().enumerate() {
                let progress = 70.0 + i as f64 + j;
                let y = if up { 200.0 - progress } else { progress };
                if let Some(x) = c.observe(1, [100.0, y], None, true) { got.push(x.direction); }
            }
            let last = 70.0 + 59.0 + jitter[59];
            if last >= 103.0 {
                prop_assert_eq!(got, vec![if up { -1 } else { 1 }]);
            } else {
                prop_assert!(got.len() <= 1);
            }
        }
    }
}
