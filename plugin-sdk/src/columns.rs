//! Reading the contract's columnar batch as [`Event`]s that borrow it.
//!
//! A batch crosses the sandbox as a string table and a fixed number of lists; detectors read
//! events. Every text of an event (source, kind, actor, thread, subject, each field's key and
//! text value) is a slice of the batch's string table, checked once as it is read: a batch
//! costs the lists the events and field rows sit in, and no copy of any string. A string index
//! out of range, a range that splits a character, an unknown status or value tag, or columns of
//! different lengths make the whole batch an error: the host broke the contract.

use std::borrow::Cow;

use crate::bindings::devloop::detector::types::Batch;
use crate::{Event, FieldValue, Fields, Outcome, Status};

/// The string index that stands for `none`.
const NONE: u32 = u32::MAX;
const HAS_EXIT_CODE: u8 = 1;
const HAS_DURATION: u8 = 2;

/// Why a batch could not be read: the host broke the contract.
#[derive(Debug)]
pub struct BadBatch(String);

impl std::fmt::Display for BadBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed batch from the host: {}", self.0)
    }
}

fn bad(what: impl Into<String>) -> BadBatch {
    BadBatch(what.into())
}

/// The batch's string table, each string checked once (in range, on character boundaries) as
/// the batch is opened, so that the events' several lookups each are an index.
struct Strings<'a>(Vec<&'a str>);

impl<'a> Strings<'a> {
    fn new(text: &'a str, ends: &[u32]) -> Result<Self, BadBatch> {
        let mut strings = Vec::with_capacity(ends.len());
        let mut start = 0;
        for (index, &end) in ends.iter().enumerate() {
            let string = text.get(start..end as usize);
            strings.push(string.ok_or_else(|| bad(format!("string {index} is not a UTF-8 range of the table")))?);
            start = end as usize;
        }
        Ok(Strings(strings))
    }

    fn get(&self, string: u32) -> Result<&'a str, BadBatch> {
        self.0.get(string as usize).copied().ok_or_else(|| bad(format!("string {string} out of range")))
    }

    fn optional(&self, string: u32) -> Result<Option<&'a str>, BadBatch> {
        if string == NONE { Ok(None) } else { self.get(string).map(Some) }
    }
}

/// One field of an event in a batch: its key and value, borrowed from the batch. Read it with
/// [`Fields::get`](crate::Fields::get) (or the event's `text`, `number`, `texts`, `field`).
#[derive(Debug, Clone, Copy)]
pub struct FieldRow<'a> {
    pub(crate) key: &'a str,
    value: RowValue<'a>,
}

#[derive(Debug, Clone, Copy)]
enum RowValue<'a> {
    Text(&'a str),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Texts(&'a [&'a str]),
    Json(&'a str),
}

impl<'a> FieldRow<'a> {
    pub(crate) fn value(&self) -> FieldValue<'a> {
        match self.value {
            RowValue::Text(text) => FieldValue::Text(text),
            RowValue::Integer(integer) => FieldValue::Integer(integer),
            RowValue::Float(float) => FieldValue::Float(float),
            RowValue::Boolean(flag) => FieldValue::Boolean(flag),
            RowValue::Texts(texts) => FieldValue::Texts(texts.to_vec()),
            RowValue::Json(json) => FieldValue::Json(json),
        }
    }
}

/// A batch whose columns have been checked to be of one length: read its lists of texts, then
/// its field rows, then its events, each borrowing the one before (so that a detector's events
/// live exactly as long as the batch).
pub struct Columns<'a> {
    batch: &'a Batch,
    strings: Strings<'a>,
}

impl<'a> Columns<'a> {
    pub fn new(batch: &'a Batch) -> Result<Self, BadBatch> {
        let count = batch.ids.len();
        let columns = [
            batch.times_ms.len(),
            batch.sources.len(),
            batch.kinds.len(),
            batch.actors.len(),
            batch.thread_ids.len(),
            batch.subjects.len(),
            batch.statuses.len(),
            batch.present.len(),
            batch.exit_codes.len(),
            batch.durations_ms.len(),
            batch.field_ends.len(),
        ];
        if columns.iter().any(|&length| length != count) {
            return Err(bad("per-event columns of different lengths"));
        }
        let rows = batch.field_keys.len();
        if batch.field_tags.len() != rows || batch.field_values.len() != rows {
            return Err(bad("field columns of different lengths"));
        }
        Ok(Columns { batch, strings: Strings::new(&batch.strings, &batch.string_ends)? })
    }

