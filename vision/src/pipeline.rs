//! One camera's processing of one frame: detect -> classify -> track -> count -> judge.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::time::Instant;

use nutgiao_config::{DetectorBackend, LineKind};
use opencv::core::Mat;
use opencv::prelude::*;
use serde::Serialize;

use crate::camera::CameraSetup;
use crate::counting::LineCounter;
use crate::detect::background::{BackgroundDetector, BackgroundParams, Subtractor};
use crate::detect::dnn::DnnDetector;
use crate::detect::{Detection, classify};
use crate::error::{Result, VisionError};
use crate::event::{CountEvent, EventKind, MovementEvent, ViolationEvent, ViolationType, VisionEvent, wall_clock_now};
use crate::evidence::EvidenceWriter;
use crate::ingest::Frame;
use crate::movements::MovementCounter;
use crate::queues::{LANE_BIN_S, LaneMeasurement, LaneMeter};
use crate::signals::{Light, SignalFeed, read_signal_head};
use crate::standing::StandingWatch;
use crate::track::{Track, TrackState, Tracker, TrackerParams, TrailPoint};
use crate::violations::{
    Finding, RUN_THROUGH_M, RedLightWitness, Stream, WrongWayWitness, ZoneRules, driven_not_jumped, kept_to_the_lanes,
    moving_with_the_flow,
};

/// Cumulative time per stage, seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StageTimes {
    /// Waiting for GStreamer: decode, scale and colour conversion (measured by the caller).
    pub ingest_s: f64,
    pub detect_s: f64,
    pub track_s: f64,
    pub count_s: f64,
    pub annotate_s: f64,
    pub frames: u64,
}

/// A track older than this no longer keeps the background model from learning under it:
/// longer than any red light, so a wrong track (a ghost the model would otherwise never
/// unlearn) cannot hold its place for ever.
const MAX_HOLD_S: f64 = 180.0;

/// Ground speed (km/h) under which a track is waiting (queued, stopped at a red light).
/// Only waiting vehicles are held in the foreground, and only where the ground speed is
/// known (a calibrated camera): holding every confirmed track, or tracks slow in pixels
/// per second, narrowed the model's variance under moving vehicles and split them on the
/// real highway clip (16 and 19 counted of 22; street 3 of 8).
const WAITING_KMH: f64 = 3.0;

/// Ids of vehicles found standing that no track holds: far above the tracker's, and exact in
/// JSON readers that keep numbers as doubles.
const STANDING_IDS: u64 = 1 << 40;

fn is_waiting(tr: &Track) -> bool {
    tr.speed_kmh().is_some_and(|v| v < WAITING_KMH)
}

enum Detector {
    Background(BackgroundDetector),
    Dnn(DnnDetector),
}

pub struct CameraPipeline {
    pub setup: CameraSetup,
    detector: Option<Detector>,
    tracker: Tracker,
    counters: Vec<LineCounter>,
    movements: MovementCounter,
    lanes: LaneMeter,
    rules: ZoneRules,
    wrong_way: WrongWayWitness,
    red_light: RedLightWitness,
    /// The no-stopping zones, watched for standing vehicles (background detector only: it
    /// loses them; `None` until the first frame, and when there is no such zone).
    standing: Option<StandingWatch>,
    standing_looked: bool,
    /// Ids for vehicles found standing that no track holds (from `STANDING_IDS`).
    next_standing_id: u64,
    /// Counts against an approach's flow waiting for a second line to confirm them, by track.
    held_backward: HashMap<u64, Vec<(usize, VisionEvent)>>,
    /// Per line, the stream (approach or departure) it belongs to and how many of the
    /// stream's lines a wrong-way driver must cross backwards.
    streams: Vec<Option<(Stream, usize)>>,
    /// Per line of a stream (approach or departure), the counter that judges wrong way.
    ww_counters: Vec<Option<LineCounter>>,
    /// (track, stream) reported driving against the stream.
    ww_reported: HashSet<(u64, String)>,
    evidence: Option<EvidenceWriter>,
    /// Violations waiting for the end of their evidence clip, by the clip's file stem.
    held: Vec<(String, VisionEvent)>,
    /// Set for a live camera's session (its start, Unix ms): a reconnected stream starts its
    /// times and track ids again, and its events must not take the ids of the last session's.
    /// A file has none, so processing it again gives the same ids (the store keeps one).
    pub session: Option<u64>,
    /// (line id, positive, negative) running totals for the annotation.
    pub totals: Vec<(String, u64, u64)>,
    pub times: StageTimes,
    background: BackgroundParams,
}

