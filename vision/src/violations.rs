//! Violation rules over confirmed tracks: each judged once per track and place.

use std::collections::{HashMap, HashSet};

use nutgiao_config::{Zone, ZoneKind};

use crate::counting::{LineCounter, LineGeometry};
use crate::event::ViolationType;
use crate::track::{Track, TrailPoint};

/// Below this a vehicle is stopped (km/h): box jitter makes a parked car "move" a little.
const STOPPED_KMH: f64 = 4.0;
/// A stopped vehicle stands until its ground point leaves this circle round where it
/// stopped. Its speed over a second is no test once it stands: the box of a car standing
/// 60 m out jitters by a metre (1.4-5.3 km/h on the synthetic films), more when the blob
/// merges with the traffic passing it, and every frame over `STOPPED_KMH` started its dwell
/// again.
const STAND_RADIUS_M: f64 = 3.0;
/// A stop whose track ends (the tracker lost the vehicle as it faded into the background,
/// or behind passing traffic) or whose box jumped off its place is taken up by a track
/// standing at the same place (within `STAND_RADIUS_M`) within this long, with its start.
const STAND_HANDOVER_S: f64 = 10.0;

/// A vehicle standing in a no-stopping zone: since when, where (ground, metres), when it
/// was last seen there, and whether it has been reported (once per stop, whichever tracks
/// it passes through).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Standing {
    since: f64,
    at: [f64; 2],
    last: f64,
    reported: bool,
}

fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}
/// Enforcement tolerance over a speed zone's limit: the measurement error of a camera's
/// ground point, as speed enforcement allows for its instrument's error.
const SPEED_TOLERANCE: f64 = 0.10;
/// A speed is measured as a section speed over at least this much travel inside the zone
/// and this long: a single frame's speed is one box's jitter away from the truth.
const SECTION_MIN_M: f64 = 8.0;
const SECTION_MIN_S: f64 = 0.5;
/// A solid line is crossed when the vehicle stays across it this long: the box of a vehicle
/// beside the line (or two merged into one) spills over it for moments all the time.
const SOLID_DWELL_S: f64 = 1.0;

