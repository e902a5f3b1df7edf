//! The ONNX detector's loading and decoding, with tiny YOLO-shaped models that this test
//! builds itself (no weights can be downloaded here). Needs python with the `onnx`
//! package (the project venv, /work/main/.venv); skips with a message otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;

use nutgiao_vision::detect::VehicleKind;
use nutgiao_vision::detect::dnn::DnnDetector;
use opencv::core::{CV_8UC3, Mat, Scalar};

/// A 1x1 convolution with zero weights whose bias is one fixed YOLO row, reshaped into the
/// v8 `[1, 84, N]` or v5 `[1, N, 85]` layout: every anchor predicts the same box.
const BUILD: &str = r#"
import sys, onnx
from onnx import helper, TensorProto, numpy_helper
layout, out = sys.argv[1], sys.argv[2]
ch = 84 if layout == "v8" else 85
bias = [0.0] * ch
bias[0:4] = [32.0, 32.0, 16.0, 8.0]
if layout == "v8":
    bias[4 + 2] = 0.9
else:
    bias[4] = 0.8
    bias[5 + 3] = 0.9
w = helper.make_tensor("w", TensorProto.FLOAT, [ch, 3, 1, 1], [0.0] * ch * 3)
b = helper.make_tensor("b", TensorProto.FLOAT, [ch], bias)
shape = helper.make_tensor("shape", TensorProto.INT64, [3], [1, ch, 64 * 64])
nodes = [helper.make_node("Conv", ["images", "w", "b"], ["c"], kernel_shape=[1, 1]), helper.make_node("Reshape", ["c", "shape"], ["r"])]
if layout == "v8":
    nodes[-1].output[0] = "output0"
else:
    nodes.append(helper.make_node("Transpose", ["r"], ["output0"], perm=[0, 2, 1]))
dims = [1, ch, 4096] if layout == "v8" else [1, 4096, ch]
g = helper.make_graph(nodes, "tiny_yolo", [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 64, 64])],
                      [helper.make_tensor_value_info("output0", TensorProto.FLOAT, dims)], [w, b, shape])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 12)])
m.ir_version = 7
onnx.checker.check_model(m)
onnx.save(m, out)
"#;

fn python() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    let py = if venv.exists() { venv } else { PathBuf::from("python3") };
    let ok = Command::new(&py).args(["-c", "import onnx"]).output().is_ok_and(|o| o.status.success());
    if ok {
        Some(py)
    } else {
        eprintln!("skipping: python with the `onnx` package is needed to build the test model (pip install onnx)");
        None
    }
}

fn build(py: &Path, layout: &str, out: &Path) {
    let o = Command::new(py).args(["-c", BUILD, layout]).arg(out).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn frame() -> Mat {
    Mat::new_rows_cols_with_default(128, 128, CV_8UC3, Scalar::all(90.0)).unwrap()
}

#[test]
fn yolov8_layout_is_decoded_into_one_car_in_image_pixels() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("v8.onnx");
    build(&py, "v8", &model);
    let mut det = DnnDetector::load(&model, 64, 0.4).unwrap();
    let found = det.detect(&frame()).unwrap();
    assert_eq!(found.len(), 1, "4096 identical anchors collapse to one box in NMS: {found:?}");
    let d = found[0];
    assert_eq!(d.kind, VehicleKind::Car);
    // cx 32, cy 32, w 16, h 8 in the 64-pixel input, scaled by 2 to the 128-pixel frame.
    assert_eq!((d.bbox.x, d.bbox.y, d.bbox.w, d.bbox.h), (48.0, 56.0, 32.0, 16.0));
    assert!((d.confidence - 0.9).abs() < 1e-5);
}

#[test]
fn yolov5_layout_multiplies_objectness_and_finds_a_motorbike() {
    let Some(py) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("v5.onnx");
    build(&py, "v5", &model);
    let mut det = DnnDetector::load(&model, 64, 0.4).unwrap();
    let found = det.detect(&frame()).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, VehicleKind::Motorbike);
    assert!((found[0].confidence - 0.72).abs() < 1e-5);
    // Above the model's best score nothing is left.
    let mut strict = DnnDetector::load(&model, 64, 0.8).unwrap();
    assert!(strict.detect(&frame()).unwrap().is_empty());
}

#[test]
fn a_missing_or_broken_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = DnnDetector::load(&dir.path().join("none.onnx"), 640, 0.4).err().unwrap().to_string();
    assert!(err.contains("none.onnx") && err.contains("does not exist"), "{err}");
    let junk = dir.path().join("junk.onnx");
    std::fs::write(&junk, b"not a protobuf").unwrap();
    let err = DnnDetector::load(&junk, 640, 0.4).err().unwrap().to_string();
    assert!(err.contains("junk.onnx"), "{err}");
}
