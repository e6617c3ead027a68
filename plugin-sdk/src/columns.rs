//! Decoding the contract's columnar batch into [`Event`]s.
//!
//! A batch crosses the sandbox as a string table and a fixed number of lists; detectors read
//! events. The decoder writes into a buffer of events kept from batch to batch, reusing every
//! string's and field list's allocation, so once the buffer has grown a batch costs a copy of
//! its bytes and no allocation.

use crate::bindings::devloop::detector::types::Batch;
use crate::bytes::assign;
use crate::{Event, Field, Outcome, Status, Value};

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

/// The batch's string table.
struct Strings<'a> {
    text: &'a str,
    ends: &'a [u32],
}

impl<'a> Strings<'a> {
    fn get(&self, string: u32) -> Result<&'a str, BadBatch> {
        let index = string as usize;
        let end = *self.ends.get(index).ok_or_else(|| bad(format!("string {string} out of range")))? as usize;
        let start = if index == 0 { 0 } else { self.ends[index - 1] as usize };
        self.text.get(start..end).ok_or_else(|| bad(format!("string {string} is not a UTF-8 range of the table")))
    }

    fn optional(&self, string: u32) -> Result<Option<&'a str>, BadBatch> {
        if string == NONE { Ok(None) } else { self.get(string).map(Some) }
    }
}

fn assign_optional(target: &mut Option<String>, text: Option<&str>) {
    match (target.as_mut(), text) {
        (Some(kept), Some(text)) => assign(kept, text),
        (_, text) => *target = text.map(str::to_owned),
    }
}

fn blank() -> Event {
    Event {
        id: 0,
        time_ms: 0,
        source: String::new(),
        kind: String::new(),
        actor: None,
        thread_id: None,
        subject: None,
        outcome: Outcome { status: Status::Unknown, exit_code: None },
        duration_ms: None,
        fields: Vec::new(),
    }
}

/// Decodes `batch` into the first `n` events of `events` (growing it as needed) and returns
/// `n`, the batch's number of events.
pub fn decode(batch: &Batch, events: &mut Vec<Event>) -> Result<usize, BadBatch> {
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
    let strings = Strings { text: &batch.strings, ends: &batch.string_ends };
    if events.len() < count {
        events.resize_with(count, blank);
    }
    let mut field_start = 0;
    for (row, event) in events.iter_mut().take(count).enumerate() {
        event.id = batch.ids[row];
        event.time_ms = batch.times_ms[row];
        assign(&mut event.source, strings.get(batch.sources[row])?);
        assign(&mut event.kind, strings.get(batch.kinds[row])?);
        assign_optional(&mut event.actor, strings.optional(batch.actors[row])?);
        assign_optional(&mut event.thread_id, strings.optional(batch.thread_ids[row])?);
        assign_optional(&mut event.subject, strings.optional(batch.subjects[row])?);
        let present = batch.present[row];
        event.outcome = Outcome {
            status: match batch.statuses[row] {
                0 => Status::Success,
                1 => Status::Failure,
                2 => Status::Unknown,
                other => return Err(bad(format!("status {other}"))),
            },
            exit_code: (present & HAS_EXIT_CODE != 0).then_some(batch.exit_codes[row]),
        };
        event.duration_ms = (present & HAS_DURATION != 0).then_some(batch.durations_ms[row]);
        let field_end = batch.field_ends[row] as usize;
        if field_end < field_start || field_end > rows {
            return Err(bad(format!("field rows of event {row} out of range")));
        }
        decode_fields(batch, &strings, field_start..field_end, &mut event.fields)?;
        field_start = field_end;
    }
    Ok(count)
}

fn decode_fields(
    batch: &Batch,
    strings: &Strings<'_>,
    rows: std::ops::Range<usize>,
    fields: &mut Vec<Field>,
) -> Result<(), BadBatch> {
    fields.truncate(rows.len());
    for (index, row) in rows.enumerate() {
        let key = strings.get(batch.field_keys[row])?;
        let payload = batch.field_values[row];
        if let Some(field) = fields.get_mut(index) {
            assign(&mut field.key, key);
            set_value(&mut field.value, batch, strings, batch.field_tags[row], payload)?;
        } else {
            let mut value = Value::Boolean(false);
            set_value(&mut value, batch, strings, batch.field_tags[row], payload)?;
            fields.push(Field { key: key.to_owned(), value });
        }
    }
    Ok(())
}

