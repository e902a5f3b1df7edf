//! Directional counting lines with hysteresis.
//!
//! A crossing counts only when the track's ground point has been at least `hysteresis`
//! on one side of the line and then at least `hysteresis` on the other, having passed
//! between the line's end points; each track counts at most once per line. So a box that
//! jitters around a stop line while the queue creeps forward cannot count twice, and a
//! tentative track that dies (a shadow) cannot count at all.
//!
//! On a calibrated camera a crossing must also not be a turn-round: a track that, near the
//! line and within the last two seconds, went back towards the side it came from by a car
//! length did not drive across; the tracker handed it the vehicle behind, or the blob it
//! followed split. Such a crossing otherwise counts in the wrong direction (and raises a
//! wrong-way alarm). The judgement is repeated for half a second after the track reaches the
//! far side, so a real crossing right after a jittery moment in a queue only counts late.
//!
//! A track that goes round the end of a line (not through it) is simply on the other side
//! afterwards, counted or not: where vehicles leave the picture and others enter it (the
//! departing lanes beside an approach), the tracker hands a track from one vehicle to the
//! next, and the next one's crossing must count.

use std::collections::{HashMap, VecDeque};

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

    /// Length of the line on the ground (m), when calibrated.
    pub fn ground_length(&self) -> Option<f64> {
        self.ground.map(|(g0, g1)| dist(g0, g1))
    }

    /// How far (m) a ground point projects beyond the line's ends along it: 0 between
    /// them; `None` when uncalibrated.
    pub fn beyond_ends_m(&self, ground: [f64; 2]) -> Option<f64> {
        let (g0, g1) = self.ground?;
        let len = dist(g0, g1).max(1e-9);
        let a = ((ground[0] - g0[0]) * (g1[0] - g0[0]) + (ground[1] - g0[1]) * (g1[1] - g0[1])) / len;
        Some((-a).max(a - len).max(0.0))
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
    /// When it first stood clear of the band on the far side, for the motion judgement.
    arrived: Option<f64>,
    /// Recent (time, signed distance in metres) samples, oldest first, spanning `REVERSAL_WINDOW_S`.
    recent: VecDeque<(f64, f64)>,
}

/// How far back a reversal (a track that was going the other way) disqualifies a crossing.
const REVERSAL_WINDOW_S: f64 = 2.0;
/// How long after reaching the far side a crossing may still show a vehicle's motion; a
/// queue's jitter can hide it for a moment, a box that jumped never shows it.
const JUDGE_GRACE_S: f64 = 0.5;
/// A turn-round this long (a car length) is a track that changed vehicles.
const REVERSAL_M: f64 = 3.0;
/// Only this near the line is the ground point precise enough to judge a turn-round.
const REVERSAL_NEAR_M: f64 = 8.0;
/// A counted track back this far on the side it came from, having gone round the line's
/// end, may count again.
const REARM_M: f64 = REVERSAL_NEAR_M;

impl TrackOnLine {
    fn remember(&mut self, t_s: f64, d: f64) {
        if self.recent.back().is_some_and(|&(t, _)| t_s <= t) {
            self.recent.clear();
        }
        self.recent.push_back((t_s, d));
        // Keep one sample at least a window old, so the window is measured over its full span.
        while self.recent.len() > 2 && self.recent.get(1).is_some_and(|&(t, _)| t_s - t >= REVERSAL_WINDOW_S) {
            self.recent.pop_front();
        }
    }

    /// Whether the track came over to `side` the way a vehicle does, not by turning round:
    /// near the line, within the last two seconds, it never went back towards the other side
    /// by a car length. Vehicles do not reverse that fast; a track that the tracker hands the
    /// vehicle behind (or the front piece of a split blob) does. Only samples near the line
    /// are judged: far from the camera a pixel is a metre of ground and a young track's ground
    /// point wanders by more than that.
    fn came_over_to(&self, side: i8) -> bool {
        let s = f64::from(side);
        let mut furthest = f64::NEG_INFINITY;
        let mut went_back = 0.0f64;
        for &(_, d) in self.recent.iter().filter(|(_, d)| d.abs() <= REVERSAL_NEAR_M) {
            furthest = furthest.max(d * s);
            went_back = went_back.max(furthest - d * s);
        }
        went_back < REVERSAL_M
    }
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
    /// Recent counts on a calibrated line: (time, metres along the line, direction).
    recent_counts: VecDeque<(f64, f64, i8)>,
}

