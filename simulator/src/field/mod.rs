//! Virtual field signal controllers: one Modbus TCP server per intersection that drives the
//! simulated signals like a real cabinet. (Owned by the control work, issue 4.)
//!
//! `FieldSite` is the simulator's `SignalControl`; the same cabinets answer Modbus, so a
//! central controller's plans reach the simulated signals exactly as they would a street.

pub mod cabinet;
pub mod monitor;
#[cfg(test)]
mod proptests;
pub mod server;

use std::sync::{Arc, Mutex};

use nutgiao_config::Site;
use nutgiao_controller::{DetectorSnapshot, SignalControl, SiteSignals};

pub use cabinet::{Cabinet, CabinetError};
pub use monitor::{ConflictMonitor, MonitorFault};
pub use server::SharedCabinet;

#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error(transparent)]
    Cabinet(#[from] CabinetError),
    #[error("intersection {intersection}: cannot listen on {address}: {source}")]
    Bind {
        intersection: String,
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// Every cabinet of a site (intersections with a `field_controller`).
#[derive(Debug, Clone)]
pub struct FieldSite {
    cabinets: Vec<(String, SharedCabinet)>,
    signals: SiteSignals,
}

impl FieldSite {
    pub fn new(site: &Site) -> Result<FieldSite, FieldError> {
        let mut cabinets = Vec::new();
        let mut signals = SiteSignals::new();
        for inter in site.intersections.iter().filter(|i| i.field_controller.is_some()) {
            let cab = Cabinet::new(site, inter)?;
            signals.insert(inter.id.clone(), Vec::new());
            cabinets.push((inter.id.clone(), Arc::new(Mutex::new(cab))));
        }
        Ok(FieldSite { cabinets, signals })
    }

    pub fn cabinets(&self) -> &[(String, SharedCabinet)] {
        &self.cabinets
    }

    /// Binds every cabinet's configured address and serves it on the current tokio runtime.
    pub async fn serve(&self, site: &Site) -> Result<Vec<tokio::task::JoinHandle<()>>, FieldError> {
        let mut tasks = Vec::new();
        for (id, cab) in &self.cabinets {
            let Some(fc) = site.intersection(id).and_then(|i| i.field_controller.clone()) else { continue };
            let listener = tokio::net::TcpListener::bind(&fc.address).await.map_err(|source| FieldError::Bind {
                intersection: id.clone(),
                address: fc.address.clone(),
                source,
            })?;
            tracing::info!(intersection = %id, address = %fc.address, "field controller listening (Modbus TCP)");
            let (cab, id) = (cab.clone(), id.clone());
            tasks.push(tokio::spawn(async move {
                if let Err(e) = server::serve(listener, cab, fc.allow.clone(), fc.unit_id).await {
                    tracing::error!(intersection = %id, "field controller server stopped: {e}");
                }
            }));
        }
        Ok(tasks)
    }

    /// Advances every cabinet (what `update` does, without borrowing the signals).
    pub fn tick(&mut self, snapshot: &DetectorSnapshot) {
        for (id, cab) in &self.cabinets {
            // A poisoned lock means a panic elsewhere already; keep the last signals shown.
            if let Ok(mut c) = cab.lock() {
                let states = c.tick(snapshot).to_vec();
                self.signals.insert(id.clone(), states);
            }
        }
    }
}

impl SignalControl for FieldSite {
    fn name(&self) -> &str {
        "field"
    }

    fn update(&mut self, snapshot: &DetectorSnapshot) -> &SiteSignals {
        self.tick(snapshot);
        &self.signals
    }
}

/// Without a simulation: advances the cabinets on the wall clock (10 Hz, no detector
/// input, so actuated phases are on recall) until `duration_s` or for ever.
pub async fn run_on_wall_clock(mut field: FieldSite, duration_s: Option<f64>) {
    let start = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        tick.tick().await;
        let now = start.elapsed().as_secs_f64();
        if duration_s.is_some_and(|d| now >= d) {
            break;
        }
        field.tick(&DetectorSnapshot { now_s: now, ..Default::default() });
    }
}
