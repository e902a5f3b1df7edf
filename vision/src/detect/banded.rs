//! The background model kept only where the region of interest is.
//!
//! OpenCV's MOG2 and KNN models are per pixel: a pixel's mixture, its foreground label and
//! its shadow test depend on that pixel's history alone, and the learning schedule on the
//! number of calls. So the model of a part of the picture, fed the same part of every frame
//! at the same rates, labels it exactly as the model of the whole picture would. A site
//! camera's region of interest is a trapezoid of about 40 % of the picture (the road),
//! and the model is the most expensive step of the detector; here it runs on horizontal
//! bands, each as wide as the region is in its rows, and everything outside stays 0.

use opencv::core::{self, CV_8UC1, CV_8UC3, Mat, Rect, Scalar};
use opencv::prelude::*;
use opencv::video;

use super::background::{BackgroundParams, Subtractor};

/// Bands per picture: more follow the slanted edges of the region closer, each costs a call.
const BANDS: i32 = 8;

struct Band {
    rect: Rect,
    model: core::Ptr<video::BackgroundSubtractor>,
    out: Mat,
}

pub struct BandedSubtractor {
    size: [i32; 2],
    bands: Vec<Band>,
    scratch: Mat,
}

impl BandedSubtractor {
    /// Models for a picture of `size` (columns, rows); with a region of interest (non-zero =
    /// inside, of the same size) only its bands are modelled.
    pub fn new(params: &BackgroundParams, size: [i32; 2], roi: Option<&Mat>) -> opencv::Result<Self> {
        let (history, var_threshold) = (params.history, params.var_threshold);
        let mut bands = Vec::new();
        for rect in band_rects(size, roi)? {
            let model: core::Ptr<video::BackgroundSubtractor> = match params.subtractor {
                Subtractor::Mog2 => video::create_background_subtractor_mog2(history, var_threshold, true)?.into(),
                Subtractor::Knn => video::create_background_subtractor_knn(history, 400.0, true)?.into(),
            };
            bands.push(Band { rect, model, out: Mat::default() });
        }
        Ok(Self { size, bands, scratch: Mat::default() })
    }

    /// The share of the picture that is modelled.
    pub fn coverage(&self) -> f64 {
        let modelled: i32 = self.bands.iter().map(|b| b.rect.area()).sum();
        f64::from(modelled) / f64::from(self.size[0] * self.size[1]).max(1.0)
    }

    /// Tests `image` against the model and learns it at `rate`; `fg` gets the models' labels
    /// (0, 127 shadow, 255) in the bands and 0 elsewhere.
    pub fn apply(&mut self, image: &Mat, fg: &mut Mat, rate: f64) -> opencv::Result<()> {
        self.check_size(image)?;
        if fg.rows() != self.size[1] || fg.cols() != self.size[0] || fg.typ() != CV_8UC1 {
            *fg = Mat::new_rows_cols_with_default(self.size[1], self.size[0], CV_8UC1, Scalar::all(0.0))?;
        }
        for band in &mut self.bands {
            let part = Mat::roi(image, band.rect)?;
            band.model.apply(&part, &mut band.out, rate)?;
            let mut to = Mat::roi_mut(fg, band.rect)?;
            band.out.copy_to(&mut to)?;
        }
        Ok(())
    }

    /// Learns `image` at `rate` without looking at the labels.
    pub fn learn(&mut self, image: &Mat, rate: f64) -> opencv::Result<()> {
        self.check_size(image)?;
        for band in &mut self.bands {
            let part = Mat::roi(image, band.rect)?;
            band.model.apply(&part, &mut self.scratch, rate)?;
        }
        Ok(())
    }

    /// The models' background picture (BGR); black outside the bands.
    pub fn background_image(&self, out: &mut Mat) -> opencv::Result<()> {
        *out = Mat::new_rows_cols_with_default(self.size[1], self.size[0], CV_8UC3, Scalar::all(0.0))?;
        let mut part = Mat::default();
        for band in &self.bands {
            band.model.get_background_image(&mut part)?;
            if part.empty() {
                continue;
            }
            let mut to = Mat::roi_mut(out, band.rect)?;
            part.copy_to(&mut to)?;
        }
        Ok(())
    }