/// Two counts of one line closer than this in time and across the line are one vehicle: a
/// piece of its blob that the splitter made a second track of. Vehicles in one lane follow
/// at 1 s or more; in the next lane they pass 3 m or more to the side.
const SAME_VEHICLE_S: f64 = 1.0;
const SAME_VEHICLE_M: f64 = 2.0;

/// Tolerance at the line's ends: a ground point a little outside still crossed this lane.
const END_MARGIN: f64 = 0.05;

impl LineCounter {
    pub fn new(line: LineGeometry) -> Self {
        Self { line, tracks: HashMap::new(), recent_counts: VecDeque::new() }
    }

    /// Feeds one observation of a track at stream time `t_s`; returns the crossing if it
    /// counts now.
    pub fn observe(
        &mut self,
        track: u64,
        t_s: f64,
        image: [f64; 2],
        ground: Option<[f64; 2]>,
        confirmed: bool,
    ) -> Option<Crossing> {
        let d = self.line.signed_distance(image, ground);
        let between_ends = (-END_MARGIN..=1.0 + END_MARGIN).contains(&self.line.along(image));
        let h = self.line.hysteresis;
        // Only metres give a car length to judge a turn-round by; a pixel line keeps the
        // plain hysteresis.
        let judge_motion = self.line.ground.is_some() && ground.is_some();
        let st = self.tracks.entry(track).or_default();
        let side: i8 = if d >= 0.0 { 1 } else { -1 };
        if st.counted {
            if st.last_side.is_some_and(|s| s != side) && between_ends {
                st.passed_between_ends = true;
            }
            st.last_side = Some(side);
            // Back on the side it came from, far out and round the line's end rather than
            // through it: the tracker has handed this track another vehicle (one leaving
            // the picture for one entering it), which may cross in its turn.
            if st.origin != Some(side) || st.passed_between_ends || d.abs() < REARM_M {
                return None;
            }
            *st = TrackOnLine::default();
        }
        if judge_motion {
            st.remember(t_s, d);
        }
        if st.last_side.is_some_and(|s| s != side) && between_ends {
            st.passed_between_ends = true;
        }
        st.last_side = Some(side);
        if st.origin.is_none() {
            st.origin = Some(side);
        }
        if d.abs() >= h {
            match st.origin {
                Some(o) if o != side && st.pending.is_some() => {}
                Some(o) if o != side && st.passed_between_ends => {
                    let arrived = *st.arrived.get_or_insert(t_s);
                    if !judge_motion || st.came_over_to(side) {
                        st.pending = Some(side);
                    } else if t_s - arrived > JUDGE_GRACE_S {
                        // It got here by jumping, not driving: it is simply on this side now.
                        st.origin = Some(side);
                        st.passed_between_ends = false;
                        st.arrived = None;
                    }
                }
                // Round the end of the line, not across it: simply on this side now, so that
                // a later crossing back (by the vehicle the tracker hands it next) counts.
                _ => {
                    st.origin = Some(side);
                    st.passed_between_ends = false;
                    st.arrived = None;
                }
            }
        }
        if confirmed && let Some(direction) = st.pending {
            st.counted = true;
            st.passed_between_ends = false;
            if let Some(length) = self.line.ground_length().filter(|_| judge_motion) {
                let at = self.line.along(image) * length;
                self.recent_counts.retain(|&(t, _, _)| t_s - t < SAME_VEHICLE_S && t <= t_s);
                let twin =
                    self.recent_counts.iter().any(|&(_, a, dir)| dir == direction && (a - at).abs() < SAME_VEHICLE_M);
                if twin {
                    return None;
                }
                self.recent_counts.push_back((t_s, at, direction));
            }
            return Some(Crossing { track, direction });
        }
        None
    }

    /// Forgets tracks the tracker has dropped.
    pub fn retain(&mut self, alive: &dyn Fn(u64) -> bool) {
        self.tracks.retain(|id, _| alive(*id));
    }