impl CameraPipeline {
    pub fn new(setup: CameraSetup, evidence_dir: Option<&Path>) -> Result<Self> {
        let tracker = Tracker::new(TrackerParams::default(), setup.homography);
        let counters = setup.lines.iter().map(|l| LineCounter::new(l.geometry.clone())).collect();
        let stream_of = |l: &crate::camera::CameraLine| Stream::of(l.approach.as_deref(), l.departure.as_deref());
        // Each line's stream and the lines of it a wrong-way driver must cross: fixed by the site.
        let streams: Vec<Option<(Stream, usize)>> = setup
            .lines
            .iter()
            .map(|l| {
                stream_of(l).map(|stream| {
                    let lines_of_stream =
                        setup.lines.iter().filter(|other| stream_of(other).as_ref() == Some(&stream)).count();
                    let needed = stream.lines_needed(lines_of_stream);
                    (stream, needed)
                })
            })
            .collect();
        let setup_ww: Vec<Option<LineCounter>> = setup
            .lines
            .iter()
            .zip(&streams)
            .map(|(l, stream)| stream.as_ref().map(|_| LineCounter::new(l.geometry.clone())))
            .collect();
        let totals = setup.lines.iter().map(|l| (l.geometry.id.clone(), 0, 0)).collect();
        let mut rules = ZoneRules::new(&setup.zones, setup.homography.as_ref());
        if setup.backend != DetectorBackend::Dnn {
            rules = rules.without_stops();
        }
        let movements = MovementCounter::new(&setup.lines, setup.homography.as_ref());
        let lanes = LaneMeter::new(&setup.zones, &setup.lines, setup.homography.as_ref(), LANE_BIN_S);
        let evidence = evidence_dir.map(|d| EvidenceWriter::new(&d.join(&setup.camera), &setup.camera)).transpose()?;
        let mut background = BackgroundParams::default();
        if setup.backend == DetectorBackend::Knn {
            background.subtractor = Subtractor::Knn;
        }
        Ok(Self {
            setup,
            detector: None,
            tracker,
            counters,
            movements,
            lanes,
            rules,
            wrong_way: WrongWayWitness::default(),
            red_light: RedLightWitness::default(),
            standing: None,
            standing_looked: false,
            next_standing_id: STANDING_IDS,
            held_backward: HashMap::new(),
            streams,
            ww_counters: setup_ww,
            ww_reported: HashSet::new(),
            evidence,
            held: Vec::new(),
            session: None,
            totals,
            times: StageTimes::default(),
            background,
        })
    }

    /// The time part of event ids and evidence names: the stream time in ms, after the
    /// session when there is one.
    fn stamp(&self, t: f64) -> String {
        let ms = (t * 1000.0).round() as i64;
        match self.session {
            Some(session) => format!("{session}+{ms}"),
            None => ms.to_string(),
        }
    }

    pub fn tracks(&self) -> &[Track] {
        self.tracker.tracks()
    }

    fn detector(&mut self, image: &Mat) -> Result<&mut Detector> {
        if self.detector.is_none() {
            let d = match (self.setup.backend, &self.setup.model) {
                (DetectorBackend::Dnn, Some(model)) => {
                    Detector::Dnn(DnnDetector::load(Path::new(model), 640, self.setup.confidence)?)
                }
                (DetectorBackend::Dnn, None) => {
                    return Err(VisionError::Config {
                        camera: self.setup.camera.clone(),
                        message: "detector kind `dnn` needs a `model` file".into(),
                    });
                }
                _ => {
                    // Frames may come at the detector's working size rather than the
                    // processing size (`count_job`); boxes are in processing pixels.
                    let size =
                        self.setup.resolution.map_or([image.cols(), image.rows()], |[w, h]| [w as i32, h as i32]);
                    let mut b =
                        BackgroundDetector::new(&self.setup.camera, self.background.clone(), size, &self.setup.roi)?;
                    if let Some(h) = self.setup.homography {
                        b.set_ground(h, [f64::from(size[0]), f64::from(size[1])]);
                    }
                    Detector::Background(b)
                }
            };
            self.detector = Some(d);
        }
        Ok(self.detector.as_mut().expect("set above"))
    }

