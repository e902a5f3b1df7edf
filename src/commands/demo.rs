use std::process::ExitCode;

use crate::cli::DemoArgs;

pub fn run(_args: &DemoArgs) -> anyhow::Result<ExitCode> {
    super::not_built("demo", "issue 7")
}
