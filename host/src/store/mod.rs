//! The insight store: one SQLite row per finding, identified by its fingerprint, so that a
//! finding detected on every run stays one finding with a history, a triage status and at most
//! one beads issue.
//!
//! The database is `insights.db` in the state folder (`.devloop-host/` by default), in WAL mode
//! so `insights list` can read while a `run` writes. It is the project's one database: a run's
//! progress (cursors, detector states) is committed in the same transactions as the findings
//! it produced (`checkpoint`). The schema is versioned (`migrations`).

mod checkpoint;
mod error;
mod filing;
mod finding;
mod lock;
mod migrations;
mod query;
mod record;
mod triage;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};

pub use checkpoint::{Checkpoint, Cursors, PluginSnapshot, Reported};
pub use error::StoreError;
pub use filing::{Filing, FilingState};
pub use finding::{Baseline, Change, ChangeKind, GROWTH_FACTOR, StoredFinding, Triage, thread_url};
pub use lock::{LockError, RunLock, lock_path};
pub use migrations::SCHEMA_VERSION;
pub use query::{Filter, HistoryEntry, Summary};
pub use triage::Transition;

use crate::model::{Fingerprint, Insight, Severity};

/// The store's file in the state folder.
pub const DATABASE_FILE: &str = "insights.db";

