//! Closing of a binary mask by a large elliptical element, in time that grows with the
//! element's height and width, not its area.
//!
//! The detector closes its foreground with a 31 x 31 ellipse at 640 px (gaps inside a car
//! between windows, shadow and body). OpenCV's morphology with a non-rectangular element
//! visits every point of the element for every pixel (some 750 here): 5.8-7.1 ms a frame on
//! this machine, as much as the background model itself; this takes 1.8 ms.
//!
//! An ellipse is a stack of horizontal runs centred on the anchor, so a pixel is in the
//! dilation exactly when, for some element row `dy`, image row `y + dy` dilated along itself
//! by that row's half-width is set at `x`. Each image row is spread once per half-width and
//! ORed into the output rows it reaches, all of it whole-row vector operations. Erosion is
//! the complement of the dilation of the complement. The result is the very mask of
//! `morphology_ex(MORPH_CLOSE, BORDER_CONSTANT, morphology_default_border_value)`, which the
//! tests check on random masks.

use opencv::core::{CV_8UC1, Mat};
use opencv::prelude::*;

/// An element that is a stack of horizontal runs, each centred on the anchor column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CentredRuns {
    /// Half-width of the run in each element row, top to bottom; `None` for an empty row.
    half: Vec<Option<u8>>,
    /// Row of the anchor within `half`.
    anchor_row: usize,
}

impl CentredRuns {
    /// Reads an OpenCV structuring element (anchor at its centre). `None` when a row is not
    /// one run centred on the anchor, or a run is 509 px wide or more; the caller then uses
    /// OpenCV's general morphology.
    pub fn from_element(element: &Mat) -> opencv::Result<Option<Self>> {
        let (rows, cols) = (element.rows(), element.cols());
        if rows % 2 == 0 || cols % 2 == 0 || element.typ() != CV_8UC1 {
            return Ok(None);
        }
        let centre = cols / 2;
        let mut half = Vec::with_capacity(rows as usize);
        for r in 0..rows {
            let row: Vec<bool> =
                (0..cols).map(|c| element.at_2d::<u8>(r, c).map(|v| *v != 0)).collect::<Result<_, _>>()?;
            let Some(first) = row.iter().position(|v| *v) else {
                half.push(None);
                continue;
            };
            let last = row.iter().rposition(|v| *v).unwrap_or(first) as i32;
            let first = first as i32;
            let contiguous = row[first as usize..=last as usize].iter().all(|v| *v);
            if !contiguous || centre - first != last - centre || centre - first >= 255 {
                return Ok(None);
            }
            half.push(Some((centre - first) as u8));
        }
        Ok(Some(Self { half, anchor_row: (rows / 2) as usize }))
    }

    /// `mask` (0 / non-zero, one channel) closed by this element: 255 inside, 0 outside.
    pub fn close(&self, mask: &Mat) -> opencv::Result<Mat> {
        let (rows, cols) = (mask.rows() as usize, mask.cols() as usize);
        let src = packed(mask)?;
        let mut dilated = vec![0u8; rows * cols];
        self.dilate(&src, rows, cols, false, &mut dilated);
        // The erosion treats the outside as foreground (OpenCV's default border for erode),
        // which is the dilation of the complement with an empty outside.
        let mut eroded = vec![0u8; rows * cols];
        self.dilate(&dilated, rows, cols, true, &mut eroded);
        for v in &mut eroded {
            *v = if *v != 0 { 0 } else { 255 };
        }
        let mut out = Mat::new_rows_cols_with_default(rows as i32, cols as i32, CV_8UC1, 0.0.into())?;
        out.data_bytes_mut()?.copy_from_slice(&eroded);
        Ok(out)
    }

    /// Dilation of `src` (of its complement when `invert`), non-zero where dilated.
    fn dilate(&self, src: &[u8], rows: usize, cols: usize, invert: bool, out: &mut [u8]) {
        out.fill(0);
        let widest = self.half.iter().flatten().map(|h| usize::from(*h)).max().unwrap_or(0);
        // `spread[w]`: the source row dilated along itself by w pixels each way, built up
        // one pixel at a time; every step is a plain OR of two shifted rows, so it runs on
        // vector instructions, which a per-pixel distance scan could not.
        let mut spread = vec![0u8; (widest + 1) * cols];
        let mut set = vec![0u8; cols];
        for sy in 0..rows {
            for (d, v) in set.iter_mut().zip(&src[sy * cols..(sy + 1) * cols]) {
                *d = u8::from((*v != 0) != invert);
            }
            if set.iter().all(|v| *v == 0) {
                continue;
            }
            spread[..cols].copy_from_slice(&set);
            for w in 1..=widest {
                let (done, rest) = spread.split_at_mut(w * cols);
                let row = &mut rest[..cols];
                row.copy_from_slice(&done[(w - 1) * cols..]);
                if w < cols {
                    for (r, v) in row[w..].iter_mut().zip(&set[..cols - w]) {
                        *r |= v;
                    }
                    for (r, v) in row[..cols - w].iter_mut().zip(&set[w..]) {
                        *r |= v;
                    }
                }
            }
            // Element row i carries source row sy to output row sy + anchor - i.
            for (i, half) in self.half.iter().enumerate() {
                let Some(half) = *half else { continue };
                let Some(y) = (sy + self.anchor_row).checked_sub(i).filter(|y| *y < rows) else { continue };
                let from = &spread[usize::from(half) * cols..(usize::from(half) + 1) * cols];
                for (o, v) in out[y * cols..(y + 1) * cols].iter_mut().zip(from) {
                    *o |= v;
                }
            }
        }
    }
}

