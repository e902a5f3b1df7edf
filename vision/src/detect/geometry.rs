//! The camera behind a ground homography, and what it says about a foreground blob: how far
//! along the ground the vehicles in it reach once their height is accounted for, and where
//! each of several vehicles merged into one blob stands.
//!
//! Seen from a mast, a vehicle's box runs from its near bumper on the road to its far roof
//! edge, which projects onto the ground metres behind the vehicle. A queue of cars, or cars
//! side by side in adjacent lanes, overlap in the picture and give one foreground blob.
//! Counting that blob once counts one car for the whole queue.

use nalgebra::{Matrix3, Vector3};
use nutgiao_config::Homography;

use super::BoxPx;

/// A car's height (m): the roof edge that makes the top of its box.
pub const CAR_HEIGHT_M: f64 = 1.45;
/// Ground depth (m) from a car's near bumper to the point under its far roof edge.
pub const CAR_DEPTH_M: f64 = 4.0;
/// Bumper-to-bumper spacing (m) of cars queued or crawling in one lane.
pub const QUEUE_SPACING_M: f64 = 7.0;
/// Width (m) of one lane's share of a blob: wider blobs hold cars side by side.
pub const LANE_SHARE_M: f64 = 3.0;

/// The posed pinhole camera a ground homography implies, assuming square pixels and the
/// principal point at the image centre (what the site calibrations are made with).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundCamera {
    focal: f64,
    cx: f64,
    cy: f64,
    /// World (x, y, z) to camera: columns for x, y, z, then the translation.
    r: Matrix3<f64>,
    t: Vector3<f64>,
    /// Camera centre in site metres (z is its height above the road).
    pub centre: [f64; 3],
}

impl GroundCamera {
    /// Recovers the camera from `ground_to_image` = s K [r1 r2 t]. `None` when the mapping is
    /// no perspective view of a plane (affine, or inconsistent with square pixels).
    pub fn from_homography(h: &Homography, image_size: [f64; 2]) -> Option<GroundCamera> {
        let g = h.ground_to_image;
        let (cx, cy) = (image_size[0] / 2.0, image_size[1] / 2.0);
        let col = |j: usize| [g[(0, j)] - cx * g[(2, j)], g[(1, j)] - cy * g[(2, j)], g[(2, j)]];
        let (a, b, c) = (col(0), col(1), col(2));
        // r1 . r2 = 0 fixes the focal length: (a0 b0 + a1 b1) / f^2 + a2 b2 = 0.
        let f2_orth = -(a[0] * b[0] + a[1] * b[1]) / (a[2] * b[2]);
        // |r1| = |r2| gives it too; the better conditioned of the two is used.
        let f2_norm = -((a[0] * a[0] + a[1] * a[1]) - (b[0] * b[0] + b[1] * b[1])) / (a[2] * a[2] - b[2] * b[2]);
        let orth_weight = (a[2] * b[2]).abs();
        let norm_weight = (a[2] * a[2] - b[2] * b[2]).abs();
        let f2 = if orth_weight >= norm_weight { f2_orth } else { f2_norm };
        if !(f2.is_finite() && f2 > 1.0) {
            return None;
        }
        let focal = f2.sqrt();
        let un = |v: [f64; 3]| Vector3::new(v[0] / focal, v[1] / focal, v[2]);
        let (r1, r2, tt) = (un(a), un(b), un(c));
        let s = (r1.norm() + r2.norm()) / 2.0;
        if s <= 0.0 {
            return None;
        }
        let (mut r1, mut r2, mut t) = (r1 / s, r2 / s, tt / s);
        // Points on the road in view are in front of the camera (positive depth). The site's
        // origin may be behind the camera (a camera at x = 286 m looking east), so the sign is
        // judged at the ground point under the bottom centre of the picture, not at the origin.
        let seen = h.to_ground([cx, image_size[1] * 0.9])?;
        if r1[2] * seen[0] + r2[2] * seen[1] + t[2] < 0.0 {
            r1 = -r1;
            r2 = -r2;
            t = -t;
        }
        let mut r3 = r1.cross(&r2);
        let mut r = Matrix3::from_columns(&[r1, r2, r3]);
        let mut centre = -(r.transpose() * t);
        // The camera is above the road: z up must put its centre at a positive height.
        if centre[2] < 0.0 {
            r3 = -r3;
            r = Matrix3::from_columns(&[r1, r2, r3]);
            centre = -(r.transpose() * t);
        }
        if centre[2].is_nan() || centre[2] <= 0.5 {
            return None;
        }
        Some(GroundCamera { focal, cx, cy, r, t, centre: [centre[0], centre[1], centre[2]] })
    }

