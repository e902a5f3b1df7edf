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
            trail: VecDeque::from([TrailPoint { t_s, image, ground }]),
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
            t.trail.push_back(TrailPoint { t_s, image, ground });
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

    #[test]
    fn a_one_frame_flicker_never_confirms() {
        let mut tr = Tracker::new(TrackerParams::default(), None);
        tr.update(0.0, &[det(50.0, 50.0)]);
        let tracks = tr.update(0.04, &[]);
        assert!(tracks.is_empty());
    }
}
