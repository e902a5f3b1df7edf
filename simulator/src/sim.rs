//! The time-stepped simulation: each step reads the signals, plans every vehicle's speed
//! from the state at the start of the step (as SUMO does), moves them, hands vehicles over
//! at the end of their junction paths, inserts arrivals and resolves blockages.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use nutgiao_config::{Site, Turn, VehicleClass, VehicleClassParams};
use nutgiao_controller::{DetectorReading, DetectorSnapshot, Indication, SignalControl, SiteSignals};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use crate::carfollow::{CarFollowing, Driver, Obstacle, brake_gap, krauss_follow_speed, next_speed};
use crate::demand::{Arrival, Demand};
use crate::events::{MisbehaviourKind, SimEvent};
use crate::measures::{
    HALTING_SPEED_MS, IntervalRecord, LaneAccumulator, MisbehaviourCounts, QUEUE_JOIN_GAP_M, Summary, TripRecord,
    WAITING_SPEED_MS,
};
use crate::network::{NONE, Network, bezier, turn_index};
use crate::options::SimOptions;
use crate::trajectory::Trajectories;
use crate::wrongway::WrongWay;
use crate::{SimError, VehicleView};

/// Lateral slots of a lane: a full-width vehicle covers both, a motorbike one.
const FULL_LANE: u8 = 0b11;
/// How many vehicles ahead a narrow vehicle looks past for one in its own slot.
const ABREAST_SCAN: usize = 4;
/// Illegal stoppers stay this much longer than a no-stopping zone's usual 20 s limit.
const ILLEGAL_STOP_DWELL_S: (f64, f64) = (30.0, 90.0);
/// Share of illegal stoppers whose route passes a no-stopping zone that stop in it: drivers
/// stop where the shops are, near junctions, which is where stopping is forbidden.
const STOP_IN_NO_STOPPING_ZONE: f64 = 0.75;
/// Room kept between a stopped vehicle and the ends of a no-stopping stretch, so that all of
/// it stands inside the zone.
const NO_STOPPING_MARGIN_M: f64 = 2.0;

#[derive(Debug, Clone)]
pub(crate) struct Veh {
    pub id: u64,
    pub class: VehicleClass,
    pub flow: u32,
    pub route: u32,
    pub leg: u16,
    pub lane: u32,
    /// Target lane on the next link, chosen before the stop line.
    pub next_lane: u32,
    pub slots: u8,
    pub lat: f64,
    /// Front bumper, metres from the lane's upstream end (beyond the length while crossing).
    pub pos: f64,
    pub speed: f64,
    pub next_speed: f64,
    pub accel: f64,
    pub length: f64,
    pub width: f64,
    pub driver: Driver,
    pub max_speed: f64,
    pub speed_factor: f64,
    pub wanted_s: f64,
    pub depart_s: f64,
    pub time_loss: f64,
    pub waiting: f64,
    pub still_for: f64,
    pub stops: u32,
    pub halted: bool,
    pub distance: f64,
    pub teleported: bool,
    pub misbehaviour: Option<MisbehaviourKind>,
    /// Illegal stopper: (link, position, dwell) of its stop; dwell start once stopped.
    pub illegal_stop: Option<(u32, f64, f64)>,
    pub stopped_since: Option<f64>,
    pub speeding_reported_on: u32,
}

#[derive(Debug, Clone, Copy, Default)]
struct DetectorState {
    count: u32,
    occupied_s: f64,
    occupancy: f64,
    presence: bool,
    last_leave_s: f64,
    occupied_now: bool,
}

pub struct Simulation {
    pub(crate) site_name: String,
    pub(crate) net: Network,
    pub(crate) opts: SimOptions,
    demand: Demand,
    class_params: BTreeMap<VehicleClass, VehicleClassParams>,
    misbehaviour: nutgiao_config::Misbehaviour,
    rng: ChaCha8Rng,
    now: f64,
    steps: u64,
    pub(crate) vehs: Vec<Veh>,
    free: Vec<u32>,
    pub(crate) lanes: Vec<VecDeque<u32>>,
    waiting_to_enter: Vec<VecDeque<Arrival>>,
    next_id: u64,
    indication: Vec<Indication>,
    signals: SiteSignals,
    controller_name: String,
    detectors: Vec<DetectorState>,
    snapshot: DetectorSnapshot,
    snapshot_detector_order: Vec<u32>,
    snapshot_queue_order: Vec<u32>,
    queue_m: Vec<f64>,
    lane_acc: Vec<LaneAccumulator>,
    interval_start: f64,
    pub(crate) intervals: Vec<IntervalRecord>,
    pub(crate) trips: Vec<TripRecord>,
    events: Vec<SimEvent>,
    arrivals_buf: Vec<Arrival>,
    handover_buf: Vec<u32>,
    teleport_buf: Vec<u32>,
    pub(crate) wrong_way: WrongWay,
    /// Kerb-lane stretches (link, from, to in metres along it) inside the site's no-stopping
    /// zones, where illegal stoppers prefer to stop.
    no_stopping: Vec<(u32, f64, f64)>,
    pub(crate) trajectories: Option<Trajectories>,
    // Counters.
    generated: u64,
    inserted: u64,
    arrived: u64,
    refused: u64,
    teleports: u64,
    gridlocks: u64,
    first_gridlock: Option<f64>,
    still_network_s: f64,
    in_gridlock: bool,
    red_light_runs: u64,
    misbehaving: MisbehaviourCounts,
    vehicle_steps: u64,
    wall_s: f64,
}

fn driver_of(p: &VehicleClassParams) -> Driver {
    Driver {
        accel: p.accel_ms2,
        decel: p.decel_ms2,
        emergency_decel: p.emergency_decel_ms2.max(p.decel_ms2),
        min_gap: p.min_gap_m,
        tau: 1.0,
        sigma: p.sigma,
    }
}