    /// Forgets one track: its next crossing is judged as a new track's.
    pub fn forget(&mut self, track: u64) {
        self.tracks.remove(&track);
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
            (0..40).filter_map(|i| c.observe(7, 0.0, [100.0, 60.0 + i as f64 * 2.0], None, true)).collect();
        assert_eq!(hits, vec![Crossing { track: 7, direction: 1 }]);
    }

    #[test]
    fn driving_around_the_end_of_the_line_does_not_count() {
        let mut c = horizontal(5.0);
        let hits = (0..40).filter_map(|i| c.observe(1, 0.0, [300.0, 60.0 + i as f64 * 2.0], None, true)).count();
        assert_eq!(hits, 0);
    }

    #[test]
    fn a_tentative_track_counts_only_once_confirmed() {
        let mut c = horizontal(5.0);
        assert_eq!(c.observe(1, 0.0, [100.0, 90.0], None, false), None);
        assert_eq!(c.observe(1, 0.0, [100.0, 110.0], None, false), None);
        assert_eq!(c.observe(1, 0.0, [100.0, 112.0], None, true), Some(Crossing { track: 1, direction: 1 }));
    }

    /// A camera looking straight down where 10 px are 1 m of ground (for rule tests).
    pub(crate) fn ten_px_a_metre() -> Homography {
        Homography {
            image_to_ground: nalgebra::Matrix3::new(0.1, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 1.0),
            ground_to_image: nalgebra::Matrix3::new(10.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 1.0),
        }
    }

    /// A line along image row 100 on a camera where 10 px are 1 m of ground, hysteresis 1 m.
    fn metric() -> LineCounter {
        LineCounter::new(LineGeometry::new("m", [0.0, 100.0], [200.0, 100.0], 1.0, Some(&ten_px_a_metre())))
    }

    /// Feeds ground positions (metres down the image, at x = 10 m) at 25 frames/s.
    fn drive(c: &mut LineCounter, ys_m: impl IntoIterator<Item = f64>) -> Vec<i8> {
        ys_m.into_iter()
            .enumerate()
            .filter_map(|(i, y)| c.observe(1, i as f64 * 0.04, [100.0, y * 10.0], Some([10.0, y]), true))
            .map(|x| x.direction)
            .collect()
    }

    #[test]
    fn a_vehicle_crossing_a_calibrated_line_counts_once() {
        let mut c = metric();
        assert_eq!(drive(&mut c, (0..100).map(|i| 2.0 + 0.4 * f64::from(i))), vec![1]);
    }

    #[test]
    fn a_wrong_way_driver_counts_the_other_way() {
        let mut c = metric();
        assert_eq!(drive(&mut c, (0..100).map(|i| 25.0 - 0.3 * f64::from(i))), vec![-1]);
    }

    /// The tracker hands a departing vehicle's track the piece of the vehicle behind it:
    /// the ground point jumps 6 m back across the line, then drives on (or stands).
    #[test]
    fn a_box_that_jumps_back_across_the_line_never_counts() {
        // In one step, or spread by the Kalman filter over frames at a vehicle's speed.
        let jumps: [&[f64]; 2] = [&[14.5, 11.0, 9.0, 8.5], &[16.0, 15.0, 14.0, 13.0, 12.0, 11.0, 10.0, 9.0, 8.5]];
        for jump in jumps {
            for after_mps in [0.0, 3.0, 10.0] {
                let mut c = metric();
                let before = (0..25).map(|i| 12.0 + 0.2 * f64::from(i)); // on the far side, driving on
                let after = (1..200).map(|i| 8.5 + after_mps * 0.04 * f64::from(i)).map(|y| y.min(20.0));
                let got = drive(&mut c, before.chain(jump.iter().copied()).chain(after));
                assert!(got.is_empty(), "{jump:?}, {after_mps} m/s after: counted {got:?}");
            }
        }
    }

    #[test]
    fn a_crossing_right_after_a_jump_counts_once_the_motion_is_steady() {
        let mut c = metric();
        // Creeping in a queue, the box jumps forward over the line when blobs merge, then the
        // vehicle really drives off across it.
        let queue = (0..50).map(|_| 9.3);
        let jump = [10.8, 11.6, 11.8];
        let off = (1..60).map(|i| 11.8 + 0.2 * f64::from(i));
        assert_eq!(drive(&mut c, queue.chain(jump).chain(off)), vec![1]);
    }

