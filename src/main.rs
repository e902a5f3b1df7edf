//! The `nutgiao` binary: parses the command line, sets up logging and hands over to the
//! services of the library crates. No domain logic lives here.

mod cli;
mod commands;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match &cli.command {
        Command::Check(a) => commands::check::run(a),
        Command::Simulate(_) => commands::not_built("simulate", "issue 3"),
        Command::Field(_) => commands::not_built("field", "issue 4"),
        Command::Control(_) => commands::not_built("control", "issue 4"),
        Command::Watch(_) => commands::not_built("watch", "issue 5"),
        Command::Count(_) => commands::not_built("count", "issue 5"),
        Command::Score(_) => commands::not_built("score", "issue 6"),
        Command::Run(_) => commands::not_built("run", "issue 7"),
        Command::Demo(_) => commands::not_built("demo", "issue 7"),
        Command::ImportSumo(_) => commands::not_built("import-sumo", "issue 8"),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(2)
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_env("NUTGIAO_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
