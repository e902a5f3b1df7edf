//! Behaviour of whole runs: conservation, determinism, the validity band against SUMO,
//! bounded gridlock handling, motorbikes abreast and misbehaviour ground truth.

use nutgiao_config::Site;
use nutgiao_controller::{DetectorSnapshot, Indication, PhaseState, SignalControl, SiteSignals};

use crate::{Arrivals, CarFollowing, SimEvent, SimOptions, Simulation};

fn arterial() -> Site {
    nutgiao_config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/arterial.toml"))
        .expect("arterial site")
}

/// Every phase red, for ever: the worst a controller can do.
struct AllRed(SiteSignals);

impl AllRed {
    fn new(site: &Site) -> AllRed {
        AllRed(
            site.intersections
                .iter()
                .map(|i| {
                    let states = i
                        .phases
                        .iter()
                        .map(|p| PhaseState { phase: p.id, indication: Indication::Red, since_s: 0.0 })
                        .collect();
                    (i.id.clone(), states)
                })
                .collect(),
        )
    }
}

impl SignalControl for AllRed {
    fn name(&self) -> &str {
        "all-red"
    }
    fn update(&mut self, _: &DetectorSnapshot) -> &SiteSignals {
        &self.0
    }
}

fn sumo_options(seed: u64) -> SimOptions {
    SimOptions {
        step_s: 1.0,
        model: CarFollowing::Krauss,
        seed,
        arrivals: Arrivals::Uniform,
        record_events: false,
        ..SimOptions::default()
    }
}

fn run(site: &Site, opts: SimOptions, controller: &str, duration: f64) -> Simulation {
    let mut sim = Simulation::new(site, opts).expect("simulation");
    let mut c = nutgiao_controller::by_name(site, controller).expect("controller");
    crate::run(&mut sim, c.as_mut(), duration, |_| {});
    sim
}

#[test]
fn every_inserted_vehicle_is_in_the_network_or_arrived() {
    let site = arterial();
    let mut sim = Simulation::new(&site, SimOptions { seed: 7, ..SimOptions::default() }).expect("simulation");
    let mut c = nutgiao_controller::by_name(&site, "actuated").expect("controller");
    for _ in 0..2400 {
        sim.step(c.as_mut());
        let s = sim.summary();
        assert_eq!(s.inserted, s.running + s.arrived, "at {} s", sim.now_s());
    }
    let s = sim.summary();
    assert!(s.inserted > 900 && s.arrived > 800, "{s:?}");
    assert_eq!(s.generated, s.inserted + s.waiting_to_enter + s.refused);
}

#[test]
fn a_seed_determines_the_run() {
    let site = arterial();
    let a = run(&site, SimOptions { seed: 3, ..SimOptions::default() }, "fixed:fixed90", 900.0);
    let b = run(&site, SimOptions { seed: 3, ..SimOptions::default() }, "fixed:fixed90", 900.0);
    let c = run(&site, SimOptions { seed: 4, ..SimOptions::default() }, "fixed:fixed90", 900.0);
    assert_eq!(a.trips(), b.trips());
    assert_eq!(a.intervals(), b.intervals());
    assert_ne!(a.trips(), c.trips());
}

#[test]
fn vehicles_in_a_lane_never_overlap() {
    let site = arterial();
    for model in [CarFollowing::Krauss, CarFollowing::Idm] {
        let mut sim = Simulation::new(&site, SimOptions { model, ..SimOptions::default() }).expect("simulation");
        let mut c = nutgiao_controller::by_name(&site, "fixed:fixed90").expect("controller");
        for _ in 0..1800 {
            sim.step(c.as_mut());
            for q in &sim.lanes {
                for w in q.iter().collect::<Vec<_>>().windows(2) {
                    let (lead, follow) = (&sim.vehs[*w[0] as usize], &sim.vehs[*w[1] as usize]);
                    if lead.slots & follow.slots != 0 {
                        assert!(
                            lead.pos - lead.length >= follow.pos - 0.5,
                            "{model:?} at {} s: vehicle {} overlaps {}",
                            sim.now_s(),
                            follow.id,
                            lead.id
                        );
                    }
                }
            }
        }
    }
}

/// SUMO 1.15 on the same corridor, mean of seeds 1..5 (`../shared/data/sumo-arterial`).
const SUMO_FIXED90: (f64, f64) = (49.4, 3008.0);
const SUMO_WEBSTER_COORD: (f64, f64) = (20.3, 3030.0);

