//! The SUMO bridge: a TraCI client, a SUMO backend behind `SignalControl`, and the import of
//! SUMO networks into site files.

pub mod backend;
pub mod codec;
mod error;
pub mod import;
pub mod net;
pub mod process;
pub mod program;
pub mod signals;
pub mod traci;

pub use backend::{SumoRun, SumoRunSummary, run_control};
pub use error::SumoError;
pub use import::import_net;
pub use net::Net;
pub use process::SumoProcess;
pub use traci::TraciClient;
