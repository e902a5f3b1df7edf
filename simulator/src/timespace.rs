//! Time-space diagrams of an arterial direction: each vehicle's distance along the
//! arterial against time, with the signal indication drawn as a bar at each stop line.
//! SVG with labels; PNG raster of the same picture (axes and ticks, no text, so it needs no
//! font on the machine).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use nutgiao_controller::Indication;

use crate::{ArterialRecord, SimError};

const W: f64 = 1400.0;
const H: f64 = 800.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
const BAR_HALF: f64 = 3.0;

fn colour(ind: Indication) -> (u8, u8, u8) {
    match ind {
        Indication::Green => (0, 170, 0),
        Indication::Yellow | Indication::FlashingYellow => (240, 190, 0),
        Indication::Red | Indication::FlashingRed => (220, 0, 0),
    }
}

struct Frame {
    t0: f64,
    t1: f64,
    length: f64,
}

impl Frame {
    fn of(rec: &ArterialRecord) -> Frame {
        let (mut t0, mut t1) = (f64::INFINITY, f64::NEG_INFINITY);
        for p in &rec.points {
            t0 = t0.min(f64::from(p.t));
            t1 = t1.max(f64::from(p.t));
        }
        for (_, _, ch) in &rec.signals {
            if let (Some(a), Some(b)) = (ch.first(), ch.last()) {
                t0 = t0.min(a.0);
                t1 = t1.max(b.0);
            }
        }
        if !t0.is_finite() || t1 <= t0 {
            (t0, t1) = (0.0, 1.0);
        }
        Frame { t0, t1, length: rec.length_m.max(1.0) }
    }
    fn x(&self, t: f64) -> f64 {
        LEFT + (t - self.t0) / (self.t1 - self.t0) * (W - LEFT - RIGHT)
    }
    fn y(&self, d: f64) -> f64 {
        H - BOTTOM - d / self.length * (H - TOP - BOTTOM)
    }
}

/// Trajectories split where a vehicle was not sampled for a while (it left and came back).
fn polylines(rec: &ArterialRecord) -> Vec<Vec<(f64, f64)>> {
    let mut by_vehicle: BTreeMap<u64, Vec<(f64, f64)>> = BTreeMap::new();
    for p in &rec.points {
        by_vehicle.entry(p.vehicle).or_default().push((f64::from(p.t), f64::from(p.d)));
    }
    let mut out = Vec::new();
    for (_, pts) in by_vehicle {
        let mut cur: Vec<(f64, f64)> = Vec::new();
        for p in pts {
            if cur.last().is_some_and(|q| p.0 - q.0 > 3.0 || p.1 < q.1 - 1.0) {
                out.push(std::mem::take(&mut cur));
            }
            cur.push(p);
        }
        out.push(cur);
    }
    out.retain(|l| l.len() > 1);
    out
}

/// Signal bars: (distance, start, end, indication) for every indication interval.
fn bars(rec: &ArterialRecord, f: &Frame) -> Vec<(f64, f64, f64, Indication)> {
    let mut out = Vec::new();
    for (d, _, ch) in &rec.signals {
        for (k, (t, ind)) in ch.iter().enumerate() {
            let end = ch.get(k + 1).map_or(f.t1, |n| n.0);
            out.push((*d, *t, end, *ind));
        }
    }
    out
}

