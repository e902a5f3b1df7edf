//! Vehicles as shaded 3D boxes by class (a car is a body and a glasshouse, a motorbike a
//! bike, a rider and a helmet, a bus a box with a window band, a truck a cab and a cargo
//! box), with cast shadows and, after dark, headlights, tail lights and glare.

use nutgiao_config::VehicleClass;

use super::lighting::Conditions;
use super::raster::{Blend, Frame, Rgb, convex_hull};
use super::view::View;
use crate::VehicleView;

/// One box of a vehicle in its own frame: `s` metres back from the front bumper, `half`
/// the half-width, `z` heights above the road.
#[derive(Debug, Clone, Copy)]
struct Part {
    s: [f64; 2],
    half: f64,
    z: [f64; 2],
    colour: Rgb,
    /// A darker band on the vertical faces (windows), as heights.
    band: Option<[f64; 2]>,
}

const GLASS: Rgb = [38, 48, 58];
const TYRE: Rgb = [25, 25, 25];

const PAINTS: [Rgb; 12] = [
    [235, 235, 232],
    [200, 202, 205],
    [130, 132, 136],
    [30, 30, 34],
    [170, 30, 30],
    [30, 60, 150],
    [25, 95, 60],
    [210, 170, 40],
    [120, 20, 40],
    [90, 120, 170],
    [220, 110, 30],
    [60, 45, 35],
];

fn paint(id: u64, salt: u64) -> Rgb {
    let h = (id ^ salt).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let base = PAINTS[(h >> 33) as usize % PAINTS.len()];
    // A little variation so that two white cars are not identical.
    let d = ((h >> 13) % 21) as i32 - 10;
    base.map(|c| (i32::from(c) + d).clamp(0, 255) as u8)
}

fn parts(v: &VehicleView, salt: u64) -> Vec<Part> {
    let (l, half) = (v.length_m, v.width_m / 2.0);
    let body = paint(v.id, salt);
    match v.class {
        VehicleClass::Car => vec![
            Part { s: [0.0, l], half, z: [0.15, 0.95], colour: body, band: None },
            Part { s: [0.3 * l, 0.8 * l], half: half * 0.85, z: [0.95, 1.45], colour: body, band: Some([0.95, 1.4]) },
        ],
        VehicleClass::Motorbike => {
            let shirt = paint(v.id, salt ^ 0x55);
            vec![
                Part { s: [0.0, l], half: half.min(0.2), z: [0.0, 0.85], colour: TYRE, band: None },
                Part { s: [0.35 * l, 0.75 * l], half: half.min(0.28), z: [0.85, 1.55], colour: shirt, band: None },
                Part { s: [0.42 * l, 0.65 * l], half: half.min(0.14), z: [1.55, 1.8], colour: body, band: None },
            ]
        }
        VehicleClass::Bus => {
            vec![Part { s: [0.0, l], half, z: [0.3, 3.1], colour: body, band: Some([1.5, 2.6]) }]
        }
        VehicleClass::Truck => {
            let cab = 2.2f64.min(l * 0.3);
            vec![
                Part { s: [0.0, cab], half, z: [0.4, 2.7], colour: body, band: Some([1.7, 2.5]) },
                Part { s: [cab + 0.2, l], half, z: [0.5, 3.3], colour: [205, 205, 198], band: None },
            ]
        }
    }
}

/// The vehicle's frame: forward unit vector and right unit vector on the ground.
fn axes(v: &VehicleView) -> ([f64; 2], [f64; 2]) {
    let h = v.heading_deg.to_radians();
    let fwd = [h.sin(), h.cos()];
    (fwd, [fwd[1], -fwd[0]])
}

fn corner(v: &VehicleView, s: f64, lat: f64, z: f64) -> [f64; 3] {
    let (fwd, right) = axes(v);
    [v.x - fwd[0] * s + right[0] * lat, v.y - fwd[1] * s + right[1] * lat, z]
}

/// Middle of the vehicle on the ground, for painter's ordering and ground truth.
pub fn centre(v: &VehicleView) -> [f64; 2] {
    let (fwd, _) = axes(v);
    [v.x - fwd[0] * v.length_m / 2.0, v.y - fwd[1] * v.length_m / 2.0]
}

fn tallest(v: &VehicleView) -> f64 {
    parts(v, 0).iter().map(|p| p.z[1]).fold(0.0, f64::max)
}