    /// The items of every list-of-text value, in the batch's order.
    pub fn text_items(&self) -> Result<Vec<&'a str>, BadBatch> {
        self.batch.text_items.iter().map(|&item| self.strings.get(item)).collect()
    }

    /// Every field row of the batch; `text_items` are [`Columns::text_items`].
    pub fn field_rows<'t>(&self, text_items: &'t [&'a str]) -> Result<Vec<FieldRow<'t>>, BadBatch>
    where
        'a: 't,
    {
        let batch = self.batch;
        let rows = batch.field_keys.iter().zip(&batch.field_tags).zip(&batch.field_values);
        rows.map(|((&key, &tag), &payload)| {
            let string = || {
                u32::try_from(payload).map_err(|_| bad("string index over 32 bits")).and_then(|s| self.strings.get(s))
            };
            let value = match tag {
                0 => RowValue::Text(string()?),
                1 => RowValue::Integer(payload as i64),
                2 => RowValue::Float(f64::from_bits(payload)),
                3 => RowValue::Boolean(payload != 0),
                4 => {
                    let (first, count) = (payload as u32 as usize, (payload >> 32) as usize);
                    let items = text_items.get(first..first.saturating_add(count));
                    RowValue::Texts(items.ok_or_else(|| bad("texts value out of range"))?)
                }
                5 => RowValue::Json(string()?),
                other => return Err(bad(format!("value tag {other}"))),
            };
            Ok(FieldRow { key: self.strings.get(key)?, value })
        })
        .collect()
    }

    /// The batch's events; `rows` are [`Columns::field_rows`].
    pub fn events<'r>(&self, rows: &'r [FieldRow<'r>]) -> Result<Vec<Event<'r>>, BadBatch>
    where
        'a: 'r,
    {
        let (batch, strings) = (self.batch, &self.strings);
        // Every column cut to the batch's length, checked in `new`: the loop's reads then need
        // no check of their own.
        let count = batch.ids.len();
        let (ids, times_ms, sources, kinds) =
            (&batch.ids[..count], &batch.times_ms[..count], &batch.sources[..count], &batch.kinds[..count]);
        let (actors, thread_ids, subjects, statuses) =
            (&batch.actors[..count], &batch.thread_ids[..count], &batch.subjects[..count], &batch.statuses[..count]);
        let (present, exit_codes, durations_ms, field_ends) = (
            &batch.present[..count],
            &batch.exit_codes[..count],
            &batch.durations_ms[..count],
            &batch.field_ends[..count],
        );
        let mut field_start = 0;
        let mut events = Vec::with_capacity(count);
        for row in 0..count {
            let present = present[row];
            let status = match statuses[row] {
                0 => Status::Success,
                1 => Status::Failure,
                2 => Status::Unknown,
                other => return Err(bad(format!("status {other}"))),
            };
            let field_end = field_ends[row] as usize;
            let fields = rows
                .get(field_start..field_end)
                .ok_or_else(|| bad(format!("field rows of event {row} out of range")))?;
            field_start = field_end;
            events.push(Event {
                id: ids[row],
                time_ms: times_ms[row],
                source: Cow::Borrowed(strings.get(sources[row])?),
                kind: Cow::Borrowed(strings.get(kinds[row])?),
                actor: strings.optional(actors[row])?.map(Cow::Borrowed),
                thread_id: strings.optional(thread_ids[row])?.map(Cow::Borrowed),
                subject: strings.optional(subjects[row])?.map(Cow::Borrowed),
                outcome: Outcome { status, exit_code: (present & HAS_EXIT_CODE != 0).then_some(exit_codes[row]) },
                duration_ms: (present & HAS_DURATION != 0).then_some(durations_ms[row]),
                fields: Fields::Batch(fields),
            });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batch written by hand the way the host writes one.
    fn batch() -> Batch {
        let table = [
            "cli-actions",
            "cli.command",
            "dev",
            "bd ready",
            "files",
            "a.rs",
            "b.rs",
            "note",
            "ünïcödé",
            "",
            "count",
            "ratio",
        ];
        let mut strings = String::new();
        let mut string_ends = Vec::new();
        for text in table {
            strings.push_str(text);
            string_ends.push(strings.len() as u32);
        }
        Batch {
            strings,
            string_ends,
            ids: vec![u64::MAX - 1, 2],
            times_ms: vec![-5, 10],
            sources: vec![0, 0],
            kinds: vec![1, 1],
            actors: vec![2, NONE],
            thread_ids: vec![NONE, NONE],
            subjects: vec![3, 9],
            statuses: vec![1, 2],
            present: vec![HAS_EXIT_CODE | HAS_DURATION, 0],
            exit_codes: vec![2, 0],
            durations_ms: vec![40, 0],
            field_ends: vec![3, 4],
            field_keys: vec![4, 7, 10, 11],
            field_tags: vec![4, 0, 1, 2],
            field_values: vec![2 << 32, 8, (-3_i64) as u64, 1.5_f64.to_bits()],
            text_items: vec![5, 6],
        }
    }

    /// Reads `batch` as the glue does and hands its events to `check`.
    fn with_events<T>(batch: &Batch, check: impl FnOnce(&[Event<'_>]) -> T) -> Result<T, BadBatch> {
        let columns = Columns::new(batch)?;
        let items = columns.text_items()?;
        let rows = columns.field_rows(&items)?;
        Ok(check(&columns.events(&rows)?))
    }

    #[test]
    fn columns_read_as_events_with_every_case_intact() -> Result<(), BadBatch> {
        with_events(&batch(), |events| {
            assert_eq!(events.len(), 2);
            let first = &events[0];
            assert_eq!(
                (first.id, first.time_ms, &*first.source, &*first.kind),
                (u64::MAX - 1, -5, "cli-actions", "cli.command")
            );
            assert!(matches!(first.kind, Cow::Borrowed(_)), "read where the batch holds it");
            assert_eq!(
                (first.actor.as_deref(), first.thread_id.as_deref(), first.subject.as_deref()),
                (Some("dev"), None, Some("bd ready"))
            );
            assert_eq!(first.outcome, Outcome { status: Status::Failure, exit_code: Some(2) });
            assert_eq!(first.duration_ms, Some(40));
            assert_eq!(first.texts("files"), ["a.rs", "b.rs"]);
            assert_eq!(first.text("note"), Some("ünïcödé"));
            assert_eq!(first.number("count"), Some(-3.0));
            assert_eq!(first.fields.len(), 3);
            let second = &events[1];
            assert_eq!((second.actor.as_deref(), second.subject.as_deref()), (None, Some("")));
            assert_eq!(second.outcome, Outcome { status: Status::Unknown, exit_code: None });
            assert_eq!(second.duration_ms, None);
            assert_eq!(second.fields.len(), 1);
            assert_eq!(second.number("ratio"), Some(1.5));
            assert_eq!(second.text("note"), None);
        })
    }

    #[test]
    fn a_broken_batch_is_an_error_not_a_panic() {
        let mut out_of_range = batch();
        out_of_range.subjects[0] = 99;
        assert!(with_events(&out_of_range, |_| ()).is_err());
        let mut split_char = batch();
        split_char.string_ends[8] -= 1;
        assert!(with_events(&split_char, |_| ()).is_err());
        let mut short = batch();
        short.kinds.pop();
        assert!(with_events(&short, |_| ()).is_err());
        let mut tag = batch();
        tag.field_tags[1] = 9;
        assert!(with_events(&tag, |_| ()).is_err());
        let mut rows = batch();
        rows.field_ends[1] = 5;
        assert!(with_events(&rows, |_| ()).is_err());
        let mut texts = batch();
        texts.field_values[0] = 3 << 32;
        assert!(with_events(&texts, |_| ()).is_err());
    }
}