    fn check_size(&self, image: &Mat) -> opencv::Result<()> {
        if image.cols() == self.size[0] && image.rows() == self.size[1] {
            return Ok(());
        }
        Err(opencv::Error::new(
            core::StsUnmatchedSizes,
            format!(
                "frame of {}x{} for a background model of {}x{}",
                image.cols(),
                image.rows(),
                self.size[0],
                self.size[1]
            ),
        ))
    }
}

/// Horizontal bands covering every pixel of the region (the whole picture without one),
/// each cut to the columns the region occupies in its rows; rows without any are skipped.
fn band_rects(size: [i32; 2], roi: Option<&Mat>) -> opencv::Result<Vec<Rect>> {
    let [cols, rows] = size;
    let Some(roi) = roi else { return Ok(vec![Rect::new(0, 0, cols, rows)]) };
    if roi.cols() != cols || roi.rows() != rows || roi.typ() != CV_8UC1 {
        return Err(opencv::Error::new(
            core::StsUnmatchedSizes,
            format!("region of interest of {}x{} for a picture of {cols}x{rows}", roi.cols(), roi.rows()),
        ));
    }
    let height = (rows + BANDS - 1) / BANDS;
    let mut out = Vec::new();
    for r0 in (0..rows).step_by(height.max(1) as usize) {
        let r1 = (r0 + height).min(rows);
        let mut extent: Option<(i32, i32)> = None;
        for r in r0..r1 {
            let row = roi.at_row::<u8>(r)?;
            let first = row.iter().position(|v| *v != 0);
            let last = row.iter().rposition(|v| *v != 0);
            if let (Some(a), Some(b)) = (first, last) {
                let (a, b) = (a as i32, b as i32);
                extent = Some(extent.map_or((a, b), |(x0, x1)| (x0.min(a), x1.max(b))));
            }
        }
        if let Some((x0, x1)) = extent {
            out.push(Rect::new(x0, r0, x1 - x0 + 1, r1 - r0));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A short history and a low threshold, so that the models differ quickly if they can.
    fn params(kind: Subtractor) -> BackgroundParams {
        BackgroundParams { subtractor: kind, history: 50, var_threshold: 16.0, ..BackgroundParams::default() }
    }
    use opencv::core::{Point, Vector};
    use opencv::imgproc;
    use proptest::prelude::*;

    fn trapezoid(size: [i32; 2]) -> Mat {
        let mut m = Mat::new_rows_cols_with_default(size[1], size[0], CV_8UC1, Scalar::all(0.0)).unwrap();
        let pts: Vector<Point> = [(30, 10), (50, 10), (size[0] - 1, 60), (size[0] - 1, size[1] - 1), (20, size[1] - 1)]
            .into_iter()
            .map(|(x, y)| Point::new(x, y))
            .collect();
        let polys: Vector<Vector<Point>> = std::iter::once(pts).collect();
        imgproc::fill_poly(&mut m, &polys, Scalar::all(255.0), imgproc::LINE_8, 0, Point::new(0, 0)).unwrap();
        m
    }

    /// A frame of noise around a grey road with a few bright "vehicles" at `seed`'s places.
    fn frame(size: [i32; 2], seed: u64) -> Mat {
        let mut m = Mat::new_rows_cols_with_default(size[1], size[0], CV_8UC3, Scalar::all(90.0)).unwrap();
        let mut noise = Mat::new_rows_cols_with_default(size[1], size[0], CV_8UC3, Scalar::all(0.0)).unwrap();
        core::set_rng_seed(seed as i32).unwrap();
        core::randn(&mut noise, &Scalar::all(0.0), &Scalar::all(6.0)).unwrap();
        let mut sum = Mat::default();
        core::add(&m, &noise, &mut sum, &core::no_array(), -1).unwrap();
        m = sum;
        for k in 0..3u64 {
            let x = ((seed * 37 + k * 53) % (size[0] as u64 - 12)) as i32;
            let y = ((seed * 17 + k * 29) % (size[1] as u64 - 8)) as i32;
            imgproc::rectangle(
                &mut m,
                Rect::new(x, y, 12, 8),
                Scalar::new(20.0 + 60.0 * k as f64, 200.0, 240.0 - 50.0 * k as f64, 0.0),
                -1,
                imgproc::LINE_8,
                0,
            )
            .unwrap();
        }
        m
    }

    fn masked(m: &Mat, roi: &Mat) -> Mat {
        let mut out = Mat::default();
        core::bitwise_and(m, roi, &mut out, &core::no_array()).unwrap();
        out
    }

    #[test]
    fn the_bands_cover_every_pixel_of_the_region_and_less_than_the_picture() {
        let size = [160, 120];
        let roi = trapezoid(size);
        let rects = band_rects(size, Some(&roi)).unwrap();
        let mut covered = Mat::new_rows_cols_with_default(size[1], size[0], CV_8UC1, Scalar::all(0.0)).unwrap();
        for r in &rects {
            Mat::roi_mut(&mut covered, *r).unwrap().set_to(&Scalar::all(255.0), &core::no_array()).unwrap();
        }
        let mut outside = Mat::default();
        core::subtract(&roi, &covered, &mut outside, &core::no_array(), -1).unwrap();
        assert_eq!(core::count_non_zero(&outside).unwrap(), 0);
        let area: i32 = rects.iter().map(|r| r.area()).sum();
        assert!(area < size[0] * size[1] * 9 / 10, "bands cover {area} of {}", size[0] * size[1]);
        assert_eq!(band_rects(size, None).unwrap(), vec![Rect::new(0, 0, 160, 120)]);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
        /// The banded models label the region exactly as one model of the whole picture does,
        /// through learning, testing without learning, and a burst of fast relearning.
        #[test]
        fn banded_models_label_the_region_as_one_whole_model(seed in 0u64..1000, kind in prop_oneof![Just(Subtractor::Mog2), Just(Subtractor::Knn)]) {
            let size = [160, 120];
            let roi = trapezoid(size);
            let mut whole = BandedSubtractor::new(&params(kind), size, None).unwrap();
            let mut banded = BandedSubtractor::new(&params(kind), size, Some(&roi)).unwrap();
            prop_assert!(banded.coverage() < 0.9);
            let (mut a, mut b) = (Mat::default(), Mat::default());
            let mut foreground = 0;
            for i in 0..30u64 {
                let image = frame(size, seed * 100 + i);
                let rate: f64 = match i % 3 { 0 => -1.0, 1 => 0.0, _ => 0.1 };
                if i % 7 == 6 {
                    whole.learn(&image, rate.max(0.0)).unwrap();
                    banded.learn(&image, rate.max(0.0)).unwrap();
                    continue;
                }
                whole.apply(&image, &mut a, rate).unwrap();
                banded.apply(&image, &mut b, rate).unwrap();
                let mut diff = Mat::default();
                core::absdiff(&masked(&a, &roi), &masked(&b, &roi), &mut diff).unwrap();
                prop_assert_eq!(core::count_non_zero(&diff).unwrap(), 0, "frame {}", i);
                foreground += core::count_non_zero(&masked(&a, &roi)).unwrap();
            }
            // Not a comparison of two empty masks.
            prop_assert!(foreground > 0);
            let (mut ga, mut gb) = (Mat::default(), Mat::default());
            whole.background_image(&mut ga).unwrap();
            banded.background_image(&mut gb).unwrap();
            let mut grey_roi = Mat::default();
            imgproc::cvt_color(&roi, &mut grey_roi, imgproc::COLOR_GRAY2BGR, 0).unwrap();
            let mut diff = Mat::default();
            core::absdiff(&masked(&ga, &grey_roi), &masked(&gb, &grey_roi), &mut diff).unwrap();
            let mut flat = Mat::default();
            imgproc::cvt_color(&diff, &mut flat, imgproc::COLOR_BGR2GRAY, 0).unwrap();
            prop_assert_eq!(core::count_non_zero(&flat).unwrap(), 0);
        }
    }

    #[test]
    fn a_frame_of_another_size_is_an_error_not_a_crash() {
        let mut s = BandedSubtractor::new(&params(Subtractor::Mog2), [160, 120], None).unwrap();
        let mut fg = Mat::default();
        let err = s.apply(&frame([80, 60], 1), &mut fg, -1.0).unwrap_err();
        assert!(err.message.contains("80x60"), "{err}");
    }
}
