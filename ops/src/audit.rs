//! The audit trail of operators' writes and acknowledgements, in SQLite (WAL, full sync):
//! a write is on disk before it is answered.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, params};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("audit store {path}: {source}")]
pub struct AuditError {
    pub path: String,
    #[source]
    pub source: rusqlite::Error,
}

pub struct AuditLog {
    path: String,
    conn: Mutex<Connection>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at_unix_ms: i64,
    pub who: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub accepted: bool,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl AuditLog {
    pub fn open(path: &Path) -> Result<AuditLog, AuditError> {
        let p = path.display().to_string();
        let err = |source| AuditError { path: p.clone(), source };
        let conn = Connection::open(path).map_err(err)?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=FULL;
             CREATE TABLE IF NOT EXISTS audit (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               at_unix_ms INTEGER NOT NULL,
               who TEXT NOT NULL,
               action TEXT NOT NULL,
               target TEXT NOT NULL,
               detail TEXT NOT NULL,
               accepted INTEGER NOT NULL
             );
             CREATE TABLE IF NOT EXISTS acknowledgement (
               violation_id TEXT PRIMARY KEY,
               who TEXT NOT NULL,
               at_unix_ms INTEGER NOT NULL,
               note TEXT NOT NULL
             );",
        )
        .map_err(err)?;
        Ok(AuditLog { path: p, conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn record(
        &self,
        who: &str,
        action: &str,
        target: &str,
        detail: &str,
        accepted: bool,
    ) -> Result<i64, AuditError> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO audit (at_unix_ms, who, action, target, detail, accepted) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now_ms(), who, action, target, detail, accepted],
        )
        .map_err(|source| AuditError { path: self.path.clone(), source })?;
        Ok(conn.last_insert_rowid())
    }

    pub fn acknowledge(&self, violation_id: &str, who: &str, note: &str) -> Result<(), AuditError> {
        self.conn()
            .execute(
                "INSERT INTO acknowledgement (violation_id, who, at_unix_ms, note) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(violation_id) DO UPDATE SET who = excluded.who, at_unix_ms = excluded.at_unix_ms, note = excluded.note",
                params![violation_id, who, now_ms(), note],
            )
            .map_err(|source| AuditError { path: self.path.clone(), source })?;
        Ok(())
    }

    pub fn entries(&self, limit: usize) -> Result<Vec<AuditEntry>, AuditError> {
        let conn = self.conn();
        let err = |source| AuditError { path: self.path.clone(), source };
        let mut stmt = conn
            .prepare(
                "SELECT id, at_unix_ms, who, action, target, detail, accepted FROM audit ORDER BY id DESC LIMIT ?1",
            )
            .map_err(err)?;
        let rows = stmt
            .query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(AuditEntry {
                    id: r.get(0)?,
                    at_unix_ms: r.get(1)?,
                    who: r.get(2)?,
                    action: r.get(3)?,
                    target: r.get(4)?,
                    detail: r.get(5)?,
                    accepted: r.get(6)?,
                })
            })
            .map_err(err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ops.db");
        {
            let log = AuditLog::open(&path).unwrap();
            log.record("alice", "override", "J1", "fixed90", true).unwrap();
            log.record("bob", "override", "J9", "unknown intersection", false).unwrap();
            log.acknowledge("v-1", "alice", "seen").unwrap();
        }
        let log = AuditLog::open(&path).unwrap();
        let e = log.entries(10).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].who.as_str(), e[0].target.as_str(), e[0].accepted), ("bob", "J9", false));
        assert_eq!((e[1].who.as_str(), e[1].action.as_str(), e[1].accepted), ("alice", "override", true));
    }
}
