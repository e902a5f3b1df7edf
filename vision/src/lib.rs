//! The vision pipeline of nutgiao: roadside CCTV in, counts and violations out.
//!
//! GStreamer decodes any camera or file (`ingest`), OpenCV separates moving vehicles from
//! the road (`detect`), a Kalman tracker follows them (`track`), counting lines with
//! hysteresis count them (`counting`) and pair them into turning movements (`movements`),
//! queue zones measure occupancy and queue length (`queues`), and zone rules judge
//! violations (`violations`).
//! Events go to SQLite before anyone else sees them (`store`).

pub mod annotate;
pub mod camera;
pub mod count_job;
pub mod counting;
pub mod detect;
pub mod encode;
pub mod error;
pub mod event;
pub mod evidence;
pub mod ingest;
pub mod movements;
pub mod pipeline;
pub mod queues;
pub mod report;
pub mod segmentation;
pub mod service;
pub mod signals;
pub mod standing;
pub mod store;
pub mod track;
pub mod violations;

pub use camera::CameraSetup;
pub use crossbeam_channel;
pub use error::VisionError;
pub use event::{EventKind, VisionEvent};
