//! `events.db`: the daemon's SQLite event store, read-only.
//!
//! Rows are read in `(timestamp, id)` order: `sequence` restarts with every daemon run and
//! `INSERT OR REPLACE` swaps rows, so neither it nor the rowid is a position. A row inserted
//! after the reader passed its timestamp is found by its `created_at` and delivered late.
//!
//! SQLite does not enforce column types, so every column is read as whatever it holds and
//! checked row by row: a row of the wrong shape is reported with its rowid and skipped, and the
//! rows after it are read as usual. A row whose timestamp is not a number cannot be placed in
//! time at all; it is reported once per run.

use std::borrow::Cow;
use std::collections::VecDeque;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, params};

use super::MalformedRecord;
use super::fields::{Fields, epoch_millis, kind_named, seconds_to_millis};
use super::position::{Advance, Cursor, RowCursor};
use super::reader::{Pending, Slot, SourceReader};
use crate::model::{Event, Outcome, Source};

/// One row of the `events` table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub id: String,
    pub kind: String,
    pub timestamp: f64,
    pub source: String,
    pub payload: String,
    pub priority: i64,
    pub created_at: f64,
}

/// The kinds of the row types devloop's event store lists, static so that they cost no
/// allocation.
const KINDS: [&str; 11] = [
    "file.modified",
    "file.created",
    "file.deleted",
    "file.moved",
    "process.completed",
    "test.completed",
    "lint.completed",
    "format.completed",
    "build.completed",
    "system.status",
    "agent.resource_limit_exceeded",
];

/// `file:modified` → `file.modified`; `agent:<name>:completed` → `agent.completed`.
fn kind_of(row_type: &str) -> Cow<'static, str> {
    if let Some(rest) = row_type.strip_prefix("agent:")
        && let Some(name) = rest.strip_suffix(":completed")
        && !name.is_empty()
        && !name.contains(':')
    {
        return "agent.completed".into();
    }
    match row_type.split_once(':') {
        Some((family, name)) if !name.contains(':') => kind_named(family, name, &KINDS),
        _ => row_type.replace(':', ".").into(),
    }
}

/// A row as an event.
pub fn row_event(row: &Row) -> Result<Event, String> {
    let payload: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&row.payload) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => return Err("payload is not a JSON object".to_owned()),
        Err(error) => return Err(format!("payload is not JSON: {error}")),
    };
    let text = |key: &str| payload.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    let mut fields = Fields::with_capacity(payload.len() + 1);
    for (key, value) in &payload {
        if key == "data" {
            fields.add_json_text(key.clone(), Some(value));
        } else {
            fields.add_json(key.clone(), Some(value));
        }
    }
    fields.add("priority", Some(row.priority));
    Ok(Event {
        id: Event::stable_id(&[b"event-store", row.id.as_bytes()]),
        time_ms: epoch_millis(row.timestamp)?,
        source: Source::EventStore,
        kind: kind_of(&row.kind),
        actor: Some(row.source.as_str().into()),
        thread_id: None,
        subject: text("path").or_else(|| text("agent_name")),
        outcome: Outcome::from_success(payload.get("success").and_then(serde_json::Value::as_bool)),
        duration_ms: payload.get("duration").and_then(serde_json::Value::as_f64).and_then(seconds_to_millis),
        fields: fields.into_vec(),
    })
}

pub struct EventStoreReader {
    slot: Slot,
    cursor: RowCursor,
    connection: Option<Connection>,
    /// Set once the late-row query ran for this round of reading.
    late_checked: bool,
    /// Set once the rows that cannot be placed in time were reported.
    unplaceable_reported: bool,
}

const COLUMNS: &str = "rowid, id, type, timestamp, source, payload, priority, created_at";

/// A row as SQLite holds it, before its types are checked.
struct RawRow {
    rowid: i64,
    values: [Value; 7],
}

fn read_raw(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        rowid: row.get(0)?,
        values: [row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?],
    })
}

