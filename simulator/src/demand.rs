//! Demand: flows per origin-destination (or per entry with each approach's turn ratios),
//! arrivals per step (Poisson, or evenly spaced like SUMO's `vehsPerHour`), scaled by the
//! time profile, with a vehicle class drawn from the flow's mix.

use std::collections::HashMap;

use nutgiao_config::{Site, Turn, VehicleClass};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Poisson};
use serde::{Deserialize, Serialize};

use crate::SimError;
use crate::network::{NONE, Network};

/// How vehicles of a flow arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Random arrivals at the flow's rate (counts per step are Poisson).
    #[default]
    Poisson,
    /// Evenly spaced, first at the flow's begin: SUMO's `<flow vehsPerHour=...>`.
    Uniform,
}

/// A route: links in order and the movement taken at the end of each (NONE on the last).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Route {
    pub links: Vec<u32>,
    pub movements: Vec<u32>,
}

pub(crate) struct FlowState {
    pub id: String,
    pub entry: u32,
    /// Fixed route, or NONE when routes are drawn from turn ratios.
    pub route: u32,
    pub vph: f64,
    pub begin: f64,
    pub end: f64,
    pub mix: Vec<(VehicleClass, f64)>,
    /// Uniform arrivals: vehicles owed (fractional).
    pub owed: f64,
}

pub(crate) struct Demand {
    pub flows: Vec<FlowState>,
    pub routes: Vec<Route>,
    route_index: HashMap<Route, u32>,
    profile: Vec<[f64; 2]>,
    pub arrivals: Arrivals,
    /// Turn ratios per approach, cumulative, by turn.
    ratios: Vec<Vec<(f64, Turn)>>,
}

/// One vehicle that wants to enter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub flow: u32,
    pub class: VehicleClass,
    pub route: u32,
    pub t: f64,
}

impl Demand {
    pub fn build(site: &Site, net: &Network, arrivals: Arrivals) -> Result<Demand, SimError> {
        let bad = |thing: String, cause: String| SimError::Demand { thing, cause };
        let mut d = Demand {
            flows: Vec::new(),
            routes: Vec::new(),
            route_index: HashMap::new(),
            profile: site.demand.profile.clone(),
            arrivals,
            ratios: Vec::new(),
        };
        for a in &net.approaches {
            let (_, ap) = site.approach(&a.id).expect("approach compiled from the site");
            let mut cum = Vec::new();
            let total: f64 = ap.turn_ratios.values().filter(|r| **r > 0.0).sum();
            let mut acc = 0.0;
            if total > 0.0 {
                for (t, r) in &ap.turn_ratios {
                    if *r > 0.0 && ap.exits.contains_key(t) {
                        acc += r / total;
                        cum.push((acc, *t));
                    }
                }
            } else {
                // No ratios given: everything goes straight on where it can, else any exit.
                let t = if ap.exits.contains_key(&Turn::Through) {
                    Some(Turn::Through)
                } else {
                    ap.exits.keys().next().copied()
                };
                if let Some(t) = t {
                    cum.push((1.0, t));
                }
            }
            d.ratios.push(cum);
        }
        for f in &site.demand.flows {
            let entry = net
                .link_by_id(&f.from)
                .ok_or_else(|| bad(format!("flow {}", f.id), format!("unknown link {}", f.from)))?;
            if !f.vehicles_per_hour.is_finite() || f.vehicles_per_hour < 0.0 {
                return Err(bad(format!("flow {}", f.id), "vehicles_per_hour must be a non-negative number".into()));
            }
            let route = match &f.to {
                Some(to) => {
                    let legs = site
                        .route(&f.from, to)
                        .ok_or_else(|| bad(format!("flow {}", f.id), format!("no route from {} to {to}", f.from)))?;
                    let mut r = Route { links: Vec::new(), movements: Vec::new() };
                    for leg in legs {
                        let li = net
                            .link_by_id(&leg.link)
                            .ok_or_else(|| bad(format!("flow {}", f.id), format!("unknown link {}", leg.link)))?;
                        r.links.push(li);
                        r.movements.push(leg.turn.and_then(|t| net.movement(li, t)).unwrap_or(NONE));
                    }
                    d.intern(r)
                }
                None => NONE,
            };
            let mix_src = f.mix.as_ref().unwrap_or(&site.demand.mix);
            let total: f64 = mix_src.values().filter(|s| **s > 0.0).sum();
            if total <= 0.0 {
                return Err(bad(format!("flow {}", f.id), "its vehicle mix has no positive share".into()));
            }
            let mut acc = 0.0;
            let mix = mix_src
                .iter()
                .filter(|(_, s)| **s > 0.0)
                .map(|(c, s)| {
                    acc += s / total;
                    (*c, acc)
                })
                .collect();
            d.flows.push(FlowState {
                id: f.id.clone(),
                entry,
                route,
                vph: f.vehicles_per_hour,
                begin: f.begin_s,
                end: f.end_s.unwrap_or(site.demand.duration_s),
                mix,
                owed: 1.0,
            });
        }
        Ok(d)
    }