    fn detect(&mut self, image: &Mat) -> Result<Vec<Detection>> {
        let homography = self.setup.homography;
        let (mut dets, camera) = match self.detector(image)? {
            Detector::Background(b) => {
                b.foreground(image)?;
                (b.blobs()?, b.ground_camera().copied())
            }
            Detector::Dnn(d) => return d.detect(image),
        };
        if let Some(h) = homography {
            dets.retain_mut(|d| {
                match classify::ground_size_seen(&h, camera.as_ref(), &d.bbox).and_then(classify::classify) {
                    Some(kind) => {
                        d.kind = kind;
                        true
                    }
                    None => false,
                }
            });
        }
        Ok(dets)
    }

    /// Processes one frame and returns what it reports, in order.
    pub fn process(&mut self, frame: &Frame, signals: &dyn SignalFeed) -> Result<Vec<VisionEvent>> {
        let t = frame.pts_s;
        let t0 = Instant::now();
        if let Some(Detector::Background(b)) = &mut self.detector {
            b.set_time(t);
            b.set_hold(
                self.tracker
                    .tracks()
                    .iter()
                    .filter(|tr| {
                        tr.state == TrackState::Confirmed && t - tr.first_seen_s < MAX_HOLD_S && is_waiting(tr)
                    })
                    .map(|tr| tr.bbox)
                    .collect(),
            );
        }
        let dets = self.detect(&frame.image)?;
        let t1 = Instant::now();
        self.tracker.update(t, &dets);
        let t2 = Instant::now();
        let mut events = Vec::new();
        let camera = self.setup.camera.clone();
        let wall = wall_clock_now();
        let tracks: Vec<Track> = self.tracker.tracks().to_vec();
        let mut findings: Vec<Finding> = Vec::new();
        let alive: std::collections::HashSet<u64> = tracks.iter().map(|t| t.id).collect();
        let stamp = self.stamp(t);
        // (line, track, direction) of this frame's crossings, for the turning movements.
        let mut crossed: Vec<(usize, u64, i8)> = Vec::new();
        // The wrong-way rules read each track's trail as a slice: copied once a frame, and
        // only at a camera with lines of a stream.
        let trails: Vec<Vec<TrailPoint>> = if self.streams.iter().any(Option::is_some) {
            tracks.iter().map(|tr| tr.trail.iter().copied().collect()).collect()
        } else {
            Vec::new()
        };
        // Only on a dark road does a box flip between a car and its headlight pool; by day a
        // wrong-way driver's box that jumps as it merges with a passing car is still evidence
        // (the guard cost 3 of 6 true reports on a 10-minute day film).
        let dark = matches!(&self.detector, Some(Detector::Background(b)) if b.road_is_dark());
        for (li, counter) in self.counters.iter_mut().enumerate() {
            let line = &self.setup.lines[li];
            let stream = self.streams[li].as_ref().map(|(stream, _)| stream);
            let needed = self.streams[li].as_ref().map_or(0, |(_, needed)| *needed);
            for (ti, tr) in tracks.iter().enumerate() {
                // Wrong way is judged on a counter of its own, which forgets a track's
                // crossings with the flow: the tracker hands a departing car's track the
                // wrong-way driver it meets, and the track must be able to cross that line
                // again, backwards, as the main counter (once per track and line) does not.
                let trail = trails.get(ti).map_or(&[][..], Vec::as_slice);
                if let Some(stream) = stream
                    && let Some(ww) = self.ww_counters[li].as_mut()
                    && moving_with_the_flow(&line.geometry, trail, t)
                {
                    ww.forget(tr.id);
                    self.wrong_way.forget(tr.id, &stream.key);
                }
                if let (Some(stream), Some(ww)) = (stream, self.ww_counters[li].as_mut())
                    && let Some(w) =
                        ww.observe(tr.id, t, tr.ground_point_px(), tr.ground_point_m(), tr.is_counted_state())
                    && w.direction < 0
                    && kept_to_the_lanes(&line.geometry, trail, t)
                    && (!dark || driven_not_jumped(&line.geometry, trail, t))
                    && self.wrong_way.crossed_against_at(
                        tr.id,
                        &stream.key,
                        &line.geometry.id,
                        needed,
                        t,
                        tr.ground_point_m(),
                    )
                    && self.ww_reported.insert((tr.id, stream.key.clone()))
                {
                    findings.push(Finding {
                        violation: ViolationType::WrongWay,
                        place: line.geometry.id.clone(),
                        track: tr.id,
                    });
                    // The counts against the flow it made on the way are real.
                    for (held_li, held) in self.held_backward.remove(&tr.id).unwrap_or_default() {
                        self.totals[held_li].2 += 1;
                        crossed.push((held_li, tr.id, -1));
                        events.push(held);
                    }
                }
                let Some(c) =
                    counter.observe(tr.id, t, tr.ground_point_px(), tr.ground_point_m(), tr.is_counted_state())
                else {
                    continue;
                };
                let lane = self.rules.lane_of(line.approach.as_deref(), tr.ground_point_px());
                let event = VisionEvent {
                    id: format!("{camera}:count:{stamp}:{}:{}", tr.id, line.geometry.id),
                    camera: camera.clone(),
                    pts_s: t,
                    wall_utc: wall.clone(),
                    kind: EventKind::Count(CountEvent {
                        line: line.geometry.id.clone(),
                        direction: c.direction,
                        class: tr.kind.as_str().to_owned(),
                        lane,
                        track: tr.id,
                        speed_kmh: tr.crossing_speed_kmh(),
                        bbox: [tr.bbox.x, tr.bbox.y, tr.bbox.w, tr.bbox.h],
                        ground_m: tr.ground_point_m(),
                    }),
                };
                if let Some(stream) = stream
                    && c.direction < 0
                    && !self.ww_reported.contains(&(tr.id, stream.key.clone()))
                {
                    // Against a stream's flow: only a wrong-way driver, confirmed by a second
                    // line of the stream, really goes this way; until then the count is held,
                    // and dropped with the track (docs/vision.md).
                    self.held_backward.entry(tr.id).or_default().push((li, event));
                    continue;
                }
                if c.direction > 0 {
                    self.totals[li].1 += 1;
                } else {
                    self.totals[li].2 += 1;
                }
                events.push(event);
                crossed.push((li, tr.id, c.direction));
                if line.kind == LineKind::StopLine
                    && c.direction > 0
                    && approach_is_red(&self.setup, line.approach.as_deref(), &frame.image, signals)
                {
                    self.red_light.crossed_on_red(tr.id, li, t);
                }
            }
            counter.retain(&|id| alive.contains(&id));
            if let Some(ww) = self.ww_counters[li].as_mut() {
                ww.retain(&|id| alive.contains(&id));
            }
        }
        // A crossing on red is a runner once the vehicle drives on into the junction.
        self.red_light.retain(&|id| alive.contains(&id));
        for (track, li) in self.red_light.waiting() {
            let Some(tr) = tracks.iter().find(|x| x.id == track) else { continue };
            let line = &self.setup.lines[li].geometry;
            let beyond = if tr.ground_point_m().is_some() {
                line.signed_distance(tr.ground_point_px(), tr.ground_point_m())
            } else {
                // Uncalibrated: in pixels, as far as a car's box is high.
                line.signed_distance(tr.ground_point_px(), None) * RUN_THROUGH_M / tr.bbox.h.max(1.0)
            };
            if self.red_light.confirm(track, li, t, beyond) {
                findings.push(Finding { violation: ViolationType::RedLight, place: line.id.clone(), track });
            }
        }
        for m in self.movements.crossed_in_frame(&crossed, t) {
            let Some(tr) = tracks.iter().find(|x| x.id == m.track) else { continue };
            events.push(VisionEvent {
                id: format!("{camera}:movement:{stamp}:{}:{}>{}", tr.id, m.from, m.to),
                camera: camera.clone(),
                pts_s: t,
                wall_utc: wall.clone(),
                kind: EventKind::Movement(MovementEvent {
                    travel_s: t - m.entered_s,
                    from: m.from,
                    to: m.to,
                    turn: m.turn,
                    class: tr.kind.as_str().to_owned(),
                    track: tr.id,
                }),
            });
        }
        self.movements.retain(&|id| alive.contains(&id));
        let lanes = self.lanes.observe(t, &tracks);
        events.extend(lanes.into_iter().map(|m| self.lane_event(&wall, m)));
        for tr in &tracks {
            findings.extend(self.rules.judge(t, tr));
        }
        self.rules.retain(&|id| alive.contains(&id));
        let standing = self.standing_findings(t, &frame.image, &tracks)?;
        findings.extend(standing.iter().map(|(f, _)| f.clone()));
        self.wrong_way.retain(&|id| alive.contains(&id));
        self.held_backward.retain(|id, _| alive.contains(id));
        self.ww_reported.retain(|(id, _)| alive.contains(id));
        if let Some(ev) = &mut self.evidence {
            ev.remember(&frame.image, t)?;
        }
        for f in findings {
            let found_standing = standing.iter().find(|(s, _)| *s == f).map(|(_, tr)| tr);
            let Some(tr) = found_standing.or_else(|| tracks.iter().find(|x| x.id == f.track)) else { continue };
            let stem = format!("{}-{stamp}-{}-{}", f.violation.as_str(), tr.id, f.place);
            let caption = format!("{} {} {} t={t:.2}s", f.violation.as_str(), f.place, camera);
            let evidence = match &mut self.evidence {
                Some(w) => {
                    let still = w.still(&frame.image, tr, &caption, &stem)?;
                    w.hold_clip(&stem, t);
                    vec![still]
                }
                None => Vec::new(),
            };
            let lane = self
                .setup
                .lines
                .iter()
                .find(|l| l.geometry.id == f.place)
                .and_then(|l| self.rules.lane_of(l.approach.as_deref(), tr.ground_point_px()));
            let event = VisionEvent {
                id: format!("{camera}:violation:{stamp}:{}:{}:{}", tr.id, f.place, f.violation.as_str()),
                camera: camera.clone(),
                pts_s: t,
                wall_utc: wall.clone(),
                kind: EventKind::Violation(ViolationEvent {
                    violation: f.violation,
                    place: f.place,
                    track: tr.id,
                    class: tr.kind.as_str().to_owned(),
                    lane,
                    speed_kmh: tr.speed_kmh(),
                    bbox: [tr.bbox.x, tr.bbox.y, tr.bbox.w, tr.bbox.h],
                    ground_m: tr.ground_point_m(),
                    evidence,
                }),
            };
            // With evidence, the event waits for its clip's frames after the violation.
            match self.evidence {
                Some(_) => self.held.push((stem, event)),
                None => events.push(event),
            }
        }
        events.extend(self.release_held(t, false));
        let t3 = Instant::now();
        self.times.detect_s += (t1 - t0).as_secs_f64();
        self.times.track_s += (t2 - t1).as_secs_f64();
        self.times.count_s += (t3 - t2).as_secs_f64();
        self.times.frames += 1;
        Ok(events)
    }

