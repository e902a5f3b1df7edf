use std::process::ExitCode;

use crate::cli::WatchArgs;

pub fn run(_args: &WatchArgs) -> anyhow::Result<ExitCode> {
    super::not_built("watch", "issue 5")
}
