use std::process::ExitCode;

use crate::cli::FieldArgs;

pub fn run(_args: &FieldArgs) -> anyhow::Result<ExitCode> {
    super::not_built("field", "issue 4")
}
