use std::process::ExitCode;

use crate::cli::ControlArgs;

pub fn run(_args: &ControlArgs) -> anyhow::Result<ExitCode> {
    super::not_built("control", "issue 4")
}
