//! Measures with SUMO's definitions: per trip travel time, time loss (time lost to driving
//! below the driver's ideal speed), waiting time (speed below 0.1 m/s) and stops; per
//! interval and approach lane: throughput at the stop line, mean and max queue.

use serde::{Deserialize, Serialize};

/// Speed below which a vehicle counts as waiting (SUMO).
pub const WAITING_SPEED_MS: f64 = 0.1;
/// Speed below which a vehicle counts as halted in a queue (SUMO's E2 jam threshold, 5 km/h).
pub const HALTING_SPEED_MS: f64 = 5.0 / 3.6;
/// Largest bumper gap that still joins two halted vehicles into one queue.
pub const QUEUE_JOIN_GAP_M: f64 = 10.0;

/// One completed trip (a row of `vehicles.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TripRecord {
    pub id: u64,
    pub flow: String,
    pub class: String,
    /// When the vehicle wanted to enter; it entered at `depart_s`.
    pub wanted_s: f64,
    pub depart_s: f64,
    pub arrival_s: f64,
    pub travel_time_s: f64,
    pub time_loss_s: f64,
    pub waiting_s: f64,
    pub stops: u32,
    pub route_length_m: f64,
    pub teleported: bool,
    pub misbehaviour: String,
}

/// One approach lane over one interval (a row of `intervals.csv`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalRecord {
    pub begin_s: f64,
    pub end_s: f64,
    pub approach: String,
    pub lane: u8,
    /// Vehicles that crossed the stop line.
    pub throughput: u32,
    pub throughput_vph: f64,
    pub mean_queue_m: f64,
    pub max_queue_m: f64,
}

#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LaneAccumulator {
    pub crossings: u32,
    pub queue_sum: f64,
    pub queue_max: f64,
    pub samples: u32,
}

/// The run's summary (`summary.json`); means are over arrived vehicles, as SUMO's
/// `--duration-log.statistics`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub site: String,
    pub controller: String,
    pub model: String,
    pub seed: u64,
    pub step_s: f64,
    pub sim_time_s: f64,
    /// Vehicles the demand generated.
    pub generated: u64,
    pub inserted: u64,
    pub arrived: u64,
    /// In the network at the end.
    pub running: u64,
    /// Generated but still waiting to enter at the end.
    pub waiting_to_enter: u64,
    /// Refused because the entry's waiting list was full (demand far above capacity).
    pub refused: u64,
    pub teleports: u64,
    /// Episodes in which no vehicle moved for `gridlock_after_s`.
    pub gridlocks: u64,
    pub first_gridlock_s: Option<f64>,
    pub mean_travel_time_s: f64,
    pub mean_time_loss_s: f64,
    pub mean_waiting_s: f64,
    pub mean_stops: f64,
    pub mean_depart_delay_s: f64,
    /// Red-light runs, deliberate and not.
    pub red_light_runs: u64,
    pub misbehaving: MisbehaviourCounts,
    /// Vehicle-steps computed (one vehicle advanced by one step).
    pub vehicle_steps: u64,
    pub wall_s: f64,
    pub vehicle_updates_per_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MisbehaviourCounts {
    pub red_light_runner: u64,
    pub wrong_way: u64,
    pub illegal_stop: u64,
    pub speeder: u64,
}
