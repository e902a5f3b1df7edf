//! Criterion benchmarks of the simulator's step on the arterial: one step of a loaded
//! corridor (about 100 vehicles), for each car-following model.

use criterion::{Criterion, criterion_group, criterion_main};
use nutgiao_simulator::{Arrivals, CarFollowing, SimOptions, Simulation};

fn loaded(model: CarFollowing) -> (Simulation, Box<dyn nutgiao_controller::SignalControl>) {
    let mut site = nutgiao_config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/config/examples/arterial.toml"))
        .expect("arterial site");
    // Demand never ends, so millions of measured steps all see a loaded corridor.
    site.demand.duration_s = 1e12;
    let opts = SimOptions {
        step_s: 1.0,
        model,
        arrivals: Arrivals::Uniform,
        record_events: false,
        teleport_after_s: Some(300.0),
        ..SimOptions::default()
    };
    let mut sim = Simulation::new(&site, opts).expect("simulation");
    let mut control = nutgiao_controller::by_name(&site, "fixed:fixed90").expect("controller");
    // Warm up to a loaded corridor before measuring.
    for _ in 0..900 {
        sim.step(control.as_mut());
    }
    (sim, control)
}

fn step(c: &mut Criterion) {
    for model in [CarFollowing::Krauss, CarFollowing::Idm] {
        let (mut sim, mut control) = loaded(model);
        let n = sim.vehicle_count();
        c.bench_function(&format!("arterial step, {} ({n} vehicles at start)", model.as_str()), |b| {
            b.iter(|| sim.step(control.as_mut()));
        });
    }
}

criterion_group!(benches, step);
criterion_main!(benches);
