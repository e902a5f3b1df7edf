//! The operators' surface of nutgiao: the live state of a site, its Prometheus metrics,
//! the HTTP API and dashboard, and the MQTT event bus.
//!
//! Invariant: this crate links neither OpenCV nor GStreamer; vision and control report
//! into [`Live`] through plain data.

pub mod api;
pub mod audit;
pub mod bus;
pub mod counts;
pub mod events;
pub mod live;
pub mod metrics;
mod validate;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

pub use api::{ApiState, Tokens};
pub use live::{ControlCommand, ControllerStatus, Live, PlanStatus, Update};
pub use metrics::Metrics;
pub use validate::check_override;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Metrics(#[from] metrics::MetricsError),
    #[error(transparent)]
    Audit(#[from] audit::AuditError),
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("HTTP server on {addr}: {source}")]
    Serve {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// Opens the live state, the metrics registry and the audit log under `data_dir`.
pub fn open(site: Arc<nutgiao_config::Site>, data_dir: &Path, tokens: Tokens) -> Result<ApiState, OpsError> {
    std::fs::create_dir_all(data_dir)
        .map_err(|source| OpsError::DataDir { path: data_dir.display().to_string(), source })?;
    let metrics = Metrics::new(&site.site.name)?;
    let audit = Arc::new(audit::AuditLog::open(&data_dir.join("ops.db"))?);
    Ok(ApiState { live: Live::new(site, metrics), audit, tokens })
}

/// Serves the API, dashboard and /metrics until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), OpsError> {
    let addr = listener.local_addr().map_or_else(|_| "?".to_owned(), |a| a.to_string());
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| OpsError::Serve { addr, source })
}
