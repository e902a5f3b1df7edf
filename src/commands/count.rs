use std::process::ExitCode;

use crate::cli::CountArgs;

pub fn run(_args: &CountArgs) -> anyhow::Result<ExitCode> {
    super::not_built("count", "issue 5")
}
