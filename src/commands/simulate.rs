use std::process::ExitCode;

use crate::cli::SimulateArgs;

pub fn run(_args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    super::not_built("simulate", "issue 3")
}
