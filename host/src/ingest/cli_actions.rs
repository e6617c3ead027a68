//! `cli-actions.jsonl`: one record per `devloop …` invocation, written by devloop's
//! `ActionLogger` (and by `devloop-host exec`).

use std::borrow::Cow;

use serde::Deserialize;

use super::compact_json::CompactJson;
use super::fields::{Fields, from_line, iso_millis};
use crate::model::{Event, Outcome, Source};

#[derive(Deserialize)]
struct CliAction<'a> {
    /// Only parsed into a time, so borrowed from the line where it holds no escape.
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    command: String,
    exit_code: Option<i32>,
    thread_id: Option<String>,
    thread_url: Option<String>,
    duration_ms: Option<u64>,
    user: Option<String>,
    working_dir: Option<String>,
    environment: Option<CompactJson>,
    output_size_bytes: Option<i64>,
    error_message: Option<String>,
    notes: Option<String>,
}

/// One line of `cli-actions.jsonl` as a `cli.command` event.
pub fn parse_line(line: &[u8], id: u64) -> Result<Event, String> {
    let action: CliAction = from_line(line)?;
    let mut fields = Fields::with_capacity(6);
    fields
        .add("thread_url", action.thread_url)
        .add("working_dir", action.working_dir)
        .add("output_size_bytes", action.output_size_bytes)
        .add("error_message", action.error_message)
        .add("notes", action.notes)
        .add_compact_json("environment", action.environment);
    Ok(Event {
        id,
        time_ms: iso_millis(&action.timestamp)?,
        source: Source::CliActions,
        kind: "cli.command".into(),
        actor: action.user.map(Into::into),
        thread_id: action.thread_id.filter(|thread| !thread.is_empty()).map(Into::into),
        subject: Some(action.command),
        outcome: Outcome::from_exit_code(action.exit_code),
        duration_ms: action.duration_ms,
        fields: fields.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Status, Value};

    #[test]
    fn devloop_example_record_normalizes() -> Result<(), String> {
        let record = r#"{"timestamp": "2026-11-25T07:44:03.959661+00:00", "command": "status", "exit_code": 0, "thread_id": "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "thread_url": "https://ampcode.com/threads/T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "duration_ms": 312, "user": "dev", "working_dir": "/home/dev/proj", "environment": {"CI": "true"}, "output_size_bytes": 0, "error_message": null, "notes": null}"#;
        let event = parse_line(record.as_bytes(), 7)?;
        assert_eq!(event.id, 7);
        assert_eq!(event.time_ms, 1_795_592_643_959);
        assert_eq!(event.subject.as_deref(), Some("status"));
        assert_eq!(event.outcome.status, Status::Success);
        assert_eq!(event.thread_id.as_deref(), Some("T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f"));
        assert_eq!(event.duration_ms, Some(312));
        assert_eq!(event.field("environment"), Some(&Value::Json(r#"{"CI":"true"}"#.to_owned())));
        assert_eq!(event.field("error_message"), None);
        Ok(())
    }
}