    /// Vehicles standing in no-stopping zones past the dwell (`crate::standing`), each with a
    /// track to report it by: the one that holds its box, if any, or one made for it.
    fn standing_findings(&mut self, t: f64, image: &Mat, tracks: &[Track]) -> Result<Vec<(Finding, Track)>> {
        if !matches!(self.detector, Some(Detector::Background(_))) {
            return Ok(Vec::new());
        }
        if !std::mem::replace(&mut self.standing_looked, true) {
            let size = self
                .setup
                .resolution
                .map_or([f64::from(image.cols()), f64::from(image.rows())], |[w, h]| [f64::from(w), f64::from(h)]);
            self.standing = StandingWatch::new(&self.setup.zones, size);
        }
        let Some(watch) = &mut self.standing else { return Ok(Vec::new()) };
        let found = watch.observe(t, image).map_err(VisionError::opencv(&self.setup.camera))?;
        let camera = match &self.detector {
            Some(Detector::Background(b)) => b.ground_camera().copied(),
            _ => None,
        };
        let mut out = Vec::new();
        for f in found {
            let holder = tracks
                .iter()
                .filter(|tr| tr.bbox.iou(&f.bbox) >= 0.3)
                .max_by(|a, b| a.bbox.iou(&f.bbox).total_cmp(&b.bbox.iou(&f.bbox)));
            let id = holder.map_or_else(
                || {
                    self.next_standing_id += 1;
                    self.next_standing_id - 1
                },
                |tr| tr.id,
            );
            let kind = self
                .setup
                .homography
                .as_ref()
                .and_then(|h| classify::ground_size_seen(h, camera.as_ref(), &f.bbox))
                .and_then(classify::classify)
                .or(holder.map(|tr| tr.kind))
                .unwrap_or(crate::detect::VehicleKind::Car);
            let tr = Track::standing(id, f.bbox, kind, t, self.setup.homography.as_ref());
            out.push((Finding { violation: ViolationType::IllegalStop, place: f.zone, track: id }, tr));
        }
        Ok(out)
    }