/// The column named `name` as text (an integer id reads as its digits).
fn text(value: &Value, name: &str) -> Result<String, String> {
    match value {
        Value::Text(text) => Ok(text.clone()),
        Value::Integer(integer) if name == "id" => Ok(integer.to_string()),
        other => Err(format!("column `{name}` holds {}, not text", type_name(other))),
    }
}

fn number(value: &Value, name: &str) -> Result<f64, String> {
    match value {
        Value::Real(real) => Ok(*real),
        Value::Integer(integer) => Ok(*integer as f64),
        other => Err(format!("column `{name}` holds {}, not a number", type_name(other))),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "NULL",
        Value::Integer(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "a blob",
    }
}

impl RawRow {
    fn check(&self) -> Result<Row, String> {
        let [id, kind, timestamp, source, payload, priority, created_at] = &self.values;
        Ok(Row {
            id: text(id, "id")?,
            kind: text(kind, "type")?,
            timestamp: number(timestamp, "timestamp")?,
            source: text(source, "source")?,
            payload: text(payload, "payload")?,
            priority: match priority {
                Value::Integer(priority) => *priority,
                other => return Err(format!("column `priority` holds {}, not an integer", type_name(other))),
            },
            created_at: match created_at {
                Value::Null => 0.0,
                other => number(other, "created_at")?,
            },
        })
    }
}

impl EventStoreReader {
    pub fn new(slot: Slot) -> Self {
        EventStoreReader {
            slot,
            cursor: RowCursor::default(),
            connection: None,
            late_checked: false,
            unplaceable_reported: false,
        }
    }

    fn connect(&mut self) -> rusqlite::Result<Option<&Connection>> {
        if self.connection.is_none() && self.slot.path.is_file() {
            let connection = Connection::open_with_flags(
                &self.slot.path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            connection.busy_timeout(std::time::Duration::from_secs(5))?;
            self.connection = Some(connection);
        }
        Ok(self.connection.as_ref())
    }

    /// The next rows in `(timestamp, id)` order (late ones first), and the rowids of rows whose
    /// timestamp is not a number (once per run).
    fn rows(&mut self, want: usize) -> rusqlite::Result<(Vec<RawRow>, Vec<i64>)> {
        let check_late = !self.late_checked && self.cursor.max_created_at > 0.0;
        let report_unplaceable = !self.unplaceable_reported;
        let cursor = self.cursor.clone();
        self.late_checked = true;
        self.unplaceable_reported = true;
        let Some(connection) = self.connect()? else { return Ok((Vec::new(), Vec::new())) };
        let mut rows = Vec::new();
        let numeric = "typeof(timestamp) IN ('integer', 'real')";
        if check_late {
            let mut late = connection.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE {numeric} AND (timestamp < ?1 OR (timestamp = ?1 AND id <= ?2)) \
                 AND created_at > ?3 ORDER BY timestamp, id"
            ))?;
            for row in late.query_map(params![cursor.timestamp, cursor.id, cursor.max_created_at], read_raw)? {
                rows.push(row?);
            }
        }
        let mut next = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE {numeric} AND (timestamp > ?1 OR (timestamp = ?1 AND id > ?2)) \
             ORDER BY timestamp, id LIMIT ?3"
        ))?;
        for row in next.query_map(params![cursor.timestamp, cursor.id, want as i64], read_raw)? {
            rows.push(row?);
        }
        let mut unplaceable = Vec::new();
        if report_unplaceable {
            let mut statement =
                connection.prepare_cached(&format!("SELECT rowid FROM events WHERE NOT {numeric} ORDER BY rowid"))?;
            for rowid in statement.query_map([], |row| row.get(0))? {
                unplaceable.push(rowid?);
            }
        }
        Ok((rows, unplaceable))
    }

    fn malformed(&self, rowid: i64, reason: String) -> MalformedRecord {
        MalformedRecord {
            file: self.slot.path.clone(),
            line: rowid.max(0) as usize,
            reason: format!("row {rowid}: {reason}"),
        }
    }
}

impl SourceReader for EventStoreReader {
    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn resume(&mut self, cursor: Option<Cursor>) {
        self.cursor = match cursor {
            Some(Cursor::Rows(cursor)) => cursor,
            _ => RowCursor::default(),
        };
        self.connection = None;
        self.late_checked = false;
    }

