use std::path::PathBuf;

/// Everything that can go wrong in the vision pipeline; each names the camera it concerns.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("camera {camera}: {cause}")]
    Source { camera: String, cause: String },
    #[error("camera {camera}: end of stream before the first frame ({cause})")]
    NoFrames { camera: String, cause: String },
    #[error("camera {camera}: image processing failed: {source}")]
    OpenCv {
        camera: String,
        #[source]
        source: opencv::Error,
    },
    #[error("camera {camera}: {message}")]
    Config { camera: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("event store {path}: {source}")]
    Store {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("annotated video {path}: {cause}")]
    Encoder { path: PathBuf, cause: String },
    #[error("DNN model {path}: {cause}")]
    Model { path: PathBuf, cause: String },
}

impl VisionError {
    pub fn opencv(camera: &str) -> impl Fn(opencv::Error) -> VisionError + '_ {
        move |source| VisionError::OpenCv { camera: camera.to_owned(), source }
    }

    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> VisionError {
        let path = path.into();
        move |source| VisionError::Io { path, source }
    }
}

pub type Result<T, E = VisionError> = std::result::Result<T, E>;
