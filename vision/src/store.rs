//! The event store: SQLite in WAL mode with synchronous=FULL, so an event that any
//! subscriber has seen is already on disk (and survives kill -9 and power loss).
//! Evidence files are written and fsynced before their row commits, and their SHA-256
//! is in the row so tampering shows.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::{Result, VisionError};
use crate::event::VisionEvent;

pub struct EventStore {
    conn: Connection,
    path: PathBuf,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub event: VisionEvent,
    /// Seconds since the Unix epoch when the row was written.
    pub stored_at_s: f64,
    pub acknowledged_by: Option<String>,
}

fn now_s() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

pub fn open(path: &Path) -> Result<EventStore> {
    EventStore::open(path)
}

impl EventStore {
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| VisionError::Store { path: path.to_owned(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS events (
                id TEXT PRIMARY KEY,
                camera TEXT NOT NULL,
                kind TEXT NOT NULL,
                pts_s REAL NOT NULL,
                wall_utc TEXT NOT NULL,
                stored_at_s REAL NOT NULL,
                json TEXT NOT NULL,
                evidence_sha256 TEXT,
                acknowledged_by TEXT,
                acknowledged_at_s REAL
            );
            CREATE INDEX IF NOT EXISTS events_stored ON events (stored_at_s);
            CREATE INDEX IF NOT EXISTS events_kind ON events (kind, stored_at_s);",
        )
        .map_err(err)?;
        Ok(Self { conn, path: path.to_owned() })
    }

    fn err(&self) -> impl FnOnce(rusqlite::Error) -> VisionError + '_ {
        |source| VisionError::Store { path: self.path.clone(), source }
    }

    /// Inserts (idempotently: the same id twice is one row). Returns when it is durable.
    pub fn insert(&self, event: &VisionEvent) -> Result<()> {
        let json = serde_json::to_string(event).map_err(|e| VisionError::Store {
            path: self.path.clone(),
            source: rusqlite::Error::ToSqlConversionFailure(Box::new(e)),
        })?;
        let sha = match &event.kind {
            crate::event::EventKind::Violation(v) => {
                Some(v.evidence.iter().map(|e| e.sha256.as_str()).collect::<Vec<_>>().join(","))
            }
            _ => None,
        };
        self.conn
            .execute(
                "INSERT OR IGNORE INTO events (id, camera, kind, pts_s, wall_utc, stored_at_s, json, evidence_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![event.id, event.camera, event.kind.name(), event.pts_s, event.wall_utc, now_s(), json, sha],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Events stored at or after `since_s` (Unix seconds), optionally of one kind, oldest first.
    pub fn list(&self, since_s: f64, kind: Option<&str>) -> Result<Vec<StoredEvent>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT json, stored_at_s, acknowledged_by FROM events
                 WHERE stored_at_s >= ?1 AND (?2 IS NULL OR kind = ?2) ORDER BY stored_at_s, rowid",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![since_s, kind], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?, r.get::<_, Option<String>>(2)?))
            })
            .map_err(self.err())?;
        let mut out = Vec::new();
        for row in rows {
            let (json, stored_at_s, acknowledged_by) = row.map_err(self.err())?;
            let event = serde_json::from_str(&json).map_err(|e| VisionError::Store {
                path: self.path.clone(),
                source: rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)),
            })?;
            out.push(StoredEvent { event, stored_at_s, acknowledged_by });
        }
        Ok(out)
    }

    /// An operator has seen the event; returns false when there is no such event.
    pub fn acknowledge(&self, id: &str, who: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "UPDATE events SET acknowledged_by = ?2, acknowledged_at_s = ?3 WHERE id = ?1",
                params![id, who, now_s()],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// Deletes events stored more than `retention` ago, and their evidence files.
    pub fn prune(&self, retention: Duration) -> Result<usize> {
        let cutoff = now_s() - retention.as_secs_f64();
        let mut stmt = self
            .conn
            .prepare("SELECT json FROM events WHERE stored_at_s < ?1 AND kind = 'violation'")
            .map_err(self.err())?;
        let old: Vec<String> =
            stmt.query_map(params![cutoff], |r| r.get(0)).map_err(self.err())?.filter_map(|r| r.ok()).collect();
        for json in old {
            if let Ok(VisionEvent { kind: crate::event::EventKind::Violation(v), .. }) = serde_json::from_str(&json) {
                for e in v.evidence {
                    if let Err(err) = std::fs::remove_file(&e.path)
                        && err.kind() != std::io::ErrorKind::NotFound
                    {
                        tracing::warn!(path = %e.path, "could not delete expired evidence: {err}");
                    }
                }
            }
        }
        let n = self.conn.execute("DELETE FROM events WHERE stored_at_s < ?1", params![cutoff]).map_err(self.err())?;
        Ok(n)
    }

    pub fn get(&self, id: &str) -> Result<Option<VisionEvent>> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT json FROM events WHERE id = ?1", params![id], |r| r.get(0))
            .optional()
            .map_err(self.err())?;
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{CountEvent, EventKind};

    fn count(id: &str) -> VisionEvent {
        VisionEvent {
            id: id.into(),
            camera: "cam-J1-W".into(),
            pts_s: 1.5,
            wall_utc: "2026-01-01T00:00:00.000Z".into(),
            kind: EventKind::Count(CountEvent {
                line: "J1-W-stop".into(),
                direction: 1,
                class: "car".into(),
                lane: Some(0),
                track: 3,
                speed_kmh: Some(31.0),
                bbox: [1.0, 2.0, 3.0, 4.0],
                ground_m: None,
            }),
        }
    }

    #[test]
    fn events_round_trip_through_a_real_file_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.sqlite");
        {
            let store = EventStore::open(&path).unwrap();
            store.insert(&count("a")).unwrap();
            store.insert(&count("a")).unwrap();
            store.insert(&count("b")).unwrap();
            assert!(store.acknowledge("a", "operator-1").unwrap());
            assert!(!store.acknowledge("nope", "operator-1").unwrap());
        }
        let store = EventStore::open(&path).unwrap();
        let all = store.list(0.0, None).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].event, count("a"));
        assert_eq!(all[0].acknowledged_by.as_deref(), Some("operator-1"));
        assert!(store.list(0.0, Some("violation")).unwrap().is_empty());
        assert_eq!(store.prune(Duration::from_secs(3600)).unwrap(), 0);
        assert_eq!(store.prune(Duration::ZERO).unwrap(), 2);
        assert!(store.list(0.0, None).unwrap().is_empty());
    }
}
