//! Lane occupancy and queue length from a camera's queue zones, reported per time bin.
//!
//! Each `queue` zone is one lane's storage, drawn back from the stop line; its lane index is
//! its rank among the approach's queue zones (the same rule that gives counts their lane).
//! Per frame a zone holds the confirmed vehicles whose ground point is inside it; a vehicle
//! slower than `QUEUED_KMH` is standing. Queue length is the ground distance from the
//! approach's stop line to the last standing vehicle chained to it (`back_of_queue`), so it
//! needs a calibrated camera and a stop line on the same approach; occupancy (the share of frames with a vehicle in the
//! zone, what a long loop would report) does not.

use nutgiao_config::queue::{QUEUED_KMH, back_of_queue, distance_to_segment};
use nutgiao_config::{Homography, LineKind, Zone, ZoneKind};
use serde::{Deserialize, Serialize};

use crate::camera::CameraLine;
use crate::track::Track;
use crate::violations::inside;

/// Length of a reporting bin, seconds: the counts' shortest bin, so both line up.
pub const LANE_BIN_S: f64 = 60.0;

/// What one lane's queue zone measured over one bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneMeasurement {
    pub zone: String,
    /// The camera's intersection (filled in by the pipeline).
    pub intersection: Option<String>,
    pub approach: Option<String>,
    /// Lane index from the kerb.
    pub lane: u8,
    /// Stream time of the bin's start (of its first frame when the stream began within the
    /// bin) and how long it ran (short at the start or the end of a stream); the bin ends at
    /// `start_s + duration_s`.
    pub start_s: f64,
    pub duration_s: f64,
    pub frames: u64,
    /// Share of frames with at least one vehicle in the zone, 0..1.
    pub occupancy: f64,
    pub mean_vehicles: f64,
    /// Mean and largest queue length over the bin's frames (0 when nothing queued), metres;
    /// `None` without calibration or without a stop line on the approach.
    pub queue_m: Option<f64>,
    pub queue_max_m: Option<f64>,
    pub queued_max: u32,
}

#[derive(Debug, Clone, Default)]
struct Accumulator {
    /// Stream time of the bin's first frame.
    first_s: Option<f64>,
    frames: u64,
    occupied: u64,
    vehicles: u64,
    queue_sum_m: f64,
    queue_max_m: f64,
    queued_max: u32,
}

#[derive(Debug, Clone)]
struct LaneZone {
    id: String,
    approach: Option<String>,
    lane: u8,
    polygon: Vec<[f64; 2]>,
    /// The approach's stop line on the ground.
    stop_line: Option<([f64; 2], [f64; 2])>,
    acc: Accumulator,
}

#[derive(Debug, Clone)]
pub struct LaneMeter {
    zones: Vec<LaneZone>,
    bin_s: f64,
    bin_start: Option<f64>,
    last_t: f64,
}

impl LaneMeter {
    pub fn new(zones: &[Zone], lines: &[CameraLine], homography: Option<&Homography>, bin_s: f64) -> Self {
        let mut rank: Vec<(Option<String>, u8)> = Vec::new();
        let zones = zones
            .iter()
            .filter(|z| z.kind == ZoneKind::Queue)
            .map(|z| {
                let lane = match rank.iter_mut().find(|(a, _)| *a == z.approach) {
                    Some((_, n)) => {
                        *n += 1;
                        *n
                    }
                    None => {
                        rank.push((z.approach.clone(), 0));
                        0
                    }
                };
                let stop_line = homography.and_then(|h| {
                    let l = lines
                        .iter()
                        .find(|l| l.kind == LineKind::StopLine && l.approach.is_some() && l.approach == z.approach)?;
                    Some((h.to_ground(l.geometry.p0)?, h.to_ground(l.geometry.p1)?))
                });
                LaneZone {
                    id: z.id.clone(),
                    approach: z.approach.clone(),
                    lane,
                    polygon: z.points.clone(),
                    stop_line,
                    acc: Accumulator::default(),
                }
            })
            .collect();
        Self { zones, bin_s, bin_start: None, last_t: 0.0 }
    }

