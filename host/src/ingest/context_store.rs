//! `.devloop/context/<tier>.json`: what devloop showed the user, and whether they saw it.
//!
//! The daemon rewrites each tier file (`immediate.json`, `relevant.json`, `background.json`,
//! `auto_fixed.json`: `{"tier", "count", "findings": [...]}`) in place as agents report. A
//! finding's id names the agent, file and tool (`formatter-src/a.py-black`), so the same id comes
//! back with a newer `timestamp` each time the agent reports on that file again. These are
//! snapshots, not logs, so the reader diffs them: each `(id, timestamp)` not delivered before
//! becomes one `context.finding` event (with `seen_by_user` as it was when read), and a finding
//! delivered unseen that is later marked `seen_by_user: true` becomes one `context.seen` event.
//! The cursor remembers, per id, the newest timestamp delivered and the newest one seen.

use std::collections::{BTreeMap, VecDeque};

use serde::Deserialize;

use super::MalformedRecord;
use super::fields::{Fields, iso_millis};
use super::position::{Advance, Cursor};
use super::reader::{Pending, Slot, SourceReader};
// The daemon trims each tier to 250 findings, a few hundred KiB.
use super::snapshot_file::SnapshotFile;
use crate::model::{Event, Field, Outcome, Source};

/// The tier files, relative to the project's `.devloop` folder.
pub const TIER_FILES: &[&str] =
    &["context/immediate.json", "context/relevant.json", "context/background.json", "context/auto_fixed.json"];

#[derive(Deserialize)]
struct TierFile {
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    findings: Vec<serde_json::Value>,
}

/// One finding of a tier file, as much of it as the events carry.
struct Finding {
    id: String,
    agent: String,
    time_ms: i64,
    seen_by_user: bool,
    fields: Vec<Field>,
}

/// Parses the finding's `timestamp`: devloop writes naive local time with a space
/// (`2026-12-01 10:44:03.123456`), read as UTC like devloop's other naive timestamps.
fn finding_millis(text: &str) -> Result<i64, String> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
        .map(|naive| naive.and_utc().timestamp_millis())
        .or_else(|_| iso_millis(text))
}

fn finding(value: &serde_json::Value, tier: Option<&str>) -> Result<Finding, String> {
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
    let id = text("id").filter(|id| !id.is_empty()).ok_or("a finding without an `id`")?;
    let agent = text("agent").unwrap_or_default();
    let timestamp = text("timestamp").ok_or_else(|| format!("finding `{id}` has no `timestamp`"))?;
    let time_ms = finding_millis(&timestamp)?;
    let seen_by_user = value.get("seen_by_user").and_then(serde_json::Value::as_bool).unwrap_or(false);
    let mut fields = Fields::default();
    fields
        .add("finding_id", Some(id.clone()))
        .add("tier", tier.map(str::to_owned))
        .add("message", text("message"))
        .add("file", text("file"))
        .add("severity", text("severity"))
        .add("category", text("category"))
        .add("seen_by_user", Some(seen_by_user));
    Ok(Finding { id, agent, time_ms, seen_by_user, fields: fields.into_vec() })
}

/// Seconds as the cursor stores them (the cursor keeps one float per key).
fn seconds(time_ms: i64) -> f64 {
    time_ms as f64 / 1000.0
}

fn event(kind: &'static str, finding: &Finding, time_ms: i64) -> Event {
    Event {
        id: Event::stable_id(&[
            b"context-store",
            kind.as_bytes(),
            finding.id.as_bytes(),
            &finding.time_ms.to_le_bytes(),
        ]),
        time_ms,
        source: Source::ContextStore,
        kind: kind.into(),
        actor: (!finding.agent.is_empty()).then(|| finding.agent.as_str().into()),
        thread_id: None,
        subject: (!finding.agent.is_empty()).then(|| finding.agent.clone()),
        outcome: Outcome::default(),
        duration_ms: None,
        fields: finding.fields.clone(),
    }
}

pub struct ContextStoreReader {
    slot: Slot,
    /// `<id>` → newest timestamp delivered (s); `seen:<id>` → newest timestamp seen.
    delivered: BTreeMap<String, f64>,
    file: SnapshotFile,
}

impl ContextStoreReader {
    pub fn new(slot: Slot) -> Self {
        ContextStoreReader { slot, delivered: BTreeMap::new(), file: SnapshotFile::default() }
    }

