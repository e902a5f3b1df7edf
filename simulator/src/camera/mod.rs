//! Synthetic cameras: each configured camera's view of the simulated street, rendered by a
//! small software rasteriser, streamed like an IP camera (RTSP) or written to MP4, with the
//! ground truth needed to score the vision pipeline. The only GStreamer user in the
//! simulator (behind the `cameras` feature).
//!
//! A run: [`Film::new`] from the site, then [`Film::capture`] after every simulation step
//! whose time is a frame time (step the simulation at the camera frame interval, so that
//! truth and picture are the same instant), then [`Film::finish`].

pub mod lighting;
pub mod raster;
mod render;
mod scene;
pub mod score;
mod stream;
pub mod truth;
mod vehicles;
mod view;
mod yuv;

use std::io::Write;
use std::path::PathBuf;

use nutgiao_config::Site;

pub use lighting::{Conditions, TimeOfDay};
pub use raster::Frame;
pub use render::{CameraRenderer, InView};
pub use stream::{Mp4Writer, RtspCameras};
pub use truth::{TruthRecord, TruthRecorder};

use crate::{Simulation, VehicleView};

#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("camera {0} has no pose: the renderer needs position, heading, tilt and field of view")]
    NoPose(String),
    #[error("camera {0}: resolution {1}x{2} must be even and at least 16x16")]
    Resolution(String, u32, u32),
    #[error("camera {0}: {1} fps is not a usable frame rate")]
    Fps(String, f64),
    #[error("the site has no cameras to film")]
    NoCameras,
    #[error("site: {0}")]
    Site(String),
    #[error("GStreamer: {0}")]
    Gstreamer(String),
    #[error("writing the ground truth: {0}")]
    Truth(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("camera URI {0}: expected rtsp://HOST:PORT/PATH")]
    Uri(String),
}

/// Where the pictures go.
#[derive(Debug, Clone, PartialEq)]
pub enum Destination {
    /// `DIR/<camera id>.mp4`, as fast as possible.
    Directory(PathBuf),
    /// One RTSP mount per camera, at the path and port of its configured `rtsp://` URI,
    /// served on this address.
    Rtsp { address: String },
    /// Render only (benchmarks, tests).
    Nowhere,
}

#[derive(Debug, Clone)]
pub struct FilmOptions {
    pub conditions: Conditions,
    pub seed: u64,
    pub destination: Destination,
}

enum Sinks {
    Files(Vec<Mp4Writer>),
    Rtsp(RtspCameras),
    Nowhere,
}

/// What a film run produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FilmSummary {
    pub cameras: Vec<String>,
    pub frames_per_camera: u64,
    pub crossings: u64,
    pub violations: u64,
    pub files: Vec<PathBuf>,
}

/// All of a site's cameras, filming one simulation.
pub struct Film {
    cameras: Vec<CameraRenderer>,
    frames: Vec<Frame>,
    sinks: Sinks,
    truth: TruthRecorder,
    files: Vec<PathBuf>,
    frame_no: u64,
}

