//! Internal events: one struct per thing that happens, whose `emit` both logs it and
//! updates its metrics, so that logs and metrics can never disagree.

use nutgiao_controller::{Indication, IntersectionPlan, PhaseState};
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;

pub trait InternalEvent {
    fn emit(&self, metrics: &Metrics);
}

/// A vehicle crossed a counting line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleCounted {
    pub camera: String,
    pub line: String,
    /// Lane index on the line's approach, when known.
    pub lane: Option<u8>,
    /// `positive` or `negative` relative to the line, or a compass bound.
    pub direction: String,
    pub class: String,
    /// Seconds since the Unix epoch (or simulation seconds in a simulated run).
    pub time_s: f64,
}

impl InternalEvent for VehicleCounted {
    fn emit(&self, m: &Metrics) {
        let lane = self.lane.map_or_else(|| "all".to_owned(), |l| l.to_string());
        tracing::debug!(camera = %self.camera, line = %self.line, lane = %lane, direction = %self.direction, class = %self.class, "vehicle counted");
        m.vehicles_counted.with_label_values(&[&self.camera, &self.line, &lane, &self.direction, &self.class]).inc();
    }
}

/// A vehicle completed a turning movement: in by one line, out by another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MovementCounted {
    pub camera: String,
    /// Entry and exit line ids.
    pub from: String,
    pub to: String,
    /// left, through, right or u_turn.
    pub turn: String,
    pub class: String,
    pub time_s: f64,
}

impl InternalEvent for MovementCounted {
    fn emit(&self, m: &Metrics) {
        tracing::debug!(camera = %self.camera, from = %self.from, to = %self.to, turn = %self.turn, class = %self.class, "movement counted");
        m.movements_counted.with_label_values(&[&self.camera, &self.from, &self.to, &self.turn, &self.class]).inc();
    }
}

/// A violation was detected and its evidence stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ViolationDetected {
    /// Stable id of the event (the vision store's id).
    pub id: String,
    pub camera: String,
    /// red_light, wrong_way, illegal_stop, speeding, solid_line.
    pub kind: String,
    pub class: String,
    pub time_s: f64,
    pub speed_kmh: Option<f64>,
    /// Evidence JPEG on disk, already fsynced when this event is emitted.
    pub evidence: Option<String>,
    pub evidence_sha256: Option<String>,
}

impl InternalEvent for ViolationDetected {
    fn emit(&self, m: &Metrics) {
        tracing::info!(id = %self.id, camera = %self.camera, kind = %self.kind, class = %self.class, "violation detected");
        m.violations.with_label_values(&[&self.camera, &self.kind]).inc();
    }
}

/// An intersection's phases changed indication.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalsChanged<'a> {
    pub intersection: &'a str,
    pub phases: &'a [PhaseState],
}

const INDICATIONS: [Indication; 5] =
    [Indication::Red, Indication::Yellow, Indication::Green, Indication::FlashingRed, Indication::FlashingYellow];

impl InternalEvent for SignalsChanged<'_> {
    fn emit(&self, m: &Metrics) {
        for p in self.phases {
            let phase = p.phase.to_string();
            for ind in INDICATIONS {
                m.signal_indication
                    .with_label_values(&[self.intersection, &phase, ind.as_str()])
                    .set(i64::from(ind == p.indication));
            }
        }
        tracing::trace!(intersection = self.intersection, "signals changed");
    }
}

/// A plan took effect at an intersection.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInEffect<'a> {
    pub plan: &'a IntersectionPlan,
    pub name: &'a str,
    pub manual: bool,
    /// The previous plan's name, to clear its info series.
    pub previous: Option<(&'a str, bool)>,
}

fn source(manual: bool) -> &'static str {
    if manual { "manual" } else { "automatic" }
}

impl InternalEvent for PlanInEffect<'_> {
    fn emit(&self, m: &Metrics) {
        let i = self.plan.intersection.as_str();
        if let Some((prev, manual)) = self.previous {
            let _ = m.plan_info.remove_label_values(&[i, prev, source(manual)]);
        }
        m.plan_info.with_label_values(&[i, self.name, source(self.manual)]).set(1);
        m.plan_cycle.with_label_values(&[i]).set(self.plan.cycle_s);
        m.plan_offset.with_label_values(&[i]).set(self.plan.offset_s);
        for (s, split) in self.plan.splits_s.iter().enumerate() {
            m.plan_split.with_label_values(&[i, &(s + 1).to_string()]).set(*split);
        }
        tracing::info!(intersection = i, plan = self.name, source = source(self.manual), cycle_s = self.plan.cycle_s, offset_s = self.plan.offset_s, splits_s = ?self.plan.splits_s, "plan in effect");
    }
}

