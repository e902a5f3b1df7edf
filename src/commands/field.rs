//! `nutgiao field`: the virtual field controllers of a site, optionally driving a real-time
//! simulation of the corridor.

use std::process::ExitCode;

use anyhow::{Context, bail};
use nutgiao_simulator::field::{FieldSite, run_on_wall_clock};
use nutgiao_simulator::{SimOptions, Simulation};

use crate::cli::FieldArgs;

pub fn run(args: &FieldArgs) -> anyhow::Result<ExitCode> {
    if let Some(d) = args.duration
        && !(d.is_finite() && d > 0.0)
    {
        bail!("--duration {d}: must be a positive number of seconds");
    }
    let site = nutgiao_config::load(&args.site).with_context(|| format!("site file {}", args.site.display()))?;
    let field = FieldSite::new(&site)?;
    if field.cabinets().is_empty() {
        bail!("{}: no intersection has a [intersection.field_controller]", args.site.display());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let servers = rt.block_on(field.serve(&site))?;
    if args.simulate {
        let mut sim = Simulation::new(&site, SimOptions { seed: args.seed, ..SimOptions::default() })?;
        let mut control = field.clone();
        let duration = args.duration.unwrap_or(f64::INFINITY);
        tracing::info!(seed = args.seed, "simulating the corridor in real time under the field controllers");
        nutgiao_simulator::run_realtime(&mut sim, &mut control, duration, 1.0, |_| true);
        println!("{}", serde_json::to_string_pretty(&sim.summary())?);
    } else {
        rt.block_on(async {
            tokio::select! {
                () = run_on_wall_clock(field, args.duration) => {}
                r = tokio::signal::ctrl_c() => { r?; tracing::info!("interrupted"); }
            }
            anyhow::Ok(())
        })?;
    }
    for s in servers {
        s.abort();
    }
    Ok(ExitCode::SUCCESS)
}
