//! Wiring shared by `nutgiao run` and `nutgiao demo`: the operators' surface, and the
//! bridges that carry the controller's status into it and operators' commands out of it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use nutgiao_config::Site;
use nutgiao_controller::central::CentralHandle;
use nutgiao_controller::modbus::map::ControlMode;
use nutgiao_ops::events::{InternalEvent, ModbusRequest};
use nutgiao_ops::{ApiState, ControlCommand, ControllerStatus, Live, PlanStatus, Tokens};
use tokio::sync::mpsc;

/// Opens the live state, metrics and audit log; API writes use the tokens in the site's
/// `operations.token_env` variable (`name:token,...`).
pub fn open_ops(site: Arc<Site>, data_dir: &Path) -> anyhow::Result<ApiState> {
    let tokens = Tokens::parse(&std::env::var(&site.operations.token_env).unwrap_or_default());
    if std::env::var_os(&site.operations.token_env).is_none() {
        tracing::warn!(
            variable = %site.operations.token_env,
            "no API token configured: the dashboard and API are read-only"
        );
    }
    nutgiao_ops::open(site, data_dir, tokens).with_context(|| format!("operations data in {}", data_dir.display()))
}

fn mode_name(mode: Option<ControlMode>) -> &'static str {
    match mode {
        Some(ControlMode::Central) => "central",
        Some(ControlMode::LocalFallback) => "local_fallback",
        Some(ControlMode::Flash) => "flash",
        None => "unknown",
    }
}

/// Mirrors the central controller's per-intersection status into the live state every
/// second: reachability, mode, and the Modbus request counters as metrics.
pub async fn mirror_central(handle: CentralHandle, live: Live) {
    let mut seen: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for st in handle.status() {
            live.report_controller(ControllerStatus {
                intersection: st.intersection.clone(),
                up: st.up,
                mode: mode_name(st.mode).to_owned(),
                cause: st.last_error.clone(),
            });
            let (req0, err0) = seen.get(&st.intersection).copied().unwrap_or((0, 0));
            let new_requests = st.requests.saturating_sub(req0);
            let new_errors = st.errors.saturating_sub(err0);
            // The controller keeps totals and its last round trip; each new request is
            // recorded with that latency, each new error as an error.
            for i in 0..new_requests {
                ModbusRequest {
                    intersection: &st.intersection,
                    operation: "poll",
                    duration_s: st.latency_ms.unwrap_or(0.0) / 1000.0,
                    error: (i < new_errors).then_some("failed"),
                }
                .emit(&live.metrics);
            }
            seen.insert(st.intersection.clone(), (st.requests, st.errors));
        }
    }
}

/// Carries operators' overrides from the API to the central controller.
pub async fn apply_overrides(mut rx: mpsc::UnboundedReceiver<ControlCommand>, handle: CentralHandle, live: Live) {
    while let Some(cmd) = rx.recv().await {
        match cmd {
            ControlCommand::Override { intersection, name, plan } => match handle.set_override(&live.site, plan.clone()) {
                Ok(()) => live.report_plan(PlanStatus { name, plan, manual: true }),
                Err(e) => tracing::error!(intersection = %intersection, "override refused by the controller: {e}"),
            },
            ControlCommand::Automatic { intersection } => handle.clear_override(&intersection),
        }
    }
}
