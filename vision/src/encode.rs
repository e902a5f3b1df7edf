//! Writes BGR frames to an H.264 MP4: appsrc -> videoconvert -> x264enc -> mp4mux -> filesink.

use std::path::{Path, PathBuf};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use opencv::core::Mat;
use opencv::prelude::*;

use crate::error::{Result, VisionError};
use crate::ingest::init_gstreamer;

pub struct Mp4Writer {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    path: PathBuf,
    frame_ns: u64,
    n: u64,
}

impl Mp4Writer {
    pub fn create(path: &Path, width: i32, height: i32, fps: f64) -> Result<Self> {
        init_gstreamer()?;
        let fail = |cause: String| VisionError::Encoder { path: path.to_owned(), cause };
        let fps_n = (fps * 1000.0).round().max(1.0) as i32;
        // x264 needs even dimensions in I420.
        let (ew, eh) = (width & !1, height & !1);
        let description = format!(
            "appsrc name=src format=time caps=video/x-raw,format=BGR,width={width},height={height},framerate={fps_n}/1000 \
             ! videoconvert ! videocrop right={} bottom={} ! video/x-raw,format=I420,width={ew},height={eh} \
             ! x264enc speed-preset=veryfast tune=zerolatency ! h264parse ! mp4mux ! filesink location=\"{}\"",
            width - ew,
            height - eh,
            path.display()
        );
        let pipeline = gst::parse::launch(&description)
            .map_err(|e| fail(format!("cannot build encoder (is gstreamer1.0-plugins-ugly installed?): {e}")))?
            .downcast::<gst::Pipeline>()
            .map_err(|_| fail("not a pipeline".into()))?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| fail("no appsrc".into()))?;
        pipeline.set_state(gst::State::Playing).map_err(|e| fail(format!("cannot start: {e}")))?;
        Ok(Self { pipeline, src, path: path.to_owned(), frame_ns: (1e9 / fps.max(1.0)) as u64, n: 0 })
    }

    pub fn push(&mut self, frame: &Mat) -> Result<()> {
        let fail = |cause: String| VisionError::Encoder { path: self.path.clone(), cause };
        let bytes = frame.data_bytes().map_err(|e| fail(e.message))?;
        let mut buffer = gst::Buffer::from_slice(bytes.to_vec());
        if let Some(b) = buffer.get_mut() {
            b.set_pts(gst::ClockTime::from_nseconds(self.n * self.frame_ns));
            b.set_duration(gst::ClockTime::from_nseconds(self.frame_ns));
        }
        self.n += 1;
        self.src.push_buffer(buffer).map_err(|e| fail(format!("encoder stopped: {e}")))?;
        Ok(())
    }

    /// Flushes and closes the file; the MP4 is unreadable until this has run.
    pub fn finish(self) -> Result<()> {
        let fail = |cause: String| VisionError::Encoder { path: self.path.clone(), cause };
        self.src.end_of_stream().map_err(|e| fail(format!("end of stream: {e}")))?;
        let bus = self.pipeline.bus().ok_or_else(|| fail("no bus".into()))?;
        let result = match bus
            .timed_pop_filtered(gst::ClockTime::from_seconds(60), &[gst::MessageType::Eos, gst::MessageType::Error])
        {
            Some(msg) => match msg.view() {
                gst::MessageView::Error(e) => Err(fail(e.error().to_string())),
                _ => Ok(()),
            },
            None => Err(fail("encoder did not finish within 60 s".into())),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        result
    }
}
