//! Reading a JSON-lines log from its cursor: complete lines only, going on after the last line
//! read in a file that was rewritten, or from the start of one that was truncated or replaced
//! (see [`super::position`]), and resuming inside a line that gave several events.
//!
//! Lines are read in runs, as many as events are wanted, and a run of a log of one event per
//! line is parsed on every core: parsing JSON and hashing each line is most of ingest, and
//! no line's event depends on the lines around it. What a run gave is then taken in file order,
//! so events, malformed records and the cursor come out as from one line at a time.

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

    /// Parses every line of `read` (those of one event each on several threads, when there
    /// are enough of them to be worth it; the Amp thread log's in order, on this one).
    fn parse_all(&mut self, file_name: &str, read: &ReadLines) -> ParsedLines {
        if let LineFormat::OnePerLine(parse) = *self {
            // A plain function, so each thread parses with a copy of the format.
            return parse_lines_in_parts(&read.lines, |lines| {
                read.parse(file_name, lines, |anchor, bytes, events| {
                    LineFormat::OnePerLine(parse).parse(anchor, bytes, events)
                })
            });
        }
        read.parse(file_name, &read.lines, |anchor, bytes, events| self.parse(anchor, bytes, events))
    }

    /// Whether each line gives at most one event.
    fn one_per_line(&self) -> bool {
        matches!(self, LineFormat::OnePerLine(_))
    }
}

/// The room for read lines kept from one run to the next: a run of lines as long as devloop
/// writes them takes about a MiB.
const KEPT_ROOM: usize = 8 << 20;

/// Lines read from a log and not parsed yet, owned (their bytes back to back), so that other
/// threads can parse them.
#[derive(Default)]
struct ReadLines {
    bytes: Vec<u8>,
    lines: Vec<ReadLine>,
}

struct ReadLine {
    /// File offsets of the line's first byte and just after its newline.
    start: u64,
    end: u64,
    /// Where its bytes are in [`ReadLines::bytes`].
    bytes: std::ops::Range<usize>,
}

/// What parsing some lines gave: per line its anchor and how many events it gave or why it
/// gave none (`None` for a blank line, which is no record), and their events, in order.
#[derive(Default)]
struct ParsedLines {
    lines: Vec<Option<(u64, Result<usize, String>)>>,
    events: Vec<Event>,
}

impl ReadLines {
    /// Reads up to `limit` complete lines from `reader` in place of those held. A failure to
    /// read keeps the lines read before it, which the reader has gone past.
    fn take_from(&mut self, reader: &mut LineReader, limit: usize) -> std::io::Result<()> {
        if self.bytes.capacity() > KEPT_ROOM {
            // One huge line (an Amp thread re-appended whole) is no reason to hold its room.
            self.bytes = Vec::new();
        }
        self.bytes.clear();
        self.lines.clear();
        while self.lines.len() < limit {
            let Some(line) = reader.next_line()? else { break };
            let at = self.bytes.len();
            self.bytes.extend_from_slice(line.bytes);
            self.lines.push(ReadLine { start: line.start, end: line.end, bytes: at..self.bytes.len() });
        }
        Ok(())
    }

    /// Parses `lines` (some of [`ReadLines::lines`]) with `parse`, given each line's anchor.
    fn parse(
        &self,
        file_name: &str,
        lines: &[ReadLine],
        mut parse: impl FnMut(u64, &[u8], &mut Vec<Event>) -> Result<(), String>,
    ) -> ParsedLines {
        let mut parsed =
            ParsedLines { lines: Vec::with_capacity(lines.len()), events: Vec::with_capacity(lines.len()) };
        for line in lines {
            let bytes = &self.bytes[line.bytes.clone()];
            if bytes.iter().all(u8::is_ascii_whitespace) {
                parsed.lines.push(None);
                continue;
            }
            let anchor = line_anchor(file_name, bytes);
            let before = parsed.events.len();
            let result = parse(anchor, bytes, &mut parsed.events).map(|()| parsed.events.len() - before);
            if result.is_err() {
                parsed.events.truncate(before);
            }
            parsed.lines.push(Some((anchor, result)));
        }
        parsed
    }
}

/// Lines fewer than this are parsed on the calling thread: starting a thread costs about as
/// much as parsing a hundred lines.
const LINES_PER_THREAD: usize = 256;

