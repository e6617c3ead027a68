//! `events.db`: the daemon's SQLite event store, read-only.
//!
//! Rows are read in `(timestamp, id)` order: `sequence` restarts with every daemon run and
//! `INSERT OR REPLACE` swaps rows, so neither it nor the rowid is a position. A row inserted
//! after the reader passed its timestamp is found by its `created_at` and delivered late.

use std::collections::VecDeque;

use rusqlite::{Connection, OpenFlags, params};

use super::MalformedRecord;
use super::fields::{Fields, epoch_millis, seconds_to_millis};
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

/// `file:modified` → `file.modified`; `agent:<name>:completed` → `agent.completed`.
fn kind_of(row_type: &str) -> String {
    if let Some(rest) = row_type.strip_prefix("agent:")
        && let Some(name) = rest.strip_suffix(":completed")
        && !name.is_empty()
        && !name.contains(':')
    {
        return "agent.completed".to_owned();
    }
    row_type.replace(':', ".")
}

/// A row as an event.
pub fn row_event(row: &Row) -> Result<Event, String> {
    let payload: serde_json::Map<String, serde_json::Value> = match serde_json::from_str(&row.payload) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) => return Err("payload is not a JSON object".to_owned()),
        Err(error) => return Err(format!("payload is not JSON: {error}")),
    };
    let text = |key: &str| payload.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    let mut fields = Fields::default();
    for (key, value) in &payload {
        if key == "data" {
            fields.add_json_text(key, Some(value));
        } else {
            fields.add_json(key, Some(value));
        }
    }
    fields.add("priority", Some(row.priority));
    Ok(Event {
        id: Event::stable_id(&[b"event-store", row.id.as_bytes()]),
        time_ms: epoch_millis(row.timestamp)?,
        source: Source::EventStore,
        kind: kind_of(&row.kind),
        actor: Some(row.source.clone()),
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
}

const COLUMNS: &str = "id, type, timestamp, source, payload, priority, created_at";

fn read_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: row.get(0)?,
        kind: row.get(1)?,
        timestamp: row.get(2)?,
        source: row.get(3)?,
        payload: row.get(4)?,
        priority: row.get(5)?,
        created_at: row.get(6)?,
    })
}

impl EventStoreReader {
    pub fn new(slot: Slot) -> Self {
        EventStoreReader { slot, cursor: RowCursor::default(), connection: None, late_checked: false }
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

    fn rows(&mut self, want: usize) -> rusqlite::Result<Vec<Row>> {
        let check_late = !self.late_checked && self.cursor.max_created_at > 0.0;
        let cursor = self.cursor.clone();
        self.late_checked = true;
        let Some(connection) = self.connect()? else { return Ok(Vec::new()) };
        let mut rows = Vec::new();
        if check_late {
            let mut late = connection.prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE (timestamp < ?1 OR (timestamp = ?1 AND id <= ?2)) AND created_at > ?3 \
                 ORDER BY timestamp, id"
            ))?;
            for row in late.query_map(params![cursor.timestamp, cursor.id, cursor.max_created_at], read_row)? {
                rows.push(row?);
            }
        }
        let mut next = connection.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE timestamp > ?1 OR (timestamp = ?1 AND id > ?2) ORDER BY timestamp, id LIMIT ?3"
        ))?;
        for row in next.query_map(params![cursor.timestamp, cursor.id, want as i64], read_row)? {
            rows.push(row?);
        }
        Ok(rows)
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

    fn fill(&mut self, want: usize, out: &mut VecDeque<Pending>, malformed: &mut Vec<MalformedRecord>) -> std::io::Result<()> {
        let wanted = want.saturating_sub(out.len()).max(1);
        let rows = match self.rows(wanted) {
            Ok(rows) => rows,
            Err(error) => {
                malformed.push(MalformedRecord {
                    file: self.slot.path.clone(),
                    line: 0,
                    reason: format!("cannot read the `events` table: {error}"),
                });
                self.connection = None;
                return Ok(());
            }
        };
        if rows.is_empty() {
            // The next round (follow mode) looks for late rows again.
            self.late_checked = false;
        }
        for row in rows {
            let advance = Advance::Row { timestamp: row.timestamp, id: row.id.clone(), created_at: row.created_at };
            let mut read = Cursor::Rows(std::mem::take(&mut self.cursor));
            read.apply(&advance);
            if let Cursor::Rows(cursor) = read {
                self.cursor = cursor;
            }
            match row_event(&row) {
                Ok(event) => out.push_back(Pending { event, advance }),
                Err(reason) => malformed.push(MalformedRecord {
                    file: self.slot.path.clone(),
                    line: 0,
                    reason: format!("row {}: {reason}", row.id),
                }),
            }
        }
        Ok(())
    }

    fn read_cursor(&self) -> Cursor {
        Cursor::Rows(self.cursor.clone())
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
        assert_eq!(kind_of("file:modified"), "file.modified");
        assert_eq!(kind_of("git:commit"), "git.commit");
        Ok(())
    }
}