    /// The events of one read of the tier file, oldest first.
    fn diff(&mut self, bytes: &[u8], file_ms: i64, malformed: &mut Vec<MalformedRecord>) -> Vec<Pending> {
        let tier: TierFile = match serde_json::from_slice(bytes) {
            Ok(tier) => tier,
            Err(error) => {
                malformed.push(MalformedRecord { file: self.slot.path.clone(), line: 1, reason: error.to_string() });
                return Vec::new();
            }
        };
        let mut pending = Vec::new();
        for (index, value) in tier.findings.iter().enumerate() {
            let finding = match finding(value, tier.tier.as_deref()) {
                Ok(finding) => finding,
                Err(reason) => {
                    let reason = format!("finding #{index}: {reason}");
                    malformed.push(MalformedRecord { file: self.slot.path.clone(), line: 1, reason });
                    continue;
                }
            };
            let at = seconds(finding.time_ms);
            let seen_key = format!("seen:{}", finding.id);
            let new_result = self.delivered.get(&finding.id).is_none_or(|&done| done < at);
            let newly_seen = finding.seen_by_user && self.delivered.get(&seen_key).is_none_or(|&done| done < at);
            if new_result {
                self.delivered.insert(finding.id.clone(), at);
                let advance = Advance::Snapshot { agent: finding.id.clone(), last_updated: at };
                let event = event("context.finding", &finding, finding.time_ms);
                pending.push(Pending { event, advance });
                if finding.seen_by_user {
                    self.delivered.insert(seen_key.clone(), at);
                }
            } else if newly_seen {
                self.delivered.insert(seen_key.clone(), at);
                let advance = Advance::Snapshot { agent: seen_key, last_updated: at };
                let time_ms = file_ms.max(finding.time_ms);
                let event = event("context.seen", &finding, time_ms);
                pending.push(Pending { event, advance });
            }
        }
        pending.sort_by_key(|pending| (pending.event.time_ms, pending.event.id));
        pending
    }
}

impl SourceReader for ContextStoreReader {
    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn resume(&mut self, cursor: Option<Cursor>) {
        self.delivered = match cursor {
            Some(Cursor::Snapshots(delivered)) => delivered,
            _ => BTreeMap::new(),
        };
        self.file.forget();
    }

    fn fill(
        &mut self,
        _want: usize,
        out: &mut VecDeque<Pending>,
        malformed: &mut Vec<MalformedRecord>,
    ) -> std::io::Result<()> {
        if let Some(rewrite) = self.file.read_if_rewritten(&self.slot.path, malformed)? {
            out.extend(self.diff(&rewrite.bytes, rewrite.modified_ms, malformed));
        }
        Ok(())
    }

    fn read_cursor(&self) -> Cursor {
        Cursor::Snapshots(self.delivered.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    fn tier(findings: &str) -> Vec<u8> {
        format!(r#"{{"tier": "immediate", "count": 1, "findings": [{findings}]}}"#).into_bytes()
    }

    const BLACK: &str = r#"{"id": "formatter-a.py-black", "agent": "formatter", "timestamp": "2026-12-01 10:44:03.123456", "file": "a.py", "severity": "error", "category": "tool", "message": "Check failed for a.py: black command not found", "seen_by_user": false}"#;

    fn reader() -> ContextStoreReader {
        ContextStoreReader::new(Slot { source: Source::ContextStore, path: "context/immediate.json".into() })
    }

    #[test]
    fn each_new_result_is_one_event_and_a_reread_gives_nothing() {
        let mut reader = reader();
        let mut malformed = Vec::new();
        let events = reader.diff(&tier(BLACK), 0, &mut malformed);
        assert_eq!(events.len(), 1);
        let event = &events[0].event;
        assert_eq!(event.kind, "context.finding");
        assert_eq!(event.subject.as_deref(), Some("formatter"));
        assert_eq!(event.field("message"), Some(&Value::Text("Check failed for a.py: black command not found".into())));
        assert_eq!(event.field("seen_by_user"), Some(&Value::Boolean(false)));
        assert!(reader.diff(&tier(BLACK), 0, &mut malformed).is_empty(), "the same snapshot again is nothing new");
        assert!(malformed.is_empty());
    }

    #[test]
    fn a_newer_report_under_the_same_id_and_a_later_look_are_events() {
        let mut reader = reader();
        let mut malformed = Vec::new();
        reader.diff(&tier(BLACK), 0, &mut malformed);
        let again = BLACK.replace("10:44:03.123456", "10:50:00.000000");
        let events = reader.diff(&tier(&again), 0, &mut malformed);
        assert_eq!(events.len(), 1, "the agent reported on the file again");
        let seen = again.replace(r#""seen_by_user": false"#, r#""seen_by_user": true"#);
        let events = reader.diff(&tier(&seen), 1_800_000_000_000, &mut malformed);
        assert_eq!(events.iter().map(|pending| pending.event.kind.as_ref()).collect::<Vec<_>>(), ["context.seen"]);
        assert!(reader.diff(&tier(&seen), 1_800_000_000_000, &mut malformed).is_empty());
    }

    #[test]
    fn a_bad_finding_is_counted_and_the_others_go_on() {
        let mut reader = reader();
        let mut malformed = Vec::new();
        let events = reader.diff(&tier(&format!(r#"{{"agent": "linter"}}, {BLACK}"#)), 0, &mut malformed);
        assert_eq!(events.len(), 1);
        assert_eq!(malformed.len(), 1);
        assert!(malformed[0].reason.contains("finding #0"), "{}", malformed[0].reason);
    }
}
