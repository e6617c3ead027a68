//! Versioned schema migrations, applied in order and recorded in `PRAGMA user_version`.
//!
//! A released migration is never edited: a schema change is a new entry at the end, so every
//! store on every machine reaches the same schema by the same steps.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::StoreError;

/// Each entry moves the schema from version `index` to `index + 1`.
const MIGRATIONS: &[&str] = &[
    // v1: findings, the evidence events seen for them, their beads filings and their history.
    r#"
    CREATE TABLE findings (
        fingerprint TEXT PRIMARY KEY,
        pattern TEXT NOT NULL,
        severity INTEGER NOT NULL,
        confidence REAL NOT NULL,
        insight TEXT NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms INTEGER NOT NULL,
        recorded_ms INTEGER NOT NULL,
        occurrences INTEGER NOT NULL,
        runs INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('new', 'acknowledged', 'dismissed', 'snoozed', 'filed')),
        status_changed_ms INTEGER NOT NULL,
        status_reason TEXT,
        snoozed_until_ms INTEGER,
        baseline_occurrences INTEGER NOT NULL,
        baseline_severity INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX findings_by_last_seen ON findings(last_seen_ms);

    CREATE TABLE evidence_events (
        fingerprint TEXT NOT NULL REFERENCES findings(fingerprint),
        event_id INTEGER NOT NULL,
        PRIMARY KEY (fingerprint, event_id)
    ) STRICT, WITHOUT ROWID;

    CREATE TABLE filings (
        fingerprint TEXT PRIMARY KEY REFERENCES findings(fingerprint),
        state TEXT NOT NULL CHECK (state IN ('pending', 'creating', 'filed')),
        issue_id TEXT,
        queued_ms INTEGER NOT NULL,
        attempted_ms INTEGER,
        filed_ms INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        reported_occurrences INTEGER,
        reported_severity INTEGER,
        update_pending INTEGER NOT NULL DEFAULT 0
    ) STRICT;

    CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL REFERENCES findings(fingerprint),
        at_ms INTEGER NOT NULL,
        change TEXT NOT NULL,
        detail TEXT
    ) STRICT;
    CREATE INDEX history_by_finding ON history(fingerprint, at_ms);
    "#,
    // v2: the run's progress, committed with the findings it produced (see `checkpoint`):
    // where every log was read up to, each detector's state, and (for crash tests) the ids
    // of the events delivered.
    r#"
    CREATE TABLE cursors (
        slot TEXT PRIMARY KEY,
        cursor TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE plugin_state (
        plugin TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        state BLOB NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;

    CREATE TABLE delivered (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id INTEGER NOT NULL,
        time_ms INTEGER NOT NULL
    ) STRICT;
    "#,
    // v3: where each detector that fell behind the others stands (see `checkpoint`): the
    // cursors its stored state corresponds to, as a JSON object of slot keys to cursors. A
    // detector without a row is at the cursors of `cursors`, as every detector of an older
    // store is.
    r#"
    CREATE TABLE plugin_behind (
        plugin TEXT PRIMARY KEY,
        cursors TEXT NOT NULL,
        updated_ms INTEGER NOT NULL
    ) STRICT;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the store at `path` to [`SCHEMA_VERSION`], refusing one written by a newer build.
///
/// Each step reads the version again inside its own write transaction, so two processes
/// opening a new store at once apply every migration once; a current store takes no write lock.
pub fn migrate(connection: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let found: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if found == SCHEMA_VERSION {
        return Ok(());
    }
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew { path: path.to_owned(), found, known: SCHEMA_VERSION });
        }
        let Some(sql) = MIGRATIONS.get(found as usize) else { return Ok(()) };
        let version = found as usize + 1;
        let failed = |source| StoreError::Migrate { path: path.to_owned(), version, source };
        transaction.execute_batch(sql).map_err(failed)?;
        transaction.pragma_update(None, "user_version", version as i64).map_err(failed)?;
        transaction.commit().map_err(failed)?;
        tracing::debug!(version, "migrated {}", path.display());
    }
}
