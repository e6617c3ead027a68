//! What every source reader offers the merge: events read in file order, each with the cursor
//! move that delivering it makes, and the cursor once everything read is delivered.

use std::collections::VecDeque;
use std::path::PathBuf;

use super::MalformedRecord;
use super::position::{Advance, Cursor};
use crate::model::{Event, Source};

/// One place devloop writes to, such as `<project>/.devloop/events.jsonl`.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub source: Source,
    /// The file, or for a rotating log its current file (`devloop.log`).
    pub path: PathBuf,
}

impl Slot {
    /// The key its cursor is stored under: the absolute path.
    pub fn key(&self) -> String {
        std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone()).display().to_string()
    }
}

/// An event read but not yet delivered.
#[derive(Debug, Clone)]
pub struct Pending {
    pub event: Event,
    pub advance: Advance,
}

pub trait SourceReader: Send {
    fn slot(&self) -> &Slot;

    /// Continues after `cursor` (none: from the start) the next time it reads.
    fn resume(&mut self, cursor: Option<Cursor>);

    /// Reads until `out` holds about `want` events or nothing complete is left for now.
    fn fill(&mut self, want: usize, out: &mut VecDeque<Pending>, malformed: &mut Vec<MalformedRecord>) -> std::io::Result<()>;

    /// The cursor once every event read so far is delivered.
    fn read_cursor(&self) -> Cursor;

    /// Whether bytes of a record still being written wait after the last complete one.
    fn waiting_on_partial_record(&self) -> bool {
        false
    }
}
