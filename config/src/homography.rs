//! Image -> ground homography from point pairs (normalised DLT).
//!
//! The vision pipeline turns every track's image position into metres through this, so a
//! badly conditioned calibration would silently corrupt speeds and sizes: it is rejected
//! at load time instead.

use nalgebra::{DMatrix, Matrix3, SymmetricEigen, Vector3};

use crate::model::CalibrationPoint;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HomographyError {
    #[error("needs at least 4 point pairs, got {0}")]
    TooFewPoints(usize),
    #[error("points {0}, {1} and {2} of the {3} side are (nearly) on one line")]
    Collinear(usize, usize, usize, &'static str),
    #[error("the point pairs do not determine a unique mapping (degenerate system)")]
    Degenerate,
    #[error("ill-conditioned: condition number {0:.1e} (more spread-out points are needed)")]
    IllConditioned(f64),
    #[error("the points are inconsistent: reprojection error {0:.2} m RMS (over 0.5 m)")]
    Inconsistent(f64),
    #[error("the horizon crosses the calibration area: a point maps to infinity")]
    Horizon,
}

/// A plane-to-plane projective mapping.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Homography {
    pub image_to_ground: Matrix3<f64>,
    pub ground_to_image: Matrix3<f64>,
}

impl Homography {
    pub fn estimate(points: &[CalibrationPoint]) -> Result<Homography, HomographyError> {
        let n = points.len();
        if n < 4 {
            return Err(HomographyError::TooFewPoints(n));
        }
        let src: Vec<[f64; 2]> = points.iter().map(|p| p.image).collect();
        let dst: Vec<[f64; 2]> = points.iter().map(|p| p.ground).collect();
        check_not_collinear(&src, "image")?;
        check_not_collinear(&dst, "ground")?;

        let (ts, ns) = normaliser(&src);
        let (td, nd) = normaliser(&dst);
        let mut a = DMatrix::<f64>::zeros(2 * n, 9);
        for i in 0..n {
            let (x, y) = (ns[i][0], ns[i][1]);
            let (u, v) = (nd[i][0], nd[i][1]);
            let r0 = [-x, -y, -1.0, 0.0, 0.0, 0.0, u * x, u * y, u];
            let r1 = [0.0, 0.0, 0.0, -x, -y, -1.0, v * x, v * y, v];
            for j in 0..9 {
                a[(2 * i, j)] = r0[j];
                a[(2 * i + 1, j)] = r1[j];
            }
        }
        let ata = a.transpose() * &a;
        let eig = SymmetricEigen::new(ata);
        let mut order: Vec<usize> = (0..9).collect();
        order.sort_by(|&i, &j| eig.eigenvalues[i].total_cmp(&eig.eigenvalues[j]));
        let (second, largest) = (eig.eigenvalues[order[1]], eig.eigenvalues[order[8]]);
        // A second (near-)zero eigenvalue means a family of solutions, not one mapping.
        if second <= 1e-9 * largest {
            return Err(HomographyError::Degenerate);
        }
        let h = eig.eigenvectors.column(order[0]);
        let hn = Matrix3::new(h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]);
        let svd = hn.svd(false, false);
        let cond = svd.singular_values[0] / svd.singular_values[2].max(f64::MIN_POSITIVE);
        if !cond.is_finite() || cond > 1e7 {
            return Err(HomographyError::IllConditioned(cond));
        }
        let Some(td_inv) = td.try_inverse() else { return Err(HomographyError::Degenerate) };
        let mut m = td_inv * hn * ts;
        let scale = m[(2, 2)];
        if scale.abs() > 1e-12 {
            m /= scale;
        }
        let Some(inv) = m.try_inverse() else { return Err(HomographyError::Degenerate) };
        let hom = Homography { image_to_ground: m, ground_to_image: inv };

        // Every calibration point must be on the same side of the horizon.
        let ws: Vec<f64> = src.iter().map(|p| (m * Vector3::new(p[0], p[1], 1.0))[2]).collect();
        if ws.iter().any(|w| w.abs() < 1e-9) || !(ws.iter().all(|w| *w > 0.0) || ws.iter().all(|w| *w < 0.0)) {
            return Err(HomographyError::Horizon);
        }
        let rms = (src
            .iter()
            .zip(&dst)
            .map(|(s, d)| {
                let g = hom.to_ground(*s).unwrap_or([f64::INFINITY; 2]);
                (g[0] - d[0]).powi(2) + (g[1] - d[1]).powi(2)
            })
            .sum::<f64>()
            / n as f64)
            .sqrt();
        if !rms.is_finite() || rms > 0.5 {
            return Err(HomographyError::Inconsistent(rms));
        }
        Ok(hom)
    }

    /// Ground point (metres) of an image point; `None` at or beyond the horizon.
    pub fn to_ground(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        apply(&self.image_to_ground, p)
    }

    /// Image point (pixels) of a ground point; `None` behind the camera.
    pub fn to_image(&self, p: [f64; 2]) -> Option<[f64; 2]> {
        apply(&self.ground_to_image, p)
    }
}

