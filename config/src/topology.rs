//! Derived geometry of a site: link lengths, headings, which approach a link feeds, and
//! routes through the corridor. Everything here is computed from the model, never stored.

use std::collections::{BTreeMap, VecDeque};

use crate::model::{Approach, Intersection, Link, Site, Turn};

/// Deceleration used by the ITE change-interval formula (10 ft/s^2).
pub const ITE_DECEL_MS2: f64 = 3.05;
/// Perception-reaction time of the ITE change-interval formula.
pub const ITE_REACTION_S: f64 = 1.0;
/// Design vehicle length for red clearance (20 ft).
pub const ITE_VEHICLE_LENGTH_M: f64 = 6.1;
/// Lowest yellow change interval nutgiao accepts whatever the speed.
pub const MIN_YELLOW_S: f64 = 3.0;
/// Lowest minimum green nutgiao accepts.
pub const MIN_GREEN_FLOOR_S: f64 = 4.0;

/// Yellow change interval by the ITE formula Y = t + v / (2a), never below 3 s.
pub fn ite_yellow_s(speed_ms: f64) -> f64 {
    (ITE_REACTION_S + speed_ms / (2.0 * ITE_DECEL_MS2)).max(MIN_YELLOW_S)
}

/// Red clearance interval (W + L) / v.
pub fn ite_red_clearance_s(crossing_m: f64, speed_ms: f64) -> f64 {
    (crossing_m + ITE_VEHICLE_LENGTH_M) / speed_ms
}

pub fn kmh_to_ms(kmh: f64) -> f64 {
    kmh / 3.6
}

/// Compass direction of travel, the way count surveys label movements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Northbound,
    Eastbound,
    Southbound,
    Westbound,
}

impl Bound {
    /// From a heading in degrees clockwise from north.
    pub fn from_heading(deg: f64) -> Bound {
        let d = deg.rem_euclid(360.0);
        if !(45.0..315.0).contains(&d) {
            Bound::Northbound
        } else if d < 135.0 {
            Bound::Eastbound
        } else if d < 225.0 {
            Bound::Southbound
        } else {
            Bound::Westbound
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Northbound => "northbound",
            Bound::Eastbound => "eastbound",
            Bound::Southbound => "southbound",
            Bound::Westbound => "westbound",
        }
    }
}

impl std::fmt::Display for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One leg of a route: drive `link`, then (unless it is the last) take `turn` at its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLeg {
    pub link: String,
    pub turn: Option<Turn>,
}

impl Site {
    /// Position of a node or intersection.
    pub fn point(&self, id: &str) -> Option<(f64, f64)> {
        self.nodes.iter().find(|n| n.id == id).map(|n| (n.x, n.y)).or_else(|| self.intersection(id).map(|i| (i.x, i.y)))
    }

    pub fn intersection(&self, id: &str) -> Option<&Intersection> {
        self.intersections.iter().find(|i| i.id == id)
    }

    pub fn link(&self, id: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.id == id)
    }

    pub fn is_boundary(&self, id: &str) -> bool {
        self.nodes.iter().any(|n| n.id == id)
    }

    /// Length of a link, stop line to stop line: the given length, or the distance between
    /// its end points less half of each intersection's width.
    pub fn link_length_m(&self, link: &Link) -> f64 {
        if let Some(l) = link.length_m {
            return l;
        }
        let (Some(a), Some(b)) = (self.point(&link.from), self.point(&link.to)) else {
            return 0.0;
        };
        let half = |id: &str| self.intersection(id).map_or(0.0, |i| i.width_m / 2.0);
        ((b.0 - a.0).hypot(b.1 - a.1) - half(&link.from) - half(&link.to)).max(0.0)
    }

    /// Heading of travel along a link, degrees clockwise from north.
    pub fn link_heading_deg(&self, link: &Link) -> f64 {
        let (Some(a), Some(b)) = (self.point(&link.from), self.point(&link.to)) else {
            return 0.0;
        };
        (b.0 - a.0).atan2(b.1 - a.1).to_degrees().rem_euclid(360.0)
    }

    pub fn link_bound(&self, link: &Link) -> Bound {
        Bound::from_heading(self.link_heading_deg(link))
    }

    /// The approach fed by a link, with its intersection.
    pub fn approach_of_link(&self, link_id: &str) -> Option<(&Intersection, &Approach)> {
        self.intersections.iter().find_map(|i| i.approaches.iter().find(|a| a.link == link_id).map(|a| (i, a)))
    }

    pub fn approach(&self, approach_id: &str) -> Option<(&Intersection, &Approach)> {
        self.intersections.iter().find_map(|i| i.approaches.iter().find(|a| a.id == approach_id).map(|a| (i, a)))
    }

    /// Speed limit of the approach's link in m/s.
    pub fn approach_speed_ms(&self, approach: &Approach) -> Option<f64> {
        self.link(&approach.link).map(|l| kmh_to_ms(l.speed_limit_kmh))
    }

    /// Shortest route (fewest links) from an entry link to an exit link.
    pub fn route(&self, from: &str, to: &str) -> Option<Vec<RouteLeg>> {
        self.link(from)?;
        self.link(to)?;
        let mut prev: BTreeMap<&str, (&str, Turn)> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        let mut seen = std::collections::BTreeSet::from([from]);
        while let Some(cur) = queue.pop_front() {
            if cur == to {
                break;
            }
            let Some((_, approach)) = self.approach_of_link(cur) else { continue };
            for (turn, next) in &approach.exits {
                if seen.insert(next.as_str()) {
                    prev.insert(next.as_str(), (cur, *turn));
                    queue.push_back(next.as_str());
                }
            }
        }
        if from != to && !prev.contains_key(to) {
            return None;
        }
        let mut legs = vec![RouteLeg { link: to.to_owned(), turn: None }];
        let mut cur = to;
        while cur != from {
            let (p, turn) = prev[cur];
            legs.push(RouteLeg { link: p.to_owned(), turn: Some(turn) });
            cur = p;
        }
        legs.reverse();
        Some(legs)
    }
}
