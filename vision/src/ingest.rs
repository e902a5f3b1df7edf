//! Frames from any URI GStreamer can open: uridecodebin -> videoscale -> videoconvert -> appsink.
//!
//! Scaling happens before colour conversion so that a 1080p camera is converted at the
//! processing resolution, not at full size. Live sources get a leaky two-buffer appsink so
//! a slow detector drops stale frames instead of drifting behind the street.

use std::sync::Once;
use std::time::Duration;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use opencv::core::{CV_8UC3, Mat, Scalar};
use opencv::prelude::*;

use crate::error::{Result, VisionError};

/// One decoded frame in packed BGR at the processing resolution.
pub struct Frame {
    pub image: Mat,
    /// Presentation time stamp of the stream, seconds.
    pub pts_s: f64,
    /// 0-based index of the frame among the frames delivered.
    pub index: u64,
}

/// How a source should be paced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// Recorded file: every frame, as fast as the pipeline goes.
    EveryFrame,
    /// Camera: keep only the newest frames; late ones are dropped.
    Live,
}

#[derive(Debug, Clone)]
pub struct SourceSpec {
    pub camera: String,
    pub uri: String,
    /// Processing resolution; `None` keeps the source's own.
    pub resolution: Option<[u32; 2]>,
    pub pacing: Pacing,
    /// Threads of a software H.264/H.265 decoder; `None` leaves the decoder's choice (one per
    /// core). Frame threading buys one stream speed with CPU: decoding the 1080p benchmark
    /// file alone took a median 19.0 s of CPU on one thread against 21.0 s on two (5 runs
    /// each), which several streams sharing two cores do not have to spare.
    pub decoder_threads: Option<u32>,
}

pub fn init_gstreamer() -> Result<()> {
    static INIT: Once = Once::new();
    let mut failure = None;
    INIT.call_once(|| {
        if let Err(e) = gst::init() {
            failure = Some(e.to_string());
        }
    });
    match failure {
        Some(cause) => Err(VisionError::Source { camera: "-".into(), cause: format!("GStreamer init: {cause}") }),
        None => Ok(()),
    }
}

/// Turns a path or URI into a URI: engineers type paths, cameras are configured with URIs.
pub fn to_uri(camera: &str, location: &str) -> Result<String> {
    if location.contains("://") {
        return Ok(location.to_owned());
    }
    let path = std::path::Path::new(location);
    if !path.exists() {
        return Err(VisionError::Source { camera: camera.into(), cause: format!("file {location} does not exist") });
    }
    let abs = std::fs::canonicalize(path).map_err(VisionError::io(path))?;
    gst::glib::filename_to_uri(&abs, None)
        .map(|u| u.to_string())
        .map_err(|e| VisionError::Source { camera: camera.into(), cause: format!("{location}: {e}") })
}

pub struct FrameSource {
    camera: String,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    next_index: u64,
    finished: bool,
}