fn five_seed_mean(site: &Site, controller: &str) -> (f64, f64) {
    let mut loss = 0.0;
    let mut arrived = 0.0;
    for seed in 1..=5 {
        let s = run(site, sumo_options(seed), controller, 3600.0).summary();
        loss += s.mean_time_loss_s / 5.0;
        arrived += s.arrived as f64 / 5.0;
    }
    (loss, arrived)
}

#[test]
fn arterial_fixed90_stays_within_the_validity_band_of_sumo() {
    let (loss, arrived) = five_seed_mean(&arterial(), "fixed:fixed90");
    let (sumo_loss, sumo_arrived) = SUMO_FIXED90;
    assert!((loss - sumo_loss).abs() <= 0.15 * sumo_loss, "time loss {loss:.1} s vs SUMO {sumo_loss} s");
    assert!((arrived - sumo_arrived).abs() <= 0.02 * sumo_arrived, "arrived {arrived} vs SUMO {sumo_arrived}");
}

#[test]
fn arterial_webster_coord_arrivals_within_band_time_loss_documented_gap() {
    let (loss, arrived) = five_seed_mean(&arterial(), "fixed:webster-coord");
    let (sumo_loss, sumo_arrived) = SUMO_WEBSTER_COORD;
    assert!((arrived - sumo_arrived).abs() <= 0.02 * sumo_arrived, "arrived {arrived} vs SUMO {sumo_arrived}");
    // Our splits carry 4.8 s (arterial) and 5.5 s (side) of yellow plus all-red where SUMO's
    // carry 3 s of yellow only (docs/validation.md): less green, so more time loss. The gap
    // is bounded here so that it cannot silently grow.
    assert!(loss >= sumo_loss && loss <= 1.35 * sumo_loss, "time loss {loss:.1} s vs SUMO {sumo_loss} s");
}

/// The shared SUMO scenario, or `None` (with a message) when it is not beside the checkout.
fn sumo_arterial() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/sumo-arterial");
    if dir.join("arterial_static.net.xml").is_file() && dir.join("results_mean.csv").is_file() {
        Some(dir)
    } else {
        eprintln!("skipping: {} (SUMO's arterial scenario and results) is not there", dir.display());
        None
    }
}

/// SUMO's mean time loss and arrivals for a variant of `results_mean.csv`.
fn sumo_result(dir: &std::path::Path, variant: &str) -> (f64, f64) {
    let text = std::fs::read_to_string(dir.join("results_mean.csv")).expect("results_mean.csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no column {name}"));
    let (arrived, loss) = (col("arrived"), col("timeloss"));
    let row: Vec<&str> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|r| r[0] == variant)
        .unwrap_or_else(|| panic!("no variant {variant} in results_mean.csv"));
    (row[loss].parse().expect("timeloss"), row[arrived].parse().expect("arrived"))
}

/// Five seeds under SUMO's own programs (network, then additional files), as SUMO ran them.
fn replayed_five_seed_mean(site: &Site, dir: &std::path::Path, additional: &[&str]) -> (f64, f64) {
    let net = dir.join("arterial_static.net.xml");
    let additional: Vec<_> = additional.iter().map(|f| dir.join(f)).collect();
    let mut loss = 0.0;
    let mut arrived = 0.0;
    for seed in 1..=5 {
        let opts = sumo_options(seed);
        let mut c = nutgiao_controller::sumo::program::SumoProgram::load(site, &net, &additional, opts.step_s)
            .expect("SUMO's programs");
        let mut sim = Simulation::new(site, opts).expect("simulation");
        crate::run(&mut sim, &mut c, 3600.0, |_| {});
        let s = sim.summary();
        loss += s.mean_time_loss_s / 5.0;
        arrived += s.arrived as f64 / 5.0;
    }
    (loss, arrived)
}

fn assert_within_band(what: &str, (loss, arrived): (f64, f64), (sumo_loss, sumo_arrived): (f64, f64)) {
    assert!(
        (loss - sumo_loss).abs() <= 0.15 * sumo_loss,
        "{what}: time loss {loss:.1} s vs SUMO {sumo_loss} s (band 15 %)"
    );
    assert!(
        (arrived - sumo_arrived).abs() <= 0.02 * sumo_arrived,
        "{what}: arrived {arrived} vs SUMO {sumo_arrived} (band 2 %)"
    );
}

#[test]
fn arterial_sumo_fixed90_replayed_within_the_validity_band() {
    let Some(dir) = sumo_arterial() else { return };
    let ours = replayed_five_seed_mean(&arterial(), &dir, &[]);
    assert_within_band("SUMO's fixed90 replayed", ours, sumo_result(&dir, "fixed90"));
}

