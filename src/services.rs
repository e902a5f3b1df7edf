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
/// `operations.token_env` variable (`name:token,...`). Operators' commands arrive on the
/// returned receiver, for [`apply_overrides`].
pub fn open_ops(
    site: Arc<Site>,
    data_dir: &Path,
) -> anyhow::Result<(ApiState, mpsc::UnboundedReceiver<ControlCommand>)> {
    let tokens = Tokens::parse(&std::env::var(&site.operations.token_env).unwrap_or_default());
    if std::env::var_os(&site.operations.token_env).is_none() {
        tracing::warn!(
            variable = %site.operations.token_env,
            "no API token configured: the dashboard and API are read-only"
        );
    }
    let state = nutgiao_ops::open(site, data_dir, tokens)
        .with_context(|| format!("operations data in {}", data_dir.display()))?;
    let (commands, rx) = mpsc::unbounded_channel();
    Ok((ApiState { live: state.live.with_commands(commands), ..state }, rx))
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
            if let Some(plan) = &st.plan {
                // Site plans go out numbered 1.. in file order (`CorridorPlan::named`); an
                // algorithm's plans carry numbers of their own.
                let name = usize::from(plan.plan_id)
                    .checked_sub(1)
                    .and_then(|i| live.site.plans.get(i))
                    .map_or_else(|| format!("plan {}", plan.plan_id), |p| p.id.clone());
                live.report_plan(PlanStatus { name, plan: plan.clone(), manual: st.manual_override.is_some() });
            }
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
            ControlCommand::Override { intersection, name, plan } => {
                match handle.set_override(&live.site, plan.clone()) {
                    Ok(()) => live.report_plan(PlanStatus { name, plan, manual: true }),
                    Err(e) => tracing::error!(intersection = %intersection, "override refused by the controller: {e}"),
                }
            }
            ControlCommand::Automatic { intersection } => handle.clear_override(&intersection),
        }
    }
}

/// Seconds since the Unix epoch, the time base of count bins in a live deployment.
pub fn unix_now_s() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

/// Mirrors the cabinets' indications into the live state.
pub async fn mirror_cabinet_signals(handle: CentralHandle, live: Live) {
    let mut since = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let now = unix_now_s();
        for st in handle.status() {
            let (Some(field), Some(inter)) = (&st.field, live.site.intersection(&st.intersection)) else { continue };
            live.report_signals(&inter.id, &cabinet_phases(inter, field, &mut since, now));
        }
    }
}

/// Turns a cabinet's green/yellow/red bitmaps (bit p-1 for phase p) into phase states,
/// keeping in `since` the time each indication began.
pub fn cabinet_phases(
    inter: &nutgiao_config::Intersection,
    field: &nutgiao_controller::modbus::map::FieldStatus,
    since: &mut BTreeMap<(String, u8), (nutgiao_controller::Indication, f64)>,
    now: f64,
) -> Vec<nutgiao_controller::PhaseState> {
    use nutgiao_controller::{Indication, PhaseState};
    inter
        .phases
        .iter()
        .map(|p| {
            let bit = 1u16 << (p.id.saturating_sub(1) & 15);
            let indication = if field.mode == Some(ControlMode::Flash) {
                Indication::FlashingRed
            } else if field.green & bit != 0 {
                Indication::Green
            } else if field.yellow & bit != 0 {
                Indication::Yellow
            } else {
                Indication::Red
            };
            let entry = since.entry((inter.id.clone(), p.id)).or_insert((indication, now));
            if entry.0 != indication {
                *entry = (indication, now);
            }
            PhaseState { phase: p.id, indication, since_s: entry.1 }
        })
        .collect()
}

/// What vision sees of the signals: the live state's phase indications.
pub fn signal_feed(live: Live) -> Arc<dyn nutgiao_vision::signals::SignalFeed> {
    use nutgiao_controller::Indication;
    use nutgiao_vision::signals::Light;
    Arc::new(move |intersection: &str, phase: u8| {
        let signals = live.signals();
        let state = signals.get(intersection)?.iter().find(|p| p.phase == phase)?;
        Some(match state.indication {
            Indication::Green | Indication::FlashingYellow => Light::Green,
            Indication::Yellow => Light::Yellow,
            Indication::Red | Indication::FlashingRed => Light::Red,
        })
    })
}

/// What a vision event is for the operators and the rest of the operations centre.
pub enum Reported {
    Count(nutgiao_ops::events::VehicleCounted),
    Movement(nutgiao_vision::event::MovementEvent),
    /// A lane bin; `measured` is what the operators' live state takes (an approach's lane at
    /// an intersection, with a queue length).
    Lane(nutgiao_vision::event::LaneEvent, Option<nutgiao_ops::events::LaneMeasured>),
    Violation(nutgiao_ops::events::ViolationDetected),
    CameraStatus(nutgiao_vision::event::CameraStatusEvent),
}

