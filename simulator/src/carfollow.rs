//! Car-following: the speed a driver picks for the next step from its own speed, its
//! leader (or a stop line) and its desired speed.
//!
//! Krauss follows SUMO 1.15's `MSCFModel_Krauss` with the Euler position update, so that a
//! comparison with SUMO holds the model fixed; IDM is Treiber's Intelligent Driver Model.

use serde::{Deserialize, Serialize};

/// Which car-following model drives every vehicle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarFollowing {
    /// Intelligent Driver Model (Treiber, Hennecke, Helbing 2000).
    #[default]
    Idm,
    /// SUMO's default Krauss model, with its dawdling (sigma).
    Krauss,
}

impl CarFollowing {
    pub fn as_str(self) -> &'static str {
        match self {
            CarFollowing::Idm => "idm",
            CarFollowing::Krauss => "krauss",
        }
    }
}

/// A driver-vehicle unit's parameters as the models need them (SI units).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Driver {
    pub accel: f64,
    /// Comfortable deceleration.
    pub decel: f64,
    /// The hardest the vehicle can brake.
    pub emergency_decel: f64,
    /// Standstill gap to the leader's back.
    pub min_gap: f64,
    /// Desired time headway (SUMO's tau).
    pub tau: f64,
    /// Krauss driver imperfection in 0..1.
    pub sigma: f64,
}

/// What lies ahead of a driver this step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Obstacle {
    /// A vehicle: net gap (its back to our front, less nothing) and its speed.
    Leader { gap: f64, speed: f64 },
    /// A point to stop at (a red stop line): distance from our front.
    Stop { gap: f64 },
}

/// Tiny allowance SUMO subtracts from gaps so that rounding never closes them.
const NUMERICAL_EPS: f64 = 0.001;

/// SUMO's `maximumSafeStopSpeed` for the Euler update: the highest speed from which the
/// driver, braking at `decel` from the next step on after a reaction of `headway`, stops
/// within `gap`.
pub fn krauss_safe_stop_speed(gap: f64, decel: f64, headway: f64, dt: f64) -> f64 {
    let g = gap - NUMERICAL_EPS;
    if g < 0.0 {
        return 0.0;
    }
    let b = decel * dt;
    let t = headway;
    let s = dt;
    let n = (0.5 - ((t + ((s * s) + 4.0 * ((s * (2.0 * g / b - t)) + (t * t))).sqrt() * -0.5) / s)).floor();
    let h = 0.5 * n * (n - 1.0) * b * s + n * b * t;
    let r = (g - h) / (n * s + t);
    (n * b + r).max(0.0)
}

/// SUMO's `brakeGap` for the Euler update: distance covered braking from `speed` at `decel`.
pub fn brake_gap(speed: f64, decel: f64, dt: f64) -> f64 {
    let reduction = decel * dt;
    if reduction <= 0.0 {
        return f64::INFINITY;
    }
    let steps = (speed / reduction).floor();
    dt * (steps * speed - reduction * steps * (steps + 1.0) / 2.0)
}

/// Krauss safe speed behind a leader: stop behind where the leader itself could stop.
pub fn krauss_follow_speed(gap: f64, leader_speed: f64, d: &Driver, dt: f64) -> f64 {
    krauss_safe_stop_speed(gap + brake_gap(leader_speed, d.decel, dt), d.decel, d.tau, dt)
}

/// IDM acceleration with desired speed `v0`; `gap` is net (bumper to bumper).
pub fn idm_accel(speed: f64, v0: f64, obstacle: Option<Obstacle>, d: &Driver) -> f64 {
    let free = if v0 > 0.0 { 1.0 - (speed / v0).powi(4) } else { -1.0 };
    let interaction = match obstacle {
        None => 0.0,
        Some(o) => {
            let (s, dv) = match o {
                Obstacle::Leader { gap, speed: vl } => (gap, speed - vl),
                // A stop line behaves like a standing car s0 beyond it, so the driver halts at the line.
                Obstacle::Stop { gap } => (gap + d.min_gap, speed),
            };
            let s_star = d.min_gap + (speed * d.tau + speed * dv / (2.0 * (d.accel * d.decel).sqrt())).max(0.0);
            let s = s.max(0.01);
            (s_star / s).powi(2)
        }
    };
    d.accel * (free - interaction)
}

