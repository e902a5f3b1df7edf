//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `nutgiao` binary built for this test run.
pub fn nutgiao() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nutgiao"))
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example arterial site.
pub fn arterial() -> PathBuf {
    root().join("config/examples/arterial.toml")
}

/// `../shared/data`, or `None` (with a message) when it is not beside the checkout.
#[allow(dead_code)]
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        eprintln!("skipping: ../shared/data is not beside the checkout");
        None
    }
}

/// Is a program on PATH?
#[allow(dead_code)]
pub fn have(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| Path::new(&d).join(program).is_file()))
        .unwrap_or(false)
}
