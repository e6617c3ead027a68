//! A batch in the 0.2.0 contract's shape: columns over one string table.
//!
//! The 0.1.0 contract lowers every event as a record, so each string and each field costs a
//! call into the guest's `realloc`; here a batch of any size crosses as a fixed number of bulk
//! copies. [`Columns`] is built once per batch, from the host's events, and shared by every
//! plugin: 0.2 plugins are lent it, and the 0.1.0 records are read back from it, so a batch is
//! never copied event by event. A plugin that asked for some kinds or declared the fields it
//! reads gets a [`Projection`]: the numeric columns of its rows and fields, gathered by index,
//! borrowing the one string table (so the table may hold strings of rows the plugin does not
//! see; its columns never point at them) and every column it wants whole. A field no loaded
//! plugin reads is left out when the batch is built ([`FieldSelection`]).
//!
//! Building the columns reads each event's strings, which are heap allocations of their own:
//! the conversion was mostly waiting for memory until it asked for the strings of the events
//! ahead ([`prefetch_strings`]). The strings stored once are looked up by the events' own
//! texts, borrowed while the batch is built (a copy of each key per batch was a third of the
//! conversion), each column remembers its last few ([`LastInterned`]: a person's commands
//! alternate with a teammate's or an agent's), and a static text (a source's field names) or
//! a shared one (the feed's actors and threads) is recognised by its address before its bytes
//! are compared.

use wasmtime::component::{ComponentType, Lower};

use super::contract::v0_1_0::wit as v0_1;
use crate::model;

/// The string index that stands for `none`.
pub(crate) const NONE: u32 = u32::MAX;
/// Bits of the `present` column.
const HAS_EXIT_CODE: u8 = 1;
const HAS_DURATION: u8 = 2;

/// The `batch` record of `wit/since_v0.2.0`, lowered from borrowed columns (the generated type
/// would own them, a copy of the string table per plugin).
#[derive(ComponentType, Lower)]
#[component(record)]
pub(crate) struct BatchRef<'a> {
    strings: &'a str,
    #[component(name = "string-ends")]
    string_ends: &'a [u32],
    ids: &'a [u64],
    #[component(name = "times-ms")]
    times_ms: &'a [i64],
    sources: &'a [u32],
    kinds: &'a [u32],
    actors: &'a [u32],
    #[component(name = "thread-ids")]
    thread_ids: &'a [u32],
    subjects: &'a [u32],
    statuses: &'a [u8],
    present: &'a [u8],
    #[component(name = "exit-codes")]
    exit_codes: &'a [i32],
    #[component(name = "durations-ms")]
    durations_ms: &'a [u64],
    #[component(name = "field-ends")]
    field_ends: &'a [u32],
    #[component(name = "field-keys")]
    field_keys: &'a [u32],
    #[component(name = "field-tags")]
    field_tags: &'a [u8],
    #[component(name = "field-values")]
    field_values: &'a [u64],
    #[component(name = "text-items")]
    text_items: &'a [u32],
}

/// The per-event columns, without the string table.
#[derive(Default)]
struct EventRows {
    ids: Vec<u64>,
    times_ms: Vec<i64>,
    sources: Vec<u32>,
    kinds: Vec<u32>,
    actors: Vec<u32>,
    thread_ids: Vec<u32>,
    subjects: Vec<u32>,
    statuses: Vec<u8>,
    present: Vec<u8>,
    exit_codes: Vec<i32>,
    durations_ms: Vec<u64>,
}

/// The field rows of the events, in compressed-row form.
#[derive(Default)]
struct FieldRows {
    field_ends: Vec<u32>,
    field_keys: Vec<u32>,
    field_tags: Vec<u8>,
    field_values: Vec<u64>,
    text_items: Vec<u32>,
}