impl Simulation {
    pub fn new(site: &Site, opts: SimOptions) -> Result<Simulation, SimError> {
        if !(opts.step_s > 0.0 && opts.step_s <= 5.0) {
            return Err(SimError::Options(format!("step {} s: must be above 0 and at most 5 s", opts.step_s)));
        }
        if opts.interval_s.is_nan() || opts.interval_s < opts.step_s {
            return Err(SimError::Options(format!("interval {} s: must be at least one step", opts.interval_s)));
        }
        let net = Network::build(site)?;
        let demand = Demand::build(site, &net, opts.arrivals)?;
        let mut class_params = BTreeMap::new();
        for c in VehicleClass::ALL {
            let p = site.vehicle_class.get(&c).copied().unwrap_or_else(|| c.default_params());
            if !(p.length_m > 0.0 && p.accel_ms2 > 0.0 && p.decel_ms2 > 0.0 && p.max_speed_kmh > 0.0) {
                return Err(SimError::Options(format!(
                    "vehicle_class.{c}: length, accel, decel and max speed must be positive"
                )));
            }
            class_params.insert(c, p);
        }
        let mut detector_order: Vec<u32> = (0..net.detectors.len() as u32).collect();
        detector_order.sort_by(|a, b| net.detectors[*a as usize].id.cmp(&net.detectors[*b as usize].id));
        let mut snapshot = DetectorSnapshot::default();
        for d in &net.detectors {
            snapshot.detectors.insert(d.id.clone(), DetectorReading::default());
        }
        let mut queue_order: Vec<u32> = (0..net.approach_lanes.len() as u32).collect();
        let key = |i: &u32| {
            let (a, k, _) = net.approach_lanes[*i as usize];
            (net.approaches[a as usize].id.clone(), k)
        };
        queue_order.sort_by_key(key);
        for i in &queue_order {
            snapshot.queues_m.insert(key(i), 0.0);
        }
        let trajectories = opts.record_trajectories.then(|| Trajectories::new(&net));
        let wrong_way = WrongWay::new(&net);
        let no_stopping = no_stopping_stretches(site, &net);
        Ok(Simulation {
            site_name: site.site.name.clone(),
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            lanes: vec![VecDeque::new(); net.lanes.len()],
            waiting_to_enter: vec![VecDeque::new(); net.links.len()],
            indication: vec![Indication::Red; net.signal_slots],
            detectors: vec![DetectorState::default(); net.detectors.len()],
            queue_m: vec![0.0; net.approach_lanes.len()],
            lane_acc: vec![LaneAccumulator::default(); net.approach_lanes.len()],
            snapshot_detector_order: detector_order,
            snapshot_queue_order: queue_order,
            snapshot,
            misbehaviour: site.demand.misbehaviour.clone(),
            net,
            opts,
            demand,
            class_params,
            now: 0.0,
            steps: 0,
            vehs: Vec::new(),
            free: Vec::new(),
            next_id: 0,
            signals: SiteSignals::new(),
            controller_name: String::new(),
            interval_start: 0.0,
            intervals: Vec::new(),
            trips: Vec::new(),
            events: Vec::new(),
            arrivals_buf: Vec::new(),
            handover_buf: Vec::new(),
            teleport_buf: Vec::new(),
            wrong_way,
            no_stopping,
            trajectories,
            generated: 0,
            inserted: 0,
            arrived: 0,
            refused: 0,
            teleports: 0,
            gridlocks: 0,
            first_gridlock: None,
            still_network_s: 0.0,
            in_gridlock: false,
            red_light_runs: 0,
            misbehaving: MisbehaviourCounts::default(),
            vehicle_steps: 0,
            wall_s: 0.0,
        })
    }

    pub fn now_s(&self) -> f64 {
        self.now
    }

    pub fn step_s(&self) -> f64 {
        self.opts.step_s
    }

    /// The phase states the controller returned on the last step.
    pub fn signals(&self) -> &SiteSignals {
        &self.signals
    }

    /// Detector readings and queues as the controller saw them on the last step.
    pub fn detector_snapshot(&self) -> &DetectorSnapshot {
        &self.snapshot
    }

    /// Ground-truth events since the last call (empty when `record_events` is off).
    pub fn drain_events(&mut self) -> Vec<SimEvent> {
        std::mem::take(&mut self.events)
    }

    /// Vehicles in the network now.
    pub fn vehicle_count(&self) -> usize {
        self.lanes.iter().map(VecDeque::len).sum::<usize>() + self.wrong_way.len()
    }

