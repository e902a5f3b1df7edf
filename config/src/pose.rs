//! The pinhole camera model shared by the synthetic renderer and the validator, so that a
//! camera's pose and its calibration points can be checked against each other.

use crate::model::CameraPose;

/// A posed pinhole camera with square pixels and the principal point at the image centre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pinhole {
    pub centre: [f64; 3],
    forward: [f64; 3],
    right: [f64; 3],
    up: [f64; 3],
    pub focal_px: f64,
    pub width: f64,
    pub height: f64,
}

impl Pinhole {
    pub fn new(pose: &CameraPose, resolution: [u32; 2]) -> Pinhole {
        let (h, t) = (pose.heading_deg.to_radians(), pose.tilt_deg.to_radians());
        let forward = [h.sin() * t.cos(), h.cos() * t.cos(), -t.sin()];
        let right = [h.cos(), -h.sin(), 0.0];
        let up = cross(right, forward);
        let width = f64::from(resolution[0]);
        let height = f64::from(resolution[1]);
        let focal_px = (width / 2.0) / (pose.horizontal_fov_deg.to_radians() / 2.0).tan();
        Pinhole { centre: pose.position_m, forward, right, up, focal_px, width, height }
    }

    /// Pixel of a world point (x east, y north, z up, metres); `None` behind the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        let v = [p[0] - self.centre[0], p[1] - self.centre[1], p[2] - self.centre[2]];
        let z = dot(v, self.forward);
        if z <= 0.1 {
            return None;
        }
        let x = dot(v, self.right);
        let y = -dot(v, self.up);
        Some([self.width / 2.0 + self.focal_px * x / z, self.height / 2.0 + self.focal_px * y / z])
    }

    /// Depth of a world point along the optical axis (for painter's ordering).
    pub fn depth(&self, p: [f64; 3]) -> f64 {
        dot([p[0] - self.centre[0], p[1] - self.centre[1], p[2] - self.centre[2]], self.forward)
    }

    /// Ground point (z = 0) seen at a pixel; `None` at or above the horizon.
    pub fn ground_of_pixel(&self, px: [f64; 2]) -> Option<[f64; 2]> {
        let x = (px[0] - self.width / 2.0) / self.focal_px;
        let y = (px[1] - self.height / 2.0) / self.focal_px;
        let ray: [f64; 3] = std::array::from_fn(|i| self.forward[i] + x * self.right[i] - y * self.up[i]);
        if ray[2] >= -1e-9 {
            return None;
        }
        let s = -self.centre[2] / ray[2];
        Some([self.centre[0] + s * ray[0], self.centre[1] + s * ray[1]])
    }
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ground_of_pixel_inverts_project() {
        let pose = CameraPose {
            position_m: [10.0, -14.0, 10.0],
            heading_deg: 290.0,
            tilt_deg: 20.0,
            horizontal_fov_deg: 60.0,
        };
        let cam = Pinhole::new(&pose, [1280, 720]);
        for g in [[-20.0, -3.0], [-60.0, -5.0], [-8.0, 2.0]] {
            let px = cam.project([g[0], g[1], 0.0]).unwrap();
            let back = cam.ground_of_pixel(px).unwrap();
            assert!((back[0] - g[0]).abs() < 1e-6 && (back[1] - g[1]).abs() < 1e-6);
        }
        // The optical axis hits the image centre.
        let c = cam.ground_of_pixel([640.0, 360.0]).unwrap();
        let px = cam.project([c[0], c[1], 0.0]).unwrap();
        assert!((px[0] - 640.0).abs() < 1e-6 && (px[1] - 360.0).abs() < 1e-6);
    }
}
