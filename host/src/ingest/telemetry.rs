//! `events.jsonl`: devloop's telemetry (`TelemetryLogger`): agent runs and findings, pre-commit
//! and pre-push checks, CI round trips prevented, and "value" events.

use std::borrow::Cow;

use serde::Deserialize;

use super::fields::{Fields, from_line, iso_millis, kind_named};
use super::json_members::JsonMembers;
use crate::model::{Event, Outcome, Source};

/// The `event_type`s `TelemetryEvent` has.
const KINDS: [&str; 6] = [
    "telemetry.agent_executed",
    "telemetry.agent_finding",
    "telemetry.pre_commit_check",
    "telemetry.pre_push_check",
    "telemetry.ci_roundtrip_prevented",
    "telemetry.value_event",
];

/// The event type and time are only read (into the kind and a time), so they are borrowed
/// from the line where they hold no escape.
#[derive(Deserialize)]
struct TelemetryEvent<'a> {
    #[serde(borrow)]
    event_type: Cow<'a, str>,
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    agent: Option<String>,
    duration_ms: Option<u64>,
    findings: Option<i64>,
    severity_levels: Option<Vec<String>>,
    success: Option<bool>,
    #[serde(default, borrow)]
    details: Option<JsonMembers<'a>>,
}

/// One line of `events.jsonl` as a `telemetry.<event_type>` event.
pub fn parse_line(line: &[u8], id: u64) -> Result<Event, String> {
    let record: TelemetryEvent = from_line(line)?;
    if record.event_type.is_empty() {
        return Err("`event_type` is empty".to_owned());
    }
    let details = record.details.unwrap_or_default();
    let subject = if record.event_type == "agent_finding" {
        details.text("file").map(str::to_owned).or_else(|| record.agent.clone())
    } else {
        record.agent.clone()
    };
    let mut fields = Fields::with_capacity(2 + details.0.len());
    fields.add("findings", record.findings).add("severity_levels", record.severity_levels);
    for (key, value) in details.0 {
        fields.add(key.into_owned(), value);
    }
    Ok(Event {
        id,
        time_ms: iso_millis(&record.timestamp)?,
        source: Source::Telemetry,
        kind: kind_named("telemetry", &record.event_type, &KINDS),
        actor: record.agent.map(Into::into),
        thread_id: None,
        subject,
        outcome: Outcome::from_success(record.success),
        duration_ms: record.duration_ms,
        fields: fields.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Status, Value};

    #[test]
    fn an_agent_finding_is_about_its_file() -> Result<(), String> {
        let record = r#"{"event_type": "agent_finding", "timestamp": "2026-11-25T07:44:03.291538+00:00", "agent": "type-checker", "duration_ms": null, "findings": null, "severity_levels": ["error"], "success": null, "details": {"finding_type": "type-error", "description": "Incompatible return value type", "file": "src/app.py", "line": 42}}"#;
        let event = parse_line(record.as_bytes(), 1)?;
        assert_eq!(event.kind, "telemetry.agent_finding");
        assert_eq!(event.actor.as_deref(), Some("type-checker"));
        assert_eq!(event.subject.as_deref(), Some("src/app.py"));
        assert_eq!(event.outcome.status, Status::Unknown);
        assert_eq!(event.field("line"), Some(&Value::Integer(42)));
        assert_eq!(event.field("severity_levels"), Some(&Value::Texts(vec!["error".to_owned()])));
        Ok(())
    }
}