/// An open insight store.
pub struct Store {
    connection: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) `insights.db` in `state_dir`.
    pub fn open_in(state_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(state_dir)
            .map_err(|source| StoreError::CreateDir { path: state_dir.to_owned(), source })?;
        Store::open(&state_dir.join(DATABASE_FILE))
    }

    /// Opens (creating if needed) the store at `path` and migrates it to the current schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let opened = |source| StoreError::Open { path: path.to_owned(), source };
        let mut connection = Connection::open(path).map_err(opened)?;
        connection.busy_timeout(Duration::from_secs(10)).map_err(opened)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(opened)?;
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(opened)?;
        connection.pragma_update(None, "foreign_keys", true).map_err(opened)?;
        migrations::migrate(&mut connection, path)?;
        Ok(Store { connection, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Begins a transaction that writes: it takes the write lock at once (waiting up to the
    /// busy timeout), so it never fails half-way because another process wrote since it read.
    fn write_transaction(&self) -> Result<Transaction<'_>, StoreError> {
        Ok(Transaction::new_unchecked(&self.connection, TransactionBehavior::Immediate)?)
    }

    /// The finding `fingerprint`, or a unique finding whose fingerprint starts with it.
    pub fn resolve(&self, fingerprint: &str) -> Result<StoredFinding, StoreError> {
        if let Some(found) = self.get(&Fingerprint::from_string(fingerprint))? {
            return Ok(found);
        }
        let pattern = format!("{}%", fingerprint.replace(['%', '_'], ""));
        let mut statement =
            self.connection.prepare(&format!("{SELECT_FINDING} WHERE f.fingerprint LIKE ?1 LIMIT 2"))?;
        let matches = statement.query_map([&pattern], read_row)?.collect::<Result<Vec<_>, _>>()?;
        match matches.len() {
            0 => Err(StoreError::UnknownFingerprint(fingerprint.to_owned())),
            1 => matches.into_iter().next().expect("one match").decode(),
            _ => Err(StoreError::AmbiguousFingerprint {
                prefix: fingerprint.to_owned(),
                count: self.count_prefix(&pattern)?,
            }),
        }
    }

    fn count_prefix(&self, pattern: &str) -> Result<usize, StoreError> {
        let count: i64 =
            self.connection
                .query_row("SELECT count(*) FROM findings WHERE fingerprint LIKE ?1", [pattern], |row| row.get(0))?;
        Ok(count as usize)
    }

    /// The finding with exactly this fingerprint.
    pub fn get(&self, fingerprint: &Fingerprint) -> Result<Option<StoredFinding>, StoreError> {
        self.connection
            .query_row(&format!("{SELECT_FINDING} WHERE f.fingerprint = ?1"), [fingerprint.as_str()], read_row)
            .optional()?
            .map(RawFinding::decode)
            .transpose()
    }

    fn add_history(
        &self,
        fingerprint: &Fingerprint,
        at_ms: i64,
        change: &str,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        self.connection.execute(
            "INSERT INTO history (fingerprint, at_ms, change, detail) VALUES (?1, ?2, ?3, ?4)",
            params![fingerprint.as_str(), at_ms, change, detail],
        )?;
        Ok(())
    }
}

const SELECT_FINDING: &str = "SELECT f.fingerprint, f.insight, f.first_seen_ms, f.last_seen_ms, f.recorded_ms, \
     f.occurrences, f.runs, f.status, f.status_changed_ms, f.status_reason, f.snoozed_until_ms, \
     f.baseline_occurrences, f.baseline_severity, fi.issue_id, fi.state, fi.last_error \
     FROM findings f LEFT JOIN filings fi ON fi.fingerprint = f.fingerprint";

/// A row before its JSON columns are parsed (parse errors are ours to report, not SQLite's).
struct RawFinding {
    fingerprint: String,
    insight: String,
    first_seen_ms: i64,
    last_seen_ms: i64,
    recorded_ms: i64,
    occurrences: i64,
    runs: i64,
    status: String,
    status_changed_ms: i64,
    status_reason: Option<String>,
    snoozed_until_ms: Option<i64>,
    baseline_occurrences: i64,
    baseline_severity: i64,
    issue_id: Option<String>,
    filing_state: Option<String>,
    filing_error: Option<String>,
}

fn read_row(row: &Row<'_>) -> rusqlite::Result<RawFinding> {
    Ok(RawFinding {
        fingerprint: row.get(0)?,
        insight: row.get(1)?,
        first_seen_ms: row.get(2)?,
        last_seen_ms: row.get(3)?,
        recorded_ms: row.get(4)?,
        occurrences: row.get(5)?,
        runs: row.get(6)?,
        status: row.get(7)?,
        status_changed_ms: row.get(8)?,
        status_reason: row.get(9)?,
        snoozed_until_ms: row.get(10)?,
        baseline_occurrences: row.get(11)?,
        baseline_severity: row.get(12)?,
        issue_id: row.get(13)?,
        filing_state: row.get(14)?,
        filing_error: row.get(15)?,
    })
}

impl RawFinding {
    fn decode(self) -> Result<StoredFinding, StoreError> {
        let insight: Insight = serde_json::from_str(&self.insight)
            .map_err(|source| StoreError::Corrupt { fingerprint: self.fingerprint.clone(), source })?;
        Ok(StoredFinding {
            fingerprint: Fingerprint::from_string(self.fingerprint),
            insight,
            first_seen_ms: self.first_seen_ms,
            last_seen_ms: self.last_seen_ms,
            recorded_ms: self.recorded_ms,
            occurrences: self.occurrences as u64,
            runs: self.runs as u64,
            status: Triage::parse(&self.status).unwrap_or(Triage::New),
            status_changed_ms: self.status_changed_ms,
            status_reason: self.status_reason,
            snoozed_until_ms: self.snoozed_until_ms,
            baseline: Baseline {
                occurrences: self.baseline_occurrences as u64,
                severity: severity_from_rank(self.baseline_severity),
            },
            issue_id: self.issue_id,
            filing_queued: self.filing_state.as_deref().is_some_and(|state| state != "filed"),
            filing_error: self.filing_error,
        })
    }
}

fn severity_rank(severity: Severity) -> i64 {
    match severity {
        Severity::Info => 0,
        Severity::Warning => 1,
        Severity::Error => 2,
    }
}

fn severity_from_rank(rank: i64) -> Severity {
    match rank {
        ..=0 => Severity::Info,
        1 => Severity::Warning,
        _ => Severity::Error,
    }
}

/// The wall clock, ms since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::model::{Evidence, Field, Insight, Severity};

    pub fn insight(key: &str, event_ids: &[u64], severity: Severity) -> Insight {
        Insight {
            detector: "command-repetition".into(),
            pattern: "command_repetition".into(),
            key: key.into(),
            severity,
            confidence: 0.7,
            message: format!("`{key}` was run {} times", event_ids.len()),
            recommendation: "Say whether it worked.".into(),
            evidence: Evidence { event_ids: event_ids.to_vec(), fields: vec![Field::new("command", key)] },
            affected_threads: vec!["T-1".into()],
            time_ms: 1_795_000_000_000 + event_ids.last().copied().unwrap_or(0) as i64,
        }
    }
}
