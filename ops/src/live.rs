//! The live picture of the site that the API and dashboard show. Services report into it;
//! every report emits its internal event (log + metrics) and an update for live clients.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use nutgiao_config::Site;
use nutgiao_controller::{IntersectionPlan, PhaseState, SiteSignals};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};

use crate::counts::{CountBins, CountKey};
use crate::events::{
    CameraHealth, ControllerReachability, InternalEvent, LaneMeasured, MovementCounted, PlanInEffect, SignalsChanged,
    VehicleCounted, ViolationDetected,
};
use crate::metrics::Metrics;

/// How many violations the live feed keeps in memory (the vision store keeps them all).
const RECENT_VIOLATIONS: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanStatus {
    pub name: String,
    pub plan: IntersectionPlan,
    pub manual: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControllerStatus {
    pub intersection: String,
    pub up: bool,
    /// central, local_fallback, flash, unknown.
    pub mode: String,
    pub cause: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViolationRecord {
    #[serde(flatten)]
    pub event: ViolationDetected,
    pub acknowledged_by: Option<String>,
}

/// What live clients (the dashboard's event stream) receive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    Signals { intersection: String, phases: Vec<PhaseState> },
    Plan { intersection: String, status: PlanStatus },
    Count { count: VehicleCounted, total: u64 },
    Violation { violation: ViolationRecord },
    Camera { health: CameraHealth },
    Controller { status: ControllerStatus },
    Lane { lane: LaneMeasured },
}

/// A request from an operator to the central controller.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlCommand {
    /// Run this plan at the intersection until told otherwise.
    Override { intersection: String, name: String, plan: IntersectionPlan },
    /// Return the intersection to the automatic algorithm.
    Automatic { intersection: String },
}

#[derive(Default)]
struct Inner {
    signals: SiteSignals,
    plans: BTreeMap<String, PlanStatus>,
    controllers: BTreeMap<String, ControllerStatus>,
    cameras: BTreeMap<String, CameraHealth>,
    counts: CountBins,
    violations: VecDeque<ViolationRecord>,
    seen_violations: BTreeSet<String>,
    lanes: BTreeMap<(String, String, u8), LaneMeasured>,
    /// Turning movement totals by (camera, from, to, turn), per class.
    movements: BTreeMap<(String, String, String, String), BTreeMap<String, u64>>,
}

/// Vehicles counted through one turning movement since the start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovementTotal {
    pub camera: String,
    pub from: String,
    pub to: String,
    pub turn: String,
    pub total: u64,
    pub by_class: BTreeMap<String, u64>,
}

/// Shared handle to the live state.
#[derive(Clone)]
pub struct Live {
    pub site: Arc<Site>,
    pub metrics: Metrics,
    inner: Arc<Mutex<Inner>>,
    updates: broadcast::Sender<Update>,
    commands: Option<mpsc::UnboundedSender<ControlCommand>>,
}

impl Live {
    pub fn new(site: Arc<Site>, metrics: Metrics) -> Live {
        let (updates, _) = broadcast::channel(1024);
        Live { site, metrics, inner: Arc::default(), updates, commands: None }
    }