    /// Takes one frame's tracks; returns the bin's measurements when `t_s` starts a new bin.
    pub fn observe(&mut self, t_s: f64, tracks: &[Track]) -> Vec<LaneMeasurement> {
        if self.zones.is_empty() {
            return Vec::new();
        }
        let bin = (t_s / self.bin_s).floor() * self.bin_s;
        let out = match self.bin_start {
            Some(start) if bin > start => self.close(start, start + self.bin_s),
            _ => Vec::new(),
        };
        if self.bin_start != Some(bin) {
            self.bin_start = Some(bin);
        }
        self.last_t = t_s;
        for z in &mut self.zones {
            let mut vehicles = 0u64;
            let mut queued = 0u32;
            let mut standing: Vec<f64> = Vec::new();
            for tr in tracks.iter().filter(|t| t.is_counted_state()) {
                if !inside(&z.polygon, tr.ground_point_px()) {
                    continue;
                }
                vehicles += 1;
                if tr.speed_kmh().is_some_and(|v| v < QUEUED_KMH) {
                    queued += 1;
                    if let (Some((a, b)), Some(g)) = (z.stop_line, tr.ground_point_m()) {
                        standing.push(distance_to_segment(g, a, b));
                    }
                }
            }
            let queue_m = back_of_queue(standing);
            let acc = &mut z.acc;
            acc.first_s.get_or_insert(t_s);
            acc.frames += 1;
            acc.occupied += u64::from(vehicles > 0);
            acc.vehicles += vehicles;
            acc.queue_sum_m += queue_m;
            acc.queue_max_m = acc.queue_max_m.max(queue_m);
            acc.queued_max = acc.queued_max.max(queued);
        }
        out
    }

    /// The open bin's measurements at the end of a stream (its duration up to the last frame).
    pub fn finish(&mut self) -> Vec<LaneMeasurement> {
        match self.bin_start.take() {
            // A bin that holds only the stream's last frame (it ended on a bin boundary) has
            // no duration to report occupancy over.
            Some(start) if self.last_t > start => {
                let end = self.last_t;
                self.close(start, end)
            }
            _ => Vec::new(),
        }
    }

