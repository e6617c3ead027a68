//! `devloop.log` and its backups `devloop.log.1`–`.3`: the daemon's plain-text log.
//!
//! Python's `RotatingFileHandler` renames `devloop.log` to `.1` (and `.1` to `.2`, …) at
//! 10 MiB, so the reader follows the file it was reading by identity: it finishes the renamed
//! file, then goes on with the next newer one. A record is a conforming line
//! (`%Y-%m-%d %H:%M:%S | LEVEL | logger | message`) with every non-conforming line after it
//! (tracebacks, prints of the daemon's stdout) kept as its continuation, never as an error.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use chrono::TimeZone;

use super::MalformedRecord;
use super::fields::{Fields, seconds_to_millis};
use super::line_reader::LineReader;
use super::position::{Advance, Cursor, FileIdentity, LineCursor};
use super::reader::{Pending, Slot, SourceReader};
use crate::model::{Event, Outcome, Source, Status};

const BACKUPS: usize = 3;

/// The first line of a log record.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub time_ms: i64,
    pub level: String,
    pub logger: String,
    pub message: String,
}

/// Parses a conforming line; `None` for anything else (a continuation).
pub fn parse_header(line: &str) -> Option<Header> {
    let mut parts = line.splitn(4, " | ");
    let (stamp, level, logger, message) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let naive = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S").ok()?;
    let level = level.trim();
    if level.is_empty() || !level.bytes().all(|byte| byte.is_ascii_uppercase()) {
        return None;
    }
    let time_ms = chrono::Local
        .from_local_datetime(&naive)
        .earliest()
        .map_or_else(|| naive.and_utc().timestamp_millis(), |time| time.timestamp_millis());
    Some(Header { time_ms, level: level.to_owned(), logger: logger.trim().to_owned(), message: message.to_owned() })
}

/// `✓ linter: Found 3 issues (0.41s)` → (success, agent, message, seconds).
fn agent_result(message: &str) -> Option<(bool, &str, &str, f64)> {
    let (success, rest) = if let Some(rest) = message.strip_prefix("✓ ") {
        (true, rest)
    } else {
        (false, message.strip_prefix("✗ ")?)
    };
    let (agent, rest) = rest.split_once(": ")?;
    let (text, seconds) = rest.rsplit_once(" (")?;
    let seconds: f64 = seconds.strip_suffix("s)")?.parse().ok()?;
    Some((success, agent, text, seconds))
}

/// A record as one event; `header` is `None` for lines that came before any record.
pub fn record_event(header: Option<&Header>, continuation: &[String], fallback_time_ms: i64) -> Event {
    let mut identity = Vec::new();
    if let Some(header) = header {
        identity.extend_from_slice(&header.time_ms.to_le_bytes());
        identity.extend_from_slice(header.level.as_bytes());
        identity.extend_from_slice(header.logger.as_bytes());
        identity.extend_from_slice(header.message.as_bytes());
    }
    for line in continuation {
        identity.push(b'\n');
        identity.extend_from_slice(line.as_bytes());
    }
    let id = Event::stable_id(&[b"daemon-log", &identity]);
    let mut fields = Fields::default();
    let mut event = Event {
        id,
        time_ms: header.map_or(fallback_time_ms, |header| header.time_ms),
        source: Source::DaemonLog,
        kind: "log.record".into(),
        actor: header.map(|header| header.logger.as_str().into()),
        thread_id: None,
        subject: header.map(|header| header.logger.clone()),
        outcome: Outcome::default(),
        duration_ms: None,
        fields: Vec::new(),
    };
    if let Some(header) = header {
        fields.add("level", Some(header.level.clone()));
        if let Some((success, agent, message, seconds)) = agent_result(&header.message) {
            event.kind = "log.agent_result".into();
            event.subject = Some(agent.to_owned());
            event.outcome.status = if success { Status::Success } else { Status::Failure };
            event.duration_ms = seconds_to_millis(seconds);
            fields.add("message", Some(message.to_owned()));
        } else {
            fields.add("message", Some(header.message.clone()));
        }
    }
    fields.add("continuation", (!continuation.is_empty()).then(|| continuation.to_vec()));
    event.fields = fields.into_vec();
    event
}

/// A record whose end has not been seen yet.
struct OpenRecord {
    header: Option<Header>,
    continuation: Vec<String>,
}

pub struct DaemonLogReader {
    slot: Slot,
    reader: Option<LineReader>,
    cursor: LineCursor,
    open_record: Option<OpenRecord>,
}

/// `devloop.log.3`, `.2`, `.1`, `devloop.log`: oldest first.
fn generations(current: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..=BACKUPS)
        .rev()
        .map(|number| {
            let mut name = current.as_os_str().to_owned();
            name.push(format!(".{number}"));
            PathBuf::from(name)
        })
        .collect();
    files.push(current.to_owned());
    files
}

