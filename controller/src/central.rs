//! The central controller service: one task per field controller (so a cabinet that is down
//! never holds up the others) reading status and detectors, pushing plans and heartbeats, and
//! one planner task that turns the detector data into corridor plans.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nutgiao_config::Site;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::algorithms::{self, PlanAlgorithm};
use crate::control::ControlError;
use crate::modbus::client::FieldLink;
use crate::modbus::map::{ControlMode, FieldStatus};
use crate::plan::{CorridorPlan, IntersectionPlan};
use crate::safety::validate_plan;
use crate::signal::{DetectorReading, DetectorSnapshot};

/// What the operators see of one intersection.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IntersectionStatus {
    pub intersection: String,
    pub up: bool,
    pub mode: Option<ControlMode>,
    /// Plan id the cabinet reports in effect (0 = its local actuation).
    pub plan_in_effect: u16,
    /// Plan id the central controller last committed.
    pub plan_sent: Option<u16>,
    /// The timing last committed to the cabinet.
    pub plan: Option<IntersectionPlan>,
    pub manual_override: Option<u16>,
    pub last_error: Option<String>,
    pub requests: u64,
    pub errors: u64,
    pub latency_ms: Option<f64>,
    pub field: Option<FieldStatus>,
    /// The cabinet's detector readings at the last poll.
    pub detectors: BTreeMap<String, DetectorReading>,
}

/// What the central controller has heard from the vision node that watches one camera.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct VisionInput {
    /// The node that reported last (its MQTT client id).
    pub source: String,
    /// Vehicles counted at the camera's stop lines, entering the intersection.
    pub counted: u64,
    /// The same counts by approach.
    pub by_approach: BTreeMap<String, u64>,
    /// Seconds since the Unix epoch of the last count.
    pub last_count_s: f64,
}

/// The detector id under which an approach's vision counts reach the plan algorithms.
pub fn vision_detector_id(approach: &str) -> String {
    format!("vision:{approach}")
}

/// Shared view of the service: per-intersection status, manual overrides, and what the
/// planner is doing.
#[derive(Debug, Clone, Default)]
pub struct CentralHandle {
    status: Arc<Mutex<BTreeMap<String, IntersectionStatus>>>,
    overrides: Arc<Mutex<BTreeMap<String, IntersectionPlan>>>,
    planner_note: Arc<Mutex<String>>,
    vision: Arc<Mutex<BTreeMap<String, VisionInput>>>,
}

impl CentralHandle {
    pub fn status(&self) -> Vec<IntersectionStatus> {
        self.status.lock().map(|m| m.values().cloned().collect()).unwrap_or_default()
    }