    /// Every vehicle's state now, including wrong-way drivers.
    pub fn vehicles(&self) -> impl Iterator<Item = VehicleView> + '_ {
        self.lanes.iter().flat_map(move |q| q.iter().map(move |&s| self.view(s))).chain(self.wrong_way.views(&self.net))
    }

    fn view(&self, slot: u32) -> VehicleView {
        let v = &self.vehs[slot as usize];
        let lane = &self.net.lanes[v.lane as usize];
        let link = &self.net.links[lane.link as usize];
        let (pos_xy, heading) = if v.pos > link.length && v.next_lane != NONE {
            let m = self.current_movement(v);
            let len = if m == NONE { 1.0 } else { self.net.movements[m as usize].length };
            let path = self.net.junction_path(v.lane, v.next_lane);
            bezier(&path, ((v.pos - link.length) / len).clamp(0.0, 1.0))
        } else {
            (link.world(lane.index, v.pos.min(link.length), v.lat), link.heading_deg)
        };
        VehicleView {
            id: v.id,
            class: v.class,
            link: link.id.clone(),
            lane: lane.index,
            lateral_m: v.lat,
            distance_m: v.pos,
            speed_ms: v.speed,
            accel_ms2: v.accel,
            x: pos_xy.0,
            y: pos_xy.1,
            heading_deg: heading,
            length_m: v.length,
            width_m: v.width,
            misbehaviour: v.misbehaviour,
            wrong_way: false,
        }
    }

    fn current_movement(&self, v: &Veh) -> u32 {
        self.demand.routes[v.route as usize].movements[v.leg as usize]
    }

    fn push_event(&mut self, e: SimEvent) {
        if self.opts.record_events {
            self.events.push(e);
        }
    }

    /// Advances the simulation by one step under the controller's signals.
    pub fn step(&mut self, control: &mut dyn SignalControl) {
        let t0 = Instant::now();
        let dt = self.opts.step_s;
        self.read_signals(control);
        self.plan_speeds();
        self.move_vehicles();
        self.hand_over();
        self.wrong_way_step();
        self.insert_arrivals();
        self.resolve_blockages();
        self.measure_queues();
        self.update_detectors();
        self.now += dt;
        self.steps += 1;
        if let Some(tr) = &mut self.trajectories {
            tr.record(self.now, &self.net, &self.lanes, &self.vehs, &self.indication, dt);
        }
        if self.now - self.interval_start >= self.opts.interval_s - 1e-9 {
            self.close_interval();
        }
        self.wall_s += t0.elapsed().as_secs_f64();
    }

    fn read_signals(&mut self, control: &mut dyn SignalControl) {
        self.snapshot.now_s = self.now;
        if self.controller_name.is_empty() {
            self.controller_name = control.name().to_owned();
        }
        let signals = control.update(&self.snapshot);
        if *signals != self.signals {
            self.signals.clone_from(signals);
            // A phase the controller does not report is red: never let traffic in on a guess.
            self.indication.fill(Indication::Red);
            for inter in &self.net.intersections {
                if let Some(states) = self.signals.get(&inter.id) {
                    for s in states {
                        if let Some(k) = inter.phases.iter().position(|p| *p == s.phase) {
                            self.indication[inter.first_slot as usize + k] = s.indication;
                        }
                    }
                }
            }
        }
    }

    /// Free space at the upstream end of a lane for a vehicle covering `slots`: the back
    /// of the nearest such vehicle and its speed.
    fn entry_space(&self, lane: u32, slots: u8) -> (f64, f64) {
        let q = &self.lanes[lane as usize];
        for &s in q.iter().rev().take(ABREAST_SCAN) {
            let o = &self.vehs[s as usize];
            if o.slots & slots != 0 {
                return (o.pos - o.length, o.speed);
            }
        }
        match q.back() {
            Some(&s) if q.len() > ABREAST_SCAN => {
                let o = &self.vehs[s as usize];
                (o.pos - o.length, o.speed)
            }
            _ => (f64::INFINITY, 0.0),
        }
    }

    /// The lane on `link` a vehicle heading for `turn` next takes: the allowed one with the
    /// most room at its start (SUMO's `departLane="best"`).
    fn choose_lane(&self, link: u32, turn: Option<Turn>, slots: u8, kerb: bool) -> u32 {
        let l = &self.net.links[link as usize];
        let mut best = (l.first_lane, f64::NEG_INFINITY);
        for k in 0..l.lanes {
            let g = l.first_lane + u32::from(k);
            let lane = &self.net.lanes[g as usize];
            if let Some(t) = turn
                && lane.turns & (1 << turn_index(t)) == 0
            {
                continue;
            }
            let space = if kerb && k == 0 { f64::INFINITY } else { self.entry_space(g, slots).0 };
            if space > best.1 {
                best = (g, space);
            }
        }
        best.0
    }

    fn next_turn(&self, route: u32, leg: u16) -> Option<Turn> {
        let m = *self.demand.routes[route as usize].movements.get(leg as usize)?;
        (m != NONE).then(|| self.net.movements[m as usize].turn)
    }

    fn plan_speeds(&mut self) {
        let dt = self.opts.step_s;
        let model = self.opts.model;
        let mut obstacles: [Obstacle; 3] = [Obstacle::Stop { gap: 0.0 }; 3];
        for li in 0..self.lanes.len() {
            let n = self.lanes[li].len();
            if n == 0 {
                continue;
            }
            let lane = &self.net.lanes[li];
            let link = &self.net.links[lane.link as usize];
            let len = link.length;
            for i in 0..n {
                let slot = self.lanes[li][i];
                let v = &self.vehs[slot as usize];
                let route = &self.demand.routes[v.route as usize];
                let m = route.movements[v.leg as usize];
                let mut k = 0;
                // Leader in the lane: the nearest vehicle ahead that shares a lateral slot.
                let mut leader = None;
                for j in (i.saturating_sub(ABREAST_SCAN)..i).rev() {
                    let o = &self.vehs[self.lanes[li][j] as usize];
                    if o.slots & v.slots != 0 || j + ABREAST_SCAN == i {
                        leader = Some(o);
                        break;
                    }
                }
                if let Some(o) = leader {
                    obstacles[k] = Obstacle::Leader { gap: o.pos - o.length - v.pos, speed: o.speed };
                    k += 1;
                }
                let mut desired = (link.speed * v.speed_factor).min(v.max_speed);
                if m != NONE {
                    let mv = &self.net.movements[m as usize];
                    let to_line = len - v.pos;
                    let turn_speed = (mv.speed * v.speed_factor).min(v.max_speed);
                    if to_line > 0.0 {
                        // Slow down in time for the turning path.
                        desired = desired.min((turn_speed * turn_speed + 2.0 * v.driver.decel * to_line).sqrt());
                    } else {
                        desired = desired.min(turn_speed);
                    }
                    if leader.is_none() && v.next_lane != NONE {
                        let (back, speed) = self.entry_space(v.next_lane, v.slots);
                        if back.is_finite() {
                            obstacles[k] = Obstacle::Leader { gap: to_line + mv.length + back, speed };
                            k += 1;
                        }
                    }
                    if to_line >= 0.0 && self.must_stop(v, m, to_line) {
                        obstacles[k] = Obstacle::Stop { gap: to_line };
                        k += 1;
                    }
                }
                if let Some((stop_link, at, _)) = v.illegal_stop
                    && stop_link == lane.link
                    && v.pos <= at + 0.5
                {
                    obstacles[k] = Obstacle::Stop { gap: (at - v.pos).max(0.0) };
                    k += 1;
                }
                let r: f64 =
                    if model == CarFollowing::Krauss && v.driver.sigma > 0.0 { self.rng.random() } else { 0.0 };
                let ns = next_speed(model, v.speed, desired, &obstacles[..k], &v.driver, dt, r);
                self.vehs[slot as usize].next_speed = ns;
            }
        }
    }

    /// Must the vehicle treat its stop line as a wall this step?
    fn must_stop(&self, v: &Veh, m: u32, to_line: f64) -> bool {
        let mv = &self.net.movements[m as usize];
        let ind = if mv.signal_slot == NONE { Indication::Green } else { self.indication[mv.signal_slot as usize] };
        let runner = v.misbehaviour == Some(MisbehaviourKind::RedLightRunner);
        let stop_for_signal = match ind {
            Indication::Green | Indication::FlashingYellow => false,
            // Stop on yellow only if a comfortable stop is possible before the line.
            Indication::Yellow => !runner && brake_gap(v.speed, v.driver.decel, self.opts.step_s) <= to_line,
            Indication::Red => !runner,
            // A stop sign: come to a halt at the line, then go.
            Indication::FlashingRed => !(v.speed < WAITING_SPEED_MS && to_line < 1.0),
        };
        if stop_for_signal {
            return true;
        }
        // Keep the junction clear: do not enter unless the exit lane has room for the whole vehicle.
        if v.next_lane != NONE && to_line < 20.0 {
            let (back, speed) = self.entry_space(v.next_lane, v.slots);
            if back < v.length + v.driver.min_gap.min(1.0)
                && speed < HALTING_SPEED_MS
                && brake_gap(v.speed, v.driver.decel, self.opts.step_s) <= to_line
            {
                return true;
            }
        }
        false
    }

    fn move_vehicles(&mut self) {
        let dt = self.opts.step_s;
        let now = self.now;
        let mut moving = 0usize;
        let mut total = 0usize;
        for li in 0..self.lanes.len() {
            let n = self.lanes[li].len();
            if n == 0 {
                continue;
            }
            total += n;
            let lane_link = self.net.lanes[li].link;
            let link_len = self.net.links[lane_link as usize].length;
            let link_speed = self.net.links[lane_link as usize].speed;
            let queue_slot = self.net.lanes[li].queue_slot;
            for i in 0..n {
                let slot = self.lanes[li][i];
                let (old_pos, new_pos, route, leg) = {
                    let v = &mut self.vehs[slot as usize];
                    let ns = v.next_speed;
                    v.accel = (ns - v.speed) / dt;
                    v.speed = ns;
                    let old = v.pos;
                    v.pos += ns * dt;
                    v.distance += ns * dt;
                    (old, v.pos, v.route, v.leg)
                };
                let m = self.demand.routes[route as usize].movements[leg as usize];
                // Time loss against this driver's ideal speed where it is (SUMO's tripinfo).
                let limit =
                    if old_pos > link_len && m != NONE { self.net.movements[m as usize].speed } else { link_speed };
                let v = &mut self.vehs[slot as usize];
                let vmax = (limit * v.speed_factor).min(v.max_speed);
                if vmax > 0.0 {
                    v.time_loss += dt * ((vmax - v.speed) / vmax).max(0.0);
                }
                if v.speed < WAITING_SPEED_MS {
                    v.waiting += dt;
                    v.still_for += dt;
                    if !v.halted {
                        v.stops += 1;
                        v.halted = true;
                    }
                    if let Some(limit) = self.opts.teleport_after_s
                        && v.still_for > limit
                        && v.illegal_stop.is_none()
                    {
                        self.teleport_buf.push(slot);
                    }
                } else {
                    v.halted = false;
                    v.still_for = 0.0;
                    moving += 1;
                }
                let (v_len, v_speed, is_speeder) =
                    (v.length, v.speed, v.misbehaviour == Some(MisbehaviourKind::Speeder));
                // Loops: count fronts entering, mark occupancy.
                for &d in &self.net.lanes[li].detectors {
                    let nd = &self.net.detectors[d as usize];
                    let st = &mut self.detectors[d as usize];
                    if old_pos < nd.from && new_pos >= nd.from {
                        st.count = st.count.wrapping_add(1);
                    }
                    if new_pos >= nd.from && new_pos - v_len <= nd.to {
                        st.occupied_now = true;
                    }
                }
                if old_pos < link_len && new_pos >= link_len && m != NONE {
                    self.crossed_stop_line(slot, m, queue_slot);
                }
                if is_speeder
                    && v_speed > 1.1 * link_speed
                    && self.vehs[slot as usize].speeding_reported_on != lane_link
                {
                    self.vehs[slot as usize].speeding_reported_on = lane_link;
                    let view = self.view(slot);
                    self.push_event(SimEvent::Speeding {
                        t: now,
                        vehicle: view.id,
                        link: view.link,
                        speed_ms: v_speed,
                        limit_ms: link_speed,
                        x: view.x,
                        y: view.y,
                    });
                }
                self.illegal_stop_progress(slot, lane_link);
            }
        }
        self.vehicle_steps += total as u64;
        // Gridlock: vehicles present and none moving for long enough.
        if total > 0 && moving == 0 {
            self.still_network_s += dt;
            if self.still_network_s >= self.opts.gridlock_after_s && !self.in_gridlock {
                self.in_gridlock = true;
                self.gridlocks += 1;
                self.first_gridlock.get_or_insert(now);
                tracing::warn!(
                    t = now,
                    vehicles = total,
                    "gridlock: no vehicle has moved for {} s",
                    self.still_network_s
                );
                self.push_event(SimEvent::Gridlock { t: now, vehicles_in_network: total });
            }
        } else {
            self.still_network_s = 0.0;
            self.in_gridlock = false;
        }
    }

    fn crossed_stop_line(&mut self, slot: u32, m: u32, queue_slot: u32) {
        if queue_slot != NONE {
            self.lane_acc[queue_slot as usize].crossings += 1;
        }
        let mv = &self.net.movements[m as usize];
        if mv.signal_slot == NONE {
            return;
        }
        let ind = self.indication[mv.signal_slot as usize];
        if ind == Indication::Red || ind == Indication::FlashingRed && self.vehs[slot as usize].speed > 3.0 {
            self.red_light_runs += 1;
            let inter = self.net.intersections[mv.intersection as usize].id.clone();
            let approach = self.net.approaches[mv.approach as usize].id.clone();
            let phase = mv.phase;
            let deliberate = self.vehs[slot as usize].misbehaviour == Some(MisbehaviourKind::RedLightRunner);
            let view = self.view(slot);
            self.push_event(SimEvent::RedLightRun {
                t: self.now,
                vehicle: view.id,
                intersection: inter,
                approach,
                phase,
                indication: ind,
                x: view.x,
                y: view.y,
                deliberate,
            });
        }
    }

    fn illegal_stop_progress(&mut self, slot: u32, link: u32) {
        let v = &self.vehs[slot as usize];
        let Some((stop_link, at, dwell)) = v.illegal_stop else { return };
        if stop_link != link {
            return;
        }
        match v.stopped_since {
            None if v.speed < WAITING_SPEED_MS && (at - v.pos).abs() < 3.0 => {
                self.vehs[slot as usize].stopped_since = Some(self.now);
                let view = self.view(slot);
                self.push_event(SimEvent::IllegalStopStart {
                    t: self.now,
                    vehicle: view.id,
                    link: view.link,
                    x: view.x,
                    y: view.y,
                });
            }
            Some(since) if self.now - since >= dwell => {
                let v = &mut self.vehs[slot as usize];
                v.illegal_stop = None;
                v.stopped_since = None;
                v.still_for = 0.0;
                let view = self.view(slot);
                self.push_event(SimEvent::IllegalStopEnd {
                    t: self.now,
                    vehicle: view.id,
                    link: view.link,
                    x: view.x,
                    y: view.y,
                    dwell_s: self.now - since,
                });
            }
            _ => {}
        }
    }

    /// Vehicles at the end of their junction path move onto their next link; those at the
    /// end of their route arrive.
    fn hand_over(&mut self) {
        for li in 0..self.lanes.len() {
            let link = self.net.lanes[li].link;
            let len = self.net.links[link as usize].length;
            while let Some(&slot) = self.lanes[li].front() {
                let v = &self.vehs[slot as usize];
                let m = self.demand.routes[v.route as usize].movements[v.leg as usize];
                let end = if m == NONE { len } else { len + self.net.movements[m as usize].length };
                if v.pos < end {
                    break;
                }
                self.lanes[li].pop_front();
                self.handover_buf.push(slot);
            }
        }
        let mut buf = std::mem::take(&mut self.handover_buf);
        for &slot in &buf {
            let v = &self.vehs[slot as usize];
            let route = &self.demand.routes[v.route as usize];
            let m = route.movements[v.leg as usize];
            if m == NONE || v.leg as usize + 1 >= route.links.len() {
                self.arrive(slot);
                continue;
            }
            let len = self.net.links[self.net.lanes[v.lane as usize].link as usize].length;
            let over = v.pos - len - self.net.movements[m as usize].length;
            let target = if v.next_lane != NONE {
                v.next_lane
            } else {
                let next_link = route.links[v.leg as usize + 1];
                let turn = self.next_turn(v.route, v.leg + 1);
                self.choose_lane(next_link, turn, v.slots, false)
            };
            self.enter_lane(slot, v.leg + 1, target, over);
        }
        buf.clear();
        self.handover_buf = buf;
    }

    /// Puts a vehicle on `lane` at position `pos`, keeping the lane sorted front first.
    fn enter_lane(&mut self, slot: u32, leg: u16, lane: u32, pos: f64) {
        let slots = {
            let v = &self.vehs[slot as usize];
            if v.slots == FULL_LANE { FULL_LANE } else { self.narrow_slot(lane) }
        };
        let lane_width = self.net.links[self.net.lanes[lane as usize].link as usize].lane_width;
        let v = &mut self.vehs[slot as usize];
        v.leg = leg;
        v.lane = lane;
        v.pos = pos;
        v.slots = slots;
        v.lat = match slots {
            0b01 => lane_width / 4.0,
            0b10 => -lane_width / 4.0,
            _ => 0.0,
        };
        v.next_lane = NONE;
        let q = &mut self.lanes[lane as usize];
        let mut at = q.len();
        while at > 0 && self.vehs[q[at - 1] as usize].pos < pos {
            at -= 1;
        }
        q.insert(at, slot);
        self.pick_next_lane(slot);
    }

    /// The lateral slot (kerb or median half) with more room for a narrow vehicle.
    fn narrow_slot(&self, lane: u32) -> u8 {
        let (a, _) = self.entry_space(lane, 0b01);
        let (b, _) = self.entry_space(lane, 0b10);
        if a >= b { 0b01 } else { 0b10 }
    }

    /// Lane choice before the intersection: the lane on the next link, picked on entering this one.
    fn pick_next_lane(&mut self, slot: u32) {
        let v = &self.vehs[slot as usize];
        let route = &self.demand.routes[v.route as usize];
        if v.leg as usize + 1 >= route.links.len() {
            return;
        }
        let next_link = route.links[v.leg as usize + 1];
        let turn = self.next_turn(v.route, v.leg + 1);
        let kerb = v.illegal_stop.is_some_and(|(l, _, _)| l == next_link);
        // Lanes connect lane to lane across the junction, as SUMO's connections do, so that
        // streams from neighbouring lanes do not cut into each other on the exit.
        let exit = &self.net.links[next_link as usize];
        let m = self.demand.routes[v.route as usize].movements[v.leg as usize];
        let here = self.net.lanes[v.lane as usize].index;
        let preferred = match (m != NONE).then(|| self.net.movements[m as usize].turn) {
            Some(Turn::Right) => 0,
            Some(Turn::Left | Turn::UTurn) => exit.lanes - 1,
            _ => here.min(exit.lanes - 1),
        };
        let g = exit.first_lane + u32::from(preferred);
        let allowed = turn.is_none_or(|t| self.net.lanes[g as usize].turns & (1 << turn_index(t)) != 0);
        let lane = if kerb || !allowed { self.choose_lane(next_link, turn, v.slots, kerb) } else { g };
        self.vehs[slot as usize].next_lane = lane;
    }

    fn arrive(&mut self, slot: u32) {
        let v = &self.vehs[slot as usize];
        let link = self.net.links[self.net.lanes[v.lane as usize].link as usize].id.clone();
        self.trips.push(TripRecord {
            id: v.id,
            flow: self.demand.flows[v.flow as usize].id.clone(),
            class: v.class.as_str().to_owned(),
            wanted_s: v.wanted_s,
            depart_s: v.depart_s,
            arrival_s: self.now + self.opts.step_s,
            travel_time_s: self.now + self.opts.step_s - v.depart_s,
            time_loss_s: v.time_loss,
            waiting_s: v.waiting,
            stops: v.stops,
            route_length_m: v.distance,
            teleported: v.teleported,
            misbehaviour: v.misbehaviour.map_or("", MisbehaviourKind::as_str).to_owned(),
        });
        let id = v.id;
        self.arrived += 1;
        self.free.push(slot);
        self.push_event(SimEvent::Arrived { t: self.now + self.opts.step_s, vehicle: id, link });
    }

    fn insert_arrivals(&mut self) {
        let dt = self.opts.step_s;
        let mut buf = std::mem::take(&mut self.arrivals_buf);
        self.demand.arrivals(&self.net, self.now, dt, &mut self.rng, &mut buf);
        for a in buf.drain(..) {
            self.generated += 1;
            let entry = self.demand.routes[a.route as usize].links[0];
            if self.waiting_to_enter[entry as usize].len() >= self.opts.max_waiting_to_enter {
                self.refused += 1;
                continue;
            }
            // Wrong-way drivers do not join the queue to enter: they appear on an exit link.
            if self.misbehaviour.wrong_way > 0.0 && self.rng.random::<f64>() < self.misbehaviour.wrong_way {
                let id = self.next_id;
                self.next_id += 1;
                self.misbehaving.wrong_way += 1;
                let p = self.class_params[&a.class];
                if let Some(e) = self.wrong_way.spawn(&self.net, id, a.class, &p, self.now, &mut self.rng) {
                    self.inserted += 1;
                    self.push_event(e);
                }
                continue;
            }
            self.waiting_to_enter[entry as usize].push_back(a);
        }
        self.arrivals_buf = buf;
        for link in 0..self.waiting_to_enter.len() {
            let lanes = u32::from(self.net.links[link].lanes);
            for _ in 0..lanes {
                let Some(&a) = self.waiting_to_enter[link].front() else { break };
                if !self.try_insert(a) {
                    break;
                }
                self.waiting_to_enter[link].pop_front();
            }
        }
    }

    fn try_insert(&mut self, a: Arrival) -> bool {
        let p = self.class_params[&a.class];
        let link = self.demand.routes[a.route as usize].links[0];
        let turn = self.next_turn(a.route, 0);
        let slots = if p.abreast >= 2 { 0b01 } else { FULL_LANE };
        let lane = self.choose_lane(link, turn, slots, false);
        let slots = if slots == FULL_LANE { FULL_LANE } else { self.narrow_slot(lane) };
        let (back, leader_speed) = self.entry_space(lane, slots);
        let driver = driver_of(&p);
        let gap = back - p.length_m;
        if gap < driver.min_gap {
            return false;
        }
        let link_speed = self.net.links[link as usize].speed;
        let sd = self.opts.speed_dev;
        let mut speed_factor =
            if sd > 0.0 { Normal::new(1.0, sd).map_or(1.0, |n| n.sample(&mut self.rng)).clamp(0.2, 2.0) } else { 1.0 };
        let mut max_speed = p.max_speed_kmh / 3.6;
        let misbehaviour = self.draw_misbehaviour();
        if misbehaviour == Some(MisbehaviourKind::Speeder) {
            speed_factor = self.misbehaviour.speeding_factor.max(1.0) * speed_factor.max(1.0);
            max_speed = max_speed.max(link_speed * speed_factor);
        }
        let desired = (link_speed * speed_factor).min(max_speed);
        // SUMO's departSpeed="max": as fast as is safe behind the vehicle ahead.
        let speed = if gap.is_finite() {
            desired.min(krauss_follow_speed(gap - driver.min_gap, leader_speed, &driver, self.opts.step_s))
        } else {
            desired
        };
        let illegal_stop = if misbehaviour == Some(MisbehaviourKind::IllegalStop) {
            self.illegal_stop_place(a.route, p.length_m)
                .map(|(li, at)| (li, at, self.rng.random_range(ILLEGAL_STOP_DWELL_S.0..ILLEGAL_STOP_DWELL_S.1)))
        } else {
            None
        };
        let kerb_now = illegal_stop.is_some_and(|(l, _, _)| l == link);
        let lane = if kerb_now { self.net.links[link as usize].first_lane } else { lane };
        let id = self.next_id;
        self.next_id += 1;
        let veh = Veh {
            id,
            class: a.class,
            flow: a.flow,
            route: a.route,
            leg: 0,
            lane,
            next_lane: NONE,
            slots,
            lat: 0.0,
            pos: p.length_m,
            speed: speed.max(0.0),
            next_speed: 0.0,
            accel: 0.0,
            length: p.length_m,
            width: p.width_m,
            driver,
            max_speed,
            speed_factor,
            wanted_s: a.t,
            depart_s: self.now,
            time_loss: 0.0,
            waiting: 0.0,
            still_for: 0.0,
            stops: 0,
            halted: false,
            distance: 0.0,
            teleported: false,
            misbehaviour,
            illegal_stop,
            stopped_since: None,
            speeding_reported_on: NONE,
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.vehs[s as usize] = veh;
                s
            }
            None => {
                self.vehs.push(veh);
                (self.vehs.len() - 1) as u32
            }
        };
        self.enter_lane(slot, 0, lane, p.length_m);
        self.inserted += 1;
        if let Some(k) = misbehaviour {
            match k {
                MisbehaviourKind::RedLightRunner => self.misbehaving.red_light_runner += 1,
                MisbehaviourKind::IllegalStop => self.misbehaving.illegal_stop += 1,
                MisbehaviourKind::Speeder => self.misbehaving.speeder += 1,
                MisbehaviourKind::WrongWay => self.misbehaving.wrong_way += 1,
            }
        }
        if self.opts.record_events {
            let link = self.net.links[link as usize].id.clone();
            self.push_event(SimEvent::Inserted { t: self.now, vehicle: id, class: a.class, link });
        }
        true
    }

    /// Where an illegal stopper on `route` stops (link, front bumper along it): mostly in a
    /// no-stopping zone on its way, wholly inside it; otherwise part-way along the first long
    /// link of its route.
    fn illegal_stop_place(&mut self, route: u32, length: f64) -> Option<(u32, f64)> {
        let links = &self.demand.routes[route as usize].links;
        let zones: Vec<(u32, f64, f64)> =
            self.no_stopping.iter().copied().filter(|(l, from, to)| links.contains(l) && to - from > length).collect();
        if !zones.is_empty() && self.rng.random::<f64>() < STOP_IN_NO_STOPPING_ZONE {
            let (li, from, to) = zones[self.rng.random_range(0..zones.len())];
            return Some((li, self.rng.random_range(from + length..=to)));
        }
        let found = links.iter().copied().find(|&li| self.net.links[li as usize].length > 80.0);
        found.map(|li| (li, self.net.links[li as usize].length * self.rng.random_range(0.3..0.6)))
    }

    fn draw_misbehaviour(&mut self) -> Option<MisbehaviourKind> {
        let m = &self.misbehaviour;
        let shares = [
            (m.red_light_runner, MisbehaviourKind::RedLightRunner),
            (m.illegal_stop, MisbehaviourKind::IllegalStop),
            (m.speeder, MisbehaviourKind::Speeder),
        ];
        if shares.iter().all(|(s, _)| *s <= 0.0) {
            return None;
        }
        let u: f64 = self.rng.random();
        let mut acc = 0.0;
        for (s, k) in shares {
            acc += s.max(0.0);
            if u < acc {
                return Some(k);
            }
        }
        None
    }

    /// SUMO's bounded answer to gridlock: a vehicle stuck longer than `teleport_after_s`
    /// jumps to the first later link of its route with room, or leaves at its route's end.
    fn resolve_blockages(&mut self) {
        let mut buf = std::mem::take(&mut self.teleport_buf);
        for &slot in &buf {
            let v = &self.vehs[slot as usize];
            let lane = v.lane;
            let Some(idx) = self.lanes[lane as usize].iter().position(|&s| s == slot) else { continue };
            self.lanes[lane as usize].remove(idx);
            self.teleports += 1;
            let from_link = self.net.links[self.net.lanes[lane as usize].link as usize].id.clone();
            let (route, leg, slots, length, min_gap) = (v.route, v.leg, v.slots, v.length, v.driver.min_gap);
            let id = v.id;
            let n_links = self.demand.routes[route as usize].links.len();
            let mut placed = None;
            for next in (leg as usize + 1)..n_links {
                let link = self.demand.routes[route as usize].links[next];
                let turn = self.next_turn(route, next as u16);
                let target = self.choose_lane(link, turn, slots, false);
                if self.entry_space(target, slots).0 >= length + min_gap {
                    placed = Some((next as u16, target, link));
                    break;
                }
            }
            {
                let v = &mut self.vehs[slot as usize];
                v.teleported = true;
                v.still_for = 0.0;
                v.speed = 0.0;
                v.halted = false;
            }
            match placed {
                Some((leg, lane, link)) => {
                    let to = self.net.links[link as usize].id.clone();
                    self.push_event(SimEvent::Teleport { t: self.now, vehicle: id, from_link, to_link: Some(to) });
                    self.enter_lane(slot, leg, lane, length);
                }
                None => {
                    self.push_event(SimEvent::Teleport { t: self.now, vehicle: id, from_link, to_link: None });
                    self.arrive(slot);
                }
            }
        }
        buf.clear();
        self.teleport_buf = buf;
    }

    fn measure_queues(&mut self) {
        for (qi, &(_, _, lane)) in self.net.approach_lanes.iter().enumerate() {
            let len = self.net.links[self.net.lanes[lane as usize].link as usize].length;
            let mut queue = 0.0;
            let mut last_back = len;
            for &s in &self.lanes[lane as usize] {
                let v = &self.vehs[s as usize];
                if v.pos > len {
                    continue;
                }
                if v.speed >= HALTING_SPEED_MS || last_back - v.pos > QUEUE_JOIN_GAP_M {
                    break;
                }
                last_back = v.pos - v.length;
                queue = len - last_back;
            }
            self.queue_m[qi] = queue;
            let acc = &mut self.lane_acc[qi];
            acc.queue_sum += queue;
            acc.queue_max = acc.queue_max.max(queue);
            acc.samples += 1;
        }
        for (v, &qi) in self.snapshot.queues_m.values_mut().zip(&self.snapshot_queue_order) {
            *v = self.queue_m[qi as usize];
        }
    }

    fn update_detectors(&mut self) {
        let dt = self.opts.step_s;
        let now = self.now + dt;
        // Occupancy is reported over the last whole second-scale window the controller can use.
        let window = 1.0f64.max(dt);
        for st in &mut self.detectors {
            if st.presence && !st.occupied_now {
                st.last_leave_s = now;
            }
            st.presence = st.occupied_now;
            st.occupied_now = false;
            if st.presence {
                st.occupied_s += dt;
            }
            let w = (dt / window).min(1.0);
            st.occupancy = st.occupancy * (1.0 - w) + if st.presence { w } else { 0.0 };
        }
        for (reading, &d) in self.snapshot.detectors.values_mut().zip(&self.snapshot_detector_order) {
            let st = &self.detectors[d as usize];
            *reading = DetectorReading {
                count: st.count,
                occupancy: st.occupancy,
                presence: st.presence,
                gap_s: if st.presence { 0.0 } else { now - st.last_leave_s },
            };
        }
        self.snapshot.now_s = now;
    }

    fn close_interval(&mut self) {
        let end = self.now;
        let span = end - self.interval_start;
        for (qi, &(a, k, _)) in self.net.approach_lanes.iter().enumerate() {
            let acc = std::mem::take(&mut self.lane_acc[qi]);
            self.intervals.push(IntervalRecord {
                begin_s: self.interval_start,
                end_s: end,
                approach: self.net.approaches[a as usize].id.clone(),
                lane: k,
                throughput: acc.crossings,
                throughput_vph: f64::from(acc.crossings) * 3600.0 / span,
                mean_queue_m: if acc.samples > 0 { acc.queue_sum / f64::from(acc.samples) } else { 0.0 },
                max_queue_m: acc.queue_max,
            });
        }
        self.interval_start = end;
    }

    fn wrong_way_step(&mut self) {
        let events = self.wrong_way.step(&self.net, self.now, self.opts.step_s);
        for e in events {
            if matches!(e, SimEvent::WrongWayExit { .. }) {
                self.arrived += 1;
            }
            self.push_event(e);
        }
    }

    /// Per-interval records so far (the current interval closes at its end or in `finish`).
    pub fn intervals(&self) -> &[IntervalRecord] {
        &self.intervals
    }

    /// Completed trips so far.
    pub fn trips(&self) -> &[TripRecord] {
        &self.trips
    }

    /// Closes the last partial interval; call once after the last step.
    pub fn finish(&mut self) {
        if self.now - self.interval_start > 1e-9 {
            self.close_interval();
        }
    }

    pub fn summary(&self) -> Summary {
        let n = self.trips.len().max(1) as f64;
        let mean = |f: fn(&TripRecord) -> f64| self.trips.iter().map(f).sum::<f64>() / n;
        let running = self.lanes.iter().map(VecDeque::len).sum::<usize>() + self.wrong_way.len();
        Summary {
            site: self.site_name.clone(),
            controller: self.controller_name.clone(),
            model: self.opts.model.as_str().to_owned(),
            seed: self.opts.seed,
            step_s: self.opts.step_s,
            sim_time_s: self.now,
            generated: self.generated,
            inserted: self.inserted,
            arrived: self.arrived,
            running: running as u64,
            waiting_to_enter: self.waiting_to_enter.iter().map(VecDeque::len).sum::<usize>() as u64,
            refused: self.refused,
            teleports: self.teleports,
            gridlocks: self.gridlocks,
            first_gridlock_s: self.first_gridlock,
            mean_travel_time_s: mean(|t| t.travel_time_s),
            mean_time_loss_s: mean(|t| t.time_loss_s),
            mean_waiting_s: mean(|t| t.waiting_s),
            mean_stops: mean(|t| f64::from(t.stops)),
            mean_depart_delay_s: mean(|t| t.depart_s - t.wanted_s),
            red_light_runs: self.red_light_runs,
            misbehaving: self.misbehaving.clone(),
            vehicle_steps: self.vehicle_steps,
            wall_s: self.wall_s,
            vehicle_updates_per_s: if self.wall_s > 0.0 { self.vehicle_steps as f64 / self.wall_s } else { 0.0 },
        }
    }

    /// What was recorded along each arterial direction (empty unless `record_trajectories`).
    pub fn arterial_records(&self) -> &[crate::ArterialRecord] {
        self.trajectories.as_ref().map_or(&[], |t| &t.records)
    }

    /// Arterial directions for the time-space diagrams.
    pub fn arterials(&self) -> &[crate::network::Arterial] {
        &self.net.arterials
    }
}