impl EventRows {
    fn with_capacity(events: usize) -> EventRows {
        EventRows {
            ids: Vec::with_capacity(events),
            times_ms: Vec::with_capacity(events),
            sources: Vec::with_capacity(events),
            kinds: Vec::with_capacity(events),
            actors: Vec::with_capacity(events),
            thread_ids: Vec::with_capacity(events),
            subjects: Vec::with_capacity(events),
            statuses: Vec::with_capacity(events),
            present: Vec::with_capacity(events),
            exit_codes: Vec::with_capacity(events),
            durations_ms: Vec::with_capacity(events),
        }
    }

    /// Copies row `row` of `from` onto the end of `self`.
    fn push_row(&mut self, from: &EventRows, row: usize) {
        self.ids.push(from.ids[row]);
        self.times_ms.push(from.times_ms[row]);
        self.sources.push(from.sources[row]);
        self.kinds.push(from.kinds[row]);
        self.actors.push(from.actors[row]);
        self.thread_ids.push(from.thread_ids[row]);
        self.subjects.push(from.subjects[row]);
        self.statuses.push(from.statuses[row]);
        self.present.push(from.present[row]);
        self.exit_codes.push(from.exit_codes[row]);
        self.durations_ms.push(from.durations_ms[row]);
    }
}

impl FieldRows {
    fn with_capacity(events: usize, fields: usize) -> FieldRows {
        FieldRows {
            field_ends: Vec::with_capacity(events),
            field_keys: Vec::with_capacity(fields),
            field_tags: Vec::with_capacity(fields),
            field_values: Vec::with_capacity(fields),
            text_items: Vec::new(),
        }
    }

    /// The field rows of event `row`.
    fn of(&self, row: usize) -> std::ops::Range<usize> {
        let start = if row == 0 { 0 } else { self.field_ends[row - 1] as usize };
        start..self.field_ends[row] as usize
    }

    /// Copies the fields of event `row` of `from` that `keep` keeps, as the next event's.
    fn push_row(&mut self, from: &FieldRows, row: usize, keep: &dyn Fn(u32) -> bool) {
        for field in from.of(row) {
            if !keep(from.field_keys[field]) {
                continue;
            }
            self.field_keys.push(from.field_keys[field]);
            self.field_tags.push(from.field_tags[field]);
            let payload = from.field_values[field];
            if from.field_tags[field] == Tag::Texts as u8 {
                let (first, count) = (payload as u32 as usize, (payload >> 32) as usize);
                self.field_values.push(texts_payload(self.text_items.len(), count));
                self.text_items.extend_from_slice(&from.text_items[first..first + count]);
            } else {
                self.field_values.push(payload);
            }
        }
        self.field_ends.push(index(self.field_keys.len()));
    }
}

fn view<'a>(table: &'a StringTable, events: &'a EventRows, fields: &'a FieldRows) -> BatchRef<'a> {
    BatchRef {
        strings: &table.strings,
        string_ends: &table.ends,
        ids: &events.ids,
        times_ms: &events.times_ms,
        sources: &events.sources,
        kinds: &events.kinds,
        actors: &events.actors,
        thread_ids: &events.thread_ids,
        subjects: &events.subjects,
        statuses: &events.statuses,
        present: &events.present,
        exit_codes: &events.exit_codes,
        durations_ms: &events.durations_ms,
        field_ends: &fields.field_ends,
        field_keys: &fields.field_keys,
        field_tags: &fields.field_tags,
        field_values: &fields.field_values,
        text_items: &fields.text_items,
    }
}

/// The cases of the contract's `value`, in order: the `field-tags` column.
#[derive(Clone, Copy)]
#[repr(u8)]
enum Tag {
    Text = 0,
    Integer = 1,
    Float = 2,
    Boolean = 3,
    Texts = 4,
    Json = 5,
}

impl Tag {
    /// The case a byte of the `field-tags` column written here stands for.
    fn from_byte(byte: u8) -> Tag {
        [Tag::Text, Tag::Integer, Tag::Float, Tag::Boolean, Tag::Texts, Tag::Json][usize::from(byte)]
    }
}

