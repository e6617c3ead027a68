//! `feedback/feedback.jsonl`: what the user thought of an agent's work (`FeedbackStore`):
//! thumbs up or down, a rating, a comment, or a dismissal.

use std::borrow::Cow;

use serde::Deserialize;

use super::compact_json::CompactJson;
use super::fields::{Fields, epoch_millis, from_line, kind_named};
use crate::model::{Event, Outcome, Source};

/// The `feedback_type`s devloop's feedback store writes.
const KINDS: [&str; 5] =
    ["feedback.thumbs_up", "feedback.thumbs_down", "feedback.rating", "feedback.comment", "feedback.dismiss"];

/// The feedback type only goes into the kind, so it is borrowed from the line where it holds
/// no escape.
#[derive(Deserialize)]
struct Feedback<'a> {
    id: Option<String>,
    agent_name: String,
    event_type: Option<String>,
    #[serde(borrow)]
    feedback_type: Cow<'a, str>,
    #[serde(default)]
    value: serde_json::Value,
    comment: Option<String>,
    context: Option<CompactJson>,
    timestamp: f64,
}

/// One line of `feedback.jsonl` as a `feedback.<feedback_type>` event.
pub fn parse_line(line: &[u8], id: u64) -> Result<Event, String> {
    let feedback: Feedback = from_line(line)?;
    if feedback.feedback_type.is_empty() {
        return Err("`feedback_type` is empty".to_owned());
    }
    let mut fields = Fields::with_capacity(5);
    fields
        .add_json("value", Some(&feedback.value))
        .add("comment", feedback.comment)
        .add("event_type", feedback.event_type)
        .add_compact_json("context", feedback.context)
        .add("feedback_id", feedback.id);
    Ok(Event {
        id,
        time_ms: epoch_millis(feedback.timestamp)?,
        source: Source::Feedback,
        kind: kind_named("feedback", &feedback.feedback_type, &KINDS),
        actor: None,
        thread_id: None,
        subject: Some(feedback.agent_name),
        outcome: Outcome::default(),
        duration_ms: None,
        fields: fields.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    #[test]
    fn thumbs_down_is_about_the_agent() -> Result<(), String> {
        let record = r#"{"id": "52f2b52e-cbf8-4ffa-b5e6-ddc79680998f", "agent_name": "linter", "event_type": "agent:linter:completed", "feedback_type": "thumbs_down", "value": true, "comment": "false positive", "context": {"file": "src/app.py"}, "timestamp": 1795592643.2946448}"#;
        let event = parse_line(record.as_bytes(), 1)?;
        assert_eq!(event.kind, "feedback.thumbs_down");
        assert_eq!(event.subject.as_deref(), Some("linter"));
        assert_eq!(event.time_ms, 1_795_592_643_294);
        assert_eq!(event.field("value"), Some(&Value::Boolean(true)));
        assert_eq!(event.field("feedback_id"), Some(&Value::from("52f2b52e-cbf8-4ffa-b5e6-ddc79680998f")));
        Ok(())
    }
}
