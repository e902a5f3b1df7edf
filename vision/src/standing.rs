//! Vehicles standing in no-stopping zones, seen against a long-term picture of the empty road.
//!
//! The background detector cannot see them for long: its model takes a colour that stays
//! put for a couple of seconds into the background, and the hold that keeps a waiting car
//! in the foreground needs a clean confirmed track under 3 km/h. A car that pulls in to the
//! kerb beside moving traffic has neither: on the synthetic films its blob merged with the
//! cars passing it while it slowed down, its tracks jumped, and it was gone from the mask
//! (and from the tracker) 1-3 s after it stopped. So every no-stopping zone of a camera is
//! watched here on its own, as the dual-background detectors of abandoned objects do: a
//! reference picture of the zone's surroundings that learns only where the picture matches
//! it (slow changes of light), and samples 5 times a second. A pixel is standing when it
//! differs from the reference and has not changed for `STABLE_S`; standing pixels make up
//! objects, and an object whose foot is in the zone for longer than the zone's dwell is a
//! vehicle stopping there. Objects that touch are one stop (a car queued behind a stopped
//! one stands with it), reported once, by the first to stand.

use std::collections::VecDeque;

use nutgiao_config::{Zone, ZoneKind};
use opencv::core::{Mat, Rect, Size};
use opencv::imgproc;
use opencv::prelude::*;

use crate::detect::BoxPx;
use crate::violations::inside;

/// Seconds between samples.
const SAMPLE_S: f64 = 0.2;
/// The reference starts as the per-pixel median of one sample a second over this long;
/// nothing is reported before (a film of the simulator starts with an empty road; a real
/// camera needs its zone clear for more than half of this).
const WARM_S: f64 = 10.0;
/// A pixel differs from the reference by more than this (sum over B, G and R).
const FG_DIFF: i32 = 45;
/// A pixel is still when it is within this (sum over B, G, R) of itself `STABLE_S` ago and
/// half that ago. Moving traffic changes a pixel faster; a car's uniform roof does not, at a
/// crawl, which is why an object also has to last the zone's whole dwell.
const STILL_DIFF: i32 = 30;
const STABLE_S: f64 = 1.0;
/// Learning rate of the reference per sample where it matches the picture.
const LEARN: f32 = 0.05;
/// Standing pixels in a working-size object (640 px wide pictures): a car 60 m out is about
/// 28 x 17 working pixels.
const MIN_AREA: usize = 120;
/// An object missed for longer than this has left (traffic passing in front of it hides it
/// for a second or two, and its pixels are not still again until `STABLE_S` after). A
/// reported stop is remembered for `REPORTED_GAP_S`, so that a vehicle hidden for longer by
/// a queue of traffic is not reported again when it shows.
const GAP_S: f64 = 8.0;
const REPORTED_GAP_S: f64 = 60.0;
/// A box is the first vehicle's again when it overlaps the first box by this (IoU).
const SAME_BOX_IOU: f64 = 0.5;
/// Stops whose boxes, grown by this share of their size, overlap are one stop.
const TOUCH: f64 = 0.25;
/// Width at which the zone's surroundings are sampled.
const WORK_WIDTH: f64 = 640.0;

