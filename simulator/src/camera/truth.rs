//! Ground truth of the synthetic cameras, one JSON object per line (docs/ground-truth.md):
//! every frame's vehicles with their boxes, the signal state per approach, each crossing
//! of each camera's counting lines, and each violation a camera could see.
//!
//! Crossings use the camera's own `[[camera.line]]` image points and the vision pipeline's
//! convention (the box's bottom centre, +1 from the left of p0->p1 to its right on screen,
//! once per vehicle and line), so that the score compares like with like.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use nutgiao_config::{Camera, Homography, LineKind, Site, VehicleClass, ZoneKind};
use nutgiao_controller::SiteSignals;
use serde::{Deserialize, Serialize};

use super::CameraError;
use super::render::InView;
use crate::{MisbehaviourKind, SimEvent};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthLine {
    pub id: String,
    pub approach: Option<String>,
    pub points: [[f64; 2]; 2],
    /// The same points on the ground (site metres), through the camera's calibration.
    pub ground_m: Option<[[f64; 2]; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthCamera {
    pub id: String,
    pub fps: f64,
    pub resolution: [u32; 2],
    pub lines: Vec<TruthLine>,
    /// The camera's `queue` zones, so queue lengths can be scored (absent in older files).
    #[serde(default)]
    pub queue_zones: Vec<TruthQueueZone>,
}

/// A lane's queue zone as the vision pipeline measures it (`vision/src/queues.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthQueueZone {
    pub id: String,
    pub approach: Option<String>,
    /// Polygon in image pixels.
    pub points: Vec<[f64; 2]>,
    /// The approach's stop line on the ground (site metres), queue lengths are measured from.
    pub stop_line_m: Option<[[f64; 2]; 2]>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruthVehicle {
    pub id: u64,
    pub class: VehicleClass,
    /// x, y, w, h in pixels (the whole vehicle, even where another one hides it).
    pub bbox: [f64; 4],
    /// Centre of the footprint, site metres.
    pub ground_m: [f64; 2],
    pub speed_kmh: f64,
    pub link: String,
    pub lane: u8,
    pub heading_deg: f64,
    pub wrong_way: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum TruthRecord {
    Header {
        site: String,
        seed: u64,
        time_of_day: String,
        step_s: f64,
        cameras: Vec<TruthCamera>,
    },
    Frame {
        camera: String,
        frame: u64,
        t: f64,
        vehicles: Vec<TruthVehicle>,
        /// Indication per approach of the camera's intersection.
        signals: BTreeMap<String, String>,
    },
    Crossing {
        camera: String,
        line: String,
        t: f64,
        vehicle: u64,
        class: VehicleClass,
        direction: i8,
        speed_kmh: f64,
        lane: u8,
    },
    Violation {
        camera: String,
        /// `red_light`, `wrong_way`, `illegal_stop` or `speeding`, as the vision reports them.
        #[serde(rename = "type")]
        violation: String,
        /// When it began and ended (the same instant for a red-light run).
        t: f64,
        end_t: f64,
        vehicle: u64,
        class: VehicleClass,
        place: String,
        x: f64,
        y: f64,
        /// Red-light runs only: false for a driver caught by the change who could not stop.
        #[serde(skip_serializing_if = "Option::is_none", default)]
        deliberate: Option<bool>,
    },
}

struct CamLines {
    id: String,
    intersection: String,
    lines: Vec<(String, [[f64; 2]; 2])>,
    stop_lines: Vec<(String, String)>,
    width: f64,
    height: f64,
    /// Where the camera is meant to look (the whole picture when the site gives none).
    roi: Vec<[f64; 2]>,
    /// `no_stopping` zones: id, image polygon, dwell allowed (the vision's 60 s by default).
    no_stopping: Vec<(String, Vec<[f64; 2]>, f64)>,
    pinhole: Option<nutgiao_config::pose::Pinhole>,
}

#[derive(Debug, Clone, Copy)]
struct Interval {
    start: f64,
    last: f64,
    class: VehicleClass,
    x: f64,
    y: f64,
}

/// An illegal stop under way in a camera's no-stopping zone.
#[derive(Debug, Clone)]
struct Stop {
    camera: usize,
    start: f64,
    class: VehicleClass,
    zone: String,
    /// Dwell the zone allows.
    dwell: f64,
    x: f64,
    y: f64,
}

impl Stop {
    /// The violation record if the stop outlasted the zone's dwell by `end`.
    fn record(self, cams: &[CamLines], end: f64, vehicle: u64) -> Option<TruthRecord> {
        (end - self.start >= self.dwell).then(|| TruthRecord::Violation {
            camera: cams[self.camera].id.clone(),
            violation: "illegal_stop".into(),
            t: self.start,
            end_t: end,
            vehicle,
            class: self.class,
            place: self.zone,
            x: self.x,
            y: self.y,
            deliberate: None,
        })
    }
}

/// Turns frames and simulator events into truth records.
pub struct TruthRecorder {
    out: Option<Box<dyn Write + Send>>,
    cams: Vec<CamLines>,
    /// Approach id -> (intersection, phase) that serves its through movement.
    approach_phase: BTreeMap<String, (String, u8)>,
    limits_kmh: HashMap<String, f64>,
    sides: HashMap<(usize, usize, u64), (i8, bool)>,
    open: HashMap<(usize, &'static str, u64), Interval>,
    /// Illegal stops under way in a camera's no-stopping zone, by vehicle.
    stops: HashMap<u64, Stop>,
    classes: HashMap<u64, VehicleClass>,
    now: f64,
    pub crossings: u64,
    pub violations: u64,
}

impl TruthRecorder {
    pub fn new(
        site: &Site,
        out: Option<Box<dyn Write + Send>>,
        seed: u64,
        time_of_day: &str,
        step_s: f64,
    ) -> Result<Self, CameraError> {
        let mut cams = Vec::new();
        let mut header = Vec::new();
        for c in &site.cameras {
            cams.push(cam_lines(c));
            header.push(truth_camera(c));
        }
        let mut approach_phase = BTreeMap::new();
        for i in &site.intersections {
            for p in &i.phases {
                for m in &p.movements {
                    approach_phase.entry(m.approach.clone()).or_insert((i.id.clone(), p.id));
                }
            }
        }
        let limits_kmh = site.links.iter().map(|l| (l.id.clone(), l.speed_limit_kmh)).collect();
        let mut r = TruthRecorder {
            out,
            cams,
            approach_phase,
            limits_kmh,
            sides: HashMap::new(),
            open: HashMap::new(),
            stops: HashMap::new(),
            classes: HashMap::new(),
            now: 0.0,
            crossings: 0,
            violations: 0,
        };
        r.write(&TruthRecord::Header {
            site: site.site.name.clone(),
            seed,
            time_of_day: time_of_day.to_owned(),
            step_s,
            cameras: header,
        })?;
        Ok(r)
    }

    fn write(&mut self, rec: &TruthRecord) -> Result<(), CameraError> {
        if let Some(out) = self.out.as_mut() {
            serde_json::to_writer(&mut *out, rec).map_err(|e| CameraError::Truth(e.to_string()))?;
            out.write_all(b"\n").map_err(|e| CameraError::Truth(e.to_string()))?;
        }
        Ok(())
    }

    /// One camera's frame at simulation time `t`.
    pub fn frame(
        &mut self,
        camera: usize,
        frame: u64,
        t: f64,
        seen: &[InView],
        signals: &SiteSignals,
    ) -> Result<(), CameraError> {
        self.now = t;
        let cam_id = self.cams[camera].id.clone();
        let mut records = Vec::new();
        let mut still: Vec<(usize, usize, u64)> = Vec::new();
        for s in seen {
            let v = &s.vehicle;
            self.classes.insert(v.id, v.class);
            for (li, (line, pts)) in self.cams[camera].lines.iter().enumerate() {
                let d = cross(pts[0], pts[1], s.foot_px);
                let side: i8 = if d >= 0.0 { 1 } else { -1 };
                let along = along(pts[0], pts[1], s.foot_px);
                let key = (camera, li, v.id);
                still.push(key);
                let entry = self.sides.entry(key).or_insert((side, false));
                if entry.0 != side && !entry.1 && (-0.05..=1.05).contains(&along) {
                    entry.1 = true;
                    records.push(TruthRecord::Crossing {
                        camera: cam_id.clone(),
                        line: line.clone(),
                        t,
                        vehicle: v.id,
                        class: v.class,
                        direction: side,
                        speed_kmh: v.speed_ms * 3.6,
                        lane: v.lane,
                    });
                }
                entry.0 = side;
            }
            let limit = self.limits_kmh.get(&v.link).copied().unwrap_or(f64::INFINITY);
            let speeding = v.misbehaviour == Some(MisbehaviourKind::Speeder) && v.speed_ms * 3.6 > 1.1 * limit;
            let in_roi = inside(&self.cams[camera].roi, s.foot_px);
            for (kind, on) in [("wrong_way", v.wrong_way), ("speeding", speeding)] {
                if on && in_roi {
                    let c = super::vehicles::centre(v);
                    self.open.entry((camera, kind, v.id)).and_modify(|i| i.last = t).or_insert(Interval {
                        start: t,
                        last: t,
                        class: v.class,
                        x: c[0],
                        y: c[1],
                    });
                }
            }
        }
        self.sides.retain(|k, _| k.0 != camera || still.contains(k));
        // Close the intervals of vehicles that left this camera's picture (or stopped misbehaving).
        let closed: Vec<_> =
            self.open.iter().filter(|(k, i)| k.0 == camera && i.last < t).map(|(k, i)| (*k, *i)).collect();
        for (k, i) in closed {
            self.open.remove(&k);
            records.push(violation(&cam_id, k.1, i, k.2, String::new()));
        }
        let cam = &self.cams[camera];
        let mut by_approach = BTreeMap::new();
        for (approach, (inter, phase)) in &self.approach_phase {
            if *inter != cam.intersection {
                continue;
            }
            let ind = signals.get(inter).and_then(|ps| ps.iter().find(|p| p.phase == *phase)).map(|p| p.indication);
            by_approach.insert(approach.clone(), ind.map_or("unknown", |i| i.as_str()).to_owned());
        }
        let vehicles = seen
            .iter()
            .map(|s| {
                let v = &s.vehicle;
                let c = super::vehicles::centre(v);
                TruthVehicle {
                    id: v.id,
                    class: v.class,
                    bbox: s.bbox.map(|x| (x * 10.0).round() / 10.0),
                    ground_m: [round2(c[0]), round2(c[1])],
                    speed_kmh: round2(v.speed_ms * 3.6),
                    link: v.link.clone(),
                    lane: v.lane,
                    heading_deg: round2(v.heading_deg),
                    wrong_way: v.wrong_way,
                }
            })
            .collect();
        self.write(&TruthRecord::Frame { camera: cam_id, frame, t, vehicles, signals: by_approach })?;
        for r in &records {
            if matches!(r, TruthRecord::Crossing { .. }) {
                self.crossings += 1;
            } else {
                self.violations += 1;
            }
            self.write(r)?;
        }
        Ok(())
    }

    /// The simulator's own violation events (red-light runs and illegal stops).
    pub fn sim_events(&mut self, events: &[SimEvent]) -> Result<(), CameraError> {
        let mut records = Vec::new();
        for e in events {
            match e {
                SimEvent::Inserted { vehicle, class, .. } => {
                    self.classes.insert(*vehicle, *class);
                }
                SimEvent::RedLightRun { t, vehicle, approach, x, y, deliberate, .. } => {
                    for cam in &self.cams {
                        if let Some((_, line)) = cam.stop_lines.iter().find(|(a, _)| a == approach) {
                            records.push(TruthRecord::Violation {
                                camera: cam.id.clone(),
                                violation: "red_light".into(),
                                t: *t,
                                end_t: *t,
                                vehicle: *vehicle,
                                class: self.classes.get(vehicle).copied().unwrap_or(VehicleClass::Car),
                                place: line.clone(),
                                x: *x,
                                y: *y,
                                deliberate: Some(*deliberate),
                            });
                        }
                    }
                }
                SimEvent::IllegalStopStart { t, vehicle, x, y, .. } => {
                    // A camera judges stops by its no-stopping zones only: a stop elsewhere in
                    // its picture is no violation it can report.
                    let class = self.classes.get(vehicle).copied().unwrap_or(VehicleClass::Car);
                    let found = self.cams.iter().enumerate().find_map(|(camera, c)| {
                        let (zone, _, dwell) = c.no_stopping_zone_at([*x, *y])?;
                        Some(Stop { camera, start: *t, class, zone: zone.clone(), dwell: *dwell, x: *x, y: *y })
                    });
                    if let Some(stop) = found {
                        self.stops.insert(*vehicle, stop);
                    }
                }
                SimEvent::IllegalStopEnd { t, vehicle, .. } => {
                    if let Some(r) = self.stops.remove(vehicle).and_then(|s| s.record(&self.cams, *t, *vehicle)) {
                        records.push(r);
                    }
                }
                _ => {}
            }
        }
        for r in &records {
            self.violations += 1;
            self.write(r)?;
        }
        Ok(())
    }

    /// Closes what is still open and flushes.
    pub fn finish(&mut self) -> Result<(), CameraError> {
        let mut records = Vec::new();
        for ((cam, kind, vehicle), i) in std::mem::take(&mut self.open) {
            records.push(violation(&self.cams[cam].id, kind, i, vehicle, String::new()));
        }
        // A stop still shorter than the zone's dwell at the end of the run is no violation yet.
        for (vehicle, stop) in std::mem::take(&mut self.stops) {
            records.extend(stop.record(&self.cams, self.now, vehicle));
        }
        for r in &records {
            self.violations += 1;
            self.write(r)?;
        }
        if let Some(out) = self.out.as_mut() {
            out.flush().map_err(|e| CameraError::Truth(e.to_string()))?;
        }
        Ok(())
    }
}

fn violation(cam: &str, kind: &str, i: Interval, vehicle: u64, place: String) -> TruthRecord {
    TruthRecord::Violation {
        camera: cam.to_owned(),
        violation: kind.to_owned(),
        t: i.start,
        end_t: i.last,
        vehicle,
        class: i.class,
        place,
        x: i.x,
        y: i.y,
        deliberate: None,
    }
}

impl CamLines {
    /// The no-stopping zone whose picture holds the ground point `p`.
    fn no_stopping_zone_at(&self, p: [f64; 2]) -> Option<&(String, Vec<[f64; 2]>, f64)> {
        let q = self.pinhole?.project([p[0], p[1], 0.0])?;
        if !((0.0..self.width).contains(&q[0]) && (0.0..self.height).contains(&q[1])) {
            return None;
        }
        self.no_stopping.iter().find(|(_, poly, _)| inside(poly, q))
    }
}

/// Dwell allowed in a no-stopping zone that gives none, as the vision pipeline assumes.
const NO_STOPPING_DEFAULT_DWELL_S: f64 = 60.0;

fn cam_lines(c: &Camera) -> CamLines {
    CamLines {
        id: c.id.clone(),
        intersection: c.intersection.clone(),
        lines: c.lines.iter().map(|l| (l.id.clone(), l.points)).collect(),
        stop_lines: c
            .lines
            .iter()
            .filter(|l| l.kind == LineKind::StopLine)
            .filter_map(|l| Some((l.approach.clone()?, l.id.clone())))
            .collect(),
        width: f64::from(c.resolution[0]),
        height: f64::from(c.resolution[1]),
        roi: c.roi.clone(),
        no_stopping: c
            .zones
            .iter()
            .filter(|z| z.kind == ZoneKind::NoStopping)
            .map(|z| (z.id.clone(), z.points.clone(), z.max_dwell_s.unwrap_or(NO_STOPPING_DEFAULT_DWELL_S)))
            .collect(),
        pinhole: c.pose.as_ref().map(|p| nutgiao_config::pose::Pinhole::new(p, c.resolution)),
    }
}

fn truth_camera(c: &Camera) -> TruthCamera {
    let h = Homography::estimate(&c.calibration).ok();
    TruthCamera {
        id: c.id.clone(),
        fps: c.fps,
        resolution: c.resolution,
        lines: c
            .lines
            .iter()
            .map(|l| TruthLine {
                id: l.id.clone(),
                approach: l.approach.clone(),
                points: l.points,
                ground_m: h.and_then(|h| Some([h.to_ground(l.points[0])?, h.to_ground(l.points[1])?])),
            })
            .collect(),
        queue_zones: c
            .zones
            .iter()
            .filter(|z| z.kind == ZoneKind::Queue)
            .map(|z| TruthQueueZone {
                id: z.id.clone(),
                approach: z.approach.clone(),
                points: z.points.clone(),
                stop_line_m: h.and_then(|h| {
                    let l = c
                        .lines
                        .iter()
                        .find(|l| l.kind == LineKind::StopLine && l.approach.is_some() && l.approach == z.approach)?;
                    Some([h.to_ground(l.points[0])?, h.to_ground(l.points[1])?])
                }),
            })
            .collect(),
    }
}

/// Even-odd test; an empty polygon is the whole picture.
pub(crate) fn inside(poly: &[[f64; 2]], p: [f64; 2]) -> bool {
    poly.len() < 3 || nutgiao_config::polygon::contains(poly, p)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn cross(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
}

fn along(a: [f64; 2], b: [f64; 2], p: [f64; 2]) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    ((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / (d[0] * d[0] + d[1] * d[1]).max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> TruthRecorder {
        let site =
            nutgiao_config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/arterial.toml")).unwrap();
        TruthRecorder::new(&site, None, 1, "day", 0.04).unwrap()
    }

    fn stop(r: &mut TruthRecorder, vehicle: u64, (x, y): (f64, f64), start: f64, end: f64) {
        let link = "J1W".to_owned();
        r.sim_events(&[SimEvent::IllegalStopStart { t: start, vehicle, link: link.clone(), x, y }]).unwrap();
        if end.is_finite() {
            r.sim_events(&[SimEvent::IllegalStopEnd { t: end, vehicle, link, x, y, dwell_s: end - start }]).unwrap();
        }
    }

    #[test]
    fn an_illegal_stop_is_a_camera_s_violation_only_in_its_no_stopping_zone_beyond_the_dwell() {
        let mut r = recorder();
        // cam-J1-W's kerb no-stopping zone: 20-60 m west of J1 on the departure's kerb lane.
        stop(&mut r, 1, (-40.0, 4.8), 10.0, 50.0);
        assert_eq!(r.violations, 1, "in the zone for 40 s, past its 20 s");
        stop(&mut r, 2, (-40.0, 4.8), 10.0, 25.0);
        assert_eq!(r.violations, 1, "in the zone for 15 s: allowed");
        stop(&mut r, 3, (-15.0, -4.8), 10.0, 50.0);
        assert_eq!(r.violations, 1, "in the picture, on the approach, but in no no-stopping zone");
        stop(&mut r, 4, (-45.0, 4.8), 70.0, f64::INFINITY);
        stop(&mut r, 5, (-30.0, 4.8), 60.0, f64::INFINITY);
        r.now = 85.0;
        r.finish().unwrap();
        assert_eq!(r.violations, 2, "still stopped at the end: only the one past the dwell counts");
    }
}