/// Writes a field's value into `value`, keeping its allocation when the case is the same.
fn set_value(value: &mut Value, batch: &Batch, strings: &Strings<'_>, tag: u8, payload: u64) -> Result<(), BadBatch> {
    let string = || u32::try_from(payload).map_err(|_| bad("string index over 32 bits")).and_then(|s| strings.get(s));
    match (tag, &mut *value) {
        (0, Value::Text(kept)) | (5, Value::Json(kept)) => assign(kept, string()?),
        (0, _) => *value = Value::Text(string()?.to_owned()),
        (1, _) => *value = Value::Integer(payload as i64),
        (2, _) => *value = Value::Float(f64::from_bits(payload)),
        (3, _) => *value = Value::Boolean(payload != 0),
        (4, _) => {
            let (first, count) = (payload as u32 as usize, (payload >> 32) as usize);
            let items = batch
                .text_items
                .get(first..first.saturating_add(count))
                .ok_or_else(|| bad("texts value out of range"))?;
            if !matches!(value, Value::Texts(_)) {
                *value = Value::Texts(Vec::with_capacity(count));
            }
            let Value::Texts(texts) = value else { unreachable!("just made texts") };
            texts.truncate(count);
            for (index, &item) in items.iter().enumerate() {
                let text = strings.get(item)?;
                match texts.get_mut(index) {
                    Some(kept) => assign(kept, text),
                    None => texts.push(text.to_owned()),
                }
            }
        }
        (5, _) => *value = Value::Json(string()?.to_owned()),
        (other, _) => return Err(bad(format!("value tag {other}"))),
    }
    Ok(())
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

    #[test]
    fn columns_decode_into_events_with_every_case_intact() {
        let mut events = Vec::new();
        assert_eq!(decode(&batch(), &mut events).expect("decodes"), 2);
        let first = &events[0];
        assert_eq!(
            (first.id, first.time_ms, first.source.as_str(), first.kind.as_str()),
            (u64::MAX - 1, -5, "cli-actions", "cli.command")
        );
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
    }

    #[test]
    fn a_reused_buffer_holds_only_the_new_batch() {
        let mut events = Vec::new();
        decode(&batch(), &mut events).expect("decodes");
        let mut smaller = batch();
        smaller.ids.truncate(1);
        for column in [
            &mut smaller.sources,
            &mut smaller.kinds,
            &mut smaller.actors,
            &mut smaller.thread_ids,
            &mut smaller.subjects,
        ] {
            column.truncate(1);
        }
        smaller.times_ms.truncate(1);
        smaller.statuses.truncate(1);
        smaller.present = vec![0];
        smaller.exit_codes.truncate(1);
        smaller.durations_ms.truncate(1);
        smaller.field_ends = vec![1];
        smaller.field_keys = vec![7];
        smaller.field_tags = vec![3];
        smaller.field_values = vec![1];
        smaller.actors = vec![NONE];
        assert_eq!(decode(&smaller, &mut events).expect("decodes"), 1);
        let event = &events[0];
        assert_eq!(event.actor, None);
        assert_eq!(event.duration_ms, None);
        assert_eq!(event.fields.len(), 1);
        assert!(matches!(event.field("note"), Some(Value::Boolean(true))));
        assert_eq!(event.field("files").map(|_| ()), None);
    }

    #[test]
    fn a_broken_batch_is_an_error_not_a_panic() {
        let mut events = Vec::new();
        let mut out_of_range = batch();
        out_of_range.subjects[0] = 99;
        assert!(decode(&out_of_range, &mut events).is_err());
        let mut split_char = batch();
        split_char.string_ends[8] -= 1;
        assert!(decode(&split_char, &mut events).is_err());
        let mut short = batch();
        short.kinds.pop();
        assert!(decode(&short, &mut events).is_err());
        let mut tag = batch();
        tag.field_tags[1] = 9;
        assert!(decode(&tag, &mut events).is_err());
    }
}
