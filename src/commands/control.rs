//! `nutgiao control`: the central controller. Against field controllers over Modbus TCP by
//! default, or against a SUMO simulation over TraCI with `--sumo`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use nutgiao_controller::central::Central;
use nutgiao_controller::sumo::{SumoRun, run_control};

use crate::cli::ControlArgs;
use crate::scaleout;

pub fn run(args: &ControlArgs) -> anyhow::Result<ExitCode> {
    if let Some(d) = args.duration
        && !(d.is_finite() && d > 0.0)
    {
        bail!("--duration {d}: must be a positive number of seconds");
    }
    let site = super::load_site(&args.site)?;
    let name = args.controller.clone().unwrap_or_else(|| site.control.algorithm.clone());
    if let Some(cfg) = &args.sumo {
        let mut control = nutgiao_controller::by_name(&site, &name).with_context(|| format!("--controller {name}"))?;
        let run =
            SumoRun { sumocfg: cfg.clone(), seed: args.seed, extra_args: args.sumo_args.clone(), end_s: args.duration };
        let summary = run_control(&site, &run, control.as_mut())?;
        println!("{}", serde_json::to_string_pretty(&summary)?);
        return Ok(ExitCode::SUCCESS);
    }
    let central = Central::new(&site, &name).with_context(|| format!("--controller {name}"))?;
    let handle = central.handle();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    // On the bus: signal states and detector readings go out, the edge nodes' counts come in.
    if let Some(broker) = args.bus.mqtt.clone().or_else(|| site.operations.mqtt.clone()) {
        let node = args.bus.node.clone().unwrap_or_else(|| format!("control-{}", scaleout::host_name()));
        scaleout::join_as_central(&rt, &broker, &node, Arc::new(site.clone()), handle.clone())
            .with_context(|| format!("event bus {broker}"))?;
    }
    tracing::info!(controller = %name, "central controller running");
    rt.block_on(async {
        tokio::select! {
            () = central.run(args.duration.map(Duration::from_secs_f64)) => {}
            r = tokio::signal::ctrl_c() => { r?; tracing::info!("interrupted"); }
        }
        anyhow::Ok(())
    })?;
    let report = serde_json::json!({
        "controller": name,
        "planner": handle.planner_note(),
        "intersections": handle.status(),
        "vision": handle.vision(),
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(ExitCode::SUCCESS)
}
