use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Which devloop log an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `cli-actions.jsonl`: every `devloop …` (and `devloop-host exec …`) invocation.
    CliActions,
    /// `events.jsonl`: devloop's telemetry.
    Telemetry,
    /// `agent-audit.log`: what agents changed.
    AgentAudit,
    /// `feedback/feedback.jsonl` and `feedback/performance.json`.
    Feedback,
    /// `performance/metrics.jsonl`.
    Performance,
    /// `events.db`: the daemon's SQLite event store.
    EventStore,
    /// `amp-thread-log.jsonl`: prompts and actions per agent thread.
    AmpThread,
    /// `security-audit.log`.
    SecurityAudit,
    /// `devloop.log` and its rotated backups.
    DaemonLog,
    /// `context/<tier>.json`: what devloop showed the user, and whether they saw it.
    ContextStore,
}

impl Source {
    /// The name detectors see in `event.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            Source::CliActions => "cli-actions",
            Source::Telemetry => "telemetry",
            Source::AgentAudit => "agent-audit",
            Source::Feedback => "feedback",
            Source::Performance => "performance",
            Source::EventStore => "event-store",
            Source::AmpThread => "amp-thread",
            Source::SecurityAudit => "security-audit",
            Source::DaemonLog => "daemon-log",
            Source::ContextStore => "context-store",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether the thing an event describes worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Failure,
    #[default]
    Unknown,
}

/// The result of the operation an event describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub exit_code: Option<i32>,
}

impl Outcome {
    /// The outcome of a process that exited with `exit_code` (`None`: not recorded).
    pub fn from_exit_code(exit_code: Option<i32>) -> Self {
        let status = match exit_code {
            Some(0) => Status::Success,
            Some(_) => Status::Failure,
            None => Status::Unknown,
        };
        Outcome { status, exit_code }
    }

    /// The outcome of an operation that reports only `success: bool` (or nothing).
    pub fn from_success(success: Option<bool>) -> Self {
        let status = match success {
            Some(true) => Status::Success,
            Some(false) => Status::Failure,
            None => Status::Unknown,
        };
        Outcome { status, exit_code: None }
    }
}

/// A typed value of an event or evidence field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    Boolean(bool),
    Integer(i64),
    Float(f64),
    Text(String),
    Texts(Vec<String>),
    /// Anything nested, kept as compact JSON text.
    Json(String),
}

impl Value {
    /// Converts a JSON value without losing its type: nested objects and mixed arrays become
    /// [`Value::Json`].
    pub fn from_json(value: &serde_json::Value) -> Option<Value> {
        use serde_json::Value as J;
        match value {
            J::Null => None,
            J::Bool(flag) => Some(Value::Boolean(*flag)),
            J::Number(number) => Some(match number.as_i64() {
                Some(integer) => Value::Integer(integer),
                None => Value::Float(number.as_f64().unwrap_or(f64::NAN)),
            }),
            J::String(text) => Some(Value::Text(text.clone())),
            J::Array(items) if items.iter().all(serde_json::Value::is_string) => {
                Some(Value::Texts(items.iter().filter_map(|item| item.as_str().map(str::to_owned)).collect()))
            }
            other => Some(Value::Json(other.to_string())),
        }
    }

    /// The value as JSON, for output: JSON text is parsed back into structure.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Boolean(flag) => (*flag).into(),
            Value::Integer(integer) => (*integer).into(),
            Value::Float(float) => {
                serde_json::Number::from_f64(*float).map_or(serde_json::Value::Null, serde_json::Value::Number)
            }
            Value::Text(text) => text.clone().into(),
            Value::Texts(texts) => texts.clone().into(),
            Value::Json(json) => serde_json::from_str(json).unwrap_or_else(|_| serde_json::Value::String(json.clone())),
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

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Value::Boolean(flag)
    }
}

/// A named value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    /// A source's own field names are static and borrowed; only names read from a record (a
    /// telemetry event's details, a stored event's columns) are owned. Ingest writes a few
    /// fields per event, so a name allocated for each was a good part of its allocations.
    pub key: Cow<'static, str>,
    pub value: Value,
}

impl Field {
    pub fn new(key: impl Into<Cow<'static, str>>, value: impl Into<Value>) -> Self {
        Field { key: key.into(), value: value.into() }
    }
}

/// One normalized event from any devloop source. Mirrors the WIT `event` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable across runs: derived from where the record lives, not from when it was read.
    pub id: u64,
    /// Milliseconds since the Unix epoch, UTC.
    pub time_ms: i64,
    pub source: Source,
    /// `<family>.<what-happened>`, such as `cli.command` or `feedback.dismiss`. A kind a source
    /// names itself, or builds from a name devloop lists, is static and borrowed, as field
    /// names are; only one built from another name a record carries is owned. An event's kind
    /// then costs no allocation, and converting a batch recognises it by its address.
    pub kind: Cow<'static, str>,
    /// Who did it. An actor and a thread id are few in a log and named by event after event:
    /// the feed hands out one copy of each, shared ([`crate::ingest::Feed`]), so a run holds
    /// them once and converting a batch recognises a repeated one by its address.
    pub actor: Option<Arc<str>>,
    pub thread_id: Option<Arc<str>>,
    pub subject: Option<String>,
    pub outcome: Outcome,
    pub duration_ms: Option<u64>,
    pub fields: Vec<Field>,
}

impl Event {
    /// The value of field `key`, if the source recorded it.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.fields.iter().find(|field| field.key == key).map(|field| &field.value)
    }

    /// A stable event id from the record's identity (file and line, or the row's own id).
    pub fn stable_id(parts: &[&[u8]]) -> u64 {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("a sha256 digest has 32 bytes"))
    }
}