    /// Route operators' overrides to a running central controller.
    pub fn with_commands(mut self, tx: mpsc::UnboundedSender<ControlCommand>) -> Live {
        self.commands = Some(tx);
        self
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Update> {
        self.updates.subscribe()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn publish(&self, u: Update) {
        // No live client is not an error.
        let _ = self.updates.send(u);
    }

    pub fn report_signals(&self, intersection: &str, phases: &[PhaseState]) {
        let changed = {
            let mut inner = self.lock();
            let prev = inner.signals.get(intersection);
            let changed = prev.is_none_or(|p| {
                p.len() != phases.len() || p.iter().zip(phases).any(|(a, b)| a.indication != b.indication)
            });
            if changed {
                inner.signals.insert(intersection.to_owned(), phases.to_vec());
            }
            changed
        };
        if changed {
            SignalsChanged { intersection, phases }.emit(&self.metrics);
            self.publish(Update::Signals { intersection: intersection.to_owned(), phases: phases.to_vec() });
        }
    }

    pub fn report_plan(&self, status: PlanStatus) {
        let previous = {
            let mut inner = self.lock();
            let prev = inner.plans.get(&status.plan.intersection).cloned();
            if prev.as_ref() == Some(&status) {
                return;
            }
            inner.plans.insert(status.plan.intersection.clone(), status.clone());
            prev
        };
        PlanInEffect {
            plan: &status.plan,
            name: &status.name,
            manual: status.manual,
            previous: previous.as_ref().map(|p| (p.name.as_str(), p.manual)),
        }
        .emit(&self.metrics);
        self.publish(Update::Plan { intersection: status.plan.intersection.clone(), status });
    }

    pub fn report_controller(&self, status: ControllerStatus) {
        let changed = {
            let mut inner = self.lock();
            let changed = inner.controllers.get(&status.intersection) != Some(&status);
            inner.controllers.insert(status.intersection.clone(), status.clone());
            changed
        };
        if changed {
            ControllerReachability {
                intersection: &status.intersection,
                up: status.up,
                cause: status.cause.as_deref(),
            }
            .emit(&self.metrics);
            self.publish(Update::Controller { status });
        }
    }

    pub fn report_camera(&self, health: CameraHealth) {
        health.emit(&self.metrics);
        self.lock().cameras.insert(health.camera.clone(), health.clone());
        self.publish(Update::Camera { health });
    }

    pub fn report_movement(&self, movement: MovementCounted) {
        movement.emit(&self.metrics);
        let key = (movement.camera, movement.from, movement.to, movement.turn);
        *self.lock().movements.entry(key).or_default().entry(movement.class).or_default() += 1;
    }

    /// Turning movement totals, per camera and movement.
    pub fn movements(&self) -> Vec<MovementTotal> {
        self.lock()
            .movements
            .iter()
            .map(|((camera, from, to, turn), by_class)| MovementTotal {
                camera: camera.clone(),
                from: from.clone(),
                to: to.clone(),
                turn: turn.clone(),
                total: by_class.values().sum(),
                by_class: by_class.clone(),
            })
            .collect()
    }

    pub fn report_count(&self, count: VehicleCounted) {
        count.emit(&self.metrics);
        let total = {
            let mut inner = self.lock();
            let key =
                CountKey { camera: count.camera.clone(), line: count.line.clone(), direction: count.direction.clone() };
            inner.counts.add(key, &count.class, count.time_s);
            inner.counts.total()
        };
        self.publish(Update::Count { count, total });
    }

    /// Reports a violation once: the same id again (a retry of a delivery) is ignored.
    pub fn report_violation(&self, event: ViolationDetected) {
        let record = {
            let mut inner = self.lock();
            if !inner.seen_violations.insert(event.id.clone()) {
                return;
            }
            let record = ViolationRecord { event, acknowledged_by: None };
            inner.violations.push_front(record.clone());
            if inner.violations.len() > RECENT_VIOLATIONS
                && let Some(old) = inner.violations.pop_back()
            {
                inner.seen_violations.remove(&old.event.id);
            }
            record
        };
        record.event.emit(&self.metrics);
        self.publish(Update::Violation { violation: record });
    }

    pub fn report_lane(&self, lane: LaneMeasured) {
        lane.emit(&self.metrics);
        self.lock().lanes.insert((lane.intersection.clone(), lane.approach.clone(), lane.lane), lane.clone());
        self.publish(Update::Lane { lane });
    }

    pub fn signals(&self) -> SiteSignals {
        self.lock().signals.clone()
    }

    pub fn plans(&self) -> BTreeMap<String, PlanStatus> {
        self.lock().plans.clone()
    }

    pub fn controllers(&self) -> BTreeMap<String, ControllerStatus> {
        self.lock().controllers.clone()
    }

    pub fn cameras(&self) -> BTreeMap<String, CameraHealth> {
        self.lock().cameras.clone()
    }

    pub fn lanes(&self) -> Vec<LaneMeasured> {
        self.lock().lanes.values().cloned().collect()
    }

    pub fn count_series(&self, bin_s: i64, camera: Option<&str>, line: Option<&str>) -> Vec<crate::counts::CountPoint> {
        self.lock().counts.series(bin_s, camera, line)
    }

    pub fn count_csv(&self, bin_s: i64) -> String {
        self.lock().counts.csv(bin_s)
    }

    pub fn count_total(&self) -> u64 {
        self.lock().counts.total()
    }

    pub fn violations(&self, limit: usize) -> Vec<ViolationRecord> {
        self.lock().violations.iter().take(limit).cloned().collect()
    }

    pub fn violation(&self, id: &str) -> Option<ViolationRecord> {
        self.lock().violations.iter().find(|v| v.event.id == id).cloned()
    }

    pub(crate) fn mark_acknowledged(&self, id: &str, who: &str) -> bool {
        let mut inner = self.lock();
        match inner.violations.iter_mut().find(|v| v.event.id == id) {
            Some(v) => {
                v.acknowledged_by = Some(who.to_owned());
                true
            }
            None => false,
        }
    }

    pub(crate) fn send_command(&self, cmd: ControlCommand) -> Result<(), &'static str> {
        match &self.commands {
            Some(tx) => tx.send(cmd).map_err(|_| "the central controller has stopped"),
            None => Err("no central controller is running in this process"),
        }
    }
}