/// The speed for the next step.
///
/// `rand01` is a uniform draw used only by Krauss' dawdling, so the caller owns the random
/// stream and runs stay deterministic.
pub fn next_speed(
    model: CarFollowing,
    speed: f64,
    desired: f64,
    obstacles: &[Obstacle],
    d: &Driver,
    dt: f64,
    rand01: f64,
) -> f64 {
    let v = match model {
        CarFollowing::Krauss => {
            let mut v_max = (speed + d.accel * dt).min(desired);
            for o in obstacles {
                let safe = match *o {
                    Obstacle::Leader { gap, speed: vl } => krauss_follow_speed(gap - d.min_gap, vl, d, dt),
                    // SUMO's Krauss stops at a stop line with one action step (= dt) of headway.
                    Obstacle::Stop { gap } => krauss_safe_stop_speed(gap, d.decel, dt, dt),
                };
                v_max = v_max.min(safe);
            }
            let v_min = (speed - d.decel * dt).max(0.0);
            let dawdle = if v_max < d.accel { d.sigma * v_max * rand01 } else { d.sigma * d.accel * rand01 };
            // Dawdling never brakes harder than comfortable, but a safe speed below that wins.
            let v = (v_max - dawdle * dt).max(0.0).max(v_min.min(v_max));
            v.max(speed - d.emergency_decel * dt)
        }
        CarFollowing::Idm => {
            // The nearest constraint governs; IDM's interaction term is not additive over obstacles.
            let mut accel = idm_accel(speed, desired, None, d);
            for o in obstacles {
                accel = accel.min(idm_accel(speed, desired, Some(*o), d));
            }
            let mut v = speed + accel.max(-d.emergency_decel) * dt;
            // Never drive into a standing obstacle even when IDM's braking would need more than
            // the emergency deceleration: clamp to the kinematic stop speed.
            for o in obstacles {
                let gap = match *o {
                    Obstacle::Leader { gap, speed: vl } => gap + brake_gap(vl, d.emergency_decel, dt),
                    Obstacle::Stop { gap } => gap,
                };
                v = v.min(krauss_safe_stop_speed(gap.max(0.0), d.emergency_decel, dt, dt).max(0.0));
            }
            v
        }
    };
    v.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn car() -> Driver {
        Driver { accel: 2.6, decel: 4.5, emergency_decel: 9.0, min_gap: 2.5, tau: 1.0, sigma: 0.0 }
    }

    #[test]
    fn krauss_free_road_accelerates_at_a_until_desired_speed() {
        let d = car();
        let v = next_speed(CarFollowing::Krauss, 5.0, 13.89, &[], &d, 1.0, 0.0);
        assert!((v - 7.6).abs() < 1e-9, "{v}");
        let v = next_speed(CarFollowing::Krauss, 13.0, 13.89, &[], &d, 1.0, 0.0);
        assert!((v - 13.89).abs() < 1e-9, "{v}");
    }

    #[test]
    fn krauss_dawdling_reduces_by_sigma_accel_dt() {
        let d = Driver { sigma: 0.5, ..car() };
        let v = next_speed(CarFollowing::Krauss, 13.89, 13.89, &[], &d, 1.0, 1.0);
        assert!((v - (13.89 - 0.5 * 2.6)).abs() < 1e-9, "{v}");
    }

    #[test]
    fn idm_free_road_acceleration_matches_closed_form() {
        let d = car();
        let v0 = 13.89;
        for v in [0.0, 5.0, 10.0, 13.0] {
            let a = idm_accel(v, v0, None, &d);
            let closed = d.accel * (1.0 - (v / v0).powi(4));
            assert!((a - closed).abs() < 1e-12);
        }
        assert!((idm_accel(0.0, v0, None, &d) - d.accel).abs() < 1e-12);
    }

    #[test]
    fn idm_equilibrium_gap_gives_zero_acceleration() {
        // In a platoon at speed v the IDM equilibrium gap is s_e = (s0 + vT) / sqrt(1 - (v/v0)^4).
        let d = car();
        let (v, v0) = (10.0, 13.89);
        let s_e = (d.min_gap + v * d.tau) / (1.0 - (v / v0).powi(4)).sqrt();
        let a = idm_accel(v, v0, Some(Obstacle::Leader { gap: s_e, speed: v }), &d);
        assert!(a.abs() < 1e-9, "acceleration at equilibrium gap {s_e}: {a}");
        assert!(idm_accel(v, v0, Some(Obstacle::Leader { gap: s_e * 0.8, speed: v }), &d) < 0.0);
        assert!(idm_accel(v, v0, Some(Obstacle::Leader { gap: s_e * 1.2, speed: v }), &d) > 0.0);
    }

    #[test]
    fn krauss_equilibrium_is_speed_keeping_at_gap_v_tau() {
        // Krauss' stationary state behind a leader at speed v: net gap beyond min_gap of v * tau.
        let d = car();
        let v = 10.0;
        let vs = krauss_follow_speed(v * d.tau, v, &d, 1.0);
        assert!((vs - v).abs() < 0.05, "safe speed at gap v*tau: {vs}");
    }

    #[test]
    fn safe_stop_speed_stops_within_gap() {
        let d = car();
        for gap in [0.5, 3.0, 10.0, 40.0, 100.0] {
            let v = krauss_safe_stop_speed(gap, d.decel, 1.0, 1.0);
            assert!(brake_gap(v, d.decel, 1.0) + v <= gap + 1e-6, "gap {gap} speed {v}");
        }
    }

    /// Two vehicles; the leader brakes at its emergency deceleration to a standstill.
    fn emergency_brake_min_gap(model: CarFollowing, v0: f64, gap0: f64, dt: f64, leader_decel: f64) -> f64 {
        let d = Driver { sigma: 0.5, ..car() };
        let (mut xl, mut vl) = (gap0 + 5.0, v0);
        let (mut xf, mut vf) = (0.0, v0);
        let mut min_gap = f64::INFINITY;
        for step in 0..400 {
            let gap = xl - 5.0 - xf;
            let vn =
                next_speed(model, vf, 13.89, &[Obstacle::Leader { gap, speed: vl }], &d, dt, (step % 7) as f64 / 7.0);
            vl = (vl - leader_decel * dt).max(0.0);
            xl += vl * dt;
            vf = vn;
            xf += vf * dt;
            min_gap = min_gap.min(xl - 5.0 - xf);
        }
        min_gap
    }

    #[test]
    fn no_collision_when_leader_brakes_hard() {
        for model in [CarFollowing::Krauss, CarFollowing::Idm] {
            for dt in [0.5, 1.0] {
                let g = emergency_brake_min_gap(model, 13.89, 16.4, dt, 9.0);
                assert!(g >= 0.0, "{model:?} dt {dt}: gap went to {g}");
            }
        }
    }

    proptest! {
        #[test]
        fn no_collision_from_any_safe_start(v0 in 0.0f64..16.0, gap0 in 3.0f64..80.0, dt in prop::sample::select(vec![0.25, 0.5, 1.0]), decel in 1.0f64..9.0) {
            for model in [CarFollowing::Krauss, CarFollowing::Idm] {
                // Start from a state the follower could itself have reached safely.
                let d = car();
                if v0 > krauss_follow_speed(gap0 - d.min_gap, v0, &d, dt) + 1e-9 { continue; }
                let g = emergency_brake_min_gap(model, v0, gap0, dt, decel);
                prop_assert!(g >= -1e-9, "{:?}: min gap {}", model, g);
            }
        }

        #[test]
        fn speed_never_negative_nor_above_desired(v in 0.0f64..20.0, gap in 0.0f64..200.0, vl in 0.0f64..20.0, r in 0.0f64..1.0) {
            let d = Driver { sigma: 0.5, ..car() };
            for model in [CarFollowing::Krauss, CarFollowing::Idm] {
                let n = next_speed(model, v.min(13.89), 13.89, &[Obstacle::Leader { gap, speed: vl }], &d, 0.5, r);
                prop_assert!((0.0..=13.89 + 1e-9).contains(&n));
            }
        }
    }
}
