//! The static part of a camera's picture, drawn once: sky, verges, pavements, asphalt,
//! junction boxes, lane lines, kerbs, stop lines, zebra crossings and the signal heads'
//! housings and poles. Per frame it is only copied.

use nutgiao_config::{Camera, Site};

use super::lighting::Conditions;
use super::raster::{Blend, Frame, Rgb};
use super::view::View;
use crate::network::Network;

const SKY: Rgb = [150, 180, 215];
const VERGE: Rgb = [96, 108, 78];
const PAVEMENT: Rgb = [158, 154, 146];
const ASPHALT: Rgb = [74, 75, 78];
const PAINT: Rgb = [225, 225, 220];
const YELLOW: Rgb = [215, 180, 60];
const HOUSING: Rgb = [28, 30, 28];

/// Pavement beyond the kerb (m).
const PAVEMENT_M: f64 = 3.0;

/// A rectangle along a link: `s` along the direction of travel from its start, `off` to
/// the right of the road centre line, in site metres.
fn strip(start: (f64, f64), dir: (f64, f64), s: [f64; 2], off: [f64; 2]) -> [[f64; 2]; 4] {
    let right = (dir.1, -dir.0);
    let p = |s: f64, o: f64| [start.0 + dir.0 * s + right.0 * o, start.1 + dir.1 * s + right.1 * o];
    [p(s[0], off[0]), p(s[1], off[0]), p(s[1], off[1]), p(s[0], off[1])]
}

pub(crate) fn background(site: &Site, net: &Network, camera: &Camera, view: &View, light: &Conditions) -> Frame {
    let (w, h) = (camera.resolution[0] as usize, camera.resolution[1] as usize);
    let flat = |c: Rgb| light.lit(c, [0.0, 0.0, 1.0]);
    let mut f = Frame::new(w, h, flat(VERGE));
    // Sky above the horizon: rows whose centre pixel sees no ground.
    let sky = light.lit(SKY, [0.0, 0.0, 1.0]);
    for y in 0..h {
        if view.pinhole.ground_of_pixel([w as f64 / 2.0, y as f64 + 0.5]).is_none() {
            f.fill_polygon(
                &[[0.0, y as f64], [w as f64, y as f64], [w as f64, y as f64 + 1.0], [0.0, y as f64 + 1.0]],
                Blend::Replace(sky),
            );
        }
    }
    let ground = |f: &mut Frame, pts: &[[f64; 2]], c: Rgb| {
        let poly = view.ground(pts);
        f.fill_polygon(&poly, Blend::Replace(flat(c)));
    };
    for l in &net.links {
        let width = f64::from(l.lanes) * l.lane_width;
        ground(&mut f, &strip(l.start, l.dir, [0.0, l.length], [0.0, width + PAVEMENT_M]), PAVEMENT);
    }
    for i in &site.intersections {
        let (hx, hy) = junction_half_extent(site, net, i);
        let b = [
            [i.x - hx - PAVEMENT_M, i.y - hy - PAVEMENT_M],
            [i.x + hx + PAVEMENT_M, i.y - hy - PAVEMENT_M],
            [i.x + hx + PAVEMENT_M, i.y + hy + PAVEMENT_M],
            [i.x - hx - PAVEMENT_M, i.y + hy + PAVEMENT_M],
        ];
        ground(&mut f, &b, PAVEMENT);
    }
    for l in &net.links {
        let width = f64::from(l.lanes) * l.lane_width;
        ground(&mut f, &strip(l.start, l.dir, [0.0, l.length], [0.0, width]), ASPHALT);
    }
    for i in &site.intersections {
        let (hx, hy) = junction_half_extent(site, net, i);
        ground(
            &mut f,
            &[[i.x - hx, i.y - hy], [i.x + hx, i.y - hy], [i.x + hx, i.y + hy], [i.x - hx, i.y + hy]],
            ASPHALT,
        );
    }
    for (k, l) in net.links.iter().enumerate() {
        let width = f64::from(l.lanes) * l.lane_width;
        let at_signal = site.links.get(k).is_some_and(|sl| site.intersection(&sl.to).is_some());
        // The centre line is drawn by both directions; the same paint twice is harmless.
        ground(&mut f, &strip(l.start, l.dir, [0.0, l.length], [-0.08, 0.08]), YELLOW);
        ground(&mut f, &strip(l.start, l.dir, [0.0, l.length], [width - 0.25, width - 0.1]), PAINT);
        for lane in 1..l.lanes {
            let off = f64::from(lane) * l.lane_width;
            // Solid for the last 30 m before a stop line (no lane changes), dashed 3 m / 6 m before.
            let solid_from = if at_signal { (l.length - 30.0).max(0.0) } else { l.length };
            let mut s = 2.0;
            while s + 3.0 < solid_from {
                ground(&mut f, &strip(l.start, l.dir, [s, s + 3.0], [off - 0.07, off + 0.07]), PAINT);
                s += 9.0;
            }
            ground(&mut f, &strip(l.start, l.dir, [solid_from, l.length], [off - 0.07, off + 0.07]), PAINT);
        }
        if at_signal {
            ground(&mut f, &strip(l.start, l.dir, [l.length - 0.5, l.length], [0.0, width]), PAINT);
            // Zebra crossing just inside the junction mouth, across the whole carriageway.
            let mut o = -width;
            while o < width {
                ground(
                    &mut f,
                    &strip(l.start, l.dir, [l.length + 1.0, l.length + 4.0], [o, (o + 0.5).min(width)]),
                    PAINT,
                );
                o += 1.0;
            }
        }
    }
    for head in &camera.signal_heads {
        draw_signal_housing(&mut f, &head.lamps, light);
    }
    f
}

