//! Real-world size of a blob through the camera's homography, and the class it implies.
//!
//! A blob's top edge projects onto the ground far behind the vehicle (the vehicle has a
//! height), so the apparent length is discounted; the width along the bottom edge is
//! on the ground and needs no correction.

use nutgiao_config::Homography;

use super::geometry::{CAR_HEIGHT_M, GroundCamera};
use super::{BoxPx, VehicleKind};

/// Share of the apparent ground length that is footprint rather than the vehicle's height.
const LENGTH_DISCOUNT: f64 = 0.6;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GroundSize {
    pub width_m: f64,
    pub length_m: f64,
}

pub fn ground_size(h: &Homography, b: &BoxPx) -> Option<GroundSize> {
    let bottom = b.y + b.h;
    let bl = h.to_ground([b.x, bottom])?;
    let br = h.to_ground([b.x + b.w, bottom])?;
    let bc = h.to_ground([b.x + b.w / 2.0, bottom])?;
    let tc = h.to_ground([b.x + b.w / 2.0, b.y])?;
    let d = |a: [f64; 2], c: [f64; 2]| ((a[0] - c[0]).powi(2) + (a[1] - c[1]).powi(2)).sqrt();
    Some(GroundSize { width_m: d(bl, br), length_m: d(bc, tc) * LENGTH_DISCOUNT })
}

/// As `ground_size`, but with the camera's pose known the length is the ground depth under
/// a car-high top edge: the fixed discount is right at one distance only, and called cars
/// 40-60 m away buses (a 1.45 m roof seen from 11 m lands 6-9 m behind the car).
pub fn ground_size_seen(h: &Homography, camera: Option<&GroundCamera>, b: &BoxPx) -> Option<GroundSize> {
    let flat = ground_size(h, b)?;
    match camera.and_then(|c| c.depth_of_box(h, b, CAR_HEIGHT_M)) {
        Some(length_m) => Some(GroundSize { width_m: flat.width_m, length_m }),
        None => Some(flat),
    }
}

/// Motorbike, car or bus/truck from the footprint; `None` for what is no vehicle at all
/// (a leaf's shadow, a pedestrian, a lighting change over half the road).
pub fn classify(size: GroundSize) -> Option<VehicleKind> {
    let GroundSize { width_m: w, length_m: l } = size;
    let longest = w.max(l);
    let area = w * l;
    if longest < 1.0 || !(0.6..=80.0).contains(&area) {
        return None;
    }
    if w < 1.3 && l < 3.2 {
        Some(VehicleKind::Motorbike)
    } else if longest > 8.0 {
        Some(VehicleKind::BusTruck)
    } else {
        Some(VehicleKind::Car)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_map_to_the_classes_an_engineer_expects() {
        assert_eq!(classify(GroundSize { width_m: 0.8, length_m: 2.0 }), Some(VehicleKind::Motorbike));
        assert_eq!(classify(GroundSize { width_m: 1.8, length_m: 4.6 }), Some(VehicleKind::Car));
        assert_eq!(classify(GroundSize { width_m: 2.5, length_m: 11.0 }), Some(VehicleKind::BusTruck));
        assert_eq!(classify(GroundSize { width_m: 0.3, length_m: 0.5 }), None, "a leaf shadow");
        assert_eq!(classify(GroundSize { width_m: 9.0, length_m: 20.0 }), None, "half the road changes light");
    }
}
