//! Background subtraction (MOG2 or KNN) with shadow suppression, morphology and the ROI.
//!
//! Shadows are labelled 127 by OpenCV's subtractors and are thresholded away; moving tree
//! shadows that survive are mostly thin and low-contrast, so an opening removes them and
//! the real-size filter (classify) rejects what remains.

use opencv::core::{self, CV_8UC1, Mat, Point, Scalar, Size, Vector};
use opencv::imgproc;
use opencv::prelude::*;

use nutgiao_config::Homography;

use super::BoxPx;
use super::banded::BandedSubtractor;
use super::geometry::GroundCamera;
use super::light;
use super::morph;
use crate::error::{Result, VisionError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subtractor {
    Mog2,
    Knn,
}

/// Tuning of the background detector; defaults are those measured on cdnet-highway.
#[derive(Debug, Clone, PartialEq)]
pub struct BackgroundParams {
    pub subtractor: Subtractor,
    pub history: i32,
    pub var_threshold: f64,
    /// Opening kernel (pixels) at 320 px width; scaled with the image width.
    pub open_px: i32,
    pub close_px: i32,
    /// Fill holes inside each blob (windscreens, roofs that match the road's colour).
    pub fill_holes: bool,
    /// Blobs smaller than this share of the image are noise.
    pub min_area_fraction: f64,
}

impl Default for BackgroundParams {
    fn default() -> Self {
        Self {
            subtractor: Subtractor::Mog2,
            history: 500,
            var_threshold: 70.0,
            open_px: 1,
            close_px: 15,
            fill_holes: true,
            min_area_fraction: 0.0008,
        }
    }
}

/// Width (pixels) at which frames are segmented; smaller frames are used as they are.
pub const WORK_WIDTH: f64 = 640.0;

pub struct BackgroundDetector {
    pub(super) camera: String,
    pub(super) params: BackgroundParams,
    /// The model, kept only in the region of interest's bands.
    subtractor: BandedSubtractor,
    roi: Option<Mat>,
    raw: Mat,
    pub(super) mask: Mat,
    /// Part of `mask` (working pixels) outside which it is 0.
    pub(super) window: core::Rect,
    /// Image pixels per working pixel: large frames are segmented at `WORK_WIDTH`.
    pub(super) factor: f64,
    /// Working size (columns, rows) that frames are segmented at.
    work: [i32; 2],
    /// With a calibrated camera, blobs holding several vehicles are split into one box each.
    pub(super) ground: Option<(Homography, GroundCamera)>,
    /// Boxes (image pixels) of vehicles being tracked, where the model must not learn.
    hold: Vec<BoxPx>,
    /// Foreground share of the region of interest in the last ordinary frame.
    last_share: f64,
    /// Stream time of the frame being segmented (`set_time`), else counted on at
    /// `ASSUMED_FPS` per frame.
    clock_s: f64,
    timed: bool,
    /// Until when (stream time) the model relearns a changed picture and nothing is detected.
    relearn_until: Option<f64>,
    /// The closing element for the working size (its size in pixels, the element, and its
    /// row runs when the fast closing applies).
    closing: Option<(i32, Mat, Option<morph::CentredRuns>)>,
    /// Frames segmented so far.
    frames: u64,
    /// Calls of the model so far as OpenCV counts them for its learning schedule, and the
    /// learning owed by held frames that were not learnt (`HOLD_LEARN_EVERY`).
    calls: u64,
    owed_rate: f64,
    /// Frames segmented with held vehicles.
    held_frames: u64,
    /// The model's background image pasted under held vehicles and tested against for
    /// headlight pools, and the frame it was taken at.
    background: Option<(Mat, u64)>,
    /// Whether the road is dark (`light::is_dark`), judged every `DARK_CHECK_FRAMES` frames.
    dark: bool,
    /// On a dark road, the last frame's foreground that is lit road (headlight pools) and the
    /// rest of it (`light::solid_parts`); `None` when none of it is lit road.
    pub(super) lit: Option<(Mat, Mat)>,
}

/// A frame whose cleaned foreground covers more than `SUDDEN_SHARE` of the region of interest,
/// `SUDDEN_JUMP` times the last ordinary frame's share, is a change of the whole picture (the camera's
/// exposure or white balance, a shake), not traffic: on the street clip the share goes from
/// 4 % to 29 % in one frame and stays there, and the pipeline counted the picture as a
/// vehicle (a car passing right under the camera reaches 14 %, growing over several frames).
/// The raw foreground does not tell them apart (13.5 % against 13 %): the change is fine
/// speckle all over that the closing joins into one blob.
const SUDDEN_SHARE: f64 = 0.2;
const SUDDEN_JUMP: f64 = 3.0;
/// While the picture settles the model learns at this rate per frame and detects nothing
/// (tracks coast); it is settled when the share is back under half of `SUDDEN_SHARE`, or at
/// the latest after `RELEARN_MAX_S`.
const RELEARN_RATE: f64 = 0.1;
const RELEARN_MAX_S: f64 = 1.5;
/// With vehicles held, a frame costs two passes of the model (the test on the real picture,
/// the learning on the picture with the held boxes painted over); the learning is done on
/// every `HOLD_LEARN_EVERY`th such frame only, at the rates of the frames it stands for.
const HOLD_LEARN_EVERY: u64 = 2;
/// Building the model's background image (pasted under held vehicles before learning) costs
/// 4.5 ms; it is taken afresh every `BACKGROUND_REUSE_FRAMES` frames (0.4 s at 25 fps), as
/// the background it shows changes over seconds.
const BACKGROUND_REUSE_FRAMES: u64 = 10;
/// The scene's darkness changes over minutes; judging it costs a mean over the picture.
const DARK_CHECK_FRAMES: u64 = 25;
/// Frames per second assumed when the caller does not give frame times (`set_time`).
const ASSUMED_FPS: f64 = 25.0;

impl BackgroundDetector {
    /// `roi` is a polygon in processing pixels; empty means the whole image.
    pub fn new(camera: &str, params: BackgroundParams, size: [i32; 2], roi: &[[f64; 2]]) -> Result<Self> {
        // A car is still some 40 pixels wide at 640 px; segmenting 1080p at full size
        // costs some 25 times more (the closing kernel grows with the image). At 320 px the
        // street clip counted 13 instead of 10 (8 by eye), so 640 it is.
        let factor = (size[0] as f64 / WORK_WIDTH).max(1.0);
        let size = Self::working_size(size);
        let cv = VisionError::opencv;
        let roi = if roi.len() >= 3 {
            let mut m =
                Mat::new_rows_cols_with_default(size[1], size[0], CV_8UC1, Scalar::all(0.0)).map_err(cv(camera))?;
            let pts: Vector<Point> = roi
                .iter()
                .map(|p| Point::new((p[0] / factor).round() as i32, (p[1] / factor).round() as i32))
                .collect();
            let polys: Vector<Vector<Point>> = std::iter::once(pts).collect();
            imgproc::fill_poly(&mut m, &polys, Scalar::all(255.0), imgproc::LINE_8, 0, Point::new(0, 0))
                .map_err(cv(camera))?;
            Some(m)
        } else {
            None
        };
        let subtractor = BandedSubtractor::new(&params, size, roi.as_ref()).map_err(cv(camera))?;
        Ok(Self {
            camera: camera.to_owned(),
            params,
            subtractor,
            roi,
            raw: Mat::default(),
            mask: Mat::default(),
            window: core::Rect::default(),
            factor,
            work: size,
            ground: None,
            hold: Vec::new(),
            last_share: 0.0,
            clock_s: 0.0,
            timed: false,
            relearn_until: None,
            closing: None,
            frames: 0,
            calls: 0,
            owed_rate: 0.0,
            held_frames: 0,
            background: None,
            dark: false,
            lit: None,
        })
    }

    /// Boxes of tracked vehicles for the next frame. MOG2 takes a colour that stays put for
    /// a couple of seconds (weight over 1 - background ratio at 1/history per frame) into
    /// the background, so a car waiting at a red light vanished from the mask within seconds
    /// and was counted, if at all, as a new vehicle when it moved off. Under these boxes the
    /// model learns the background it already has instead of the car.
    /// The size at which frames of processing size `size` are segmented. A source may deliver
    /// frames at this size already (scaled inside GStreamer, where it is cheaper than
    /// converting the full picture to BGR and shrinking it here); boxes stay in processing
    /// pixels either way.
    pub fn working_size(size: [i32; 2]) -> [i32; 2] {
        let factor = (size[0] as f64 / WORK_WIDTH).max(1.0);
        [(size[0] as f64 / factor).round() as i32, (size[1] as f64 / factor).round() as i32]
    }

    /// The stream time of the next frame: the relearning after a change of the whole
    /// picture is limited in seconds, whatever the camera's frame rate.
    pub fn set_time(&mut self, t_s: f64) {
        self.clock_s = t_s;
        self.timed = true;
    }

    pub fn set_hold(&mut self, boxes: Vec<BoxPx>) {
        self.hold = boxes;
    }

    /// Whether the road was dark at the last check (`light::is_dark`): headlight pools are
    /// then told from the vehicles that throw them.
    pub fn road_is_dark(&self) -> bool {
        self.dark
    }

    pub fn ground_camera(&self) -> Option<&GroundCamera> {
        self.ground.as_ref().map(|(_, c)| c)
    }

    /// Calibration (homography in image pixels of `image_size`) for splitting merged blobs;
    /// ignored when no camera pose can be recovered from it.
    pub fn set_ground(&mut self, homography: Homography, image_size: [f64; 2]) {
        self.ground = GroundCamera::from_homography(&homography, image_size).map(|c| (homography, c));
    }

    /// Loads the ROI from a mask image (non-zero = inside, at the working size), as CDnet
    /// ships it. The model starts over, so set it before the first frame.
    pub fn set_roi_mask(&mut self, mask: Mat) -> Result<()> {
        self.subtractor =
            BandedSubtractor::new(&self.params, self.work, Some(&mask)).map_err(VisionError::opencv(&self.camera))?;
        self.roi = Some(mask);
        Ok(())
    }

    /// Updates the background model and returns the cleaned foreground mask (0 or 255) at
    /// the working resolution (the image's own up to `WORK_WIDTH` pixels wide).
    pub fn foreground(&mut self, image: &Mat) -> Result<&Mat> {
        if let Err(source) = self.foreground_inner(image) {
            return Err(VisionError::OpenCv { camera: self.camera.clone(), source });
        }
        Ok(&self.mask)
    }

    fn foreground_inner(&mut self, image: &Mat) -> opencv::Result<()> {
        let small;
        let image = if image.cols() != self.work[0] || image.rows() != self.work[1] {
            let mut m = Mat::default();
            imgproc::resize(image, &mut m, Size::new(self.work[0], self.work[1]), 0.0, 0.0, imgproc::INTER_AREA)?;
            small = m;
            &small
        } else {
            image
        };
        self.frames += 1;
        if self.hold.is_empty() {
            let rate = (self.scheduled_rate() + std::mem::take(&mut self.owed_rate)).min(1.0);
            self.subtractor.apply(image, &mut self.raw, rate)?;
        } else {
            // Two calls of the schedule, as when every held frame was tested and then learnt.
            self.scheduled_rate();
            self.owed_rate += self.scheduled_rate();
            self.subtractor.apply(image, &mut self.raw, 0.0)?;
            self.held_frames += 1;
            if self.held_frames.is_multiple_of(HOLD_LEARN_EVERY) {
                let rate = std::mem::take(&mut self.owed_rate).min(1.0);
                self.learn_around_holds(image, rate)?;
            }
        }
        let mut fg = Mat::default();
        // 127 = shadow, 255 = object.
        imgproc::threshold(&self.raw, &mut fg, 200.0, 255.0, imgproc::THRESH_BINARY)?;
        if let Some(roi) = &self.roi {
            let mut masked = Mat::default();
            core::bitwise_and(&fg, roi, &mut masked, &core::no_array())?;
            fg = masked;
        }
        if self.frames % DARK_CHECK_FRAMES == 1 {
            self.dark = light::is_dark(image, self.roi.as_ref())?;
        }
        self.lit = None;
        if self.dark {
            let background = self.take_background()?;
            if let Some(lit) = light::lit_road_mask(image, &background.0, &fg)? {
                let solid = light::solid_parts(&fg, &lit)?;
                self.lit = Some((lit, solid));
            }
            self.background = Some(background);
        }
        let (mut closed, window) = self.clean_around_foreground(&fg)?;
        self.window = window;
        if self.picture_changed(image, &closed)? {
            closed = Mat::zeros(closed.rows(), closed.cols(), CV_8UC1)?.to_mat()?;
            self.window = core::Rect::default();
        }
        self.mask = closed;
        Ok(())
    }

    /// The cleaned mask of `fg` (same size) and the window outside which it is 0.
    ///
    /// Opening and closing reach no further than `reach` pixels from the foreground, and
    /// what lies beyond it is 0 before and after, so they are run on the foreground's
    /// bounding box grown by that reach only: the same mask as on the whole picture, for
    /// about half the work at a camera whose road is half its picture (a test checks it).
    fn clean_around_foreground(&mut self, fg: &Mat) -> opencv::Result<(Mat, core::Rect)> {
        let full = core::Rect::new(0, 0, fg.cols(), fg.rows());
        let mut out = Mat::zeros(fg.rows(), fg.cols(), CV_8UC1)?.to_mat()?;
        let found = imgproc::bounding_rect(fg)?;
        if found.area() == 0 {
            return Ok((out, core::Rect::default()));
        }
        // The opening grows the foreground by its radius; the closing's dilation by its
        // radius, and its erosion looks that far again.
        let reach = self.side(self.params.open_px) / 2 + 2 * (self.side(self.params.close_px) / 2) + 1;
        let grown =
            core::Rect::new(found.x - reach, found.y - reach, found.width + 2 * reach, found.height + 2 * reach);
        let window = grown & full;
        let cleaned = self.clean(&Mat::roi(fg, window)?.try_clone()?, window)?;
        cleaned.copy_to(&mut Mat::roi_mut(&mut out, window)?)?;
        Ok((out, window))
    }

    /// Kernel side (odd, pixels) for `px` pixels at 320 px width, at the working width.
    fn side(&self, px: i32) -> i32 {
        let scale = (f64::from(self.work[0]) / 320.0).max(1.0);
        ((f64::from(px) * scale).round() as i32).max(1) | 1
    }

    /// Opening, closing, hole filling and the region of interest on `fg`, the part of the
    /// foreground in `window` (outside the window is 0 up to the picture's edge).
    fn clean(&mut self, fg: &Mat, window: core::Rect) -> opencv::Result<Mat> {
        let k = |n: i32| -> opencv::Result<Mat> {
            imgproc::get_structuring_element(imgproc::MORPH_ELLIPSE, Size::new(n, n), Point::new(-1, -1))
        };
        let mut opened = Mat::default();
        let border = imgproc::morphology_default_border_value()?;
        imgproc::morphology_ex(
            fg,
            &mut opened,
            imgproc::MORPH_OPEN,
            &k(self.side(self.params.open_px))?,
            Point::new(-1, -1),
            1,
            core::BORDER_CONSTANT,
            border,
        )?;
        let close_n = self.side(self.params.close_px);
        let closing = match self.closing.take() {
            Some(made) if made.0 == close_n => made,
            _ => {
                let element = k(close_n)?;
                let runs = morph::CentredRuns::from_element(&element)?;
                (close_n, element, runs)
            }
        };
        let mut closed = Mat::default();
        match &closing.2 {
            Some(runs) => closed = runs.close(&opened)?,
            None => imgproc::morphology_ex(
                &opened,
                &mut closed,
                imgproc::MORPH_CLOSE,
                &closing.1,
                Point::new(-1, -1),
                1,
                core::BORDER_CONSTANT,
                border,
            )?,
        }
        self.closing = Some(closing);
        if self.params.fill_holes {
            let mut contours: Vector<Vector<Point>> = Vector::new();
            imgproc::find_contours(
                &closed,
                &mut contours,
                imgproc::RETR_EXTERNAL,
                imgproc::CHAIN_APPROX_SIMPLE,
                Point::new(0, 0),
            )?;
            imgproc::draw_contours(
                &mut closed,
                &contours,
                -1,
                Scalar::all(255.0),
                imgproc::FILLED,
                imgproc::LINE_8,
                &core::no_array(),
                i32::MAX,
                Point::new(0, 0),
            )?;
        }
        if let Some(roi) = &self.roi {
            let mut masked = Mat::default();
            core::bitwise_and(&closed, &Mat::roi(roi, window)?, &mut masked, &core::no_array())?;
            closed = masked;
        }
        Ok(closed)
    }

    /// The learning rate of the next call in OpenCV's own schedule, 1 / min(2 n, history) at
    /// its n-th call.
    fn scheduled_rate(&mut self) -> f64 {
        self.calls += 1;
        1.0 / (2.0 * self.calls as f64).min(f64::from(self.params.history.max(1)))
    }

    /// Learns `image` at `rate` with the held vehicles' boxes replaced by the background.
    fn learn_around_holds(&mut self, image: &Mat, rate: f64) -> opencv::Result<()> {
        let mut learn = image.try_clone()?;
        let background = self.take_background()?;
        for b in &self.hold {
            let x0 = ((b.x / self.factor).floor() as i32).clamp(0, image.cols());
            let y0 = ((b.y / self.factor).floor() as i32).clamp(0, image.rows());
            let x1 = (((b.x + b.w) / self.factor).ceil() as i32).clamp(0, image.cols());
            let y1 = (((b.y + b.h) / self.factor).ceil() as i32).clamp(0, image.rows());
            if x1 <= x0 || y1 <= y0 {
                continue;
            }
            let r = core::Rect::new(x0, y0, x1 - x0, y1 - y0);
            let from = Mat::roi(&background.0, r)?;
            let mut to = Mat::roi_mut(&mut learn, r)?;
            from.copy_to(&mut to)?;
        }
        self.background = Some(background);
        self.subtractor.learn(&learn, rate)?;
        Ok(())
    }

    /// The model's background image, taken afresh when older than `BACKGROUND_REUSE_FRAMES`;
    /// the caller puts it back in `self.background`.
    fn take_background(&mut self) -> opencv::Result<(Mat, u64)> {
        match self.background.take() {
            Some((m, at)) if self.frames - at < BACKGROUND_REUSE_FRAMES => Ok((m, at)),
            _ => {
                let mut m = Mat::default();
                self.subtractor.background_image(&mut m)?;
                Ok((m, self.frames))
            }
        }
    }

    /// Whether this frame belongs to a change of the whole picture (`mask` is its cleaned
    /// foreground); if so the model has learnt it faster and the frame shows nothing.
    fn picture_changed(&mut self, image: &Mat, mask: &Mat) -> opencv::Result<bool> {
        let area = match &self.roi {
            Some(roi) => core::count_non_zero(roi)?,
            None => mask.rows() * mask.cols(),
        };
        let share = f64::from(core::count_non_zero(mask)?) / f64::from(area.max(1));
        if !std::mem::take(&mut self.timed) {
            self.clock_s += 1.0 / ASSUMED_FPS;
        }
        let now = self.clock_s;
        if self.relearn_until.is_none() && share > SUDDEN_SHARE && share > SUDDEN_JUMP * self.last_share {
            self.relearn_until = Some(now + RELEARN_MAX_S);
        }
        let Some(until) = self.relearn_until else {
            self.last_share = share;
            return Ok(false);
        };
        if share < SUDDEN_SHARE / 2.0 {
            self.relearn_until = None;
            self.last_share = share;
            return Ok(false);
        }
        if now >= until {
            // Out of time: what is left is taken as the picture now, so that the next frame
            // is judged against it and a lasting change cannot re-arm this for ever.
            self.relearn_until = None;
            self.last_share = share;
        }
        self.calls += 1;
        self.subtractor.learn(image, RELEARN_RATE)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        /// Vehicles anywhere, by the edges too, with and without a region of interest.
        #[test]
        fn cleaning_around_the_foreground_is_cleaning_the_picture(
            rects in prop::collection::vec((0..640i32, 0..360i32, 1..60i32, 1..40i32), 0..10),
            with_roi in any::<bool>(),
        ) {
            let roi: &[[f64; 2]] = if with_roi { &[[0.0, 350.0], [300.0, 40.0], [420.0, 40.0], [639.0, 300.0]] } else { &[] };
            let mut d = BackgroundDetector::new("c", BackgroundParams::default(), [640, 360], roi).unwrap();
            let mut fg = Mat::new_rows_cols_with_default(360, 640, CV_8UC1, Scalar::all(0.0)).unwrap();
            for &(x, y, w, h) in &rects {
                let r = core::Rect::new(x, y, w, h) & core::Rect::new(0, 0, 640, 360);
                Mat::roi_mut(&mut fg, r).unwrap().set_to(&Scalar::all(255.0), &core::no_array()).unwrap();
            }
            let (windowed, window) = d.clean_around_foreground(&fg).unwrap();
            let whole = d.clean(&fg, core::Rect::new(0, 0, 640, 360)).unwrap();
            let mut diff = Mat::default();
            core::bitwise_xor(&windowed, &whole, &mut diff, &core::no_array()).unwrap();
            prop_assert_eq!(core::count_non_zero(&diff).unwrap(), 0);
            let inside = if window.area() == 0 { 0 } else { core::count_non_zero(&Mat::roi(&windowed, window).unwrap()).unwrap() };
            prop_assert_eq!(inside, core::count_non_zero(&windowed).unwrap());
        }
    }

    fn grey(v: f64) -> Mat {
        Mat::new_rows_cols_with_default(120, 160, core::CV_8UC3, Scalar::all(v)).unwrap()
    }

    /// A mask of 160x120 whose top `rows` rows are foreground.
    fn mask(rows: i32) -> Mat {
        let mut m = Mat::new_rows_cols_with_default(120, 160, CV_8UC1, Scalar::all(0.0)).unwrap();
        if rows > 0 {
            let mut top = Mat::roi_mut(&mut m, core::Rect::new(0, 0, 160, rows)).unwrap();
            top.set_to(&Scalar::all(255.0), &core::no_array()).unwrap();
        }
        m
    }

    /// A 5 fps camera whose picture changes at once and for good (half of it foreground
    /// from then on): that frame and the next 1.5 s of stream time show nothing (not 1.5 s
    /// worth of 25 fps frames: 7.5 s at 5 fps), and the lasting change does not re-arm it.
    #[test]
    fn a_change_of_the_whole_picture_is_blanked_for_at_most_its_time() {
        let mut d = BackgroundDetector::new("c", BackgroundParams::default(), [160, 120], &[]).unwrap();
        let image = grey(90.0);
        let mut t = 0.0;
        let frame = |d: &mut BackgroundDetector, rows: i32, t: f64| {
            d.set_time(t);
            d.picture_changed(&image, &mask(rows)).unwrap()
        };
        for _ in 0..10 {
            assert!(!frame(&mut d, 3, t), "a quiet picture at {t:.1} s");
            t += 0.2;
        }
        let changed_at = t;
        let mut blanked = Vec::new();
        for _ in 0..30 {
            blanked.push((t - changed_at, frame(&mut d, 60, t)));
            t += 0.2;
        }
        let last_blank = blanked.iter().filter(|(_, b)| *b).map(|(s, _)| *s).fold(f64::NAN, f64::max);
        assert!(blanked[0].1, "the changed frame is blanked");
        // The last blanked frame is the first at or after the limit: 1.6 s at 5 fps.
        assert!((RELEARN_MAX_S - 0.2..RELEARN_MAX_S + 0.2).contains(&last_blank), "{blanked:?}");
        let after: Vec<bool> = blanked.iter().filter(|(s, _)| *s > last_blank).map(|(_, b)| *b).collect();
        assert!(after.len() >= 20 && after.iter().all(|b| !b), "re-armed: {blanked:?}");
    }
}