    /// Violations whose clips are complete at `t` (all of them at the end of the stream),
    /// with the clip added to their evidence.
    fn release_held(&mut self, t: f64, end: bool) -> Vec<VisionEvent> {
        let Some(w) = &mut self.evidence else { return Vec::new() };
        let mut out = Vec::new();
        for (stem, clip) in w.complete_clips(t, end) {
            let Some(i) = self.held.iter().position(|(s, _)| *s == stem) else { continue };
            let (_, mut event) = self.held.remove(i);
            if let (EventKind::Violation(v), Some(clip)) = (&mut event.kind, clip) {
                v.evidence.push(clip);
            }
            out.push(event);
        }
        out
    }

    /// What is still open at the end of a stream: violations still collecting their clip's
    /// frames, and the lanes' last, partial bin.
    pub fn finish(&mut self) -> Result<Vec<VisionEvent>> {
        let mut out = self.release_held(f64::INFINITY, true);
        let wall = wall_clock_now();
        let lanes = self.lanes.finish();
        out.extend(lanes.into_iter().map(|m| self.lane_event(&wall, m)));
        Ok(out)
    }

    /// A lane's bin, stamped with the stream time at which it closed.
    fn lane_event(&self, wall: &str, mut m: LaneMeasurement) -> VisionEvent {
        m.intersection = self.setup.intersection.clone();
        VisionEvent {
            id: format!("{}:lane:{}:0:{}", self.setup.camera, self.stamp(m.start_s), m.zone),
            camera: self.setup.camera.clone(),
            pts_s: m.start_s + m.duration_s,
            wall_utc: wall.to_owned(),
            kind: EventKind::Lane(m),
        }
    }