/// The diagram as an SVG document.
pub fn svg(rec: &ArterialRecord) -> String {
    let f = Frame::of(rec);
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="{LEFT}" y="22" font-size="16">Time-space diagram, {}</text>"#, rec.name);
    for (d, a, b, ind) in bars(rec, &f) {
        let (r, g, bl) = colour(ind);
        let _ = writeln!(
            s,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="rgb({r},{g},{bl})"/>"#,
            f.x(a),
            f.y(d) - BAR_HALF,
            (f.x(b) - f.x(a)).max(0.5),
            2.0 * BAR_HALF
        );
    }
    for (d, id, _) in &rec.signals {
        let _ = writeln!(s, r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{id}</text>"#, LEFT - 6.0, f.y(*d) + 4.0);
    }
    for line in polylines(rec) {
        let pts: Vec<String> = line.iter().map(|(t, d)| format!("{:.1},{:.1}", f.x(*t), f.y(*d))).collect();
        let _ = writeln!(
            s,
            r#"<polyline points="{}" fill="none" stroke="rgb(30,60,160)" stroke-width="0.6" stroke-opacity="0.7"/>"#,
            pts.join(" ")
        );
    }
    // Axes with ticks every so many seconds and metres.
    let _ = writeln!(s, r#"<path d="M{LEFT},{TOP} V{} H{}" stroke="black" fill="none"/>"#, H - BOTTOM, W - RIGHT);
    let t_tick = nice_tick(f.t1 - f.t0);
    let mut t = (f.t0 / t_tick).ceil() * t_tick;
    while t <= f.t1 {
        let _ = writeln!(s, r#"<text x="{:.1}" y="{}" text-anchor="middle">{t:.0}</text>"#, f.x(t), H - BOTTOM + 16.0);
        t += t_tick;
    }
    let d_tick = nice_tick(f.length);
    let mut d = 0.0;
    while d <= f.length {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="start" fill="gray">{d:.0}</text>"#,
            LEFT + 4.0,
            f.y(d) - 2.0
        );
        d += d_tick;
    }
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{}" text-anchor="middle">time (s)</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 12.0
    );
    let _ = writeln!(
        s,
        r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">distance along the arterial (m)</text>"#,
        H / 2.0,
        H / 2.0
    );
    s.push_str("</svg>\n");
    s
}

fn nice_tick(span: f64) -> f64 {
    let raw = span / 10.0;
    let mag = 10f64.powf(raw.max(1e-9).log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|t| *t >= raw).unwrap_or(10.0 * mag)
}

struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Canvas {
        Canvas { w, h, px: vec![255; w * h * 3] }
    }
    fn blend(&mut self, x: i64, y: i64, c: (u8, u8, u8), alpha: f64) {
        if x < 0 || y < 0 || x as usize >= self.w || y as usize >= self.h {
            return;
        }
        let i = (y as usize * self.w + x as usize) * 3;
        for (k, v) in [c.0, c.1, c.2].into_iter().enumerate() {
            let old = f64::from(self.px[i + k]);
            self.px[i + k] = (old + (f64::from(v) - old) * alpha).round() as u8;
        }
    }
    fn rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: (u8, u8, u8)) {
        for y in y0.round() as i64..y1.round().max(y0.round() + 1.0) as i64 {
            for x in x0.round() as i64..x1.round().max(x0.round() + 1.0) as i64 {
                self.blend(x, y, c, 1.0);
            }
        }
    }
    fn line(&mut self, a: (f64, f64), b: (f64, f64), c: (u8, u8, u8), alpha: f64) {
        let n = (b.0 - a.0).abs().max((b.1 - a.1).abs()).ceil().max(1.0) as i64;
        for k in 0..=n {
            let u = k as f64 / n as f64;
            self.blend((a.0 + (b.0 - a.0) * u).round() as i64, (a.1 + (b.1 - a.1) * u).round() as i64, c, alpha);
        }
    }
}

/// The diagram as a PNG raster.
pub fn write_png(path: &Path, rec: &ArterialRecord) -> Result<(), SimError> {
    let err = |e: std::io::Error| SimError::Write { path: path.to_owned(), source: e };
    let f = Frame::of(rec);
    let mut c = Canvas::new(W as usize, H as usize);
    for (d, a, b, ind) in bars(rec, &f) {
        c.rect(f.x(a), f.y(d) - BAR_HALF, f.x(b), f.y(d) + BAR_HALF, colour(ind));
    }
    for line in polylines(rec) {
        for w in line.windows(2) {
            c.line((f.x(w[0].0), f.y(w[0].1)), (f.x(w[1].0), f.y(w[1].1)), (30, 60, 160), 0.6);
        }
    }
    c.line((LEFT, TOP), (LEFT, H - BOTTOM), (0, 0, 0), 1.0);
    c.line((LEFT, H - BOTTOM), (W - RIGHT, H - BOTTOM), (0, 0, 0), 1.0);
    let t_tick = nice_tick(f.t1 - f.t0);
    let mut t = (f.t0 / t_tick).ceil() * t_tick;
    while t <= f.t1 {
        c.line((f.x(t), H - BOTTOM), (f.x(t), H - BOTTOM + 6.0), (0, 0, 0), 1.0);
        t += t_tick;
    }
    let file = std::fs::File::create(path).map_err(err)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), W as u32, H as u32);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut w = enc.write_header().map_err(|e| err(std::io::Error::other(e)))?;
    w.write_image_data(&c.px).map_err(|e| err(std::io::Error::other(e)))?;
    w.finish().map_err(|e| err(std::io::Error::other(e)))
}
