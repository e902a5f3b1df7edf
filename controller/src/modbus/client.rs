//! The central controller's Modbus client for one field controller: every request has a
//! timeout, failed requests are retried with backoff on a fresh connection, and a cabinet
//! that stays down is retried less and less often, so it never holds up the others (each
//! link is driven by its own task).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nutgiao_config::{Intersection, RegisterMap};
use thiserror::Error;
use tokio_modbus::client::{Context, Reader, Writer};
use tokio_modbus::{ExceptionCode, Slave};

use super::map::{self, FieldStatus, MAP_VERSION, command_reg, detector_reg, status_reg};
use crate::plan::{Coordination, IntersectionPlan};
use crate::signal::DetectorReading;

/// Attempts per operation (the first plus retries) before the cabinet counts as down.
pub const ATTEMPTS: u32 = 3;
const RETRY_BACKOFF: Duration = Duration::from_millis(50);
/// Reconnection backoff of a down cabinet doubles up to this.
const MAX_RECONNECT_BACKOFF: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum LinkError {
    #[error("{intersection} ({address}): `{address}` is not a HOST:PORT address")]
    Address { intersection: String, address: String },
    #[error("{intersection} ({address}): down, next reconnection attempt in {retry_in_ms} ms")]
    Down { intersection: String, address: String, retry_in_ms: u64 },
    #[error("{intersection} ({address}): {what}: no answer within {timeout_ms} ms")]
    Timeout { intersection: String, address: String, what: &'static str, timeout_ms: u64 },
    #[error("{intersection} ({address}): {what}: {source}")]
    Transport {
        intersection: String,
        address: String,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("{intersection} ({address}): {what} refused with exception {exception}")]
    Exception { intersection: String, address: String, what: &'static str, exception: ExceptionCode },
    #[error("{intersection} ({address}): cabinet speaks register map version {got}, nutgiao speaks {MAP_VERSION}")]
    Version { intersection: String, address: String, got: u16 },
    #[error("{intersection}: {0}", intersection = .1)]
    Map(#[source] map::MapError, String),
}

impl LinkError {
    /// The cabinet answered and refused: retrying the same request will not help.
    pub fn is_refusal(&self) -> bool {
        matches!(self, LinkError::Exception { .. } | LinkError::Map(..) | LinkError::Version { .. })
    }
}

/// Request counters and latency, for the operators' surface.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LinkStats {
    pub requests: u64,
    pub errors: u64,
    pub reconnects: u64,
    pub last_latency_ms: Option<f64>,
}

pub struct FieldLink {
    intersection: Intersection,
    map: RegisterMap,
    address: String,
    unit_id: u8,
    timeout: Duration,
    ctx: Option<Context>,
    down_since: Option<Instant>,
    next_attempt: Option<Instant>,
    backoff: Duration,
    stats: LinkStats,
    /// The status block length the cabinet answers: v1.1's, until a cabinet refuses it as
    /// a v1.0 one (found again on every connection, as the cabinet may have been replaced).
    status_len: u16,
    /// The cabinet's map revision from its last status (0: 1.0).
    revision: u16,
    /// Warned that this cabinet runs flagged plans fixed-time.
    warned_v1_0: bool,
}

impl std::fmt::Debug for FieldLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldLink")
            .field("intersection", &self.intersection.id)
            .field("address", &self.address)
            .finish()
    }
}

impl FieldLink {
    /// A link to the intersection's configured field controller (not connected yet).
    pub fn new(inter: &Intersection, map: &RegisterMap) -> Option<FieldLink> {
        let fc = inter.field_controller.as_ref()?;
        Some(Self::to_address(inter, map, &fc.address, fc.unit_id, Duration::from_millis(fc.timeout_ms)))
    }

