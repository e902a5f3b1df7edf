//! Light thrown on the road after dark: a headlight pool is not part of the vehicle's box.
//!
//! At night a car's headlights light up 10-15 m of road ahead of it. The background model sees
//! a bright patch that moves with the car, far more of it than of the dark car itself, and the
//! patch is the car's blob: an approaching car's box runs on to the front of its pool, its
//! ground point crosses the stop line while the car stands behind it (false red-light
//! runners), and the blob, three car lengths deep, is split into several cars (over-counts).
//! Light added to a dark surface brightens every colour channel by about the same amount (as
//! MOG2's shadow test looks for the same colour darker); a vehicle's own lamps are far
//! brighter or coloured, its glass and unlit sides darker than the road. This module finds
//! that lit road; the blob stage shrinks a blob that is mostly lit road to its other pixels.
//!
//! The lit roof of a light-coloured car looks the same as a pool: the shrunk box rests on the
//! car's lamps, glass and unlit sides around it.

use opencv::core::{self, CV_8UC1, Mat, Point, Size};
use opencv::imgproc;
use opencv::prelude::*;

/// Mean grey level (0-255) of the region of interest under which the scene counts as dark.
/// The synthetic cameras' road is 60-70 by day, 14-28 at night; the real clips' are day scenes.
pub const DARK_SCENE_GREY: f64 = 45.0;
/// Background pixels brighter than this (mean of the channels) are not dark road: light
/// added there is not tested.
const DARK_BACKGROUND_GREY: i32 = 60;
/// Brightening (per channel, grey levels) that counts as light on the road: at least this in
/// every channel, at most `LIGHT_MAX` on average.
const LIGHT_MIN: i32 = 5;
const LIGHT_MAX: i32 = 70;
/// How far apart the channels' brightening may be: white and warm-white lamps, and the
/// encoder's chroma rounding (the synthetic pools add 31 / 31 / 25).
const SPREAD_BASE: i32 = 8;
const SPREAD_SHARE: f64 = 0.3;

/// Whether the scene is dark, from the mean of the picture over `roi` (or the whole picture).
pub fn is_dark(image: &Mat, roi: Option<&Mat>) -> opencv::Result<bool> {
    let mean = match roi {
        Some(m) => core::mean(image, m)?,
        None => core::mean(image, &core::no_array())?,
    };
    let channels = image.channels().clamp(1, 3) as usize;
    let grey = (0..channels).map(|c| mean[c]).sum::<f64>() / channels as f64;
    Ok(grey < DARK_SCENE_GREY)
}

/// Whether `pixel` is `background` lit by a lamp: brightened evenly, and not too much.
fn lit_road(pixel: [u8; 3], background: [u8; 3]) -> bool {
    let grey = background.iter().map(|&v| i32::from(v)).sum::<i32>() / 3;
    if grey > DARK_BACKGROUND_GREY {
        return false;
    }
    let d: [i32; 3] = std::array::from_fn(|c| i32::from(pixel[c]) - i32::from(background[c]));
    let (lo, hi) = (d.iter().min().copied().unwrap_or(0), d.iter().max().copied().unwrap_or(0));
    let mean = d.iter().sum::<i32>() / 3;
    lo >= LIGHT_MIN && mean <= LIGHT_MAX && hi - lo <= SPREAD_BASE + (SPREAD_SHARE * f64::from(mean)) as i32
}

/// The pixels of `fg` (0 / 255, one channel) where `image` is `background` (both BGR, same
/// size) lit by a lamp, as a mask (255 = lit road); `None` when there are none.
pub fn lit_road_mask(image: &Mat, background: &Mat, fg: &Mat) -> opencv::Result<Option<Mat>> {
    let (w, h) = (fg.cols(), fg.rows());
    let same = |m: &Mat| m.cols() == w && m.rows() == h && m.channels() == 3;
    if !same(image) || !same(background) {
        return Err(opencv::Error::new(core::StsUnmatchedSizes, "light test: picture, background and mask differ"));
    }
    let (owned_image, owned_background);
    let image = if image.is_continuous() {
        image
    } else {
        owned_image = image.try_clone()?;
        &owned_image
    };
    let background = if background.is_continuous() {
        background
    } else {
        owned_background = background.try_clone()?;
        &owned_background
    };
    let (px, bg) = (image.data_bytes()?, background.data_bytes()?);
    let mut lit = Mat::zeros(h, w, CV_8UC1)?.to_mat()?;
    let mut any = false;
    for y in 0..h {
        let fg_row = fg.at_row::<u8>(y)?;
        let lit_row = lit.at_row_mut::<u8>(y)?;
        for x in 0..w as usize {
            let i = (y as usize * w as usize + x) * 3;
            if fg_row[x] != 0 && lit_road([px[i], px[i + 1], px[i + 2]], [bg[i], bg[i + 1], bg[i + 2]]) {
                lit_row[x] = 255;
                any = true;
            }
        }
    }
    Ok(any.then_some(lit))
}

