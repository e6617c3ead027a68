//! Building events by hand, for detector unit tests, benchmarks and native callers:
//! `Event::at(1, 60_000, "cli.command").subject("bd ready").actor("dev").exit_code(1)`.
//! Texts are borrowed or owned (`.subject(&format!(…))` and `.subject(format!(…))` both work);
//! the fields added with [`Event::with`] are owned.

use std::borrow::Cow;

use crate::{Event, Field, Fields, Outcome, Status, Value};

impl<'a> Event<'a> {
    /// An event of `kind` at `time_ms` with nothing else recorded; the source is the kind's
    /// family (`cli` for `cli.command`).
    pub fn at(id: u64, time_ms: i64, kind: impl Into<Cow<'a, str>>) -> Event<'a> {
        let kind = kind.into();
        Event {
            id,
            time_ms,
            source: kind.split('.').next().unwrap_or_default().to_owned().into(),
            kind,
            actor: None,
            thread_id: None,
            subject: None,
            outcome: Outcome { status: Status::Unknown, exit_code: None },
            duration_ms: None,
            fields: Fields::Built(Vec::new()),
        }
    }

    pub fn source(mut self, source: impl Into<Cow<'a, str>>) -> Self {
        self.source = source.into();
        self
    }

    pub fn actor(mut self, actor: impl Into<Cow<'a, str>>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    pub fn thread(mut self, thread: impl Into<Cow<'a, str>>) -> Self {
        self.thread_id = Some(thread.into());
        self
    }

    pub fn subject(mut self, subject: impl Into<Cow<'a, str>>) -> Self {
        self.subject = Some(subject.into());
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

    /// Adds a field (on an event read from a batch, beside owned copies of its fields).
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        let field = Field { key: key.to_owned(), value: value.into() };
        if let Fields::Batch(_) = self.fields {
            self.fields = Fields::Built(self.fields.to_owned_fields());
        }
        if let Fields::Built(fields) = &mut self.fields {
            fields.push(field);
        }
        self
    }
}
