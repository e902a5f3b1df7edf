//! Foreground blobs as vehicle boxes: connected components of the cleaned mask, fragments
//! of one vehicle merged, and with a calibrated camera, blobs holding several vehicles
//! (abreast across lanes, or queued along the view) split into one box each.

use opencv::core::{self, Mat};
use opencv::imgproc;
use opencv::prelude::*;

use nutgiao_config::Homography;

use super::background::BackgroundDetector;
use super::geometry::cars_abreast;
use super::{BoxPx, Detection, VehicleKind, classify};
use crate::error::{Result, VisionError};

/// A vehicle whose colour matches the road in places falls apart into blobs whose boxes
/// overlap; each fragment would become a track and count. Overlapping boxes are merged.
pub fn merge_fragments(mut dets: Vec<Detection>) -> Vec<Detection> {
    loop {
        let mut merged = false;
        'outer: for i in 0..dets.len() {
            for j in i + 1..dets.len() {
                let (a, b) = (dets[i].bbox, dets[j].bbox);
                let ix = (a.x + a.w).min(b.x + b.w) - a.x.max(b.x);
                let iy = (a.y + a.h).min(b.y + b.h) - a.y.max(b.y);
                if ix > 0.0 && iy > 0.0 && ix * iy > 0.3 * (a.w * a.h).min(b.w * b.h) {
                    let (x0, y0) = (a.x.min(b.x), a.y.min(b.y));
                    let (x1, y1) = ((a.x + a.w).max(b.x + b.w), (a.y + a.h).max(b.y + b.h));
                    dets[i].bbox = BoxPx { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
                    dets.swap_remove(j);
                    merged = true;
                    break 'outer;
                }
            }
        }
        if !merged {
            return dets;
        }
    }
}

/// Pixels (working size) of a vehicle's own that a blob of lit road must hold for its box to
/// be cut to them: a pair of lamps and a windscreen, not the pool's ragged edge.
const MIN_VEHICLE_PX_IN_LIGHT: usize = 12;

impl BackgroundDetector {
    /// Foreground blobs of the last mask as unclassified detections.
    pub fn blobs(&self) -> Result<Vec<Detection>> {
        let cv = VisionError::opencv(&self.camera);
        let mut labels = Mat::default();
        let mut stats = Mat::default();
        let mut centroids = Mat::default();
        // The mask is 0 outside its window.
        let window = self.window;
        if window.area() == 0 {
            return Ok(Vec::new());
        }
        let n = imgproc::connected_components_with_stats(
            &Mat::roi(&self.mask, window).map_err(&cv)?,
            &mut labels,
            &mut stats,
            &mut centroids,
            8,
            core::CV_32S,
        )
        .map_err(&cv)?;
        let min_area = self.params.min_area_fraction * (self.mask.rows() * self.mask.cols()) as f64;
        let mut out = Vec::new();
        for i in 1..n {
            let at = |c: i32| stats.at_2d::<i32>(i, c).copied();
            let area = at(imgproc::CC_STAT_AREA).map_err(VisionError::opencv(&self.camera))? as f64;
            if area < min_area {
                continue;
            }
            let get = |c| at(c).map_err(VisionError::opencv(&self.camera));
            let mut rect = core::Rect::new(
                get(imgproc::CC_STAT_LEFT)? + window.x,
                get(imgproc::CC_STAT_TOP)? + window.y,
                get(imgproc::CC_STAT_WIDTH)?,
                get(imgproc::CC_STAT_HEIGHT)?,
            );
            if let Some((lit, solid)) = &self.lit {
                rect = self.vehicle_of_lit_blob(&labels, i, rect, lit, solid).map_err(&cv)?;
            }
            let bbox = BoxPx {
                x: rect.x as f64 * self.factor,
                y: rect.y as f64 * self.factor,
                w: rect.width as f64 * self.factor,
                h: rect.height as f64 * self.factor,
            };
            out.push(Detection { bbox, kind: VehicleKind::Vehicle, confidence: 1.0 });
        }
        let merged = merge_fragments(out);
        let Some((h, cam)) = &self.ground else { return Ok(merged) };
        let mut split = Vec::with_capacity(merged.len());
        for d in merged {
            for strip in self.split_abreast(h, &d.bbox).map_err(&cv)? {
                split.extend(cam.split_along(h, &strip).into_iter().map(|bbox| Detection { bbox, ..d }));
            }
        }
        Ok(split)
    }

