//! Delay of every signal-control algorithm on the reference arterial in nutgiao's simulator,
//! 3600 s x 5 seeds, side by side with SUMO's figures for the same scenario
//! (../shared/data/sumo-arterial/README.md). Run: `cargo bench --bench control_delay`
//! (NUTGIAO_SEEDS=N and NUTGIAO_DURATION=S shorten it; NUTGIAO_FIRST_SEED=K runs seeds
//! K..K+N-1 and NUTGIAO_CONTROLLERS=a,b only those controllers, for screening;
//! NUTGIAO_BREAKDOWN=1 prints each run's time loss by kind of trip to standard error).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use nutgiao_simulator::{SimOptions, Simulation};

const CONTROLLERS: &[(&str, &str)] = &[
    ("fixed:fixed90", "fixed90"),
    ("fixed:webster", "webster"),
    ("fixed:webster-coord", "webster + offsets"),
    ("actuated", "actuated"),
    ("webster", ""),
    ("scats", ""),
    ("max-pressure", "max-pressure over TraCI, min green 10 s"),
    ("green-wave", ""),
    ("adaptive", ""),
];

/// SUMO's time loss per variant from the scenario README's results table.
fn sumo_figures(root: &Path) -> BTreeMap<String, f64> {
    let Ok(text) = std::fs::read_to_string(root.join("../shared/data/sumo-arterial/README.md")) else {
        eprintln!("../shared/data/sumo-arterial/README.md not found: SUMO column left empty");
        return BTreeMap::new();
    };
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (cells.len() >= 7).then(|| Some((cells[1].to_owned(), cells[4].parse::<f64>().ok()?))).flatten()
        })
        .collect()
}

/// Mean time loss by kind of trip (arterial through, side crossing, side turning onto the
/// arterial), printed to standard error for `NUTGIAO_BREAKDOWN=1`.
fn breakdown(name: &str, seed: u64, trips: &[nutgiao_simulator::TripRecord]) {
    let kind = |f: &str| match f {
        "WE" | "EW" => 0,
        _ if f.starts_with("NS") || f.starts_with("SN") => 1,
        _ => 2,
    };
    let mut sum = [(0.0, 0usize); 3];
    for t in trips {
        let k = kind(&t.flow);
        sum[k].0 += t.time_loss_s;
        sum[k].1 += 1;
    }
    let m = |k: usize| sum[k].0 / sum[k].1.max(1) as f64;
    eprintln!("{name} seed {seed}: arterial {:.1} side crossing {:.1} side turning {:.1}", m(0), m(1), m(2));
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let site = nutgiao_config::load(root.join("config/examples/arterial.toml")).expect("arterial site");
    let seeds: u64 = std::env::var("NUTGIAO_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(5);
    let duration: f64 = std::env::var("NUTGIAO_DURATION").ok().and_then(|s| s.parse().ok()).unwrap_or(3600.0);
    let first: u64 = std::env::var("NUTGIAO_FIRST_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let only: Option<Vec<String>> =
        std::env::var("NUTGIAO_CONTROLLERS").ok().map(|s| s.split(',').map(str::to_owned).collect());
    let sumo = sumo_figures(root);
    let mut rows = Vec::new();
    for (name, sumo_variant) in CONTROLLERS {
        if only.as_ref().is_some_and(|o| !o.iter().any(|n| n == name)) {
            continue;
        }
        let mut loss = Vec::new();
        let mut wait = Vec::new();
        let mut arrived = Vec::new();
        let started = Instant::now();
        for seed in first..first + seeds {
            let opts = SimOptions { seed, step_s: 1.0, record_events: false, ..SimOptions::default() };
            let mut sim = Simulation::new(&site, opts).expect("simulation");
            let mut control = nutgiao_controller::by_name(&site, name).expect("controller");
            nutgiao_simulator::run(&mut sim, control.as_mut(), duration, |_| {});
            let s = sim.summary();
            if std::env::var_os("NUTGIAO_BREAKDOWN").is_some() {
                breakdown(name, seed, sim.trips());
            }
            loss.push(s.mean_time_loss_s);
            wait.push(s.mean_waiting_s);
            arrived.push(s.arrived as f64);
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let wall = started.elapsed().as_secs_f64() / seeds as f64;
        rows.push((*name, mean(&loss), mean(&wait), mean(&arrived), wall, sumo.get(*sumo_variant).copied()));
    }
    println!(
        "\narterial, {duration} s, seeds {first}..={}, step 1 s (means; time loss and waiting in s per vehicle)\n",
        first + seeds - 1
    );
    println!("| controller | arrived | time loss | waiting | wall s/run | SUMO time loss |");
    println!("|---|---|---|---|---|---|");
    for (name, loss, wait, arr, wall, sumo) in &rows {
        let sumo = sumo.map_or("-".to_owned(), |v| format!("{v:.1}"));
        println!("| {name} | {arr:.0} | {loss:.1} | {wait:.1} | {wall:.2} | {sumo} |");
    }
    let get = |n: &str| rows.iter().find(|r| r.0 == n).map(|r| r.1).unwrap_or(f64::NAN);
    let (adaptive, fixed90, coord) = (get("adaptive"), get("fixed:fixed90"), get("fixed:webster-coord"));
    println!(
        // Two decimals of the ratio and of the seconds: the target is a line, and a rounded
        // 45 % says nothing about which side of it the run is.
        "\nadaptive / fixed90 = {:.2} % (target <= 45 %: {:.2} s of {fixed90:.2} s); adaptive {adaptive:.2} s vs webster + offsets {coord:.2} s (target: below)",
        100.0 * adaptive / fixed90,
        adaptive
    );
}