impl FrameSource {
    pub fn open(spec: &SourceSpec) -> Result<FrameSource> {
        init_gstreamer()?;
        let camera = spec.camera.clone();
        let fail = |cause: String| VisionError::Source { camera: camera.clone(), cause };
        let uri = to_uri(&camera, &spec.uri)?;
        let caps = match spec.resolution {
            Some([w, h]) => format!("video/x-raw,width={w},height={h},pixel-aspect-ratio=1/1"),
            None => "video/x-raw".to_owned(),
        };
        // A file is decoded, scaled and analysed on different threads; deep queues let each
        // run ahead while another has a slow frame (the queue's default 10 MB held only three
        // decoded 1080p frames). A camera keeps them short: a frame that waits is stale.
        let (queue, max_buffers, drop) = match spec.pacing {
            Pacing::EveryFrame => ("max-size-buffers=12 max-size-bytes=0 max-size-time=0", 8, false),
            Pacing::Live => ("max-size-buffers=4", 2, true),
        };
        let description = format!(
            "uridecodebin name=src uri=\"{uri}\" ! queue {queue} ! videoscale ! {caps} ! videoconvert ! \
             video/x-raw,format=BGR ! appsink name=sink sync=false max-buffers={max_buffers} drop={drop}"
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| fail(format!("cannot build pipeline: {e}")))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| fail("pipeline description is not a pipeline".into()))?;
        if let Some(threads) = spec.decoder_threads {
            limit_decoder_threads(&pipeline, threads);
        }
        let sink = pipeline
            .by_name("sink")
            .and_then(|e| e.downcast::<gst_app::AppSink>().ok())
            .ok_or_else(|| fail("no appsink in pipeline".into()))?;
        let source = FrameSource { camera: camera.clone(), pipeline, sink, next_index: 0, finished: false };
        source.pipeline.set_state(gst::State::Playing).map_err(|_| {
            let cause = source.bus_error().unwrap_or_else(|| "the pipeline refused to start".into());
            fail(cause)
        })?;
        Ok(source)
    }

    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// First error message waiting on the bus, if any.
    fn bus_error(&self) -> Option<String> {
        let bus = self.pipeline.bus()?;
        while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
            if let gst::MessageView::Error(err) = msg.view() {
                let debug = err.debug().map(|d| d.to_string()).unwrap_or_default();
                return Some(describe_gst_error(&err.error().to_string(), &debug));
            }
        }
        None
    }

    /// The next frame; `Ok(None)` at the end of a file. Errors of the stream end the source.
    pub fn next_frame(&mut self, timeout: Duration) -> Result<Option<Frame>> {
        if self.finished {
            return Ok(None);
        }
        if let Some(cause) = self.bus_error() {
            self.finished = true;
            return Err(VisionError::Source { camera: self.camera.clone(), cause });
        }
        match self.sink.try_pull_sample(gst::ClockTime::from_mseconds(timeout.as_millis() as u64)) {
            Some(sample) => self.convert(&sample).map(Some),
            None if self.sink.is_eos() => {
                self.finished = true;
                if let Some(cause) = self.bus_error() {
                    return Err(VisionError::Source { camera: self.camera.clone(), cause });
                }
                if self.next_index == 0 {
                    return Err(VisionError::NoFrames {
                        camera: self.camera.clone(),
                        cause: "the stream has no decodable video".into(),
                    });
                }
                Ok(None)
            }
            None => {
                // A timeout: a live camera that went quiet is the caller's call.
                if let Some(cause) = self.bus_error() {
                    self.finished = true;
                    return Err(VisionError::Source { camera: self.camera.clone(), cause });
                }
                Err(VisionError::Source {
                    camera: self.camera.clone(),
                    cause: format!("no frame within {} ms", timeout.as_millis()),
                })
            }
        }
    }

    fn convert(&mut self, sample: &gst::Sample) -> Result<Frame> {
        let fail = |cause: &str| VisionError::Source { camera: self.camera.clone(), cause: cause.to_owned() };
        let caps = sample.caps().ok_or_else(|| fail("sample without caps"))?;
        let info = gst_video::VideoInfo::from_caps(caps).map_err(|_| fail("caps are not raw video"))?;
        let buffer = sample.buffer().ok_or_else(|| fail("sample without buffer"))?;
        let pts_s = buffer.pts().map_or(f64::NAN, |t| t.nseconds() as f64 / 1e9);
        let map = buffer.map_readable().map_err(|_| fail("buffer not readable"))?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        let stride = info.stride()[0] as usize;
        let offset = info.offset()[0];
        let row = w * 3;
        if map.len() < offset + stride * (h - 1) + row {
            return Err(fail("buffer shorter than its caps say"));
        }
        let mut image = Mat::new_rows_cols_with_default(h as i32, w as i32, CV_8UC3, Scalar::all(0.0))
            .map_err(VisionError::opencv(&self.camera))?;
        let dst = image.data_bytes_mut().map_err(VisionError::opencv(&self.camera))?;
        // GStreamer pads rows to 4 bytes (e.g. 3 x 426 + 2); the Mat is packed.
        for y in 0..h {
            let s = offset + y * stride;
            dst[y * row..(y + 1) * row].copy_from_slice(&map[s..s + row]);
        }
        let index = self.next_index;
        self.next_index += 1;
        Ok(Frame { image, pts_s, index })
    }
}

