//! Multi-object tracker: a Kalman filter per track, Hungarian assignment on IoU and
//! distance, and a tentative -> confirmed -> lost lifecycle.
//!
//! A track must be seen on `confirm_hits` frames before it is confirmed (only confirmed
//! tracks count), so a flickering shadow never becomes a vehicle; a confirmed track that
//! is missed coasts on its prediction for `max_lost_s`, so a vehicle hidden behind a bus
//! or a pole keeps its id and is not counted again when it reappears.

pub mod hungarian;
pub mod kalman;

use std::collections::{BTreeMap, VecDeque};

use nutgiao_config::Homography;
use serde::Serialize;

use crate::detect::{BoxPx, Detection, VehicleKind};
use kalman::ConstantVelocity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackState {
    Tentative,
    Confirmed,
    /// Confirmed, missed on the latest frames, coasting on its prediction.
    Lost,
}

#[derive(Debug, Clone)]
pub struct TrackerParams {
    pub confirm_hits: u32,
    pub max_lost_s: f64,
    /// Below this IoU (and beyond `max_jump` box sizes) a detection cannot be this track.
    pub min_iou: f64,
    pub max_jump: f64,
}

impl Default for TrackerParams {
    fn default() -> Self {
        Self { confirm_hits: 3, max_lost_s: 0.8, min_iou: 0.05, max_jump: 0.8 }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrailPoint {
    pub t_s: f64,
    /// Ground point in image pixels.
    pub image: [f64; 2],
    /// Ground point in site metres, when the camera is calibrated.
    pub ground: Option<[f64; 2]>,
    /// A detection was assigned to the track on this frame (false while it coasts on its
    /// prediction).
    pub seen: bool,
}

#[derive(Debug, Clone)]
pub struct Track {
    pub id: u64,
    pub state: TrackState,
    pub bbox: BoxPx,
    pub kind: VehicleKind,
    pub hits: u32,
    pub last_seen_s: f64,
    pub first_seen_s: f64,
    /// Recent ground points, oldest first (for speed, direction and the evidence trail).
    pub trail: VecDeque<TrailPoint>,
    kf: ConstantVelocity,
    kind_votes: BTreeMap<VehicleKind, u32>,
}

const TRAIL_LEN: usize = 90;

/// How much seen trail the speed reported at a line is measured over (s).
const CROSSING_SPEED_WINDOW_S: f64 = 0.8;
/// A step of the trail this far (m/s) from the median step is a jump, not motion.
const CROSSING_SPEED_OUTLIER_MS: f64 = 15.0;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

impl Track {
    pub fn ground_point_px(&self) -> [f64; 2] {
        self.bbox.ground_point()
    }

    pub fn ground_point_m(&self) -> Option<[f64; 2]> {
        self.trail.back().and_then(|p| p.ground)
    }

    pub fn is_counted_state(&self) -> bool {
        matches!(self.state, TrackState::Confirmed | TrackState::Lost)
    }

    /// Ground speed over the last second of trail (km/h), when calibrated.
    pub fn speed_kmh(&self) -> Option<f64> {
        let last = self.trail.back()?;
        let g1 = last.ground?;
        let first = self.trail.iter().rev().find(|p| last.t_s - p.t_s >= 1.0).or_else(|| self.trail.front())?;
        let g0 = first.ground?;
        let dt = last.t_s - first.t_s;
        if dt < 0.2 {
            return None;
        }
        let d = ((g1[0] - g0[0]).powi(2) + (g1[1] - g0[1]).powi(2)).sqrt();
        Some(d / dt * 3.6)
    }

    /// Ground speed for a count event (km/h), when calibrated: measured on the frames the track
    /// was seen in the last `CROSSING_SPEED_WINDOW_S` of them, leaving out steps that are not a
    /// vehicle's motion. The last second of trail (`speed_kmh`) is the wrong speed to report
    /// at a line on the synthetic films (docs/synthetic-cameras.md, "Speed at the lines"): a
    /// track that coasts across the line carries the velocity of its prediction, often the
    /// kick of a jump, and a track handed from one vehicle to another, or whose blob merged
    /// or split, jumps by metres in one or two frames, which the distance from end to end
    /// counts as motion. Here each step between two seen frames is a velocity; steps further
    /// than `CROSSING_SPEED_OUTLIER_MS` (or 3 median deviations, if more) from the median
    /// step are left out, and the rest are averaged by their duration. With fewer than three
    /// steps, the last second of trail as before.
    pub fn crossing_speed_kmh(&self) -> Option<f64> {
        let last_seen = self.trail.iter().rev().find(|p| p.seen && p.ground.is_some())?;
        let pts: Vec<(f64, [f64; 2])> = self
            .trail
            .iter()
            .filter(|p| p.seen && last_seen.t_s - p.t_s <= CROSSING_SPEED_WINDOW_S + 1e-9)
            .filter_map(|p| p.ground.map(|g| (p.t_s, g)))
            .collect();
        if pts.len() < 4 {
            return self.speed_kmh();
        }
        // (vx, vy, dt) of each step.
        let steps: Vec<(f64, f64, f64)> = pts
            .windows(2)
            .filter_map(|w| {
                let dt = w[1].0 - w[0].0;
                (dt > 1e-6).then(|| ((w[1].1[0] - w[0].1[0]) / dt, (w[1].1[1] - w[0].1[1]) / dt, dt))
            })
            .collect();
        if steps.len() < 3 {
            return self.speed_kmh();
        }
        let mx = median(steps.iter().map(|s| s.0).collect());
        let my = median(steps.iter().map(|s| s.1).collect());
        let dev: Vec<f64> = steps.iter().map(|s| (s.0 - mx).hypot(s.1 - my)).collect();
        let tol = (3.0 * median(dev.clone())).max(CROSSING_SPEED_OUTLIER_MS);
        let (mut sx, mut sy, mut st) = (0.0, 0.0, 0.0);
        for (s, d) in steps.iter().zip(&dev) {
            if *d <= tol {
                sx += s.0 * s.2;
                sy += s.1 * s.2;
                st += s.2;
            }
        }
        // The median step itself is always within tolerance, so `st` > 0.
        Some((sx / st).hypot(sy / st) * 3.6)
    }

    /// Image velocity of the box centre, pixels per second.
    pub fn velocity_px(&self) -> [f64; 2] {
        self.kf.velocity()
    }

    /// A vehicle found standing other than by the tracker (`crate::standing`), at `t_s`, so
    /// that its violation is reported and drawn as a tracked vehicle's is: confirmed, still,
    /// with a trail of its one ground point.
    pub fn standing(id: u64, bbox: BoxPx, kind: VehicleKind, t_s: f64, homography: Option<&Homography>) -> Track {
        let image = bbox.ground_point();
        let ground = homography.and_then(|h| h.to_ground(image));
        Track {
            id,
            state: TrackState::Confirmed,
            bbox,
            kind,
            hits: 1,
            last_seen_s: t_s,
            first_seen_s: t_s,
            trail: VecDeque::from([TrailPoint { t_s, image, ground, seen: true }]),
            kf: ConstantVelocity::new(bbox.centre(), 400.0, 3.0),
            kind_votes: BTreeMap::from([(kind, 1)]),
        }
    }
}

pub struct Tracker {
    params: TrackerParams,
    tracks: Vec<Track>,
    next_id: u64,
    last_t: Option<f64>,
    homography: Option<Homography>,
}

impl Tracker {
    pub fn new(params: TrackerParams, homography: Option<Homography>) -> Self {
        Self { params, tracks: Vec::new(), next_id: 1, last_t: None, homography }
    }

    pub fn tracks(&self) -> &[Track] {
        &self.tracks
    }

    /// Advances every track to `t_s` and folds in this frame's detections.
    pub fn update(&mut self, t_s: f64, detections: &[Detection]) -> &[Track] {
        let dt = self.last_t.map_or(0.04, |t| (t_s - t).clamp(1e-3, 2.0));
        self.last_t = Some(t_s);
        for t in &mut self.tracks {
            t.kf.predict(dt);
            let p = t.kf.position();
            t.bbox.x = p[0] - t.bbox.w / 2.0;
            t.bbox.y = p[1] - t.bbox.h / 2.0;
        }
        let cost: Vec<Vec<f64>> =
            self.tracks.iter().map(|t| detections.iter().map(|d| self.cost(&t.bbox, &d.bbox)).collect()).collect();
        let assignment = hungarian::assign(&cost, 1.0);
        let mut used = vec![false; detections.len()];
        for (ti, a) in assignment.iter().enumerate() {
            let track = &mut self.tracks[ti];
            match a {
                Some(di) => {
                    used[*di] = true;
                    let d = &detections[*di];
                    track.kf.update(d.bbox.centre());
                    let p = track.kf.position();
                    // Size follows the detection slowly: blobs breathe as shadows come and go.
                    track.bbox.w = 0.6 * track.bbox.w + 0.4 * d.bbox.w;
                    track.bbox.h = 0.6 * track.bbox.h + 0.4 * d.bbox.h;
                    track.bbox.x = p[0] - track.bbox.w / 2.0;
                    track.bbox.y = p[1] - track.bbox.h / 2.0;
                    track.hits += 1;
                    track.last_seen_s = t_s;
                    *track.kind_votes.entry(d.kind).or_default() += 1;
                    track.kind = track.kind_votes.iter().max_by_key(|(_, n)| **n).map_or(d.kind, |(k, _)| *k);
                    if track.hits >= self.params.confirm_hits {
                        track.state = TrackState::Confirmed;
                    }
                }
                None => {
                    if track.state == TrackState::Confirmed {
                        track.state = TrackState::Lost;
                    }
                }
            }
        }
        // A new fragment inside a confirmed vehicle's box is that vehicle, not another one.
        let confirmed: Vec<BoxPx> =
            self.tracks.iter().filter(|t| t.state != TrackState::Tentative).map(|t| t.bbox).collect();
        self.tracks.retain(|t| {
            t.state != TrackState::Tentative || !confirmed.iter().any(|c| overlap_of_smaller(c, &t.bbox) > 0.5)
        });
        let max_lost = self.params.max_lost_s;
        self.tracks.retain(|t| match t.state {
            // One miss ends a tentative track: it never proved to be a vehicle.
            TrackState::Tentative => t.last_seen_s >= t_s,
            _ => t_s - t.last_seen_s <= max_lost,
        });
        for (di, d) in detections.iter().enumerate() {
            if !used[di] {
                let id = self.next_id;
                self.next_id += 1;
                self.tracks.push(Track {
                    id,
                    state: if self.params.confirm_hits <= 1 { TrackState::Confirmed } else { TrackState::Tentative },
                    bbox: d.bbox,
                    kind: d.kind,
                    hits: 1,
                    last_seen_s: t_s,
                    first_seen_s: t_s,
                    trail: VecDeque::new(),
                    kf: ConstantVelocity::new(d.bbox.centre(), 400.0, 3.0),
                    kind_votes: BTreeMap::from([(d.kind, 1)]),
                });
            }
        }
        for t in &mut self.tracks {
            let image = t.bbox.ground_point();
            let ground = self.homography.as_ref().and_then(|h| h.to_ground(image));
            let seen = t.last_seen_s >= t_s;
            t.trail.push_back(TrailPoint { t_s, image, ground, seen });
            if t.trail.len() > TRAIL_LEN {
                t.trail.pop_front();
            }
        }
        &self.tracks
    }

    fn cost(&self, track: &BoxPx, det: &BoxPx) -> f64 {
        let iou = track.iou(det);
        if iou >= self.params.min_iou {
            return 1.0 - iou;
        }
        let [a, b] = [track.centre(), det.centre()];
        let dist = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        let scale = track.w.max(track.h).max(det.w.max(det.h));
        if dist < self.params.max_jump * scale { 0.95 + 0.04 * dist / (self.params.max_jump * scale) } else { 1.0 }
    }
}

/// Intersection over the smaller box's area.
fn overlap_of_smaller(a: &BoxPx, b: &BoxPx) -> f64 {
    let ix = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
    let iy = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
    if ix <= 0.0 || iy <= 0.0 {
        return 0.0;
    }
    ix * iy / (a.w * a.h).min(b.w * b.h).max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f64, y: f64) -> Detection {
        Detection { bbox: BoxPx { x, y, w: 40.0, h: 30.0 }, kind: VehicleKind::Car, confidence: 1.0 }
    }

    #[test]
    fn two_crossing_vehicles_keep_their_ids_through_a_short_occlusion() {
        let mut tr = Tracker::new(TrackerParams::default(), None);
        let mut ids = None;
        for f in 0..60 {
            let t = f as f64 / 25.0;
            let a = det(10.0 + f as f64 * 5.0, 100.0);
            let b = det(10.0 + f as f64 * 5.0, 200.0);
            // Both hidden for 8 frames (a bus in front of them).
            let dets = if (25..33).contains(&f) { vec![] } else { vec![a, b] };
            let tracks = tr.update(t, &dets);
            if f == 10 {
                ids = Some((tracks[0].id, tracks[1].id));
                assert!(tracks.iter().all(|t| t.state == TrackState::Confirmed));
            }
        }
        let (a, b) = ids.unwrap();
        let ids_now: Vec<u64> = tr.tracks().iter().map(|t| t.id).collect();
        assert_eq!(ids_now, vec![a, b], "a new id after the occlusion would double-count");
    }

    /// A track with a trail of `(t, x, seen)` along the ground's x axis (y = 0).
    fn track_with_trail(points: &[(f64, f64, bool)]) -> Track {
        let mut tr = Track::standing(1, BoxPx { x: 0.0, y: 0.0, w: 40.0, h: 30.0 }, VehicleKind::Car, 0.0, None);
        tr.trail = points
            .iter()
            .map(|&(t_s, x, seen)| TrailPoint { t_s, image: [x, 0.0], ground: Some([x, 0.0]), seen })
            .collect();
        tr
    }

    #[test]
    fn the_speed_at_a_line_leaves_out_a_jump_of_the_ground_point() {
        // 10 m/s; 0.6 s in, the box bottom jumps 5 m ahead (a blob merged with the car in
        // front, or the track was handed to it) and stays there.
        let pts: Vec<(f64, f64, bool)> = (0..=25)
            .map(|f| {
                let t = f as f64 * 0.04;
                (t, 10.0 * t + if f >= 15 { 5.0 } else { 0.0 }, true)
            })
            .collect();
        let tr = track_with_trail(&pts);
        let end_to_end = tr.speed_kmh().unwrap();
        assert!((end_to_end - 54.0).abs() < 0.5, "{end_to_end}");
        let v = tr.crossing_speed_kmh().unwrap();
        assert!((v - 36.0).abs() < 0.5, "{v}");
    }

    #[test]
    fn the_speed_at_a_line_is_measured_where_the_track_was_seen() {
        // Seen for 1 s at 10 m/s, then coasting for 0.32 s on a prediction of 25 m/s.
        let mut pts: Vec<(f64, f64, bool)> = (0..=25).map(|f| (f as f64 * 0.04, 0.4 * f as f64, true)).collect();
        for k in 1..=8 {
            pts.push((1.0 + k as f64 * 0.04, 10.0 + k as f64 * 1.0, false));
        }
        let tr = track_with_trail(&pts);
        assert!(tr.speed_kmh().unwrap() > 50.0);
        let v = tr.crossing_speed_kmh().unwrap();
        assert!((v - 36.0).abs() < 0.5, "{v}");
        // With jitter of +-0.2 m on every other frame, still the steady speed.
        let jittered: Vec<(f64, f64, bool)> =
            (0..=25).map(|f| (f as f64 * 0.04, 0.4 * f as f64 + if f % 2 == 0 { 0.2 } else { -0.2 }, true)).collect();
        let v = track_with_trail(&jittered).crossing_speed_kmh().unwrap();
        assert!((v - 36.0).abs() < 2.5, "{v}");
    }

    #[test]
    fn a_one_frame_flicker_never_confirms() {
        let mut tr = Tracker::new(TrackerParams::default(), None);
        tr.update(0.0, &[det(50.0, 50.0)]);
        let tracks = tr.update(0.04, &[]);
        assert!(tracks.is_empty());
    }
}
