//! The event a detector reads, and conveniences on it so detectors read like the pattern they
//! find.
//!
//! An event read from a batch borrows its text from the batch's string table (see
//! [`crate::columns`]), so reading a batch copies no string: a detector reads the command, the
//! thread and each field where the batch holds them, and copies only what it keeps. An event
//! built by hand (tests, native callers) may borrow its text or own it.

use std::borrow::Cow;

use crate::columns::FieldRow;
use crate::{Field, Value};

/// One normalized event from any devloop source.
///
/// Well-known `source` values: `cli-actions`, `telemetry`, `agent-audit`, `feedback`,
/// `performance`, `event-store`, `amp-thread`, `security-audit`, `daemon-log`. Kinds are
/// `<source-family>.<what-happened>`, for example `cli.command`, `telemetry.agent_executed`,
/// `audit.file_modified`, `feedback.thumbs_down`, `file.modified`, `thread.prompt`.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    /// Identifies the event across runs: the same record read twice gets the same id.
    pub id: u64,
    /// When it happened, in milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// Which devloop log it came from.
    pub source: Cow<'a, str>,
    /// What happened.
    pub kind: Cow<'a, str>,
    /// Who did it: a user name or an agent name.
    pub actor: Option<Cow<'a, str>>,
    /// The agent thread (Amp `T-…` id) it belongs to, if any.
    pub thread_id: Option<Cow<'a, str>>,
    /// What it was about: a command line, a file path or an agent name.
    pub subject: Option<Cow<'a, str>>,
    /// Whether it worked.
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The other fields the source recorded (those the detector declared, see
    /// [`crate::DetectorInfo::fields`]).
    pub fields: Fields<'a>,
}

/// An event's other fields: rows of the batch the host sent, or fields built by hand.
#[derive(Debug, Clone)]
pub enum Fields<'a> {
    Batch(&'a [FieldRow<'a>]),
    Built(Vec<Field>),
}

/// A field's value, borrowed from wherever the event's fields are.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue<'a> {
    Text(&'a str),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Texts(Vec<&'a str>),
    /// JSON text, for values that are neither text nor numbers (objects, mixed lists).
    Json(&'a str),
}

impl<'a> From<&'a Value> for FieldValue<'a> {
    fn from(value: &'a Value) -> Self {
        match value {
            Value::Text(text) => FieldValue::Text(text),
            Value::Integer(integer) => FieldValue::Integer(*integer),
            Value::Float(float) => FieldValue::Float(*float),
            Value::Boolean(flag) => FieldValue::Boolean(*flag),
            Value::Texts(texts) => FieldValue::Texts(texts.iter().map(String::as_str).collect()),
            Value::Json(json) => FieldValue::Json(json),
        }
    }
}

impl From<FieldValue<'_>> for Value {
    fn from(value: FieldValue<'_>) -> Self {
        match value {
            FieldValue::Text(text) => Value::Text(text.to_owned()),
            FieldValue::Integer(integer) => Value::Integer(integer),
            FieldValue::Float(float) => Value::Float(float),
            FieldValue::Boolean(flag) => Value::Boolean(flag),
            FieldValue::Texts(texts) => Value::Texts(texts.into_iter().map(str::to_owned).collect()),
            FieldValue::Json(json) => Value::Json(json.to_owned()),
        }
    }
}

impl Fields<'_> {
    /// Every field, owned.
    pub fn to_owned_fields(&self) -> Vec<Field> {
        match self {
            Fields::Batch(rows) => {
                rows.iter().map(|row| Field { key: row.key.to_owned(), value: row.value().into() }).collect()
            }
            Fields::Built(fields) => fields.clone(),
        }
    }

    /// The value of field `key`, if the source recorded it.
    pub fn get(&self, key: &str) -> Option<FieldValue<'_>> {
        match self {
            Fields::Batch(rows) => rows.iter().find(|row| row.key == key).map(FieldRow::value),
            Fields::Built(fields) => fields.iter().find(|field| field.key == key).map(|field| (&field.value).into()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Fields::Batch(rows) => rows.len(),
            Fields::Built(fields) => fields.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether the thing an event describes worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// It worked (exit code 0, `success: true`).
    Success,
    /// It failed (non-zero exit code, `success: false`, an error message).
    Failure,
    /// The source does not say.
    Unknown,
}

/// The result of the operation an event describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    /// The process exit code, where the source records one.
    pub exit_code: Option<i32>,
}

impl Event<'_> {
    /// The value of field `key`, if the source recorded it.
    pub fn field(&self, key: &str) -> Option<FieldValue<'_>> {
        self.fields.get(key)
    }

    /// The text of field `key`, if it is text.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.field(key)? {
            FieldValue::Text(text) => Some(text),
            _ => None,
        }
    }

    /// A numeric field as a float (integers and floats alike).
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.field(key)? {
            FieldValue::Integer(integer) => Some(integer as f64),
            FieldValue::Float(float) => Some(float),
            _ => None,
        }
    }

    /// A list-of-text field (a single text counts as a one-item list).
    pub fn texts(&self, key: &str) -> Vec<&str> {
        match self.field(key) {
            Some(FieldValue::Texts(texts)) => texts,
            Some(FieldValue::Text(text)) => vec![text],
            _ => Vec::new(),
        }
    }

    /// The subject (command line, file path, agent), or `""`.
    pub fn subject_or_empty(&self) -> &str {
        self.subject.as_deref().unwrap_or("")
    }

    /// Who did it: the thread when there is one (an agent session), else the actor.
    pub fn who(&self) -> &str {
        self.thread_id.as_deref().or(self.actor.as_deref()).unwrap_or("")
    }

    pub fn failed(&self) -> bool {
        self.outcome.status == Status::Failure
    }

    pub fn succeeded(&self) -> bool {
        self.outcome.status == Status::Success
    }

    /// Whether the event's kind is `kind`, or starts with the prefix of a `family.*` pattern.
    #[inline]
    pub fn is(&self, kind: &str) -> bool {
        let own = self.kind.as_bytes();
        match kind.strip_suffix('*') {
            Some(prefix) => own.get(..prefix.len()).is_some_and(|start| crate::bytes::same(start, prefix.as_bytes())),
            None => crate::bytes::same(own, kind.as_bytes()),
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Value::Text(text)
    }
}

impl From<i64> for Value {
    fn from(integer: i64) -> Self {
        Value::Integer(integer)
    }
}

impl From<u64> for Value {
    fn from(integer: u64) -> Self {
        Value::Integer(i64::try_from(integer).unwrap_or(i64::MAX))
    }
}

impl From<usize> for Value {
    fn from(integer: usize) -> Self {
        Value::Integer(i64::try_from(integer).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    fn from(float: f64) -> Self {
        Value::Float(float)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Value::Boolean(flag)
    }
}

impl From<Vec<String>> for Value {
    fn from(texts: Vec<String>) -> Self {
        Value::Texts(texts)
    }
}
