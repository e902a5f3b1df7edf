//! Wrong-way drivers: a vehicle that enters an exit link from its far end and drives
//! against the flow on its kerb lane for a while, then turns off. They are kept apart from
//! the lane queues (oncoming drivers do not react to them) but their world positions are
//! exact, because cameras judge them from pixels.

use nutgiao_config::{VehicleClass, VehicleClassParams};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::VehicleView;
use crate::events::{MisbehaviourKind, SimEvent};
use crate::network::Network;

/// Speed of a wrong-way driver: cautious, well below the limit.
const WRONG_WAY_SPEED_SHARE: f64 = 0.6;

#[derive(Debug, Clone)]
struct Agent {
    id: u64,
    class: VehicleClass,
    link: u32,
    /// Front bumper, metres from the link's upstream end; decreasing as it drives.
    pos: f64,
    speed: f64,
    until: f64,
    length: f64,
    width: f64,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct WrongWay {
    agents: Vec<Agent>,
    /// Links that end at a boundary: a wrong-way driver can come in from there.
    candidates: Vec<u32>,
}

impl WrongWay {
    pub fn new(net: &Network) -> WrongWay {
        let candidates = (0..net.links.len() as u32)
            .filter(|&l| {
                let link = &net.links[l as usize];
                link.approach == crate::network::NONE && link.length > 60.0
            })
            .collect();
        WrongWay { agents: Vec::new(), candidates }
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
        if self.candidates.is_empty() {
            return None;
        }
        let link = self.candidates[rng.random_range(0..self.candidates.len())];
        let l = &net.links[link as usize];
        let distance = l.length * rng.random_range(0.3..0.7);
        let agent = Agent {
            id,
            class,
            link,
            pos: l.length,
            speed: l.speed * WRONG_WAY_SPEED_SHARE,
            until: l.length - distance,
            length: p.length_m,
            width: p.width_m,
        };
        let (x, y) = l.world(0, agent.pos, 0.0);
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
            let (x, y) = l.world(0, a.pos, 0.0);
            out.push(SimEvent::WrongWayExit { t: now + dt, vehicle: a.id, link: l.id.clone(), x, y });
            false
        });
        out
    }

    pub fn views<'a>(&'a self, net: &'a Network) -> impl Iterator<Item = VehicleView> + 'a {
        self.agents.iter().map(move |a| {
            let l = &net.links[a.link as usize];
            let (x, y) = l.world(0, a.pos, 0.0);
            VehicleView {
                id: a.id,
                class: a.class,
                link: l.id.clone(),
                lane: 0,
                lateral_m: 0.0,
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
