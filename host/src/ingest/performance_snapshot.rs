//! `feedback/performance.json`: one JSON object per agent, rewritten after every update. Each
//! `last_updated` not delivered before becomes one `feedback.performance_snapshot` event.
//!
//! The file is read whole, once per rewrite and under a cap (`ingest::snapshot_file`);
//! devloop's is a few KiB.

use std::collections::{BTreeMap, VecDeque};

use serde::Deserialize;

use super::MalformedRecord;
use super::fields::{Fields, epoch_millis, seconds_to_millis};
use super::position::{Advance, Cursor};
use super::reader::{Pending, Slot, SourceReader};
use super::snapshot_file::SnapshotFile;
use crate::model::{Event, Outcome, Source};

#[derive(Deserialize)]
struct AgentPerformance {
    total_executions: Option<i64>,
    successful_executions: Option<i64>,
    average_duration: Option<f64>,
    feedback_count: Option<i64>,
    thumbs_up_count: Option<i64>,
    thumbs_down_count: Option<i64>,
    average_rating: Option<f64>,
    last_updated: f64,
}

/// The snapshot's agents as events, oldest update first.
pub fn parse_snapshot(bytes: &[u8]) -> Result<Vec<(String, f64, Event)>, String> {
    let agents: BTreeMap<String, AgentPerformance> =
        serde_json::from_slice(bytes).map_err(|error| error.to_string())?;
    let mut events = Vec::with_capacity(agents.len());
    for (agent, performance) in agents {
        let mut fields = Fields::default();
        fields
            .add("total_executions", performance.total_executions)
            .add("successful_executions", performance.successful_executions)
            .add("feedback_count", performance.feedback_count)
            .add("thumbs_up_count", performance.thumbs_up_count)
            .add("thumbs_down_count", performance.thumbs_down_count)
            .add("average_rating", performance.average_rating);
        let event = Event {
            id: Event::stable_id(&[b"performance.json", agent.as_bytes(), &performance.last_updated.to_le_bytes()]),
            time_ms: epoch_millis(performance.last_updated)?,
            source: Source::Feedback,
            kind: "feedback.performance_snapshot".into(),
            actor: None,
            thread_id: None,
            subject: Some(agent.clone()),
            outcome: Outcome::default(),
            duration_ms: performance.average_duration.and_then(seconds_to_millis),
            fields: fields.into_vec(),
        };
        events.push((agent, performance.last_updated, event));
    }
    events.sort_by_key(|(_, _, event)| (event.time_ms, event.id));
    Ok(events)
}

pub struct PerformanceSnapshotReader {
    slot: Slot,
    delivered: BTreeMap<String, f64>,
    file: SnapshotFile,
}

impl PerformanceSnapshotReader {
    pub fn new(slot: Slot) -> Self {
        PerformanceSnapshotReader { slot, delivered: BTreeMap::new(), file: SnapshotFile::default() }
    }
}

impl SourceReader for PerformanceSnapshotReader {
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
        let Some(rewrite) = self.file.read_if_rewritten(&self.slot.path, malformed)? else { return Ok(()) };
        match parse_snapshot(&rewrite.bytes) {
            Ok(events) => {
                for (agent, last_updated, event) in events {
                    if self.delivered.get(&agent).is_some_and(|&done| done >= last_updated) {
                        continue;
                    }
                    self.delivered.insert(agent.clone(), last_updated);
                    out.push_back(Pending { event, advance: Advance::Snapshot { agent, last_updated } });
                }
            }
            Err(reason) => malformed.push(MalformedRecord { file: self.slot.path.clone(), line: 1, reason }),
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

    #[test]
    fn each_agent_becomes_a_snapshot_event() -> Result<(), String> {
        let json = br#"{"linter": {"total_executions": 1, "successful_executions": 1, "average_duration": 0.41, "feedback_count": 1, "thumbs_up_count": 0, "thumbs_down_count": 1, "average_rating": 0.0, "last_updated": 1795592643.2986002}}"#;
        let events = parse_snapshot(json)?;
        assert_eq!(events.len(), 1);
        let (agent, _, event) = &events[0];
        assert_eq!(agent, "linter");
        assert_eq!(event.duration_ms, Some(410));
        assert_eq!(event.kind, "feedback.performance_snapshot");
        Ok(())
    }
}
