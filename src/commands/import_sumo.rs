use std::process::ExitCode;

use crate::cli::ImportSumoArgs;

pub fn run(_args: &ImportSumoArgs) -> anyhow::Result<ExitCode> {
    super::not_built("import-sumo", "issue 8")
}
