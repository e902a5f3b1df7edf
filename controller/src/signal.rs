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