/// The file, offset after and lines before the end of the last record whose id is `anchor`
/// in `files` (oldest first).
fn find_record(files: &[PathBuf], anchor: u64) -> std::io::Result<Option<(PathBuf, u64, u64)>> {
    let mut found = None;
    for path in files.iter().filter(|path| path.is_file()) {
        let mut reader = LineReader::open(path, 0)?;
        let mut open: Option<OpenRecord> = None;
        let mut lines = 0;
        let mut close = |record: Option<OpenRecord>, end: u64, lines: u64| {
            if record.is_some_and(|record| record_event(record.header.as_ref(), &record.continuation, 0).id == anchor) {
                found = Some((path.clone(), end, lines));
            }
        };
        while let Some(line) = reader.next_line()? {
            let text = String::from_utf8_lossy(line.bytes).into_owned();
            match parse_header(&text) {
                Some(header) => close(
                    open.replace(OpenRecord { header: Some(header), continuation: Vec::new() }),
                    line.start,
                    lines,
                ),
                None if text.trim().is_empty() && open.is_none() => {}
                None => open
                    .get_or_insert_with(|| OpenRecord { header: None, continuation: Vec::new() })
                    .continuation
                    .push(text),
            }
            lines += 1;
        }
        close(open.take(), reader.position(), lines);
    }
    Ok(found)
}

fn same_inode(identity: &FileIdentity, path: &Path) -> bool {
    FileIdentity::of(path).is_ok_and(|other| (other.device, other.inode) == (identity.device, identity.inode))
}

impl DaemonLogReader {
    pub fn new(slot: Slot) -> Self {
        DaemonLogReader { slot, reader: None, cursor: LineCursor::default(), open_record: None }
    }

    fn open_at(&mut self, path: &Path, offset: u64) -> std::io::Result<()> {
        let reader = LineReader::open(path, offset)?;
        self.cursor.identity = Some(FileIdentity::of_file(reader.file())?);
        if offset == 0 {
            self.cursor.line = 0;
        }
        self.cursor.offset = offset;
        self.reader = Some(reader);
        Ok(())
    }

    /// Reads on after the last record delivered, wherever it is now (a `copytruncate` left it
    /// in the copy), or from the oldest file on when it is nowhere (everything there is new).
    fn start_over(&mut self) -> std::io::Result<bool> {
        let files = generations(&self.slot.path);
        let found = match (self.cursor.identity, self.cursor.anchor) {
            (Some(_), Some(anchor)) => find_record(&files, anchor)?,
            _ => None,
        };
        if let Some((path, offset, line)) = found {
            self.open_at(&path, offset)?;
            self.cursor.line = line;
            return Ok(true);
        }
        self.cursor.anchor = None;
        match files.into_iter().find(|path| path.is_file()) {
            Some(oldest) => self.open_at(&oldest, 0).map(|()| true),
            None => Ok(false),
        }
    }

    fn open(&mut self) -> std::io::Result<bool> {
        let Some(identity) = self.cursor.identity else { return self.start_over() };
        let found =
            generations(&self.slot.path).into_iter().find(|path| identity.still_matches(path, self.cursor.offset));
        match found {
            Some(path) => self.open_at(&path, self.cursor.offset).map(|()| true),
            None => {
                tracing::info!(file = %self.slot.path.display(), "the log was rotated away or rewritten; going on after the last record read");
                self.start_over()
            }
        }
    }

    /// At the end of the file being read: stay, or move on to the next newer file.
    fn next_file(&mut self) -> std::io::Result<bool> {
        let Some(identity) = self.cursor.identity else { return Ok(false) };
        let position = self.reader.as_ref().map_or(0, LineReader::position);
        if identity.still_matches(&self.slot.path, position) {
            return Ok(false);
        }
        let files = generations(&self.slot.path);
        match files.iter().position(|path| same_inode(&identity, path)) {
            Some(index) if index + 1 < files.len() => {
                let next = &files[index + 1];
                if !next.is_file() {
                    return Ok(false);
                }
                self.open_at(next, 0)?;
                Ok(true)
            }
            Some(_) => {
                tracing::info!(file = %self.slot.path.display(), "the log was truncated or rewritten; going on after the last record read");
                self.start_over()
            }
            None => self.start_over(),
        }
    }

