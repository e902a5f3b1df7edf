//! Synthetic cameras end to end: film the arterial to MP4 with ground truth, let the vision
//! pipeline watch the files, score it; and open a live RTSP mount with GStreamer.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::{arterial, free_port, nutgiao, wait_for};

/// The arterial with some misbehaviour to find (the example sets the shares to 0 for SUMO).
fn site_with_misbehaviour(dir: &std::path::Path, rtsp_port: Option<u16>) -> std::path::PathBuf {
    let mut s = std::fs::read_to_string(arterial()).unwrap();
    for (k, v) in [("red_light_runner", "0.05"), ("wrong_way", "0.01"), ("illegal_stop", "0.01"), ("speeder", "0.05")] {
        s = s.replace(&format!("{k} = 0.0"), &format!("{k} = {v}"));
    }
    if let Some(p) = rtsp_port {
        s = s.replace("127.0.0.1:8554", &format!("127.0.0.1:{p}"));
    }
    let path = dir.join("site.toml");
    std::fs::write(&path, s).unwrap();
    path
}

#[test]
fn filmed_arterial_is_counted_and_scored_within_bounds() {
    let tmp = tempfile::tempdir().unwrap();
    let site = site_with_misbehaviour(tmp.path(), None);
    let films = tmp.path().join("films");
    let truth = tmp.path().join("truth.jsonl");
    let out = nutgiao()
        .args(["simulate", site.to_str().unwrap(), "--duration", "40", "--seed", "5", "--quiet", "--cameras"])
        .arg(&films)
        .arg("--truth")
        .arg(&truth)
        .output()
        .unwrap();
    assert!(out.status.success(), "simulate: {}", String::from_utf8_lossy(&out.stderr));
    for cam in ["cam-J1-W", "cam-J2-E"] {
        let len = std::fs::metadata(films.join(format!("{cam}.mp4"))).unwrap().len();
        assert!(len > 100_000, "{cam}.mp4 is {len} bytes");
    }
    let truth_text = std::fs::read_to_string(&truth).unwrap();
    let frames = truth_text.lines().filter(|l| l.contains("\"record\":\"frame\"")).count();
    assert_eq!(frames, 2 * 1001, "one frame record per camera per 40 ms, both ends included");
    let crossings = truth_text.lines().filter(|l| l.contains("\"record\":\"crossing\"")).count();
    // A handful, how many depends on the default controller's timing (4-5 measured).
    assert!(crossings >= 3, "{crossings} true crossings in 40 s");

    let events = tmp.path().join("events.jsonl");
    let out = nutgiao()
        .args(["watch", site.to_str().unwrap(), "--camera-dir"])
        .arg(&films)
        .arg("--events")
        .arg(&events)
        .arg("--store")
        .arg(tmp.path().join("events.sqlite"))
        .arg("--evidence")
        .arg(tmp.path().join("evidence"))
        .output()
        .unwrap();
    assert!(out.status.success(), "watch: {}", String::from_utf8_lossy(&out.stderr));

    // Every violation's evidence: the JPEG of the moment and the clip around it, on disk with
    // the hashes the event carries; the clip runs past the violation (2 s after it).
    let mut clips = 0;
    for line in std::fs::read_to_string(&events).unwrap().lines() {
        let e: serde_json::Value = serde_json::from_str(line).unwrap();
        if e["kind"] != "violation" {
            continue;
        }
        let evidence = e["evidence"].as_array().unwrap();
        assert_eq!(evidence.len(), 2, "{e}");
        for (item, ext) in evidence.iter().zip([".jpg", ".mp4"]) {
            let path = item["path"].as_str().unwrap();
            assert!(path.ends_with(ext), "{e}");
            let sum = std::process::Command::new("sha256sum").arg(path).output().unwrap();
            let sum = String::from_utf8_lossy(&sum.stdout);
            assert_eq!(sum.split_whitespace().next(), item["sha256"].as_str(), "{path}");
        }
        // Frames of the clip, read back through the pipeline itself: ten before (with the
        // moment) at 5 fps and ten after, fewer after when the film ended within 2 s.
        let t = e["pts_s"].as_f64().unwrap();
        if t > 2.0 && t < 37.5 {
            let clip = evidence[1]["path"].as_str().unwrap();
            let summary = tmp.path().join("clip.json");
            let out =
                nutgiao().args(["count", clip, "--line", "0,0,10,10", "--summary"]).arg(&summary).output().unwrap();
            assert!(out.status.success(), "{clip}: {}", String::from_utf8_lossy(&out.stderr));
            let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
            let frames = s["frames"].as_u64().unwrap();
            // 20 at 25 fps; a frame either side may fall to the rounding of stream times.
            assert!((18..=20).contains(&frames), "{clip}: {frames} frames");
            clips += 1;
        }
    }
    eprintln!("{clips} violation clips checked for frames after the violation");
    // Nothing held back is lost: every still on disk belongs to a stored violation, including
    // those whose clips were still collecting frames when the films ended.
    let violations =
        std::fs::read_to_string(&events).unwrap().lines().filter(|l| l.contains("\"kind\":\"violation\"")).count();
    let stills =
        walk(&tmp.path().join("evidence")).into_iter().filter(|p| p.extension().is_some_and(|e| e == "jpg")).count();
    assert_eq!(stills, violations, "evidence stills without an event, or events without one");

    let json = tmp.path().join("score.json");
    let out = nutgiao()
        .args(["score", "--truth"])
        .arg(&truth)
        .arg("--events")
        .arg(&events)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert!(out.status.success(), "score: {}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("overall count error"), "{table}");
    let score: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    for kind in ["red_light", "wrong_way", "illegal_stop", "speeding"] {
        for key in ["precision", "recall", "f1"] {
            assert!(score["violations"][kind].get(key).is_some(), "{kind}.{key} missing");
        }
    }
    // Wrong way needs two of the approach's lines crossed backwards: the opposing traffic's
    // boxes spilling over the centre line raised 13 false alarms in 120 s with one line.
    let wrong_way = &score["violations"]["wrong_way"];
    let false_alarms = wrong_way["reported"].as_u64().unwrap() - wrong_way["matched"].as_u64().unwrap();
    assert_eq!(false_alarms, 0, "wrong-way false alarms\n{table}");
    assert!(
        score["count_error"]["lines"]["J1-W-count"].is_number()
            || score["count_error"]["lines"]["J1-W-count"].is_null()
    );
    // Bounds at what this pipeline measures on this scene, with margin (docs/synthetic-cameras.md):
    // far looser than the 1 % target, which the default pipeline does not reach yet.
    let overall = score["count_error"]["overall"].as_f64().expect("overall count error");
    assert!(overall <= COUNT_ERROR_BOUND, "overall count error {overall}\n{table}");
    // Both cameras' two queue zones report their one (40 s) bin, scored against the truth.
    let queues = &score["queues"];
    assert_eq!(queues["bins"], 4, "{table}");
    let occupancy = queues["occupancy_mean_abs"].as_f64().unwrap();
    assert!(occupancy <= OCCUPANCY_ERROR_BOUND, "occupancy off by {occupancy}\n{table}");
    let longest = queues["max_mean_abs_m"].as_f64().unwrap();
    assert!(longest <= LONGEST_QUEUE_ERROR_BOUND_M, "longest queue off by {longest} m\n{table}");
    eprintln!("{table}");
}

/// Measured on this 40 s scene: see docs/synthetic-cameras.md.
const OCCUPANCY_ERROR_BOUND: f64 = 0.15;
const LONGEST_QUEUE_ERROR_BOUND_M: f64 = 8.0;

/// Measured on this 40 s scene: see docs/synthetic-cameras.md.
const COUNT_ERROR_BOUND: f64 = 0.8;

#[test]
fn rtsp_mount_serves_a_stream_gstreamer_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let site = site_with_misbehaviour(tmp.path(), Some(port));
    let mut server = rtsp_cameras(&site, port, 60);
    let png = tmp.path().join("frame.png");
    let mut client = std::process::Command::new("gst-launch-1.0")
        .arg("-q")
        .args(["rtspsrc", &format!("location=rtsp://127.0.0.1:{port}/cam-J2-E"), "protocols=tcp", "latency=200"])
        .args(["!", "rtph264depay", "!", "h264parse", "!", "avdec_h264", "!", "videoconvert", "!"])
        .args(["pngenc", "snapshot=true", "!", "filesink"])
        .arg(format!("location={}", png.display()))
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(s) = client.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = client.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = server.kill();
    let _ = server.wait();
    assert!(status.is_some_and(|s| s.success()), "gst-launch did not decode a frame: {status:?}");
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    // IHDR: width and height as big-endian u32 at 16 and 20.
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (1280, 720));
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Starts the synthetic RTSP cameras on `port` and waits until they listen.
fn rtsp_cameras(site: &std::path::Path, port: u16, duration_s: u32) -> std::process::Child {
    let server = nutgiao()
        .args(["simulate", site.to_str().unwrap(), "--duration", &duration_s.to_string(), "--quiet"])
        .args(["--cameras", "rtsp"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(30), "RTSP server did not listen on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// The camera statuses `watch` wrote so far, per camera: (up, cause) in order.
fn statuses(events: &std::path::Path) -> Vec<(String, bool, Option<String>)> {
    std::fs::read_to_string(events)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["kind"] == "camera_status")
        .map(|e| (e["camera"].as_str().unwrap().to_owned(), e["up"] == true, e["cause"].as_str().map(str::to_owned)))
        .collect()
}

/// Live cameras over real RTSP: the streams go away (the server is killed) and come back;
/// `watch` reports each camera down with the cause, retries with backoff, and receives frames
/// again (a camera is reported up at its first frame) after the server returns, without
/// being restarted.
#[test]
fn watch_reports_a_lost_rtsp_camera_and_reconnects_when_it_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let site = site_with_misbehaviour(tmp.path(), Some(port));
    let events = tmp.path().join("events.jsonl");
    let mut server = rtsp_cameras(&site, port, 120);
    let watch = nutgiao()
        .args(["watch", site.to_str().unwrap(), "--duration", "150", "--events"])
        .arg(&events)
        .arg("--store")
        .arg(tmp.path().join("events.sqlite"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let up = |s: &[(String, bool, Option<String>)], cam: &str| s.iter().filter(|(c, u, _)| c == cam && *u).count();
    let cams = ["cam-J1-W", "cam-J2-E"];
    wait_for(60, "both cameras up", || cams.iter().all(|c| up(&statuses(&events), c) >= 1).then_some(()));

    let _ = server.kill();
    let _ = server.wait();
    wait_for(30, "both cameras down", || {
        let s = statuses(&events);
        cams.iter().all(|c| s.iter().any(|(cam, u, cause)| cam == c && !u && cause.is_some())).then_some(())
    });

    let mut server = rtsp_cameras(&site, port, 120);
    wait_for(60, "both cameras up again", || cams.iter().all(|c| up(&statuses(&events), c) >= 2).then_some(()));
    let _ = server.kill();
    let _ = server.wait();
    let mut watch = watch;
    let _ = watch.kill();
    let _ = watch.wait();
    let s = statuses(&events);
    for cam in cams {
        let causes: Vec<&str> =
            s.iter().filter(|(c, u, _)| c == cam && !u).filter_map(|(_, _, x)| x.as_deref()).collect();
        assert!(causes.iter().all(|c| c.contains(cam)), "a down cause names its camera: {causes:?}");
    }
}
