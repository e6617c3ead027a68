//! Building insights with chained methods, with evidence kept bounded.

use crate::{Event, Evidence, Field, Insight, Severity, Value};

/// Evidence keeps at most this many event ids: enough to look the pattern up, never the log.
pub const MAX_EVIDENCE_EVENTS: usize = 20;

impl Insight {
    /// An insight of `pattern` for the finding identified by `key` (the command, agent, file
    /// or threads it is about). Severity defaults to warning, confidence to 0.5.
    pub fn new(pattern: impl Into<String>, key: impl Into<String>) -> Self {
        Insight {
            pattern: pattern.into(),
            key: key.into(),
            severity: Severity::Warning,
            confidence: 0.5,
            message: String::new(),
            recommendation: String::new(),
            evidence: Evidence { event_ids: Vec::new(), fields: Vec::new() },
            affected_threads: Vec::new(),
            time_ms: 0,
        }
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// How sure the detector is; clamped to 0–1.
    pub fn confidence(mut self, confidence: f64) -> Self {
        self.confidence = confidence.clamp(0.0, 1.0) as f32;
        self
    }

    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    pub fn recommendation(mut self, recommendation: impl Into<String>) -> Self {
        self.recommendation = recommendation.into();
        self
    }

    /// Adds an event as evidence: its id (while under the bound), its thread, and its time as
    /// the insight's time if it is the latest.
    pub fn event(mut self, event: &Event<'_>) -> Self {
        if self.evidence.event_ids.len() < MAX_EVIDENCE_EVENTS {
            self.evidence.event_ids.push(event.id);
        }
        if let Some(thread) = &event.thread_id {
            self = self.thread(thread.as_ref());
        }
        self.time_ms = self.time_ms.max(event.time_ms);
        self
    }

    /// Adds every event in `events` as evidence.
    pub fn events<'a, 'e: 'a>(self, events: impl IntoIterator<Item = &'a Event<'e>>) -> Self {
        events.into_iter().fold(self, Insight::event)
    }

    /// Adds an event id as evidence, for detectors that keep ids rather than events.
    pub fn event_id(mut self, id: u64, time_ms: i64) -> Self {
        if self.evidence.event_ids.len() < MAX_EVIDENCE_EVENTS && !self.evidence.event_ids.contains(&id) {
            self.evidence.event_ids.push(id);
        }
        self.time_ms = self.time_ms.max(time_ms);
        self
    }

    /// Adds a measurement or example to the evidence.
    pub fn evidence(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.evidence.fields.push(Field { key: key.into(), value: value.into() });
        self
    }

    /// Names an affected agent thread (once).
    pub fn thread(mut self, thread: impl Into<String>) -> Self {
        let thread = thread.into();
        if !self.affected_threads.contains(&thread) {
            self.affected_threads.push(thread);
        }
        self
    }

    /// Sets the event time at which the pattern was complete.
    pub fn at(mut self, time_ms: i64) -> Self {
        self.time_ms = time_ms;
        self
    }
}
