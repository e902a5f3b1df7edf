//! Turning movements: the line a vehicle entered by, paired with the line it left by.
//!
//! The pairing rides on the counting lines' own crossings, so it inherits their hysteresis
//! (a jittering box never enters twice) and their rule that tentative tracks never count.
//! A track makes at most one movement: its first entry and the first exit after it. The turn
//! (left, through, right, U-turn) is the signed angle between the travel direction across the
//! entry line and across the exit line, on the ground when the camera is calibrated.

use std::collections::{HashMap, HashSet};

use nutgiao_config::{Homography, LineKind, Turn};

use crate::camera::CameraLine;
use crate::counting::LineGeometry;

/// What a line does in a turning movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Entered by a positive crossing (a stop line or an entry line).
    Entry,
    /// Left by a positive crossing.
    Exit,
    /// Entered or left in either direction: the sections of a quick `--line` job drawn around
    /// an intersection's mouths, where a line has no inbound side of its own.
    Section,
    None,
}

impl Role {
    /// A site's lines say what they are; a quick job's lines are all sections.
    pub fn of(kind: LineKind, from_site: bool) -> Role {
        match (kind, from_site) {
            (LineKind::StopLine | LineKind::Entry, _) => Role::Entry,
            (LineKind::Exit, _) => Role::Exit,
            (LineKind::Count, false) => Role::Section,
            (LineKind::Count, true) => Role::None,
        }
    }

    fn enters(self, direction: i8) -> bool {
        match self {
            Role::Entry => direction > 0,
            Role::Section => true,
            Role::Exit | Role::None => false,
        }
    }

    fn leaves(self, direction: i8) -> bool {
        match self {
            Role::Exit => direction > 0,
            Role::Section => true,
            Role::Entry | Role::None => false,
        }
    }
}

/// The turn from the heading change in degrees, counter-clockwise positive (a left turn).
pub fn turn_of(heading_change_deg: f64) -> Turn {
    match heading_change_deg {
        d if d.abs() <= 45.0 => Turn::Through,
        d if d.abs() > 135.0 => Turn::UTurn,
        d if d > 0.0 => Turn::Left,
        _ => Turn::Right,
    }
}

/// One completed movement.
#[derive(Debug, Clone, PartialEq)]
pub struct Movement {
    pub track: u64,
    pub from: String,
    pub to: String,
    pub turn: Turn,
    /// Stream time of the entry crossing.
    pub entered_s: f64,
}

#[derive(Debug, Clone)]
struct MovementLine {
    id: String,
    role: Role,
    /// Travel direction of a positive crossing, in a right-handed frame (ground metres, or
    /// image pixels with y flipped up), unit length.
    travel: [f64; 2],
}

#[derive(Debug, Clone, Copy)]
struct Entered {
    line: usize,
    direction: i8,
    t_s: f64,
}

#[derive(Debug, Clone, Default)]
pub struct MovementCounter {
    lines: Vec<MovementLine>,
    entered: HashMap<u64, Entered>,
    /// Tracks that have made their movement.
    done: HashSet<u64>,
}

impl MovementCounter {
    pub fn new(lines: &[CameraLine], homography: Option<&Homography>) -> Self {
        // Every line on the ground, or every line on the screen: a turn is an angle between
        // two lines' directions, which must be measured in one frame.
        let on_ground: Option<Vec<[f64; 2]>> =
            homography.and_then(|h| lines.iter().map(|l| ground_travel(&l.geometry, h)).collect());
        let lines = lines
            .iter()
            .enumerate()
            .map(|(i, l)| MovementLine {
                id: l.geometry.id.clone(),
                role: l.role,
                travel: on_ground.as_ref().map_or_else(|| screen_travel(&l.geometry), |g| g[i]),
            })
            .collect();
        Self { lines, entered: HashMap::new(), done: HashSet::new() }
    }

    /// A counted crossing of line `line` (index in the camera's lines); returns the movement
    /// it completes, if any.
    pub fn crossed(&mut self, line: usize, track: u64, direction: i8, t_s: f64) -> Option<Movement> {
        if self.done.contains(&track) {
            return None;
        }
        let role = self.lines.get(line)?.role;
        if let Some(e) = self.entered.get(&track).copied()
            && e.line != line
            && role.leaves(direction)
        {
            self.entered.remove(&track);
            self.done.insert(track);
            let a = scaled(self.lines[e.line].travel, f64::from(e.direction));
            let b = scaled(self.lines[line].travel, f64::from(direction));
            let change = (a[0] * b[1] - a[1] * b[0]).atan2(a[0] * b[0] + a[1] * b[1]).to_degrees();
            return Some(Movement {
                track,
                from: self.lines[e.line].id.clone(),
                to: self.lines[line].id.clone(),
                turn: turn_of(change),
                entered_s: e.t_s,
            });
        }
        if role.enters(direction) && !self.entered.contains_key(&track) {
            self.entered.insert(track, Entered { line, direction, t_s });
        }
        None
    }

