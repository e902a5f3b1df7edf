//! Scale-out through the MQTT broker: edge nodes (`nutgiao watch --mqtt`) publish their counts
//! and read the signal states; the central node (`nutgiao control --mqtt`) publishes signal
//! states and detector readings and feeds the edge nodes' counts to its plan algorithms.
//!
//! Counts and violations are events (durable outbox, `nutgiao_ops::bus::Bus`); signal states
//! and detector readings are state (latest value, retained, `StateBus`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nutgiao_config::{LineKind, Site};
use nutgiao_controller::central::CentralHandle;
use nutgiao_ops::bus::{Received, SignalsState, StateBus};
use nutgiao_ops::events::VehicleCounted;
use nutgiao_vision::signals::{Light, SignalFeed};
use tokio::sync::mpsc;

use crate::services::{cabinet_phases, unix_now_s};

/// A received signal state is trusted this long: the central node publishes every second.
const SIGNALS_FRESH: Duration = Duration::from_secs(3);
/// A retained state older than this (by its publisher's clock) is from a node that has gone.
const RETAINED_MAX_AGE_S: f64 = 10.0;

/// The MQTT client id of this node for one of its connections.
pub fn client_id(node: &str, role: &str) -> String {
    format!("{node}-{role}")
}

/// This machine's name, the default node name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// What one edge node has received of one intersection's signals.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SignalsSeen {
    pub messages: u64,
    /// The node that published the last state.
    pub source: String,
    pub last: Option<SignalsState>,
}

/// The signal states an edge node has received, as a vision [`SignalFeed`].
#[derive(Clone, Default)]
pub struct BusSignals {
    latest: Arc<Mutex<BTreeMap<String, (SignalsState, Instant)>>>,
    seen: Arc<Mutex<BTreeMap<String, SignalsSeen>>>,
}

impl BusSignals {
    /// Per intersection, what has been received (for the node's report).
    pub fn seen(&self) -> BTreeMap<String, SignalsSeen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn take(&self, msg: &Received) {
        let Ok(state) = serde_json::from_value::<SignalsState>(msg.payload["data"].clone()) else {
            tracing::warn!(topic = %msg.topic, "signals message without a valid state");
            return;
        };
        if (unix_now_s() - state.time_s).abs() > RETAINED_MAX_AGE_S {
            tracing::debug!(intersection = %state.intersection, "ignoring a signals state from {:.0} s ago", unix_now_s() - state.time_s);
            return;
        }
        if let Ok(mut seen) = self.seen.lock() {
            let s = seen.entry(state.intersection.clone()).or_default();
            s.messages += 1;
            s.source = msg.payload["source"].as_str().unwrap_or_default().to_owned();
            s.last = Some(state.clone());
        }
        if let Ok(mut latest) = self.latest.lock() {
            latest.insert(state.intersection.clone(), (state, Instant::now()));
        }
    }

    /// The feed for the vision pipeline: unknown when the state is stale, so that a lost
    /// central node never makes a stale red into a violation.
    pub fn feed(&self) -> Arc<dyn SignalFeed> {
        let latest = self.latest.clone();
        Arc::new(move |intersection: &str, phase: u8| {
            use nutgiao_controller::Indication;
            let latest = latest.lock().ok()?;
            let (state, at) = latest.get(intersection)?;
            if at.elapsed() > SIGNALS_FRESH {
                return None;
            }
            let p = state.phases.iter().find(|p| p.phase == phase)?;
            Some(match p.indication {
                Indication::Green | Indication::FlashingYellow => Light::Green,
                Indication::Yellow => Light::Yellow,
                Indication::Red | Indication::FlashingRed => Light::Red,
            })
        })
    }
}

/// Hands every message of one kind to `take`, on this node's connection for that kind.
async fn each_message(broker: String, node: &str, site: String, kind: &'static str, mut take: impl FnMut(Received)) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let id = client_id(node, kind);
    let sub = tokio::spawn(async move { nutgiao_ops::bus::subscribe(&broker, &id, &site, &[kind], tx).await });
    while let Some(msg) = rx.recv().await {
        take(msg);
    }
    if let Ok(Err(e)) = sub.await {
        tracing::error!("bus subscription to {kind}: {e}");
    }
}

/// Subscribes an edge node to the signal states.
pub async fn receive_signals(broker: String, node: String, site: String, signals: BusSignals) {
    each_message(broker, &node, site, "signals", |msg| signals.take(&msg)).await;
}

/// Puts a central controller on the bus: its signal states and detector readings go out, the
/// edge nodes' counts come in.
pub fn join_as_central(
    rt: &tokio::runtime::Runtime,
    broker: &str,
    node: &str,
    site: Arc<Site>,
    handle: CentralHandle,
) -> Result<(), nutgiao_ops::bus::BusError> {
    let (state, publisher) = StateBus::open(broker, &client_id(node, "state"), &site.site.name)?;
    rt.spawn(publisher.run());
    rt.spawn(publish_central_state(handle.clone(), site.clone(), state));
    rt.spawn(receive_counts(broker.to_owned(), node.to_owned(), site, handle));
    tracing::info!(node, broker, "central node on the event bus");
    Ok(())
}

