//! One stream out of every source: a k-way merge by event time of each source's records (each
//! log is written in time order), with a cursor per source that moves only as events are
//! delivered, so a checkpoint after any batch is exact.
//!
//! A record older than one already delivered (a source that fell behind, a row inserted late)
//! is a *late* event: it is counted and delivered at once, never dropped.
//!
//! Only regular files are read: a FIFO would block the run forever and a device (a link to
//! `/dev/zero`) would never end, so anything else at a log's path is skipped with a warning
//! naming it, as is a file that cannot be read; the other sources go on.

use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::FileTypeExt;

use super::MalformedRecord;
use super::position::Cursor;
use super::reader::{Pending, Slot, SourceReader};
use crate::model::Event;

/// Events each source reads ahead of the merge.
const READ_AHEAD: usize = 2048;

/// What one source gave so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceStats {
    pub events: u64,
    pub malformed: u64,
    pub first_time_ms: Option<i64>,
    pub last_time_ms: Option<i64>,
}

struct Source {
    reader: Box<dyn SourceReader>,
    buffer: VecDeque<Pending>,
    /// Nothing more to read until the next round.
    drained: bool,
    /// The cursor after the last event delivered.
    delivered: Cursor,
    /// The cursor last handed out by [`Stream::checkpoint`].
    checkpointed: Option<Cursor>,
    stats: SourceStats,
    /// Why the source could not be read last time, so a lasting problem is reported once.
    problem: Option<String>,
    /// Where it stops, in a stream resumed behind another ([`Stream::resume_until`]): after
    /// the last event this cursor covers, or at once without one.
    until: Option<Option<Cursor>>,
}