/// A field controller answered after being down, or stopped answering.
#[derive(Debug, Clone, PartialEq)]
pub struct ControllerReachability<'a> {
    pub intersection: &'a str,
    pub up: bool,
    pub cause: Option<&'a str>,
}

impl InternalEvent for ControllerReachability<'_> {
    fn emit(&self, m: &Metrics) {
        m.controller_up.with_label_values(&[self.intersection]).set(i64::from(self.up));
        if self.up {
            tracing::info!(intersection = self.intersection, "field controller up");
        } else {
            tracing::warn!(
                intersection = self.intersection,
                cause = self.cause.unwrap_or("unknown"),
                "field controller down"
            );
        }
    }
}

/// One Modbus request and how it went.
#[derive(Debug, Clone, PartialEq)]
pub struct ModbusRequest<'a> {
    pub intersection: &'a str,
    /// read_status, read_detectors, write_plan, commit, heartbeat.
    pub operation: &'a str,
    pub duration_s: f64,
    /// Error kind (timeout, exception, io) when it failed.
    pub error: Option<&'a str>,
}

impl InternalEvent for ModbusRequest<'_> {
    fn emit(&self, m: &Metrics) {
        m.modbus_requests.with_label_values(&[self.intersection, self.operation]).inc();
        m.modbus_duration.with_label_values(&[self.intersection, self.operation]).observe(self.duration_s);
        if let Some(kind) = self.error {
            m.modbus_errors.with_label_values(&[self.intersection, self.operation, kind]).inc();
            tracing::debug!(
                intersection = self.intersection,
                operation = self.operation,
                kind,
                "modbus request failed"
            );
        }
    }
}

/// A camera's health as its pipeline reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CameraHealth {
    pub camera: String,
    pub up: bool,
    pub fps: f64,
    /// Frames processed and dropped since the last report.
    pub frames: u64,
    pub dropped: u64,
    /// Mean seconds per frame by stage (decode, convert, detect, track, count).
    pub stages: Vec<(String, f64)>,
    pub cause: Option<String>,
}

impl InternalEvent for CameraHealth {
    fn emit(&self, m: &Metrics) {
        let c = self.camera.as_str();
        let was_up = m.camera_up.with_label_values(&[c]).get() == 1;
        m.camera_up.with_label_values(&[c]).set(i64::from(self.up));
        m.camera_fps.with_label_values(&[c]).set(self.fps);
        m.frames_processed.with_label_values(&[c]).inc_by(self.frames);
        m.frames_dropped.with_label_values(&[c]).inc_by(self.dropped);
        for (stage, secs) in &self.stages {
            m.frame_stage_duration.with_label_values(&[c, stage]).observe(*secs);
        }
        match (was_up, self.up) {
            (false, true) => tracing::info!(camera = c, fps = self.fps, "camera up"),
            (true, false) => {
                tracing::warn!(camera = c, cause = self.cause.as_deref().unwrap_or("unknown"), "camera down")
            }
            _ => tracing::trace!(camera = c, fps = self.fps, "camera health"),
        }
    }
}

/// Queue and occupancy of one approach lane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LaneMeasured {
    pub intersection: String,
    pub approach: String,
    pub lane: u8,
    pub queue_m: f64,
    pub occupancy: f64,
}

impl InternalEvent for LaneMeasured {
    fn emit(&self, m: &Metrics) {
        let lane = self.lane.to_string();
        let l = [self.intersection.as_str(), self.approach.as_str(), lane.as_str()];
        m.queue_length.with_label_values(&l).set(self.queue_m);
        m.lane_occupancy.with_label_values(&l).set(self.occupancy);
        tracing::trace!(intersection = %self.intersection, approach = %self.approach, lane = self.lane, queue_m = self.queue_m, "lane measured");
    }
}

/// An audited write through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiWrite<'a> {
    pub who: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub accepted: bool,
    pub detail: &'a str,
}

impl InternalEvent for ApiWrite<'_> {
    fn emit(&self, m: &Metrics) {
        let outcome = if self.accepted { "accepted" } else { "rejected" };
        m.api_writes.with_label_values(&[self.action, outcome]).inc();
        tracing::info!(
            who = self.who,
            action = self.action,
            target = self.target,
            outcome,
            detail = self.detail,
            "api write"
        );
    }
}

/// The event bus handed events to the broker, or spooled them to disk.
#[derive(Debug, Clone, PartialEq)]
pub struct BusProgress<'a> {
    pub kind: &'a str,
    pub published: u64,
    pub spooled: i64,
}

impl InternalEvent for BusProgress<'_> {
    fn emit(&self, m: &Metrics) {
        m.bus_published.with_label_values(&[self.kind]).inc_by(self.published);
        m.bus_spooled.with_label_values(&[self.kind]).set(self.spooled);
        tracing::debug!(kind = self.kind, published = self.published, spooled = self.spooled, "event bus");
    }
}
