//! Where a reader is in one source, in a form that survives the process: a cursor per source
//! slot, advanced event by event, so a checkpoint taken after any batch resumes exactly after
//! the last event delivered.
//!
//! A text file is known by its identity (device, inode and a hash of its first bytes), not its
//! name: devloop rotates `devloop.log` by renaming it and rewrites other logs in place when its
//! 30-day retention runs. When the identity no longer matches, the reader looks for the cursor's
//! *anchor* (the content hash of the last record it read) in what the file holds now, and goes
//! on after its last occurrence: a retention rewrite keeps the newest records in order, so what
//! follows the anchor is new. Without the anchor the content is all new (a truncation,
//! `copytruncate`, a new file) and is read from the start. Event times play no part: one record
//! dated in the future must not hide the records after it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// How many leading bytes identify a file's content.
const HEAD_BYTES: u64 = 256;

/// Which file a text cursor points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileIdentity {
    pub device: u64,
    pub inode: u64,
    /// How many leading bytes `head_hash` covers (fewer than 256 while the file was short).
    pub head_len: u64,
    pub head_hash: u64,
}

impl FileIdentity {
    /// Reads the identity of the file at `path` as it is now.
    pub fn of(path: &Path) -> std::io::Result<FileIdentity> {
        FileIdentity::of_file(&std::fs::File::open(path)?)
    }

    /// The identity of an open file, without moving its read position.
    pub fn of_file(file: &std::fs::File) -> std::io::Result<FileIdentity> {
        let metadata = file.metadata()?;
        let (device, inode) = device_and_inode(&metadata);
        let head = read_head(file, metadata.len().min(HEAD_BYTES))?;
        Ok(FileIdentity {
            device,
            inode,
            head_len: head.len() as u64,
            head_hash: crate::model::Event::stable_id(&[&head]),
        })
    }

    /// Whether `path` is still the file this identity was taken from, and has at least
    /// `offset` bytes: a rename away, a truncation and a rewrite of the first bytes all say no.
    pub fn still_matches(&self, path: &Path, offset: u64) -> bool {
        let Ok(file) = std::fs::File::open(path) else { return false };
        let Ok(metadata) = file.metadata() else { return false };
        if device_and_inode(&metadata) != (self.device, self.inode) || metadata.len() < offset.max(self.head_len) {
            return false;
        }
        read_head(&file, self.head_len).is_ok_and(|head| {
            head.len() as u64 == self.head_len && crate::model::Event::stable_id(&[&head]) == self.head_hash
        })
    }

    /// Whether the file is known by fewer leading bytes than it now has.
    pub fn head_is_short(&self, file_length: u64) -> bool {
        self.head_len < HEAD_BYTES && file_length > self.head_len
    }
}

#[cfg(unix)]
fn read_head(file: &std::fs::File, length: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut head = vec![0; length as usize];
    let mut filled = 0;
    while filled < head.len() {
        match file.read_at(&mut head[filled..], filled as u64) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    head.truncate(filled);
    Ok(head)
}

#[cfg(not(unix))]
fn read_head(_file: &std::fs::File, _length: u64) -> std::io::Result<Vec<u8>> {
    Ok(Vec::new())
}

#[cfg(unix)]
fn device_and_inode(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(not(unix))]
fn device_and_inode(_metadata: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// Position in a line-oriented file.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LineCursor {
    pub identity: Option<FileIdentity>,
    /// Byte offset of the next line to read.
    pub offset: u64,
    /// Lines before `offset`.
    pub line: u64,
    /// Events of the line at `offset` already delivered (a line can give several).
    pub skip: u32,
    /// The content hash of the last record before `offset`, to find the place again after a
    /// rewrite (none at the start of the file).
    #[serde(default)]
    pub anchor: Option<u64>,
    /// The latest event time delivered from the file.
    #[serde(default)]
    pub last_time_ms: Option<i64>,
}

/// Position in `events.db`: rows are ordered by `(timestamp, id)`; `created_at` finds rows
/// inserted late with an earlier timestamp. Stored as JSON, whose floats must read back to the
/// very same bits (serde_json's `float_roundtrip`), or the row at the cursor would be read again.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RowCursor {
    pub timestamp: f64,
    pub id: String,
    pub max_created_at: f64,
}

/// Where one source slot stands, as stored in the state database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cursor {
    Lines(LineCursor),
    Rows(RowCursor),
    /// `performance.json`: the `last_updated` delivered per agent.
    Snapshots(BTreeMap<String, f64>),
}

/// What delivering one event moves its source's cursor to.
#[derive(Debug, Clone, PartialEq)]
pub enum Advance {
    Line { identity: Option<FileIdentity>, offset: u64, line: u64, skip: u32, time_ms: i64, anchor: Option<u64> },
    Row { timestamp: f64, id: String, created_at: f64 },
    Snapshot { agent: String, last_updated: f64 },
}

