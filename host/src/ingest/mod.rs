//! Reading devloop's logs into one event-time-ordered stream of normalized [`Event`]s.
//!
//! One module per log turns its records into events as `docs/events.md` lays down; the
//! readers (`reader`) take care of where they stand in their file ([`position`]), and
//! `merge` joins them into one [`Feed`] whose position can be checkpointed after any batch.
//!
//! Every reader is forgiving in the same way: a record it cannot parse is counted and reported
//! with its file and line ([`MalformedRecord`]), never fatal unless the user asks for `--strict`,
//! and never a panic. A line still being written is left for the next read.

pub mod agent_audit;
pub mod amp_thread;
mod catalog;
pub mod cli_actions;
mod compact_json;
pub mod context_store;
pub mod daemon_log;
pub mod event_store;
pub mod feedback;
mod fields;
mod json_members;
mod jsonl;
mod line_reader;
mod merge;
pub mod metrics;
mod names;
pub mod performance_snapshot;
pub mod position;
mod reader;
#[cfg(test)]
mod robustness;
pub mod security_audit;
mod snapshot_file;
pub mod telemetry;

use std::fmt;
use std::path::PathBuf;

pub use catalog::DevloopDirs;
pub use merge::{Feed, SourceStats};
pub use reader::{Slot, SourceReader};
pub use snapshot_file::MAX_SNAPSHOT_BYTES;

use crate::model::Event;

/// A record that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedRecord {
    pub file: PathBuf,
    /// 1-based line number; for `events.db`, the row's rowid (0 when the table is unreadable).
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for MalformedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: skipped malformed record: {}", self.file.display(), self.line, self.reason)
    }
}

/// What one complete read of devloop's folders produced.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Events in event-time order.
    pub events: Vec<Event>,
    pub malformed: Vec<MalformedRecord>,
}

/// Reads every log under `dirs` from the start, into memory. For tests and small folders;
/// `devloop-host run` streams instead.
pub fn read_all(dirs: &DevloopDirs) -> std::io::Result<Ingested> {
    let mut feed = Feed::new(dirs.readers());
    let mut ingested = Ingested::default();
    loop {
        let batch = feed.next_batch(4096)?;
        if batch.is_empty() {
            break;
        }
        ingested.events.extend(batch);
    }
    ingested.malformed = feed.take_malformed();
    Ok(ingested)
}