/// The image box (x, y, w, h) of everything drawn for the vehicle, clipped to the image;
/// `None` when nothing of it is in the picture.
pub fn image_box(v: &VehicleView, view: &View, width: usize, height: usize) -> Option<[f64; 4]> {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in parts(v, 0) {
        for s in p.s {
            for lat in [-p.half, p.half] {
                for z in p.z {
                    let q = view.project(corner(v, s, lat, z))?;
                    for i in 0..2 {
                        lo[i] = lo[i].min(q[i]);
                        hi[i] = hi[i].max(q[i]);
                    }
                }
            }
        }
    }
    let x0 = lo[0].max(0.0);
    let y0 = lo[1].max(0.0);
    let x1 = hi[0].min(width as f64);
    let y1 = hi[1].min(height as f64);
    (x1 - x0 >= 1.0 && y1 - y0 >= 1.0).then_some([x0, y0, x1 - x0, y1 - y0])
}

/// The cast shadow: the hull of the footprint and the footprint of the roof pushed away
/// from the sun.
pub fn draw_shadow(f: &mut Frame, v: &VehicleView, view: &View, light: &Conditions) {
    if light.shadow_keep >= 1.0 || light.sun[2] <= 0.05 {
        return;
    }
    let top = tallest(v);
    let push = [-light.sun[0] / light.sun[2] * top, -light.sun[1] / light.sun[2] * top];
    let half = v.width_m / 2.0;
    let mut pts = Vec::with_capacity(8);
    for s in [0.0, v.length_m] {
        for lat in [-half, half] {
            let c = corner(v, s, lat, 0.0);
            pts.push([c[0], c[1]]);
            pts.push([c[0] + push[0], c[1] + push[1]]);
        }
    }
    let poly = view.ground(&convex_hull(pts));
    f.fill_polygon(&poly, Blend::Darken(light.shadow_keep));
}

/// Pools of headlight on the road ahead, drawn before any vehicle body.
pub fn draw_headlight_pool(f: &mut Frame, v: &VehicleView, view: &View, light: &Conditions) {
    if !light.headlights || v.class == VehicleClass::Motorbike && v.id.is_multiple_of(3) {
        return;
    }
    let half = v.width_m / 2.0;
    let pool = [
        corner(v, -1.0, -half, 0.0),
        corner(v, -1.0, half, 0.0),
        corner(v, -14.0, half + 2.0, 0.0),
        corner(v, -14.0, -half - 2.0, 0.0),
    ];
    let poly = view.polygon(&pool);
    let k = (40.0 * (1.0 - light.ambient)) as u8;
    f.fill_polygon(&poly, Blend::Add([k, k, k.saturating_sub(6)]));
}

pub fn draw_body(f: &mut Frame, v: &VehicleView, view: &View, light: &Conditions, salt: u64) {
    let cam = view.pinhole.centre;
    let (fwd, right) = axes(v);
    let mut ps = parts(v, salt);
    if v.class == VehicleClass::Truck {
        // Cab and box stand side by side: the farther one first.
        ps.sort_by(|a, b| {
            let d = |p: &Part| view.pinhole.depth(corner(v, (p.s[0] + p.s[1]) / 2.0, 0.0, 1.0));
            d(b).total_cmp(&d(a))
        });
    }
    for p in &ps {
        let c = |s: f64, lat: f64, z: f64| corner(v, s, lat, z);
        let (s0, s1, hw, z0, z1) = (p.s[0], p.s[1], p.half, p.z[0], p.z[1]);
        // Vertical faces: front, rear, right, left; each (corners at the bottom, outward normal).
        let faces: [([[f64; 3]; 2], [f64; 3]); 4] = [
            ([c(s0, -hw, z0), c(s0, hw, z0)], [fwd[0], fwd[1], 0.0]),
            ([c(s1, hw, z0), c(s1, -hw, z0)], [-fwd[0], -fwd[1], 0.0]),
            ([c(s0, hw, z0), c(s1, hw, z0)], [right[0], right[1], 0.0]),
            ([c(s1, -hw, z0), c(s0, -hw, z0)], [-right[0], -right[1], 0.0]),
        ];
        for ([a, b], n) in faces {
            let to_cam = [cam[0] - a[0], cam[1] - a[1], cam[2] - a[2]];
            if n[0] * to_cam[0] + n[1] * to_cam[1] <= 0.0 {
                continue;
            }
            let quad = |za: f64, zb: f64| [[a[0], a[1], za], [b[0], b[1], za], [b[0], b[1], zb], [a[0], a[1], zb]];
            f.fill_polygon(&view.polygon(&quad(z0, z1)), Blend::Replace(light.lit(p.colour, n)));
            if let Some(band) = p.band {
                f.fill_polygon(&view.polygon(&quad(band[0], band[1])), Blend::Replace(light.lit(GLASS, n)));
            }
        }
        if cam[2] > z1 {
            let roof = [c(s0, -hw, z1), c(s0, hw, z1), c(s1, hw, z1), c(s1, -hw, z1)];
            f.fill_polygon(&view.polygon(&roof), Blend::Replace(light.lit(p.colour, [0.0, 0.0, 1.0])));
        }
    }
    if light.headlights {
        draw_lamps(f, v, view, light);
    }
}

