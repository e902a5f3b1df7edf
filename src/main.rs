//! The `nutgiao` binary: parses the command line, sets up logging and hands over to the
//! services of the library crates. No domain logic lives here.

mod cli;
mod commands;
mod scaleout;
mod services;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let result = match &cli.command {
        Command::Check(a) => commands::check::run(a),
        Command::Simulate(a) => commands::simulate::run(a),
        Command::Field(a) => commands::field::run(a),
        Command::Control(a) => commands::control::run(a),
        Command::Watch(a) => commands::watch::run(a),
        Command::Count(a) => commands::count::run(a),
        Command::Score(a) => commands::score::run(a),
        Command::Run(a) => commands::run::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::ImportSumo(a) => commands::import_sumo::run(a),
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