fn texts_payload(first: usize, count: usize) -> u64 {
    u64::from(index(first)) | (u64::from(index(count)) << 32)
}

/// A position in a batch as the contract's `u32`. A batch is a bounded number of bounded
/// records, far below 4 GiB of strings or 4 billion rows.
fn index(position: usize) -> u32 {
    u32::try_from(position).expect("a batch fits the contract's 32-bit indices")
}

/// The batch's strings, back to back. Strings that repeat from event to event (sources,
/// kinds, actors, threads, field names) are stored once; subjects and values as they come.
#[derive(Default)]
struct StringTable {
    strings: String,
    ends: Vec<u32>,
}

impl StringTable {
    fn push(&mut self, text: &str) -> u32 {
        self.strings.push_str(text);
        self.ends.push(index(self.strings.len()));
        index(self.ends.len() - 1)
    }

    fn get(&self, string: u32) -> &str {
        let start = if string == 0 { 0 } else { self.ends[string as usize - 1] as usize };
        &self.strings[start..self.ends[string as usize] as usize]
    }
}

/// The string table while a batch is built, with the strings stored once so far, borrowed
/// from the events (no copy of a key per batch).
struct Interner<'e> {
    table: StringTable,
    /// foldhash: several times faster than the standard SipHash on short strings, and seeded
    /// per process, so a log cannot be written to make its strings collide.
    interned: foldhash::HashMap<&'e str, u32>,
}

impl<'e> Interner<'e> {
    fn intern(&mut self, text: &'e str) -> u32 {
        if let Some(&found) = self.interned.get(text) {
            return found;
        }
        let added = self.table.push(text);
        self.interned.insert(text, added);
        added
    }
}

/// Whether two texts are equal, knowing first that the same text is (a source's name and its
/// own field names are static, the feed's actors and threads shared), and that two of one
/// column's texts that differ mostly differ in their last eight bytes: agent threads' ids are
/// of one length and share their first 26 bytes, and comparing them from the start (C's
/// `memcmp`, for each of the column's recent texts) had been half of the conversion.
fn same_text(one: &str, other: &str) -> bool {
    let (one, other) = (one.as_bytes(), other.as_bytes());
    if one.len() != other.len() {
        return false;
    }
    if std::ptr::eq(one, other) {
        return true;
    }
    match (one.last_chunk::<8>(), other.last_chunk::<8>()) {
        (Some(one_end), Some(other_end)) if one_end != other_end => false,
        _ => one == other,
    }
}

/// Interns one column's strings, remembering the last few: consecutive events mostly share
/// their source, kind and actor, and a comparison is cheaper than a hash.
#[derive(Default)]
struct LastInterned<'e> {
    recent: [Option<(&'e str, u32)>; 4],
    next: usize,
}

impl<'e> LastInterned<'e> {
    fn intern(&mut self, interner: &mut Interner<'e>, text: &'e str) -> u32 {
        for (last, string) in self.recent.iter().flatten() {
            if same_text(last, text) {
                return *string;
            }
        }
        let string = interner.intern(text);
        self.recent[self.next % self.recent.len()] = Some((text, string));
        self.next += 1;
        string
    }
}

/// The event fields a batch carries: those some plugin reads. A field no plugin reads is
/// left out of the batch when it is built, so no plugin pays for copying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldSelection {
    /// Every field: some plugin reads them all (as every 0.1 plugin does).
    Every,
    /// The fields of these names.
    Only(Vec<String>),
}