impl Cursor {
    /// The cursor after the event that `advance` came with was delivered.
    pub fn apply(&mut self, advance: &Advance) {
        match (self, advance) {
            (Cursor::Lines(cursor), Advance::Line { identity, offset, line, skip, time_ms, anchor }) => {
                cursor.identity = *identity;
                cursor.offset = *offset;
                cursor.line = *line;
                cursor.skip = *skip;
                cursor.anchor = *anchor;
                cursor.last_time_ms = Some(cursor.last_time_ms.map_or(*time_ms, |last| last.max(*time_ms)));
            }
            (Cursor::Rows(cursor), Advance::Row { timestamp, id, created_at }) => {
                if (*timestamp, id.as_str()) > (cursor.timestamp, cursor.id.as_str()) {
                    cursor.timestamp = *timestamp;
                    cursor.id.clone_from(id);
                }
                cursor.max_created_at = cursor.max_created_at.max(*created_at);
            }
            (Cursor::Snapshots(delivered), Advance::Snapshot { agent, last_updated }) => {
                let entry = delivered.entry(agent.clone()).or_insert(*last_updated);
                *entry = entry.max(*last_updated);
            }
            (cursor, advance) => {
                tracing::error!(?cursor, ?advance, "an advance of another kind of source was applied; ignored");
            }
        }
    }
}

impl Cursor {
    /// Whether the event that came with `advance` (at `time_ms`) was delivered before this
    /// cursor was taken, by a feed reading the same source in the same order: a feed
    /// resumed behind this cursor stops at it ([`super::merge::Feed::resume_until`]).
    ///
    /// In a text file that is the same file it is a place before the cursor's; in a file
    /// rewritten or rotated since (another identity) no place compares, and an event at or
    /// before the last time delivered from it counts as delivered.
    pub fn covers(&self, advance: &Advance, time_ms: i64) -> bool {
        match (self, advance) {
            (Cursor::Lines(bound), Advance::Line { identity, offset, skip, .. }) => {
                if bound.identity == *identity {
                    (*offset, *skip) <= (bound.offset, bound.skip)
                } else {
                    bound.last_time_ms.is_some_and(|last| time_ms <= last)
                }
            }
            (Cursor::Rows(bound), Advance::Row { timestamp, id, created_at }) => {
                (*timestamp, id.as_str()) <= (bound.timestamp, bound.id.as_str()) && *created_at <= bound.max_created_at
            }
            (Cursor::Snapshots(bound), Advance::Snapshot { agent, last_updated }) => {
                bound.get(agent).is_some_and(|delivered| last_updated <= delivered)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_row_cursor_reads_back_to_the_same_bits() -> Result<(), serde_json::Error> {
        let cursor = Cursor::Rows(RowCursor {
            timestamp: 1_795_424_448.025_922_5,
            id: "a5d7".to_owned(),
            max_created_at: 1_795_424_448.025_923,
        });
        let text = serde_json::to_string(&cursor)?;
        assert_eq!(serde_json::from_str::<Cursor>(&text)?, cursor);
        Ok(())
    }

    #[test]
    fn identity_notices_truncation_and_rewrite_but_not_appends() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log.jsonl");
        std::fs::write(&path, "first\n")?;
        let identity = FileIdentity::of(&path)?;
        std::fs::write(&path, "first\nsecond\n")?;
        assert!(identity.still_matches(&path, 6));
        std::fs::write(&path, "other\nsecond\n")?;
        assert!(!identity.still_matches(&path, 6));
        std::fs::write(&path, "fir")?;
        assert!(!identity.still_matches(&path, 6));
        Ok(())
    }

    #[test]
    fn a_cursor_covers_the_events_before_it_and_none_after() {
        let identity = Some(FileIdentity { device: 1, inode: 2, head_len: 10, head_hash: 3 });
        let bound = Cursor::Lines(LineCursor {
            identity,
            offset: 100,
            skip: 1,
            last_time_ms: Some(50),
            ..LineCursor::default()
        });
        let line = |offset, skip, identity| Advance::Line { identity, offset, line: 0, skip, time_ms: 0, anchor: None };
        assert!(bound.covers(&line(40, 0, identity), 10));
        assert!(bound.covers(&line(100, 1, identity), 10), "the event the cursor was taken after");
        assert!(!bound.covers(&line(100, 2, identity), 10), "the next event of the same line");
        assert!(!bound.covers(&line(160, 0, identity), 10));
        assert!(bound.covers(&line(500, 0, None), 50), "another file: by time");
        assert!(!bound.covers(&line(10, 0, None), 51));
        let rows = Cursor::Rows(RowCursor { timestamp: 5.0, id: "b".to_owned(), max_created_at: 7.0 });
        let row = |timestamp, id: &str, created_at| Advance::Row { timestamp, id: id.to_owned(), created_at };
        assert!(rows.covers(&row(5.0, "a", 7.0), 0));
        assert!(!rows.covers(&row(5.0, "c", 7.0), 0));
        assert!(!rows.covers(&row(4.0, "a", 8.0), 0), "a row inserted late, after the cursor was taken");
        let snapshots = Cursor::Snapshots(BTreeMap::from([("agent".to_owned(), 3.0)]));
        let snapshot = |agent: &str, last_updated| Advance::Snapshot { agent: agent.to_owned(), last_updated };
        assert!(snapshots.covers(&snapshot("agent", 3.0), 0));
        assert!(!snapshots.covers(&snapshot("agent", 4.0), 0));
        assert!(!snapshots.covers(&snapshot("other", 1.0), 0));
    }
}
