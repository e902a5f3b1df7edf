//! The vocabulary of signal indications and detector readings that the controller, the
//! simulator and the virtual field controllers all speak.

use serde::{Deserialize, Serialize};

/// A NEMA-style phase (signal group) number, as in the site file.
pub type PhaseId = u8;

/// What a signal group shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Indication {
    Red,
    Yellow,
    Green,
    /// Cabinet in flash (conflict-monitor fault or flash request): treat as a stop sign.
    FlashingRed,
    /// Flash on the major street: proceed with caution.
    FlashingYellow,
}

impl Indication {
    /// May a vehicle enter the intersection on this indication without stopping first?
    pub fn permits_entry(self) -> bool {
        matches!(self, Indication::Green | Indication::FlashingYellow)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Indication::Red => "red",
            Indication::Yellow => "yellow",
            Indication::Green => "green",
            Indication::FlashingRed => "flashing_red",
            Indication::FlashingYellow => "flashing_yellow",
        }
    }
}

impl std::fmt::Display for Indication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One phase's indication and when it started.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseState {
    pub phase: PhaseId,
    pub indication: Indication,
    /// Simulation or wall time (s) at which this indication began.
    pub since_s: f64,
}

/// A snapshot of one detector (loop or virtual loop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorReading {
    /// Vehicles counted since the detector started (wraps at u32::MAX).
    pub count: u32,
    /// Share of the last measurement interval the loop was occupied (0..1).
    pub occupancy: f64,
    /// A vehicle is on the loop now.
    pub presence: bool,
    /// Time since the last vehicle left the loop (the gap), seconds.
    pub gap_s: f64,
}

/// Everything measured at one instant that a controller may use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DetectorSnapshot {
    /// Simulation or wall time (s) of the measurement.
    pub now_s: f64,
    /// Keyed by detector id from the site file.
    pub detectors: std::collections::BTreeMap<String, DetectorReading>,
    /// Queue length (m) per approach lane: key `(approach id, lane index)`.
    pub queues_m: std::collections::BTreeMap<(String, u8), f64>,
}

/// Phase states of every intersection, keyed by intersection id.
pub type SiteSignals = std::collections::BTreeMap<String, Vec<PhaseState>>;

/// Anything that decides the signals of a site: the built-in fixed-time and actuated
/// runners, the plan algorithms run in-process, the Modbus-driven virtual field
/// controllers, or SUMO's programs. The simulator only ever talks to this.
pub trait SignalControl: Send {
    /// A short name for logs and summaries (`fixed:fixed90`, `actuated`, `adaptive`, ...).
    fn name(&self) -> &str;

    /// Advance to `snapshot.now_s` (never earlier than the previous call) and return every
    /// intersection's phase states. Implementations must never show conflicting greens, a
    /// green shorter than its minimum, a short yellow or a skipped red clearance.
    fn update(&mut self, snapshot: &DetectorSnapshot) -> &SiteSignals;
}