impl FieldSelection {
    /// The fields any of `reads` reads, each being a plugin's declared fields (`None`: every
    /// field).
    pub fn union<'a>(reads: impl IntoIterator<Item = Option<&'a [String]>>) -> FieldSelection {
        let mut names: Vec<String> = Vec::new();
        for read in reads {
            let Some(read) = read else { return FieldSelection::Every };
            for name in read {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        FieldSelection::Only(names)
    }

    /// Whether a batch built with this selection carries the field `key`.
    pub fn carries(&self, key: &str) -> bool {
        match self {
            FieldSelection::Every => true,
            FieldSelection::Only(names) => names.iter().any(|name| name == key),
        }
    }

    fn carries_none(&self) -> bool {
        matches!(self, FieldSelection::Only(names) if names.is_empty())
    }
}

/// One position of the events' field lists: the key last found there and its string, `None`
/// when the batch does not carry that field. Consecutive events of a source list the same keys
/// in the same order, so a comparison mostly stands for the lookup and the hash.
#[derive(Default)]
struct KeyColumn<'e> {
    last: Option<(&'e str, Option<u32>)>,
}

impl<'e> KeyColumn<'e> {
    /// The string of `key`, if the batch carries it; a name newly met is added to `names`.
    fn carry(
        &mut self,
        interner: &mut Interner<'e>,
        key: &'e str,
        selection: &FieldSelection,
        names: &mut Vec<u32>,
    ) -> Option<u32> {
        match self.last {
            Some((last, string)) if same_text(last, key) => string,
            _ => {
                let string = selection.carries(key).then(|| interner.intern(key));
                if let Some(name) = string.filter(|name| !names.contains(name)) {
                    names.push(name);
                }
                self.last = Some((key, string));
                string
            }
        }
    }
}

/// How many events ahead of the one converted [`prefetch_strings`] asks for.
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to fetch the text of an event's kind, actor, thread and subject into its cache
/// before they are read. Each is a heap allocation of its own, so converting a batch is mostly
/// waiting for memory, one string after the other, otherwise.
#[cfg_attr(
    target_arch = "x86_64",
    expect(unsafe_code, reason = "a prefetch is a hint: it reads nothing and cannot fault, whatever the address")
)]
fn prefetch_strings(event: &model::Event) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let texts = [Some(&*event.kind), event.actor.as_deref(), event.thread_id.as_deref(), event.subject.as_deref()];
        for text in texts.into_iter().flatten() {
            // SAFETY: SSE is part of x86_64, and a prefetch of any address is defined.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(text.as_ptr().cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = event;
}

/// The field rows of `events` that `selection` carries, and the distinct names among them.
fn field_rows<'e>(
    events: &'e [model::Event],
    selection: &FieldSelection,
    interner: &mut Interner<'e>,
) -> (FieldRows, Vec<u32>) {
    let mut rows = FieldRows::with_capacity(events.len(), events.iter().map(|event| event.fields.len()).sum());
    let (mut names, mut keys) = (Vec::new(), Vec::new());
    for event in events {
        if keys.len() < event.fields.len() {
            keys.resize_with(event.fields.len(), KeyColumn::default);
        }
        for (field, key) in event.fields.iter().zip(&mut keys) {
            let Some(key) = key.carry(interner, &field.key, selection, &mut names) else { continue };
            rows.field_keys.push(key);
            let table = &mut interner.table;
            let (tag, payload) = match &field.value {
                model::Value::Text(text) => (Tag::Text, u64::from(table.push(text))),
                model::Value::Integer(integer) => (Tag::Integer, *integer as u64),
                model::Value::Float(float) => (Tag::Float, float.to_bits()),
                model::Value::Boolean(flag) => (Tag::Boolean, u64::from(*flag)),
                model::Value::Texts(texts) => {
                    let first = rows.text_items.len();
                    rows.text_items.extend(texts.iter().map(|text| table.push(text)));
                    (Tag::Texts, texts_payload(first, texts.len()))
                }
                model::Value::Json(json) => (Tag::Json, u64::from(table.push(json))),
            };
            rows.field_tags.push(tag as u8);
            rows.field_values.push(payload);
        }
        rows.field_ends.push(index(rows.field_keys.len()));
    }
    (rows, names)
}