    /// One frame's counted crossings (line, track, direction): entries first, so that a
    /// vehicle crossing its entry and its exit line in the same frame still makes its movement.
    pub fn crossed_in_frame(&mut self, crossings: &[(usize, u64, i8)], t_s: f64) -> Vec<Movement> {
        let only_enters = |&(line, _, direction): &(usize, u64, i8)| {
            self.lines.get(line).is_some_and(|l| l.role.enters(direction) && !l.role.leaves(direction))
        };
        let mut ordered = crossings.to_vec();
        // Stable: entries first, the rest in their order.
        ordered.sort_by_key(|c| !only_enters(c));
        ordered.into_iter().filter_map(|(line, track, direction)| self.crossed(line, track, direction, t_s)).collect()
    }

    /// Forgets tracks the tracker has dropped: an entry without an exit makes no movement.
    pub fn retain(&mut self, alive: &dyn Fn(u64) -> bool) {
        self.entered.retain(|id, _| alive(*id));
        self.done.retain(|id| alive(*id));
    }
}

fn scaled(v: [f64; 2], k: f64) -> [f64; 2] {
    [v[0] * k, v[1] * k]
}

/// The line's normal towards its right as seen on screen (image y down): the direction of
/// travel of a positive crossing, in pixels.
fn screen_normal(line: &LineGeometry) -> [f64; 2] {
    let d = [line.p1[0] - line.p0[0], line.p1[1] - line.p0[1]];
    let len = (d[0] * d[0] + d[1] * d[1]).sqrt().max(1e-9);
    [-d[1] / len, d[0] / len]
}

/// The direction of travel of a positive crossing in a right-handed frame: the screen
/// normal with y flipped up.
fn screen_travel(line: &LineGeometry) -> [f64; 2] {
    let n = screen_normal(line);
    [n[0], -n[1]]
}

