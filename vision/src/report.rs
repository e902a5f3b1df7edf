//! Counts in 1-minute and 15-minute bins (CSV) and the per-line summary (JSON).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::error::{Result, VisionError};
use crate::event::{EventKind, VisionEvent};
use crate::pipeline::LineTotal;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountSummary {
    pub frames: u64,
    /// Frames processed per second of wall time.
    pub fps: f64,
    /// Frame rate of the video itself (from its time stamps).
    pub video_fps: f64,
    pub duration_s: f64,
    pub lines: Vec<LineTotal>,
    /// Turning movements, one entry per (from, to) pair seen.
    pub movements: Vec<MovementTotal>,
    pub stage_times_s: crate::pipeline::StageTimes,
}

/// Key of one CSV row: bin length, bin start, line, direction, class, lane.
type BinKey = (u32, u64, String, i8, String, Option<u8>);

/// The 1-minute and the 15-minute bin (length in minutes, start in stream seconds) that
/// stream time `t_s` falls in.
fn bin_starts(t_s: f64) -> [(u32, u64); 2] {
    [1u32, 15].map(|minutes| {
        let width = f64::from(minutes) * 60.0;
        (minutes, ((t_s / width).floor().max(0.0) * width) as u64)
    })
}

pub fn bins(events: &[VisionEvent]) -> BTreeMap<BinKey, u64> {
    let mut out = BTreeMap::new();
    for e in events {
        let EventKind::Count(c) = &e.kind else { continue };
        for (minutes, start) in bin_starts(e.pts_s) {
            *out.entry((minutes, start, c.line.clone(), c.direction, c.class.clone(), c.lane)).or_default() += 1;
        }
    }
    out
}

pub fn write_csv(path: &Path, events: &[VisionEvent]) -> Result<()> {
    let io = csv_error(path);
    let mut w = csv::Writer::from_path(path).map_err(&io)?;
    w.write_record(["bin_minutes", "bin_start_s", "line", "direction", "class", "lane", "count"]).map_err(&io)?;
    for ((minutes, start, line, dir, class, lane), n) in bins(events) {
        let lane = lane.map(|l| l.to_string()).unwrap_or_default();
        w.write_record([minutes.to_string(), start.to_string(), line, dir.to_string(), class, lane, n.to_string()])
            .map_err(&io)?;
    }
    w.flush().map_err(VisionError::io(path))
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MovementTotal {
    pub from: String,
    pub to: String,
    pub turn: String,
    pub total: u64,
    pub by_class: BTreeMap<String, u64>,
}

pub fn movement_totals(events: &[VisionEvent]) -> Vec<MovementTotal> {
    let mut out: BTreeMap<(String, String), MovementTotal> = BTreeMap::new();
    for e in events {
        let EventKind::Movement(m) = &e.kind else { continue };
        let t = out.entry((m.from.clone(), m.to.clone())).or_insert_with(|| MovementTotal {
            from: m.from.clone(),
            to: m.to.clone(),
            turn: m.turn.as_str().to_owned(),
            ..Default::default()
        });
        t.total += 1;
        *t.by_class.entry(m.class.clone()).or_default() += 1;
    }
    out.into_values().collect()
}

/// Key of one movement CSV row: bin length, bin start, from, to, turn, class.
type MovementKey = (u32, u64, String, String, &'static str, String);

pub fn movement_bins(events: &[VisionEvent]) -> BTreeMap<MovementKey, u64> {
    let mut out = BTreeMap::new();
    for e in events {
        let EventKind::Movement(m) = &e.kind else { continue };
        // A movement belongs to the bins in which it left the intersection.
        for (minutes, start) in bin_starts(e.pts_s) {
            let key = (minutes, start, m.from.clone(), m.to.clone(), m.turn.as_str(), m.class.clone());
            *out.entry(key).or_default() += 1;
        }
    }
    out
}

fn csv_error(path: &Path) -> impl Fn(csv::Error) -> VisionError + '_ {
    |e| VisionError::Io { path: path.to_owned(), source: std::io::Error::other(e) }
}

pub fn write_movements_csv(path: &Path, events: &[VisionEvent]) -> Result<()> {
    let io = csv_error(path);
    let mut w = csv::Writer::from_path(path).map_err(&io)?;
    w.write_record(["bin_minutes", "bin_start_s", "from", "to", "turn", "class", "count"]).map_err(&io)?;
    for ((minutes, start, from, to, turn, class), n) in movement_bins(events) {
        w.write_record([minutes.to_string(), start.to_string(), from, to, turn.to_owned(), class, n.to_string()])
            .map_err(&io)?;
    }
    w.flush().map_err(VisionError::io(path))
}

pub fn write_lanes_csv(path: &Path, events: &[VisionEvent]) -> Result<()> {
    let io = csv_error(path);
    let mut w = csv::Writer::from_path(path).map_err(&io)?;
    w.write_record([
        "start_s",
        "duration_s",
        "zone",
        "approach",
        "lane",
        "occupancy",
        "mean_vehicles",
        "queue_m",
        "queue_max_m",
        "queued_max",
    ])
    .map_err(&io)?;
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
    for e in events {
        let EventKind::Lane(l) = &e.kind else { continue };
        w.write_record([
            format!("{:.1}", l.start_s),
            format!("{:.1}", l.duration_s),
            l.zone.clone(),
            l.approach.clone().unwrap_or_default(),
            l.lane.to_string(),
            format!("{:.3}", l.occupancy),
            format!("{:.2}", l.mean_vehicles),
            opt(l.queue_m),
            opt(l.queue_max_m),
            l.queued_max.to_string(),
        ])
        .map_err(&io)?;
    }
    w.flush().map_err(VisionError::io(path))
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| VisionError::Io { path: path.to_owned(), source: e.into() })?;
    std::fs::write(path, text + "\n").map_err(VisionError::io(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::CountEvent;

    fn at(t: f64, line: &str) -> VisionEvent {
        VisionEvent {
            id: format!("{t}"),
            camera: "c".into(),
            pts_s: t,
            wall_utc: String::new(),
            kind: EventKind::Count(CountEvent {
                line: line.into(),
                direction: 1,
                class: "car".into(),
                lane: None,
                track: 1,
                speed_kmh: None,
                bbox: [0.0; 4],
                ground_m: None,
            }),
        }
    }

    #[test]
    fn counts_fall_into_their_minute_and_quarter_hour() {
        let b = bins(&[at(5.0, "a"), at(59.9, "a"), at(60.0, "a"), at(901.0, "a")]);
        assert_eq!(b[&(1, 0, "a".into(), 1, "car".into(), None)], 2);
        assert_eq!(b[&(1, 60, "a".into(), 1, "car".into(), None)], 1);
        assert_eq!(b[&(15, 0, "a".into(), 1, "car".into(), None)], 3);
        assert_eq!(b[&(15, 900, "a".into(), 1, "car".into(), None)], 1);
    }
}
