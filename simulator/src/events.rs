//! Ground truth: what happened to whom, where and when, for scoring the vision pipeline.

use nutgiao_config::VehicleClass;
use nutgiao_controller::Indication;
use serde::{Deserialize, Serialize};

/// A deliberate misbehaviour a driver was given at insertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MisbehaviourKind {
    RedLightRunner,
    WrongWay,
    IllegalStop,
    Speeder,
}

impl MisbehaviourKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MisbehaviourKind::RedLightRunner => "red_light_runner",
            MisbehaviourKind::WrongWay => "wrong_way",
            MisbehaviourKind::IllegalStop => "illegal_stop",
            MisbehaviourKind::Speeder => "speeder",
        }
    }
}

/// One ground-truth event; times are simulation seconds, positions site metres.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum SimEvent {
    Inserted {
        t: f64,
        vehicle: u64,
        class: VehicleClass,
        link: String,
    },
    Arrived {
        t: f64,
        vehicle: u64,
        link: String,
    },
    /// Entered the junction on a red (or flashing red without stopping). `deliberate` is
    /// false for a driver caught by the change to red who could not stop in time.
    RedLightRun {
        t: f64,
        vehicle: u64,
        intersection: String,
        approach: String,
        phase: u8,
        indication: Indication,
        x: f64,
        y: f64,
        deliberate: bool,
    },
    WrongWayEntry {
        t: f64,
        vehicle: u64,
        link: String,
        x: f64,
        y: f64,
    },
    WrongWayExit {
        t: f64,
        vehicle: u64,
        link: String,
        x: f64,
        y: f64,
    },
    IllegalStopStart {
        t: f64,
        vehicle: u64,
        link: String,
        x: f64,
        y: f64,
    },
    IllegalStopEnd {
        t: f64,
        vehicle: u64,
        link: String,
        x: f64,
        y: f64,
        dwell_s: f64,
    },
    /// Reported once per link, when the speeder first exceeds the limit by 10 %.
    Speeding {
        t: f64,
        vehicle: u64,
        link: String,
        speed_ms: f64,
        limit_ms: f64,
        x: f64,
        y: f64,
    },
    Teleport {
        t: f64,
        vehicle: u64,
        from_link: String,
        to_link: Option<String>,
    },
    Gridlock {
        t: f64,
        vehicles_in_network: usize,
    },
}