/// The direction of travel of a positive crossing on the ground: the normal of the line's
/// ground image, on the side the screen normal maps to (perspective does not keep right
/// angles, so the screen normal itself does not map to a normal).
fn ground_travel(line: &LineGeometry, h: &Homography) -> Option<[f64; 2]> {
    let n = screen_normal(line);
    let mid = [(line.p0[0] + line.p1[0]) / 2.0, (line.p0[1] + line.p1[1]) / 2.0];
    let (g0, g1) = (h.to_ground(line.p0)?, h.to_ground(line.p1)?);
    let (gm, gn) = (h.to_ground(mid)?, h.to_ground([mid[0] + 4.0 * n[0], mid[1] + 4.0 * n[1]])?);
    let gd = [g1[0] - g0[0], g1[1] - g0[1]];
    let l = (gd[0] * gd[0] + gd[1] * gd[1]).sqrt();
    if l < 1e-9 {
        return None;
    }
    let normal = [-gd[1] / l, gd[0] / l];
    let side = (gn[0] - gm[0]) * normal[0] + (gn[1] - gm[1]) * normal[1];
    Some(if side >= 0.0 { normal } else { [-normal[0], -normal[1]] })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, p0: [f64; 2], p1: [f64; 2], role: Role) -> CameraLine {
        CameraLine {
            geometry: LineGeometry::new(id, p0, p1, 1.0, None),
            kind: LineKind::Count,
            approach: None,
            departure: None,
            role,
        }
    }

    /// A junction drawn on screen: mouths on the bottom (south), left (west), top (north)
    /// and right (east) edges. Each line is drawn so that its positive crossing leaves the
    /// box (exit lines) or enters it (entry lines).
    fn junction() -> MovementCounter {
        MovementCounter::new(
            &[
                // South mouth, entry: positive crossing goes up the screen (northbound).
                line("S-in", [200.0, 300.0], [100.0, 300.0], Role::Entry),
                // West exit: positive goes left (westbound).
                line("W-out", [100.0, 100.0], [100.0, 200.0], Role::Exit),
                // North exit: positive goes up.
                line("N-out", [200.0, 0.0], [100.0, 0.0], Role::Exit),
                // East exit: positive goes right.
                line("E-out", [300.0, 200.0], [300.0, 100.0], Role::Exit),
            ],
            None,
        )
    }

    #[test]
    fn entry_then_exit_makes_one_movement_with_its_turn() {
        let mut m = junction();
        assert_eq!(m.crossed(0, 1, 1, 10.0), None);
        let left = m.crossed(1, 1, 1, 14.0).unwrap();
        assert_eq!(
            (left.from.as_str(), left.to.as_str(), left.turn, left.entered_s),
            ("S-in", "W-out", Turn::Left, 10.0)
        );
        // The same track crossing another exit later does not make a second movement.
        assert_eq!(m.crossed(2, 1, 1, 16.0), None);

        m.crossed(0, 2, 1, 20.0);
        assert_eq!(m.crossed(2, 2, 1, 23.0).unwrap().turn, Turn::Through);
        m.crossed(0, 3, 1, 30.0);
        assert_eq!(m.crossed(3, 3, 1, 33.0).unwrap().turn, Turn::Right);
    }

    #[test]
    fn wrong_way_crossings_neither_enter_nor_leave() {
        let mut m = junction();
        // Leaving by the entry line (southbound, the wrong way) is not an entry.
        assert_eq!(m.crossed(0, 1, -1, 1.0), None);
        assert_eq!(m.crossed(1, 1, 1, 2.0), None);
        // Entering through an exit line backwards is not an exit.
        m.crossed(0, 2, 1, 3.0);
        assert_eq!(m.crossed(1, 2, -1, 4.0), None);
        assert!(m.crossed(2, 2, 1, 5.0).is_some());
    }

    #[test]
    fn an_entry_whose_track_is_dropped_makes_nothing() {
        let mut m = junction();
        m.crossed(0, 7, 1, 1.0);
        m.retain(&|id| id != 7);
        assert_eq!(m.crossed(1, 7, 1, 2.0), None);
    }

    #[test]
    fn sections_pair_in_either_direction() {
        let mut m = MovementCounter::new(
            &[
                line("a", [0.0, 100.0], [200.0, 100.0], Role::Section),
                line("b", [0.0, 300.0], [200.0, 300.0], Role::Section),
            ],
            None,
        );
        // Down the screen through a (positive), then through b: a -> b.
        m.crossed(0, 1, 1, 0.0);
        let down = m.crossed(1, 1, 1, 1.0).unwrap();
        assert_eq!((down.from.as_str(), down.to.as_str(), down.turn), ("a", "b", Turn::Through));
        // Up the screen through b (negative), then through a: b -> a.
        m.crossed(1, 2, -1, 0.0);
        let up = m.crossed(0, 2, -1, 1.0).unwrap();
        assert_eq!((up.from.as_str(), up.to.as_str(), up.turn), ("b", "a", Turn::Through));
    }

    #[test]
    fn a_vehicle_leaving_by_its_own_mouth_made_a_u_turn() {
        let mut m = MovementCounter::new(
            &[
                line("S-in", [200.0, 300.0], [100.0, 300.0], Role::Entry),
                // Beside it, the southbound exit: positive goes down the screen.
                line("S-out", [100.0, 310.0], [200.0, 310.0], Role::Exit),
            ],
            None,
        );
        m.crossed(0, 1, 1, 0.0);
        assert_eq!(m.crossed(1, 1, 1, 9.0).unwrap().turn, Turn::UTurn);
    }

    #[test]
    fn entry_and_exit_in_one_frame_still_pair_whatever_the_line_order() {
        let mut m = junction();
        // The exit (index 1) comes before the entry (index 0) in the frame's list.
        let made = m.crossed_in_frame(&[(1, 5, 1), (0, 5, 1)], 3.0);
        assert_eq!(made.len(), 1);
        assert_eq!((made[0].from.as_str(), made[0].to.as_str(), made[0].turn), ("S-in", "W-out", Turn::Left));
    }

    #[test]
    fn heading_change_bins() {
        assert_eq!(turn_of(0.0), Turn::Through);
        assert_eq!(turn_of(44.0), Turn::Through);
        assert_eq!(turn_of(90.0), Turn::Left);
        assert_eq!(turn_of(-90.0), Turn::Right);
        assert_eq!(turn_of(170.0), Turn::UTurn);
        assert_eq!(turn_of(-179.0), Turn::UTurn);
    }

    #[test]
    fn a_site_camera_turns_on_the_ground() {
        // cam-J1-W looks back up the west approach: its stop line's positive crossing is
        // eastbound on the ground, although it goes down the screen.
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/arterial.toml");
        let site = nutgiao_config::load(path).unwrap();
        let setup = crate::CameraSetup::from_site(&site, "cam-J1-W").unwrap();
        let stop = setup.lines.iter().find(|l| l.geometry.id == "J1-W-stop").unwrap();
        let v = ground_travel(&stop.geometry, setup.homography.as_ref().unwrap()).unwrap();
        assert!(v[0] > 0.95, "eastbound expected, got {v:?}");
        assert_eq!(stop.role, Role::Entry);
    }
}
