//! The host's events as the SDK's types, so a benchmark can run a detector crate natively on
//! the same events its component is given.

use devloop_host::model::{Event, Status, Value};
use devloop_plugin_sdk::{Outcome as SdkOutcome, Status as SdkStatus, Value as SdkValue};

fn sdk_value(value: &Value) -> SdkValue {
    match value {
        Value::Text(text) => SdkValue::Text(text.clone()),
        Value::Integer(integer) => SdkValue::Integer(*integer),
        Value::Float(float) => SdkValue::Float(*float),
        Value::Boolean(flag) => SdkValue::Boolean(*flag),
        Value::Texts(texts) => SdkValue::Texts(texts.clone()),
        Value::Json(json) => SdkValue::Json(json.clone()),
    }
}

/// Each event with every field, as the SDK's glue would read it: its texts borrowed from the
/// host's event, its fields owned.
pub fn sdk_events(events: &[Event]) -> Vec<devloop_plugin_sdk::Event<'_>> {
    events
        .iter()
        .map(|event| devloop_plugin_sdk::Event {
            id: event.id,
            time_ms: event.time_ms,
            source: event.source.as_str().into(),
            kind: event.kind.as_str().into(),
            actor: event.actor.as_deref().map(Into::into),
            thread_id: event.thread_id.as_deref().map(Into::into),
            subject: event.subject.as_deref().map(Into::into),
            outcome: SdkOutcome {
                status: match event.outcome.status {
                    Status::Success => SdkStatus::Success,
                    Status::Failure => SdkStatus::Failure,
                    Status::Unknown => SdkStatus::Unknown,
                },
                exit_code: event.outcome.exit_code,
            },
            duration_ms: event.duration_ms,
            fields: devloop_plugin_sdk::Fields::Built(
                event
                    .fields
                    .iter()
                    .map(|field| devloop_plugin_sdk::Field {
                        key: field.key.to_string(),
                        value: sdk_value(&field.value),
                    })
                    .collect(),
            ),
        })
        .collect()
}
