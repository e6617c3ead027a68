//! Dismissals go back to devloop: each one is appended to `<devloop>/feedback/feedback.jsonl` as
//! a `dismiss` record in the exact shape devloop's `FeedbackStore.store_feedback` writes, so
//! devloop's own readers (and its learning from feedback) see it.
//!
//! devloop writes `json.dumps(record) + "\n"`: keys in a fixed order, `", "` and `": "` as
//! separators, non-ASCII escaped as `\uXXXX`, and a float Unix timestamp. This writer produces
//! the same bytes.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::store::StoredFinding;

/// The record, field for field in devloop's order.
#[derive(Debug, Serialize)]
struct FeedbackRecord<'a> {
    id: String,
    agent_name: &'a str,
    event_type: String,
    feedback_type: &'static str,
    value: Option<()>,
    comment: Option<&'a str>,
    context: Context<'a>,
    timestamp: f64,
}

/// What devloop learns about the dismissed finding.
#[derive(Debug, Serialize)]
struct Context<'a> {
    source: &'static str,
    fingerprint: &'a str,
    pattern: &'a str,
    key: &'a str,
    severity: &'static str,
    confidence: f64,
    message: &'a str,
    occurrences: u64,
    affected_threads: &'a [String],
}

/// Where devloop keeps feedback in a project's devloop folder.
pub fn feedback_file(devloop_dir: &Path) -> PathBuf {
    devloop_dir.join("feedback").join("feedback.jsonl")
}

/// The `event_type` of a dismissal of a `pattern` finding, in devloop's `source:name:what` style.
pub fn event_type(pattern: &str) -> String {
    format!("devloop-host:{pattern}:dismissed")
}

/// Appends a `dismiss` record for `finding` (the detector is the "agent" dismissed) to the
/// feedback log under `devloop_dir`, creating its folder as devloop does. Returns the record id.
pub fn append_dismissal(
    devloop_dir: &Path,
    finding: &StoredFinding,
    reason: Option<&str>,
    now_ms: i64,
) -> std::io::Result<String> {
    let insight = &finding.insight;
    let record = FeedbackRecord {
        id: uuid::Uuid::new_v4().to_string(),
        agent_name: &insight.detector,
        event_type: event_type(&insight.pattern),
        feedback_type: "dismiss",
        value: None,
        comment: reason,
        context: Context {
            source: "devloop-host",
            fingerprint: finding.fingerprint.as_str(),
            pattern: &insight.pattern,
            key: &insight.key,
            severity: insight.severity.as_str(),
            confidence: (f64::from(insight.confidence) * 1000.0).round() / 1000.0,
            message: &insight.message,
            occurrences: finding.occurrences,
            affected_threads: &insight.affected_threads,
        },
        timestamp: now_ms as f64 / 1000.0,
    };
    let mut line = python_json(&record);
    line.push('\n');
    let path = feedback_file(devloop_dir);
    std::fs::create_dir_all(path.parent().expect("the feedback file has a folder"))?;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
    file.write_all(line.as_bytes())?;
    Ok(record.id)
}

/// `value` as Python's `json.dumps` (default arguments) writes it.
fn python_json(value: &impl Serialize) -> String {
    let mut bytes = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, PythonFormatter);
    value.serialize(&mut serializer).expect("a feedback record always serializes");
    String::from_utf8(bytes).expect("the formatter writes ASCII")
}

/// `json.dumps` separators and `ensure_ascii`.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        if first { Ok(()) } else { writer.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + Write>(&mut self, writer: &mut W, fragment: &str) -> std::io::Result<()> {
        for character in fragment.chars() {
            if character.is_ascii() {
                writer.write_all(&[character as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in character.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_what_python_json_dumps_writes() {
        #[derive(Serialize)]
        struct Sample<'a> {
            text: &'a str,
            list: [u8; 2],
            none: Option<()>,
            time: f64,
        }
        let sample = Sample { text: "café \u{1f600} \"q\"\n", list: [1, 2], none: None, time: 1795592643.2946448 };
        // json.dumps({"text": "café 😀 \"q\"\n", "list": [1, 2], "none": None, "time": 1795592643.2946448})
        assert_eq!(
            python_json(&sample),
            r#"{"text": "caf\u00e9 \ud83d\ude00 \"q\"\n", "list": [1, 2], "none": null, "time": 1795592643.2946448}"#
        );
    }
}