/// The kerb-lane stretches of every link that lie in one of the site cameras' no-stopping
/// zones (image polygons, put on the ground through the camera's calibration), less a margin
/// at each end: where stopping is forbidden and a camera watches.
pub(crate) fn no_stopping_stretches(site: &Site, net: &Network) -> Vec<(u32, f64, f64)> {
    const STEP_M: f64 = 0.5;
    let mut out = Vec::new();
    for cam in &site.cameras {
        let Ok(h) = nutgiao_config::Homography::estimate(&cam.calibration) else { continue };
        for z in cam.zones.iter().filter(|z| z.kind == nutgiao_config::ZoneKind::NoStopping) {
            let Some(ground) = z.points.iter().map(|&p| h.to_ground(p)).collect::<Option<Vec<_>>>() else { continue };
            for (li, l) in net.links.iter().enumerate() {
                // The longest run of kerb-lane points inside the zone.
                let (mut best, mut run): ((f64, f64), Option<f64>) = ((0.0, 0.0), None);
                let n = (l.length / STEP_M).floor() as usize;
                for k in 0..=n + 1 {
                    let s = (k as f64 * STEP_M).min(l.length);
                    let (x, y) = l.world(0, s, 0.0);
                    let inside = k <= n && nutgiao_config::polygon::contains(&ground, [x, y]);
                    match (inside, run) {
                        (true, None) => run = Some(s),
                        (false, Some(from)) => {
                            let to = s - STEP_M;
                            if to - from > best.1 - best.0 {
                                best = (from, to);
                            }
                            run = None;
                        }
                        _ => {}
                    }
                }
                let (from, to) = (best.0 + NO_STOPPING_MARGIN_M, best.1 - NO_STOPPING_MARGIN_M);
                if to - from >= 5.0 {
                    out.push((li as u32, from, to));
                }
            }
        }
    }
    out
}
