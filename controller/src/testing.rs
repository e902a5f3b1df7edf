//! Fixtures shared by the unit tests.

use nutgiao_config::Site;

/// The reference arterial site of `config/examples`.
pub fn arterial() -> Site {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/examples/arterial.toml");
    nutgiao_config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