/// The mask's bytes without row padding.
fn packed(mask: &Mat) -> opencv::Result<Vec<u8>> {
    if mask.is_continuous() {
        return Ok(mask.data_bytes()?.to_vec());
    }
    Ok(mask.try_clone()?.data_bytes()?.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::{self, Point, Size};
    use opencv::imgproc;
    use proptest::prelude::*;

    fn ellipse(n: i32) -> Mat {
        imgproc::get_structuring_element(imgproc::MORPH_ELLIPSE, Size::new(n, n), Point::new(-1, -1)).unwrap()
    }

    fn opencv_close(mask: &Mat, element: &Mat) -> Mat {
        let mut out = Mat::default();
        let border = imgproc::morphology_default_border_value().unwrap();
        imgproc::morphology_ex(
            mask,
            &mut out,
            imgproc::MORPH_CLOSE,
            element,
            Point::new(-1, -1),
            1,
            core::BORDER_CONSTANT,
            border,
        )
        .unwrap();
        out
    }

    fn mask_from(rows: i32, cols: i32, set: &[(i32, i32, i32, i32)]) -> Mat {
        let mut m = Mat::new_rows_cols_with_default(rows, cols, CV_8UC1, 0.0.into()).unwrap();
        for &(x, y, w, h) in set {
            let r = core::Rect::new(x.min(cols - 1), y.min(rows - 1), w, h) & core::Rect::new(0, 0, cols, rows);
            Mat::roi_mut(&mut m, r).unwrap().set_to(&core::Scalar::all(255.0), &core::no_array()).unwrap();
        }
        m
    }

    #[test]
    fn ellipses_and_rectangles_are_accepted_but_not_off_centre_elements() {
        for n in [1, 3, 5, 31] {
            assert!(CentredRuns::from_element(&ellipse(n)).unwrap().is_some(), "ellipse {n}");
        }
        let rect = imgproc::get_structuring_element(imgproc::MORPH_RECT, Size::new(7, 5), Point::new(-1, -1)).unwrap();
        assert!(CentredRuns::from_element(&rect).unwrap().is_some());
        let even = imgproc::get_structuring_element(imgproc::MORPH_RECT, Size::new(4, 4), Point::new(-1, -1)).unwrap();
        assert_eq!(CentredRuns::from_element(&even).unwrap(), None);
        let mut lopsided = Mat::new_rows_cols_with_default(3, 3, CV_8UC1, 0.0.into()).unwrap();
        *lopsided.at_2d_mut::<u8>(1, 2).unwrap() = 1;
        assert_eq!(CentredRuns::from_element(&lopsided).unwrap(), None);
    }

    #[test]
    fn two_halves_of_a_car_are_joined_and_the_gap_to_the_next_car_stays() {
        // Body and cabin 10 px apart join under a 31 px element; the next car 40 px on stays apart.
        let m = mask_from(60, 200, &[(10, 20, 30, 20), (50, 20, 30, 20), (120, 20, 30, 20)]);
        let closed = CentredRuns::from_element(&ellipse(31)).unwrap().unwrap().close(&m).unwrap();
        assert_eq!(*closed.at_2d::<u8>(30, 45).unwrap(), 255);
        assert_eq!(*closed.at_2d::<u8>(30, 100).unwrap(), 0);
        assert_eq!(core::count_non_zero(&core::Mat::roi(&closed, core::Rect::new(0, 0, 200, 10)).unwrap()).unwrap(), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn closing_is_opencvs(
            rows in 1..70i32,
            cols in 1..90i32,
            size in prop::sample::select(vec![1, 3, 5, 9, 15, 31]),
            rects in prop::collection::vec((0..90i32, 0..70i32, 1..25i32, 1..25i32), 0..12),
        ) {
            let m = mask_from(rows, cols, &rects);
            let element = ellipse(size);
            let ours = CentredRuns::from_element(&element).unwrap().unwrap().close(&m).unwrap();
            let theirs = opencv_close(&m, &element);
            let mut diff = Mat::default();
            core::bitwise_xor(&ours, &theirs, &mut diff, &core::no_array()).unwrap();
            prop_assert_eq!(core::count_non_zero(&diff).unwrap(), 0);
        }
    }
}