    fn close(&mut self, start: f64, end: f64) -> Vec<LaneMeasurement> {
        self.zones
            .iter_mut()
            .filter(|z| z.acc.frames > 0)
            .map(|z| {
                let a = std::mem::take(&mut z.acc);
                let n = a.frames as f64;
                let calibrated = z.stop_line.is_some();
                // A stream that starts within a bin covers only part of it: the bin then starts
                // at its first frame, so that start + duration is always the bin's end.
                let from = a.first_s.filter(|f| f - start > 1.0).unwrap_or(start);
                LaneMeasurement {
                    zone: z.id.clone(),
                    intersection: None,
                    approach: z.approach.clone(),
                    lane: z.lane,
                    start_s: from,
                    duration_s: end - from,
                    frames: a.frames,
                    occupancy: a.occupied as f64 / n,
                    mean_vehicles: a.vehicles as f64 / n,
                    queue_m: calibrated.then(|| a.queue_sum_m / n),
                    queue_max_m: calibrated.then_some(a.queue_max_m),
                    queued_max: a.queued_max,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{BoxPx, Detection, VehicleKind};
    use crate::track::{Tracker, TrackerParams};

    /// The west approach of cam-J1-W with its two queue zones and stop line.
    fn j1w() -> (crate::CameraSetup, LaneMeter) {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/arterial.toml");
        let site = nutgiao_config::load(path).unwrap();
        let setup = crate::CameraSetup::from_site(&site, "cam-J1-W").unwrap();
        let meter = LaneMeter::new(&setup.zones, &setup.lines, setup.homography.as_ref(), 10.0);
        (setup, meter)
    }

    /// A car box whose ground point (bottom centre) is the image of ground point `g`.
    fn car_at(setup: &crate::CameraSetup, g: [f64; 2]) -> Detection {
        let p = setup.homography.as_ref().unwrap().to_image(g).unwrap();
        Detection {
            bbox: BoxPx { x: p[0] - 20.0, y: p[1] - 24.0, w: 40.0, h: 24.0 },
            kind: VehicleKind::Car,
            confidence: 1.0,
        }
    }

    #[test]
    fn a_standing_queue_is_measured_from_the_stop_line_in_its_lane() {
        let (setup, mut meter) = j1w();
        let mut tracker = Tracker::new(TrackerParams::default(), setup.homography);
        // Two cars standing in the kerb lane (y = -4.8 m, stop line at x = -7.2 m): the last
        // one 17 m back. Nothing in the median lane.
        let cars = [car_at(&setup, [-12.0, -4.8]), car_at(&setup, [-24.2, -4.8])];
        let mut out = Vec::new();
        for k in 0..=250 {
            let t = f64::from(k) * 0.04;
            tracker.update(t, &cars);
            out.extend(meter.observe(t, tracker.tracks()));
        }
        assert_eq!(out.len(), 2, "one bin closed for each of the two zones: {out:?}");
        let kerb = out.iter().find(|m| m.lane == 0).unwrap();
        let median = out.iter().find(|m| m.lane == 1).unwrap();
        assert_eq!((kerb.zone.as_str(), kerb.approach.as_deref()), ("J1-W-queue-0", Some("J1-W")));
        assert!(kerb.occupancy > 0.8, "{kerb:?}");
        assert_eq!(kerb.queued_max, 2);
        let max = kerb.queue_max_m.unwrap();
        assert!((max - 17.0).abs() < 1.5, "queue {max} m, expected about 17 m");
        assert_eq!(median.occupancy, 0.0);
        assert_eq!(median.queue_max_m, Some(0.0));
        assert_eq!((kerb.start_s, kerb.duration_s), (0.0, 10.0));
    }

    /// A 100 px square queue zone of no approach (so no stop line, no queue length).
    fn square_zone() -> Zone {
        Zone {
            id: "q".into(),
            kind: ZoneKind::Queue,
            points: vec![[0.0, 0.0], [100.0, 0.0], [100.0, 100.0], [0.0, 100.0]],
            approach: None,
            max_dwell_s: None,
            speed_limit_kmh: None,
        }
    }

    #[test]
    fn the_open_bin_is_reported_at_the_end_and_an_uncalibrated_zone_has_no_queue_length() {
        let mut meter = LaneMeter::new(&[square_zone()], &[], None, 60.0);
        let mut tracker = Tracker::new(TrackerParams::default(), None);
        let det = Detection {
            bbox: BoxPx { x: 40.0, y: 40.0, w: 20.0, h: 20.0 },
            kind: VehicleKind::Vehicle,
            confidence: 1.0,
        };
        for k in 0..50 {
            let t = f64::from(k) * 0.1;
            let dets = if k < 25 { vec![det] } else { Vec::new() };
            tracker.update(t, &dets);
            assert!(meter.observe(t, tracker.tracks()).is_empty());
        }
        let end = meter.finish();
        assert_eq!(end.len(), 1);
        assert_eq!(end[0].queue_m, None);
        assert!((end[0].duration_s - 4.9).abs() < 1e-9);
        // Seen on frames 0-24, confirmed from its third hit, then coasting 0.8 s as a lost
        // track (a vehicle hidden for a moment still occupies its lane): 31 of 50 frames.
        assert!((end[0].occupancy - 0.62).abs() < 0.03, "{:?}", end[0]);
        assert!(meter.finish().is_empty());
    }

    #[test]
    fn a_stream_that_starts_within_a_bin_reports_the_time_it_saw() {
        let mut meter = LaneMeter::new(&[square_zone()], &[], None, 60.0);
        let mut out = Vec::new();
        for k in 0..=400 {
            out.extend(meter.observe(45.0 + f64::from(k) * 0.1, &[]));
        }
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].start_s, out[0].duration_s), (45.0, 15.0));
        let last = meter.finish();
        assert_eq!((last[0].start_s, last[0].duration_s), (60.0, 25.0));
    }
}