    fn fill(
        &mut self,
        want: usize,
        out: &mut VecDeque<Pending>,
        malformed: &mut Vec<MalformedRecord>,
    ) -> std::io::Result<()> {
        let before = out.len();
        loop {
            let read = self.fill_once(want, out, malformed);
            // Rows that were all skipped are no reason to stop: the rows after them are read.
            if !read || out.len() > before {
                return Ok(());
            }
        }
    }

    fn read_cursor(&self) -> Cursor {
        Cursor::Rows(self.cursor.clone())
    }
}

impl EventStoreReader {
    /// Reads one query's worth of rows; false when there were none.
    fn fill_once(&mut self, want: usize, out: &mut VecDeque<Pending>, malformed: &mut Vec<MalformedRecord>) -> bool {
        let wanted = want.saturating_sub(out.len()).max(1);
        let (rows, unplaceable) = match self.rows(wanted) {
            Ok(rows) => rows,
            Err(error) => {
                malformed.push(MalformedRecord {
                    file: self.slot.path.clone(),
                    line: 0,
                    reason: format!("cannot read the `events` table: {error}"),
                });
                self.connection = None;
                return false;
            }
        };
        for rowid in unplaceable {
            malformed.push(self.malformed(rowid, "column `timestamp` is not a number".to_owned()));
        }
        if rows.is_empty() {
            // The next round (follow mode) looks for late rows again.
            self.late_checked = false;
            return false;
        }
        for raw in rows {
            let row = match raw.check() {
                Ok(row) => row,
                Err(reason) => {
                    // Passed all the same (its timestamp is a number: the query says so), so
                    // the rows after it are read.
                    if let Ok(timestamp) = number(&raw.values[2], "timestamp") {
                        let id = text(&raw.values[0], "id").unwrap_or_default();
                        let mut read = Cursor::Rows(std::mem::take(&mut self.cursor));
                        read.apply(&Advance::Row { timestamp, id, created_at: 0.0 });
                        if let Cursor::Rows(cursor) = read {
                            self.cursor = cursor;
                        }
                    }
                    malformed.push(self.malformed(raw.rowid, reason));
                    continue;
                }
            };
            let advance = Advance::Row { timestamp: row.timestamp, id: row.id.clone(), created_at: row.created_at };
            let mut read = Cursor::Rows(std::mem::take(&mut self.cursor));
            read.apply(&advance);
            if let Cursor::Rows(cursor) = read {
                self.cursor = cursor;
            }
            match row_event(&row) {
                Ok(event) => out.push_back(Pending { event, advance }),
                Err(reason) => malformed.push(self.malformed(raw.rowid, format!("id {}: {reason}", row.id))),
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Status, Value};

    #[test]
    fn an_agent_completion_row_normalizes() -> Result<(), String> {
        let row = Row {
            id: "993a94bf-78c7-45e2-8ac8-17d31aabf151".to_owned(),
            kind: "agent:linter:completed".to_owned(),
            timestamp: 1_795_592_643.647_929_7,
            source: "linter".to_owned(),
            payload: r#"{"agent_name": "linter", "success": true, "duration": 0.41, "message": "Found 3 issues", "data": {"findings_count": 3}, "error": null}"#.to_owned(),
            priority: 1,
            created_at: 1_795_592_643.667_873,
        };
        let event = row_event(&row)?;
        assert_eq!(event.kind, "agent.completed");
        assert_eq!(event.subject.as_deref(), Some("linter"));
        assert_eq!(event.outcome.status, Status::Success);
        assert_eq!(event.duration_ms, Some(410));
        assert_eq!(event.field("data"), Some(&Value::Json(r#"{"findings_count":3}"#.to_owned())));
        assert!(matches!(kind_of("file:modified"), Cow::Borrowed("file.modified")), "a listed type is static");
        assert!(matches!(kind_of("git:commit"), Cow::Owned(kind) if kind == "git.commit"));
        assert_eq!(kind_of("file:modified:x"), "file.modified.x");
        Ok(())
    }
}