/// The distinct strings of `column`, in the order met.
fn distinct(column: &[u32]) -> Vec<u32> {
    let mut found = Vec::new();
    let mut last = NONE;
    for &string in column {
        if string != last && !found.contains(&string) {
            found.push(string);
        }
        last = string;
    }
    found
}

/// One batch as the 0.2.0 contract's columns, shared by every 0.2 plugin.
pub(crate) struct Columns {
    table: StringTable,
    events: EventRows,
    fields: FieldRows,
    /// The distinct kinds of the batch, as string indices, for the per-plugin filter.
    kinds: Vec<u32>,
    /// The distinct field names the batch carries, as string indices, for the per-plugin
    /// field filter.
    field_names: Vec<u32>,
}

impl Columns {
    /// The batch of `events`, with the fields `selection` carries.
    pub(crate) fn new(events: &[model::Event], selection: &FieldSelection) -> Columns {
        let mut interner = Interner { table: StringTable::default(), interned: foldhash::HashMap::default() };
        let mut rows = EventRows::with_capacity(events.len());
        let [mut source, mut kind, mut actor, mut thread] = std::array::from_fn(|_| LastInterned::default());
        for (row, event) in events.iter().enumerate() {
            if let Some(ahead) = events.get(row + PREFETCH_AHEAD) {
                prefetch_strings(ahead);
            }
            rows.ids.push(event.id);
            rows.times_ms.push(event.time_ms);
            rows.sources.push(source.intern(&mut interner, event.source.as_str()));
            rows.kinds.push(kind.intern(&mut interner, &event.kind));
            rows.actors.push(event.actor.as_deref().map_or(NONE, |text| actor.intern(&mut interner, text)));
            rows.thread_ids.push(event.thread_id.as_deref().map_or(NONE, |text| thread.intern(&mut interner, text)));
            rows.subjects.push(event.subject.as_deref().map_or(NONE, |text| interner.table.push(text)));
            rows.statuses.push(match event.outcome.status {
                model::Status::Success => 0,
                model::Status::Failure => 1,
                model::Status::Unknown => 2,
            });
            let mut present = 0;
            if event.outcome.exit_code.is_some() {
                present |= HAS_EXIT_CODE;
            }
            if event.duration_ms.is_some() {
                present |= HAS_DURATION;
            }
            rows.present.push(present);
            rows.exit_codes.push(event.outcome.exit_code.unwrap_or(0));
            rows.durations_ms.push(event.duration_ms.unwrap_or(0));
        }
        let (fields, field_names) = if selection.carries_none() {
            (FieldRows { field_ends: vec![0; events.len()], ..FieldRows::default() }, Vec::new())
        } else {
            field_rows(events, selection, &mut interner)
        };
        Columns { table: interner.table, kinds: distinct(&rows.kinds), events: rows, fields, field_names }
    }

    pub(crate) fn len(&self) -> usize {
        self.events.ids.len()
    }

    /// The event time the batch reaches: its last event's.
    pub(crate) fn now_ms(&self) -> Option<i64> {
        self.events.times_ms.last().copied()
    }

    /// What a plugin that wants `kind` and reads `fields` (`None`: every field) is sent. The
    /// columns it is sent whole are lent, not copied: all of them for a plugin that wants the
    /// whole batch, the per-event ones for a plugin that wants every event but not every field.
    pub(crate) fn project(&self, wants: impl Fn(&str) -> bool, fields: Option<&[String]>) -> Projection<'_> {
        let wanted_kinds: Vec<u32> = self.kinds.iter().copied().filter(|&kind| wants(self.table.get(kind))).collect();
        let every_row = wanted_kinds.len() == self.kinds.len();
        let keys: Option<Vec<u32>> = fields.map(|fields| {
            let declared = |&name: &u32| fields.iter().any(|field| field == self.table.get(name));
            self.field_names.iter().copied().filter(declared).collect()
        });
        let every_field = match &keys {
            None => true,
            Some(keys) => self.fields.field_keys.iter().all(|key| keys.contains(key)),
        };
        if every_row && every_field {
            return Projection { columns: self, events: None, fields: None };
        }
        let selected: Vec<usize> = if every_row {
            (0..self.len()).collect()
        } else {
            (0..self.len()).filter(|&row| wanted_kinds.contains(&self.events.kinds[row])).collect()
        };
        let keep = |key: u32| keys.as_ref().is_none_or(|keys| keys.contains(&key));
        let events = (!every_row).then(|| {
            let mut own = EventRows::with_capacity(selected.len());
            for &row in &selected {
                own.push_row(&self.events, row);
            }
            own
        });
        let mut own = FieldRows::with_capacity(selected.len(), 0);
        for &row in &selected {
            own.push_row(&self.fields, row, &keep);
        }
        Projection { columns: self, events, fields: Some(own) }
    }
}

