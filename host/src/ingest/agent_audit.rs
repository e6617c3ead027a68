//! `agent-audit.log` (JSON lines despite the name): what devloop's agents changed, with file
//! modifications and their diffs (`AgentAuditLogger`).

use std::borrow::Cow;

use serde::Deserialize;

use super::compact_json::CompactJson;
use super::fields::{Fields, from_line, iso_millis, kind_named};
use crate::model::{Event, Outcome, Source};

/// The `action_type`s `AgentAuditLogger` writes (it accepts any string too).
const KINDS: [&str; 8] = [
    "audit.file_modified",
    "audit.file_created",
    "audit.file_deleted",
    "audit.command_executed",
    "audit.fix_applied",
    "audit.finding_reported",
    "audit.config_changed",
    "audit.error_occurred",
];

/// A modification; its diff lines are only counted, so they stay borrowed from the line
/// where they hold no escape.
#[derive(Deserialize)]
struct FileModification<'a> {
    path: String,
    #[serde(default, borrow)]
    diff_lines: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
struct AuditEntry<'a> {
    #[serde(borrow)]
    timestamp: Cow<'a, str>,
    agent_name: String,
    #[serde(borrow)]
    action_type: Cow<'a, str>,
    message: Option<String>,
    success: Option<bool>,
    duration_ms: Option<u64>,
    #[serde(default, borrow)]
    file_modifications: Option<Vec<FileModification<'a>>>,
    command: Option<String>,
    exit_code: Option<i32>,
    error: Option<String>,
    findings_count: Option<i64>,
    context: Option<CompactJson>,
}

/// Added and removed lines of a unified diff, without its `---`/`+++` headers.
fn lines_changed(modifications: &[FileModification<'_>]) -> i64 {
    modifications
        .iter()
        .flat_map(|modification| modification.diff_lines.iter().flatten())
        .filter(|line| {
            (line.starts_with('+') && !line.starts_with("+++")) || (line.starts_with('-') && !line.starts_with("---"))
        })
        .count() as i64
}

/// One line of `agent-audit.log` as an `audit.<action_type>` event.
pub fn parse_line(line: &[u8], id: u64) -> Result<Event, String> {
    let entry: AuditEntry = from_line(line)?;
    if entry.action_type.is_empty() {
        return Err("`action_type` is empty".to_owned());
    }
    let modifications = entry.file_modifications.unwrap_or_default();
    let lines_changed = (!modifications.is_empty()).then(|| lines_changed(&modifications));
    let files: Vec<String> = modifications.into_iter().map(|modification| modification.path).collect();
    let subject = files.first().cloned().or_else(|| entry.command.clone());
    let outcome = match entry.success {
        Some(_) => Outcome { exit_code: entry.exit_code, ..Outcome::from_success(entry.success) },
        None => Outcome::from_exit_code(entry.exit_code),
    };
    let mut fields = Fields::with_capacity(7);
    fields
        .add("message", entry.message)
        .add("files", (!files.is_empty()).then_some(files))
        .add("lines_changed", lines_changed)
        .add("command", entry.command)
        .add("error", entry.error)
        .add("findings_count", entry.findings_count)
        .add_compact_json("context", entry.context);
    Ok(Event {
        id,
        time_ms: iso_millis(&entry.timestamp)?,
        source: Source::AgentAudit,
        kind: kind_named("audit", &entry.action_type, &KINDS),
        actor: Some(entry.agent_name.into()),
        thread_id: None,
        subject,
        outcome,
        duration_ms: entry.duration_ms,
        fields: fields.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Status, Value};

    #[test]
    fn a_fix_counts_its_changed_lines_and_names_its_file() -> Result<(), String> {
        let record = r#"{"timestamp": "2026-11-25T07:44:03.293835+00:00", "agent_name": "formatter", "action_type": "fix_applied", "message": "Applied formatting fix to app.py", "success": true, "duration_ms": 35, "file_modifications": [{"path": "/home/u/proj/src/app.py", "action": "modified", "size_bytes_before": 4, "size_bytes_after": 6, "line_count_before": 1, "line_count_after": 1, "diff_lines": ["--- src/app.py", "+++ src/app.py", "@@ -1 +1 @@", "-x=1\n", "+x = 1\n"], "hash_before": "98", "hash_after": "9e"}], "command": null, "exit_code": null, "error": null, "findings_count": null, "context": {"fix_type": "formatting", "severity": "low"}}"#;
        let event = parse_line(record.as_bytes(), 1)?;
        assert_eq!(event.kind, "audit.fix_applied");
        assert_eq!(event.subject.as_deref(), Some("/home/u/proj/src/app.py"));
        assert_eq!(event.field("lines_changed"), Some(&Value::Integer(2)));
        assert_eq!(event.outcome.status, Status::Success);
        Ok(())
    }

    #[test]
    fn a_failed_command_keeps_its_exit_code() -> Result<(), String> {
        let record = r#"{"timestamp": "2026-11-25T07:44:03.294044+00:00", "agent_name": "test-runner", "action_type": "command_executed", "message": "Tests failed", "success": false, "duration_ms": 5120, "file_modifications": [], "command": "pytest -q", "exit_code": 1, "error": "2 failed", "findings_count": null, "context": null}"#;
        let event = parse_line(record.as_bytes(), 1)?;
        assert_eq!(event.subject.as_deref(), Some("pytest -q"));
        assert_eq!((event.outcome.status, event.outcome.exit_code), (Status::Failure, Some(1)));
        assert_eq!(event.field("files"), None);
        Ok(())
    }
}