    /// What the planner is doing (running, holding on stale inputs, fallback plan).
    pub fn planner_note(&self) -> String {
        self.planner_note.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Runs `plan` at one intersection instead of the algorithm's, after validation.
    pub fn set_override(&self, site: &Site, plan: IntersectionPlan) -> Result<(), ControlError> {
        let inter = site
            .intersection(&plan.intersection)
            .ok_or_else(|| ControlError::UnknownIntersection { intersection: plan.intersection.clone() })?;
        validate_plan(inter, &plan).map_err(|source| ControlError::Plan { name: "manual override".into(), source })?;
        tracing::info!(intersection = %plan.intersection, plan = plan.plan_id, "manual plan override");
        if let Ok(mut o) = self.overrides.lock() {
            o.insert(plan.intersection.clone(), plan);
        }
        Ok(())
    }

    /// Back to the algorithm's plan.
    pub fn clear_override(&self, intersection: &str) {
        if let Ok(mut o) = self.overrides.lock()
            && o.remove(intersection).is_some()
        {
            tracing::info!(intersection, "manual override cleared: automatic control");
        }
    }

    /// Takes one vehicle counted by a vision node at a stop line of `approach`.
    pub fn record_vision_count(&self, source: &str, camera: &str, approach: &str, time_s: f64) {
        if let Ok(mut v) = self.vision.lock() {
            let input = v.entry(camera.to_owned()).or_default();
            source.clone_into(&mut input.source);
            input.counted += 1;
            *input.by_approach.entry(approach.to_owned()).or_default() += 1;
            input.last_count_s = input.last_count_s.max(time_s);
        }
    }

    /// Per camera, what the vision nodes have reported.
    pub fn vision(&self) -> BTreeMap<String, VisionInput> {
        self.vision.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Vision counts per approach as cumulative detector readings (`vision:<approach>`), for
    /// the plan algorithms' flow meters.
    fn vision_readings(&self) -> BTreeMap<String, DetectorReading> {
        let mut per_approach: BTreeMap<String, u64> = BTreeMap::new();
        for input in self.vision().values() {
            for (approach, n) in &input.by_approach {
                *per_approach.entry(approach.clone()).or_default() += n;
            }
        }
        per_approach
            .into_iter()
            .map(|(a, n)| {
                // Detector counts wrap at u32 like a cabinet's counters; the meters take differences.
                let count = u32::try_from(n % (u64::from(u32::MAX) + 1)).unwrap_or(0);
                (vision_detector_id(&a), DetectorReading { count, ..DetectorReading::default() })
            })
            .collect()
    }

    fn update(&self, id: &str, f: impl FnOnce(&mut IntersectionStatus)) {
        if let Ok(mut m) = self.status.lock() {
            f(m.entry(id.to_owned())
                .or_insert_with(|| IntersectionStatus { intersection: id.to_owned(), ..Default::default() }));
        }
    }

    fn override_for(&self, id: &str) -> Option<IntersectionPlan> {
        self.overrides.lock().ok().and_then(|o| o.get(id).cloned())
    }
}

#[derive(Debug, Default)]
struct Inputs {
    detectors: BTreeMap<String, DetectorReading>,
    /// When each intersection's detectors were last read.
    fresh_at: BTreeMap<String, Instant>,
}

pub struct Central {
    site: Site,
    algorithm: Box<dyn PlanAlgorithm>,
    links: Vec<FieldLink>,
    handle: CentralHandle,
}

impl Central {
    /// The service for `algorithm` (`fixed:PLAN`, `actuated`, or a plan algorithm) over the
    /// site's field controllers.
    pub fn new(site: &Site, algorithm: &str) -> Result<Central, ControlError> {
        let algorithm = algorithms::planner(site, algorithm)?;
        let links: Vec<FieldLink> =
            site.intersections.iter().filter_map(|i| FieldLink::new(i, &site.modbus_map)).collect();
        Ok(Central { site: site.clone(), algorithm, links, handle: CentralHandle::default() })
    }

    /// Replaces the links (e.g. to drive cabinets at other addresses).
    pub fn with_links(mut self, links: Vec<FieldLink>) -> Central {
        self.links = links;
        self
    }

    pub fn handle(&self) -> CentralHandle {
        self.handle.clone()
    }

    /// Runs until `duration` has passed (for ever when `None`).
    pub async fn run(self, duration: Option<Duration>) {
        let Central { site, mut algorithm, links, handle } = self;
        let start = Instant::now();
        let period = Duration::from_secs_f64(site.control.heartbeat_period_s.max(0.1));
        let stale_after = Duration::from_secs_f64(site.control.stale_after_s.max(0.0));
        let inputs = Arc::new(Mutex::new(Inputs::default()));
        let (plan_tx, plan_rx) = watch::channel::<Option<CorridorPlan>>(None);
        let mut tasks = tokio::task::JoinSet::new();
        for link in links {
            tasks.spawn(drive_link(link, site.clone(), handle.clone(), inputs.clone(), plan_rx.clone(), period));
        }
        let fallback = site.control.fallback_plan.as_deref().and_then(|p| CorridorPlan::named(&site, p));
        let ids: Vec<String> =
            site.intersections.iter().filter(|i| i.field_controller.is_some()).map(|i| i.id.clone()).collect();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut on_fallback = false;
        loop {
            tick.tick().await;
            if duration.is_some_and(|d| start.elapsed() >= d) {
                break;
            }
            let now = Instant::now();
            let (snapshot, stale): (DetectorSnapshot, Vec<String>) = {
                let Ok(inp) = inputs.lock() else { break };
                let stale = ids
                    .iter()
                    .filter(|id| inp.fresh_at.get(*id).is_none_or(|t| now.duration_since(*t) > period * 3))
                    .cloned()
                    .collect();
                let mut detectors = inp.detectors.clone();
                detectors.extend(handle.vision_readings());
                let snap =
                    DetectorSnapshot { now_s: start.elapsed().as_secs_f64(), detectors, queues_m: BTreeMap::new() };
                (snap, stale)
            };
            let stale_for = {
                let inp = inputs.lock().ok();
                stale
                    .iter()
                    .map(|id| {
                        inp.as_ref()
                            .and_then(|i| i.fresh_at.get(id))
                            .map_or(start.elapsed(), |t| now.duration_since(*t))
                    })
                    .max()
                    .unwrap_or_default()
            };
            if !stale.is_empty() && algorithm.needs_detectors() {
                if stale_for > stale_after {
                    if let (Some(fb), false) = (&fallback, on_fallback) {
                        tracing::warn!(stale = ?stale, plan = %fb.name, "detector data stale for {:.0} s: fallback plan", stale_for.as_secs_f64());
                        plan_tx.send_replace(Some(fb.clone()));
                        on_fallback = true;
                    }
                    set_note(&handle, format!("inputs stale ({}): fallback plan", stale.join(", ")));
                } else {
                    set_note(&handle, format!("inputs stale ({}): holding the last plan", stale.join(", ")));
                }
                continue;
            }
            if on_fallback {
                tracing::info!("detector data fresh again: back to {}", algorithm.name());
                on_fallback = false;
            }
            set_note(&handle, format!("running {}", algorithm.name()));
            if let Some(plan) = algorithm.observe(&site, &snapshot) {
                tracing::info!(plan = %plan.name, "new corridor plan");
                plan_tx.send_replace(Some(plan));
            }
        }
        tasks.abort_all();
    }
}

fn set_note(handle: &CentralHandle, note: String) {
    if let Ok(mut n) = handle.planner_note.lock()
        && *n != note
    {
        *n = note;
    }
}

async fn drive_link(
    mut link: FieldLink,
    site: Site,
    handle: CentralHandle,
    inputs: Arc<Mutex<Inputs>>,
    plans: watch::Receiver<Option<CorridorPlan>>,
    period: Duration,
) {
    let id = link.intersection().id.clone();
    let Some(inter) = site.intersection(&id).cloned() else { return };
    let mut tick = tokio::time::interval(period);
    let mut counter: u16 = 0;
    let mut sent: Option<IntersectionPlan> = None;
    let mut was_up = true;
    loop {
        tick.tick().await;
        counter = counter.wrapping_add(1);
        let result: Result<(FieldStatus, BTreeMap<String, DetectorReading>), crate::modbus::client::LinkError> = async {
            let status = link.read_status().await?;
            let detectors = link.read_detectors().await?;
            if let Ok(mut inp) = inputs.lock() {
                inp.detectors.extend(detectors.clone());
                inp.fresh_at.insert(id.clone(), Instant::now());
            }
            let manual = handle.override_for(&id);
            let wanted = manual.clone().or_else(|| plans.borrow().as_ref().and_then(|p| p.for_intersection(&id).cloned()));
            if let Some(plan) = wanted
                && sent.as_ref() != Some(&plan)
            {
                match validate_plan(&inter, &plan) {
                    Ok(()) => {
                        link.push_plan(&plan).await?;
                        tracing::info!(intersection = %id, plan = plan.plan_id, cycle_s = plan.cycle_s, offset_s = plan.offset_s, splits_s = ?plan.splits_s, "plan committed");
                        sent = Some(plan);
                    }
                    Err(e) => tracing::error!(intersection = %id, "plan not sent: {e}"),
                }
            } else {
                link.heartbeat(counter).await?;
            }
            Ok((status, detectors))
        }
        .await;
        let stats = link.stats().clone();
        let up = result.is_ok();
        if up != was_up {
            if up {
                tracing::info!(intersection = %id, "field controller up");
            } else {
                tracing::warn!(intersection = %id, "field controller down");
            }
            was_up = up;
        }
        if !up {
            // A cabinet that comes back may have fallen back or restarted: send the plan again.
            sent = None;
        }
        handle.update(&id, |s| {
            s.up = up;
            s.requests = stats.requests;
            s.errors = stats.errors;
            s.latency_ms = stats.last_latency_ms;
            s.plan_sent = sent.as_ref().map(|p| p.plan_id);
            s.plan.clone_from(&sent);
            s.manual_override = handle.override_for(&id).map(|p| p.plan_id);
            match &result {
                Ok((st, detectors)) => {
                    s.mode = st.mode;
                    s.plan_in_effect = st.plan_id;
                    s.field = Some(st.clone());
                    s.detectors.clone_from(detectors);
                }
                Err(e) => s.last_error = Some(e.to_string()),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::arterial;

    #[test]
    fn manual_override_is_validated_then_cleared() {
        let site = arterial();
        let handle = CentralHandle::default();
        let mut plan = CorridorPlan::named(&site, "webster").unwrap().for_intersection("J2").unwrap().clone();
        plan.splits_s = vec![34.0, 6.0];
        let err = handle.set_override(&site, plan.clone()).unwrap_err();
        insta::assert_snapshot!(err.to_string(), @"controller `manual override`: plan 2 for J2: stage 2 split 6 s leaves 0.5 s of green, below the minimum 5 s");
        assert!(handle.override_for("J2").is_none());
        plan.splits_s = vec![25.0, 15.0];
        handle.set_override(&site, plan.clone()).unwrap();
        assert_eq!(handle.override_for("J2"), Some(plan.clone()));
        handle.clear_override("J2");
        assert!(handle.override_for("J2").is_none());
        plan.intersection = "J9".into();
        assert!(handle.set_override(&site, plan).unwrap_err().to_string().contains("J9"));
    }

    #[test]
    fn unknown_algorithm_and_stage_deciders_are_refused_for_modbus() {
        let site = arterial();
        assert!(matches!(Central::new(&site, "max-pressure"), Err(ControlError::StageDecisions { .. })));
        assert!(matches!(Central::new(&site, "nope"), Err(ControlError::UnknownController { .. })));
        assert_eq!(Central::new(&site, "adaptive").unwrap().links.len(), 3);
    }
}