/// Half the junction box along x and y: each approach's crossing length along its link.
fn junction_half_extent(site: &Site, net: &Network, i: &nutgiao_config::Intersection) -> (f64, f64) {
    let (mut hx, mut hy) = (0.0f64, 0.0f64);
    for a in &i.approaches {
        let Some(k) = net.link_by_id(&a.link) else { continue };
        let l = &net.links[k as usize];
        let half = a.crossing_m.unwrap_or(i.width_m) / 2.0;
        hx = hx.max(l.dir.0.abs() * half);
        hy = hy.max(l.dir.1.abs() * half);
    }
    let _ = site;
    if hx == 0.0 && hy == 0.0 { (i.width_m / 2.0, i.width_m / 2.0) } else { (hx.max(3.0), hy.max(3.0)) }
}

/// Lamp spacing in pixels, which sets the size of the housing and the lamps.
pub(crate) fn lamp_pitch(lamps: &[[f64; 2]; 3]) -> f64 {
    ((lamps[2][0] - lamps[0][0]).hypot(lamps[2][1] - lamps[0][1]) / 2.0).max(3.0)
}

fn draw_signal_housing(f: &mut Frame, lamps: &[[f64; 2]; 3], light: &Conditions) {
    let p = lamp_pitch(lamps);
    let (top, bottom) = (lamps[0], lamps[2]);
    let half = p * 0.6;
    let pole = light.lit([90, 90, 88], [0.0, -1.0, 0.0]);
    // Pole from the housing down towards the kerb, as long as five heads.
    f.fill_polygon(
        &[
            [bottom[0] - p * 0.12, bottom[1]],
            [bottom[0] + p * 0.12, bottom[1]],
            [bottom[0] + p * 0.12, bottom[1] + p * 9.0],
            [bottom[0] - p * 0.12, bottom[1] + p * 9.0],
        ],
        Blend::Replace(pole),
    );
    f.fill_polygon(
        &[
            [top[0] - half, top[1] - half],
            [top[0] + half, top[1] - half],
            [bottom[0] + half, bottom[1] + half],
            [bottom[0] - half, bottom[1] + half],
        ],
        Blend::Replace(HOUSING),
    );
}
