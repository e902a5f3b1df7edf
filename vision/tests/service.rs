//! The live camera service on a real recording: every event a subscriber receives is
//! already in the SQLite file, and a camera that cannot be opened is reported down.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nutgiao_vision::camera::CameraSetup;
use nutgiao_vision::event::EventKind;
use nutgiao_vision::ingest::Pacing;
use nutgiao_vision::service::{CameraService, ServiceOptions};
use nutgiao_vision::signals::NoFeed;
use nutgiao_vision::store::EventStore;

fn options(
    store: &std::path::Path,
    tx: nutgiao_vision::crossbeam_channel::Sender<nutgiao_vision::VisionEvent>,
) -> ServiceOptions {
    ServiceOptions {
        store: Arc::new(Mutex::new(EventStore::open(store).unwrap())),
        evidence_dir: None,
        pacing: Pacing::EveryFrame,
        backoff_min: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        stop: Arc::new(AtomicBool::new(false)),
        subscriber: Some(tx),
    }
}

#[test]
fn every_event_a_subscriber_sees_is_already_on_disk() {
    let video = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/video/cdnet-highway/highway.mp4");
    if !video.exists() {
        eprintln!("skipping: {} is not beside the checkout", video.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.sqlite");
    let (tx, rx) = nutgiao_vision::crossbeam_channel::unbounded();
    let setup = CameraSetup::from_pixel_lines("highway", &video.display().to_string(), &[[60.0, 150.0, 280.0, 150.0]]);
    let service = CameraService::spawn(setup, Arc::new(NoFeed), options(&db, tx));
    // A second, independent connection: what it reads is what survives a kill -9.
    let reader = EventStore::open(&db).unwrap();
    let mut counts = 0;
    for event in rx.iter() {
        let stored = reader.get(&event.id).unwrap();
        assert!(stored.is_some(), "{} reported before it was stored", event.id);
        // serde_json parses floats to within one ulp (no float_roundtrip), so compare the rest.
        let stored = stored.unwrap();
        assert_eq!(
            (stored.id.as_str(), stored.camera.as_str(), stored.kind.name()),
            (event.id.as_str(), event.camera.as_str(), event.kind.name())
        );
        assert!((stored.pts_s - event.pts_s).abs() < 1e-9);
        if matches!(event.kind, EventKind::Count(_)) {
            counts += 1;
        }
    }
    let health = service.join();
    assert_eq!(health.frames, 1700);
    assert!(!health.up, "a finished recording is down");
    assert!(health.cause.is_none(), "it ended, it did not fail: {:?}", health.cause);
    assert!(counts >= 22, "{counts} counts");
    assert_eq!(reader.list(0.0, Some("count")).unwrap().len(), counts);
}

#[test]
fn a_camera_that_cannot_be_opened_is_reported_down_with_its_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (tx, rx) = nutgiao_vision::crossbeam_channel::unbounded();
    let setup = CameraSetup::from_pixel_lines("cam-gone", "/nonexistent/cam-gone.mp4", &[[0.0, 1.0, 2.0, 3.0]]);
    let health = CameraService::spawn(setup, Arc::new(NoFeed), options(&dir.path().join("e.sqlite"), tx)).join();
    let events: Vec<_> = rx.try_iter().collect();
    assert_eq!(events.len(), 1);
    let EventKind::CameraStatus(s) = &events[0].kind else { panic!("{:?}", events[0]) };
    assert!(!s.up);
    let cause = s.cause.as_deref().unwrap();
    assert!(cause.contains("cam-gone") && cause.contains("does not exist"), "{cause}");
    assert_eq!(health.cause.as_deref(), Some(cause));
}
