//! One feed out of every source: a k-way merge by event time of each source's records (each
//! log is written in time order), with a cursor per source that moves only as events are
//! delivered, so a checkpoint after any batch is exact.
//!
//! A record older than one already delivered (a source that fell behind, a row inserted late)
//! is a *late* event: it is counted and delivered at once, never dropped. The actors and
//! threads of the events it delivers are one shared copy per name ([`SharedNames`]).
//!
//! Only regular files are read: a FIFO would block the run forever and a device (a link to
//! `/dev/zero`) would never end, so anything else at a log's path is skipped with a warning
//! naming it, as is a file that cannot be read; the other sources go on.

use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::FileTypeExt;

use super::MalformedRecord;
use super::names::SharedNames;
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

/// One source's place in the merge: its reader and the events it read ahead.
struct Lane {
    reader: Box<dyn SourceReader>,
    buffer: VecDeque<Pending>,
    /// Nothing more to read until the next round.
    drained: bool,
    /// The cursor after the last event delivered.
    delivered: Cursor,
    /// The cursor last handed out by [`Feed::checkpoint`].
    checkpointed: Option<Cursor>,
    stats: SourceStats,
    /// Why the source could not be read last time, so a lasting problem is reported once.
    problem: Option<String>,
    /// Where it stops, in a feed resumed behind another ([`Feed::resume_until`]): after
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

impl Lane {
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

/// Every source's events in one time order, resumable from and checkpointed to per-source
/// cursors.
pub struct Feed {
    lanes: Vec<Lane>,
    last_time_ms: Option<i64>,
    late: u64,
    malformed: Vec<MalformedRecord>,
    names: SharedNames,
}

impl Feed {
    pub fn new(readers: Vec<Box<dyn SourceReader>>) -> Self {
        let lanes = readers
            .into_iter()
            .map(|reader| Lane {
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
        Feed { lanes, last_time_ms: None, late: 0, malformed: Vec::new(), names: SharedNames::default() }
    }

    /// Continues every lane after its stored cursor (keyed by [`Slot::key`]).
    pub fn resume(&mut self, cursors: &HashMap<String, Cursor>) {
        for lane in &mut self.lanes {
            let cursor = cursors.get(&lane.reader.slot().key()).cloned();
            lane.reader.resume(cursor.clone());
            lane.buffer.clear();
            lane.delivered = lane.reader.read_cursor();
            lane.checkpointed = cursor;
        }
    }

    /// Continues every lane after its cursor in `cursors` and stops it after the last event
    /// its cursor in `until` covers ([`Cursor::covers`]): the events one reader delivered
    /// between the two, again, for a detector that did not get them yet. A lane `until` has
    /// no cursor for gives nothing.
    pub fn resume_until(&mut self, cursors: &HashMap<String, Cursor>, until: &HashMap<String, Cursor>) {
        self.resume(cursors);
        for lane in &mut self.lanes {
            let until = until.get(&lane.reader.slot().key()).cloned();
            lane.drained = until.is_none();
            lane.until = Some(until);
        }
    }

    /// Lets every lane read again (follow mode, after the files changed).
    pub fn next_round(&mut self) {
        for lane in &mut self.lanes {
            lane.drained = false;
        }
    }

    /// Up to `max` events in time order; empty when nothing more is available for now.
    pub fn next_batch(&mut self, max: usize) -> std::io::Result<Vec<Event>> {
        let mut batch = Vec::with_capacity(max.min(READ_AHEAD));
        while batch.len() < max {
            let mut earliest: Option<(usize, (i64, u64))> = None;
            for (index, lane) in self.lanes.iter_mut().enumerate() {
                if lane.buffer.is_empty() && !lane.drained {
                    let before = self.malformed.len();
                    lane.fill(&mut self.malformed);
                    lane.stats.malformed += (self.malformed.len() - before) as u64;
                    lane.drained = lane.buffer.is_empty();
                }
                if let Some(until) = &lane.until {
                    let past = |pending: &Pending| {
                        until.as_ref().is_none_or(|until| !until.covers(&pending.advance, pending.event.time_ms))
                    };
                    if lane.buffer.front().is_some_and(past) {
                        lane.drained = true;
                        lane.buffer.clear();
                    }
                }
                if let Some(head) = lane.buffer.front() {
                    let key = (head.event.time_ms, head.event.id);
                    if earliest.is_none_or(|(_, best)| key < best) {
                        earliest = Some((index, key));
                    }
                }
            }
            let Some((index, _)) = earliest else { break };
            let lane = &mut self.lanes[index];
            let Some(Pending { mut event, advance }) = lane.buffer.pop_front() else { break };
            lane.delivered.apply(&advance);
            let stats = &mut lane.stats;
            stats.events += 1;
            stats.first_time_ms = Some(stats.first_time_ms.map_or(event.time_ms, |first| first.min(event.time_ms)));
            stats.last_time_ms = Some(stats.last_time_ms.map_or(event.time_ms, |last| last.max(event.time_ms)));
            if self.last_time_ms.is_some_and(|last| event.time_ms < last) {
                self.late += 1;
            } else {
                self.last_time_ms = Some(event.time_ms);
            }
            self.names.share(&mut event);
            batch.push(event);
        }
        Ok(batch)
    }

    /// The cursors that moved since the last checkpoint, for every event handed out so far.
    pub fn checkpoint(&mut self) -> Vec<(String, Cursor)> {
        let mut moved = Vec::new();
        for lane in &mut self.lanes {
            // A stopped lane may have read past where it stops.
            if lane.buffer.is_empty() && lane.until.is_none() {
                lane.delivered = lane.reader.read_cursor();
            }
            if lane.checkpointed.as_ref() != Some(&lane.delivered) {
                lane.checkpointed = Some(lane.delivered.clone());
                moved.push((lane.reader.slot().key(), lane.delivered.clone()));
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

    /// Each source's slot with what it gave so far and whether a record is still being written.
    pub fn sources(&self) -> impl Iterator<Item = (&Slot, &SourceStats, bool)> {
        self.lanes.iter().map(|lane| (lane.reader.slot(), &lane.stats, lane.reader.waiting_on_partial_record()))
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
        let mut feed = Feed::new(vec![Box::new(unreadable), Box::new(readable)]);
        assert_eq!(feed.next_batch(10)?.len(), 1);
        assert_eq!(feed.sources().filter(|(_, stats, _)| stats.events == 1).count(), 1);
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
        let feed = || {
            let slot = Slot { source: EventSource::CliActions, path: log.clone() };
            Feed::new(vec![Box::new(JsonlReader::new(
                slot,
                LineFormat::OnePerLine(crate::ingest::cli_actions::parse_line),
            ))])
        };
        let cursors = |moved: Vec<(String, Cursor)>| moved.into_iter().collect::<HashMap<_, _>>();
        let mut ahead = feed();
        ahead.next_batch(2)?;
        let from = cursors(ahead.checkpoint());
        let between = ahead.next_batch(3)?;
        let until = cursors(ahead.checkpoint());
        // Written after the other feed stopped: not between the two places.
        std::fs::write(&log, (0..9).map(cli_line).collect::<String>())?;

        let mut behind = feed();
        behind.resume_until(&from, &until);
        let mut again = behind.next_batch(2)?;
        again.extend(behind.next_batch(10)?);
        assert_eq!(
            again.iter().map(|event| event.id).collect::<Vec<_>>(),
            between.iter().map(|event| event.id).collect::<Vec<_>>()
        );
        assert!(behind.next_batch(10)?.is_empty(), "it stops where the other feed was");
        let stopped = cursors(behind.checkpoint());
        assert_eq!(stopped, until, "its cursors are where the other feed's were, not past what it read ahead");
        Ok(())
    }
}
