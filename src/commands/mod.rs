//! One module per command; each only wires the library crates together.

pub mod check;
pub mod control;
pub mod count;
pub mod demo;
pub mod field;
pub mod film;
pub mod import_sumo;
pub mod run;
pub mod score;
pub mod simulate;
pub mod watch;

/// Loads and validates a site file; an error names the file.
pub fn load_site(path: &std::path::Path) -> anyhow::Result<nutgiao_config::Site> {
    use anyhow::Context;
    nutgiao_config::load(path).with_context(|| format!("site file {}", path.display()))
}