#[test]
fn arterial_sumo_webster_coord_replayed_within_the_validity_band() {
    let Some(dir) = sumo_arterial() else { return };
    let ours = replayed_five_seed_mean(&arterial(), &dir, &["webster.tls.add.xml", "webster_coord.tls.add.xml"]);
    assert_within_band("SUMO's webster + offsets replayed", ours, sumo_result(&dir, "webster_coord"));
}

#[test]
fn gridlock_is_detected_and_resolved_by_bounded_teleports() {
    let mut site = arterial();
    for f in &mut site.demand.flows {
        f.vehicles_per_hour *= 4.0;
    }
    let opts = SimOptions { max_waiting_to_enter: 50, record_events: true, ..sumo_options(1) };
    let mut sim = Simulation::new(&site, opts).expect("simulation");
    let mut c = AllRed::new(&site);
    crate::run(&mut sim, &mut c, 1800.0, |_| {});
    let s = sim.summary();
    assert!(s.gridlocks >= 1, "{s:?}");
    assert!(s.teleports > 0, "{s:?}");
    assert!(s.refused > 0, "demand above capacity must be refused, not queued without bound: {s:?}");
    assert!(s.waiting_to_enter <= 50 * site.links.len() as u64);
    assert_eq!(s.inserted, s.running + s.arrived);
    assert_eq!(s.red_light_runs, 0, "nobody may cross a red without being a runner");
    let events = sim.drain_events();
    assert!(events.iter().any(|e| matches!(e, SimEvent::Gridlock { .. })));
    assert!(events.iter().any(|e| matches!(e, SimEvent::Teleport { .. })));
}

#[test]
fn red_light_runners_cross_on_red_and_are_recorded() {
    let mut site = arterial();
    site.demand.misbehaviour.red_light_runner = 0.2;
    let opts = SimOptions { record_events: true, ..SimOptions::default() };
    let mut sim = Simulation::new(&site, opts).expect("simulation");
    let mut c = AllRed::new(&site);
    crate::run(&mut sim, &mut c, 600.0, |_| {});
    let events = sim.drain_events();
    let runs: Vec<_> = events.iter().filter(|e| matches!(e, SimEvent::RedLightRun { .. })).collect();
    assert!(!runs.is_empty());
    assert!(
        runs.iter().all(|e| matches!(e, SimEvent::RedLightRun { deliberate: true, indication: Indication::Red, .. }))
    );
}

#[test]
fn motorbikes_ride_two_abreast_in_a_lane() {
    let mut site = arterial();
    site.demand.mix = [(nutgiao_config::VehicleClass::Motorbike, 1.0)].into();
    let mut sim = Simulation::new(&site, SimOptions::default()).expect("simulation");
    let mut c = nutgiao_controller::by_name(&site, "fixed:fixed90").expect("controller");
    let mut abreast = false;
    for _ in 0..600 {
        sim.step(c.as_mut());
        let v: Vec<_> = sim.vehicles().collect();
        abreast |= v.iter().any(|a| {
            v.iter().any(|b| {
                a.id != b.id
                    && a.link == b.link
                    && a.lane == b.lane
                    && (a.lateral_m - b.lateral_m).abs() > 1.0
                    && (a.distance_m - b.distance_m).abs() < a.length_m
            })
        });
    }
    assert!(abreast, "no two motorbikes ever rode side by side in one lane");
}

#[test]
fn wrong_way_drivers_and_illegal_stoppers_are_recorded_with_positions() {
    let mut site = arterial();
    site.demand.misbehaviour.wrong_way = 0.02;
    site.demand.misbehaviour.illegal_stop = 0.02;
    let opts = SimOptions { record_events: true, ..SimOptions::default() };
    let mut sim = Simulation::new(&site, opts).expect("simulation");
    let mut c = nutgiao_controller::by_name(&site, "fixed:fixed90").expect("controller");
    let mut saw_wrong_way_view = false;
    for _ in 0..2400 {
        sim.step(c.as_mut());
        saw_wrong_way_view |= sim.vehicles().any(|v| v.wrong_way);
    }
    let events = sim.drain_events();
    assert!(saw_wrong_way_view);
    assert!(events.iter().any(|e| matches!(e, SimEvent::WrongWayEntry { .. })));
    let ends: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            SimEvent::IllegalStopEnd { dwell_s, .. } => Some(*dwell_s),
            _ => None,
        })
        .collect();
    assert!(!ends.is_empty() && ends.iter().all(|d| *d >= 20.0), "{ends:?}");
}

