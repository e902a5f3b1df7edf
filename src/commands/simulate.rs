//! `nutgiao simulate`: loads the site, picks the signal control by name, runs the
//! corridor simulation and writes its measures.

use std::process::ExitCode;

use anyhow::{Context, bail};
use nutgiao_simulator::{Arrivals, CarFollowing, SimOptions, Simulation};

use crate::cli::{Model, SimulateArgs};

pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    // Filming steps the simulation once per frame and streams or writes the pictures.
    if args.cameras.is_some() || args.truth.is_some() {
        if args.controller.starts_with(nutgiao_controller::sumo::program::PREFIX) {
            bail!(
                "--controller {}: replaying SUMO's programs is not available with --cameras or --truth",
                args.controller
            );
        }
        return super::film::run(args);
    }
    if !(args.duration.is_finite() && args.duration > 0.0) {
        bail!("--duration {}: must be a positive number of seconds", args.duration);
    }
    let site = super::load_site(&args.site)?;
    let arrivals = match args.arrivals.as_str() {
        "poisson" => Arrivals::Poisson,
        "uniform" => Arrivals::Uniform,
        other => bail!("--arrivals {other}: expected poisson or uniform"),
    };
    let opts = SimOptions {
        step_s: args.step,
        model: match args.model {
            Model::Idm => CarFollowing::Idm,
            Model::Krauss => CarFollowing::Krauss,
        },
        seed: args.seed,
        arrivals,
        record_trajectories: args.out.is_some(),
        // The command line has no consumer for per-vehicle events; trips and counts are kept anyway.
        record_events: false,
        ..SimOptions::default()
    };
    let mut sim = Simulation::new(&site, opts).with_context(|| format!("simulating {}", args.site.display()))?;
    let mut control: Box<dyn nutgiao_controller::SignalControl> =
        match args.controller.strip_prefix(nutgiao_controller::sumo::program::PREFIX) {
            // SUMO's own programs, replayed for validation: never a controller for the field.
            Some(files) => Box::new(
                nutgiao_controller::sumo::program::SumoProgram::from_spec(&site, files, args.step)
                    .with_context(|| format!("--controller {}", args.controller))?,
            ),
            None => nutgiao_controller::by_name(&site, &args.controller)
                .with_context(|| format!("--controller {}", args.controller))?,
        };
    tracing::info!(site = %site.site.name, controller = control.name(), duration_s = args.duration, seed = args.seed, "simulating");
    match args.realtime {
        Some(speed) => {
            nutgiao_simulator::run_realtime(&mut sim, control.as_mut(), args.duration, speed, |_| true);
        }
        None => nutgiao_simulator::run_with_progress(&mut sim, control.as_mut(), args.duration, !args.quiet, |_| {}),
    }
    let summary = sim.summary();
    if let Some(dir) = &args.out {
        let written = nutgiao_simulator::output::write_all(dir, &sim)?;
        for p in written {
            tracing::info!(file = %p.display(), "wrote");
        }
    }
    if let Some(path) = &args.summary {
        nutgiao_simulator::output::write_summary(path, &summary)?;
    }
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}
