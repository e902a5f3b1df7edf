//! Signal control: timing plans, their safety checks, the plan algorithms, and the
//! clients that deliver plans to field controllers (Modbus TCP) or to SUMO (TraCI).
//!
//! Invariant: nothing in this crate links OpenCV or GStreamer.

pub mod actuation;
pub mod algorithms;
pub mod central;
pub mod control;
pub mod modbus;
pub mod plan;
pub mod safety;
pub mod sequencer;
pub mod signal;
#[cfg(test)]
mod testing;

pub use control::{ControlError, SequencedControl, by_name};
pub use plan::{CorridorPlan, IntersectionPlan};
pub use safety::{PlanError, validate_plan};
pub use sequencer::{Mode, Sequencer, SequencerStatus};
pub use signal::{DetectorReading, DetectorSnapshot, Indication, PhaseId, PhaseState, SignalControl, SiteSignals};
pub mod sumo;