/// A stop found standing in a zone longer than its dwell.
#[derive(Debug, Clone, PartialEq)]
pub struct StandingFinding {
    pub zone: String,
    /// The first vehicle to stand (processing pixels).
    pub bbox: BoxPx,
    pub since_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Standing {
    /// Box of the first object of the stop, and of the whole stop (processing pixels).
    first: BoxPx,
    extent: BoxPx,
    /// Area (working pixels) of `first` when it was largest: its box is kept at that.
    area: usize,
    since: f64,
    last_seen: f64,
    reported: bool,
}

/// The standing pixels of one sample, in the working crop.
struct Sample {
    t: f64,
    px: Vec<[u8; 3]>,
}

/// One camera's no-stopping zones, watched for standing vehicles.
pub struct StandingWatch {
    zones: Vec<(String, Vec<[f64; 2]>, f64)>,
    /// The sampled area in processing pixels, and the processing size it was made for.
    area: Rect,
    size: [f64; 2],
    /// Working size of the crop (columns, rows) and processing pixels per working pixel.
    work: [usize; 2],
    factor: f64,
    warm: Vec<Vec<[u8; 3]>>,
    started: Option<f64>,
    reference: Vec<[f32; 3]>,
    recent: VecDeque<Sample>,
    last_sample: Option<f64>,
    stops: Vec<Standing>,
}

impl StandingWatch {
    /// `size` is the processing size (columns, rows); `None` when the camera has no
    /// no-stopping zone.
    pub fn new(zones: &[Zone], size: [f64; 2]) -> Option<Self> {
        let zones: Vec<(String, Vec<[f64; 2]>, f64)> = zones
            .iter()
            .filter(|z| z.kind == ZoneKind::NoStopping && z.points.len() >= 3)
            .map(|z| (z.id.clone(), z.points.clone(), z.max_dwell_s.unwrap_or(60.0)))
            .collect();
        if zones.is_empty() {
            return None;
        }
        let pts = zones.iter().flat_map(|z| z.1.iter());
        let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for p in pts {
            (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
        }
        // A vehicle standing in the zone rises above it in the picture and spills sideways.
        let (x0, x1) = ((x0 - 0.05 * size[0]).max(0.0), (x1 + 0.05 * size[0]).min(size[0]));
        let (y0, y1) = ((y0 - 0.125 * size[1]).max(0.0), (y1 + 0.03 * size[1]).min(size[1]));
        let area = Rect::new(x0 as i32, y0 as i32, (x1 - x0) as i32, (y1 - y0) as i32);
        if area.width < 4 || area.height < 4 {
            return None;
        }
        let factor = (size[0] / WORK_WIDTH).max(1.0);
        let work =
            [(f64::from(area.width) / factor).round() as usize, (f64::from(area.height) / factor).round() as usize];
        Some(Self {
            zones,
            area,
            size,
            work,
            factor,
            warm: Vec::new(),
            started: None,
            reference: Vec::new(),
            recent: VecDeque::new(),
            last_sample: None,
            stops: Vec::new(),
        })
    }

    /// Looks at a frame (BGR, processing size or scaled from it) at stream time `t_s`.
    pub fn observe(&mut self, t_s: f64, image: &Mat) -> opencv::Result<Vec<StandingFinding>> {
        if self.last_sample.is_some_and(|t| t_s - t < SAMPLE_S - 1e-6 && t_s >= t) {
            return Ok(Vec::new());
        }
        self.last_sample = Some(t_s);
        let s = f64::from(image.cols()) / self.size[0];
        let x = ((f64::from(self.area.x) * s) as i32).clamp(0, image.cols() - 1);
        let y = ((f64::from(self.area.y) * s) as i32).clamp(0, image.rows() - 1);
        let r = Rect::new(
            x,
            y,
            ((f64::from(self.area.width) * s) as i32).clamp(1, image.cols() - x),
            ((f64::from(self.area.height) * s) as i32).clamp(1, image.rows() - y),
        );
        let crop = Mat::roi(image, r)?;
        let mut small = Mat::default();
        imgproc::resize(
            &crop,
            &mut small,
            Size::new(self.work[0] as i32, self.work[1] as i32),
            0.0,
            0.0,
            imgproc::INTER_AREA,
        )?;
        let small = small.try_clone()?;
        let bytes = small.data_bytes()?;
        let px: Vec<[u8; 3]> = bytes.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect();
        Ok(self.sample(t_s, px))
    }

    /// One sample of the working crop (`work` columns x rows, BGR).
    fn sample(&mut self, t_s: f64, px: Vec<[u8; 3]>) -> Vec<StandingFinding> {
        if px.len() != self.work[0] * self.work[1] {
            return Vec::new();
        }
        let started = *self.started.get_or_insert(t_s);
        if self.reference.is_empty() {
            let since_warm = self.warm.len() as f64;
            if t_s - started >= since_warm {
                self.warm.push(px.clone());
            }
            if t_s - started >= WARM_S {
                self.reference = median(&self.warm);
                self.warm = Vec::new();
            }
            self.remember(t_s, px);
            return Vec::new();
        }
        let standing = self.standing_pixels(t_s, &px);
        self.learn(&px, &standing);
        self.remember(t_s, px);
        let objects = components(&standing, self.work, MIN_AREA);
        self.follow(t_s, &objects);
        self.findings(t_s)
    }

    fn remember(&mut self, t_s: f64, px: Vec<[u8; 3]>) {
        self.recent.push_back(Sample { t: t_s, px });
        while self.recent.front().is_some_and(|s| t_s - s.t > STABLE_S + 2.0 * SAMPLE_S) {
            self.recent.pop_front();
        }
    }

    /// The sample nearest to `age` seconds before `t_s`.
    fn ago(&self, t_s: f64, age: f64) -> Option<&Sample> {
        self.recent
            .iter()
            .min_by(|a, b| ((t_s - a.t) - age).abs().total_cmp(&((t_s - b.t) - age).abs()))
            .filter(|s| ((t_s - s.t) - age).abs() <= SAMPLE_S)
    }

    fn standing_pixels(&self, t_s: f64, px: &[[u8; 3]]) -> Vec<bool> {
        let (Some(a), Some(b)) = (self.ago(t_s, STABLE_S), self.ago(t_s, STABLE_S / 2.0)) else {
            return vec![false; px.len()];
        };
        px.iter()
            .enumerate()
            .map(|(i, p)| {
                let r = self.reference[i];
                let fg = (0..3).map(|c| (f32::from(p[c]) - r[c]).abs() as i32).sum::<i32>() > FG_DIFF;
                fg && !shadow(*p, r) && diff(*p, a.px[i]) <= STILL_DIFF && diff(*p, b.px[i]) <= STILL_DIFF
            })
            .collect()
    }

    /// The reference follows the picture where it matches it (light changes slowly); under
    /// anything standing or passing it keeps the road.
    fn learn(&mut self, px: &[[u8; 3]], standing: &[bool]) {
        for (i, p) in px.iter().enumerate() {
            let r = &mut self.reference[i];
            let d = (0..3).map(|c| (f32::from(p[c]) - r[c]).abs() as i32).sum::<i32>();
            if d <= FG_DIFF && !standing[i] {
                for c in 0..3 {
                    r[c] += LEARN * (f32::from(p[c]) - r[c]);
                }
            }
        }
    }

    /// Matches this sample's objects (working-crop boxes with their areas) to the stops.
    fn follow(&mut self, t_s: f64, objects: &[(BoxPx, usize)]) {
        for (b, area) in objects {
            let b = self.to_processing(b);
            match self.stops.iter_mut().find(|s| touch(&s.extent, &b, 0.0) || touch(&s.first, &b, 0.0)) {
                Some(s) => {
                    s.last_seen = t_s;
                    if s.first.iou(&b) >= SAME_BOX_IOU && *area >= s.area {
                        // The first vehicle's box, seen whole again.
                        s.first = b;
                        s.area = *area;
                    }
                    s.extent = union(&s.extent, &b);
                }
                None => self.stops.push(Standing {
                    first: b,
                    extent: b,
                    area: *area,
                    since: t_s - STABLE_S,
                    last_seen: t_s,
                    reported: false,
                }),
            }
        }
        self.stops.retain(|s| t_s - s.last_seen <= if s.reported { REPORTED_GAP_S } else { GAP_S });
        // A stop next to an older one in a zone is part of it: a vehicle queued behind a
        // stopped one stands with it. (Not next to one outside the zones: a queue waiting at
        // a red light beside the zone must not take in a car that stops by it.)
        self.stops.sort_by(|a, b| a.since.total_cmp(&b.since));
        let zones = &self.zones;
        let in_zone = |b: &BoxPx| zones.iter().any(|(_, poly, _)| inside(poly, b.ground_point()));
        let mut merged: Vec<Standing> = Vec::new();
        for s in std::mem::take(&mut self.stops) {
            match merged.iter_mut().find(|m| in_zone(&m.first) && touch(&m.extent, &s.extent, TOUCH)) {
                Some(m) => {
                    m.extent = union(&m.extent, &s.extent);
                    m.last_seen = m.last_seen.max(s.last_seen);
                    m.reported |= s.reported;
                }
                None => merged.push(s),
            }
        }
        self.stops = merged;
    }

    fn findings(&mut self, t_s: f64) -> Vec<StandingFinding> {
        let mut out = Vec::new();
        for s in &mut self.stops {
            if s.reported || t_s - s.last_seen > 1e-9 {
                continue;
            }
            let foot = s.first.ground_point();
            let Some((id, _, _)) =
                self.zones.iter().find(|(_, poly, dwell)| inside(poly, foot) && t_s - s.since > *dwell)
            else {
                continue;
            };
            s.reported = true;
            out.push(StandingFinding { zone: id.clone(), bbox: s.first, since_s: s.since });
        }
        out
    }

    fn to_processing(&self, b: &BoxPx) -> BoxPx {
        BoxPx {
            x: f64::from(self.area.x) + b.x * self.factor,
            y: f64::from(self.area.y) + b.y * self.factor,
            w: b.w * self.factor,
            h: b.h * self.factor,
        }
    }
}

fn diff(a: [u8; 3], b: [u8; 3]) -> i32 {
    (0..3).map(|c| (i32::from(a[c]) - i32::from(b[c])).abs()).sum()
}

/// A darker copy of the reference with its colour (a cast shadow on the road).
fn shadow(p: [u8; 3], r: [f32; 3]) -> bool {
    let ratios: Vec<f32> = (0..3).map(|c| f32::from(p[c]) / r[c].max(1.0)).collect();
    let (lo, hi) = ratios.iter().fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    lo >= 0.35 && hi <= 0.92 && hi - lo <= 0.08
}

fn median(samples: &[Vec<[u8; 3]>]) -> Vec<[f32; 3]> {
    let n = samples.first().map_or(0, Vec::len);
    (0..n)
        .map(|i| {
            let mut out = [0.0; 3];
            for (c, o) in out.iter_mut().enumerate() {
                let mut v: Vec<u8> = samples.iter().map(|s| s[i][c]).collect();
                v.sort_unstable();
                *o = f32::from(v[v.len() / 2]);
            }
            out
        })
        .collect()
}

/// Boxes grown by `grow` of their size overlap.
fn touch(a: &BoxPx, b: &BoxPx, grow: f64) -> bool {
    let g = |x: &BoxPx| BoxPx {
        x: x.x - grow * x.w,
        y: x.y - grow * x.h,
        w: x.w * (1.0 + 2.0 * grow),
        h: x.h * (1.0 + 2.0 * grow),
    };
    let (a, b) = (g(a), g(b));
    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h
}

fn union(a: &BoxPx, b: &BoxPx) -> BoxPx {
    let (x0, y0) = (a.x.min(b.x), a.y.min(b.y));
    let (x1, y1) = ((a.x + a.w).max(b.x + b.w), (a.y + a.h).max(b.y + b.h));
    BoxPx { x: x0, y: y0, w: x1 - x0, h: y1 - y0 }
}

/// Connected groups (8-neighbours, after bridging one-pixel gaps) of `mask` (`work`
/// columns x rows) with at least `min_area` set pixels: their boxes and areas.
fn components(mask: &[bool], work: [usize; 2], min_area: usize) -> Vec<(BoxPx, usize)> {
    let [w, h] = work;
    // Bridge: a pixel with set pixels on both sides (across, down or diagonally) joins them.
    let at = |x: isize, y: isize| {
        x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h && mask[y as usize * w + x as usize]
    };
    let joined: Vec<bool> = (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as isize, (i / w) as isize);
            mask[i]
                || [(1, 0), (0, 1), (1, 1), (1, -1)].iter().any(|&(dx, dy)| at(x - dx, y - dy) && at(x + dx, y + dy))
        })
        .collect();
    let mut label = vec![false; w * h];
    let mut out = Vec::new();
    for start in 0..w * h {
        if !joined[start] || label[start] {
            continue;
        }
        label[start] = true;
        let mut stack = vec![start];
        let (mut x0, mut y0, mut x1, mut y1, mut area) = (w, h, 0, 0, 0);
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            if mask[i] {
                area += 1;
                (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            }
            for dy in -1isize..=1 {
                for dx in -1isize..=1 {
                    let (nx, ny) = (x as isize + dx, y as isize + dy);
                    if nx < 0 || ny < 0 || nx as usize >= w || ny as usize >= h {
                        continue;
                    }
                    let j = ny as usize * w + nx as usize;
                    if joined[j] && !label[j] {
                        label[j] = true;
                        stack.push(j);
                    }
                }
            }
        }
        if area >= min_area {
            let b = BoxPx { x: x0 as f64, y: y0 as f64, w: (x1 - x0 + 1) as f64, h: (y1 - y0 + 1) as f64 };
            out.push((b, area));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROAD: [u8; 3] = [90, 92, 95];

    /// A camera 640 x 360 whose zone is the rectangle 200-400 x 150-250; the watch samples
    /// 168-432 x 105-260.
    fn watch() -> StandingWatch {
        let zone = Zone {
            id: "kerb".into(),
            kind: ZoneKind::NoStopping,
            points: vec![[200.0, 150.0], [400.0, 150.0], [400.0, 250.0], [200.0, 250.0]],
            approach: None,
            max_dwell_s: Some(20.0),
            speed_limit_kmh: None,
        };
        StandingWatch::new(&[zone], [640.0, 360.0]).unwrap()
    }

    /// The crop of a picture with cars (boxes in processing pixels, one colour each) on the
    /// road, with a little deterministic noise.
    fn picture(w: &StandingWatch, cars: &[(BoxPx, [u8; 3])], n: u32) -> Vec<[u8; 3]> {
        let [cols, rows] = w.work;
        (0..cols * rows)
            .map(|i| {
                let (x, y) =
                    (f64::from(w.area.x) + (i % cols) as f64 + 0.5, f64::from(w.area.y) + (i / cols) as f64 + 0.5);
                let noise = ((i as u32).wrapping_mul(2654435761).wrapping_add(n.wrapping_mul(40503)) >> 29) as u8;
                let c = cars
                    .iter()
                    .rev()
                    .find(|(b, _)| x >= b.x && x < b.x + b.w && y >= b.y && y < b.y + b.h)
                    .map_or(ROAD, |(_, c)| *c);
                c.map(|v| v.saturating_add(noise))
            })
            .collect()
    }

    fn car(x: f64, y: f64) -> BoxPx {
        BoxPx { x, y, w: 40.0, h: 25.0 }
    }

    /// Runs the watch for `seconds` at 5 samples a second over the cars `scene(t)` shows;
    /// returns the findings with their times.
    fn run(seconds: f64, scene: impl Fn(f64) -> Vec<(BoxPx, [u8; 3])>) -> Vec<(f64, StandingFinding)> {
        let mut w = watch();
        let mut out = Vec::new();
        for k in 0..(seconds / SAMPLE_S).round() as u32 {
            let t = f64::from(k) * SAMPLE_S;
            let px = picture(&w, &scene(t), k);
            out.extend(w.sample(t, px).into_iter().map(|f| (t, f)));
        }
        out
    }

    /// A car passing through the picture from left to right at 100 px/s, in front of the
    /// kerb (rows 200-230), every 6 s from `from`.
    fn passing(t: f64, from: f64) -> Option<(BoxPx, [u8; 3])> {
        let phase = (t - from).rem_euclid(6.0);
        (t >= from && phase < 4.0)
            .then_some((BoxPx { x: 150.0 + 100.0 * phase, y: 205.0, w: 45.0, h: 28.0 }, [30, 160, 200]))
    }

    #[test]
    fn a_car_that_stops_in_the_zone_is_reported_once_after_the_dwell() {
        // Drives in along the zone at 13 s, stops at 14 s with its foot at (300, 205),
        // stands till 50 s; traffic passes in front of it every 6 s.
        let found = run(50.0, |t| {
            let mut cars = Vec::new();
            match t {
                t if t < 13.0 => {}
                t if t < 14.0 => cars.push((car(180.0 + 100.0 * (t - 13.0), 180.0), [200, 40, 40])),
                _ => cars.push((car(280.0, 180.0), [200, 40, 40])),
            }
            cars.extend(passing(t, 12.0));
            cars
        });
        assert_eq!(found.len(), 1, "{found:?}");
        let (t, f) = &found[0];
        assert_eq!(f.zone, "kerb");
        assert!((33.5..36.5).contains(t), "reported at {t}: {f:?}");
        assert!((f.bbox.x - 280.0).abs() < 3.0 && (f.bbox.y + f.bbox.h - 205.0).abs() < 3.0, "{f:?}");
    }

    #[test]
    fn a_car_queued_behind_a_stopped_one_stands_with_it() {
        // The second car stops 3 s later just behind (lower in the picture) the first.
        let found = run(50.0, |t| {
            let mut cars = Vec::new();
            if t >= 14.0 {
                cars.push((car(280.0, 180.0), [200, 40, 40]));
            }
            if t >= 17.0 {
                cars.push((BoxPx { x: 300.0, y: 198.0, w: 46.0, h: 29.0 }, [40, 200, 60]));
            }
            cars
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert!((found[0].1.bbox.x - 280.0).abs() < 3.0, "the first to stand: {found:?}");
    }

    #[test]
    fn passing_traffic_a_short_stop_and_a_stop_beside_the_zone_are_not_reported() {
        let found = run(60.0, |t| {
            let mut cars: Vec<(BoxPx, [u8; 3])> =
                (0..3).filter_map(|k| passing(t, 10.0 + 2.0 * f64::from(k))).collect();
            // Stands for 15 s in the zone.
            if (14.0..29.0).contains(&t) {
                cars.push((car(250.0, 170.0), [200, 200, 40]));
            }
            // Stands for 45 s with its foot (417, 240) right of the zone.
            if t >= 12.0 {
                cars.push((BoxPx { x: 405.0, y: 215.0, w: 25.0, h: 25.0 }, [40, 40, 200]));
            }
            cars
        });
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn a_car_that_stops_beside_a_queue_outside_the_zone_is_a_stop_of_its_own() {
        // A queue waits from 10.5 s with its foot (183, 190) left of the zone; a car stops
        // beside it, in the zone, at 14 s.
        let found = run(50.0, |t| {
            let mut cars = Vec::new();
            if t >= 10.5 {
                cars.push((BoxPx { x: 168.0, y: 150.0, w: 30.0, h: 40.0 }, [40, 40, 200]));
            }
            if t >= 14.0 {
                cars.push((car(203.0, 165.0), [200, 40, 40]));
            }
            cars
        });
        assert_eq!(found.len(), 1, "{found:?}");
        assert!((found[0].1.bbox.x - 203.0).abs() < 3.0 && (34.0..36.5).contains(&found[0].0), "{found:?}");
    }

    #[test]
    fn components_bridge_one_pixel_gaps_and_drop_specks() {
        // 10 x 4: a block of 2 columns, a gap column, a block of 2 columns; one speck.
        let mut mask = vec![false; 40];
        for y in 0..4 {
            for x in [1, 2, 4, 5] {
                mask[y * 10 + x] = true;
            }
        }
        mask[9] = true;
        let c = components(&mask, [10, 4], 3);
        assert_eq!(c.len(), 1, "{c:?}");
        assert_eq!(c[0], (BoxPx { x: 1.0, y: 0.0, w: 5.0, h: 4.0 }, 16));
    }
}
