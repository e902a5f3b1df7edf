//! A small software rasteriser into a packed RGB buffer: filled polygons (scanline, with
//! even-odd coverage so concave kerb shapes work), blended fills for shadows and glare,
//! and discs for lamps. No anti-aliasing: the encoder's blur does that job.

/// An RGB image, 3 bytes per pixel, rows top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: usize,
    pub height: usize,
    pub data: Vec<u8>,
}

pub type Rgb = [u8; 3];

/// How a fill combines with what is already there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Blend {
    Replace(Rgb),
    /// Multiply by a factor (shadows).
    Darken(f32),
    /// Add light, saturating (glare, headlight pools).
    Add(Rgb),
}

impl Frame {
    pub fn new(width: usize, height: usize, fill: Rgb) -> Frame {
        let mut data = Vec::with_capacity(width * height * 3);
        for _ in 0..width * height {
            data.extend_from_slice(&fill);
        }
        Frame { width, height, data }
    }

    pub fn pixel(&self, x: usize, y: usize) -> Rgb {
        let i = (y * self.width + x) * 3;
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Copies `src` shifted by (dx, dy) pixels, repeating the edge rows and columns (camera
    /// jitter without a black border).
    pub fn copy_shifted(&mut self, src: &Frame, dx: i32, dy: i32) {
        debug_assert_eq!((self.width, self.height), (src.width, src.height));
        let row = self.width * 3;
        for y in 0..self.height {
            let sy = (y as i64 - i64::from(dy)).clamp(0, self.height as i64 - 1) as usize;
            let dst = &mut self.data[y * row..(y + 1) * row];
            let s = &src.data[sy * row..(sy + 1) * row];
            if dx == 0 {
                dst.copy_from_slice(s);
            } else if dx > 0 {
                let d = (dx as usize).min(self.width) * 3;
                dst[d..].copy_from_slice(&s[..row - d]);
                for x in 0..d / 3 {
                    dst[x * 3..x * 3 + 3].copy_from_slice(&s[..3]);
                }
            } else {
                let d = ((-dx) as usize).min(self.width) * 3;
                dst[..row - d].copy_from_slice(&s[d..]);
                for x in (row - d) / 3..self.width {
                    dst[x * 3..x * 3 + 3].copy_from_slice(&s[row - 3..]);
                }
            }
        }
    }

    /// Fills a polygon (pixel coordinates, any winding, even-odd rule), sampling at pixel
    /// centres so that adjacent polygons neither overlap nor leave gaps.
    pub fn fill_polygon(&mut self, pts: &[[f64; 2]], blend: Blend) {
        if pts.len() < 3 {
            return;
        }
        let ymin = pts.iter().map(|p| p[1]).fold(f64::INFINITY, f64::min).max(0.0);
        let ymax = pts.iter().map(|p| p[1]).fold(f64::NEG_INFINITY, f64::max).min(self.height as f64);
        if ymin.partial_cmp(&ymax) != Some(std::cmp::Ordering::Less) {
            return;
        }
        let mut xs: Vec<f64> = Vec::with_capacity(8);
        let y0 = (ymin - 0.5).ceil().max(0.0) as usize;
        let y1 = ((ymax - 0.5).floor() as i64).min(self.height as i64 - 1);
        if y1 < 0 {
            return;
        }
        for y in y0..=y1 as usize {
            let sy = y as f64 + 0.5;
            xs.clear();
            for i in 0..pts.len() {
                let (a, b) = (pts[i], pts[(i + 1) % pts.len()]);
                if (a[1] <= sy) != (b[1] <= sy) {
                    xs.push(a[0] + (sy - a[1]) / (b[1] - a[1]) * (b[0] - a[0]));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let xa = (pair[0] - 0.5).ceil().max(0.0);
                let xb = (pair[1] - 0.5).floor().min(self.width as f64 - 1.0);
                if xa <= xb {
                    self.span(y, xa as usize, xb as usize, blend);
                }
            }
        }
    }

    /// A filled disc; `Add` gives a soft glow when called with decreasing radii.
    pub fn fill_disc(&mut self, c: [f64; 2], r: f64, blend: Blend) {
        if r <= 0.0 {
            return;
        }
        let y0 = (c[1] - r).floor().max(0.0) as i64;
        let y1 = ((c[1] + r).ceil() as i64).min(self.height as i64 - 1);
        for y in y0..=y1 {
            let dy = y as f64 + 0.5 - c[1];
            let half = (r * r - dy * dy).max(0.0).sqrt();
            if half <= 0.0 {
                continue;
            }
            let xa = (c[0] - half).round().max(0.0);
            let xb = (c[0] + half).round().min(self.width as f64) - 1.0;
            if xa <= xb && y >= 0 {
                self.span(y as usize, xa as usize, xb as usize, blend);
            }
        }
    }

    fn span(&mut self, y: usize, xa: usize, xb: usize, blend: Blend) {
        let row = &mut self.data[(y * self.width + xa) * 3..(y * self.width + xb + 1) * 3];
        match blend {
            Blend::Replace(c) => {
                for px in row.chunks_exact_mut(3) {
                    px.copy_from_slice(&c);
                }
            }
            Blend::Darken(f) => {
                let k = (f.clamp(0.0, 1.0) * 256.0) as u16;
                for v in row.iter_mut() {
                    *v = ((u16::from(*v) * k) >> 8) as u8;
                }
            }
            Blend::Add(c) => {
                for px in row.chunks_exact_mut(3) {
                    for i in 0..3 {
                        px[i] = px[i].saturating_add(c[i]);
                    }
                }
            }
        }
    }
}

/// Scales a colour by a light level (0 = black), saturating.
pub fn shade(c: Rgb, k: f64) -> Rgb {
    c.map(|v| (f64::from(v) * k).round().clamp(0.0, 255.0) as u8)
}

/// Convex hull (Andrew's monotone chain), for shadows cast by boxes.
pub fn convex_hull(mut pts: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let cross = |o: [f64; 2], a: [f64; 2], b: [f64; 2]| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let mut hull: Vec<[f64; 2]> = Vec::with_capacity(pts.len() * 2);
    for pass in 0..2 {
        let start = hull.len();
        let iter: Box<dyn Iterator<Item = &[f64; 2]>> =
            if pass == 0 { Box::new(pts.iter()) } else { Box::new(pts.iter().rev()) };
        for &p in iter {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_fills_exactly_its_pixels() {
        let mut f = Frame::new(10, 10, [0, 0, 0]);
        f.fill_polygon(&[[2.0, 3.0], [6.0, 3.0], [6.0, 7.0], [2.0, 7.0]], Blend::Replace([255, 0, 0]));
        let lit = (0..10).flat_map(|y| (0..10).map(move |x| (x, y))).filter(|&(x, y)| f.pixel(x, y)[0] == 255).count();
        assert_eq!(lit, 16);
        assert_eq!(f.pixel(2, 3), [255, 0, 0]);
        assert_eq!(f.pixel(6, 3), [0, 0, 0]);
    }

    #[test]
    fn polygons_off_screen_are_ignored() {
        let mut f = Frame::new(4, 4, [9, 9, 9]);
        f.fill_polygon(&[[-50.0, -50.0], [-10.0, -50.0], [-10.0, -10.0]], Blend::Replace([1, 1, 1]));
        f.fill_polygon(&[[0.0, 10.0], [4.0, 10.0], [2.0, 20.0]], Blend::Darken(0.5));
        assert!(f.data.iter().all(|&v| v == 9));
    }

    #[test]
    fn shifting_repeats_the_edge() {
        let mut src = Frame::new(3, 1, [0, 0, 0]);
        src.data = vec![1, 1, 1, 2, 2, 2, 3, 3, 3];
        let mut dst = Frame::new(3, 1, [0, 0, 0]);
        dst.copy_shifted(&src, 1, 0);
        assert_eq!(dst.data, vec![1, 1, 1, 1, 1, 1, 2, 2, 2]);
        dst.copy_shifted(&src, -1, 0);
        assert_eq!(dst.data, vec![2, 2, 2, 3, 3, 3, 3, 3, 3]);
    }

    #[test]
    fn hull_of_a_square_with_an_inner_point() {
        let h = convex_hull(vec![[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]]);
        assert_eq!(h.len(), 4);
    }
}
