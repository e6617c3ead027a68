//! Beads import lines for machines without `bd`: `bd import` reads them later, and the next run
//! with `bd` adopts the imported issues by their external ref instead of filing again.

use std::io::Write;
use std::path::Path;

use crate::routing::BeadsSettings;
use crate::sinks::render::rfc3339;
use crate::store::StoredFinding;

use super::issue::NewIssue;

/// Writes one issue line per finding (beads' JSONL export shape) to `path`, replacing it.
/// Issue ids are `<prefix>-<fingerprint>`.
pub fn export_jsonl(
    path: &Path,
    findings: &[StoredFinding],
    settings: &BeadsSettings,
    id_prefix: &str,
    now_ms: i64,
) -> std::io::Result<()> {
    let now = rfc3339(now_ms);
    let mut text = String::new();
    for finding in findings {
        let issue = NewIssue::for_finding(finding, settings);
        let id = format!("{id_prefix}-{}", finding.fingerprint);
        let dependencies: Vec<serde_json::Value> = issue
            .parent
            .iter()
            .map(|parent| serde_json::json!({"issue_id": id, "depends_on_id": parent, "type": "discovered-from", "created_at": now, "created_by": "devloop-host"}))
            .collect();
        let line = serde_json::json!({
            "id": id,
            "title": issue.title,
            "description": issue.description,
            "status": "open",
            "priority": issue.priority,
            "issue_type": issue.issue_type,
            "created_at": now,
            "updated_at": now,
            "external_ref": issue.external_ref,
            "labels": issue.labels,
            "dependencies": dependencies,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let mut file = std::fs::File::create(path)?;
    file.write_all(text.as_bytes())
}
