//! Reading a JSON-lines log from its cursor: complete lines only, going on after the last line
//! read in a file that was rewritten, or from the start of one that was truncated or replaced
//! (see [`super::position`]), and resuming inside a line that gave several events.

use std::collections::VecDeque;

use super::MalformedRecord;
use super::amp_thread::AmpThreadLog;
use super::line_reader::LineReader;
use super::position::{Advance, Cursor, FileIdentity, LineCursor};
use super::reader::{Pending, Slot, SourceReader};
use crate::model::Event;

/// How the lines of one log become events.
pub enum LineFormat {
    /// One event per line, identified by the line's content.
    OnePerLine(fn(&[u8], u64) -> Result<Event, String>),
    /// The Amp thread log, whose lines depend on the lines before them.
    AmpThread(AmpThreadLog),
}

impl LineFormat {
    /// Parses `line`, whose [`line_anchor`] is `anchor` (a line's only event takes it as id).
    fn parse(&mut self, anchor: u64, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        match self {
            LineFormat::OnePerLine(parse) => {
                out.push(parse(line, anchor)?);
                Ok(())
            }
            LineFormat::AmpThread(log) => log.parse_line(line, out),
        }
    }

    fn reset(&mut self) {
        if let LineFormat::AmpThread(log) = self {
            log.reset();
        }
    }

    /// Whether resuming in the middle needs the lines before (to know what they held).
    fn needs_earlier_lines(&self) -> bool {
        matches!(self, LineFormat::AmpThread(_))
    }
}

pub struct JsonlReader {
    slot: Slot,
    file_name: String,
    format: LineFormat,
    reader: Option<LineReader>,
    /// Where reading stands (everything read counts as delivered here).
    cursor: LineCursor,
    /// Events of the next line already delivered before a resume (also in `cursor.skip` until
    /// that line is read, so a checkpoint before then keeps it).
    skip_next: u32,
    scratch: Vec<Event>,
}

impl JsonlReader {
    pub fn new(slot: Slot, format: LineFormat) -> Self {
        let file_name = slot.path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        JsonlReader {
            slot,
            file_name,
            format,
            reader: None,
            cursor: LineCursor::default(),
            skip_next: 0,
            scratch: Vec::new(),
        }
    }

    /// Opens the file where the cursor says: in a rewritten file after the last line read, in
    /// a truncated or replaced one from the start.
    fn open(&mut self) -> std::io::Result<bool> {
        let path = self.slot.path.clone();
        if !path.is_file() {
            return Ok(false);
        }
        let same_file = self.cursor.identity.is_some_and(|identity| identity.still_matches(&path, self.cursor.offset));
        if !same_file {
            let found = match (self.cursor.identity, self.cursor.anchor) {
                (Some(_), Some(anchor)) => find_line(&path, &self.file_name, anchor)?,
                _ => None,
            };
            match found {
                Some((offset, line)) => {
                    tracing::info!(file = %path.display(), "the file was rewritten; going on after the last line read");
                    self.cursor.offset = offset;
                    self.cursor.line = line;
                }
                None => {
                    if self.cursor.identity.is_some() {
                        tracing::info!(
                            file = %path.display(),
                            "the file was truncated or replaced; reading what it holds now from the start"
                        );
                    }
                    self.cursor = LineCursor { last_time_ms: self.cursor.last_time_ms, ..LineCursor::default() };
                }
            }
            self.format.reset();
            self.skip_next = self.cursor.skip;
        }
        if self.cursor.offset > 0 && self.format.needs_earlier_lines() {
            let mut earlier = LineReader::open(&path, 0)?;
            while let Some(line) = earlier.next_line()? {
                if line.start >= self.cursor.offset {
                    break;
                }
                self.scratch.clear();
                let anchor = line_anchor(&self.file_name, line.bytes);
                let _ = self.format.parse(anchor, line.bytes, &mut self.scratch);
            }
            self.scratch.clear();
        }
        let reader = LineReader::open(&path, self.cursor.offset)?;
        self.cursor.identity = Some(FileIdentity::of_file(reader.file())?);
        self.reader = Some(reader);
        Ok(true)
    }
}

/// The content hash a line is found again by: the id of its event when it has one, so that
/// one hash per line serves both.
fn line_anchor(file_name: &str, bytes: &[u8]) -> u64 {
    Event::stable_id(&[file_name.as_bytes(), bytes])
}