    #[test]
    fn a_second_piece_of_one_vehicle_is_not_a_second_vehicle() {
        let mut c = metric();
        // Track 1 along x = 5 m; track 2, a piece of the same blob 1.2 m to the side, crosses
        // 0.6 s later; track 3 in the next lane (3.2 m over) with it; track 4 follows in track
        // 1's lane 1.5 s behind.
        let mut got = Vec::new();
        for i in 0..200 {
            let t = f64::from(i) * 0.04;
            for (id, x, delay) in [(1, 5.0, 0.0), (2, 6.2, 0.6), (3, 8.2, 0.6), (4, 5.0, 1.5)] {
                let y = 8.0 + 10.0 * (t - delay);
                if (t - delay) >= 0.0
                    && let Some(x) = c.observe(id, t, [x * 10.0, y * 10.0], Some([x, y]), true)
                {
                    got.push(x.track);
                }
            }
        }
        assert_eq!(got, vec![1, 3, 4]);
    }

    /// Feeds ground positions (x, y metres) at 25 frames/s from `t0`; the directions counted.
    fn drive_xy(c: &mut LineCounter, t0: f64, pts: impl IntoIterator<Item = (f64, f64)>) -> Vec<i8> {
        pts.into_iter()
            .enumerate()
            .filter_map(|(i, (x, y))| c.observe(1, t0 + i as f64 * 0.04, [x * 10.0, y * 10.0], Some([x, y]), true))
            .map(|x| x.direction)
            .collect()
    }

    /// A track follows a vehicle past the end of the line (a departing car beside an
    /// approach's stop line), then the tracker hands it a vehicle that crosses the line.
    #[test]
    fn a_track_that_came_round_the_end_counts_the_next_vehicle_it_follows() {
        let mut c = metric(); // from (0, 10) to (20, 10) m
        let round = drive_xy(&mut c, 0.0, (0..75).map(|i| (25.0, 30.0 - 0.4 * f64::from(i))));
        assert!(round.is_empty(), "past the end: {round:?}");
        let back = drive_xy(&mut c, 3.0, (0..75).map(|i| (12.0, 0.5 + 0.4 * f64::from(i))));
        assert_eq!(back, vec![1]);
    }

    #[test]
    fn a_counted_track_counts_again_only_after_coming_round_the_end() {
        let mut c = metric();
        assert_eq!(drive_xy(&mut c, 0.0, (0..75).map(|i| (12.0, 0.5 + 0.4 * f64::from(i)))), vec![1]);
        // Back to where it came from through the line (a box that jumped back): never again.
        let mut jumped = c.clone();
        let through = (0..60).map(|i| (12.0, 30.0 - 0.5 * f64::from(i)));
        let again = (0..75).map(|i| (12.0, 0.5 + 0.4 * f64::from(i)));
        assert!(drive_xy(&mut jumped, 3.0, through.chain(again)).is_empty());
        // Round the end of the line, then handed a vehicle that crosses: a new vehicle.
        let round = (0..75).map(|i| (25.0, 30.0 - 0.4 * f64::from(i)));
        let next = (0..75).map(|i| (12.0, 0.5 + 0.4 * f64::from(i)));
        assert_eq!(drive_xy(&mut c, 3.0, round.chain(next)), vec![1]);
    }

    proptest! {
        /// On a calibrated line any steady speed with box jitter of up to 0.25 m counts once.
        #[test]
        fn a_calibrated_vehicle_counts_once_whatever_its_speed(
            mps in 1.5f64..30.0,
            jitter in proptest::collection::vec(-0.25f64..0.25, 400),
            up in any::<bool>(),
        ) {
            let mut c = metric();
            let ys = jitter.iter().enumerate().map(|(i, j)| {
                let progress = (mps * 0.04 * i as f64).min(30.0) + j;
                if up { 25.0 - progress } else { -5.0 + progress }
            });
            prop_assert_eq!(drive(&mut c, ys), vec![if up { -1 } else { 1 }]);
        }
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
                if c.observe(1, 0.0, [100.0, y], None, true).is_some() { n += 1; }
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
                if c.observe(1, 0.0, [100.0, y], None, true).is_some() { n += 1; }
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
                if let Some(x) = c.observe(1, 0.0, [100.0, y], None, true) { got.push(x.direction); }
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
