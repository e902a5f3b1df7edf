//! The rendered RGB picture as the I420 that H.264 encoders take.
//!
//! GStreamer's generic converter took a seventh of the CPU of filming (unpacking each line
//! to 16-bit ARGB, a matrix, chroma filtering, packing); done here it is one pass in the
//! renderer's own thread per camera. It uses what GStreamer chose for these pictures before
//! (BT.709 matrix, limited range, chroma the mean of each 2x2 block), and the caps say so,
//! so the decoder turns it back into the same colours.

use super::raster::Frame;

/// Caps of the frames `to_i420` writes.
pub fn i420_caps(w: usize, h: usize, (n, d): (i32, i32)) -> String {
    format!("video/x-raw,format=I420,width={w},height={h},framerate={n}/{d},colorimetry=bt709")
}

const KR: f64 = 0.2126;
const KB: f64 = 0.0722;
const KG: f64 = 1.0 - KR - KB;
/// Fixed point: coefficients times 2^16.
const ONE: f64 = 65536.0;
const Y_SCALE: f64 = 219.0 / 255.0;
const C_SCALE: f64 = 224.0 / 255.0;
const YR: i32 = (KR * Y_SCALE * ONE + 0.5) as i32;
const YG: i32 = (KG * Y_SCALE * ONE + 0.5) as i32;
const YB: i32 = (KB * Y_SCALE * ONE + 0.5) as i32;
// Cb = (B - Y') / (2 (1 - Kb)), Cr = (R - Y') / (2 (1 - Kr)), both scaled to 224 levels.
const CB_R: i32 = (-KR / (2.0 * (1.0 - KB)) * C_SCALE * ONE - 0.5) as i32;
const CB_G: i32 = (-KG / (2.0 * (1.0 - KB)) * C_SCALE * ONE - 0.5) as i32;
const CB_B: i32 = (0.5 * C_SCALE * ONE + 0.5) as i32;
const CR_R: i32 = (0.5 * C_SCALE * ONE + 0.5) as i32;
const CR_G: i32 = (-KG / (2.0 * (1.0 - KR)) * C_SCALE * ONE - 0.5) as i32;
const CR_B: i32 = (-KB / (2.0 * (1.0 - KR)) * C_SCALE * ONE - 0.5) as i32;
const HALF: i32 = 1 << 15;

/// Writes `frame` (RGB, even width and height) as I420 into `out`.
pub fn to_i420(frame: &Frame, out: &mut Vec<u8>) {
    let (w, h) = (frame.width, frame.height);
    debug_assert!(w % 2 == 0 && h % 2 == 0, "I420 needs even sizes, got {w}x{h}");
    let (cw, ch) = (w / 2, h / 2);
    out.resize(w * h + 2 * cw * ch, 0);
    let (luma, chroma) = out.split_at_mut(w * h);
    let (cb, cr) = chroma.split_at_mut(cw * ch);
    let rgb = &frame.data[..w * h * 3];
    for (src, dst) in rgb.chunks_exact(w * 3).zip(luma.chunks_exact_mut(w)) {
        for (p, y) in src.chunks_exact(3).zip(dst.iter_mut()) {
            let (r, g, b) = (i32::from(p[0]), i32::from(p[1]), i32::from(p[2]));
            *y = (((YR * r + YG * g + YB * b + HALF) >> 16) + 16) as u8;
        }
    }
    for row in 0..ch {
        let top = &rgb[2 * row * w * 3..(2 * row + 1) * w * 3];
        let bottom = &rgb[(2 * row + 1) * w * 3..(2 * row + 2) * w * 3];
        let (cb_row, cr_row) = (&mut cb[row * cw..(row + 1) * cw], &mut cr[row * cw..(row + 1) * cw]);
        for (i, (u, v)) in cb_row.iter_mut().zip(cr_row.iter_mut()).enumerate() {
            let at = 6 * i;
            let sum = |c: usize| {
                i32::from(top[at + c])
                    + i32::from(top[at + 3 + c])
                    + i32::from(bottom[at + c])
                    + i32::from(bottom[at + 3 + c])
            };
            // Sums of four pixels: the shift takes two more bits.
            let (r, g, b) = (sum(0), sum(1), sum(2));
            let round = 1 << 17;
            *u = (((CB_R * r + CB_G * g + CB_B * b + round) >> 18) + 128).clamp(0, 255) as u8;
            *v = (((CR_R * r + CR_G * g + CR_B * b + round) >> 18) + 128).clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gstreamer as gst;
    use gstreamer::prelude::*;
    use gstreamer_app as gst_app;

    fn flat(w: usize, h: usize, rgb: [u8; 3]) -> Frame {
        Frame { width: w, height: h, data: rgb.iter().copied().cycle().take(w * h * 3).collect() }
    }

    fn yuv_of(rgb: [u8; 3]) -> [u8; 3] {
        let mut out = Vec::new();
        to_i420(&flat(4, 2, rgb), &mut out);
        [out[0], out[8], out[10]]
    }

    #[test]
    fn known_colours_take_their_bt709_limited_range_values() {
        assert_eq!(yuv_of([0, 0, 0]), [16, 128, 128]);
        assert_eq!(yuv_of([255, 255, 255]), [235, 128, 128]);
        // BT.709 tables: red 63/102/240, green 173/42/26, blue 32/240/118.
        assert_eq!(yuv_of([255, 0, 0]), [63, 102, 240]);
        assert_eq!(yuv_of([0, 255, 0]), [173, 42, 26]);
        assert_eq!(yuv_of([0, 0, 255]), [32, 240, 118]);
    }

    /// The same picture through GStreamer's own converter, with the caps the cameras used to
    /// send (RGB at 1280x720, for which it picks BT.709): our I420 must match it closely, or
    /// the decoder would show other colours than were rendered.
    #[test]
    fn matches_gstreamers_conversion_of_the_same_picture() {
        gst::init().unwrap();
        let (w, h) = (1280usize, 720usize);
        let mut frame = flat(w, h, [0, 0, 0]);
        for y in 0..h {
            for x in 0..w {
                let p = 3 * (y * w + x);
                frame.data[p] = (x * 255 / w) as u8;
                frame.data[p + 1] = (y * 255 / h) as u8;
                frame.data[p + 2] = ((x + y) * 255 / (w + h)) as u8;
            }
        }
        let pipeline = gst::parse::launch(&format!(
            "appsrc name=src format=time caps=video/x-raw,format=RGB,width={w},height={h},framerate=25/1 ! \
             videoconvert ! video/x-raw,format=I420 ! appsink name=sink sync=false"
        ))
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
        let src = pipeline.by_name("src").unwrap().downcast::<gst_app::AppSrc>().unwrap();
        let sink = pipeline.by_name("sink").unwrap().downcast::<gst_app::AppSink>().unwrap();
        pipeline.set_state(gst::State::Playing).unwrap();
        src.push_buffer(gst::Buffer::from_slice(frame.data.clone())).unwrap();
        src.end_of_stream().unwrap();
        let sample = sink.pull_sample().unwrap();
        let theirs = sample.buffer().unwrap().map_readable().unwrap().to_vec();
        pipeline.set_state(gst::State::Null).unwrap();
        let mut ours = Vec::new();
        to_i420(&frame, &mut ours);
        assert_eq!(ours.len(), theirs.len());
        let worst = ours.iter().zip(&theirs).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
        assert!(worst <= 2, "largest difference {worst}");
    }
}
