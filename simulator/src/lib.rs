//! Corridor microsimulation of a site, with virtual field controllers.
//!
//! Invariant: the simulator core never links OpenCV or GStreamer; only the `camera`
//! module (behind its feature) does.
//!
//! A run: [`Simulation::new`] from a site and [`SimOptions`], then [`Simulation::step`]
//! with any [`nutgiao_controller::SignalControl`] (or [`run`] / [`run_realtime`] to loop),
//! then [`Simulation::summary`] and the writers in [`output`].

#[cfg(feature = "cameras")]
pub mod camera;
pub mod carfollow;
mod demand;
pub mod events;
pub mod field;
pub mod measures;
mod network;
mod options;
pub mod output;
mod runner;
mod sim;
pub mod timespace;
mod trajectory;
mod wrongway;

pub use carfollow::CarFollowing;
pub use demand::Arrivals;
pub use events::{MisbehaviourKind, SimEvent};
pub use measures::{IntervalRecord, Summary, TripRecord};
pub use network::Arterial;
pub use options::SimOptions;
pub use runner::{Pace, run, run_realtime, run_with_progress};
pub use sim::Simulation;
pub use trajectory::{ArterialRecord, TrajectoryPoint};

use nutgiao_config::VehicleClass;

/// Why a simulation could not be set up or its outputs written.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("network: {thing}: {cause}")]
    Network { thing: String, cause: String },
    #[error("demand: {thing}: {cause}")]
    Demand { thing: String, cause: String },
    #[error("options: {0}")]
    Options(String),
    #[error("writing {path}: {source}")]
    Write { path: std::path::PathBuf, source: std::io::Error },
}

/// One vehicle as others see it (cameras, the live demo, the field controllers).
#[derive(Debug, Clone, PartialEq)]
pub struct VehicleView {
    pub id: u64,
    pub class: VehicleClass,
    pub link: String,
    /// Lane index from the kerb (0).
    pub lane: u8,
    /// Offset right of the lane centre (m): motorbikes riding two abreast sit at +-width/4.
    pub lateral_m: f64,
    /// Front bumper from the link's upstream end (m); beyond the link length while crossing
    /// the junction.
    pub distance_m: f64,
    pub speed_ms: f64,
    pub accel_ms2: f64,
    /// Front bumper in site metres (x east, y north), on the turning path inside a junction.
    pub x: f64,
    pub y: f64,
    /// Degrees clockwise from north.
    pub heading_deg: f64,
    pub length_m: f64,
    pub width_m: f64,
    pub misbehaviour: Option<MisbehaviourKind>,
    /// Driving against the link's direction.
    pub wrong_way: bool,
}

#[cfg(test)]
mod tests;