/// Decoder threads per camera: as asked (0 = the decoder's one per core), else the cores
/// shared out among the cameras. A single recorded file gets two frame threads per core: with
/// only one per core, the cores idle whenever both decoder threads wait on each other while
/// the analysis has no frame to work on (the 1080p benchmark file ran at 0.67-0.69 of
/// decode-only speed on the decoder's two threads and 0.73-0.77 on four, same runs; six or
/// eight gained nothing more). A single live camera keeps the decoder's choice: each frame
/// thread adds a frame of delay before the frame is analysed.
pub fn decoder_threads(asked: Option<u32>, cameras: usize, pacing: Pacing) -> Option<u32> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    match asked {
        Some(0) => None,
        Some(n) => Some(n),
        None if cameras <= 1 && pacing == Pacing::Live => None,
        None if cameras <= 1 => Some(2 * cores as u32),
        None => Some((cores / cameras).max(1) as u32),
    }
}

/// Sets `max-threads` of the libav decoder uridecodebin picks, when it adds it: the decoder
/// is chosen from the stream, so it cannot be named in the pipeline description.
fn limit_decoder_threads(pipeline: &gst::Pipeline, threads: u32) {
    pipeline.connect_deep_element_added(move |_, _, element| {
        let is_libav = element.factory().is_some_and(|f| f.name().starts_with("avdec_"));
        if is_libav && element.find_property("max-threads").is_some() {
            element.set_property("max-threads", threads.min(i32::MAX as u32) as i32);
        }
    });
}

impl Drop for FrameSource {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

/// GStreamer's messages are written for GStreamer developers; say what it means for a camera.
fn describe_gst_error(message: &str, debug: &str) -> String {
    let lower = format!("{message} {debug}").to_lowercase();
    let hint = if lower.contains("not found") || lower.contains("no such file") || lower.contains("could not open") {
        "source not found or not readable"
    } else if lower.contains("missing") && (lower.contains("plugin") || lower.contains("decoder")) {
        "unsupported codec (no GStreamer decoder installed for it)"
    } else if lower.contains("could not connect") || lower.contains("connection refused") || lower.contains("timeout") {
        "camera unreachable"
    } else if lower.contains("could not determine type") || lower.contains("demux") || lower.contains("parse") {
        "corrupt or unrecognised stream"
    } else {
        "stream error"
    };
    format!("{hint}: {message}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::Mp4Writer;

    #[test]
    fn cameras_share_the_cores_unless_told() {
        let cores = std::thread::available_parallelism().unwrap().get();
        for pacing in [Pacing::Live, Pacing::EveryFrame] {
            assert_eq!(decoder_threads(Some(0), 8, pacing), None);
            assert_eq!(decoder_threads(Some(3), 8, pacing), Some(3));
            assert_eq!(decoder_threads(Some(3), 1, pacing), Some(3));
            assert_eq!(decoder_threads(None, cores * 2, pacing), Some(1));
            assert_eq!(decoder_threads(None, 2, pacing), Some((cores / 2).max(1) as u32));
        }
        assert_eq!(decoder_threads(None, 1, Pacing::Live), None);
        assert_eq!(decoder_threads(None, 1, Pacing::EveryFrame), Some(2 * cores as u32));
    }

    fn h264_file(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("grey.mp4");
        let mut writer = Mp4Writer::create(&path, 320, 240, 25.0).unwrap();
        for i in 0..10 {
            let frame = Mat::new_rows_cols_with_default(240, 320, CV_8UC3, Scalar::all(f64::from(i * 20))).unwrap();
            writer.push(&frame).unwrap();
        }
        writer.finish().unwrap();
        path
    }

    /// The limit reaches the decoder uridecodebin chose, and every frame still arrives.
    #[test]
    fn the_decoder_runs_on_the_threads_it_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let uri = h264_file(dir.path()).display().to_string();
        for (threads, expected) in [(Some(1), 1), (None, 0)] {
            let spec = SourceSpec {
                camera: "c".into(),
                uri: uri.clone(),
                resolution: None,
                pacing: Pacing::EveryFrame,
                decoder_threads: threads,
            };
            let mut source = FrameSource::open(&spec).unwrap();
            let mut frames = 0;
            while source.next_frame(Duration::from_secs(10)).unwrap().is_some() {
                frames += 1;
            }
            assert_eq!(frames, 10);
            let decoder = source
                .pipeline
                .iterate_recurse()
                .into_iter()
                .flatten()
                .find(|e| e.factory().is_some_and(|f| f.name().starts_with("avdec_")))
                .expect("a libav decoder");
            assert_eq!(decoder.property::<i32>("max-threads"), expected, "{threads:?}");
        }
    }
}
