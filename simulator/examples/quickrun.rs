//! Runs one simulation without the whole `nutgiao` binary, for quick calibration loops:
//! `cargo run --release -p nutgiao-simulator --example quickrun -- SITE CONTROLLER MODEL STEP SEED ARRIVALS DURATION [OUT]`
use nutgiao_simulator::{Arrivals, CarFollowing, SimOptions, Simulation};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 8 {
        eprintln!("usage: quickrun SITE CONTROLLER idm|krauss STEP SEED poisson|uniform DURATION [OUT]");
        std::process::exit(2);
    }
    let site = nutgiao_config::load(&a[1]).unwrap_or_else(|e| panic!("{e}"));
    let opts = SimOptions {
        model: if a[3] == "krauss" { CarFollowing::Krauss } else { CarFollowing::Idm },
        step_s: a[4].parse().expect("step"),
        seed: a[5].parse().expect("seed"),
        arrivals: if a[6] == "uniform" { Arrivals::Uniform } else { Arrivals::Poisson },
        record_trajectories: a.len() > 8,
        record_events: false,
        ..SimOptions::default()
    };
    let duration: f64 = a[7].parse().expect("duration");
    let mut sim = Simulation::new(&site, opts).unwrap_or_else(|e| panic!("{e}"));
    let mut control = nutgiao_controller::by_name(&site, &a[2]).unwrap_or_else(|e| panic!("{e}"));
    nutgiao_simulator::run(&mut sim, control.as_mut(), duration, |_| {});
    if a.len() > 8 {
        nutgiao_simulator::output::write_all(std::path::Path::new(&a[8]), &sim).expect("write");
    }
    println!("{}", serde_json::to_string_pretty(&sim.summary()).expect("json"));
}
