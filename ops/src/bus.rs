//! The MQTT event bus for the rest of the operations centre.
//!
//! Every event is first written to an outbox table in SQLite (full sync), then a publisher
//! task hands it to the broker with QoS 1 and marks it sent only when the broker has
//! acknowledged it. While the broker is down events wait on disk; each carries a stable
//! `id`, so delivery is at-least-once on the wire and exactly-once by id.
//!
//! State that a newer value replaces (signal indications, detector readings) goes through
//! [`StateBus`] instead: retained, never spooled, the latest value sent again after every
//! reconnection.
//!
//! Topics: `nutgiao/<site>/<kind>/<key>` where kind is `counts`, `violations`, `status`,
//! `signals` or `detectors` (see docs/events.md).

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::events::{BusProgress, InternalEvent};
use crate::metrics::Metrics;

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("event outbox {path}: {source}")]
    Outbox {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("MQTT broker address `{0}` is not HOST:PORT")]
    Address(String),
    #[error("event payload: {0}")]
    Payload(#[from] serde_json::Error),
}

/// An event as it travels: its id, the node that sent it, its kind and JSON body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope<'a, T: Serialize> {
    pub id: &'a str,
    pub site: &'a str,
    /// The publishing node's MQTT client id, so a central node can tell its edge nodes apart.
    pub source: &'a str,
    pub kind: &'a str,
    pub data: &'a T,
}

/// `HOST:PORT` of a broker.
fn broker_address(broker: &str) -> Result<(String, u16), BusError> {
    broker
        .rsplit_once(':')
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<u16>().ok()?)))
        .ok_or_else(|| BusError::Address(broker.to_owned()))
}

/// One stored event: sequence number, kind, topic, payload.
type OutboxRow = (i64, String, String, Vec<u8>);

struct Outbox {
    path: String,
    conn: Mutex<Connection>,
}

