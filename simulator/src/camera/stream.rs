//! Where frames go: an MP4 file per camera as fast as the encoder allows, or one RTSP mount
//! per camera on a local gst-rtsp-server, live. The only GStreamer code of the simulator.

use std::path::Path;
use std::sync::{Arc, Mutex};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_rtsp_server as rtsp;
use gstreamer_rtsp_server::prelude::*;

use super::CameraError;
use super::yuv::i420_caps;

fn gst_err(what: impl std::fmt::Display) -> CameraError {
    CameraError::Gstreamer(what.to_string())
}

fn init() -> Result<(), CameraError> {
    gst::init().map_err(gst_err)
}

/// Frame rate as a GStreamer fraction (25 -> 25/1, 29.97 -> 2997/100).
fn fps_fraction(fps: f64) -> (i32, i32) {
    if (fps - fps.round()).abs() < 1e-9 { (fps.round() as i32, 1) } else { ((fps * 100.0).round() as i32, 100) }
}

fn raw_caps(w: usize, h: usize, fps: f64) -> String {
    i420_caps(w, h, fps_fraction(fps))
}

/// H.264 in MP4, written as fast as the encoder goes (appsrc blocks when it falls behind).
pub struct Mp4Writer {
    pipeline: gst::Pipeline,
    src: gst_app::AppSrc,
    frame_ns: f64,
    frames: u64,
}

impl Mp4Writer {
    pub fn create(path: &Path, w: usize, h: usize, fps: f64) -> Result<Mp4Writer, CameraError> {
        init()?;
        let location = path.display().to_string().replace('"', "\\\"");
        // x264's superfast preset keeps up with several 720p cameras on two cores; a
        // moderate bitrate leaves realistic blocking on the noisy surfaces.
        let desc = format!(
            "appsrc name=src format=time block=true max-bytes=20000000 caps={} ! \
             x264enc speed-preset=superfast bitrate=3000 key-int-max=50 threads=2 ! h264parse ! mp4mux ! filesink location=\"{location}\"",
            raw_caps(w, h, fps)
        );
        let pipeline = gst::parse::launch(&desc)
            .map_err(gst_err)?
            .downcast::<gst::Pipeline>()
            .map_err(|_| gst_err("not a pipeline"))?;
        let src = pipeline
            .by_name("src")
            .and_then(|e| e.downcast::<gst_app::AppSrc>().ok())
            .ok_or_else(|| gst_err("appsrc missing"))?;
        pipeline.set_state(gst::State::Playing).map_err(|e| gst_err(format!("{}: {e}", path.display())))?;
        Ok(Mp4Writer { pipeline, src, frame_ns: 1e9 / fps, frames: 0 })
    }

    /// `i420`: one frame as `yuv::to_i420` writes it.
    pub fn push(&mut self, i420: Vec<u8>) -> Result<(), CameraError> {
        let mut buf = gst::Buffer::from_slice(i420);
        {
            let b = buf.get_mut().ok_or_else(|| gst_err("buffer not writable"))?;
            let pts = (self.frames as f64 * self.frame_ns).round() as u64;
            let next = ((self.frames + 1) as f64 * self.frame_ns).round() as u64;
            b.set_pts(gst::ClockTime::from_nseconds(pts));
            b.set_duration(gst::ClockTime::from_nseconds(next - pts));
        }
        self.frames += 1;
        self.src.push_buffer(buf).map_err(|e| self.bus_error().unwrap_or_else(|| gst_err(e)))?;
        Ok(())
    }

    fn bus_error(&self) -> Option<CameraError> {
        let bus = self.pipeline.bus()?;
        while let Some(msg) = bus.pop() {
            if let gst::MessageView::Error(e) = msg.view() {
                return Some(gst_err(format!("{} ({:?})", e.error(), e.debug())));
            }
        }
        None
    }