impl Film {
    /// `truth`: where the ground-truth JSON lines go (kept in memory only when `None`).
    pub fn new(site: &Site, opts: &FilmOptions, truth: Option<Box<dyn Write + Send>>) -> Result<Film, CameraError> {
        if site.cameras.is_empty() {
            return Err(CameraError::NoCameras);
        }
        let cameras = site
            .cameras
            .iter()
            .enumerate()
            .map(|(i, c)| CameraRenderer::new(site, c, i, opts.conditions, opts.seed))
            .collect::<Result<Vec<_>, _>>()?;
        let frames = cameras.iter().map(CameraRenderer::blank).collect();
        let mut files = Vec::new();
        let sinks = match &opts.destination {
            Destination::Directory(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| CameraError::Io { path: dir.clone(), source })?;
                let mut w = Vec::new();
                for c in &cameras {
                    let path = dir.join(format!("{}.mp4", c.id));
                    w.push(Mp4Writer::create(&path, c.width, c.height, c.fps)?);
                    files.push(path);
                }
                Sinks::Files(w)
            }
            Destination::Rtsp { address } => {
                let mut mounts = Vec::new();
                let mut port = None;
                for (c, cfg) in cameras.iter().zip(&site.cameras) {
                    let (p, path) = rtsp_port_and_path(&cfg.uri).ok_or_else(|| CameraError::Uri(cfg.uri.clone()))?;
                    if port.is_some_and(|q| q != p) {
                        return Err(CameraError::Uri(format!("{} (all cameras must share one port)", cfg.uri)));
                    }
                    port = Some(p);
                    mounts.push((path, c.width, c.height, c.fps));
                }
                Sinks::Rtsp(RtspCameras::serve(address, port.unwrap_or(8554), &mounts)?)
            }
            Destination::Nowhere => Sinks::Nowhere,
        };
        let tod = opts.conditions.time_of_day.as_str();
        let step = 1.0 / cameras.iter().map(|c| c.fps).fold(0.0, f64::max);
        let truth = TruthRecorder::new(site, truth, opts.seed, tod, step)?;
        Ok(Film { cameras, frames, sinks, truth, files, frame_no: 0 })
    }

    /// The simulation step that puts every frame at a simulation instant: one frame interval
    /// of the fastest camera.
    pub fn frame_interval_s(&self) -> f64 {
        1.0 / self.cameras.iter().map(|c| c.fps).fold(0.0, f64::max)
    }

    pub fn camera_ids(&self) -> Vec<String> {
        self.cameras.iter().map(|c| c.id.clone()).collect()
    }

    /// Renders, ships and records one frame of every camera from the simulation as it is now,
    /// after taking its ground-truth events.
    pub fn capture(&mut self, sim: &mut Simulation) -> Result<(), CameraError> {
        let events = sim.drain_events();
        self.truth.sim_events(&events)?;
        let vehicles: Vec<VehicleView> = sim.vehicles().collect();
        let signals = sim.signals().clone();
        let t = sim.now_s();
        let no = self.frame_no;
        let encode = !matches!(self.sinks, Sinks::Nowhere);
        let (seen, i420): (Vec<_>, Vec<_>) = self.render_each(&vehicles, &signals, no, encode).into_iter().unzip();
        for (i, s) in seen.iter().enumerate() {
            self.truth.frame(i, no, t, s, &signals)?;
        }
        match &mut self.sinks {
            Sinks::Files(w) => {
                for (writer, frame) in w.iter_mut().zip(i420) {
                    writer.push(frame.unwrap_or_default())?;
                }
            }
            Sinks::Rtsp(server) => {
                for (i, frame) in i420.into_iter().enumerate() {
                    server.push(i, frame.unwrap_or_default());
                }
            }
            Sinks::Nowhere => {}
        }
        self.frame_no += 1;
        Ok(())
    }

    /// Renders every camera, one thread each (the machines this runs on have few cores and
    /// the encoders want some of them too, so no pool beyond that).
    pub fn render_all(
        &mut self,
        vehicles: &[VehicleView],
        signals: &nutgiao_controller::SiteSignals,
        no: u64,
    ) -> Vec<Vec<InView>> {
        self.render_each(vehicles, signals, no, false).into_iter().map(|(seen, _)| seen).collect()
    }

    /// Renders every camera and, with `encode`, converts its picture to the encoders' I420
    /// in the same thread.
    fn render_each(
        &mut self,
        vehicles: &[VehicleView],
        signals: &nutgiao_controller::SiteSignals,
        no: u64,
        encode: bool,
    ) -> Vec<(Vec<InView>, Option<Vec<u8>>)> {
        let empty = Vec::new();
        std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .cameras
                .iter()
                .zip(self.frames.iter_mut())
                .map(|(c, f)| {
                    let phases = signals.get(&c.intersection).unwrap_or(&empty);
                    scope.spawn(move || {
                        let seen = c.render(f, vehicles, phases, no);
                        let i420 = encode.then(|| {
                            let mut out = Vec::new();
                            yuv::to_i420(f, &mut out);
                            out
                        });
                        (seen, i420)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
        })
    }

    /// The last rendered frame of each camera.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }

    pub fn finish(mut self) -> Result<FilmSummary, CameraError> {
        self.truth.finish()?;
        if let Sinks::Files(w) = std::mem::replace(&mut self.sinks, Sinks::Nowhere) {
            for writer in w {
                writer.finish()?;
            }
        }
        Ok(FilmSummary {
            cameras: self.camera_ids(),
            frames_per_camera: self.frame_no,
            crossings: self.truth.crossings,
            violations: self.truth.violations,
            files: self.files.clone(),
        })
    }
}

/// Port and mount path of `rtsp://host:port/path`.
fn rtsp_port_and_path(uri: &str) -> Option<(u16, String)> {
    let rest = uri.strip_prefix("rtsp://")?;
    let (authority, path) = rest.split_once('/')?;
    let port = match authority.rsplit_once(':') {
        Some((_, p)) => p.parse().ok()?,
        None => 554,
    };
    (!path.is_empty()).then(|| (port, format!("/{path}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{Hash, Hasher};

    fn arterial() -> Site {
        nutgiao_config::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/examples/arterial.toml")).unwrap()
    }

    /// Frame hashes and truth of a short filmed run.
    fn film(site: &Site, seed: u64, frames: usize) -> (Vec<u64>, Vec<u8>) {
        let opts =
            FilmOptions { conditions: Conditions::for_time(TimeOfDay::Dusk), seed, destination: Destination::Nowhere };
        let truth = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut film = Film::new(site, &opts, Some(Box::new(Shared(truth.clone())))).unwrap();
        let sim_opts = crate::SimOptions { step_s: film.frame_interval_s(), seed, ..crate::SimOptions::default() };
        let mut sim = Simulation::new(site, sim_opts).unwrap();
        let mut control = nutgiao_controller::by_name(site, "actuated").unwrap();
        let mut hashes = Vec::new();
        for i in 0..frames {
            if i > 0 {
                // Skip ahead so that vehicles are in view without filming every step.
                for _ in 0..10 {
                    sim.step(control.as_mut());
                }
            }
            film.capture(&mut sim).unwrap();
            for f in film.frames() {
                let mut h = std::hash::DefaultHasher::new();
                f.data.hash(&mut h);
                hashes.push(h.finish());
            }
        }
        film.finish().unwrap();
        let t = truth.lock().unwrap().clone();
        (hashes, t)
    }

    #[test]
    fn same_seed_same_pictures_and_truth_other_seed_other_pictures() {
        let site = arterial();
        let (a, ta) = film(&site, 3, 40);
        let (b, tb) = film(&site, 3, 40);
        let (c, _) = film(&site, 4, 40);
        assert_eq!(a, b);
        assert_eq!(ta, tb);
        assert_ne!(a, c);
        let text = String::from_utf8(ta).unwrap();
        assert!(text.lines().next().unwrap().contains("\"record\":\"header\""));
        // Vehicles were in view and have boxes inside the picture.
        let frames: Vec<TruthRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|r| matches!(r, TruthRecord::Frame { .. }))
            .collect();
        assert_eq!(frames.len(), 80);
        let boxes: Vec<[f64; 4]> = frames
            .iter()
            .flat_map(|r| match r {
                TruthRecord::Frame { vehicles, .. } => vehicles.iter().map(|v| v.bbox).collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect();
        assert!(boxes.len() > 40, "{} boxes", boxes.len());
        assert!(boxes.iter().all(|b| b[0] >= 0.0 && b[1] >= 0.0 && b[0] + b[2] <= 1280.01 && b[1] + b[3] <= 720.01));
    }

    #[test]
    fn a_camera_without_a_pose_is_refused() {
        let mut site = arterial();
        site.cameras[0].pose = None;
        let opts = FilmOptions {
            conditions: Conditions::for_time(TimeOfDay::Day),
            seed: 1,
            destination: Destination::Nowhere,
        };
        let err = Film::new(&site, &opts, None).err().unwrap();
        assert!(err.to_string().contains("cam-J1-W has no pose"), "{err}");
    }

    #[test]
    fn rtsp_uris_give_port_and_mount() {
        assert_eq!(rtsp_port_and_path("rtsp://127.0.0.1:8554/cam-J1-W"), Some((8554, "/cam-J1-W".into())));
        assert_eq!(rtsp_port_and_path("rtsp://cam.local/live"), Some((554, "/live".into())));
        assert_eq!(rtsp_port_and_path("file:///x.mp4"), None);
        assert_eq!(rtsp_port_and_path("rtsp://h:99/"), None);
    }
}