impl Reported {
    pub fn of(ev: &nutgiao_vision::VisionEvent) -> Reported {
        use nutgiao_ops::events::{VehicleCounted, ViolationDetected};
        use nutgiao_vision::EventKind;
        match &ev.kind {
            EventKind::Count(c) => Reported::Count(VehicleCounted {
                camera: ev.camera.clone(),
                line: c.line.clone(),
                lane: c.lane,
                direction: if c.direction > 0 { "positive" } else { "negative" }.to_owned(),
                class: c.class.clone(),
                time_s: unix_now_s(),
            }),
            EventKind::Violation(v) => {
                let jpeg = v.evidence.iter().find(|e| e.path.ends_with(".jpg") || e.path.ends_with(".jpeg"));
                Reported::Violation(ViolationDetected {
                    id: ev.id.clone(),
                    camera: ev.camera.clone(),
                    kind: v.violation.as_str().to_owned(),
                    class: v.class.clone(),
                    time_s: unix_now_s(),
                    speed_kmh: v.speed_kmh,
                    evidence: jpeg.map(|e| e.path.clone()),
                    evidence_sha256: jpeg.map(|e| e.sha256.clone()),
                })
            }
            EventKind::Movement(m) => Reported::Movement(m.clone()),
            EventKind::Lane(l) => {
                let measured = match (&l.intersection, &l.approach, l.queue_m) {
                    (Some(intersection), Some(approach), Some(queue_m)) => Some(nutgiao_ops::events::LaneMeasured {
                        intersection: intersection.clone(),
                        approach: approach.clone(),
                        lane: l.lane,
                        queue_m,
                        occupancy: l.occupancy,
                    }),
                    _ => None,
                };
                Reported::Lane(l.clone(), measured)
            }
            EventKind::CameraStatus(s) => Reported::CameraStatus(s.clone()),
        }
    }

    /// Puts the event in the bus's outbox under the vision event's id.
    pub fn publish(
        &self,
        bus: &nutgiao_ops::bus::Bus,
        ev: &nutgiao_vision::VisionEvent,
    ) -> Result<(), nutgiao_ops::bus::BusError> {
        match self {
            Reported::Count(c) => bus.publish("counts", &ev.camera, &ev.id, c),
            Reported::Violation(v) => bus.publish("violations", &ev.camera, &ev.id, v),
            Reported::Movement(m) => bus.publish("movements", &ev.camera, &ev.id, m),
            Reported::Lane(l, _) => bus.publish("lanes", &ev.camera, &ev.id, l),
            Reported::CameraStatus(s) => bus.publish("status", &format!("camera/{}", ev.camera), &ev.id, s),
        }
    }
}

/// Forwards every stored vision event to the live state and the event bus. The vision store
/// has it on disk already; the bus puts it in its outbox before sending.
pub fn forward_vision(
    rx: nutgiao_vision::crossbeam_channel::Receiver<nutgiao_vision::VisionEvent>,
    live: Live,
    bus: Option<nutgiao_ops::bus::Bus>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for ev in rx {
            let reported = Reported::of(&ev);
            if let Some(Err(e)) = bus.as_ref().map(|b| reported.publish(b, &ev)) {
                tracing::error!("event {} not queued for the bus: {e}", ev.id);
            }
            match reported {
                Reported::Count(c) => live.report_count(c),
                Reported::Violation(v) => live.report_violation(v),
                Reported::Lane(_, Some(measured)) => live.report_lane(measured),
                Reported::Movement(m) => live.report_movement(nutgiao_ops::events::MovementCounted {
                    camera: ev.camera.clone(),
                    from: m.from,
                    to: m.to,
                    turn: m.turn.as_str().to_owned(),
                    class: m.class,
                    time_s: unix_now_s(),
                }),
                Reported::Lane(_, None) | Reported::CameraStatus(_) => {}
            }
        }
    })
}

/// Reports each camera's health (frames, drops, per-stage times) every two seconds.
pub fn mirror_cameras(
    healths: Vec<Arc<std::sync::Mutex<nutgiao_vision::service::CameraHealth>>>,
    live: Live,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut last: BTreeMap<String, (u64, u64, [f64; 4])> = BTreeMap::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(2));
            for h in &healths {
                let Ok(h) = h.lock().map(|h| h.clone()) else { continue };
                let t = &h.stage_times_s;
                let totals = [t.ingest_s, t.detect_s, t.track_s, t.count_s];
                let (f0, d0, t0) = last.get(&h.camera).copied().unwrap_or((0, 0, [0.0; 4]));
                let frames = h.frames.saturating_sub(f0);
                let per_frame = |i: usize| if frames > 0 { (totals[i] - t0[i]).max(0.0) / frames as f64 } else { 0.0 };
                live.report_camera(nutgiao_ops::events::CameraHealth {
                    camera: h.camera.clone(),
                    up: h.up,
                    fps: h.fps,
                    frames,
                    dropped: h.dropped_frames.saturating_sub(d0),
                    stages: if frames > 0 {
                        ["ingest", "detect", "track", "count"]
                            .iter()
                            .enumerate()
                            .map(|(i, s)| ((*s).to_owned(), per_frame(i)))
                            .collect()
                    } else {
                        Vec::new()
                    },
                    cause: h.cause.clone(),
                });
                last.insert(h.camera.clone(), (h.frames, h.dropped_frames, totals));
            }
        }
    })
}
