//! Loops over steps: as fast as possible (with an optional progress callback), or paced
//! to the wall clock for the closed loop with cameras and field controllers.

use std::time::{Duration, Instant};

use nutgiao_controller::SignalControl;

use crate::Simulation;

/// Runs until `duration_s` of simulated time, calling `on_step` after every step (for a
/// progress bar, event draining, camera frames).
pub fn run(
    sim: &mut Simulation,
    control: &mut dyn SignalControl,
    duration_s: f64,
    mut on_step: impl FnMut(&mut Simulation),
) {
    let eps = sim.step_s() * 1e-6;
    while sim.now_s() + eps < duration_s {
        sim.step(control);
        on_step(sim);
    }
    sim.finish();
}

/// How far a paced run fell behind the wall clock: after each step, the wall time spent
/// beyond the step's due time (0 when on time).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pace {
    pub max_lag_s: f64,
    pub end_lag_s: f64,
}

/// Runs until `duration_s`, each step released when the wall clock reaches
/// `step time / speed` since the start (`speed` 1 = real time, 10 = ten times faster).
/// Blocking: from tokio, call it inside `spawn_blocking`. `on_step` returns `false` to stop
/// early. A step that falls behind is not skipped; the run catches up as fast as it can, and
/// the returned `Pace` says by how much it was behind.
pub fn run_realtime(
    sim: &mut Simulation,
    control: &mut dyn SignalControl,
    duration_s: f64,
    speed: f64,
    mut on_step: impl FnMut(&mut Simulation) -> bool,
) -> Pace {
    let speed = if speed.is_finite() && speed > 0.0 { speed } else { 1.0 };
    let start = Instant::now();
    let t0 = sim.now_s();
    let eps = sim.step_s() * 1e-6;
    let mut pace = Pace::default();
    while sim.now_s() + eps < duration_s {
        let due = Duration::from_secs_f64(((sim.now_s() - t0) / speed).max(0.0));
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        sim.step(control);
        let go_on = on_step(sim);
        let lag = (start.elapsed().as_secs_f64() - (sim.now_s() - t0) / speed).max(0.0);
        pace.max_lag_s = pace.max_lag_s.max(lag);
        pace.end_lag_s = lag;
        if !go_on {
            break;
        }
    }
    sim.finish();
    pace
}

/// `run` with a progress bar on standard error, shown once the run has taken a second.
pub fn run_with_progress(
    sim: &mut Simulation,
    control: &mut dyn SignalControl,
    duration_s: f64,
    show: bool,
    mut on_step: impl FnMut(&mut Simulation),
) {
    let start = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut last_check = 0u64;
    run(sim, control, duration_s, |sim| {
        on_step(sim);
        let now = sim.now_s();
        let whole = now as u64;
        if !show || whole == last_check {
            return;
        }
        last_check = whole;
        if bar.is_none() && start.elapsed() >= Duration::from_secs(1) {
            let b = indicatif::ProgressBar::new(duration_s.ceil() as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} s simulated, {msg} [{elapsed}<{eta}]")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(whole);
            b.set_message(format!("{} vehicles", sim.vehicle_count()));
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_slower_than_its_pace_reports_how_far_behind_it_fell() {
        let site =
            nutgiao_config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/arterial.toml")).unwrap();
        let mut sim =
            Simulation::new(&site, crate::SimOptions { step_s: 0.04, ..crate::SimOptions::default() }).unwrap();
        let mut control = nutgiao_controller::by_name(&site, "actuated").unwrap();
        // 20 steps due every 0.4 ms (100x real time), each taking at least 5 ms.
        let pace = run_realtime(&mut sim, control.as_mut(), 0.8, 100.0, |_| {
            std::thread::sleep(Duration::from_millis(5));
            true
        });
        assert!(pace.end_lag_s >= 0.09, "{pace:?}");
        assert!(pace.max_lag_s >= pace.end_lag_s, "{pace:?}");
    }
}
