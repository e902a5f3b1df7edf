//! `nutgiao score`: the vision pipeline's events against the synthetic cameras' truth.

use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::ScoreArgs;

pub fn run(args: &ScoreArgs) -> anyhow::Result<ExitCode> {
    let truth = File::open(&args.truth).with_context(|| format!("truth file {}", args.truth.display()))?;
    let events = File::open(&args.events).with_context(|| format!("events file {}", args.events.display()))?;
    let scores = nutgiao_simulator::camera::score::score(BufReader::new(truth), BufReader::new(events))
        .with_context(|| format!("scoring {} against {}", args.events.display(), args.truth.display()))?;
    print!("{}", scores.table());
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&scores)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