    /// Emits the open record, which ends at `end`. Lines before any record take the time of the
    /// record before them, else of the one after (`next_time_ms`), else the file's.
    fn close_record(&mut self, end: u64, next_time_ms: Option<i64>, out: &mut VecDeque<Pending>) {
        let Some(record) = self.open_record.take() else { return };
        let fallback = self.cursor.last_time_ms.or(next_time_ms).unwrap_or_else(|| self.modified_ms());
        let event = record_event(record.header.as_ref(), &record.continuation, fallback);
        let advance = Advance::Line {
            identity: self.cursor.identity,
            offset: end,
            line: self.cursor.line,
            skip: 0,
            time_ms: event.time_ms,
            anchor: Some(event.id),
        };
        let mut read = Cursor::Lines(std::mem::take(&mut self.cursor));
        read.apply(&advance);
        if let Cursor::Lines(cursor) = read {
            self.cursor = cursor;
        }
        out.push_back(Pending { event, advance });
    }
}

impl DaemonLogReader {
    fn modified_ms(&self) -> i64 {
        self.reader
            .as_ref()
            .and_then(|reader| reader.file().metadata().ok())
            .and_then(|metadata| metadata.modified().ok())
            .map_or(0, |time| chrono::DateTime::<chrono::Utc>::from(time).timestamp_millis())
    }
}

impl SourceReader for DaemonLogReader {
    fn slot(&self) -> &Slot {
        &self.slot
    }

    fn resume(&mut self, cursor: Option<Cursor>) {
        self.reader = None;
        self.open_record = None;
        self.cursor = match cursor {
            Some(Cursor::Lines(cursor)) => cursor,
            _ => LineCursor::default(),
        };
    }

    fn fill(
        &mut self,
        want: usize,
        out: &mut VecDeque<Pending>,
        _malformed: &mut Vec<MalformedRecord>,
    ) -> std::io::Result<()> {
        if self.reader.is_none() && !self.open()? {
            return Ok(());
        }
        while out.len() < want {
            let Some(reader) = self.reader.as_mut() else { return Ok(()) };
            let Some(line) = reader.next_line()? else {
                let end = reader.position();
                self.close_record(end, None, out);
                if self.next_file()? {
                    continue;
                }
                break;
            };
            let (start, end) = (line.start, line.end);
            let text = String::from_utf8_lossy(line.bytes).into_owned();
            match parse_header(&text) {
                Some(header) => {
                    self.close_record(start, Some(header.time_ms), out);
                    self.open_record = Some(OpenRecord { header: Some(header), continuation: Vec::new() });
                }
                None if text.trim().is_empty() && self.open_record.is_none() => self.cursor.offset = end,
                None => self
                    .open_record
                    .get_or_insert_with(|| OpenRecord { header: None, continuation: Vec::new() })
                    .continuation
                    .push(text),
            }
            self.cursor.line += 1;
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
    use crate::model::Value;

    #[test]
    fn an_agent_result_line_is_parsed_with_its_duration() -> Result<(), String> {
        let header =
            parse_header("2025-12-12 21:09:54 | INFO     | agent.linter         | ✓ linter: Found 3 issues (0.41s)")
                .ok_or("a conforming line")?;
        assert_eq!((header.level.as_str(), header.logger.as_str()), ("INFO", "agent.linter"));
        let event = record_event(Some(&header), &[], 0);
        assert_eq!(event.kind, "log.agent_result");
        assert_eq!(event.subject.as_deref(), Some("linter"));
        assert_eq!(event.duration_ms, Some(410));
        assert_eq!(event.outcome.status, Status::Success);
        assert_eq!(event.field("message"), Some(&Value::from("Found 3 issues")));
        Ok(())
    }

    #[test]
    fn tracebacks_are_not_headers() {
        assert!(parse_header("Traceback (most recent call last):").is_none());
        assert!(parse_header("DevLoop v2 daemon started (PID: 4242)").is_none());
        assert!(parse_header("2025-12-12 21:09:54 | info | x | y").is_none());
    }
}

#[cfg(test)]
mod reader_tests {
    use super::*;
    use crate::model::Value;

    fn read(path: &Path) -> std::io::Result<Vec<Event>> {
        let mut reader = DaemonLogReader::new(Slot { source: Source::DaemonLog, path: path.to_owned() });
        let mut out = VecDeque::new();
        reader.fill(100, &mut out, &mut Vec::new())?;
        Ok(out.into_iter().map(|pending| pending.event).collect())
    }

    #[test]
    fn lines_before_the_first_record_take_its_time() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("devloop.log");
        std::fs::write(
            &path,
            "started (PID: 1)\nWatching: /p\n2026-11-23 08:17:38 | INFO     | agent.linter         | ✓ linter: ok (0.25s)\n",
        )?;
        let events = read(&path)?;
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].time_ms, events[1].time_ms);
        assert_eq!(
            events[0].field("continuation"),
            Some(&Value::Texts(vec!["started (PID: 1)".to_owned(), "Watching: /p".to_owned()]))
        );
        Ok(())
    }
}
