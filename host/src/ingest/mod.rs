//! Reading devloop's logs into normalized [`Event`]s.
//!
//! Every reader is forgiving in the same way: a record it cannot parse is counted and reported
//! with its file and line ([`MalformedRecord`]), never fatal unless the user asks for `--strict`,
//! and never a panic.

mod cli_actions;

use std::fmt;
use std::path::{Path, PathBuf};

pub use cli_actions::read_cli_actions;

use crate::model::Event;

/// A record that could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct MalformedRecord {
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    pub reason: String,
}

impl fmt::Display for MalformedRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: skipped malformed record: {}", self.file.display(), self.line, self.reason)
    }
}

/// What one read of a devloop folder produced.
#[derive(Debug, Default)]
pub struct Ingested {
    /// Events in event-time order.
    pub events: Vec<Event>,
    pub malformed: Vec<MalformedRecord>,
}

/// Reads every supported log under `devloop_dir` into one event-time-ordered stream.
pub fn read_devloop_dir(devloop_dir: &Path) -> std::io::Result<Ingested> {
    let mut ingested = Ingested::default();
    let cli_actions = devloop_dir.join("cli-actions.jsonl");
    if cli_actions.exists() {
        read_cli_actions(&cli_actions, &mut ingested)?;
    }
    ingested.events.sort_by_key(|event| (event.time_ms, event.id));
    Ok(ingested)
}