impl Outbox {
    fn open(path: &Path) -> Result<Outbox, BusError> {
        let p = path.display().to_string();
        let err = |source| BusError::Outbox { path: p.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS outbox (
               seq INTEGER PRIMARY KEY AUTOINCREMENT,
               id TEXT NOT NULL UNIQUE,
               kind TEXT NOT NULL,
               topic TEXT NOT NULL,
               payload BLOB NOT NULL,
               sent INTEGER NOT NULL DEFAULT 0
             );
             CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox(sent, seq);",
        )
        .map_err(err)?;
        Ok(Outbox { path: p, conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn err(&self, source: rusqlite::Error) -> BusError {
        BusError::Outbox { path: self.path.clone(), source }
    }

    /// Stores an event; the same id twice is stored once.
    fn put(&self, id: &str, kind: &str, topic: &str, payload: &[u8]) -> Result<(), BusError> {
        self.conn()
            .execute(
                "INSERT OR IGNORE INTO outbox (id, kind, topic, payload) VALUES (?1, ?2, ?3, ?4)",
                params![id, kind, topic, payload],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn next_unsent(&self, after_seq: i64, limit: usize) -> Result<Vec<OutboxRow>, BusError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT seq, kind, topic, payload FROM outbox WHERE sent = 0 AND seq > ?1 ORDER BY seq LIMIT ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![after_seq, i64::try_from(limit).unwrap_or(64)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.err(e))
    }

    fn mark_sent(&self, seq: i64) -> Result<(), BusError> {
        self.conn().execute("UPDATE outbox SET sent = 1 WHERE seq = ?1", params![seq]).map_err(|e| self.err(e))?;
        Ok(())
    }

    fn unsent_all(&self) -> i64 {
        self.conn().query_row("SELECT COUNT(*) FROM outbox WHERE sent = 0", [], |r| r.get(0)).unwrap_or(-1)
    }

    fn unsent(&self, kind: &str) -> i64 {
        self.conn()
            .query_row("SELECT COUNT(*) FROM outbox WHERE sent = 0 AND kind = ?1", params![kind], |r| r.get(0))
            .unwrap_or(0)
    }
}

/// The producer side: cheap to clone, never blocks on the network.
#[derive(Clone)]
pub struct Bus {
    site: String,
    source: String,
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
}

/// The publisher task; run it with [`Publisher::run`].
pub struct Publisher {
    outbox: Arc<Outbox>,
    wake: Arc<Notify>,
    options: MqttOptions,
    metrics: Metrics,
}

impl Bus {
    /// Opens (or resumes) the outbox at `path`; unsent events from an earlier run are sent first.
    pub fn open(
        path: &Path,
        broker: &str,
        client_id: &str,
        site: &str,
        metrics: Metrics,
    ) -> Result<(Bus, Publisher), BusError> {
        let (host, port) = broker_address(broker)?;
        let outbox = Arc::new(Outbox::open(path)?);
        let wake = Arc::new(Notify::new());
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_keep_alive(Duration::from_secs(5));
        options.set_clean_session(true);
        let bus =
            Bus { site: site.to_owned(), source: client_id.to_owned(), outbox: outbox.clone(), wake: wake.clone() };
        Ok((bus, Publisher { outbox, wake, options, metrics }))
    }

    /// Puts an event on disk for delivery to `nutgiao/<site>/<kind>/<key>`; returns once it
    /// is durable.
    pub fn publish<T: Serialize>(&self, kind: &str, key: &str, id: &str, data: &T) -> Result<(), BusError> {
        let topic = format!("nutgiao/{}/{kind}/{key}", self.site);
        let payload = serde_json::to_vec(&Envelope { id, site: &self.site, source: &self.source, kind, data })?;
        self.outbox.put(id, kind, &topic, &payload)?;
        self.wake.notify_one();
        Ok(())
    }
}

impl Bus {
    /// Waits up to `timeout` for the broker to acknowledge everything in the outbox (for a
    /// process about to exit); returns how many events still wait on disk for the next start.
    pub fn wait_sent(&self, timeout: Duration) -> i64 {
        let until = std::time::Instant::now() + timeout;
        loop {
            let n = self.outbox.unsent_all();
            if n == 0 || std::time::Instant::now() >= until {
                return n;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

const KINDS: [&str; 5] = ["counts", "violations", "status", "signals", "detectors"];
const IN_FLIGHT: usize = 64;

impl Publisher {
    /// Delivers the outbox until the task is dropped; reconnects with backoff.
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(200);
        loop {
            // A fresh client per connection: the old one's unacknowledged publishes are
            // dropped and sent again from the outbox, so nothing goes out twice from memory.
            let (client, mut eventloop) = AsyncClient::new(self.options.clone(), IN_FLIGHT * 2);
            let was_connected = self.session(&client, &mut eventloop, &mut backoff).await;
            for kind in KINDS {
                BusProgress { kind, published: 0, spooled: self.outbox.unsent(kind) }.emit(&self.metrics);
            }
            if was_connected {
                tracing::warn!("event bus lost the MQTT broker; events are kept on disk");
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    /// One connection's life; returns whether it ever connected.
    async fn session(&self, client: &AsyncClient, eventloop: &mut EventLoop, backoff: &mut Duration) -> bool {
        let mut connected = false;
        // Events handed to the client, waiting for their packet id, then for their PubAck.
        let mut awaiting_pkid: VecDeque<(i64, String)> = VecDeque::new();
        let mut awaiting_ack: Vec<(u16, i64, String)> = Vec::new();
        let mut last_queued: i64 = 0;
        loop {
            let room = IN_FLIGHT.saturating_sub(awaiting_pkid.len() + awaiting_ack.len());
            if connected && room > 0 {
                match self.outbox.next_unsent(last_queued, room) {
                    Ok(rows) => {
                        for (seq, kind, topic, payload) in rows {
                            if client.try_publish(topic, QoS::AtLeastOnce, false, payload).is_err() {
                                break;
                            }
                            last_queued = seq;
                            awaiting_pkid.push_back((seq, kind));
                        }
                    }
                    Err(e) => tracing::error!("{e}"),
                }
            }
            tokio::select! {
                event = eventloop.poll() => match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        connected = true;
                        *backoff = Duration::from_millis(200);
                        tracing::info!("event bus connected to the MQTT broker");
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        if let Some((seq, kind)) = awaiting_pkid.pop_front() {
                            awaiting_ack.push((pkid, seq, kind));
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(pos) = awaiting_ack.iter().position(|(p, _, _)| *p == ack.pkid) {
                            let (_, seq, kind) = awaiting_ack.swap_remove(pos);
                            match self.outbox.mark_sent(seq) {
                                Ok(()) => BusProgress { kind: &kind, published: 1, spooled: self.outbox.unsent(&kind) }
                                    .emit(&self.metrics),
                                Err(e) => tracing::error!("{e}"),
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("MQTT connection: {e}");
                        return connected;
                    }
                },
                () = self.wake.notified(), if connected => {}
            }
        }
    }
}

/// A message received from the bus: its topic and the event's JSON envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub topic: String,
    pub payload: serde_json::Value,
}

/// Subscribes to `nutgiao/<site>/<kind>/#` for each kind and forwards every message until the
/// receiver is dropped; reconnects with backoff while the broker is away.
pub async fn subscribe(
    broker: &str,
    client_id: &str,
    site: &str,
    kinds: &[&str],
    tx: tokio::sync::mpsc::UnboundedSender<Received>,
) -> Result<(), BusError> {
    let (host, port) = broker_address(broker)?;
    let topics: Vec<String> = kinds.iter().map(|k| format!("nutgiao/{site}/{k}/#")).collect();
    let mut backoff = Duration::from_millis(200);
    loop {
        let mut options = MqttOptions::new(client_id, host.clone(), port);
        options.set_keep_alive(Duration::from_secs(5));
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff = Duration::from_millis(200);
                    for t in &topics {
                        // Queued in the client; the event loop sends it.
                        let _ = client.try_subscribe(t.clone(), QoS::AtLeastOnce);
                    }
                    tracing::info!(topics = ?topics, "subscribed to the event bus");
                }
                Ok(Event::Incoming(Packet::Publish(p))) => match serde_json::from_slice(&p.payload) {
                    Ok(payload) => {
                        if tx.send(Received { topic: p.topic.clone(), payload }).is_err() {
                            return Ok(());
                        }
                    }
                    Err(e) => tracing::warn!(topic = %p.topic, "not a nutgiao event: {e}"),
                },
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!("event bus subscription: {e}");
                    break;
                }
            }
        }
        if tx.is_closed() {
            return Ok(());
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// The latest value of one state topic: the message to send and whether it still has to go.
type StateTopics = BTreeMap<String, (Vec<u8>, bool)>;

/// The producer side of last-value state (signal indications, detector readings): cheap to
/// clone, never blocks. Only the newest value of each topic matters, so nothing is spooled:
/// a value that could not be sent is replaced by the next one, and after a reconnection the
/// latest value of every topic goes out again. Messages are retained so that a node that
/// subscribes later gets the current state at once; each carries its `time_s` so that a
/// receiver can ignore a retained value from a publisher that has died.
#[derive(Clone)]
pub struct StateBus {
    site: String,
    source: String,
    topics: Arc<Mutex<StateTopics>>,
    wake: Arc<Notify>,
}

/// The state publisher task; run it with [`StatePublisher::run`].
pub struct StatePublisher {
    topics: Arc<Mutex<StateTopics>>,
    wake: Arc<Notify>,
    options: MqttOptions,
}

impl StateBus {
    pub fn open(broker: &str, client_id: &str, site: &str) -> Result<(StateBus, StatePublisher), BusError> {
        let (host, port) = broker_address(broker)?;
        let mut options = MqttOptions::new(client_id, host, port);
        options.set_keep_alive(Duration::from_secs(5));
        let topics = Arc::new(Mutex::new(BTreeMap::new()));
        let wake = Arc::new(Notify::new());
        let bus = StateBus {
            site: site.to_owned(),
            source: client_id.to_owned(),
            topics: topics.clone(),
            wake: wake.clone(),
        };
        Ok((bus, StatePublisher { topics, wake, options }))
    }

    /// Sets the state at `nutgiao/<site>/<kind>/<key>`, replacing any value not yet sent.
    pub fn set<T: Serialize>(&self, kind: &str, key: &str, data: &T) -> Result<(), BusError> {
        let topic = format!("nutgiao/{}/{kind}/{key}", self.site);
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let id = format!("{}-{key}-{millis}", self.source);
        let payload = serde_json::to_vec(&Envelope { id: &id, site: &self.site, source: &self.source, kind, data })?;
        self.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(topic, (payload, true));
        self.wake.notify_one();
        Ok(())
    }
}

impl StatePublisher {
    /// Sends state until the task is dropped; reconnects with backoff.
    pub async fn run(self) {
        let mut backoff = Duration::from_millis(200);
        loop {
            let (client, mut eventloop) = AsyncClient::new(self.options.clone(), 256);
            let mut connected = false;
            loop {
                if connected {
                    self.send_pending(&client);
                }
                tokio::select! {
                    event = eventloop.poll() => match event {
                        Ok(Event::Incoming(Packet::ConnAck(_))) => {
                            connected = true;
                            backoff = Duration::from_millis(200);
                            // A new connection: everyone may have missed the latest values.
                            for (_, pending) in self.lock().values_mut() {
                                *pending = true;
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::debug!("MQTT state connection: {e}");
                            break;
                        }
                    },
                    () = self.wake.notified(), if connected => {}
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateTopics> {
        self.topics.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn send_pending(&self, client: &AsyncClient) {
        for (topic, (payload, pending)) in self.lock().iter_mut().filter(|(_, (_, p))| *p) {
            // A full client queue leaves the value pending for the next wake-up.
            if client.try_publish(topic.clone(), QoS::AtLeastOnce, true, payload.clone()).is_ok() {
                *pending = false;
            }
        }
    }
}

/// What a `signals` state message carries: one intersection's indications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalsState {
    pub intersection: String,
    pub phases: Vec<nutgiao_controller::PhaseState>,
    /// Seconds since the Unix epoch at which the publisher read these indications.
    pub time_s: f64,
}