    /// Per-line totals by direction and class, for the summary.
    pub fn line_totals(&self, events: &[VisionEvent]) -> Vec<LineTotal> {
        let mut out: Vec<LineTotal> =
            self.setup.lines.iter().map(|l| LineTotal { id: l.geometry.id.clone(), ..Default::default() }).collect();
        for e in events {
            if let EventKind::Count(c) = &e.kind
                && let Some(t) = out.iter_mut().find(|t| t.id == c.line)
            {
                t.total += 1;
                *t.by_direction
                    .entry(if c.direction > 0 { "positive".into() } else { "negative".into() })
                    .or_default() += 1;
                *t.by_class.entry(c.class.clone()).or_default() += 1;
            }
        }
        out
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LineTotal {
    pub id: String,
    pub total: u64,
    pub by_direction: BTreeMap<String, u64>,
    pub by_class: BTreeMap<String, u64>,
}

fn approach_is_red(setup: &CameraSetup, approach: Option<&str>, image: &Mat, signals: &dyn SignalFeed) -> bool {
    let Some(approach) = approach else { return false };
    let Some((_, phases)) = setup.approach_phases.iter().find(|(a, _)| a == approach) else { return false };
    if phases.is_empty() {
        return false;
    }
    let intersection = setup.intersection.as_deref().unwrap_or_default();
    let scale = setup.resolution.map_or(1.0, |[w, _]| f64::from(image.cols()) / f64::from(w));
    let light_of = |phase: u8| {
        signals.indication(intersection, phase).or_else(|| {
            setup
                .signal_heads
                .iter()
                .find(|(p, _)| *p == phase)
                .and_then(|(_, lamps)| read_signal_head(image, lamps, scale))
        })
    };
    // Red only when every phase that serves the approach is known to be red.
    phases.iter().all(|p| light_of(*p) == Some(Light::Red))
}