/// Every vehicle's events of one kind over `steps` of 0.1 s with misbehaviour switched on.
fn misbehaviour_events(site: &Site, steps: usize) -> Vec<SimEvent> {
    let opts = SimOptions { record_events: true, ..SimOptions::default() };
    let mut sim = Simulation::new(site, opts).expect("simulation");
    let mut c = nutgiao_controller::by_name(site, "fixed:fixed90").expect("controller");
    let mut events = Vec::new();
    for _ in 0..steps {
        sim.step(c.as_mut());
        events.extend(sim.drain_events());
    }
    events
}

/// Distance of a point from the nearest intersection's centre.
fn from_junction(site: &Site, x: f64, y: f64) -> f64 {
    site.intersections.iter().map(|i| (x - i.x).hypot(y - i.y)).fold(f64::INFINITY, f64::min)
}

#[test]
fn wrong_way_drivers_ride_a_short_stretch_next_to_a_junction() {
    let mut site = arterial();
    site.demand.misbehaviour.wrong_way = 0.1;
    let events = misbehaviour_events(&site, 1200);
    let (mut entries, mut exits) = (Vec::new(), Vec::new());
    for e in &events {
        match e {
            SimEvent::WrongWayEntry { link, x, y, .. } => entries.push((link.clone(), from_junction(&site, *x, *y))),
            SimEvent::WrongWayExit { link, x, y, .. } => exits.push((link.clone(), from_junction(&site, *x, *y))),
            _ => {}
        }
    }
    assert!(entries.len() >= 10 && exits.len() >= 5, "{entries:?} {exits:?}");
    // Cars (the example's whole demand) ride the departure lanes from 40-90 m out to 1.5-5 m
    // before the junction's edge (the link ends 7.2 m from the centre, half its width further).
    assert!(entries.iter().all(|(_, d)| (40.0..100.0).contains(d)), "{entries:?}");
    assert!(exits.iter().all(|(_, d)| (7.0..14.0).contains(d)), "{exits:?}");
    let departures: Vec<&str> =
        site.links.iter().filter(|l| site.intersection(&l.from).is_some()).map(|l| l.id.as_str()).collect();
    assert!(entries.iter().all(|(l, _)| departures.contains(&l.as_str())), "{entries:?}");
}

#[test]
fn wrong_way_motorbikes_also_ride_up_an_approach_s_kerb() {
    let mut site = arterial();
    site.demand.misbehaviour.wrong_way = 0.1;
    site.demand.mix = [(nutgiao_config::VehicleClass::Motorbike, 1.0)].into();
    for f in &mut site.demand.flows {
        f.mix = None;
    }
    let events = misbehaviour_events(&site, 1200);
    let entries: Vec<f64> = events
        .iter()
        .filter_map(|e| match e {
            SimEvent::WrongWayEntry { x, y, .. } => Some(from_junction(&site, *x, *y)),
            _ => None,
        })
        .collect();
    // Out of the junction box (2 m past the stop line) up an approach's kerb, or onto the
    // departure lanes 40-90 m out as cars do.
    let up_the_kerb = entries.iter().filter(|d| **d < 10.0).count();
    assert!(up_the_kerb >= 5 && up_the_kerb < entries.len(), "{entries:?}");
    assert!(entries.iter().all(|d| *d < 10.0 || (40.0..100.0).contains(d)), "{entries:?}");
}

#[test]
fn illegal_stoppers_mostly_stop_in_the_cameras_no_stopping_zones() {
    let mut site = arterial();
    site.demand.misbehaviour.illegal_stop = 0.1;
    let events = misbehaviour_events(&site, 1800);
    let stops: Vec<(String, f64, f64)> = events
        .iter()
        .filter_map(|e| match e {
            SimEvent::IllegalStopStart { link, x, y, .. } => Some((link.clone(), *x, *y)),
            _ => None,
        })
        .collect();
    // The example's two kerb no-stopping zones: 20-60 m along the departure lanes of J1's
    // west arm (link J1W) and J2's east arm (J2J3), kerb lane 3.2-6.4 m off the centre line.
    let in_zone = |(l, x, y): &(String, f64, f64)| match l.as_str() {
        "J1W" => (-60.0..-20.0).contains(x) && (3.2..6.4).contains(y),
        "J2J3" => (320.0..360.0).contains(x) && (-6.4..-3.2).contains(y),
        _ => false,
    };
    let n = stops.iter().filter(|s| in_zone(s)).count();
    assert!(n >= 3 && n < stops.len(), "{n} of {stops:?} in a zone: some stop elsewhere too");
}
