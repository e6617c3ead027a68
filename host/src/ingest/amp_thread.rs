//! `amp-thread-log.jsonl`: Amp threads as devloop's `AmpThreadMapper` records them. Every
//! change re-appends the whole thread, so one thread appears on many lines; only items not seen
//! on an earlier line become events.
//!
//! An item is known by its thread, its list, its index in that list and its content. The
//! content matters because a mapper that reloads a thread from the file takes the thread's
//! *first* line, so a later line can hold a different item at an index already seen.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value as Json;

use super::fields::{Fields, from_line, iso_millis};
use crate::model::{Event, Outcome, Source};

#[derive(Deserialize)]
struct ThreadEntry {
    timestamp: String,
    thread_id: String,
    #[serde(default)]
    thread_url: Option<String>,
    #[serde(default)]
    user_prompt: Option<String>,
    #[serde(default)]
    agent_actions: Vec<Json>,
    #[serde(default)]
    user_manual_actions: Vec<Json>,
    #[serde(default)]
    insights: Vec<Json>,
}

/// The items seen so far, across lines.
#[derive(Default)]
pub struct AmpThreadLog {
    seen: HashSet<u64>,
}

fn text(item: &Json, key: &str) -> Option<String> {
    item.get(key).and_then(Json::as_str).map(str::to_owned)
}

impl AmpThreadLog {
    /// Forgets what was seen (the file was replaced).
    pub fn reset(&mut self) {
        self.seen.clear();
    }

    /// The events for items of this line not seen on earlier lines.
    pub fn parse_line(&mut self, line: &[u8], out: &mut Vec<Event>) -> Result<(), String> {
        let entry: ThreadEntry = from_line(line)?;
        if entry.thread_id.is_empty() {
            return Err("`thread_id` is empty".to_owned());
        }
        let entry_time = iso_millis(&entry.timestamp)?;
        let mut latest_time = entry_time;
        for item in entry.agent_actions.iter().chain(&entry.user_manual_actions) {
            latest_time = latest_time.max(item_time(item, entry_time)?);
        }
        let mut new_events = Vec::new();
        let prompt = entry.user_prompt.clone().filter(|prompt| !prompt.is_empty());
        if let Some(prompt) = prompt {
            let key = self.item_key(&entry.thread_id, "prompt", 0, &Json::String(prompt.clone()));
            if let Some(id) = key {
                let mut fields = Fields::default();
                fields.add("thread_url", entry.thread_url.clone());
                new_events.push(event(
                    id,
                    entry_time,
                    "thread.prompt",
                    Some("user"),
                    &entry,
                    Some(prompt),
                    Outcome::default(),
                    fields,
                ));
            }
        }
        for (index, item) in entry.agent_actions.iter().enumerate() {
            let Some(id) = self.item_key(&entry.thread_id, "agent_action", index, item) else { continue };
            let time = item_time(item, entry_time)?;
            let action = text(item, "action");
            let subject = text(item, "command").filter(|command| !command.is_empty()).or_else(|| action.clone());
            let outcome = Outcome::from_success(item.get("success").and_then(Json::as_bool));
            let mut fields = Fields::default();
            fields.add("action", action).add("output", text(item, "output")).add("index", Some(index as i64));
            new_events.push(event(id, time, "thread.agent_action", Some("agent"), &entry, subject, outcome, fields));
        }
        for (index, item) in entry.user_manual_actions.iter().enumerate() {
            let Some(id) = self.item_key(&entry.thread_id, "user_action", index, item) else { continue };
            let time = item_time(item, entry_time)?;
            let mut fields = Fields::default();
            fields
                .add("action", text(item, "action"))
                .add_json("time_after_agent_action", item.get("time_after_agent_action"))
                .add_json_text("related_agent_actions", item.get("related_agent_actions"))
                .add("index", Some(index as i64));
            let subject = text(item, "description");
            new_events.push(event(
                id,
                time,
                "thread.user_action",
                Some("user"),
                &entry,
                subject,
                Outcome::default(),
                fields,
            ));
        }
        for (index, item) in entry.insights.iter().enumerate() {
            let Some(id) = self.item_key(&entry.thread_id, "insight", index, item) else { continue };
            let mut fields = Fields::default();
            fields
                .add("severity", text(item, "severity"))
                .add("message", text(item, "message"))
                .add_json_text("evidence", item.get("evidence"));
            let subject = text(item, "pattern");
            new_events.push(event(
                id,
                latest_time,
                "thread.insight",
                None,
                &entry,
                subject,
                Outcome::default(),
                fields,
            ));
        }
        new_events.sort_by_key(|event| event.time_ms);
        self.seen.extend(new_events.iter().map(|event| event.id));
        out.extend(new_events);
        Ok(())
    }

