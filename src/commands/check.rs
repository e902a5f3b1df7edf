use std::process::ExitCode;

use crate::cli::CheckArgs;

pub fn run(args: &CheckArgs) -> anyhow::Result<ExitCode> {
    match nutgiao_config::load(&args.site) {
        Ok(site) => {
            print!("{}", site.summary());
            println!("{}: OK", args.site.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            let n = e.diagnostics().len().max(1);
            eprintln!(
                "{}: {n} problem{} found; nothing was applied",
                args.site.display(),
                if n == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(1))
        }
    }
}