impl Columns {
    /// The batch as the 0.1.0 contract's event records, read back from the columns, so a
    /// batch is converted from the host's events once whichever versions its plugins speak.
    pub(crate) fn records(&self) -> Vec<v0_1::Event> {
        let optional = |string: u32| (string != NONE).then(|| self.table.get(string).to_owned());
        let text = |string: u64| self.table.get(string as u32).to_owned();
        (0..self.len())
            .map(|row| {
                let events = &self.events;
                let present = events.present[row];
                let fields = self.fields.of(row).map(|field| {
                    let payload = self.fields.field_values[field];
                    let value = match Tag::from_byte(self.fields.field_tags[field]) {
                        Tag::Text => v0_1::Value::Text(text(payload)),
                        Tag::Integer => v0_1::Value::Integer(payload as i64),
                        Tag::Float => v0_1::Value::Float(f64::from_bits(payload)),
                        Tag::Boolean => v0_1::Value::Boolean(payload != 0),
                        Tag::Texts => {
                            let (first, count) = (payload as u32 as usize, (payload >> 32) as usize);
                            let items = &self.fields.text_items[first..first + count];
                            v0_1::Value::Texts(items.iter().map(|&item| self.table.get(item).to_owned()).collect())
                        }
                        Tag::Json => v0_1::Value::Json(text(payload)),
                    };
                    v0_1::Field { key: self.table.get(self.fields.field_keys[field]).to_owned(), value }
                });
                v0_1::Event {
                    id: events.ids[row],
                    time_ms: events.times_ms[row],
                    source: self.table.get(events.sources[row]).to_owned(),
                    kind: self.table.get(events.kinds[row]).to_owned(),
                    actor: optional(events.actors[row]),
                    thread_id: optional(events.thread_ids[row]),
                    subject: optional(events.subjects[row]),
                    outcome: v0_1::Outcome {
                        status: match events.statuses[row] {
                            0 => v0_1::Status::Success,
                            1 => v0_1::Status::Failure,
                            _ => v0_1::Status::Unknown,
                        },
                        exit_code: (present & HAS_EXIT_CODE != 0).then_some(events.exit_codes[row]),
                    },
                    duration_ms: (present & HAS_DURATION != 0).then_some(events.durations_ms[row]),
                    fields: fields.collect(),
                }
            })
            .collect()
    }
}

/// What one plugin is sent of a shared batch: the batch itself, or its own rows or fields.
pub(crate) struct Projection<'a> {
    columns: &'a Columns,
    events: Option<EventRows>,
    fields: Option<FieldRows>,
}

impl Projection<'_> {
    pub(crate) fn view(&self) -> BatchRef<'_> {
        view(
            &self.columns.table,
            self.events.as_ref().unwrap_or(&self.columns.events),
            self.fields.as_ref().unwrap_or(&self.columns.fields),
        )
    }
}