    /// The id of an item not seen on an earlier line; `None` if it was. Items are marked seen
    /// only once their whole line parsed, so a bad line never hides its items.
    fn item_key(&self, thread: &str, list: &str, index: usize, item: &Json) -> Option<u64> {
        let content = item.to_string();
        let index = (index as u64).to_le_bytes();
        let id = Event::stable_id(&[b"amp-thread", thread.as_bytes(), list.as_bytes(), &index, content.as_bytes()]);
        (!self.seen.contains(&id)).then_some(id)
    }
}

fn item_time(item: &Json, entry_time: i64) -> Result<i64, String> {
    match item.get("timestamp").and_then(Json::as_str) {
        Some(timestamp) => iso_millis(timestamp),
        None => Ok(entry_time),
    }
}

#[expect(clippy::too_many_arguments, reason = "one place builds every thread event")]
fn event(
    id: u64,
    time_ms: i64,
    kind: &'static str,
    actor: Option<&str>,
    entry: &ThreadEntry,
    subject: Option<String>,
    outcome: Outcome,
    fields: Fields,
) -> Event {
    Event {
        id,
        time_ms,
        source: Source::AmpThread,
        kind: kind.into(),
        actor: actor.map(Into::into),
        thread_id: Some(entry.thread_id.as_str().into()),
        subject,
        outcome,
        duration_ms: None,
        fields: fields.into_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Value;

    const FIRST: &str = r#"{"timestamp": "2026-11-25T07:00:00+00:00", "thread_id": "T-1", "thread_url": "https://ampcode.com/threads/T-1", "user_prompt": "fix the linter", "agent_actions": [{"action": "linter", "command": "ruff check", "output": "3 issues", "timestamp": "2026-11-25T07:00:05+00:00", "success": true}], "user_manual_actions": [], "insights": []}"#;
    const SECOND: &str = r#"{"timestamp": "2026-11-25T07:00:00+00:00", "thread_id": "T-1", "thread_url": "https://ampcode.com/threads/T-1", "user_prompt": "fix the linter", "agent_actions": [{"action": "linter", "command": "ruff check", "output": "3 issues", "timestamp": "2026-11-25T07:00:05+00:00", "success": true}], "user_manual_actions": [{"action": "manual_fix", "description": "fixed imports by hand", "time_after_agent_action": 30, "timestamp": "2026-11-25T07:00:35+00:00", "related_agent_actions": [0]}], "insights": []}"#;

    #[test]
    fn a_re_appended_thread_gives_only_its_new_items() -> Result<(), String> {
        let mut log = AmpThreadLog::default();
        let mut events = Vec::new();
        log.parse_line(FIRST.as_bytes(), &mut events)?;
        let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_ref()).collect();
        assert_eq!(kinds, ["thread.prompt", "thread.agent_action"]);
        events.clear();
        log.parse_line(SECOND.as_bytes(), &mut events)?;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, "thread.user_action");
        assert_eq!(events[0].subject.as_deref(), Some("fixed imports by hand"));
        assert_eq!(events[0].thread_id.as_deref(), Some("T-1"));
        assert_eq!(events[0].field("time_after_agent_action"), Some(&Value::Integer(30)));
        Ok(())
    }
}