/// Headlights (with glare) when the front faces the camera, tail lights when the rear does.
fn draw_lamps(f: &mut Frame, v: &VehicleView, view: &View, light: &Conditions) {
    let cam = view.pinhole.centre;
    let (fwd, _) = axes(v);
    let toward = fwd[0] * (cam[0] - v.x) + fwd[1] * (cam[1] - v.y) > 0.0;
    let half = v.width_m / 2.0 * 0.75;
    let lamps: Vec<f64> = if v.class == VehicleClass::Motorbike { vec![0.0] } else { vec![-half, half] };
    let (s, z) = if toward { (0.0, 0.7) } else { (v.length_m, 0.8) };
    for lat in lamps {
        let Some(px) = view.project(corner(v, s, lat, z)) else { continue };
        let depth = view.pinhole.depth(corner(v, s, lat, z)).max(1.0);
        let r = (view.pinhole.focal_px * 0.12 / depth).max(1.0);
        if toward {
            let glare = 1.0 - light.ambient;
            for (k, add) in [(5.0, 18.0), (3.0, 40.0), (1.8, 90.0)] {
                let a = (add * glare) as u8;
                f.fill_disc(px, r * k, Blend::Add([a, a, a.saturating_sub(10)]));
            }
            f.fill_disc(px, r, Blend::Replace([255, 255, 240]));
        } else {
            f.fill_disc(px, r * 2.0, Blend::Add([70, 5, 5]));
            f.fill_disc(px, r * 0.8, Blend::Replace([230, 30, 25]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::camera::lighting::TimeOfDay;
    use nutgiao_config::CameraPose;
    use nutgiao_config::pose::Pinhole;

    fn vehicle(class: VehicleClass, x: f64, heading: f64) -> VehicleView {
        let (length_m, width_m) = match class {
            VehicleClass::Car => (4.5, 1.8),
            VehicleClass::Motorbike => (1.9, 0.7),
            VehicleClass::Bus => (12.0, 2.5),
            VehicleClass::Truck => (9.0, 2.5),
        };
        VehicleView {
            id: 3,
            class,
            link: "WJ1".into(),
            lane: 0,
            lateral_m: 0.0,
            distance_m: 0.0,
            speed_ms: 10.0,
            accel_ms2: 0.0,
            x,
            y: -4.8,
            heading_deg: heading,
            length_m,
            width_m,
            misbehaviour: None,
            wrong_way: false,
        }
    }

    #[test]
    fn every_pixel_a_vehicle_changes_lies_inside_its_truth_box() {
        let pose = CameraPose {
            position_m: [14.0, -13.0, 11.0],
            heading_deg: 283.0,
            tilt_deg: 19.0,
            horizontal_fov_deg: 62.0,
        };
        let view = View::new(Pinhole::new(&pose, [1280, 720]));
        for class in VehicleClass::ALL {
            for (x, heading) in [(-20.0, 90.0), (-45.0, 270.0), (-10.0, 45.0)] {
                let light = Conditions::clean(TimeOfDay::Day);
                let v = vehicle(class, x, heading);
                let bg = Frame::new(1280, 720, [1, 2, 3]);
                let mut f = bg.clone();
                draw_body(&mut f, &v, &view, &light, 0);
                let b = image_box(&v, &view, 1280, 720).expect("in view");
                let mut changed = 0;
                for y in 0..720 {
                    for x in 0..1280 {
                        if f.pixel(x, y) != bg.pixel(x, y) {
                            changed += 1;
                            let (cx, cy) = (x as f64 + 0.5, y as f64 + 0.5);
                            assert!(
                                cx >= b[0] && cx <= b[0] + b[2] && cy >= b[1] && cy <= b[1] + b[3],
                                "{class:?} pixel {x},{y} outside {b:?}"
                            );
                        }
                    }
                }
                // And the box is not much bigger than what was drawn (it is tight).
                assert!(changed as f64 > 0.3 * b[2] * b[3], "{class:?}: {changed} px in a {b:?} box");
            }
        }
    }

    #[test]
    fn a_bus_stands_taller_on_screen_than_a_car_at_the_same_place() {
        let pose = CameraPose {
            position_m: [14.0, -13.0, 11.0],
            heading_deg: 283.0,
            tilt_deg: 19.0,
            horizontal_fov_deg: 62.0,
        };
        let view = View::new(Pinhole::new(&pose, [1280, 720]));
        let car = image_box(&vehicle(VehicleClass::Car, -20.0, 90.0), &view, 1280, 720).unwrap();
        let bus = image_box(&vehicle(VehicleClass::Bus, -20.0, 90.0), &view, 1280, 720).unwrap();
        assert!(bus[3] > car[3] * 1.5);
    }
}