/// Why a log's path cannot be read as a log, if it cannot: only regular files (or links to
/// them) are.
fn not_a_regular_file(path: &std::path::Path) -> Option<String> {
    let metadata = std::fs::metadata(path).ok()?;
    let file_type = metadata.file_type();
    if file_type.is_file() {
        return None;
    }
    let what = if file_type.is_dir() {
        "a directory"
    } else if file_type.is_fifo() {
        "a FIFO"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "a device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    };
    Some(format!("it is {what}, not a log file"))
}

impl Source {
    /// Reads ahead, skipping (with one warning while it lasts) a path that is not a regular
    /// file or cannot be read.
    fn fill(&mut self, malformed: &mut Vec<MalformedRecord>) {
        let path = self.reader.slot().path.clone();
        let problem = match not_a_regular_file(&path) {
            Some(problem) => Some(problem),
            None => self.reader.fill(READ_AHEAD, &mut self.buffer, malformed).err().map(|error| error.to_string()),
        };
        if problem.is_some() && problem != self.problem {
            tracing::warn!(
                "cannot read {}: {}; skipping it, the other logs go on",
                path.display(),
                problem.as_deref().unwrap_or_default()
            );
        }
        self.problem = problem;
    }
}

pub struct Stream {
    sources: Vec<Source>,
    last_time_ms: Option<i64>,
    late: u64,
    malformed: Vec<MalformedRecord>,
}

impl Stream {
    pub fn new(readers: Vec<Box<dyn SourceReader>>) -> Self {
        let sources = readers
            .into_iter()
            .map(|reader| Source {
                delivered: reader.read_cursor(),
                reader,
                buffer: VecDeque::new(),
                drained: false,
                checkpointed: None,
                stats: SourceStats::default(),
                problem: None,
                until: None,
            })
            .collect();
        Stream { sources, last_time_ms: None, late: 0, malformed: Vec::new() }
    }

    /// Continues every source after its stored cursor (keyed by [`Slot::key`]).
    pub fn resume(&mut self, cursors: &HashMap<String, Cursor>) {
        for source in &mut self.sources {
            let cursor = cursors.get(&source.reader.slot().key()).cloned();
            source.reader.resume(cursor.clone());
            source.buffer.clear();
            source.delivered = source.reader.read_cursor();
            source.checkpointed = cursor;
        }
    }

    /// Continues every source after its cursor in `cursors` and stops it after the last event
    /// its cursor in `until` covers ([`Cursor::covers`]): the events one reader delivered
    /// between the two, again, for a detector that did not get them yet. A source `until` has
    /// no cursor for gives nothing.
    pub fn resume_until(&mut self, cursors: &HashMap<String, Cursor>, until: &HashMap<String, Cursor>) {
        self.resume(cursors);
        for source in &mut self.sources {
            let until = until.get(&source.reader.slot().key()).cloned();
            source.drained = until.is_none();
            source.until = Some(until);
        }
    }

    /// Lets every source read again (follow mode, after the files changed).
    pub fn next_round(&mut self) {
        for source in &mut self.sources {
            source.drained = false;
        }
    }

    /// Up to `max` events in time order; empty when nothing more is available for now.
    pub fn next_batch(&mut self, max: usize) -> std::io::Result<Vec<Event>> {
        let mut batch = Vec::with_capacity(max.min(READ_AHEAD));
        while batch.len() < max {
            let mut earliest: Option<(usize, (i64, u64))> = None;
            for (index, source) in self.sources.iter_mut().enumerate() {
                if source.buffer.is_empty() && !source.drained {
                    let before = self.malformed.len();
                    source.fill(&mut self.malformed);
                    source.stats.malformed += (self.malformed.len() - before) as u64;
                    source.drained = source.buffer.is_empty();
                }
                if let Some(until) = &source.until {
                    let past = |pending: &Pending| {
                        until.as_ref().is_none_or(|until| !until.covers(&pending.advance, pending.event.time_ms))
                    };
                    if source.buffer.front().is_some_and(past) {
                        source.drained = true;
                        source.buffer.clear();
                    }
                }
                if let Some(head) = source.buffer.front() {
                    let key = (head.event.time_ms, head.event.id);
                    if earliest.is_none_or(|(_, best)| key < best) {
                        earliest = Some((index, key));
                    }
                }
            }
            let Some((index, _)) = earliest else { break };
            let source = &mut self.sources[index];
            let Some(Pending { event, advance }) = source.buffer.pop_front() else { break };
            source.delivered.apply(&advance);
            let stats = &mut source.stats;
            stats.events += 1;
            stats.first_time_ms = Some(stats.first_time_ms.map_or(event.time_ms, |first| first.min(event.time_ms)));
            stats.last_time_ms = Some(stats.last_time_ms.map_or(event.time_ms, |last| last.max(event.time_ms)));
            if self.last_time_ms.is_some_and(|last| event.time_ms < last) {
                self.late += 1;
            } else {
                self.last_time_ms = Some(event.time_ms);
            }
            batch.push(event);
        }
        Ok(batch)
    }

    /// The cursors that moved since the last checkpoint, for every event handed out so far.
    pub fn checkpoint(&mut self) -> Vec<(String, Cursor)> {
        let mut moved = Vec::new();
        for source in &mut self.sources {
            // A stopped source may have read past where it stops.
            if source.buffer.is_empty() && source.until.is_none() {
                source.delivered = source.reader.read_cursor();
            }
            if source.checkpointed.as_ref() != Some(&source.delivered) {
                source.checkpointed = Some(source.delivered.clone());
                moved.push((source.reader.slot().key(), source.delivered.clone()));
            }
        }
        moved
    }

    /// Malformed records found since the last call.
    pub fn take_malformed(&mut self) -> Vec<MalformedRecord> {
        std::mem::take(&mut self.malformed)
    }

    /// Events older than one delivered before them.
    pub fn late_events(&self) -> u64 {
        self.late
    }

    /// Each source slot with what it gave so far and whether a record is still being written.
    pub fn sources(&self) -> impl Iterator<Item = (&Slot, &SourceStats, bool)> {
        self.sources
            .iter()
            .map(|source| (source.reader.slot(), &source.stats, source.reader.waiting_on_partial_record()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::jsonl::{JsonlReader, LineFormat};
    use crate::ingest::position::Cursor;
    use crate::model::Source as EventSource;

    /// A source whose file cannot be read.
    struct Unreadable(Slot);

    impl SourceReader for Unreadable {
        fn slot(&self) -> &Slot {
            &self.0
        }
        fn resume(&mut self, _cursor: Option<Cursor>) {}
        fn fill(
            &mut self,
            _want: usize,
            _out: &mut VecDeque<Pending>,
            _malformed: &mut Vec<MalformedRecord>,
        ) -> std::io::Result<()> {
            Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
        }
        fn read_cursor(&self) -> Cursor {
            Cursor::Snapshots(Default::default())
        }
    }

    #[test]
    fn an_unreadable_source_is_skipped_and_the_others_are_read() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("cli-actions.jsonl");
        std::fs::write(
            &log,
            "{\"timestamp\": \"2026-11-25T07:44:03+00:00\", \"command\": \"status\", \"exit_code\": 0}\n",
        )?;
        let readable = JsonlReader::new(
            Slot { source: EventSource::CliActions, path: log },
            LineFormat::OnePerLine(crate::ingest::cli_actions::parse_line),
        );
        let unreadable = Unreadable(Slot { source: EventSource::Telemetry, path: dir.path().join("events.jsonl") });
        let mut stream = Stream::new(vec![Box::new(unreadable), Box::new(readable)]);
        assert_eq!(stream.next_batch(10)?.len(), 1);
        assert_eq!(stream.sources().filter(|(_, stats, _)| stats.events == 1).count(), 1);
        Ok(())
    }

    fn cli_line(second: u32) -> String {
        format!(
            "{{\"timestamp\": \"2026-11-25T07:44:{second:02}+00:00\", \"command\": \"c{second}\", \"exit_code\": 0}}\n"
        )
    }

    #[test]
    fn a_stream_resumed_behind_another_gives_exactly_what_the_other_delivered_in_between() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let log = dir.path().join("cli-actions.jsonl");
        std::fs::write(&log, (0..6).map(cli_line).collect::<String>())?;
        let stream = || {
            let slot = Slot { source: EventSource::CliActions, path: log.clone() };
            Stream::new(vec![Box::new(JsonlReader::new(
                slot,
                LineFormat::OnePerLine(crate::ingest::cli_actions::parse_line),
            ))])
        };
        let cursors = |moved: Vec<(String, Cursor)>| moved.into_iter().collect::<HashMap<_, _>>();
        let mut ahead = stream();
        ahead.next_batch(2)?;
        let from = cursors(ahead.checkpoint());
        let between = ahead.next_batch(3)?;
        let until = cursors(ahead.checkpoint());
        // Written after the other stream stopped: not between the two places.
        std::fs::write(&log, (0..9).map(cli_line).collect::<String>())?;

        let mut behind = stream();
        behind.resume_until(&from, &until);
        let mut again = behind.next_batch(2)?;
        again.extend(behind.next_batch(10)?);
        assert_eq!(
            again.iter().map(|event| event.id).collect::<Vec<_>>(),
            between.iter().map(|event| event.id).collect::<Vec<_>>()
        );
        assert!(behind.next_batch(10)?.is_empty(), "it stops where the other stream was");
        let stopped = cursors(behind.checkpoint());
        assert_eq!(stopped, until, "its cursors are where the other stream's were, not past what it read ahead");
        Ok(())
    }
}
