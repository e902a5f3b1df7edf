//! Scores what the vision pipeline reported (`nutgiao watch --events`) against the synthetic
//! cameras' ground truth: counts per line, direction and class, violations per type,
//! speeds at the counting lines.
//!
//! The events are read as plain JSON (the schema of docs/vision.md), so the simulator does
//! not depend on the vision crate.

use std::collections::BTreeMap;
use std::io::BufRead;

use nutgiao_config::VehicleClass;
use serde::{Deserialize, Serialize};

use super::truth::TruthRecord;

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
    for (n, line) in truth.lines().enumerate() {
        let line = line.map_err(|source| ScoreError::Read { file: "truth", source })?;
        if line.trim().is_empty() || line.contains("\"record\":\"frame\"") {
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
                }
            }
            TruthRecord::Crossing { camera, line, t, class, direction, speed_kmh, .. } => {
                crossings.push((camera, line, direction, t, class_group(class).to_owned(), speed_kmh));
            }
            TruthRecord::Violation { camera, violation, t, end_t, .. } => {
                violations.push((camera, violation, t, end_t))
            }
            TruthRecord::Frame { .. } => {}
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
        let mut taken = vec![false; truths.len()];
        let mut matched = 0u64;
        for e in &reps {
            let hit = truths
                .iter()
                .enumerate()
                .filter(|(i, v)| !taken[*i] && v.0 == e.camera && e.pts_s >= v.2 - before && e.pts_s <= v.3 + after)
                .min_by(|a, b| (a.1.2 - e.pts_s).abs().total_cmp(&(b.1.2 - e.pts_s).abs()))
                .map(|(i, _)| i);
            if let Some(i) = hit {
                taken[i] = true;
                matched += 1;
            }
        }
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
    Ok(Scores {
        count_error,
        counts: count_rows,
        classes: class_rows,
        violations: vs,
        speed_error: SpeedError { mean_abs_kmh: (speed_n > 0).then(|| speed_sum / speed_n as f64), matched: speed_n },
        tracking: Tracking {
            mota: None,
            idf1: None,
            note: "not scored: the events carry no per-frame tracks (needs a track log from the vision pipeline)"
                .into(),
        },
    })
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
    fn a_file_that_is_not_truth_is_refused() {
        let err = score("{\"record\":\"frame\",\"camera\":\"c\"}\n".as_bytes(), "".as_bytes()).unwrap_err();
        assert!(matches!(err, ScoreError::NoHeader));
        let err = score("not json\n".as_bytes(), "".as_bytes()).unwrap_err();
        assert!(err.to_string().contains("truth line 1"), "{err}");
    }
}
