//! One module per command; each only wires the library crates together.

pub mod check;
pub mod control;
pub mod count;
pub mod demo;
pub mod field;
pub mod import_sumo;
pub mod run;
pub mod score;
pub mod simulate;
pub mod watch;

use anyhow::bail;

/// A command whose service is not built yet says so instead of pretending.
pub fn not_built(command: &str, issue: &str) -> anyhow::Result<std::process::ExitCode> {
    bail!("`nutgiao {command}` is not built yet ({issue}); `nutgiao check` validates a site file today")
}