fn apply(m: &Matrix3<f64>, p: [f64; 2]) -> Option<[f64; 2]> {
    let v = m * Vector3::new(p[0], p[1], 1.0);
    if v[2].abs() < 1e-12 {
        return None;
    }
    Some([v[0] / v[2], v[1] / v[2]])
}

/// Hartley normalisation: centroid to the origin, mean distance sqrt(2).
fn normaliser(pts: &[[f64; 2]]) -> (Matrix3<f64>, Vec<[f64; 2]>) {
    let n = pts.len() as f64;
    let cx = pts.iter().map(|p| p[0]).sum::<f64>() / n;
    let cy = pts.iter().map(|p| p[1]).sum::<f64>() / n;
    let mean = pts.iter().map(|p| (p[0] - cx).hypot(p[1] - cy)).sum::<f64>() / n;
    let s = if mean > 0.0 { std::f64::consts::SQRT_2 / mean } else { 1.0 };
    let t = Matrix3::new(s, 0.0, -s * cx, 0.0, s, -s * cy, 0.0, 0.0, 1.0);
    let out = pts.iter().map(|p| [s * (p[0] - cx), s * (p[1] - cy)]).collect();
    (t, out)
}

/// With exactly four pairs, any three on a line makes the mapping undefined; with more,
/// at least four must be in general position.
fn check_not_collinear(pts: &[[f64; 2]], side: &'static str) -> Result<(), HomographyError> {
    let extent = pts.iter().flat_map(|p| pts.iter().map(move |q| (p[0] - q[0]).hypot(p[1] - q[1]))).fold(0.0, f64::max);
    let area_tol = 1e-3 * extent * extent;
    let tri = |i: usize, j: usize, k: usize| {
        let (a, b, c) = (pts[i], pts[j], pts[k]);
        ((b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])).abs() / 2.0
    };
    let n = pts.len();
    let mut first_bad = None;
    let mut good_quad = false;
    'outer: for i in 0..n {
        for j in i + 1..n {
            for k in j + 1..n {
                if tri(i, j, k) <= area_tol {
                    first_bad.get_or_insert((i, j, k));
                    continue;
                }
                for l in k + 1..n {
                    if tri(i, j, l) > area_tol && tri(i, k, l) > area_tol && tri(j, k, l) > area_tol {
                        good_quad = true;
                        break 'outer;
                    }
                }
            }
        }
    }
    if good_quad {
        return Ok(());
    }
    let (i, j, k) = first_bad.unwrap_or((0, 1, 2));
    Err(HomographyError::Collinear(i + 1, j + 1, k + 1, side))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(h: &Matrix3<f64>, img: &[[f64; 2]]) -> Vec<CalibrationPoint> {
        img.iter().map(|&p| CalibrationPoint { image: p, ground: apply(h, p).unwrap() }).collect()
    }

    #[test]
    fn recovers_a_known_perspective_mapping() {
        let truth = Matrix3::new(0.05, 0.01, -20.0, 0.002, -0.08, 60.0, 0.0, 0.0012, 1.0);
        let img = [[100.0, 600.0], [1180.0, 610.0], [900.0, 250.0], [380.0, 240.0], [640.0, 400.0]];
        let h = Homography::estimate(&pairs(&truth, &img)).unwrap();
        for p in [[200.0, 500.0], [1000.0, 300.0]] {
            let a = h.to_ground(p).unwrap();
            let b = apply(&truth, p).unwrap();
            assert!((a[0] - b[0]).abs() < 1e-6 && (a[1] - b[1]).abs() < 1e-6, "{a:?} vs {b:?}");
            let back = h.to_image(a).unwrap();
            assert!((back[0] - p[0]).abs() < 1e-6 && (back[1] - p[1]).abs() < 1e-6);
        }
    }

    #[test]
    fn rejects_collinear_points() {
        let pts: Vec<CalibrationPoint> =
            (0..4).map(|i| CalibrationPoint { image: [i as f64 * 100.0, 200.0], ground: [i as f64, 0.0] }).collect();
        assert!(matches!(Homography::estimate(&pts), Err(HomographyError::Collinear(..))));
    }

    #[test]
    fn rejects_inconsistent_points() {
        let truth = Matrix3::new(0.05, 0.0, 0.0, 0.0, 0.05, 0.0, 0.0, 0.0, 1.0);
        let img = [[0.0, 0.0], [1000.0, 0.0], [1000.0, 700.0], [0.0, 700.0], [500.0, 350.0]];
        let mut p = pairs(&truth, &img);
        p[4].ground = [40.0, -30.0];
        assert!(matches!(Homography::estimate(&p), Err(HomographyError::Inconsistent(_))));
    }
}
