use std::process::ExitCode;

use crate::cli::ScoreArgs;

pub fn run(_args: &ScoreArgs) -> anyhow::Result<ExitCode> {
    super::not_built("score", "issue 6")
}
