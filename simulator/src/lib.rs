//! Corridor microsimulation of a site, with virtual field controllers.
//!
//! Invariant: the simulator core never links OpenCV or GStreamer; only the `camera`
//! module (behind its feature) does.

pub mod field;