/// The anchor of a cursor saved before anchors named their file (the line alone).
fn line_anchor_without_file(bytes: &[u8]) -> u64 {
    Event::stable_id(&[bytes])
}

/// Where the last line hashing to `anchor` ends in the file at `path`, and its line number.
fn find_line(path: &std::path::Path, file_name: &str, anchor: u64) -> std::io::Result<Option<(u64, u64)>> {
    let mut reader = LineReader::open(path, 0)?;
    let mut found = None;
    let mut number = 0;
    while let Some(line) = reader.next_line()? {
        number += 1;
        if line_anchor(file_name, line.bytes) == anchor || line_anchor_without_file(line.bytes) == anchor {
            found = Some((line.end, number));
        }
    }
    Ok(found)
}

impl SourceReader for JsonlReader {
    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn resume(&mut self, cursor: Option<Cursor>) {
        self.reader = None;
        self.format.reset();
        self.cursor = match cursor {
            Some(Cursor::Lines(cursor)) => cursor,
            _ => LineCursor::default(),
        };
        self.skip_next = self.cursor.skip;
    }

    fn fill(
        &mut self,
        want: usize,
        out: &mut VecDeque<Pending>,
        malformed: &mut Vec<MalformedRecord>,
    ) -> std::io::Result<()> {
        let replaced = self.reader.as_ref().is_some_and(|reader| {
            self.cursor.identity.is_some_and(|identity| !identity.still_matches(&self.slot.path, reader.position()))
        });
        if replaced {
            self.reader = None;
        }
        if self.reader.is_none() && !self.open()? {
            return Ok(());
        }
        let Some(reader) = self.reader.as_mut() else { return Ok(()) };
        let identity = self.cursor.identity;
        while out.len() < want {
            let Some(line) = reader.next_line()? else { break };
            let line_number = self.cursor.line + 1;
            let (start, end) = (line.start, line.end);
            if !line.bytes.iter().all(u8::is_ascii_whitespace) {
                let anchor_before = self.cursor.anchor;
                let hash = line_anchor(&self.file_name, line.bytes);
                let anchor = Some(hash);
                self.cursor.anchor = anchor;
                self.scratch.clear();
                match self.format.parse(hash, line.bytes, &mut self.scratch) {
                    Err(reason) => malformed.push(MalformedRecord {
                        file: self.slot.path.clone(),
                        line: line_number as usize,
                        reason,
                    }),
                    Ok(()) => {
                        let skip = std::mem::take(&mut self.skip_next) as usize;
                        let last = self.scratch.len().saturating_sub(1);
                        for (index, event) in self.scratch.drain(..).enumerate().skip(skip) {
                            let advance = if index == last {
                                Advance::Line {
                                    identity,
                                    offset: end,
                                    line: line_number,
                                    skip: 0,
                                    time_ms: event.time_ms,
                                    anchor,
                                }
                            } else {
                                Advance::Line {
                                    identity,
                                    offset: start,
                                    line: line_number - 1,
                                    skip: index as u32 + 1,
                                    time_ms: event.time_ms,
                                    anchor: anchor_before,
                                }
                            };
                            out.push_back(Pending { event, advance });
                        }
                    }
                }
            }
            self.cursor.offset = end;
            self.cursor.line = line_number;
            self.cursor.skip = 0;
        }
        if let Some(current) = self.cursor.identity
            && current.head_is_short(reader.position())
        {
            self.cursor.identity = Some(FileIdentity::of_file(reader.file())?);
        }
        Ok(())
    }

    fn read_cursor(&self) -> Cursor {
        Cursor::Lines(self.cursor.clone())
    }

    fn waiting_on_partial_record(&self) -> bool {
        self.reader.as_ref().is_some_and(LineReader::has_partial_line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_found_again_by_its_anchor_and_by_one_saved_before_anchors_named_the_file() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("events.jsonl");
        std::fs::write(&path, "{\"a\": 1}\n{\"b\": 2}\n{\"c\": 3}\n")?;
        let second = b"{\"b\": 2}";
        assert_eq!(find_line(&path, "events.jsonl", line_anchor("events.jsonl", second))?, Some((18, 2)));
        assert_eq!(find_line(&path, "events.jsonl", line_anchor_without_file(second))?, Some((18, 2)));
        assert_eq!(find_line(&path, "other.jsonl", line_anchor("events.jsonl", second))?, None);
        Ok(())
    }
}