/// Publishes every field controller's indications and detector readings: on change, and at
/// least every second so that edge nodes can tell a live central node from a dead one.
pub async fn publish_central_state(handle: CentralHandle, site: Arc<Site>, state: StateBus) {
    let mut since = BTreeMap::new();
    let mut last: BTreeMap<String, (Vec<(u8, nutgiao_controller::Indication)>, Instant)> = BTreeMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tick.tick().await;
        let now = unix_now_s();
        for st in handle.status() {
            let (Some(field), Some(inter)) = (&st.field, site.intersection(&st.intersection)) else { continue };
            let phases = cabinet_phases(inter, field, &mut since, now);
            let key: Vec<_> = phases.iter().map(|p| (p.phase, p.indication)).collect();
            let due = last.get(&inter.id).is_none_or(|(k, at)| *k != key || at.elapsed() >= Duration::from_secs(1));
            if !due {
                continue;
            }
            let message = SignalsState { intersection: inter.id.clone(), phases, time_s: now };
            let detectors = serde_json::json!({ "intersection": inter.id, "time_s": now, "detectors": st.detectors });
            if let Err(e) =
                state.set("signals", &inter.id, &message).and_then(|()| state.set("detectors", &inter.id, &detectors))
            {
                tracing::error!("signal state not published: {e}");
            }
            last.insert(inter.id.clone(), (key, Instant::now()));
        }
    }
}

/// Feeds the edge nodes' stop-line counts to the central controller.
pub async fn receive_counts(broker: String, node: String, site: Arc<Site>, handle: CentralHandle) {
    // Which approach each camera's stop lines serve; other lines do not measure arrivals.
    let stop_lines: BTreeMap<(String, String), String> = site
        .cameras
        .iter()
        .flat_map(|c| {
            c.lines
                .iter()
                .filter(|l| l.kind == LineKind::StopLine)
                .filter_map(|l| Some(((c.id.clone(), l.id.clone()), l.approach.clone()?)))
        })
        .collect();
    let mut seen_ids = RecentIds::default();
    each_message(broker, &node, site.site.name.clone(), "counts", |msg| {
        let Some(id) = msg.payload["id"].as_str() else { return };
        if !seen_ids.first_time(id) {
            return;
        }
        let Ok(count) = serde_json::from_value::<VehicleCounted>(msg.payload["data"].clone()) else {
            tracing::warn!(topic = %msg.topic, "count message without a valid count");
            return;
        };
        let source = msg.payload["source"].as_str().unwrap_or_default();
        if count.direction != "positive" {
            return;
        }
        if let Some(approach) = stop_lines.get(&(count.camera.clone(), count.line.clone())) {
            handle.record_vision_count(source, &count.camera, approach, count.time_s);
        }
    })
    .await;
}

/// Delivery is at least once: a message that comes again (same id) after a reconnection is
/// taken once. Repeats come soon after the original, so the last ids are enough to remember.
#[derive(Default)]
struct RecentIds {
    set: std::collections::HashSet<String>,
    order: std::collections::VecDeque<String>,
}

impl RecentIds {
    const KEEP: usize = 100_000;

    fn first_time(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        self.set.insert(id.to_owned());
        self.order.push_back(id.to_owned());
        if self.order.len() > Self::KEEP
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_id_is_taken_once_and_old_ids_are_forgotten() {
        let mut ids = RecentIds::default();
        assert!(ids.first_time("c-1"));
        assert!(!ids.first_time("c-1"));
        for i in 0..RecentIds::KEEP {
            assert!(ids.first_time(&format!("x-{i}")));
        }
        assert!(ids.first_time("c-1"), "forgotten after KEEP newer ids");
        assert_eq!(ids.set.len(), RecentIds::KEEP);
    }

    #[test]
    fn a_stale_or_old_signal_state_is_not_used() {
        use nutgiao_controller::{Indication, PhaseState};
        let signals = BusSignals::default();
        let msg = |time_s: f64| Received {
            topic: "nutgiao/arterial/signals/J1".into(),
            payload: serde_json::json!({
                "id": "x", "site": "arterial", "source": "central-state", "kind": "signals",
                "data": SignalsState {
                    intersection: "J1".into(),
                    phases: vec![PhaseState { phase: 2, indication: Indication::Red, since_s: time_s }],
                    time_s,
                },
            }),
        };
        let feed = signals.feed();
        signals.take(&msg(unix_now_s() - 60.0));
        assert_eq!(feed.indication("J1", 2), None, "a retained state a minute old");
        signals.take(&msg(unix_now_s()));
        assert_eq!(feed.indication("J1", 2), Some(Light::Red));
        assert_eq!(feed.indication("J1", 4), None);
        assert_eq!(signals.seen()["J1"].messages, 1);
        assert_eq!(signals.seen()["J1"].source, "central-state");
    }
}
