//! Signal control: timing plans, their safety checks, the plan algorithms, and the
//! clients that deliver plans to field controllers (Modbus TCP) or to SUMO (TraCI).
//!
//! Invariant: nothing in this crate links OpenCV or GStreamer.

pub mod plan;
pub mod signal;

pub use plan::{CorridorPlan, IntersectionPlan};
pub use signal::{DetectorReading, DetectorSnapshot, Indication, PhaseId, PhaseState, SignalControl, SiteSignals};
pub mod sumo;
