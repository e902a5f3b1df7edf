//! Everything that can go wrong between nutgiao and SUMO, each naming the thing and the cause.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SumoError {
    #[error("cannot start `{program}`: {cause} (is SUMO installed and on PATH?)")]
    Spawn { program: String, cause: std::io::Error },
    #[error("SUMO exited ({status}) before accepting a TraCI connection on port {port}")]
    ExitedBeforeConnect { status: String, port: u16 },
    #[error("SUMO did not accept a TraCI connection on 127.0.0.1:{port} within {waited_s:.0} s")]
    ConnectTimeout { port: u16, waited_s: f64 },
    #[error("TraCI connection to SUMO lost during {during}: {cause}")]
    ConnectionLost { during: String, cause: std::io::Error },
    #[error("SUMO did not answer {during} within {timeout_s:.0} s")]
    Timeout { during: String, timeout_s: f64 },
    #[error("bad TraCI response from SUMO: {0}")]
    BadResponse(String),
    #[error("SUMO refused {command}: {message}")]
    Refused { command: String, message: String },
    #[error("{what} `{path}`: {cause}")]
    Io { what: &'static str, path: PathBuf, cause: std::io::Error },
    #[error("{path}: not a valid SUMO {what} file: {message}")]
    Xml { path: PathBuf, what: &'static str, message: String },
    #[error("{0}")]
    Mapping(String),
    #[error(
        "refusing to send traffic light {tls} a state with conflicting greens: phases {a} and {b} are both green at {now_s} s"
    )]
    ConflictingGreens { tls: String, a: u8, b: u8, now_s: f64 },
}

/// Reads a SUMO input file; `what` says what it was meant to be ("cannot read SUMO network").
pub(crate) fn read_input(path: &Path, what: &'static str) -> Result<String, SumoError> {
    std::fs::read_to_string(path).map_err(|cause| SumoError::Io { what, path: path.to_owned(), cause })
}
