//! Wrong-way drivers as a traffic engineer sees them in Vietnamese streets: a short ride
//! against the flow near a junction, to reach a shop or a U-turn, not a trip down the wrong
//! carriageway. Two kinds:
//!
//! - on the departure lanes of a junction (any vehicle): it comes out of a shop or alley
//!   40-90 m from the junction, rides the kerb lane towards the junction and turns off
//!   1.5-5 m before it (onto the pavement or the cross street's kerb);
//! - along the kerb of an approach (two-wheelers only: a car cannot pass the queue): it comes
//!   out of the junction, rides past the stop line up the kerb for 45-90 m and turns off.
//!
//! They are kept apart from the lane queues (oncoming drivers do not react to them) but their
//! world positions are exact, because cameras judge them from pixels.

use nutgiao_config::{VehicleClass, VehicleClassParams};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::VehicleView;
use crate::events::{MisbehaviourKind, SimEvent};
use crate::network::{NONE, Network};

/// Speed of a wrong-way driver: cautious, well below the limit.
const WRONG_WAY_SPEED_SHARE: f64 = 0.6;
/// Where a departure-lane rider appears and where it turns off, metres from the junction.
const DEPARTURE_START_M: (f64, f64) = (40.0, 90.0);
const DEPARTURE_END_M: (f64, f64) = (1.5, 5.0);
/// How far up an approach's kerb a two-wheeler rides from the stop line.
const APPROACH_RIDE_M: (f64, f64) = (45.0, 90.0);
/// A two-wheeler keeps to the kerb side of the kerb lane, beside the queue.
const TWO_WHEELER_KERB_OFFSET_M: f64 = 0.9;

#[derive(Debug, Clone)]
struct Agent {
    id: u64,
    class: VehicleClass,
    link: u32,
    /// Front bumper, metres from the link's upstream end; decreasing as it drives.
    pos: f64,
    speed: f64,
    until: f64,
    /// Metres towards the kerb from the kerb lane's centre.
    lat: f64,
    length: f64,
    width: f64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct WrongWay {
    agents: Vec<Agent>,
    /// Links that leave a junction: a driver rides their departure lanes towards it.
    departures: Vec<u32>,
    /// Links that end at a junction's stop line: a two-wheeler rides up their kerb.
    approaches: Vec<u32>,
}

impl WrongWay {
    pub fn new(net: &Network) -> WrongWay {
        let long_enough = |l: u32| net.links[l as usize].length > DEPARTURE_START_M.0 + 10.0;
        let departures = (0..net.links.len() as u32).filter(|&l| !net.links[l as usize].from_boundary).collect();
        let approaches =
            (0..net.links.len() as u32).filter(|&l| net.links[l as usize].approach != NONE && long_enough(l)).collect();
        WrongWay { agents: Vec::new(), departures, approaches }
    }

    pub fn len(&self) -> usize {
        self.agents.len()
    }

    pub fn spawn(
        &mut self,
        net: &Network,
        id: u64,
        class: VehicleClass,
        p: &VehicleClassParams,
        now: f64,
        rng: &mut ChaCha8Rng,
    ) -> Option<SimEvent> {
        let two_wheeler = class == VehicleClass::Motorbike;
        let up_the_kerb = two_wheeler && !self.approaches.is_empty() && rng.random::<f64>() < 0.5;
        let (link, start, until) = if up_the_kerb {
            let link = self.approaches[rng.random_range(0..self.approaches.len())];
            let len = net.links[link as usize].length;
            (link, len + 2.0, (len - rng.random_range(APPROACH_RIDE_M.0..APPROACH_RIDE_M.1)).max(0.0))
        } else {
            if self.departures.is_empty() {
                return None;
            }
            let link = self.departures[rng.random_range(0..self.departures.len())];
            let len = net.links[link as usize].length;
            let start = rng.random_range(DEPARTURE_START_M.0..DEPARTURE_START_M.1).min(len);
            (link, start, rng.random_range(DEPARTURE_END_M.0..DEPARTURE_END_M.1).min(start))
        };
        let l = &net.links[link as usize];
        let lat = if two_wheeler { TWO_WHEELER_KERB_OFFSET_M } else { 0.0 };
        let agent = Agent {
            id,
            class,
            link,
            pos: start,
            speed: (l.speed * WRONG_WAY_SPEED_SHARE).min(p.max_speed_kmh / 3.6),
            until,
            lat,
            length: p.length_m,
            width: p.width_m,
        };
        let (x, y) = l.world(0, agent.pos, lat);
        self.agents.push(agent);
        Some(SimEvent::WrongWayEntry { t: now, vehicle: id, link: l.id.clone(), x, y })
    }

    /// Moves every wrong-way driver; returns the events of those that turned off.
    pub fn step(&mut self, net: &Network, now: f64, dt: f64) -> Vec<SimEvent> {
        if self.agents.is_empty() {
            return Vec::new();
        }
        let mut out = Vec::new();
        self.agents.retain_mut(|a| {
            a.pos -= a.speed * dt;
            if a.pos > a.until {
                return true;
            }
            let l = &net.links[a.link as usize];
            let (x, y) = l.world(0, a.pos, a.lat);
            out.push(SimEvent::WrongWayExit { t: now + dt, vehicle: a.id, link: l.id.clone(), x, y });
            false
        });
        out
    }

    pub fn views<'a>(&'a self, net: &'a Network) -> impl Iterator<Item = VehicleView> + 'a {
        self.agents.iter().map(move |a| {
            let l = &net.links[a.link as usize];
            let (x, y) = l.world(0, a.pos, a.lat);
            VehicleView {
                id: a.id,
                class: a.class,
                link: l.id.clone(),
                lane: 0,
                lateral_m: a.lat,
                distance_m: a.pos,
                speed_ms: a.speed,
                accel_ms2: 0.0,
                x,
                y,
                heading_deg: (l.heading_deg + 180.0).rem_euclid(360.0),
                length_m: a.length,
                width_m: a.width,
                misbehaviour: Some(MisbehaviourKind::WrongWay),
                wrong_way: true,
            }
        })
    }
}
