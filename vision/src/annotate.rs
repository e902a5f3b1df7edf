//! Drawing for the engineer's check video and for violation evidence.

use opencv::core::{Mat, Point, Scalar};
use opencv::imgproc;

use crate::camera::CameraLine;
use crate::track::{Track, TrackState};

fn pt(p: [f64; 2]) -> Point {
    Point::new(p[0].round() as i32, p[1].round() as i32)
}

fn colour_of(id: u64) -> Scalar {
    // Distinct, stable colours so an engineer can follow one vehicle by eye.
    let h = id.wrapping_mul(2654435761) as u32;
    Scalar::new((h & 0xff) as f64, (((h >> 8) & 0xff) | 64) as f64, (((h >> 16) & 0xff) | 64) as f64, 0.0)
}

pub fn text(img: &mut Mat, s: &str, at: [f64; 2], scale: f64, colour: Scalar) -> opencv::Result<()> {
    imgproc::put_text(
        img,
        s,
        pt([at[0] + 1.0, at[1] + 1.0]),
        imgproc::FONT_HERSHEY_SIMPLEX,
        scale,
        Scalar::all(0.0),
        2,
        imgproc::LINE_AA,
        false,
    )?;
    imgproc::put_text(img, s, pt(at), imgproc::FONT_HERSHEY_SIMPLEX, scale, colour, 1, imgproc::LINE_AA, false)
}

pub fn draw_track(img: &mut Mat, t: &Track, scale: f64) -> opencv::Result<()> {
    let c = if t.state == TrackState::Tentative { Scalar::new(128.0, 128.0, 128.0, 0.0) } else { colour_of(t.id) };
    let b = &t.bbox;
    imgproc::rectangle_points(img, pt([b.x, b.y]), pt([b.x + b.w, b.y + b.h]), c, 2, imgproc::LINE_8, 0)?;
    let pts: Vec<_> = t.trail.iter().map(|p| pt(p.image)).collect();
    for w in pts.windows(2) {
        imgproc::line(img, w[0], w[1], c, 1, imgproc::LINE_AA, 0)?;
    }
    let mut label = format!("{} {}", t.id, t.kind.as_str());
    if let Some(v) = t.speed_kmh() {
        label.push_str(&format!(" {v:.0}km/h"));
    }
    text(img, &label, [b.x, (b.y - 3.0).max(10.0)], 0.4 * scale, c)
}

pub fn draw_lines(
    img: &mut Mat,
    lines: &[CameraLine],
    totals: &[(String, u64, u64)],
    scale: f64,
) -> opencv::Result<()> {
    for (l, (_, fwd, back)) in lines.iter().zip(totals) {
        let g = &l.geometry;
        imgproc::line(img, pt(g.p0), pt(g.p1), Scalar::new(0.0, 255.0, 255.0, 0.0), 2, imgproc::LINE_AA, 0)?;
        text(
            img,
            &format!("{} +{fwd} -{back}", g.id),
            [g.p0[0] + 2.0, g.p0[1] - 4.0],
            0.45 * scale,
            Scalar::new(0.0, 255.0, 255.0, 0.0),
        )?;
    }
    Ok(())
}
