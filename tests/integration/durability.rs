//! "An event reported to anyone is already on disk": the vision process is killed with
//! SIGKILL mid-run, and every event it had reported must be in its SQLite store.

use std::collections::BTreeSet;
use std::process::Stdio;

use crate::support::{Child, arterial, arterial_films, have, wait_for, watch_films};

#[test]
fn events_reported_before_a_kill_9_are_all_in_the_database() {
    if !have("sqlite3") {
        eprintln!("skipping: sqlite3 is not installed (scripts/bootstrap.sh installs it)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let films = arterial_films();

    let out = dir.path().join("watch");
    let (events, store) = (out.with_extension("jsonl"), out.with_extension("sqlite"));
    let mut watch =
        Child(watch_films(&arterial(), films, &out).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());
    let reported = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["id"].as_str().map(str::to_owned))
            .collect()
    };
    wait_for(180, "the vision process to report events", || {
        let text = std::fs::read_to_string(&events).unwrap_or_default();
        (reported(&text).len() >= 3).then_some(())
    });
    // SIGKILL: no destructor, no flush, no clean close of the database.
    watch.0.kill().unwrap();
    let finished_early = watch.0.try_wait().unwrap().is_some_and(|s| s.success());
    watch.0.wait().unwrap();
    let ids = reported(&std::fs::read_to_string(&events).unwrap());
    assert!(ids.len() >= 3);

    let q = std::process::Command::new("sqlite3").arg(&store).arg("SELECT id FROM events").output().unwrap();
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let stored: BTreeSet<String> = String::from_utf8_lossy(&q.stdout).lines().map(str::to_owned).collect();
    let missing: Vec<&String> = ids.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "reported but not on disk after kill -9: {missing:?} (finished early: {finished_early})"
    );
}