    /// Pixel of a world point (site metres, z up); `None` behind the camera.
    pub fn project(&self, p: [f64; 3]) -> Option<[f64; 2]> {
        let v = self.r * Vector3::new(p[0], p[1], p[2]) + self.t;
        if v[2] <= 0.1 {
            return None;
        }
        Some([self.cx + self.focal * v[0] / v[2], self.cy + self.focal * v[1] / v[2]])
    }

    /// Unit ground direction pointing away from the camera at a ground point.
    fn away(&self, g: [f64; 2]) -> Option<[f64; 2]> {
        let d = [g[0] - self.centre[0], g[1] - self.centre[1]];
        let n = (d[0] * d[0] + d[1] * d[1]).sqrt();
        (n > 1e-6).then(|| [d[0] / n, d[1] / n])
    }

    /// Ground depth (m) a box covers beyond its bottom-centre point, away from the camera,
    /// if its top edge is the roof of a vehicle `height_m` tall: the distance `s` at which a
    /// point `height_m` above the ground projects onto the box's top row.
    pub fn depth_of_box(&self, h: &Homography, b: &BoxPx, height_m: f64) -> Option<f64> {
        let (g, d) = self.anchor(h, b)?;
        let top = b.y;
        let row = |s: f64| self.project([g[0] + s * d[0], g[1] + s * d[1], height_m]).map(|p| p[1]);
        // The row falls (moves up the picture) as s grows; bisect on [0, 200] m.
        let (mut lo, mut hi) = (0.0, 200.0);
        if row(lo)? <= top {
            return Some(0.0);
        }
        if row(hi).is_none_or(|y| y > top) {
            return Some(hi);
        }
        for _ in 0..40 {
            let mid = (lo + hi) / 2.0;
            match row(mid) {
                Some(y) if y > top => lo = mid,
                _ => hi = mid,
            }
        }
        Some((lo + hi) / 2.0)
    }

    fn anchor(&self, h: &Homography, b: &BoxPx) -> Option<([f64; 2], [f64; 2])> {
        let g = h.to_ground(b.ground_point())?;
        Some((g, self.away(g)?))
    }

    /// Splits a blob's box that holds a queue of cars one behind the other into one box per
    /// car: the k-th car's near bumper is `k` queue spacings beyond the blob's bottom point.
    pub fn split_along(&self, h: &Homography, b: &BoxPx) -> Vec<BoxPx> {
        let Some(depth) = self.depth_of_box(h, b, CAR_HEIGHT_M) else { return vec![*b] };
        let n = cars_in_depth(depth);
        if n <= 1 {
            return vec![*b];
        }
        let Some((g, d)) = self.anchor(h, b) else { return vec![*b] };
        let at = |s: f64, z: f64| self.project([g[0] + s * d[0], g[1] + s * d[1], z]).map(|p| p[1]);
        let bottom = b.y + b.h;
        let mut out = Vec::with_capacity(n);
        for k in 0..n {
            let near = k as f64 * QUEUE_SPACING_M;
            let (Some(y_bottom), Some(y_top)) = (at(near, 0.0), at(near + CAR_DEPTH_M, CAR_HEIGHT_M)) else {
                return vec![*b];
            };
            let y1 = y_bottom.min(bottom);
            // The farthest car's roof is the blob's own top edge.
            let y0 = if k + 1 == n { b.y } else { y_top.max(b.y) };
            if y1 - y0 < 2.0 {
                continue;
            }
            out.push(BoxPx { x: b.x, y: y0, w: b.w, h: y1 - y0 });
        }
        if out.is_empty() { vec![*b] } else { out }
    }
}

/// How many queued cars a blob's ground depth (m, height accounted for) holds.
pub fn cars_in_depth(depth_m: f64) -> usize {
    if depth_m <= CAR_DEPTH_M {
        return 1;
    }
    // Rounded down with little slack: a single car whose blob grew by a few pixels at 40 m
    // (about 3 px per metre there) must not become two, each of which would count.
    1 + ((depth_m - CAR_DEPTH_M) / QUEUE_SPACING_M + 0.1).floor() as usize
}

