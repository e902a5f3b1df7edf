//! The camera's view of the world: the shared pinhole model plus clipping at a near plane,
//! so that a road running behind the camera still draws its visible part.

use nutgiao_config::pose::Pinhole;

/// Nearest depth drawn (m); the pinhole refuses points closer than 0.1 m.
const NEAR_M: f64 = 0.5;

#[derive(Debug, Clone, Copy)]
pub struct View {
    pub pinhole: Pinhole,
    /// Whole-pixel shake of this frame (camera jitter), added to every projection.
    pub shift: [f64; 2],
}

impl View {
    pub fn new(pinhole: Pinhole) -> View {
        View { pinhole, shift: [0.0, 0.0] }
    }

    pub fn project(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        if self.pinhole.depth(p) < NEAR_M {
            return None;
        }
        self.pinhole.project(p).map(|q| [q[0] + self.shift[0], q[1] + self.shift[1]])
    }

    /// A world polygon clipped to the near plane and projected; empty when all behind.
    pub fn polygon(&self, world: &[[f64; 3]]) -> Vec<[f64; 2]> {
        let depth: Vec<f64> = world.iter().map(|&p| self.pinhole.depth(p) - NEAR_M).collect();
        if depth.iter().all(|&d| d >= 0.0) {
            return world.iter().filter_map(|&p| self.project(p)).collect();
        }
        let mut out = Vec::with_capacity(world.len() + 2);
        for i in 0..world.len() {
            let j = (i + 1) % world.len();
            let (a, b, da, db) = (world[i], world[j], depth[i], depth[j]);
            if da >= 0.0 {
                out.extend(self.project(a));
            }
            if (da >= 0.0) != (db >= 0.0) {
                let t = da / (da - db);
                // Nudge into the visible side so the pinhole accepts it.
                let t = if da >= 0.0 { t * 0.999 } else { t + (1.0 - t) * 0.001 };
                let p = [a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), a[2] + t * (b[2] - a[2])];
                out.extend(self.project(p));
            }
        }
        out
    }

    /// Ground polygon (z = 0) in site metres.
    pub fn ground(&self, pts: &[[f64; 2]]) -> Vec<[f64; 2]> {
        let w: Vec<[f64; 3]> = pts.iter().map(|p| [p[0], p[1], 0.0]).collect();
        self.polygon(&w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nutgiao_config::CameraPose;

    #[test]
    fn a_road_running_behind_the_camera_is_clipped_not_dropped() {
        let pose =
            CameraPose { position_m: [0.0, 0.0, 10.0], heading_deg: 0.0, tilt_deg: 20.0, horizontal_fov_deg: 60.0 };
        let v = View::new(Pinhole::new(&pose, [1280, 720]));
        let poly = v.ground(&[[-3.0, -50.0], [3.0, -50.0], [3.0, 80.0], [-3.0, 80.0]]);
        assert_eq!(poly.len(), 4);
        assert!(poly.iter().all(|p| p[0].is_finite() && p[1].is_finite()));
        assert!(v.ground(&[[-3.0, -50.0], [3.0, -50.0], [3.0, -40.0]]).is_empty());
    }
}
