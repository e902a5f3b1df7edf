//! How a run is set up, apart from the site.

use serde::{Deserialize, Serialize};

use crate::carfollow::CarFollowing;
use crate::demand::Arrivals;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimOptions {
    /// Time step (s); 0.5 by default, 1 for comparisons with SUMO's default.
    pub step_s: f64,
    pub model: CarFollowing,
    pub seed: u64,
    pub arrivals: Arrivals,
    /// A vehicle that has not moved for this long is moved on along its route (SUMO's
    /// `time-to-teleport`, 300 s by default); `None` never teleports.
    pub teleport_after_s: Option<f64>,
    /// No vehicle moving for this long while some are in the network is reported as gridlock.
    pub gridlock_after_s: f64,
    /// Length of the per-interval measures (throughput and queues).
    pub interval_s: f64,
    /// Keep trajectories and signal states along the arterials for the time-space diagrams.
    pub record_trajectories: bool,
    /// Keep ground-truth events (inserted, arrived, violations) until `drain_events`.
    pub record_events: bool,
    /// Spread of each driver's speed factor around the limit (SUMO's `speedDev`, 0.1).
    pub speed_dev: f64,
    /// Vehicles that may wait to enter at one entry link; arrivals beyond it are refused
    /// and counted, so demand far above capacity cannot grow memory without bound.
    pub max_waiting_to_enter: usize,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            step_s: 0.5,
            model: CarFollowing::Idm,
            seed: 1,
            arrivals: Arrivals::Poisson,
            teleport_after_s: Some(300.0),
            gridlock_after_s: 120.0,
            interval_s: 300.0,
            record_trajectories: false,
            record_events: true,
            speed_dev: 0.1,
            max_waiting_to_enter: 20_000,
        }
    }
}