/// How many cars side by side a blob's ground width (m, along its bottom edge) holds.
pub fn cars_abreast(width_m: f64) -> usize {
    ((width_m / LANE_SHARE_M).round() as usize).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nutgiao_config::CalibrationPoint;
    use nutgiao_config::model::CameraPose;
    use nutgiao_config::pose::Pinhole;

    fn posed() -> (Pinhole, Homography) {
        let pose = CameraPose {
            position_m: [14.0, -13.0, 11.0],
            heading_deg: 283.0,
            tilt_deg: 19.0,
            horizontal_fov_deg: 62.0,
        };
        let cam = Pinhole::new(&pose, [1280, 720]);
        let pts: Vec<CalibrationPoint> = [[-7.2, -6.4], [-7.2, 6.4], [-60.0, -6.4], [-60.0, 6.4], [-30.0, 0.0]]
            .iter()
            .map(|g| CalibrationPoint { image: cam.project([g[0], g[1], 0.0]).unwrap(), ground: *g })
            .collect();
        (cam, Homography::estimate(&pts).unwrap())
    }

    /// The arterial's cam-J2-E: at x = 286 m looking east, the site's origin 286 m behind it.
    #[test]
    fn the_pose_is_recovered_when_the_site_origin_is_behind_the_camera() {
        let pose = CameraPose {
            position_m: [286.0, 13.0, 11.0],
            heading_deg: 103.0,
            tilt_deg: 19.0,
            horizontal_fov_deg: 62.0,
        };
        let cam = Pinhole::new(&pose, [1280, 720]);
        let pts: Vec<CalibrationPoint> = [[307.2, 6.4], [307.2, -6.4], [360.0, 6.4], [360.0, -6.4], [330.0, 0.0]]
            .iter()
            .map(|g| CalibrationPoint { image: cam.project([g[0], g[1], 0.0]).unwrap(), ground: *g })
            .collect();
        let h = Homography::estimate(&pts).unwrap();
        let g = GroundCamera::from_homography(&h, [1280.0, 720.0]).unwrap();
        for (got, want) in g.centre.iter().zip([286.0, 13.0, 11.0]) {
            assert!((got - want).abs() < 0.05, "centre {:?}", g.centre);
        }
        assert!((g.r.determinant() - 1.0).abs() < 1e-6, "a rotation, not a reflection");
        // A roof 1.45 m up, 40 m out, lands where the true camera sees it.
        let roof = [340.0, 2.0, 1.45];
        let (a, b) = (g.project(roof).unwrap(), cam.project(roof).unwrap());
        assert!((a[0] - b[0]).abs() < 1.0 && (a[1] - b[1]).abs() < 1.0, "{a:?} vs {b:?}");
    }

    #[test]
    fn the_pose_is_recovered_from_the_homography() {
        let (cam, h) = posed();
        let g = GroundCamera::from_homography(&h, [1280.0, 720.0]).unwrap();
        for (a, b) in g.centre.iter().zip([14.0, -13.0, 11.0]) {
            assert!((a - b).abs() < 0.05, "centre {:?}", g.centre);
        }
        for p in [[-20.0, 2.0, 1.5], [-45.0, -3.0, 0.0], [-8.0, 5.0, 3.0]] {
            let (a, b) = (g.project(p).unwrap(), cam.project(p).unwrap());
            assert!((a[0] - b[0]).abs() < 0.5 && (a[1] - b[1]).abs() < 0.5, "{p:?}: {a:?} vs {b:?}");
        }
    }

    /// The image box of a car-sized block standing at ground distance `x` (m, negative up the road).
    fn car_box(cam: &Pinhole, near_x: f64, y: f64, cars: usize) -> BoxPx {
        let far_x = near_x - CAR_DEPTH_M - (cars - 1) as f64 * QUEUE_SPACING_M - 0.5;
        let mut pts = Vec::new();
        for x in [near_x, far_x] {
            for yy in [y - 0.9, y + 0.9] {
                for z in [0.0, CAR_HEIGHT_M] {
                    pts.push(cam.project([x, yy, z]).unwrap());
                }
            }
        }
        let (x0, x1) = pts.iter().fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p[0]), a.1.max(p[0])));
        let (y0, y1) = pts.iter().fold((f64::MAX, f64::MIN), |a, p| (a.0.min(p[1]), a.1.max(p[1])));
        BoxPx { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
    }

    #[test]
    fn one_car_stays_one_and_a_queue_of_three_becomes_three() {
        let (cam, h) = posed();
        let g = GroundCamera::from_homography(&h, [1280.0, 720.0]).unwrap();
        for near in [-12.0, -25.0, -45.0] {
            let one = car_box(&cam, near, -1.6, 1);
            assert_eq!(g.split_along(&h, &one).len(), 1, "one car at {near} m: {one:?}");
            let three = car_box(&cam, near, -1.6, 3);
            assert_eq!(g.split_along(&h, &three).len(), 3, "three cars from {near} m: {three:?}");
        }
    }

    #[test]
    fn lanes_share_a_blob_by_width() {
        assert_eq!(cars_abreast(1.9), 1);
        assert_eq!(cars_abreast(3.9), 1);
        assert_eq!(cars_abreast(5.0), 2);
        assert_eq!(cars_in_depth(3.0), 1);
        assert_eq!(cars_in_depth(8.0), 1);
        assert_eq!(cars_in_depth(11.0), 2);
    }
}
