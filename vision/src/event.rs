//! What the pipeline reports: one JSON object per event (JSON lines).
//! The schema is documented in docs/vision.md; `nutgiao score` reads it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionEvent {
    /// Stable and unique: `<camera>:<kind>:<pts in ms>:<track>:<line or zone>`.
    pub id: String,
    pub camera: String,
    /// Stream presentation time, seconds.
    pub pts_s: f64,
    /// Wall clock when the frame was processed, RFC 3339 UTC.
    pub wall_utc: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    Count(CountEvent),
    Movement(MovementEvent),
    Lane(LaneEvent),
    Violation(ViolationEvent),
    CameraStatus(CameraStatusEvent),
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Count(_) => "count",
            EventKind::Movement(_) => "movement",
            EventKind::Lane(_) => "lane",
            EventKind::Violation(_) => "violation",
            EventKind::CameraStatus(_) => "camera_status",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountEvent {
    pub line: String,
    /// +1 when crossing from the left of p0->p1 to its right (as seen on screen), else -1.
    pub direction: i8,
    pub class: String,
    /// Lane index from the kerb, when the approach's queue zones locate it.
    pub lane: Option<u8>,
    pub track: u64,
    pub speed_kmh: Option<f64>,
    /// Box in processing pixels at the crossing: x, y, w, h.
    pub bbox: [f64; 4],
    /// Ground point in site metres, when calibrated.
    pub ground_m: Option<[f64; 2]>,
}

/// A turning movement: the track entered by `from` and left by `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovementEvent {
    pub from: String,
    pub to: String,
    pub turn: nutgiao_config::Turn,
    pub class: String,
    pub track: u64,
    /// Seconds from the entry crossing to the exit crossing.
    pub travel_s: f64,
}

/// One lane's occupancy and queue over one bin (`queues::LANE_BIN_S`).
pub type LaneEvent = crate::queues::LaneMeasurement;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationType {
    RedLight,
    WrongWay,
    IllegalStop,
    Speeding,
    SolidLine,
}

impl ViolationType {
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationType::RedLight => "red_light",
            ViolationType::WrongWay => "wrong_way",
            ViolationType::IllegalStop => "illegal_stop",
            ViolationType::Speeding => "speeding",
            ViolationType::SolidLine => "solid_line",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViolationEvent {
    #[serde(rename = "type")]
    pub violation: ViolationType,
    /// The line or zone where it happened.
    pub place: String,
    pub track: u64,
    pub class: String,
    pub lane: Option<u8>,
    pub speed_kmh: Option<f64>,
    pub bbox: [f64; 4],
    pub ground_m: Option<[f64; 2]>,
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraStatusEvent {
    pub up: bool,
    pub fps: f64,
    pub dropped_frames: u64,
    pub cause: Option<String>,
}

pub fn wall_clock_now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
