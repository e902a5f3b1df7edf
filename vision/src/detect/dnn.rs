//! Optional ONNX detector (YOLOv5 / YOLOv8 output layouts) through OpenCV's dnn module.
//!
//! YOLOv5 emits `[1, N, 5 + C]` rows of (cx, cy, w, h, objectness, class scores...);
//! YOLOv8 emits `[1, 4 + C, N]` columns of (cx, cy, w, h, class scores...) without
//! objectness. Both are in input-image pixels of the (square) network input.

use std::path::Path;

use opencv::core::{self, Mat, Rect, Scalar, Size, Vector};
use opencv::dnn;
use opencv::prelude::*;

use super::{BoxPx, Detection, VehicleKind};
use crate::error::{Result, VisionError};

/// COCO class ids the traffic counts care about.
fn coco_kind(class: usize) -> Option<VehicleKind> {
    match class {
        2 => Some(VehicleKind::Car),
        3 => Some(VehicleKind::Motorbike),
        5 | 7 => Some(VehicleKind::BusTruck),
        _ => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum YoloLayout {
    V5,
    V8,
}

pub struct DnnDetector {
    net: dnn::Net,
    input: i32,
    confidence: f64,
    path: std::path::PathBuf,
}

impl DnnDetector {
    pub fn load(path: &Path, input: i32, confidence: f64) -> Result<Self> {
        let fail = |cause: String| VisionError::Model { path: path.to_owned(), cause };
        if !path.is_file() {
            return Err(fail("file does not exist".into()));
        }
        let net = dnn::read_net_from_onnx(&*path.to_string_lossy()).map_err(|e| fail(e.message))?;
        if net.empty().map_err(|e| fail(e.message))? {
            return Err(fail("OpenCV loaded an empty network".into()));
        }
        Ok(Self { net, input, confidence, path: path.to_owned() })
    }

    pub fn detect(&mut self, image: &Mat) -> Result<Vec<Detection>> {
        let fail = |e: opencv::Error| VisionError::Model { path: self.path.clone(), cause: e.message };
        let blob = dnn::blob_from_image(
            image,
            1.0 / 255.0,
            Size::new(self.input, self.input),
            Scalar::all(0.0),
            true,
            false,
            core::CV_32F,
        )
        .map_err(fail)?;
        self.net.set_input(&blob, "", 1.0, Scalar::all(0.0)).map_err(fail)?;
        let out = self.net.forward_single("").map_err(fail)?;
        let sx = image.cols() as f64 / self.input as f64;
        let sy = image.rows() as f64 / self.input as f64;
        decode(&out, self.confidence, sx, sy).map_err(|e| VisionError::Model { path: self.path.clone(), cause: e })
    }
}

/// Decodes a YOLO output tensor into detections in image pixels (with non-maximum suppression).
pub fn decode(out: &Mat, confidence: f64, sx: f64, sy: f64) -> Result<Vec<Detection>, String> {
    let dims = out.mat_size();
    if dims.dims() != 3 || dims[0] != 1 {
        return Err(format!("output shape {:?} is neither YOLOv5 [1,N,5+C] nor YOLOv8 [1,4+C,N]", dims.to_vec()));
    }
    let (a, b) = (dims[1] as usize, dims[2] as usize);
    let data: &[f32] = out.data_typed::<f32>().map_err(|e| e.message)?;
    // v8 has far more anchors than attributes: [1, 84, 8400]; v5 is [1, 25200, 85].
    let layout = if a < b { YoloLayout::V8 } else { YoloLayout::V5 };
    let (n, attrs) = match layout {
        YoloLayout::V8 => (b, a),
        YoloLayout::V5 => (a, b),
    };
    let min_attrs = if layout == YoloLayout::V8 { 5 } else { 6 };
    if attrs < min_attrs {
        return Err(format!("output has {attrs} attributes per box, too few for a YOLO layout"));
    }
    let get = |i: usize, k: usize| -> f32 {
        match layout {
            YoloLayout::V8 => data[k * n + i],
            YoloLayout::V5 => data[i * attrs + k],
        }
    };
    let first_class = if layout == YoloLayout::V8 { 4 } else { 5 };
    let mut boxes: Vector<Rect> = Vector::new();
    let mut scores: Vector<f32> = Vector::new();
    let mut kinds = Vec::new();
    for i in 0..n {
        let objectness = if layout == YoloLayout::V5 { get(i, 4) } else { 1.0 };
        let (class, score) = (first_class..attrs)
            .map(|k| (k - first_class, get(i, k)))
            .fold((0, f32::MIN), |best, c| if c.1 > best.1 { c } else { best });
        let score = (score * objectness) as f64;
        if score < confidence {
            continue;
        }
        let Some(kind) = coco_kind(class).or(if attrs - first_class < 80 { Some(VehicleKind::Vehicle) } else { None })
        else {
            continue;
        };
        let (cx, cy, w, h) = (get(i, 0) as f64, get(i, 1) as f64, get(i, 2) as f64, get(i, 3) as f64);
        let r = Rect::new(((cx - w / 2.0) * sx) as i32, ((cy - h / 2.0) * sy) as i32, (w * sx) as i32, (h * sy) as i32);
        boxes.push(r);
        scores.push(score as f32);
        kinds.push(kind);
    }
    let mut keep: Vector<i32> = Vector::new();
    dnn::nms_boxes(&boxes, &scores, confidence as f32, 0.45, &mut keep, 1.0, 0).map_err(|e| e.message)?;
    let mut out = Vec::new();
    for k in keep {
        let k = k as usize;
        let r = boxes.get(k).map_err(|e| e.message)?;
        out.push(Detection {
            bbox: BoxPx { x: r.x as f64, y: r.y as f64, w: r.width as f64, h: r.height as f64 },
            kind: kinds[k],
            confidence: scores.get(k).map_err(|e| e.message)? as f64,
        });
    }
    Ok(out)
}