/// The same test as the simulator's ground truth, so that both agree on a zone's edge.
pub fn inside(poly: &[[f64; 2]], p: [f64; 2]) -> bool {
    nutgiao_config::polygon::contains(poly, p)
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
    stopped_since: HashMap<(u64, usize), Standing>,
    /// Stops whose track ended or left its place, by zone, for `STAND_HANDOVER_S`.
    left_standing: Vec<(usize, Standing)>,
    /// Where and when a track was first seen inside a speed zone: the start of its section.
    section_start: HashMap<(u64, usize), (f64, [f64; 2])>,
    /// Solid-line segments a track crossed (when, which way), waiting for it to stay across.
    solid_crossed: HashMap<(u64, String, usize), (f64, i8)>,
    reported: HashSet<(u64, String, ViolationType)>,
    /// Whether tracks standing in no-stopping zones are judged here (`crate::standing`
    /// watches the zones instead for the background detector).
    judge_stops: bool,
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
        Self {
            zones: zones.to_vec(),
            solid,
            stopped_since: HashMap::new(),
            left_standing: Vec::new(),
            section_start: HashMap::new(),
            solid_crossed: HashMap::new(),
            reported: HashSet::new(),
            judge_stops: true,
        }
    }

    /// Leaves no-stopping zones to another watcher.
    pub fn without_stops(mut self) -> Self {
        self.judge_stops = false;
        self
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
        self.left_standing.retain(|(_, s)| t_s - s.last <= STAND_HANDOVER_S);
        for (zi, z) in self.zones.iter().enumerate() {
            if !matches!(z.kind, ZoneKind::NoStopping | ZoneKind::Speed) || !inside(&z.points, p) {
                if let Some(s) = self.stopped_since.remove(&(track.id, zi)) {
                    self.left_standing.push((zi, s));
                }
                self.section_start.remove(&(track.id, zi));
                continue;
            }
            match z.kind {
                ZoneKind::Speed => {
                    let (Some(limit), Some(g)) = (z.speed_limit_kmh, track.ground_point_m()) else { continue };
                    let (t0, g0) = *self.section_start.entry((track.id, zi)).or_insert((t_s, g));
                    let (dt, dist) = (t_s - t0, ((g[0] - g0[0]).powi(2) + (g[1] - g0[1]).powi(2)).sqrt());
                    if dt >= SECTION_MIN_S && dist >= SECTION_MIN_M && dist / dt * 3.6 > limit * (1.0 + SPEED_TOLERANCE)
                    {
                        out.push(Finding { violation: ViolationType::Speeding, place: z.id.clone(), track: track.id });
                    }
                }
                ZoneKind::NoStopping => {
                    let Some(g) = track.ground_point_m().filter(|_| self.judge_stops) else { continue };
                    let key = (track.id, zi);
                    if let Some(s) = self.stopped_since.get_mut(&key) {
                        if dist(s.at, g) <= STAND_RADIUS_M {
                            s.last = t_s;
                        } else if let Some(s) = self.stopped_since.remove(&key) {
                            self.left_standing.push((zi, s));
                        }
                    }
                    if !self.stopped_since.contains_key(&key) {
                        if !speed.is_some_and(|v| v < STOPPED_KMH) {
                            continue;
                        }
                        // A stop at this place that another track (or this one, before its
                        // box jumped) began goes on.
                        let left = &mut self.left_standing;
                        let before = left
                            .iter()
                            .position(|(i, s)| *i == zi && dist(s.at, g) <= STAND_RADIUS_M)
                            .map(|k| left.remove(k).1);
                        let standing = before.map_or(Standing { since: t_s, at: g, last: t_s, reported: false }, |s| {
                            Standing { last: t_s, ..s }
                        });
                        self.stopped_since.insert(key, standing);
                    }
                    let Some(s) = self.stopped_since.get_mut(&key) else { continue };
                    if !s.reported && t_s - s.since > z.max_dwell_s.unwrap_or(60.0) {
                        s.reported = true;
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
        let g = track.ground_point_m();
        for (id, segs) in &mut self.solid {
            for (si, s) in segs.iter_mut().enumerate() {
                let key = (track.id, id.clone(), si);
                if let Some(c) = s.observe(track.id, t_s, p, g, true) {
                    self.solid_crossed.insert(key.clone(), (t_s, c.direction));
                }
                let Some(&(since, direction)) = self.solid_crossed.get(&key) else { continue };
                let beyond = s.line.signed_distance(p, g) * f64::from(direction);
                if beyond < s.line.hysteresis {
                    // Back over the line: a box that spilled across it for a moment.
                    self.solid_crossed.remove(&key);
                } else if t_s - since >= SOLID_DWELL_S {
                    self.solid_crossed.remove(&key);
                    out.push(Finding { violation: ViolationType::SolidLine, place: id.clone(), track: track.id });
                }
            }
        }
        out.retain(|f| self.reported.insert((f.track, f.place.clone(), f.violation)));
        out
    }

    /// Forgets tracks the tracker has dropped.
    pub fn retain(&mut self, alive: &dyn Fn(u64) -> bool) {
        let left = &mut self.left_standing;
        self.stopped_since.retain(|k, s| {
            if !alive(k.0) {
                left.push((k.1, *s));
            }
            alive(k.0)
        });
        self.section_start.retain(|k, _| alive(k.0));
        self.solid_crossed.retain(|k, _| alive(k.0));
        self.reported.retain(|k| alive(k.0));
        for (_, segs) in &mut self.solid {
            for s in segs.iter_mut() {
                s.retain(alive);
            }
        }
    }
}

/// A red-light runner is confirmed by driving on into the junction: the stop-line crossing
/// on red is held until the vehicle's ground point is `RUN_THROUGH_M` past the line (within
/// `RUN_THROUGH_S`). At night a queued car's headlight pool, or a box that grows when blobs
/// merge, pushes the box's bottom over the stop line while the car stands.
#[derive(Debug, Default)]
pub struct RedLightWitness {
    crossed_on_red: HashMap<(u64, usize), f64>,
}

/// How far past the stop line a red-light runner is seen before it is reported.
pub const RUN_THROUGH_M: f64 = 4.0;
const RUN_THROUGH_S: f64 = 5.0;

impl RedLightWitness {
    /// `track` crossed stop line `line` while its approach showed red.
    pub fn crossed_on_red(&mut self, track: u64, line: usize, t_s: f64) {
        self.crossed_on_red.entry((track, line)).or_insert(t_s);
    }

    /// The track is `beyond_m` past `line` now; true (once) when that confirms a runner.
    pub fn confirm(&mut self, track: u64, line: usize, t_s: f64, beyond_m: f64) -> bool {
        let Some(&since) = self.crossed_on_red.get(&(track, line)) else { return false };
        let expired = t_s < since || t_s - since > RUN_THROUGH_S;
        let ran_through = beyond_m >= RUN_THROUGH_M && !expired;
        if ran_through || expired {
            self.crossed_on_red.remove(&(track, line));
        }
        ran_through
    }

    /// The (track, line) pairs waiting for confirmation.
    pub fn waiting(&self) -> Vec<(u64, usize)> {
        self.crossed_on_red.keys().copied().collect()
    }

    pub fn retain(&mut self, alive: &dyn Fn(u64) -> bool) {
        self.crossed_on_red.retain(|k, _| alive(k.0));
    }
}

/// Wrong-way driving is confirmed by two of the approach's lines crossed against its flow
/// (one where the camera has only one). A single backward crossing is too often a box of
/// the opposing traffic spilling over the centre line, or a track handed the vehicle behind;
/// a wrong-way driver passes the stop line and the count line tens of metres apart.
#[derive(Debug, Default)]
pub struct WrongWayWitness {
    against: HashMap<(u64, String), HashSet<String>>,
    /// The last backward crossing of each track and stream: when and where on the ground.
    last: HashMap<(u64, String), (f64, [f64; 2])>,
}

/// Fastest a vehicle plausibly goes from one line to the next near a junction (90 km/h). A
/// track handed from one vehicle to another, or a box that jumps when blobs merge or split,
/// "crosses" two lines 12 m apart in a tenth of a second.
pub const WRONG_WAY_MAX_MS: f64 = 25.0;

/// How long before a backward crossing the track must have kept to the line's lanes
/// (`kept_to_the_lanes`), and how far beyond the line's ends (m) its ground point may lie
/// there (the median over that time).
const LANES_WINDOW_S: f64 = 1.5;
const LANES_SLACK_M: f64 = 0.5;

/// Whether a track that crosses `line` backwards at `t_s` drove in the lanes the line spans
/// over the `LANES_WINDOW_S` before: the median of how far its trail's ground points lie
/// beyond the line's ends is at most `LANES_SLACK_M`. The traffic beside a stream drives its
/// wrong way too, and its boxes reach over the centre line (and jump over it when they merge
/// with an oncoming car's): on the synthetic films both false wrong-way reports were departing
/// cars 0.7-1 m past the end of the approach's lines for seconds, whose box crossed a line
/// within its ends for a moment. True wrong-way drivers kept 3-4 m inside. Uncalibrated
/// lines have no metres to judge by and pass.
pub fn kept_to_the_lanes(line: &LineGeometry, trail: &[TrailPoint], t_s: f64) -> bool {
    let mut beyond: Vec<f64> = trail
        .iter()
        .filter(|p| t_s - p.t_s <= LANES_WINDOW_S && p.t_s <= t_s)
        .filter_map(|p| line.beyond_ends_m(p.ground?))
        .collect();
    if beyond.is_empty() {
        return true;
    }
    beyond.sort_by(f64::total_cmp);
    beyond[beyond.len() / 2] <= LANES_SLACK_M
}

/// A backward crossing is driven, not jumped, when no step of the track's ground point over
/// the `DRIVEN_WINDOW_S` before it went back across the line's direction faster than
/// `WRONG_WAY_MAX_MS`, plus `DRIVEN_JITTER_M` of a box's jitter. At night an approaching
/// car's box flips between its headlight pool and the car itself (`detect::light`): its
/// ground point jumps 10-15 m back in one frame, and two such jumps made wrong-way drivers of
/// cars driving the right way at 74-99 km/h. The pipeline asks it on a dark road only.
const DRIVEN_WINDOW_S: f64 = 1.0;
const DRIVEN_JITTER_M: f64 = 2.5;

/// Whether the track (its trail up to `t_s`) came back across `line` by driving: no step
/// against the line's direction faster than a car can go. Uncalibrated trails pass.
pub fn driven_not_jumped(line: &LineGeometry, trail: &[TrailPoint], t_s: f64) -> bool {
    let recent: Vec<&TrailPoint> =
        trail.iter().filter(|p| p.t_s <= t_s && t_s - p.t_s <= DRIVEN_WINDOW_S && p.ground.is_some()).collect();
    recent.windows(2).all(|w| {
        let back = line.signed_distance(w[0].image, w[0].ground) - line.signed_distance(w[1].image, w[1].ground);
        back <= WRONG_WAY_MAX_MS * (w[1].t_s - w[0].t_s).max(0.0) + DRIVEN_JITTER_M
    })
}

/// A track drives with the flow of a line's stream when, over the last `WITH_FLOW_S`, its
/// ground point went at least `WITH_FLOW_M` towards the line's positive side, and in every
/// `WITH_FLOW_STEP_S` of it went forward (at most `WITH_FLOW_BACK_M` back, a box's jitter)
/// no faster than `WRONG_WAY_MAX_MS` (plus that jitter).
const WITH_FLOW_S: f64 = 1.0;
const WITH_FLOW_STEP_S: f64 = 0.2;
const WITH_FLOW_M: f64 = 2.0;
const WITH_FLOW_BACK_M: f64 = 0.5;

/// Whether the track (its trail up to `t_s`) has been driving with the flow across `line`'s
/// stream for the last second, steadily. The wrong-way counters forget such a track, so that
/// when the tracker hands it the wrong-way driver it meets (a departing car's track took the
/// oncoming driver on the films, 10 m past the departure line), its crossings back are judged
/// afresh, not as a car that turned round. A track that hops between vehicles (forward by a
/// jump, then back) is not forgotten, and its turn-round still refuses its crossings.
pub fn moving_with_the_flow(line: &LineGeometry, trail: &[TrailPoint], t_s: f64) -> bool {
    let Some(last) = trail.last().filter(|p| p.t_s <= t_s) else { return false };
    let mut d = Vec::new();
    for k in 0..=(WITH_FLOW_S / WITH_FLOW_STEP_S).round() as i32 {
        let at = last.t_s - WITH_FLOW_S + f64::from(k) * WITH_FLOW_STEP_S;
        let Some(p) = trail.iter().min_by(|a, b| (a.t_s - at).abs().total_cmp(&(b.t_s - at).abs())) else {
            return false;
        };
        let Some(g) = p.ground.filter(|_| (p.t_s - at).abs() <= WITH_FLOW_STEP_S / 2.0) else { return false };
        d.push(line.signed_distance(p.image, Some(g)));
    }
    let steady = d
        .windows(2)
        .all(|w| (-WITH_FLOW_BACK_M..=WRONG_WAY_MAX_MS * WITH_FLOW_STEP_S + WITH_FLOW_BACK_M).contains(&(w[1] - w[0])));
    steady && d[d.len() - 1] - d[0] >= WITH_FLOW_M
}

/// The traffic stream a counting line belongs to, against whose flow a wrong-way driver
/// goes: an approach (positive towards the stop line), or the departure link whose lanes the
/// line crosses (positive leaving the junction; `nutgiao check` verifies it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// The key of `WrongWayWitness::crossed_against`.
    pub key: String,
    pub departure: bool,
}

impl Stream {
    pub fn of(approach: Option<&str>, departure: Option<&str>) -> Option<Stream> {
        match (approach, departure) {
            (Some(a), _) => Some(Stream { key: a.to_owned(), departure: false }),
            (None, Some(d)) => Some(Stream { key: format!("departure {d}"), departure: true }),
            (None, None) => None,
        }
    }

    /// How many of the stream's `lines` (those the camera has) a wrong-way driver must cross
    /// backwards. An approach seen by one line makes do with it, as before. A departure
    /// never does: the approaching traffic beside it drives its wrong way, and its boxes
    /// spill over the centre line; a departure seen by one line reports no wrong way.
    pub fn lines_needed(&self, lines: usize) -> usize {
        if self.departure { 2 } else { lines.clamp(1, 2) }
    }
}

impl WrongWayWitness {
    /// Records that `track` crossed `line` of `approach` against the flow; true when that
    /// makes `needed` distinct lines.
    pub fn crossed_against(&mut self, track: u64, approach: &str, line: &str, needed: usize) -> bool {
        let lines = self.against.entry((track, approach.to_owned())).or_default();
        lines.insert(line.to_owned());
        lines.len() >= needed.max(1)
    }

    /// As `crossed_against`, at time `t_s` and the track's ground point: a crossing reached
    /// from the track's last backward crossing faster than a vehicle drives is no evidence.
    pub fn crossed_against_at(
        &mut self,
        track: u64,
        stream: &str,
        line: &str,
        needed: usize,
        t_s: f64,
        ground: Option<[f64; 2]>,
    ) -> bool {
        let key = (track, stream.to_owned());
        if let Some(g) = ground {
            if let Some(&(t0, g0)) = self.last.get(&key) {
                let dist = (g[0] - g0[0]).hypot(g[1] - g0[1]);
                if dist > WRONG_WAY_MAX_MS * (t_s - t0).max(0.0) {
                    return false;
                }
            }
            self.last.insert(key, (t_s, g));
        }
        self.crossed_against(track, stream, line, needed)
    }

    pub fn retain(&mut self, alive: &dyn Fn(u64) -> bool) {
        self.against.retain(|k, _| alive(k.0));
        self.last.retain(|k, _| alive(k.0));
    }

    /// Forgets the track's backward crossings of the stream: it has just driven with the
    /// flow (`moving_with_the_flow`), so they were another vehicle's, before the tracker
    /// handed it this one.
    pub fn forget(&mut self, track: u64, stream: &str) {
        let key = (track, stream.to_owned());
        self.against.remove(&key);
        self.last.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seen trail of `frames` frames at 25 fps whose ground point is `ground(t)` (metres), on
    /// a camera where 10 px are 1 m (`counting::tests::ten_px_a_metre`).
    fn trail_of(frames: i32, ground: impl Fn(f64) -> [f64; 2]) -> Vec<TrailPoint> {
        (0..frames)
            .map(|i| {
                let t = f64::from(i) * 0.04;
                let g = ground(t);
                TrailPoint { t_s: t, image: [g[0] * 10.0, g[1] * 10.0], ground: Some(g), seen: true }
            })
            .collect()
    }

    #[test]
    fn a_red_light_runner_is_one_that_drives_on() {
        let mut w = RedLightWitness::default();
        w.crossed_on_red(1, 0, 10.0);
        assert!(!w.confirm(1, 0, 10.2, 1.5), "just over the line");
        assert!(w.confirm(1, 0, 10.6, 4.2), "in the junction");
        assert!(!w.confirm(1, 0, 10.7, 6.0), "reported once");
        // A queued car whose box grows over the line at night, and stays there.
        w.crossed_on_red(2, 0, 20.0);
        assert!(!w.confirm(2, 0, 21.0, 1.2));
        assert!(!w.confirm(2, 0, 25.1, 1.3), "expired");
        assert!(!w.confirm(2, 0, 26.0, 8.0), "drives off on the next green: not a runner");
        assert!(w.waiting().is_empty());
    }

    #[test]
    fn wrong_way_needs_two_lines_of_the_approach() {
        let mut w = WrongWayWitness::default();
        assert!(!w.crossed_against(1, "J1-W", "J1-W-stop", 2));
        assert!(!w.crossed_against(1, "J1-W", "J1-W-stop", 2), "the same line twice is one line");
        assert!(!w.crossed_against(2, "J1-W", "J1-W-count", 2), "another track's crossing does not add up");
        assert!(w.crossed_against(1, "J1-W", "J1-W-count", 2));
        assert!(w.crossed_against(3, "J2-E", "J2-E-stop", 1), "a camera with one line of the approach");
        w.retain(&|id| id != 1);
        assert!(!w.crossed_against(1, "J1-W", "J1-W-count", 2), "a dropped track starts again");
    }

    #[test]
    fn departure_lines_are_a_stream_of_their_own_that_needs_two_lines() {
        let approach = Stream::of(Some("J1-W"), None).unwrap();
        let departure = Stream::of(None, Some("J1W")).unwrap();
        assert_ne!(approach.key, departure.key);
        assert_eq!(Stream::of(None, None), None);
        assert_eq!((approach.lines_needed(1), approach.lines_needed(3)), (1, 2));
        assert_eq!((departure.lines_needed(1), departure.lines_needed(2)), (2, 2));
        let mut w = WrongWayWitness::default();
        assert!(!w.crossed_against(1, &departure.key, "J1-E-departure", departure.lines_needed(1)));
        assert!(
            !w.crossed_against(1, &approach.key, "J1-W-stop", 2),
            "an approach's line adds nothing to a departure's"
        );
        assert!(w.crossed_against(1, &departure.key, "J1-E-departure-near", departure.lines_needed(2)));
        // A track that crossed one line backwards, then drove with the flow (the tracker
        // handed it a departing car), starts again.
        assert!(!w.crossed_against(4, &departure.key, "J1-E-departure", 2));
        w.forget(4, &departure.key);
        assert!(!w.crossed_against(4, &departure.key, "J1-E-departure-near", 2));
    }

    #[test]
    fn a_second_line_reached_faster_than_a_vehicle_drives_is_no_evidence() {
        let mut w = WrongWayWitness::default();
        let key = "departure J1W";
        assert!(!w.crossed_against_at(1, key, "far", 2, 96.44, Some([-29.0, 0.0])));
        assert!(!w.crossed_against_at(1, key, "near", 2, 96.56, Some([-16.0, 0.1])), "12 m in 0.12 s: a jump");
        // A rider at 30 km/h takes 1.4 s for the same 12 m.
        assert!(!w.crossed_against_at(2, key, "far", 2, 15.32, Some([-28.7, 4.0])));
        assert!(w.crossed_against_at(2, key, "near", 2, 16.76, Some([-16.9, 3.9])));
        // Uncalibrated: no ground, no check.
        assert!(!w.crossed_against_at(3, key, "far", 2, 1.0, None));
        assert!(w.crossed_against_at(3, key, "near", 2, 1.01, None));
    }

    #[test]
    fn a_backward_crossing_counts_for_wrong_way_only_from_a_track_in_the_lines_lanes() {
        // An approach line across x = 30 m from y = 0 (the centre line) to y = 6.4 m (the
        // kerb), on a camera where 10 px are 1 m.
        let h = crate::counting::tests::ten_px_a_metre();
        let line = LineGeometry::new("stop", [300.0, 0.0], [300.0, 64.0], 1.0, Some(&h));
        let trail = |y: &dyn Fn(f64) -> f64| trail_of(50, |t| [28.0 + 5.0 * t, y(t)]);
        let t = 1.96;
        assert!(kept_to_the_lanes(&line, &trail(&|_| 4.8), t), "in the kerb lane");
        assert!(kept_to_the_lanes(&line, &trail(&|_| -0.3), t), "a box over the centre line by 0.3 m");
        // The departing car beside the approach, 0.9 m past the centre line, whose box jumps
        // over it for 0.3 s as it crosses.
        let beside = trail(&|t| if t > 1.65 { 1.5 } else { -0.9 });
        assert!(!kept_to_the_lanes(&line, &beside, t));
        let uncalibrated = LineGeometry::new("stop", [300.0, 0.0], [300.0, 64.0], 1.0, None);
        assert!(kept_to_the_lanes(&uncalibrated, &beside, t));
    }

    #[test]
    fn a_backward_crossing_is_driven_unless_the_ground_point_jumps_back() {
        let h = crate::counting::tests::ten_px_a_metre();
        let line = LineGeometry::new("stop", [300.0, 0.0], [300.0, 64.0], 1.0, Some(&h));
        let at = |x: f64| line.signed_distance([x * 10.0, 30.0], Some([x, 3.0]));
        // Against the line's direction is towards smaller x when its positive side is +x.
        let back = if at(31.0) > at(29.0) { -1.0 } else { 1.0 };
        let trail = |x: &dyn Fn(f64) -> f64| trail_of(50, |t| [x(t), 3.0]);
        let t = 1.96;
        // A wrong-way driver at 40 km/h crosses back over the line.
        assert!(driven_not_jumped(&line, &trail(&|t| 30.0 - back * 5.0 + back * 11.1 * t), t));
        // A car driving the right way whose box flips from the front of its headlight pool to
        // the car, 12 m back, in one frame.
        let flip = trail(&|t| 30.0 - back * 10.0 * t + if t > 1.5 { back * 12.0 } else { 0.0 });
        assert!(!driven_not_jumped(&line, &flip, t));
        // The same flip more than a second ago no longer counts, and a jump with the flow is
        // no backward step.
        assert!(driven_not_jumped(&line, &flip, t + 1.2));
        assert!(driven_not_jumped(&line, &trail(&|t| 30.0 + if t > 1.5 { -back * 12.0 } else { 0.0 }), t));
        // Box jitter of a metre or two is driving.
        assert!(driven_not_jumped(
            &line,
            &trail(&|t| 30.0 + back * if (t * 25.0) as i32 % 2 == 0 { 2.0 } else { 0.0 }),
            t
        ));
    }

    #[test]
    fn a_track_drives_with_the_flow_when_it_advances_steadily_to_the_lines_positive_side() {
        // The line across x = 30 m (image x = 300 px), positive towards larger x.
        let h = crate::counting::tests::ten_px_a_metre();
        let line = LineGeometry::new("d", [300.0, 64.0], [300.0, 0.0], 1.0, Some(&h));
        assert!(line.signed_distance([400.0, 30.0], Some([40.0, 3.0])) > 0.0);
        let trail = |x: &dyn Fn(f64) -> f64| trail_of(40, |t| [x(t), 4.8]);
        let t = 1.56;
        assert!(moving_with_the_flow(&line, &trail(&|t| 35.0 + 8.0 * t), t), "leaving at 29 km/h");
        assert!(!moving_with_the_flow(&line, &trail(&|t| 35.0 - 8.0 * t), t), "coming back: the wrong way");
        assert!(!moving_with_the_flow(&line, &trail(&|t| 35.0 + 0.3 * t), t), "standing, jittering");
        assert!(!moving_with_the_flow(&line, &trail(&|t| 35.0 + 8.0 * t)[..20], 0.76), "too short a trail");
        // A track that hops to a vehicle 14 m on and drives with it for 0.4 s.
        let hop = trail(&|t| if t < 1.16 { 30.0 - 10.0 * t } else { 32.4 + 10.0 * (t - 1.16) });
        assert!(!moving_with_the_flow(&line, &hop, t), "a hop is no drive");
    }

    /// Runs one vehicle (box centre at `centre_m(t)` in metres, on a camera where 10 px are
    /// 1 m) through `zone` at 25 frames/s for 6 s; returns the findings.
    fn findings(zone: Zone, centre_m: impl Fn(f64) -> [f64; 2]) -> Vec<Finding> {
        use crate::detect::{BoxPx, Detection, VehicleKind};
        use crate::track::{Tracker, TrackerParams};
        let h = crate::counting::tests::ten_px_a_metre();
        let mut rules = ZoneRules::new(&[zone], Some(&h));
        let mut tracker = Tracker::new(TrackerParams::default(), Some(h));
        let mut out = Vec::new();
        for i in 0..150 {
            let t = f64::from(i) * 0.04;
            let [x, y] = centre_m(t);
            let bbox = BoxPx { x: x * 10.0 - 9.0, y: y * 10.0 - 20.0, w: 18.0, h: 40.0 };
            let det = Detection { bbox, kind: VehicleKind::Car, confidence: 1.0 };
            for tr in tracker.update(t, &[det]).to_vec() {
                out.extend(rules.judge(t, &tr));
            }
        }
        out
    }

    /// Runs one car through a no-stopping zone over the whole picture with `dwell_s`, for
    /// `seconds` at 25 frames/s: its foot at `foot_m(t)` metres on a camera where 10 px are
    /// 1 m, `None` while the detector misses it. Returns the illegal stops with their times.
    fn stops(seconds: f64, dwell_s: f64, foot_m: impl Fn(f64) -> Option<[f64; 2]>) -> Vec<(f64, Finding)> {
        use crate::detect::{BoxPx, Detection, VehicleKind};
        use crate::track::{Tracker, TrackerParams};
        let h = crate::counting::tests::ten_px_a_metre();
        let mut z = zone(ZoneKind::NoStopping, vec![[0.0, 0.0], [4000.0, 0.0], [4000.0, 4000.0], [0.0, 4000.0]]);
        z.max_dwell_s = Some(dwell_s);
        let mut rules = ZoneRules::new(&[z], Some(&h));
        let mut tracker = Tracker::new(TrackerParams::default(), Some(h));
        let mut out = Vec::new();
        for i in 0..(seconds * 25.0) as i32 {
            let t = f64::from(i) * 0.04;
            let dets: Vec<Detection> = foot_m(t)
                .map(|[x, y]| Detection {
                    bbox: BoxPx { x: x * 10.0 - 9.0, y: y * 10.0 - 40.0, w: 18.0, h: 40.0 },
                    kind: VehicleKind::Car,
                    confidence: 1.0,
                })
                .into_iter()
                .collect();
            let tracks = tracker.update(t, &dets).to_vec();
            for tr in &tracks {
                out.extend(rules.judge(t, tr).into_iter().map(|f| (t, f)));
            }
            rules.retain(&|id| tracks.iter().any(|tr| tr.id == id));
        }
        out.retain(|(_, f)| f.violation == ViolationType::IllegalStop);
        out
    }

    #[test]
    fn a_stop_lasts_while_the_car_stays_put_however_its_box_jitters() {
        // In at 10 m/s, stands from 2 s; from 4 s its box jumps 1.4 m on and back every
        // second (5 km/h over any second, over `STOPPED_KMH`).
        let found = stops(12.0, 5.0, |t| {
            Some(match t {
                t if t < 2.0 => [10.0, 10.0 + 10.0 * t],
                t if t >= 4.0 && (t as i32) % 2 == 0 => [10.0, 31.4],
                _ => [10.0, 30.0],
            })
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert!((7.0..9.5).contains(&found[0].0), "{found:?}");
        // Driving off is the end of it: 3 s of standing, 15 m on, 3.5 s there, gone.
        let moved = stops(12.0, 5.0, |t| match t {
            t if t < 3.0 => Some([10.0, 30.0]),
            t if t < 8.0 => Some([10.0, (30.0 + 10.0 * (t - 3.0)).min(45.0)]),
            _ => None,
        });
        assert!(moved.is_empty(), "{moved:?}");
    }

    #[test]
    fn a_stop_goes_on_when_the_tracker_loses_the_car_and_finds_it_again() {
        // Stands from 0 s; missed from 3 s to 4.5 s (its track is dropped), then seen again
        // by a new track at the same place.
        let found = stops(12.0, 6.0, |t| (!(3.0..4.5).contains(&t)).then_some([10.0, 30.0]));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].0 < 7.5, "the first track's start counts: {found:?}");
    }

    fn zone(kind: ZoneKind, points: Vec<[f64; 2]>) -> Zone {
        Zone { id: "z".into(), kind, points, approach: None, max_dwell_s: None, speed_limit_kmh: Some(50.0) }
    }

    /// Speeding findings of one vehicle at `kmh` with `jitter_m` of alternating box jitter
    /// down a 50 km/h zone.
    fn speeding_findings(kmh: f64, jitter_m: f64) -> usize {
        let z = zone(ZoneKind::Speed, vec![[0.0, 0.0], [400.0, 0.0], [400.0, 4000.0], [0.0, 4000.0]]);
        let found = findings(z, |t| {
            let jitter = if (t / 0.04).round() as i64 % 2 == 0 { jitter_m } else { -jitter_m };
            [18.0, 10.0 + kmh / 3.6 * t + jitter]
        });
        found.iter().filter(|f| f.violation == ViolationType::Speeding).count()
    }

    #[test]
    fn a_solid_line_counts_only_when_the_vehicle_stays_across() {
        // The line runs down the image at x = 10 m; the vehicle drives down beside it.
        let line = || zone(ZoneKind::SolidLine, vec![[100.0, 0.0], [100.0, 4000.0]]);
        let lane_change = findings(line(), |t| [8.5 + (t - 1.0).clamp(0.0, 1.0) * 3.0, 5.0 + 8.0 * t]);
        assert_eq!(lane_change.len(), 1, "changed lane over the solid line: {lane_change:?}");
        let spill = findings(line(), |t| [if (1.0..1.6).contains(&t) { 11.2 } else { 8.5 }, 5.0 + 8.0 * t]);
        assert!(spill.is_empty(), "a box over the line for 0.6 s: {spill:?}");
    }

    #[test]
    fn speeding_is_a_section_speed_over_the_limit_and_its_tolerance() {
        assert_eq!(speeding_findings(65.0, 0.0), 1, "30 % over: reported once");
        assert_eq!(speeding_findings(53.0, 0.0), 0, "within the 10 % tolerance");
        assert_eq!(speeding_findings(50.0, 0.6), 0, "at the limit, a jittering box is not a speeder");
    }

    #[test]
    fn point_in_polygon() {
        let sq = [[0.0, 0.0], [10.0, 0.0], [10.0, 10.0], [0.0, 10.0]];
        assert!(inside(&sq, [5.0, 5.0]));
        assert!(!inside(&sq, [15.0, 5.0]));
    }
}