    /// A link to any address speaking the map (a third-party cabinet, a test peer).
    pub fn to_address(
        inter: &Intersection,
        map: &RegisterMap,
        address: &str,
        unit_id: u8,
        timeout: Duration,
    ) -> FieldLink {
        FieldLink {
            intersection: inter.clone(),
            map: map.clone(),
            address: address.to_owned(),
            unit_id,
            timeout,
            ctx: None,
            down_since: None,
            next_attempt: None,
            backoff: RETRY_BACKOFF,
            stats: LinkStats::default(),
            status_len: status_reg::LEN,
            revision: map::MAP_REVISION,
            warned_v1_0: false,
        }
    }

    pub fn intersection(&self) -> &Intersection {
        &self.intersection
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    pub fn is_up(&self) -> bool {
        self.down_since.is_none() && self.ctx.is_some()
    }

    fn id(&self) -> (String, String) {
        (self.intersection.id.clone(), self.address.clone())
    }

    async fn connect(&mut self) -> Result<(), LinkError> {
        let (intersection, address) = self.id();
        if let Some(at) = self.next_attempt
            && Instant::now() < at
        {
            let retry_in_ms = at.saturating_duration_since(Instant::now()).as_millis() as u64;
            return Err(LinkError::Down { intersection, address, retry_in_ms });
        }
        let addr: SocketAddr = tokio::net::lookup_host(&self.address)
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| LinkError::Address { intersection: intersection.clone(), address: address.clone() })?;
        let timeout_ms = self.timeout.as_millis() as u64;
        let conn =
            tokio::time::timeout(self.timeout, tokio_modbus::client::tcp::connect_slave(addr, Slave(self.unit_id)));
        let result = match conn.await {
            Err(_) => Err(LinkError::Timeout { intersection, address, what: "connect", timeout_ms }),
            Ok(Err(source)) => Err(LinkError::Transport { intersection, address, what: "connect", source }),
            Ok(Ok(ctx)) => Ok(ctx),
        };
        match result {
            Ok(ctx) => {
                self.ctx = Some(ctx);
                self.status_len = status_reg::LEN;
                self.stats.reconnects += 1;
                Ok(())
            }
            Err(e) => {
                self.mark_down();
                Err(e)
            }
        }
    }

    fn mark_down(&mut self) {
        self.ctx = None;
        let now = Instant::now();
        if self.down_since.is_none() {
            self.down_since = Some(now);
            self.backoff = RETRY_BACKOFF * 4;
        } else {
            self.backoff = (self.backoff * 2).min(MAX_RECONNECT_BACKOFF);
        }
        self.next_attempt = Some(now + self.backoff);
    }

