//! Where the nutgiao signal-controller register map sits in a cabinet's address space.
//!
//! The map itself (what each register means) is documented in `docs/modbus.md` and
//! encoded in `nutgiao-controller`; a deployment only moves the blocks and picks the
//! time unit so that an existing PLC's layout can be matched.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterMap {
    /// Version of the register map; a controller refuses a cabinet that reports another.
    #[serde(default = "default_version")]
    pub version: u16,
    /// First holding register of the timing-plan block.
    #[serde(default)]
    pub plan_base: u16,
    /// First holding register of the command block (commit, heartbeat).
    #[serde(default = "default_command_base")]
    pub command_base: u16,
    /// First input register of the status block.
    #[serde(default)]
    pub status_base: u16,
    /// First input register of the per-detector block.
    #[serde(default = "default_detector_base")]
    pub detector_base: u16,
    /// First coil (remote-control enable, flash request).
    #[serde(default)]
    pub coil_base: u16,
    /// First discrete input (conflict-monitor fault).
    #[serde(default)]
    pub discrete_base: u16,
    /// Seconds per count for interval registers (0.1 s by default).
    #[serde(default = "default_time_unit")]
    pub time_unit_s: f64,
}

impl Default for RegisterMap {
    fn default() -> Self {
        Self {
            version: default_version(),
            plan_base: 0,
            command_base: default_command_base(),
            status_base: 0,
            detector_base: default_detector_base(),
            coil_base: 0,
            discrete_base: 0,
            time_unit_s: default_time_unit(),
        }
    }
}

fn default_version() -> u16 {
    1
}
fn default_command_base() -> u16 {
    200
}
fn default_detector_base() -> u16 {
    100
}
fn default_time_unit() -> f64 {
    0.1
}
