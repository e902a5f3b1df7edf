use std::process::ExitCode;

use crate::cli::SiteArgs;

pub fn run(_args: &SiteArgs) -> anyhow::Result<ExitCode> {
    super::not_built("run", "issue 7")
}
