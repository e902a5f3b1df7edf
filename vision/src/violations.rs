//! Violation rules over confirmed tracks: each judged once per track and place.

use std::collections::{HashMap, HashSet};

use nutgiao_config::{Zone, ZoneKind};

use crate::counting::{LineCounter, LineGeometry};
use crate::event::ViolationType;
use crate::track::Track;

/// Below this a vehicle is stopped (km/h): box jitter makes a parked car "move" a little.
const STOPPED_KMH: f64 = 4.0;

pub fn inside(poly: &[[f64; 2]], p: [f64; 2]) -> bool {
    let mut inside = false;
    let n = poly.len();
    let mut j = n.wrapping_sub(1);
    for i in 0..n {
        let (a, b) = (poly[i], poly[j]);
        if (a[1] > p[1]) != (b[1] > p[1]) && p[0] < (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]) + a[0] {
            inside = !inside;
        }
        j = i;
    }
    inside
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub violation: ViolationType,
    pub place: String,
    pub track: u64,
}

pub struct ZoneRules {
    zones: Vec<Zone>,
    /// Solid lane lines, one crossing counter per polyline segment.
    solid: Vec<(String, Vec<LineCounter>)>,
    stopped_since: HashMap<(u64, usize), f64>,
    reported: HashSet<(u64, String, ViolationType)>,
}

impl ZoneRules {
    pub fn new(zones: &[Zone], homography: Option<&nutgiao_config::Homography>) -> Self {
        let solid = zones
            .iter()
            .filter(|z| z.kind == ZoneKind::SolidLine)
            .map(|z| {
                let segs = z
                    .points
                    .windows(2)
                    .enumerate()
                    .map(|(i, w)| {
                        LineCounter::new(LineGeometry::new(&format!("{}#{i}", z.id), w[0], w[1], 0.5, homography))
                    })
                    .collect();
                (z.id.clone(), segs)
            })
            .collect();
        Self { zones: zones.to_vec(), solid, stopped_since: HashMap::new(), reported: HashSet::new() }
    }

    /// The lane (from the kerb) of an approach whose queue zone holds the point.
    pub fn lane_of(&self, approach: Option<&str>, p: [f64; 2]) -> Option<u8> {
        let approach = approach?;
        self.zones
            .iter()
            .filter(|z| z.kind == ZoneKind::Queue && z.approach.as_deref() == Some(approach))
            .position(|z| inside(&z.points, p))
            .map(|i| i as u8)
    }

    pub fn judge(&mut self, t_s: f64, track: &Track) -> Vec<Finding> {
        let mut out = Vec::new();
        if !track.is_counted_state() {
            return out;
        }
        let p = track.ground_point_px();
        let speed = track.speed_kmh();
        for (zi, z) in self.zones.iter().enumerate() {
            if !matches!(z.kind, ZoneKind::NoStopping | ZoneKind::Speed) || !inside(&z.points, p) {
                self.stopped_since.remove(&(track.id, zi));
                continue;
            }
            match z.kind {
                ZoneKind::Speed => {
                    if let (Some(limit), Some(v)) = (z.speed_limit_kmh, speed)
                        && v > limit
                    {
                        out.push(Finding { violation: ViolationType::Speeding, place: z.id.clone(), track: track.id });
                    }
                }
                ZoneKind::NoStopping => {
                    let stopped = speed.is_some_and(|v| v < STOPPED_KMH);
                    if !stopped {
                        self.stopped_since.remove(&(track.id, zi));
                        continue;
                    }
                    let since = *self.stopped_since.entry((track.id, zi)).or_insert(t_s);
                    if t_s - since > z.max_dwell_s.unwrap_or(60.0) {
                        out.push(Finding {
                            violation: ViolationType::IllegalStop,
                            place: z.id.clone(),
                            track: track.id,
                        });
                    }
                }
                _ => {}
            }
        }
        for (id, segs) in &mut self.solid {
            for s in segs.iter_mut() {
                if s.observe(track.id, p, track.ground_point_m(), true).is_some() {
                    out.push(Finding { violation: ViolationType::SolidLine, place: id.clone(), track: track.id });
                }
            }
        }
        out.retain(|f| self.reported.insert((f.track, f.place.clone(), f.violation)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_in_polygon() {
        let sq = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert!(inside(&sq, [5.0, 5.0]));
        assert!(!inside(&sq, [15.0, 5.0]));
    }
}
