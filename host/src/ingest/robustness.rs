//! Property tests: no parser panics on any input, whether arbitrary bytes, or devloop's own
//! records with their values swapped for arbitrary JSON (wrong types, huge numbers, nulls).

use std::collections::VecDeque;

use proptest::prelude::*;
use serde_json::Value as Json;

use super::amp_thread::AmpThreadLog;
use super::daemon_log::{DaemonLogReader, parse_header, record_event};
use super::event_store::{Row, row_event};
use super::jsonl::{JsonlReader, LineFormat};
use super::reader::{Slot, SourceReader};
use super::{agent_audit, cli_actions, feedback, metrics, performance_snapshot, security_audit, telemetry};
use crate::model::{Event, Source};

type Parse = fn(&[u8], u64) -> Result<Event, String>;

const ONE_PER_LINE: &[(Parse, &str)] = &[
    (
        cli_actions::parse_line,
        r#"{"timestamp": "2026-11-25T07:44:03.959661+00:00", "command": "status", "exit_code": 0, "thread_id": "T-1", "thread_url": "u", "duration_ms": 312, "user": "dev", "working_dir": "/p", "environment": null, "output_size_bytes": 0, "error_message": null, "notes": null}"#,
    ),
    (
        telemetry::parse_line,
        r#"{"event_type": "agent_finding", "timestamp": "2026-11-25T07:44:03.291538+00:00", "agent": "t", "duration_ms": null, "findings": null, "severity_levels": ["error"], "success": null, "details": {"file": "a.py", "line": 42}}"#,
    ),
    (
        agent_audit::parse_line,
        r#"{"timestamp": "2026-11-25T07:44:03+00:00", "agent_name": "f", "action_type": "fix_applied", "message": "m", "success": true, "duration_ms": 35, "file_modifications": [{"path": "/a", "diff_lines": ["-a", "+b"]}], "command": null, "exit_code": null, "error": null, "findings_count": null, "context": {"k": 1}}"#,
    ),
    (
        feedback::parse_line,
        r#"{"id": "x", "agent_name": "linter", "event_type": "e", "feedback_type": "rating", "value": 3, "comment": null, "context": null, "timestamp": 1795592643.29}"#,
    ),
    (
        metrics::parse_line,
        r#"{"operation_name": "agent.l.handle", "start_time": 1795592643.4, "end_time": 1795592643.5, "duration": 0.1, "success": true, "error_message": null, "metadata": {"event_type": "e", "agent_name": "l"}, "cpu_used": 0.0, "memory_used_mb": 0.0}"#,
    ),
    (
        security_audit::parse_line,
        r#"{"timestamp": "2026-11-25T07:44:03+00:00", "sandbox_mode": "b", "command": "c", "args_count": 1, "cwd": "/", "exit_code": 0, "duration_ms": 5, "memory_peak_mb": 1.0, "cpu_usage_percent": 1.0, "blocked": false, "block_reason": null, "timeout": false, "error": null}"#,
    ),
];

const AMP_LINE: &str = r#"{"timestamp": "2026-11-25T07:00:00+00:00", "thread_id": "T-1", "thread_url": "u", "user_prompt": "p", "agent_actions": [{"action": "a", "command": "c", "output": "o", "timestamp": "2026-11-25T07:00:05+00:00", "success": true}], "user_manual_actions": [{"action": "manual_fix", "description": "d", "time_after_agent_action": 3, "timestamp": "2026-11-25T07:00:09+00:00", "related_agent_actions": [0]}], "insights": [{"pattern": "p", "severity": "info", "message": "m", "evidence": null}]}"#;

fn arbitrary_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::Bool),
        any::<i64>().prop_map(Json::from),
        any::<f64>().prop_map(Json::from),
        ".{0,12}".prop_map(Json::String),
        Just(Json::from(u64::MAX)),
        Just(Json::from(-1e300)),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Json::Array),
            prop::collection::btree_map(".{0,6}", inner, 0..3).prop_map(|map| Json::Object(map.into_iter().collect())),
        ]
    })
}

/// A devloop record with the value at every chosen key replaced.
fn mutated(record: &str, replacements: &[(usize, Json)]) -> Vec<u8> {
    let mut value: Json = serde_json::from_str(record).expect("the examples are JSON");
    if let Json::Object(map) = &mut value {
        let keys: Vec<String> = map.keys().cloned().collect();
        for (index, replacement) in replacements {
            if let Some(key) = keys.get(index % keys.len().max(1)) {
                map.insert(key.clone(), replacement.clone());
            }
        }
    }
    value.to_string().into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn line_parsers_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for (parse, _) in ONE_PER_LINE {
            let _ = parse(&bytes, 0);
        }
        let _ = AmpThreadLog::default().parse_line(&bytes, &mut Vec::new());
        let _ = performance_snapshot::parse_snapshot(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        if let Some(header) = parse_header(&text) {
            let _ = record_event(Some(&header), &[text.to_string()], 0);
        }
    }

    #[test]
    fn line_parsers_never_panic_on_devloop_records_with_odd_values(
        replacements in prop::collection::vec((any::<usize>(), arbitrary_json()), 1..4)
    ) {
        for (parse, record) in ONE_PER_LINE {
            let _ = parse(&mutated(record, &replacements), 0);
        }
        let _ = AmpThreadLog::default().parse_line(&mutated(AMP_LINE, &replacements), &mut Vec::new());
    }

    #[test]
    fn daemon_log_headers_never_panic(
        stamp in "[0-9 :-]{0,24}", level in "[A-Za-z ]{0,10}", logger in ".{0,20}", message in ".{0,40}"
    ) {
        let line = format!("{stamp} | {level} | {logger} | {message}");
        if let Some(header) = parse_header(&line) {
            let _ = record_event(Some(&header), &[], 0);
        }
    }

    #[test]
    fn event_store_rows_never_panic(kind in ".{0,20}", payload in ".{0,40}", json in arbitrary_json(), timestamp in any::<f64>()) {
        let base = Row { id: "r".to_owned(), kind, timestamp, source: "s".to_owned(), payload, priority: 1, created_at: timestamp };
        let _ = row_event(&base);
        let _ = row_event(&Row { payload: json.to_string(), ..base });
    }

    #[test]
    fn readers_never_panic_on_arbitrary_files(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().expect("a scratch folder");
        let path = dir.path().join("log");
        std::fs::write(&path, &bytes).expect("write the file");
        let readers: Vec<Box<dyn SourceReader>> = vec![
            Box::new(JsonlReader::new(Slot { source: Source::CliActions, path: path.clone() }, LineFormat::OnePerLine(cli_actions::parse_line))),
            Box::new(JsonlReader::new(Slot { source: Source::AmpThread, path: path.clone() }, LineFormat::AmpThread(AmpThreadLog::default()))),
            Box::new(DaemonLogReader::new(Slot { source: Source::DaemonLog, path: path.clone() })),
        ];
        for mut reader in readers {
            let mut out = VecDeque::new();
            let mut malformed = Vec::new();
            reader.fill(10_000, &mut out, &mut malformed).expect("reading a local file works");
            for record in &malformed {
                prop_assert!(record.line >= 1);
            }
        }
    }
}
