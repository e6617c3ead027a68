//! Conveniences on the generated event types, so detectors read like the pattern they find.

use crate::{Event, Status, Value};

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
