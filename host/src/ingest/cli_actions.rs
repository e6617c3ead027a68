//! `cli-actions.jsonl`: one record per `devloop …` invocation, written by devloop's
//! `ActionLogger` (and by `devloop-host exec`).

use std::io::{BufRead, BufReader};
use std::path::Path;

use serde::Deserialize;

use super::{Ingested, MalformedRecord};
use crate::model::{Event, Field, Outcome, Source, Value};

#[derive(Deserialize)]
struct CliAction {
    timestamp: String,
    command: String,
    exit_code: Option<i32>,
    thread_id: Option<String>,
    thread_url: Option<String>,
    duration_ms: Option<u64>,
    user: Option<String>,
    working_dir: Option<String>,
    output_size_bytes: Option<i64>,
    error_message: Option<String>,
    notes: Option<String>,
}

/// Parses an ISO-8601 timestamp as devloop writes it (`…+00:00`, or naive meaning UTC).
pub(crate) fn parse_iso_millis(text: &str) -> Result<i64, String> {
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(time.timestamp_millis());
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .map(|naive| naive.and_utc().timestamp_millis())
        .map_err(|error| format!("timestamp `{text}` is not ISO-8601: {error}"))
}

fn normalize(action: CliAction, file: &Path, line: usize) -> Result<Event, String> {
    let time_ms = parse_iso_millis(&action.timestamp)?;
    let mut fields = Vec::new();
    let mut add = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.push(Field::new(key, value));
        }
    };
    add("thread_url", action.thread_url.map(Value::Text));
    add("working_dir", action.working_dir.map(Value::Text));
    add("output_size_bytes", action.output_size_bytes.map(Value::Integer));
    add("error_message", action.error_message.map(Value::Text));
    add("notes", action.notes.map(Value::Text));
    Ok(Event {
        id: Event::stable_id(&[b"cli-actions", file.as_os_str().as_encoded_bytes(), &line.to_le_bytes()]),
        time_ms,
        source: Source::CliActions,
        kind: "cli.command".to_owned(),
        actor: action.user,
        thread_id: action.thread_id.filter(|thread| !thread.is_empty()),
        subject: Some(action.command),
        outcome: Outcome::from_exit_code(action.exit_code),
        duration_ms: action.duration_ms,
        fields,
    })
}

/// Appends the events of `file` to `into`, counting malformed lines.
pub fn read_cli_actions(file: &Path, into: &mut Ingested) -> std::io::Result<()> {
    let reader = BufReader::new(std::fs::File::open(file)?);
    for (index, line) in reader.split(b'\n').enumerate() {
        let line_number = index + 1;
        let bytes = line?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = serde_json::from_slice::<CliAction>(&bytes)
            .map_err(|error| error.to_string())
            .and_then(|action| normalize(action, file, line_number));
        match parsed {
            Ok(event) => into.events.push(event),
            Err(reason) => into.malformed.push(MalformedRecord {
                file: file.to_owned(),
                line: line_number,
                reason,
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    #[test]
    fn devloop_example_record_normalizes() -> Result<(), String> {
        let record = r#"{"timestamp": "2026-11-25T07:44:03.959661+00:00", "command": "status", "exit_code": 0, "thread_id": "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "thread_url": "https://ampcode.com/threads/T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "duration_ms": 312, "user": "dev", "working_dir": "/home/dev/proj", "environment": null, "output_size_bytes": 0, "error_message": null, "notes": null}"#;
        let action: CliAction = serde_json::from_str(record).map_err(|e| e.to_string())?;
        let event = normalize(action, Path::new("cli-actions.jsonl"), 1)?;
        assert_eq!(event.time_ms, 1_795_592_643_959);
        assert_eq!(event.subject.as_deref(), Some("status"));
        assert_eq!(event.outcome.status, Status::Success);
        assert_eq!(event.thread_id.as_deref(), Some("T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f"));
        assert_eq!(event.duration_ms, Some(312));
        Ok(())
    }
}