    fn intern(&mut self, r: Route) -> u32 {
        if let Some(&i) = self.route_index.get(&r) {
            return i;
        }
        let i = self.routes.len() as u32;
        self.route_index.insert(r.clone(), i);
        self.routes.push(r);
        i
    }

    /// Multiplier of every flow at time `t`: linear between profile points, flat outside.
    pub fn profile_factor(&self, t: f64) -> f64 {
        let p = &self.profile;
        match p.len() {
            0 => 1.0,
            _ if t <= p[0][0] => p[0][1],
            _ if t >= p[p.len() - 1][0] => p[p.len() - 1][1],
            _ => {
                let k = p.windows(2).position(|w| t >= w[0][0] && t <= w[1][0]).unwrap_or(0);
                let (a, b) = (p[k], p[k + 1]);
                let span = b[0] - a[0];
                if span <= 0.0 { b[1] } else { a[1] + (b[1] - a[1]) * (t - a[0]) / span }
            }
        }
    }

    /// Vehicles that arrive in the step `[t, t + dt)`, appended to `out`.
    pub fn arrivals(&mut self, net: &Network, t: f64, dt: f64, rng: &mut ChaCha8Rng, out: &mut Vec<Arrival>) {
        let factor = self.profile_factor(t).max(0.0);
        for fi in 0..self.flows.len() {
            let f = &mut self.flows[fi];
            if t < f.begin || t >= f.end {
                continue;
            }
            let expected = f.vph * factor / 3600.0 * dt;
            let n = match self.arrivals {
                Arrivals::Uniform => {
                    let n = f.owed.floor();
                    f.owed += expected - n;
                    n as u64
                }
                Arrivals::Poisson if expected > 0.0 => Poisson::new(expected).map_or(0, |p| p.sample(rng) as u64),
                Arrivals::Poisson => 0,
            };
            for _ in 0..n {
                let f = &self.flows[fi];
                let u: f64 = rng.random();
                let class = f.mix.iter().find(|(_, c)| u < *c).or(f.mix.last()).map_or(VehicleClass::Car, |(c, _)| *c);
                let route = if f.route != NONE { f.route } else { self.draw_route(net, f.entry, rng) };
                out.push(Arrival { flow: fi as u32, class, route, t });
            }
        }
    }

    /// A route by the approaches' turn ratios, from `entry` to wherever it leaves the site.
    fn draw_route(&mut self, net: &Network, entry: u32, rng: &mut ChaCha8Rng) -> u32 {
        let mut r = Route { links: vec![entry], movements: Vec::new() };
        let mut cur = entry;
        // A bound keeps a badly drawn site (a loop with no way out) from growing a route forever.
        for _ in 0..64 {
            let a = net.links[cur as usize].approach;
            if a == NONE {
                break;
            }
            let u: f64 = rng.random();
            let cum = &self.ratios[a as usize];
            let Some(&(_, turn)) = cum.iter().find(|(c, _)| u < *c).or(cum.last()) else { break };
            let Some(m) = net.movement(cur, turn) else { break };
            r.movements.push(m);
            cur = net.movements[m as usize].exit_link;
            r.links.push(cur);
        }
        r.movements.push(NONE);
        self.intern(r)
    }
}
