//! Vehicle detectors: background subtraction by default, an ONNX network when configured.

pub mod background;
pub mod banded;
pub mod blobs;
pub mod classify;
pub mod dnn;
pub mod geometry;
pub mod light;
pub mod morph;

use serde::{Deserialize, Serialize};

/// An axis-aligned box in processing-resolution pixels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BoxPx {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl BoxPx {
    pub fn iou(&self, o: &BoxPx) -> f64 {
        let ix = (self.x + self.w).min(o.x + o.w) - self.x.max(o.x);
        let iy = (self.y + self.h).min(o.y + o.h) - self.y.max(o.y);
        if ix <= 0.0 || iy <= 0.0 {
            return 0.0;
        }
        let inter = ix * iy;
        inter / (self.w * self.h + o.w * o.h - inter)
    }

    pub fn centre(&self) -> [f64; 2] {
        [self.x + self.w / 2.0, self.y + self.h / 2.0]
    }

    /// Where the vehicle touches the road: the middle of the box's bottom edge.
    pub fn ground_point(&self) -> [f64; 2] {
        [self.x + self.w / 2.0, self.y + self.h]
    }
}

/// Vehicle classes the counts are broken down by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleKind {
    Motorbike,
    Car,
    BusTruck,
    /// No calibration to measure real size with (a `--line` job without a site file).
    Vehicle,
}

impl VehicleKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VehicleKind::Motorbike => "motorbike",
            VehicleKind::Car => "car",
            VehicleKind::BusTruck => "bus_truck",
            VehicleKind::Vehicle => "vehicle",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: BoxPx,
    pub kind: VehicleKind,
    pub confidence: f64,
}