    /// Ends the stream and waits until the file is complete (the MP4 index is written last).
    pub fn finish(self) -> Result<u64, CameraError> {
        self.src.end_of_stream().map_err(gst_err)?;
        let bus = self.pipeline.bus().ok_or_else(|| gst_err("no bus"))?;
        let result = loop {
            let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(60)) else {
                break Err(gst_err("no end of stream within 60 s"));
            };
            match msg.view() {
                gst::MessageView::Eos(_) => break Ok(self.frames),
                gst::MessageView::Error(e) => break Err(gst_err(format!("{} ({:?})", e.error(), e.debug()))),
                _ => {}
            }
        };
        self.pipeline.set_state(gst::State::Null).map_err(gst_err)?;
        result
    }
}

impl Drop for Mp4Writer {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

type Slot = Arc<Mutex<Option<gst_app::AppSrc>>>;

/// An RTSP server on `address:port` with one mount per camera. A mount's encoder runs only
/// while someone watches; frames rendered meanwhile are dropped, as a real camera's are.
pub struct RtspCameras {
    main_loop: gst::glib::MainLoop,
    thread: Option<std::thread::JoinHandle<()>>,
    slots: Vec<Slot>,
    _source: gst::glib::SourceId,
    pub port: u16,
}

impl RtspCameras {
    /// `mounts`: (path such as `/cam-J1-W`, width, height, fps).
    pub fn serve(address: &str, port: u16, mounts: &[(String, usize, usize, f64)]) -> Result<RtspCameras, CameraError> {
        init()?;
        let server = rtsp::RTSPServer::new();
        server.set_address(address);
        server.set_service(&port.to_string());
        let points = server.mount_points().ok_or_else(|| gst_err("no mount points"))?;
        let mut slots = Vec::new();
        for (path, w, h, fps) in mounts {
            let factory = rtsp::RTSPMediaFactory::new();
            factory.set_launch(&format!(
                "( appsrc name=src is-live=true format=time do-timestamp=true caps={} ! \
                 x264enc tune=zerolatency speed-preset=ultrafast bitrate=3000 key-int-max={} ! rtph264pay name=pay0 pt=96 config-interval=1 )",
                raw_caps(*w, *h, *fps),
                fps.round().max(1.0) as u32
            ));
            factory.set_shared(true);
            let slot: Slot = Arc::new(Mutex::new(None));
            let s = slot.clone();
            factory.connect_media_configure(move |_, media| {
                let element = media.element();
                let src = element
                    .downcast_ref::<gst::Bin>()
                    .and_then(|b| b.by_name_recurse_up("src"))
                    .and_then(|e| e.downcast::<gst_app::AppSrc>().ok());
                if let Ok(mut g) = s.lock() {
                    *g = src;
                }
            });
            points.add_factory(path, factory);
            slots.push(slot);
        }
        let source = server.attach(None).map_err(|e| gst_err(format!("RTSP server on {address}:{port}: {e}")))?;
        let main_loop = gst::glib::MainLoop::new(None, false);
        let ml = main_loop.clone();
        let thread = std::thread::Builder::new()
            .name("rtsp-server".into())
            .spawn(move || ml.run())
            .map_err(|e| gst_err(format!("RTSP thread: {e}")))?;
        Ok(RtspCameras { main_loop, thread: Some(thread), slots, _source: source, port })
    }

    /// Hands a frame to the mount's encoder if someone is watching; true when it was taken.
    pub fn push(&self, camera: usize, i420: Vec<u8>) -> bool {
        let Some(slot) = self.slots.get(camera) else { return false };
        let Ok(mut g) = slot.lock() else { return false };
        let Some(src) = g.as_ref() else { return false };
        match src.push_buffer(gst::Buffer::from_slice(i420)) {
            Ok(_) => true,
            Err(_) => {
                // The media was torn down (last viewer left); the next viewer configures anew.
                *g = None;
                false
            }
        }
    }
}

impl Drop for RtspCameras {
    fn drop(&mut self) {
        self.main_loop.quit();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
