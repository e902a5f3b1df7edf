//! `nutgiao simulate --cameras rtsp|DIR`: the simulation filmed by the site's synthetic
//! cameras, served live over RTSP or written to MP4 files, with the ground truth.

use std::io::BufWriter;
use std::process::ExitCode;

use anyhow::{Context, bail};
use nutgiao_simulator::camera::{Conditions, Destination, Film, FilmOptions, TimeOfDay};
use nutgiao_simulator::{Arrivals, CarFollowing, SimOptions, Simulation};

use crate::cli::{Model, SimulateArgs};

pub fn run(args: &SimulateArgs) -> anyhow::Result<ExitCode> {
    if !(args.duration.is_finite() && args.duration > 0.0) {
        bail!("--duration {}: must be a positive number of seconds", args.duration);
    }
    let Some(cameras) = args.cameras.as_deref() else { bail!("--truth needs --cameras rtsp or --cameras DIR") };
    let time_of_day: TimeOfDay = args.time_of_day.parse().map_err(anyhow::Error::msg).context("--time-of-day")?;
    let site = super::load_site(&args.site)?;
    let destination = if cameras == "rtsp" {
        Destination::Rtsp { address: "127.0.0.1".into() }
    } else {
        Destination::Directory(cameras.into())
    };
    let live = matches!(destination, Destination::Rtsp { .. });
    let truth: Option<Box<dyn std::io::Write + Send>> = match &args.truth {
        Some(p) => Some(Box::new(BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("truth file {}", p.display()))?,
        ))),
        None => None,
    };
    let opts = FilmOptions { conditions: Conditions::for_time(time_of_day), seed: args.seed, destination };
    let mut film = Film::new(&site, &opts, truth).context("starting the synthetic cameras")?;
    let arrivals = match args.arrivals.as_str() {
        "poisson" => Arrivals::Poisson,
        "uniform" => Arrivals::Uniform,
        other => bail!("--arrivals {other}: expected poisson or uniform"),
    };
    // One simulation step per frame, so that every picture and its truth are the same instant.
    let sim_opts = SimOptions {
        step_s: film.frame_interval_s(),
        model: match args.model {
            Model::Idm => CarFollowing::Idm,
            Model::Krauss => CarFollowing::Krauss,
        },
        seed: args.seed,
        arrivals,
        record_events: true,
        ..SimOptions::default()
    };
    let mut sim = Simulation::new(&site, sim_opts).with_context(|| format!("simulating {}", args.site.display()))?;
    let mut control = nutgiao_controller::by_name(&site, &args.controller)
        .with_context(|| format!("--controller {}", args.controller))?;
    tracing::info!(
        site = %site.site.name, cameras = ?film.camera_ids(), to = cameras, time_of_day = time_of_day.as_str(),
        duration_s = args.duration, seed = args.seed, "filming"
    );
    if live {
        for c in &site.cameras {
            tracing::info!("serving {}", c.uri);
        }
    }
    film.capture(&mut sim).context("first frame")?;
    let mut failure = None;
    // Files: as fast as possible; RTSP: paced to the wall clock (or --realtime's factor).
    let speed = if live { args.realtime.unwrap_or(1.0) } else { f64::MAX };
    let pace = nutgiao_simulator::run_realtime(&mut sim, control.as_mut(), args.duration, speed, |sim| {
        match film.capture(sim) {
            Ok(()) => true,
            Err(e) => {
                failure = Some(e);
                false
            }
        }
    });
    if live {
        // A viewer of a stream that falls behind sees slow motion, not dropped frames: say so.
        let frame_s = film.frame_interval_s();
        if pace.end_lag_s > 2.0 * frame_s {
            tracing::warn!(
                end_lag_s = pace.end_lag_s,
                max_lag_s = pace.max_lag_s,
                "the cameras fell behind the wall clock: rendering and encoding are slower than real time"
            );
        } else {
            tracing::info!(max_lag_s = pace.max_lag_s, end_lag_s = pace.end_lag_s, "the cameras kept real time");
        }
    }
    if let Some(e) = failure {
        return Err(e).context("filming");
    }
    let summary = film.finish().context("finishing the camera outputs")?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(ExitCode::SUCCESS)
}
