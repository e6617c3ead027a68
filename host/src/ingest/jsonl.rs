//! Reading a JSON-lines log from its cursor: complete lines only, a new read of a file that was
//! truncated or rewritten (see [`super::position`]), and resuming inside a line that gave
//! several events.

use std::collections::VecDeque;

use super::MalformedRecord;
use super::amp_thread::AmpThreadLog;
use super::line_reader::LineReader;
use super::position::{Advance, Cursor, FileIdentity, LineCursor, Watermark};
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
    fn parse(&mut self, file_name: &str, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        match self {
            LineFormat::OnePerLine(parse) => {
                let id = Event::stable_id(&[file_name.as_bytes(), line]);
                out.push(parse(line, id)?);
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
    /// After a rewrite: what was delivered from the file's earlier content.
    delivered_before: Option<Watermark>,
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
            delivered_before: None,
            scratch: Vec::new(),
        }
    }

    /// Opens the file where the cursor says, or from the start when it is another file now.
    fn open(&mut self) -> std::io::Result<bool> {
        let path = &self.slot.path;
        if !path.is_file() {
            return Ok(false);
        }
        let same_file = self.cursor.identity.is_some_and(|identity| identity.still_matches(path, self.cursor.offset));
        if !same_file {
            if self.cursor.identity.is_some() {
                tracing::info!(
                    file = %path.display(),
                    "the file was truncated, rewritten or replaced; reading it again, skipping what was delivered"
                );
                self.delivered_before = Some(self.cursor.watermark.clone());
            }
            self.format.reset();
            self.cursor = LineCursor { watermark: self.cursor.watermark.clone(), ..LineCursor::default() };
            self.skip_next = 0;
        } else if self.cursor.offset > 0 && self.format.needs_earlier_lines() {
            let mut earlier = LineReader::open(path, 0)?;
            while let Some(line) = earlier.next_line()? {
                if line.start >= self.cursor.offset {
                    break;
                }
                self.scratch.clear();
                let _ = self.format.parse(&self.file_name, line.bytes, &mut self.scratch);
            }
            self.scratch.clear();
        }
        let reader = LineReader::open(path, self.cursor.offset)?;
        self.cursor.identity = Some(FileIdentity::of_file(reader.file())?);
        self.reader = Some(reader);
        Ok(true)
    }
}

impl SourceReader for JsonlReader {
    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn resume(&mut self, cursor: Option<Cursor>) {
        self.reader = None;
        self.delivered_before = None;
        self.format.reset();
        self.cursor = match cursor {
            Some(Cursor::Lines(cursor)) => cursor,
            _ => LineCursor::default(),
        };
        self.skip_next = self.cursor.skip;
    }

    fn fill(&mut self, want: usize, out: &mut VecDeque<Pending>, malformed: &mut Vec<MalformedRecord>) -> std::io::Result<()> {
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
                self.scratch.clear();
                match self.format.parse(&self.file_name, line.bytes, &mut self.scratch) {
                    Err(reason) => malformed.push(MalformedRecord {
                        file: self.slot.path.clone(),
                        line: line_number as usize,
                        reason,
                    }),
                    Ok(()) => {
                        let skip = std::mem::take(&mut self.skip_next) as usize;
                        let keep: Vec<bool> = self
                            .scratch
                            .iter()
                            .enumerate()
                            .map(|(index, event)| {
                                index >= skip
                                    && !self.delivered_before.as_ref().is_some_and(|done| done.covers(event.time_ms, event.id))
                            })
                            .collect();
                        let last_kept = keep.iter().rposition(|&kept| kept);
                        for (index, event) in self.scratch.drain(..).enumerate() {
                            if !keep[index] {
                                continue;
                            }
                            let advance = if Some(index) == last_kept {
                                Advance::Line { identity, offset: end, line: line_number, skip: 0, time_ms: event.time_ms, id: event.id }
                            } else {
                                let skip = index as u32 + 1;
                                Advance::Line { identity, offset: start, line: line_number - 1, skip, time_ms: event.time_ms, id: event.id }
                            };
                            self.cursor.watermark.record(event.time_ms, event.id);
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