/// `parse` over `lines` cut into parts, one per core (up to four), each part but the first on
/// a thread of its own, joined in order. Ingest is mostly parsing JSON and hashing lines, which
/// a line's neighbours do not change; a thread that cannot be started leaves its part to the
/// calling thread.
fn parse_lines_in_parts(lines: &[ReadLine], parse: impl Fn(&[ReadLine]) -> ParsedLines + Sync) -> ParsedLines {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from).min(4));
    let parts = cores.min(lines.len() / LINES_PER_THREAD).max(1);
    if parts == 1 {
        return parse(lines);
    }
    let mut parts = lines.chunks(lines.len().div_ceil(parts));
    let first = parts.next().unwrap_or_default();
    std::thread::scope(|scope| {
        let parse = &parse;
        let others: Vec<_> = parts
            .map(|part| {
                (part, std::thread::Builder::new().name("parse".into()).spawn_scoped(scope, move || parse(part)))
            })
            .collect();
        let mut all = parse(first);
        for (part, started) in others {
            let parsed = match started {
                Ok(thread) => thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => parse(part),
            };
            all.lines.extend(parsed.lines);
            all.events.extend(parsed.events);
        }
        all
    })
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
    /// The lines read and not yet parsed (kept to reuse its room).
    read: ReadLines,
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
            read: ReadLines::default(),
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
            // Each line of a log of one event per line gives at most one: as many lines as
            // events wanted; the Amp thread log's lines give several, one line at a time.
            let limit = if self.format.one_per_line() { want - out.len() } else { 1 };
            let failed = self.read.take_from(reader, limit).err();
            if self.read.lines.is_empty() {
                match failed {
                    Some(error) => return Err(error),
                    None => break,
                }
            }
            let parsed = self.format.parse_all(&self.file_name, &self.read);
            let mut events = parsed.events.into_iter();
            for (line, parsed) in self.read.lines.iter().zip(parsed.lines) {
                let line_number = self.cursor.line + 1;
                if let Some((hash, parsed)) = parsed {
                    let anchor_before = self.cursor.anchor;
                    let anchor = Some(hash);
                    self.cursor.anchor = anchor;
                    match parsed {
                        Err(reason) => malformed.push(MalformedRecord {
                            file: self.slot.path.clone(),
                            line: line_number as usize,
                            reason,
                        }),
                        Ok(count) => {
                            let skip = std::mem::take(&mut self.skip_next) as usize;
                            let last = count.saturating_sub(1);
                            for (index, event) in events.by_ref().take(count).enumerate().skip(skip) {
                                let advance = if index == last {
                                    Advance::Line {
                                        identity,
                                        offset: line.end,
                                        line: line_number,
                                        skip: 0,
                                        time_ms: event.time_ms,
                                        anchor,
                                    }
                                } else {
                                    Advance::Line {
                                        identity,
                                        offset: line.start,
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
                self.cursor.offset = line.end;
                self.cursor.line = line_number;
                self.cursor.skip = 0;
            }
            if let Some(error) = failed {
                return Err(error);
            }
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
    use crate::model::Source;

    /// Line `number` (from 1) of a CLI log: a command, a blank line every 97th, a record that is
    /// not JSON every 89th.
    fn cli_line(number: usize) -> String {
        match number {
            _ if number.is_multiple_of(97) => "  \n".to_owned(),
            _ if number.is_multiple_of(89) => "{not json\n".to_owned(),
            _ => format!(
                "{{\"timestamp\": \"2026-11-25T07:{:02}:{:02}+00:00\", \"command\": \"c{number}\", \"exit_code\": 0}}\n",
                number / 60 % 60,
                number % 60
            ),
        }
    }

    #[test]
    fn lines_parsed_together_come_out_in_file_order_with_their_line_numbers() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cli-actions.jsonl");
        let lines = 3000;
        let text: String = (1..=lines).map(cli_line).collect();
        std::fs::write(&path, format!("{text}{{\"timestamp\": \"2026-11-25T08:00:00+00:00\""))?;
        let slot = Slot { source: Source::CliActions, path: path.clone() };
        let mut reader = JsonlReader::new(slot, LineFormat::OnePerLine(crate::ingest::cli_actions::parse_line));
        let (mut out, mut malformed) = (VecDeque::new(), Vec::new());
        reader.fill(1000, &mut out, &mut malformed)?;
        assert_eq!(out.len(), 1000, "as many events as wanted, no more");
        reader.fill(usize::MAX, &mut out, &mut malformed)?;
        let commands = (1..=lines).filter(|number| !number.is_multiple_of(97) && !number.is_multiple_of(89));
        assert_eq!(
            out.iter().map(|pending| pending.event.subject.clone().unwrap_or_default()).collect::<Vec<_>>(),
            commands.clone().map(|number| format!("c{number}")).collect::<Vec<_>>()
        );
        let malformed_lines = (1..=lines).filter(|number| number.is_multiple_of(89) && !number.is_multiple_of(97));
        assert_eq!(malformed.iter().map(|record| record.line).collect::<Vec<_>>(), malformed_lines.collect::<Vec<_>>());
        assert!(malformed.iter().all(|record| record.file == path));
        let Some(Advance::Line { line, offset, .. }) = out.back().map(|pending| &pending.advance) else {
            panic!("a line's advance")
        };
        assert_eq!((*line, *offset), (commands.max().unwrap_or_default() as u64, text.len() as u64));
        assert!(reader.waiting_on_partial_record(), "the line still being written is left for later");
        Ok(())
    }

    #[test]
    fn a_file_known_by_a_short_head_is_known_by_a_longer_one_once_read_further() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("cli-actions.jsonl");
        std::fs::write(&path, cli_line(1))?;
        let slot = Slot { source: Source::CliActions, path: path.clone() };
        let mut reader = JsonlReader::new(slot, LineFormat::OnePerLine(crate::ingest::cli_actions::parse_line));
        let (mut out, mut malformed) = (VecDeque::new(), Vec::new());
        let head_len = |reader: &JsonlReader| match reader.read_cursor() {
            Cursor::Lines(LineCursor { identity: Some(identity), .. }) => identity.head_len,
            _ => 0,
        };
        reader.fill(100, &mut out, &mut malformed)?;
        let first = head_len(&reader);
        assert_eq!(first, cli_line(1).len() as u64);
        std::fs::write(&path, (1..=10).map(cli_line).collect::<String>())?;
        reader.fill(100, &mut out, &mut malformed)?;
        assert_eq!(out.len(), 10);
        assert!(head_len(&reader) > first, "the identity grows with the file, up to its head's length");
        Ok(())
    }

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
