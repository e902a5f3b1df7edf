//! Scores what the vision pipeline reported (`nutgiao watch --events`) against the synthetic
//! cameras' ground truth: counts per line, direction and class, violations per type,
//! speeds at the counting lines.
//!
//! The events are read as plain JSON (the schema of docs/vision.md), so the simulator does
//! not depend on the vision crate.

use std::collections::BTreeMap;
use std::io::BufRead;

use nutgiao_config::VehicleClass;
use nutgiao_config::queue::{QUEUED_KMH, back_of_queue, distance_to_segment};
use serde::{Deserialize, Serialize};

use super::truth::{TruthQueueZone, TruthRecord, inside};

#[derive(Debug, thiserror::Error)]
pub enum ScoreError {
    #[error("{file} line {line}: {cause}")]
    Parse { file: &'static str, line: usize, cause: String },
    #[error("reading {file}: {source}")]
    Read { file: &'static str, source: std::io::Error },
    #[error("the truth has no header record: is it a `nutgiao simulate --truth` file?")]
    NoHeader,
}

/// The fields of a vision event that scoring uses.
#[derive(Debug, Clone, Deserialize)]
struct Reported {
    camera: String,
    pts_s: f64,
    kind: String,
    line: Option<String>,
    direction: Option<i8>,
    class: Option<String>,
    speed_kmh: Option<f64>,
    #[serde(rename = "type")]
    violation: Option<String>,
    /// Lane measurements (`kind` = "lane").
    zone: Option<String>,
    start_s: Option<f64>,
    duration_s: Option<f64>,
    occupancy: Option<f64>,
    queue_m: Option<f64>,
    queue_max_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountRow {
    pub line: String,
    pub direction: i8,
    pub truth: u64,
    pub reported: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassRow {
    pub class: String,
    pub truth: u64,
    pub reported: u64,
    pub error: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountError {
    /// Sum over lines and directions of |reported - truth| over the sum of truth: errors in
    /// opposite directions do not cancel.
    pub overall: Option<f64>,
    /// Per line, both directions: |reported - truth| summed over directions, over truth.
    pub lines: BTreeMap<String, Option<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViolationScore {
    pub truth: u64,
    pub reported: u64,
    pub matched: u64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpeedError {
    /// Mean absolute error (km/h) over count events matched to a true crossing.
    pub mean_abs_kmh: Option<f64>,
    pub matched: u64,
}

/// Lane measurements against the truth over the same bins: the truth's queue runs from the
/// stop line to the footprint centre of the farthest vehicle slower than 5 km/h, with its box
/// bottom in the zone, that is chained to the stop line by gaps of at most 15 m
/// (`nutgiao_config::queue`) (the pipeline measures to the box bottom, about half a
/// vehicle nearer for traffic driving towards the camera).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueScore {
    /// Lane bins reported with a queue length and matched to truth frames.
    pub bins: u64,
    pub mean_abs_m: Option<f64>,
    pub truth_mean_m: Option<f64>,
    pub reported_mean_m: Option<f64>,
    /// Mean absolute error of each bin's longest queue, and the truth's mean of those.
    pub max_mean_abs_m: Option<f64>,
    pub truth_max_mean_m: Option<f64>,
    /// Mean absolute error of the occupancy (0..1), over all reported lane bins.
    pub occupancy_mean_abs: Option<f64>,
    pub occupancy_bins: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tracking {
    pub mota: Option<f64>,
    pub idf1: Option<f64>,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    pub count_error: CountError,
    pub counts: Vec<CountRow>,
    pub classes: Vec<ClassRow>,
    /// Per violation type: red_light, wrong_way, illegal_stop, speeding.
    pub violations: BTreeMap<String, ViolationScore>,
    pub speed_error: SpeedError,
    pub queues: QueueScore,
    pub tracking: Tracking,
}

/// How far outside a true violation's [start, end] a report still matches it (s): a red
/// light is judged at the stop line a moment after entry; an illegal stop is reported only
/// once the zone's dwell limit has passed, so any time until shortly after it drove off.
fn window(kind: &str) -> (f64, f64) {
    match kind {
        "red_light" => (2.0, 3.0),
        "illegal_stop" => (0.0, 5.0),
        _ => (2.0, 2.0),
    }
}

/// The largest number of (report, truth) pairs, each used once, that `candidates` (per
/// report, the truths it may match) allow: augmenting paths (Kuhn), tried in candidate order.
fn max_matching(candidates: &[Vec<usize>], truths: usize) -> usize {
    fn augment(r: usize, candidates: &[Vec<usize>], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
        for &t in &candidates[r] {
            if seen[t] {
                continue;
            }
            seen[t] = true;
            if owner[t].is_none_or(|o| augment(o, candidates, owner, seen)) {
                owner[t] = Some(r);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; truths];
    (0..candidates.len()).filter(|&r| augment(r, candidates, &mut owner, &mut vec![false; truths])).count()
}

/// Crossings match counts within this many seconds (the detector's box lags the vehicle).
const CROSSING_TOLERANCE_S: f64 = 1.5;

pub const VIOLATION_TYPES: [&str; 4] = ["red_light", "wrong_way", "illegal_stop", "speeding"];

fn class_group(c: VehicleClass) -> &'static str {
    match c {
        VehicleClass::Car => "car",
        VehicleClass::Motorbike => "motorbike",
        VehicleClass::Bus | VehicleClass::Truck => "bus_truck",
    }
}

pub fn score(truth: impl BufRead, events: impl BufRead) -> Result<Scores, ScoreError> {
    let mut lines: Vec<(String, String)> = Vec::new();
    let mut header = false;
    let mut crossings: Vec<(String, String, i8, f64, String, f64)> = Vec::new();
    let mut violations: Vec<(String, String, f64, f64)> = Vec::new();
    // (camera, zone) -> its geometry and, per truth frame, (t, occupied, queue metres).
    let mut zones: ZoneFrames = BTreeMap::new();
    for (n, line) in truth.lines().enumerate() {
        let line = line.map_err(|source| ScoreError::Read { file: "truth", source })?;
        if line.trim().is_empty() || (zones.is_empty() && line.contains("\"record\":\"frame\"")) {
            continue;
        }
        let rec: TruthRecord = serde_json::from_str(&line).map_err(|e| ScoreError::Parse {
            file: "truth",
            line: n + 1,
            cause: e.to_string(),
        })?;
        match rec {
            TruthRecord::Header { cameras, .. } => {
                header = true;
                for c in cameras {
                    for l in c.lines {
                        lines.push((c.id.clone(), l.id));
                    }
                    for z in c.queue_zones {
                        zones.insert((c.id.clone(), z.id.clone()), (z, Vec::new()));
                    }
                }
            }
            TruthRecord::Crossing { camera, line, t, class, direction, speed_kmh, .. } => {
                crossings.push((camera, line, direction, t, class_group(class).to_owned(), speed_kmh));
            }
            TruthRecord::Violation { camera, violation, t, end_t, .. } => {
                violations.push((camera, violation, t, end_t))
            }
            TruthRecord::Frame { camera, t, vehicles, .. } => {
                for (_, (zone, frames)) in zones.iter_mut().filter(|((c, _), _)| *c == camera) {
                    frames.push(true_queue(zone, t, &vehicles));
                }
            }
        }
    }
    if !header {
        return Err(ScoreError::NoHeader);
    }
    let mut reported: Vec<Reported> = Vec::new();
    for (n, line) in events.lines().enumerate() {
        let line = line.map_err(|source| ScoreError::Read { file: "events", source })?;
        if line.trim().is_empty() {
            continue;
        }
        let e: Reported = serde_json::from_str(&line).map_err(|e| ScoreError::Parse {
            file: "events",
            line: n + 1,
            cause: e.to_string(),
        })?;
        reported.push(e);
    }
    let counts: Vec<&Reported> = reported
        .iter()
        .filter(|e| e.kind == "count" && lines.iter().any(|(c, l)| *c == e.camera && Some(l) == e.line.as_ref()))
        .collect();

    // Counts per line and direction.
    let mut rows: BTreeMap<(String, i8), (u64, u64)> = BTreeMap::new();
    for (_, l) in &lines {
        for d in [1i8, -1] {
            rows.insert((l.clone(), d), (0, 0));
        }
    }
    for c in &crossings {
        rows.entry((c.1.clone(), c.2)).or_default().0 += 1;
    }
    for e in &counts {
        if let (Some(l), Some(d)) = (&e.line, e.direction) {
            rows.entry((l.clone(), d)).or_default().1 += 1;
        }
    }
    let mut per_line: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut abs_sum, mut truth_sum) = (0u64, 0u64);
    for ((l, _), (t, r)) in &rows {
        let e = per_line.entry(l.clone()).or_default();
        e.0 += t.abs_diff(*r);
        e.1 += t;
        abs_sum += t.abs_diff(*r);
        truth_sum += t;
    }
    let ratio = |a: u64, b: u64| (b > 0).then(|| a as f64 / b as f64).or((a == 0).then_some(0.0));
    let count_error = CountError {
        overall: ratio(abs_sum, truth_sum),
        lines: per_line.iter().map(|(l, (a, t))| (l.clone(), ratio(*a, *t))).collect(),
    };
    let count_rows = rows
        .into_iter()
        .filter(|(_, (t, r))| t + r > 0)
        .map(|((line, direction), (truth, reported))| CountRow { line, direction, truth, reported })
        .collect();

    let mut classes: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for g in ["car", "motorbike", "bus_truck"] {
        classes.insert(g.into(), (0, 0));
    }
    for c in &crossings {
        classes.entry(c.4.clone()).or_default().0 += 1;
    }
    for e in &counts {
        classes.entry(e.class.clone().unwrap_or_else(|| "vehicle".into())).or_default().1 += 1;
    }
    let class_rows = classes
        .into_iter()
        .map(|(class, (truth, reported))| ClassRow {
            class,
            truth,
            reported,
            error: ratio(truth.abs_diff(reported), truth),
        })
        .collect();

    // Speeds: each count matched to the nearest unused true crossing of the same line and direction.
    let mut used = vec![false; crossings.len()];
    let (mut speed_sum, mut speed_n) = (0.0, 0u64);
    for e in &counts {
        let best = crossings
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                !used[*i]
                    && c.0 == e.camera
                    && Some(&c.1) == e.line.as_ref()
                    && Some(c.2) == e.direction
                    && (c.3 - e.pts_s).abs() <= CROSSING_TOLERANCE_S
            })
            .min_by(|a, b| (a.1.3 - e.pts_s).abs().total_cmp(&(b.1.3 - e.pts_s).abs()));
        if let Some((i, c)) = best {
            used[i] = true;
            if let Some(s) = e.speed_kmh {
                speed_sum += (s - c.5).abs();
                speed_n += 1;
            }
        }
    }

    let mut vs = BTreeMap::new();
    for kind in VIOLATION_TYPES {
        let truths: Vec<&(String, String, f64, f64)> = violations.iter().filter(|v| v.1 == kind).collect();
        let mut reps: Vec<&Reported> =
            reported.iter().filter(|e| e.kind == "violation" && e.violation.as_deref() == Some(kind)).collect();
        reps.sort_by(|a, b| a.pts_s.total_cmp(&b.pts_s));
        let (before, after) = window(kind);
        // Each report's candidates, nearest start first; then as many pairs as can be made: a
        // greedy pass hands a report to the wrong one of two overlapping violations and leaves
        // the next report without its own.
        let candidates: Vec<Vec<usize>> = reps
            .iter()
            .map(|e| {
                let mut c: Vec<usize> = (0..truths.len())
                    .filter(|&i| {
                        let v = truths[i];
                        v.0 == e.camera && e.pts_s >= v.2 - before && e.pts_s <= v.3 + after
                    })
                    .collect();
                c.sort_by(|&a, &b| (truths[a].2 - e.pts_s).abs().total_cmp(&(truths[b].2 - e.pts_s).abs()));
                c
            })
            .collect();
        let matched = max_matching(&candidates, truths.len()) as u64;
        let precision = (!reps.is_empty()).then(|| matched as f64 / reps.len() as f64);
        let recall = (!truths.is_empty()).then(|| matched as f64 / truths.len() as f64);
        let f1 = match (precision, recall) {
            (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
            (Some(_), Some(_)) => Some(0.0),
            _ => None,
        };
        vs.insert(
            kind.to_owned(),
            ViolationScore { truth: truths.len() as u64, reported: reps.len() as u64, matched, precision, recall, f1 },
        );
    }
    let queues = score_queues(&zones, &reported);
    Ok(Scores {
        count_error,
        counts: count_rows,
        classes: class_rows,
        violations: vs,
        speed_error: SpeedError { mean_abs_kmh: (speed_n > 0).then(|| speed_sum / speed_n as f64), matched: speed_n },
        queues,
        tracking: Tracking {
            mota: None,
            idf1: None,
            note: "not scored: the events carry no per-frame tracks (needs a track log from the vision pipeline)"
                .into(),
        },
    })
}

/// One truth frame of one queue zone: (t, any vehicle in it, queue length in metres).
fn true_queue(zone: &TruthQueueZone, t: f64, vehicles: &[super::truth::TruthVehicle]) -> (f64, bool, f64) {
    let mut occupied = false;
    let mut standing = Vec::new();
    for v in vehicles {
        let bottom = [v.bbox[0] + v.bbox[2] / 2.0, v.bbox[1] + v.bbox[3]];
        if zone.points.len() < 3 || !inside(&zone.points, bottom) {
            continue;
        }
        occupied = true;
        if v.speed_kmh < QUEUED_KMH
            && let Some([a, b]) = zone.stop_line_m
        {
            standing.push(distance_to_segment(v.ground_m, a, b));
        }
    }
    (t, occupied, back_of_queue(standing))
}

type ZoneFrames = BTreeMap<(String, String), (TruthQueueZone, Vec<(f64, bool, f64)>)>;

fn score_queues(zones: &ZoneFrames, reported: &[Reported]) -> QueueScore {
    let (mut abs, mut truth_sum, mut rep_sum, mut n) = (0.0, 0.0, 0.0, 0u64);
    let (mut max_abs, mut max_truth_sum) = (0.0, 0.0);
    let (mut occ_abs, mut occ_n) = (0.0, 0u64);
    for e in reported.iter().filter(|e| e.kind == "lane") {
        let (Some(zone), Some(start), Some(duration)) = (&e.zone, e.start_s, e.duration_s) else { continue };
        let Some((_, frames)) = zones.get(&(e.camera.clone(), zone.clone())) else { continue };
        let in_bin: Vec<&(f64, bool, f64)> =
            frames.iter().filter(|(t, _, _)| *t >= start && *t < start + duration.max(1e-9)).collect();
        if in_bin.is_empty() {
            continue;
        }
        let k = in_bin.len() as f64;
        if let Some(occ) = e.occupancy {
            let truth = in_bin.iter().filter(|f| f.1).count() as f64 / k;
            occ_abs += (occ - truth).abs();
            occ_n += 1;
        }
        if let Some(q) = e.queue_m {
            let truth = in_bin.iter().map(|f| f.2).sum::<f64>() / k;
            abs += (q - truth).abs();
            truth_sum += truth;
            rep_sum += q;
            n += 1;
            let truth_max = in_bin.iter().map(|f| f.2).fold(0.0, f64::max);
            max_abs += (e.queue_max_m.unwrap_or(q) - truth_max).abs();
            max_truth_sum += truth_max;
        }
    }
    let mean = |x: f64, n: u64| (n > 0).then(|| x / n as f64);
    QueueScore {
        bins: n,
        mean_abs_m: mean(abs, n),
        truth_mean_m: mean(truth_sum, n),
        reported_mean_m: mean(rep_sum, n),
        max_mean_abs_m: mean(max_abs, n),
        truth_max_mean_m: mean(max_truth_sum, n),
        occupancy_mean_abs: mean(occ_abs, occ_n),
        occupancy_bins: occ_n,
    }
}

fn metres(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.1}"))
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{:.1} %", v * 100.0))
}

fn num(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), |v| format!("{v:.3}"))
}

impl Scores {
    /// The human-readable table `nutgiao score` prints.
    pub fn table(&self) -> String {
        let mut s = String::new();
        s.push_str("Counts                         dir   truth  reported  error\n");
        for r in &self.counts {
            let e = (r.truth > 0).then(|| r.truth.abs_diff(r.reported) as f64 / r.truth as f64);
            s.push_str(&format!("  {:<28} {:>+3} {:>7} {:>9}  {}\n", r.line, r.direction, r.truth, r.reported, pct(e)));
        }
        s.push_str(&format!("  overall count error: {}\n", pct(self.count_error.overall)));
        s.push_str("Classes                              truth  reported  error\n");
        for r in &self.classes {
            s.push_str(&format!("  {:<32} {:>7} {:>9}  {}\n", r.class, r.truth, r.reported, pct(r.error)));
        }
        s.push_str("Violations        truth  reported  matched  precision  recall     F1\n");
        for (k, v) in &self.violations {
            s.push_str(&format!(
                "  {:<14} {:>7} {:>9} {:>8} {:>10} {:>7} {:>6}\n",
                k,
                v.truth,
                v.reported,
                v.matched,
                num(v.precision),
                num(v.recall),
                num(v.f1)
            ));
        }
        s.push_str(&format!(
            "Speed error: {} km/h mean absolute over {} matched crossings\n",
            self.speed_error.mean_abs_kmh.map_or_else(|| "-".into(), |v| format!("{v:.2}")),
            self.speed_error.matched
        ));
        let q = &self.queues;
        s.push_str(&format!(
            "Queues over {} lane bins: mean {} m off (truth {} m, reported {} m), longest {} m off (truth {} m); occupancy {} off\n",
            q.bins,
            metres(q.mean_abs_m),
            metres(q.truth_mean_m),
            metres(q.reported_mean_m),
            metres(q.max_mean_abs_m),
            metres(q.truth_max_mean_m),
            num(q.occupancy_mean_abs)
        ));
        s.push_str(&format!("Tracking: MOTA -, IDF1 - ({})\n", self.tracking.note));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUTH: &str = r#"{"record":"header","site":"t","seed":1,"time_of_day":"day","step_s":0.04,"cameras":[{"id":"c","fps":25.0,"resolution":[1280,720],"lines":[{"id":"L","approach":"A","points":[[0.0,0.0],[10.0,0.0]],"ground_m":null}]}]}
{"record":"frame","camera":"c","frame":0,"t":0.0,"vehicles":[],"signals":{}}
{"record":"crossing","camera":"c","line":"L","t":1.0,"vehicle":1,"class":"car","direction":1,"speed_kmh":40.0,"lane":0}
{"record":"crossing","camera":"c","line":"L","t":3.0,"vehicle":2,"class":"motorbike","direction":1,"speed_kmh":30.0,"lane":0}
{"record":"crossing","camera":"c","line":"L","t":5.0,"vehicle":3,"class":"bus","direction":-1,"speed_kmh":20.0,"lane":1}
{"record":"crossing","camera":"c","line":"L","t":7.0,"vehicle":4,"class":"car","direction":1,"speed_kmh":50.0,"lane":0}
{"record":"violation","camera":"c","type":"red_light","t":10.0,"end_t":10.0,"vehicle":5,"class":"car","place":"L","x":0.0,"y":0.0,"deliberate":true}
{"record":"violation","camera":"c","type":"illegal_stop","t":20.0,"end_t":60.0,"vehicle":6,"class":"car","place":"x","x":0.0,"y":0.0}
"#;

    fn count(t: f64, d: i8, class: &str, speed: f64) -> String {
        format!(
            r#"{{"id":"x","camera":"c","pts_s":{t},"wall_utc":"","kind":"count","line":"L","direction":{d},"class":"{class}","lane":null,"track":1,"speed_kmh":{speed},"bbox":[0,0,1,1],"ground_m":null}}"#
        )
    }

    fn violation(t: f64, kind: &str) -> String {
        format!(
            r#"{{"id":"v","camera":"c","pts_s":{t},"wall_utc":"","kind":"violation","type":"{kind}","place":"L","track":1,"class":"car","lane":null,"speed_kmh":null,"bbox":[0,0,1,1],"ground_m":null,"evidence":[]}}"#
        )
    }

    #[test]
    fn scores_a_known_mix_of_hits_misses_and_false_alarms() {
        let events = [
            count(1.2, 1, "car", 42.0),
            count(3.1, 1, "motorbike", 29.0),
            count(5.3, -1, "bus_truck", 23.0),
            // Vehicle 4 missed; a ghost in the other direction.
            count(9.0, -1, "car", 10.0),
            violation(10.8, "red_light"),
            violation(41.0, "illegal_stop"),
            violation(100.0, "illegal_stop"),
        ]
        .join("\n");
        let s = score(TRUTH.as_bytes(), events.as_bytes()).unwrap();
        // +1: truth 3, reported 2; -1: truth 1, reported 2 -> |1| + |1| over 4.
        assert_eq!(s.count_error.overall, Some(0.5));
        assert_eq!(s.count_error.lines["L"], Some(0.5));
        let rl = &s.violations["red_light"];
        assert_eq!((rl.precision, rl.recall), (Some(1.0), Some(1.0)));
        let st = &s.violations["illegal_stop"];
        assert_eq!((st.matched, st.precision, st.recall), (1, Some(0.5), Some(1.0)));
        assert_eq!(s.violations["wrong_way"].f1, None);
        // Speeds of the three matched counts: 2, 1 and 3 km/h off.
        assert_eq!(s.speed_error.matched, 3);
        assert!((s.speed_error.mean_abs_kmh.unwrap() - 2.0).abs() < 1e-9);
        insta::assert_snapshot!(s.table());
        insta::assert_json_snapshot!(s);
    }

    #[test]
    fn overlapping_violations_each_keep_their_report() {
        // Two wrong-way drivers in view at once (as in film h13): the first report falls in
        // both intervals and nearer the second's start, the second report only in the second.
        let truth = r#"{"record":"header","site":"t","seed":1,"time_of_day":"day","step_s":0.04,"cameras":[{"id":"c","fps":25.0,"resolution":[1280,720],"lines":[]}]}
{"record":"violation","camera":"c","type":"wrong_way","t":36.8,"end_t":43.76,"vehicle":31,"class":"car","place":"","x":0.0,"y":0.0}
{"record":"violation","camera":"c","type":"wrong_way","t":43.04,"end_t":51.8,"vehicle":35,"class":"car","place":"","x":0.0,"y":0.0}
"#;
        let events = [violation(43.16, "wrong_way"), violation(51.2, "wrong_way")].join("\n");
        let s = score(truth.as_bytes(), events.as_bytes()).unwrap();
        let w = &s.violations["wrong_way"];
        assert_eq!((w.matched, w.precision, w.recall), (2, Some(1.0), Some(1.0)));
    }

    #[test]
    fn queue_lengths_are_scored_over_the_reported_bins() {
        // One zone (a 100 px square) with its stop line along x = 0 on the ground. Two frames
        // per bin: in bin 0 a standing car 12 m back and a moving one farther; in bin 1 an
        // empty zone and a standing car outside it.
        let truth = r#"{"record":"header","site":"t","seed":1,"time_of_day":"day","step_s":1.0,"cameras":[{"id":"c","fps":1.0,"resolution":[200,200],"lines":[],"queue_zones":[{"id":"q","approach":"A","points":[[0,0],[100,0],[100,100],[0,100]],"stop_line_m":[[0,-5],[0,5]]}]}]}
{"record":"frame","camera":"c","frame":0,"t":0.0,"vehicles":[{"id":1,"class":"car","bbox":[40,40,20,20],"ground_m":[-12.0,1.0],"speed_kmh":0.0,"link":"l","lane":0,"heading_deg":90.0,"wrong_way":false},{"id":2,"class":"car","bbox":[10,10,20,20],"ground_m":[-40.0,1.0],"speed_kmh":30.0,"link":"l","lane":0,"heading_deg":90.0,"wrong_way":false}],"signals":{}}
{"record":"frame","camera":"c","frame":1,"t":1.0,"vehicles":[{"id":1,"class":"car","bbox":[40,40,20,20],"ground_m":[-12.0,1.0],"speed_kmh":0.0,"link":"l","lane":0,"heading_deg":90.0,"wrong_way":false}],"signals":{}}
{"record":"frame","camera":"c","frame":2,"t":2.0,"vehicles":[],"signals":{}}
{"record":"frame","camera":"c","frame":3,"t":3.0,"vehicles":[{"id":3,"class":"car","bbox":[140,140,20,20],"ground_m":[-9.0,1.0],"speed_kmh":0.0,"link":"l","lane":0,"heading_deg":90.0,"wrong_way":false}],"signals":{}}
"#;
        let lane = |start: f64, occ: f64, q: f64| {
            format!(
                r#"{{"id":"l{start}","camera":"c","pts_s":{},"wall_utc":"","kind":"lane","zone":"q","intersection":null,"approach":"A","lane":0,"start_s":{start},"duration_s":2.0,"frames":2,"occupancy":{occ},"mean_vehicles":1.0,"queue_m":{q},"queue_max_m":{q},"queued_max":1}}"#,
                start + 2.0
            )
        };
        let events = [lane(0.0, 1.0, 10.0), lane(2.0, 0.5, 0.0)].join("\n");
        let s = score(truth.as_bytes(), events.as_bytes()).unwrap();
        let q = &s.queues;
        assert_eq!((q.bins, q.occupancy_bins), (2, 2));
        // Bin 0: truth 12 m (the moving car does not queue), reported 10; bin 1: 0 and 0.
        assert!((q.mean_abs_m.unwrap() - 1.0).abs() < 1e-9, "{q:?}");
        assert!((q.truth_mean_m.unwrap() - 6.0).abs() < 1e-9);
        // Longest: truth 12 and 0, reported 10 and 0.
        assert!((q.max_mean_abs_m.unwrap() - 1.0).abs() < 1e-9);
        // Occupancy: truth 1.0 and 0.0; reported 1.0 and 0.5.
        assert!((q.occupancy_mean_abs.unwrap() - 0.25).abs() < 1e-9);
    }

    #[test]
    fn a_file_that_is_not_truth_is_refused() {
        let err = score("{\"record\":\"frame\",\"camera\":\"c\"}\n".as_bytes(), "".as_bytes()).unwrap_err();
        assert!(matches!(err, ScoreError::NoHeader));
        let err = score("not json\n".as_bytes(), "".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("truth line 1"), "{err}");
    }
}
