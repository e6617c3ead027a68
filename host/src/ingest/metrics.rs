//! `performance/metrics.jsonl`: how long each agent's handling of an event took and what it
//! used (`PerformanceMonitor`). Timed at `end_time`, when the record was written.

use serde::Deserialize;

use super::fields::{Fields, epoch_millis, from_line, seconds_to_millis};
use crate::model::{Event, Outcome, Source};

#[derive(Deserialize, Default)]
struct Metadata {
    event_type: Option<String>,
    agent_name: Option<String>,
}

#[derive(Deserialize)]
struct Metric {
    operation_name: String,
    start_time: f64,
    end_time: Option<f64>,
    duration: Option<f64>,
    success: Option<bool>,
    error_message: Option<String>,
    #[serde(default)]
    metadata: Option<Metadata>,
    cpu_used: Option<f64>,
    memory_used_mb: Option<f64>,
}

/// One line of `metrics.jsonl` as a `performance.operation` event.
pub fn parse_line(line: &[u8], id: u64) -> Result<Event, String> {
    let metric: Metric = from_line(line)?;
    let metadata = metric.metadata.unwrap_or_default();
    let mut fields = Fields::with_capacity(4);
    fields
        .add("error_message", metric.error_message)
        .add("event_type", metadata.event_type)
        .add("cpu_used", metric.cpu_used)
        .add("memory_used_mb", metric.memory_used_mb);
    Ok(Event {
        id,
        time_ms: epoch_millis(metric.end_time.unwrap_or(metric.start_time))?,
        source: Source::Performance,
        kind: "performance.operation".into(),
        actor: metadata.agent_name.map(Into::into),
        thread_id: None,
        subject: Some(metric.operation_name),
        outcome: Outcome::from_success(metric.success),
        duration_ms: metric.duration.and_then(seconds_to_millis),
        fields: fields.into_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_handle_is_timed_at_its_end() -> Result<(), String> {
        let record = r#"{"operation_name": "agent.linter.handle", "start_time": 1795592643.4006138, "end_time": 1795592643.5119097, "duration": 0.11129593849182129, "success": true, "error_message": null, "metadata": {"event_type": "file:modified", "agent_name": "linter"}, "cpu_used": 0.0, "memory_used_mb": 0.0}"#;
        let event = parse_line(record.as_bytes(), 1)?;
        assert_eq!(event.time_ms, 1_795_592_643_511);
        assert_eq!(event.duration_ms, Some(111));
        assert_eq!(event.actor.as_deref(), Some("linter"));
        assert_eq!(event.subject.as_deref(), Some("agent.linter.handle"));
        Ok(())
    }
}
