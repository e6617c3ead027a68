//! `security-audit.log`: every command devloop ran in its sandbox, blocked, or timed out
//! (`SandboxAuditLogger`, JSON lines).

use std::borrow::Cow;

use serde::Deserialize;

use super::fields::{Fields, from_line, iso_millis};
use crate::model::{Event, Outcome, Source};

/// The time is only parsed, so it is borrowed from the line where it holds no escape.
#[derive(Deserialize)]
struct AuditEntry<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    sandbox_mode: Option<String>,
    command: String,
    args_count: Option<i64>,
    cwd: Option<String>,
    exit_code: Option<i32>,
    duration_ms: Option<u64>,
    memory_peak_mb: Option<f64>,
    cpu_usage_percent: Option<f64>,
    #[serde(default)]
    blocked: bool,
    block_reason: Option<String>,
    #[serde(default)]
    timeout: bool,
    error: Option<String>,
}

/// One line of `security-audit.log` as a `security.{execution,blocked,timeout}` event.
pub fn parse_line(line: &[u8], id: u64) -> Result<Event, String> {
    let entry: AuditEntry = from_line(line)?;
    let kind = if entry.blocked {
        "security.blocked"
    } else if entry.timeout {
        "security.timeout"
    } else {
        "security.execution"
    };
    let mut fields = Fields::with_capacity(7);
    fields
        .add("sandbox_mode", entry.sandbox_mode)
        .add("args_count", entry.args_count)
        .add("cwd", entry.cwd)
        .add("memory_peak_mb", entry.memory_peak_mb)
        .add("cpu_usage_percent", entry.cpu_usage_percent)
        .add("block_reason", entry.block_reason)
        .add("error", entry.error);
    Ok(Event {
        id,
        time_ms: iso_millis(&entry.timestamp)?,
        source: Source::SecurityAudit,
        kind: kind.into(),
        actor: None,
        thread_id: None,
        subject: Some(entry.command),
        outcome: Outcome::from_exit_code(entry.exit_code),
        duration_ms: entry.duration_ms,
        fields: fields.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    #[test]
    fn a_blocked_command_says_why() -> Result<(), String> {
        let record = r#"{"timestamp": "2026-11-25T07:44:03+00:00", "sandbox_mode": "bubblewrap", "command": "curl", "args_count": 2, "cwd": "/p", "exit_code": -1, "duration_ms": 0, "memory_peak_mb": 0.0, "cpu_usage_percent": 0.0, "blocked": true, "block_reason": "network not allowed", "timeout": false, "error": null}"#;
        let event = parse_line(record.as_bytes(), 1)?;
        assert_eq!(event.kind, "security.blocked");
        assert_eq!(event.subject.as_deref(), Some("curl"));
        assert_eq!(event.field("block_reason"), Some(&Value::from("network not allowed")));
        assert_eq!(event.outcome.exit_code, Some(-1));
        Ok(())
    }
}