/// What is left of the foreground `fg` without the lit road `lit`: a vehicle's own pixels.
/// Single pixels, which the encoder's noise pushes out of a pool's test, are opened away.
pub fn solid_parts(fg: &Mat, lit: &Mat) -> opencv::Result<Mat> {
    let mut not_lit = Mat::default();
    core::bitwise_not(lit, &mut not_lit, &core::no_array())?;
    let mut rest = Mat::default();
    core::bitwise_and(fg, &not_lit, &mut rest, &core::no_array())?;
    let element = imgproc::get_structuring_element(imgproc::MORPH_ELLIPSE, Size::new(3, 3), Point::new(-1, -1))?;
    let mut opened = Mat::default();
    imgproc::morphology_ex(
        &rest,
        &mut opened,
        imgproc::MORPH_OPEN,
        &element,
        Point::new(-1, -1),
        1,
        core::BORDER_CONSTANT,
        imgproc::morphology_default_border_value()?,
    )?;
    Ok(opened)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opencv::core::{Rect, Scalar};

    fn solid(w: i32, h: i32, bgr: [f64; 3]) -> Mat {
        Mat::new_rows_cols_with_default(h, w, core::CV_8UC3, Scalar::new(bgr[0], bgr[1], bgr[2], 0.0)).unwrap()
    }

    fn paint(m: &mut Mat, r: Rect, bgr: [f64; 3]) {
        Mat::roi_mut(m, r).unwrap().set_to(&Scalar::new(bgr[0], bgr[1], bgr[2], 0.0), &core::no_array()).unwrap();
    }

    fn count(m: &Mat, r: Rect) -> i32 {
        core::count_non_zero(&Mat::roi(m, r).unwrap()).unwrap()
    }

    /// A night road with a car and the pool its headlights throw ahead of it: the pool is lit
    /// road; the car's lamps, glass, dark sides and tail lamp are not.
    #[test]
    fn a_headlight_pool_is_lit_road_and_the_car_is_not() {
        let road = [17.0, 13.0, 14.0];
        let background = solid(200, 100, road);
        let mut image = background.clone();
        let pool = Rect::new(10, 60, 80, 30);
        paint(&mut image, pool, [road[0] + 25.0, road[1] + 31.0, road[2] + 31.0]);
        let (glass, lamps, side) = (Rect::new(110, 40, 30, 10), Rect::new(110, 70, 30, 5), Rect::new(110, 50, 30, 20));
        paint(&mut image, side, [6.0, 5.0, 5.0]);
        paint(&mut image, glass, [9.0, 8.0, 8.0]);
        paint(&mut image, lamps, [240.0, 255.0, 255.0]);
        let tail = Rect::new(150, 50, 10, 5);
        paint(&mut image, tail, [30.0, 30.0, 230.0]);
        let mut fg = Mat::new_rows_cols_with_default(100, 200, CV_8UC1, Scalar::all(0.0)).unwrap();
        for r in [pool, glass, lamps, side, tail] {
            Mat::roi_mut(&mut fg, r).unwrap().set_to(&Scalar::all(255.0), &core::no_array()).unwrap();
        }
        let lit = lit_road_mask(&image, &background, &fg).unwrap().expect("a pool");
        assert_eq!(count(&lit, pool), pool.area());
        for r in [glass, lamps, side, tail] {
            assert_eq!(count(&lit, r), 0, "{r:?}");
        }
        assert_eq!(core::count_non_zero(&lit).unwrap(), pool.area(), "only foreground is tested");
        let solid = solid_parts(&fg, &lit).unwrap();
        assert_eq!(count(&solid, pool), 0);
        assert_eq!(count(&solid, side), side.area());
    }

    /// By day the same even brightening is a light-coloured car on the road, not light.
    #[test]
    fn on_a_bright_road_nothing_is_taken_for_light() {
        let background = solid(50, 40, [95.0, 100.0, 100.0]);
        let image = solid(50, 40, [125.0, 130.0, 130.0]);
        let fg = Mat::new_rows_cols_with_default(40, 50, CV_8UC1, Scalar::all(255.0)).unwrap();
        assert!(lit_road_mask(&image, &background, &fg).unwrap().is_none());
    }

    /// Coloured light (a tail lamp's glow, a red car) and light far brighter than a pool stay.
    #[test]
    fn coloured_or_glaring_light_is_not_road_lighting() {
        let road = [15, 15, 15];
        assert!(lit_road([45, 46, 44], road));
        assert!(lit_road([38, 44, 45], road), "warm white");
        assert!(!lit_road([20, 25, 90], road), "red");
        assert!(!lit_road([250, 250, 250], road), "a lamp");
        assert!(!lit_road([17, 18, 16], road), "noise");
        assert!(!lit_road([10, 30, 30], road), "darker in one channel");
    }

    #[test]
    fn the_scene_is_dark_by_the_mean_of_its_region_of_interest() {
        let night = solid(40, 20, [15.0, 15.0, 18.0]);
        assert!(is_dark(&night, None).unwrap());
        let mut day = solid(40, 20, [90.0, 95.0, 95.0]);
        assert!(!is_dark(&day, None).unwrap());
        // A dark verge outside the region of interest does not make the road dark.
        paint(&mut day, Rect::new(0, 0, 30, 20), [5.0, 5.0, 5.0]);
        assert!(is_dark(&day, None).unwrap());
        let mut roi = Mat::new_rows_cols_with_default(20, 40, CV_8UC1, Scalar::all(0.0)).unwrap();
        Mat::roi_mut(&mut roi, Rect::new(30, 0, 10, 20))
            .unwrap()
            .set_to(&Scalar::all(255.0), &core::no_array())
            .unwrap();
        assert!(!is_dark(&day, Some(&roi)).unwrap());
    }
}