    /// Runs one request with timeout; transport failures and timeouts are retried on a new
    /// connection after a short backoff, refusals are not.
    async fn with_retry<T, F>(&mut self, what: &'static str, mut op: F) -> Result<T, LinkError>
    where
        F: for<'c> FnMut(
            &'c mut Context,
        ) -> std::pin::Pin<Box<dyn Future<Output = tokio_modbus::Result<T>> + Send + 'c>>,
    {
        let (intersection, address) = self.id();
        let timeout_ms = self.timeout.as_millis() as u64;
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(RETRY_BACKOFF * attempt).await;
            }
            if self.ctx.is_none() {
                match self.connect().await {
                    Ok(()) => {}
                    Err(e @ LinkError::Down { .. }) => return Err(e),
                    Err(e) => {
                        self.stats.errors += 1;
                        last = Some(e);
                        continue;
                    }
                }
            }
            let Some(ctx) = self.ctx.as_mut() else { continue };
            self.stats.requests += 1;
            let started = Instant::now();
            let out = tokio::time::timeout(self.timeout, op(ctx)).await;
            match out {
                Ok(Ok(Ok(v))) => {
                    self.stats.last_latency_ms = Some(started.elapsed().as_secs_f64() * 1e3);
                    if self.down_since.take().is_some() {
                        tracing::info!(intersection = %intersection, address = %address, "field controller back up");
                    }
                    self.next_attempt = None;
                    return Ok(v);
                }
                Ok(Ok(Err(exception))) => {
                    self.stats.errors += 1;
                    return Err(LinkError::Exception { intersection, address, what, exception });
                }
                Ok(Err(e)) => {
                    self.stats.errors += 1;
                    self.ctx = None;
                    last = Some(LinkError::Transport {
                        intersection: intersection.clone(),
                        address: address.clone(),
                        what,
                        source: std::io::Error::other(e.to_string()),
                    });
                }
                Err(_) => {
                    self.stats.errors += 1;
                    self.ctx = None;
                    last = Some(LinkError::Timeout {
                        intersection: intersection.clone(),
                        address: address.clone(),
                        what,
                        timeout_ms,
                    });
                }
            }
        }
        self.mark_down();
        Err(last.unwrap_or(LinkError::Down { intersection, address, retry_in_ms: self.backoff.as_millis() as u64 }))
    }

    pub async fn read_status(&mut self) -> Result<FieldStatus, LinkError> {
        let base = self.map.status_base;
        let len = self.status_len;
        let words = match self.with_retry("read status", |c| Box::pin(c.read_input_registers(base, len))).await {
            Err(LinkError::Exception { exception: ExceptionCode::IllegalDataAddress, .. })
                if len > status_reg::LEN_V1_0 =>
            {
                // A map v1.0 cabinet: its status block ends before REVISION.
                self.status_len = status_reg::LEN_V1_0;
                self.with_retry("read status", |c| Box::pin(c.read_input_registers(base, status_reg::LEN_V1_0))).await?
            }
            other => other?,
        };
        let status = FieldStatus::decode(&self.map, &words).unwrap_or_default();
        self.revision = status.revision;
        if status.version != MAP_VERSION {
            let (intersection, address) = self.id();
            return Err(LinkError::Version { intersection, address, got: status.version });
        }
        Ok(status)
    }

    /// Every detector of the intersection, keyed by detector id.
    pub async fn read_detectors(&mut self) -> Result<BTreeMap<String, DetectorReading>, LinkError> {
        let n = self.intersection.detectors.len() as u16;
        if n == 0 {
            return Ok(BTreeMap::new());
        }
        let base = self.map.detector_base;
        let words = self
            .with_retry("read detectors", |c| Box::pin(c.read_input_registers(base, detector_reg::LEN * n)))
            .await?;
        Ok(self
            .intersection
            .detectors
            .iter()
            .zip(words.chunks(usize::from(detector_reg::LEN)))
            .map(|(d, w)| (d.id.clone(), map::decode_detector(&self.map, w)))
            .collect())
    }

    /// Writes the plan block and commits it with its checksum.
    pub async fn push_plan(&mut self, plan: &IntersectionPlan) -> Result<(), LinkError> {
        if plan.coordination() == Coordination::ActuatedCoordinated
            && self.revision < map::MAP_REVISION
            && !std::mem::replace(&mut self.warned_v1_0, true)
        {
            tracing::warn!(intersection = %self.intersection.id, address = %self.address,
                "cabinet speaks register map v1.0: it runs actuated-coordinated plans fixed-time");
        }
        let words = map::encode_plan(&self.map, &self.intersection, plan)
            .map_err(|e| LinkError::Map(e, self.intersection.id.clone()))?;
        let crc = map::crc16(&words);
        let (plan_base, commit) = (self.map.plan_base, self.map.command_base + command_reg::COMMIT);
        let w = words.clone();
        self.with_retry("write plan", move |c| {
            let w = w.clone();
            Box::pin(async move { c.write_multiple_registers(plan_base, &w).await })
        })
        .await?;
        self.with_retry("commit plan", move |c| Box::pin(c.write_single_register(commit, crc))).await
    }

    pub async fn heartbeat(&mut self, counter: u16) -> Result<(), LinkError> {
        let reg = self.map.command_base + command_reg::HEARTBEAT;
        self.with_retry("heartbeat", move |c| Box::pin(c.write_single_register(reg, counter))).await
    }
}
