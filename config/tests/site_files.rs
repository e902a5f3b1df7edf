//! Site files as engineers write them: the examples load, and every broken fixture fails
//! with a message that names file, line, column and key.

use std::path::{Path, PathBuf};

use nutgiao_config::{ConfigError, load, parse};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn broken(name: &str) -> String {
    let path = fixtures().join("broken").join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    match parse(&text, &format!("{name}.toml")) {
        Ok(_) => panic!("{name}.toml was accepted"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn the_examples_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 1);
    load(fixtures().join("minimal.toml")).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn arterial_matches_the_sumo_scenario() {
    let site = load(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/arterial.toml")).unwrap();
    assert_eq!(site.intersections.len(), 3);
    let demand: f64 = site.demand.flows.iter().map(|f| f.vehicles_per_hour).sum();
    assert_eq!(demand, 3100.0);
    let arterial_lanes: Vec<u8> = ["WJ1", "J1J2", "J2J3", "J3E"].iter().map(|l| site.link(l).unwrap().lanes).collect();
    assert_eq!(arterial_lanes, [2, 2, 2, 2]);
    let route = site.route("WJ1", "J3E").unwrap();
    assert_eq!(route.iter().map(|l| l.link.as_str()).collect::<Vec<_>>(), ["WJ1", "J1J2", "J2J3", "J3E"]);
    let route = site.route("N2J2", "J1W").unwrap();
    assert_eq!(route.iter().map(|l| l.link.as_str()).collect::<Vec<_>>(), ["N2J2", "J2J1", "J1W"]);
    assert_eq!(site.plans.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["fixed90", "webster", "webster-coord"]);
}

#[test]
fn a_missing_file_names_the_path() {
    let e = load("/nonexistent/site.toml").unwrap_err();
    assert!(matches!(e, ConfigError::Io { .. }));
    assert!(e.to_string().starts_with("/nonexistent/site.toml: cannot read the site file"), "{e}");
}

macro_rules! broken_fixture {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            insta::assert_snapshot!(broken(stringify!($name)));
        }
    )*};
}

broken_fixture!(
    min_green_below_floor,
    unknown_key,
    short_yellow,
    skipped_red_clearance,
    conflicting_greens_in_stage,
    asymmetric_conflicts,
    unknown_link,
    degenerate_homography,
    counting_line_outside_image,
    splits_do_not_add_up,
    wrong_type,
    undeclared_crossing_conflict,
    syntax_error,
);

#[test]
fn every_broken_fixture_has_a_test() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures().join("broken"))
        .unwrap()
        .map(|e| e.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 13, "add a broken_fixture! entry for each new fixture: {names:?}");
    for name in names {
        let msg = broken(&name);
        // Every line is FILE:LINE:COL: ...
        for line in msg.lines() {
            let mut parts = line.splitn(4, ':');
            assert_eq!(parts.next(), Some(format!("{name}.toml").as_str()), "{line}");
            assert!(parts.next().unwrap().parse::<usize>().unwrap() >= 1, "{line}");
            assert!(parts.next().unwrap().parse::<usize>().unwrap() >= 1, "{line}");
        }
    }
}
