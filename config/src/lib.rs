//! The typed site model of nutgiao, shared by every other crate.
//!
//! A site file is parsed and validated as a whole: either every key is understood and
//! every safety floor holds, or the caller gets all problems with file:line:col and the
//! key, and nothing of the file is used.

mod error;
pub mod homography;
pub mod modbus;
pub mod model;
pub mod polygon;
pub mod pose;
pub mod queue;
pub mod source;
mod summary;
pub mod topology;
pub mod validate;

use std::path::Path;

pub use error::{ConfigError, Diagnostic};
pub use homography::{Homography, HomographyError};
pub use modbus::RegisterMap;
pub use model::*;
pub use source::{KeyPath, SourceMap};
pub use topology::{Bound, RouteLeg};

/// Reads, parses and validates a site file.
pub fn load(path: impl AsRef<Path>) -> Result<Site, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io { path: path.to_owned(), source })?;
    parse(&text, &path.display().to_string())
}

/// Parses and validates site TOML; `file` names the source in messages.
pub fn parse(text: &str, file: &str) -> Result<Site, ConfigError> {
    let map = SourceMap::new(text);
    let site: Site = match toml::from_str(text) {
        Ok(site) => site,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let loc = map.location(offset);
            let key = map.path_at(offset).to_string();
            let message = e.message().trim().replace('\n', " ");
            return Err(ConfigError::Invalid(vec![Diagnostic {
                file: file.to_owned(),
                line: loc.line,
                col: loc.col,
                key,
                message,
            }]));
        }
    };
    let findings = validate::validate(&site);
    if findings.is_empty() {
        return Ok(site);
    }
    let mut diags: Vec<Diagnostic> = findings
        .into_iter()
        .map(|f| {
            let offset = map.span_of(&f.path).map_or(0, |s| s.start);
            let loc = map.location(offset);
            Diagnostic {
                file: file.to_owned(),
                line: loc.line,
                col: loc.col,
                key: f.path.to_string(),
                message: f.message,
            }
        })
        .collect();
    diags.sort_by_key(|d| (d.line, d.col));
    diags.dedup();
    Err(ConfigError::Invalid(diags))
}
