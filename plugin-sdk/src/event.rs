//! The event a detector reads, and conveniences on it so detectors read like the pattern they
//! find.
//!
//! The contract (0.2.0) sends a batch as columns over a string table; [`crate::columns`]
//! decodes it into these events, so a detector sees plain fields and owned strings whatever
//! the contract's wire shape.

use crate::{Field, Value};

/// One normalized event from any devloop source.
///
/// Well-known `source` values: `cli-actions`, `telemetry`, `agent-audit`, `feedback`,
/// `performance`, `event-store`, `amp-thread`, `security-audit`, `daemon-log`. Kinds are
/// `<source-family>.<what-happened>`, for example `cli.command`, `telemetry.agent_executed`,
/// `audit.file_modified`, `feedback.thumbs_down`, `file.modified`, `thread.prompt`.
#[derive(Debug, Clone)]
pub struct Event {
    /// Identifies the event across runs: the same record read twice gets the same id.
    pub id: u64,
    /// When it happened, in milliseconds since the Unix epoch (UTC).
    pub time_ms: i64,
    /// Which devloop log it came from.
    pub source: String,
    /// What happened.
    pub kind: String,
    /// Who did it: a user name or an agent name.
    pub actor: Option<String>,
    /// The agent thread (Amp `T-…` id) it belongs to, if any.
    pub thread_id: Option<String>,
    /// What it was about: a command line, a file path or an agent name.
    pub subject: Option<String>,
    /// Whether it worked.
    pub outcome: Outcome,
    /// How long it took, in milliseconds.
    pub duration_ms: Option<u64>,
    /// The other fields the source recorded (those the detector declared, see
    /// [`crate::DetectorInfo::fields`]).
    pub fields: Vec<Field>,
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

impl Event {
    /// The value of field `key`, if the source recorded it.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|field| field.key == key).map(|field| &field.value)
    }

    /// The text of field `key`, if it is text.
    pub fn text(&self, key: &str) -> Option<&str> {
        match self.field(key)? {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// A numeric field as a float (integers and floats alike).
    pub fn number(&self, key: &str) -> Option<f64> {
        match self.field(key)? {
            Value::Integer(integer) => Some(*integer as f64),
            Value::Float(float) => Some(*float),
            _ => None,
        }
    }

    /// A list-of-text field (a single text counts as a one-item list).
    pub fn texts(&self, key: &str) -> Vec<&str> {
        match self.field(key) {
            Some(Value::Texts(texts)) => texts.iter().map(String::as_str).collect(),
            Some(Value::Text(text)) => vec![text.as_str()],
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
    pub fn is(&self, kind: &str) -> bool {
        match kind.strip_suffix('*') {
            Some(prefix) => self.kind.starts_with(prefix),
            None => self.kind == kind,
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