/// An empty batch: what a tick sends.
pub(crate) fn empty() -> BatchRef<'static> {
    BatchRef {
        strings: "",
        string_ends: &[],
        ids: &[],
        times_ms: &[],
        sources: &[],
        kinds: &[],
        actors: &[],
        thread_ids: &[],
        subjects: &[],
        statuses: &[],
        present: &[],
        exit_codes: &[],
        durations_ms: &[],
        field_ends: &[],
        field_keys: &[],
        field_tags: &[],
        field_values: &[],
        text_items: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Event, Field, Outcome, Source, Value};

    fn event(id: u64, kind: &str, fields: Vec<Field>) -> Event {
        Event {
            id,
            time_ms: id as i64 * 1000,
            source: Source::CliActions,
            kind: kind.to_owned().into(),
            actor: Some("dev".into()),
            thread_id: None,
            subject: Some(format!("cmd {id}")),
            outcome: Outcome::from_exit_code(Some(1)),
            duration_ms: None,
            fields,
        }
    }

    fn field(key: &str, value: Value) -> Field {
        Field { key: key.to_owned().into(), value }
    }

    #[test]
    fn repeated_strings_are_stored_once_and_none_is_the_sentinel() {
        let events =
            vec![event(1, "cli.command", vec![]), event(2, "cli.command", vec![]), event(3, "file.modified", vec![])];
        let columns = Columns::new(&events, &FieldSelection::Every);
        let view = columns.project(|_| true, None);
        let batch = view.view();
        assert_eq!(batch.kinds[0], batch.kinds[1]);
        assert_ne!(batch.kinds[0], batch.kinds[2]);
        assert_eq!(batch.thread_ids, &[NONE; 3]);
        assert_eq!(columns.table.get(batch.subjects[2]), "cmd 3");
        assert_eq!(batch.present, &[HAS_EXIT_CODE; 3]);
        assert_eq!(batch.statuses, &[1; 3]);
    }

    #[test]
    fn strings_that_take_turns_are_stored_once_however_many_take_turns() {
        let actors = ["dev", "ops", "amp", "ci", "bot", "dev"];
        let events: Vec<Event> = (0..30)
            .map(|id| Event {
                actor: Some(actors[id % actors.len()].into()),
                ..event(id as u64, "cli.command", vec![])
            })
            .collect();
        let columns = Columns::new(&events, &FieldSelection::Every);
        let batch = columns.project(|_| true, None);
        let actor_strings = batch.view().actors;
        for (row, event) in events.iter().enumerate() {
            assert_eq!(Some(columns.table.get(actor_strings[row])), event.actor.as_deref());
        }
        for actor in ["dev", "ops", "amp", "ci", "bot"] {
            let stored = actor_strings.iter().filter(|&&string| columns.table.get(string) == actor);
            assert_eq!(stored.copied().collect::<std::collections::BTreeSet<_>>().len(), 1, "{actor}");
        }
    }

    #[test]
    fn a_projection_keeps_the_wanted_rows_and_the_declared_fields() {
        let events = vec![
            event(
                1,
                "cli.command",
                vec![field("a", Value::Integer(-5)), field("b", Value::Texts(vec!["x".into(), "y".into()]))],
            ),
            event(2, "file.modified", vec![field("a", Value::Integer(7))]),
            event(3, "cli.command", vec![field("b", Value::Texts(vec!["z".into()])), field("c", Value::Boolean(true))]),
        ];
        let columns = Columns::new(&events, &FieldSelection::Every);
        let declared = vec!["b".to_owned(), "missing".to_owned()];
        let projection = columns.project(|kind| kind == "cli.command", Some(&declared));
        let batch = projection.view();
        assert_eq!(batch.ids, &[1, 3]);
        assert_eq!(batch.field_ends, &[1, 2]);
        assert_eq!(batch.field_tags, &[Tag::Texts as u8; 2]);
        let items = |payload: u64| -> Vec<&str> {
            let (first, count) = (payload as u32 as usize, (payload >> 32) as usize);
            batch.text_items[first..first + count].iter().map(|&item| columns.table.get(item)).collect()
        };
        assert_eq!(items(batch.field_values[0]), ["x", "y"]);
        assert_eq!(items(batch.field_values[1]), ["z"]);

        let everything = columns.project(|_| true, None);
        assert!(everything.events.is_none() && everything.fields.is_none(), "the whole batch is lent, not copied");
        assert_eq!(everything.view().field_values[0] as i64, -5);
        assert!(columns.project(|_| false, None).view().ids.is_empty());
    }

    #[test]
    fn a_plugin_that_wants_every_event_but_no_field_is_lent_the_event_columns() {
        let events = vec![
            event(1, "cli.command", vec![field("a", Value::Integer(1)), field("b", Value::Text("x".into()))]),
            event(2, "cli.command", vec![field("b", Value::Text("y".into()))]),
        ];
        let columns = Columns::new(&events, &FieldSelection::Every);
        let projection = columns.project(|_| true, Some(&[]));
        assert!(projection.events.is_none(), "the per-event columns are lent");
        let batch = projection.view();
        assert_eq!(batch.ids, &[1, 2]);
        assert_eq!(batch.field_ends, &[0, 0]);
        assert!(batch.field_keys.is_empty() && batch.field_values.is_empty());
    }

    #[test]
    fn a_field_no_plugin_reads_is_left_out_of_the_batch_and_its_strings() {
        let events = vec![
            event(
                1,
                "cli.command",
                vec![field("read", Value::Text("kept".into())), field("unread", Value::Text("secret-a".into()))],
            ),
            event(
                2,
                "cli.command",
                vec![field("unread", Value::Text("secret-b".into())), field("read", Value::Integer(4))],
            ),
            event(
                3,
                "cli.command",
                vec![
                    field("read", Value::Text("also kept".into())),
                    field("unread", Value::Texts(vec!["secret-c".into()])),
                ],
            ),
        ];
        let selection = FieldSelection::union([Some(&["read".to_owned()][..]), Some(&[][..])]);
        assert_eq!(selection, FieldSelection::Only(vec!["read".to_owned()]));
        let columns = Columns::new(&events, &selection);
        assert!(!columns.table.strings.contains("secret") && !columns.table.strings.contains("unread"));
        let projection = columns.project(|_| true, None);
        let batch = projection.view();
        assert_eq!(batch.field_ends, &[1, 2, 3]);
        assert!(batch.field_keys.iter().all(|&key| columns.table.get(key) == "read"));
        assert_eq!(columns.table.get(batch.field_values[0] as u32), "kept");
        assert_eq!(batch.field_values[1], 4);
        assert!(batch.text_items.is_empty());

        let none = Columns::new(&events, &FieldSelection::union([Some(&[][..])]));
        assert_eq!(none.project(|_| true, None).view().field_ends, &[0, 0, 0]);
        assert_eq!(FieldSelection::union([Some(&["read".to_owned()][..]), None]), FieldSelection::Every);
    }

    #[test]
    fn the_records_read_back_are_those_converted_from_the_events() {
        let mut events = vec![
            event(
                1,
                "cli.command",
                vec![
                    field("text", Value::Text("ünï ✓".into())),
                    field("integer", Value::Integer(i64::MIN)),
                    field("float", Value::Float(-0.5)),
                    field("flag", Value::Boolean(true)),
                    field("texts", Value::Texts(vec!["a".into(), String::new()])),
                    field("json", Value::Json(r#"{"a":1}"#.into())),
                ],
            ),
            event(2, "file.modified", vec![field("text", Value::Text(String::new()))]),
            event(3, "cli.command", vec![]),
        ];
        events[1].actor = None;
        events[1].thread_id = Some("T-1".into());
        events[1].outcome = Outcome::from_exit_code(Some(0));
        events[1].duration_ms = Some(u64::MAX);
        events[2].subject = None;
        events[2].outcome = Outcome::default();
        let expected: Vec<v0_1::Event> = events.iter().map(Into::into).collect();
        assert_eq!(format!("{:?}", Columns::new(&events, &FieldSelection::Every).records()), format!("{expected:?}"));
    }
}
