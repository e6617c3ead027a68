//! Building events by hand, for detector unit tests and benchmarks:
//! `Event::at(1, 60_000, "cli.command").subject("bd ready").actor("dev").exit_code(1)`.

use crate::{Event, Field, Outcome, Status, Value};

impl Event {
    /// An event of `kind` at `time_ms` with nothing else recorded; the source is the kind's
    /// family (`cli` for `cli.command`).
    pub fn at(id: u64, time_ms: i64, kind: &str) -> Event {
        Event {
            id,
            time_ms,
            source: kind.split('.').next().unwrap_or_default().to_owned(),
            kind: kind.to_owned(),
            actor: None,
            thread_id: None,
            subject: None,
            outcome: Outcome { status: Status::Unknown, exit_code: None },
            duration_ms: None,
            fields: Vec::new(),
        }
    }

    pub fn source(mut self, source: &str) -> Self {
        self.source = source.to_owned();
        self
    }

    pub fn actor(mut self, actor: &str) -> Self {
        self.actor = Some(actor.to_owned());
        self
    }

    pub fn thread(mut self, thread: &str) -> Self {
        self.thread_id = Some(thread.to_owned());
        self
    }

    pub fn subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    /// A process outcome: 0 is success, anything else failure.
    pub fn exit_code(mut self, exit_code: i32) -> Self {
        self.outcome = Outcome {
            status: if exit_code == 0 { Status::Success } else { Status::Failure },
            exit_code: Some(exit_code),
        };
        self
    }

    pub fn success(mut self, success: bool) -> Self {
        self.outcome.status = if success { Status::Success } else { Status::Failure };
        self
    }

    pub fn duration(mut self, duration_ms: u64) -> Self {
        self.duration_ms = Some(duration_ms);
        self
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.fields.push(Field { key: key.to_owned(), value: value.into() });
        self
    }
}
