//! The state database: where every source stands and every detector's state, so a run goes on
//! where the last one stopped.
//!
//! One SQLite file in WAL mode. Everything a batch changes (the cursors of the sources it came
//! from, each detector's state after it, and, when asked, the ids of the events delivered) is
//! written in one transaction after the detectors processed the batch, so a process killed at
//! any point resumes with no event lost and none delivered twice. The database stores cursors
//! as opaque JSON text: what a cursor means is [`crate::ingest`]'s business.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};
use thiserror::Error;

const SCHEMA_VERSION: i64 = 1;

#[derive(Debug, Error)]
pub enum StateError {
    #[error("cannot create the folder of the state database {path}")]
    CreateFolder { path: PathBuf, source: std::io::Error },
    #[error("cannot open the state database {path}; delete it to start over, or pass another --state-dir")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the state database {path} has schema version {found}, this devloop-host knows {SCHEMA_VERSION}; \
         delete it (the next run reads everything again) or upgrade devloop-host"
    )]
    Version { path: PathBuf, found: i64 },
    #[error("state database {path}: {source}")]
    Query { path: PathBuf, source: rusqlite::Error },
}

/// A detector's state as it last handed it over.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSnapshot {
    pub version: String,
    pub state: Vec<u8>,
}

/// What one batch changed, written atomically.
#[derive(Debug, Default)]
pub struct Checkpoint {
    /// `(slot key, cursor as JSON)` of every source that moved.
    pub cursors: Vec<(String, String)>,
    /// `(plugin id, snapshot)` of every detector that handed its state over.
    pub snapshots: Vec<(String, PluginSnapshot)>,
    /// `(event id, event time)` of the events delivered, when tracing is on.
    pub delivered: Vec<(u64, i64)>,
}

pub struct StateDb {
    path: PathBuf,
    connection: Connection,
}

impl StateDb {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<StateDb, StateError> {
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StateError::CreateFolder { path: parent.to_owned(), source })?;
        }
        let open_error = |source| StateError::Open { path: path.to_owned(), source };
        let connection = Connection::open(path).map_err(open_error)?;
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(open_error)?;
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS cursors (slot TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_ms INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS plugin_state (
                     plugin TEXT PRIMARY KEY, version TEXT NOT NULL, state BLOB NOT NULL, updated_ms INTEGER NOT NULL);
                 CREATE TABLE IF NOT EXISTS delivered (
                     sequence INTEGER PRIMARY KEY AUTOINCREMENT, event_id INTEGER NOT NULL, time_ms INTEGER NOT NULL);",
            )
            .map_err(open_error)?;
        let version: Option<i64> = connection
            .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |row| row.get(0))
            .optional()
            .map_err(open_error)?;
        match version {
            None => {
                connection
                    .execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?1)", [SCHEMA_VERSION])
                    .map_err(open_error)?;
            }
            Some(SCHEMA_VERSION) => {}
            Some(found) => return Err(StateError::Version { path: path.to_owned(), found }),
        }
        Ok(StateDb { path: path.to_owned(), connection })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn query_error(&self) -> impl Fn(rusqlite::Error) -> StateError + '_ {
        |source| StateError::Query { path: self.path.clone(), source }
    }

    /// Forgets every cursor and detector state (`--from-start`); the trace is kept.
    pub fn reset(&mut self) -> Result<(), StateError> {
        self.connection.execute_batch("DELETE FROM cursors; DELETE FROM plugin_state;").map_err(self.query_error())
    }

    /// Every stored cursor, by slot key.
    pub fn cursors(&self) -> Result<HashMap<String, String>, StateError> {
        let mut statement = self.connection.prepare("SELECT slot, cursor FROM cursors").map_err(self.query_error())?;
        let rows = statement
            .query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))
            .map_err(self.query_error())?;
        rows.collect::<Result<_, _>>().map_err(self.query_error())
    }

    /// Every stored detector state, by plugin id.
    pub fn snapshots(&self) -> Result<HashMap<String, PluginSnapshot>, StateError> {
        let mut statement =
            self.connection.prepare("SELECT plugin, version, state FROM plugin_state").map_err(self.query_error())?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, PluginSnapshot { version: row.get(1)?, state: row.get(2)? }))
            })
            .map_err(self.query_error())?;
        rows.collect::<Result<_, _>>().map_err(self.query_error())
    }

    /// Writes everything one batch changed in one transaction.
    pub fn commit(&mut self, checkpoint: &Checkpoint) -> Result<(), StateError> {
        let path = self.path.clone();
        let error = |source| StateError::Query { path: path.clone(), source };
        let now_ms = chrono::Utc::now().timestamp_millis();
        let transaction = self.connection.transaction().map_err(error)?;
        {
            let mut cursor = transaction
                .prepare_cached("INSERT OR REPLACE INTO cursors (slot, cursor, updated_ms) VALUES (?1, ?2, ?3)")
                .map_err(error)?;
            for (slot, text) in &checkpoint.cursors {
                cursor.execute(params![slot, text, now_ms]).map_err(error)?;
            }
            let mut snapshot = transaction
                .prepare_cached(
                    "INSERT OR REPLACE INTO plugin_state (plugin, version, state, updated_ms) VALUES (?1, ?2, ?3, ?4)",
                )
                .map_err(error)?;
            for (plugin, state) in &checkpoint.snapshots {
                snapshot.execute(params![plugin, state.version, state.state, now_ms]).map_err(error)?;
            }
            let mut delivered = transaction
                .prepare_cached("INSERT INTO delivered (event_id, time_ms) VALUES (?1, ?2)")
                .map_err(error)?;
            for (id, time_ms) in &checkpoint.delivered {
                delivered.execute(params![*id as i64, time_ms]).map_err(error)?;
            }
        }
        transaction.commit().map_err(error)
    }

    /// The ids of every event delivered while tracing was on, in delivery order.
    pub fn delivered(&self) -> Result<Vec<u64>, StateError> {
        let mut statement =
            self.connection.prepare("SELECT event_id FROM delivered ORDER BY sequence").map_err(self.query_error())?;
        let rows = statement.query_map([], |row| row.get::<_, i64>(0)).map_err(self.query_error())?;
        rows.map(|row| row.map(|id| id as u64)).collect::<Result<_, _>>().map_err(self.query_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_read_back_after_reopening() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("nested").join("state.db");
        let mut state = StateDb::open(&path)?;
        state.commit(&Checkpoint {
            cursors: vec![("/p/events.jsonl".to_owned(), "{\"lines\":{}}".to_owned())],
            snapshots: vec![(
                "command-repetition".to_owned(),
                PluginSnapshot { version: "0.1.0".to_owned(), state: vec![1, 2] },
            )],
            delivered: vec![(u64::MAX, 5)],
        })?;
        drop(state);
        let state = StateDb::open(&path)?;
        assert_eq!(state.cursors()?.get("/p/events.jsonl").map(String::as_str), Some("{\"lines\":{}}"));
        assert_eq!(state.snapshots()?["command-repetition"].state, [1, 2]);
        assert_eq!(state.delivered()?, [u64::MAX]);
        Ok(())
    }
}