    /// The box of blob `label` (`rect`: its box in working pixels; `labels` start at the
    /// mask's window): a blob that is mostly lit road (`light`) is a headlight pool with its
    /// car, and its box is cut to the car's own pixels when enough of them are seen; a blob
    /// with too few of them keeps its whole box (a pool alone still stands for its car).
    fn vehicle_of_lit_blob(
        &self,
        labels: &Mat,
        label: i32,
        rect: core::Rect,
        lit: &Mat,
        solid: &Mat,
    ) -> opencv::Result<core::Rect> {
        let (mut n_lit, mut n_solid) = (0usize, 0usize);
        let (mut x0, mut y0, mut x1, mut y1) = (i32::MAX, i32::MAX, i32::MIN, i32::MIN);
        for y in rect.y..rect.y + rect.height {
            let labels_row = labels.at_row::<i32>(y - self.window.y)?;
            let (lit_row, solid_row) = (lit.at_row::<u8>(y)?, solid.at_row::<u8>(y)?);
            for x in rect.x..rect.x + rect.width {
                if labels_row[(x - self.window.x) as usize] != label {
                    continue;
                }
                if lit_row[x as usize] != 0 {
                    n_lit += 1;
                } else if solid_row[x as usize] != 0 {
                    n_solid += 1;
                    (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
                }
            }
        }
        if n_lit <= n_solid || n_solid < MIN_VEHICLE_PX_IN_LIGHT {
            return Ok(rect);
        }
        Ok(core::Rect::new(x0, y0, x1 - x0 + 1, y1 - y0 + 1))
    }

    /// Splits a blob as wide as several lanes into strips of equal width, each cropped to
    /// the foreground rows in its columns (cars side by side stand at different depths).
    fn split_abreast(&self, h: &Homography, b: &BoxPx) -> opencv::Result<Vec<BoxPx>> {
        let n = classify::ground_size(h, b).map_or(1, |s| cars_abreast(s.width_m));
        if n <= 1 {
            return Ok(vec![*b]);
        }
        let f = self.factor;
        let (cols, rows) = (self.mask.cols(), self.mask.rows());
        let data = self.mask.data_bytes()?;
        let step = self.mask.mat_step()[0];
        let r0 = ((b.y / f).round() as i32).clamp(0, rows);
        let r1 = (((b.y + b.h) / f).round() as i32).clamp(0, rows);
        let strip_w = b.w / n as f64;
        let mut out = Vec::with_capacity(n);
        for k in 0..n {
            let x0 = b.x + k as f64 * strip_w;
            let c0 = ((x0 / f).round() as i32).clamp(0, cols);
            let c1 = (((x0 + strip_w) / f).round() as i32).clamp(0, cols);
            let mut extent: Option<(i32, i32)> = None;
            for r in r0..r1 {
                let row = &data[r as usize * step + c0 as usize..r as usize * step + c1 as usize];
                if row.iter().any(|v| *v != 0) {
                    extent = Some(extent.map_or((r, r), |(a, _)| (a, r)));
                }
            }
            if let Some((top, bottom)) = extent {
                let (y0, y1) = (top as f64 * f, (bottom + 1) as f64 * f);
                out.push(BoxPx { x: x0, y: y0, w: strip_w, h: y1 - y0 });
            }
        }
        Ok(if out.is_empty() { vec![*b] } else { out })
    }
}
