//! A dismissal reaches devloop: appended to `.devloop/feedback/feedback.jsonl` in devloop's own
//! format, and read back by the real devloop package's `FeedbackStore`.

use anyhow::Result;

use super::insights_support::{Project, THREAD, burst, python};

/// Reads every record for `agent` with devloop's own reader, and re-writes each one with
/// devloop's own writer into a scratch folder, to compare the bytes.
const READ_BACK: &str = r#"
import asyncio, importlib, json, sys, tempfile
from pathlib import Path
feedback = importlib.import_module("devloop.core.feedback")
store = feedback.FeedbackStore(Path(sys.argv[1]))
items = asyncio.run(store.get_feedback_for_agent(sys.argv[2]))
scratch = feedback.FeedbackStore(Path(tempfile.mkdtemp()))
for item in reversed(items):
    asyncio.run(scratch.store_feedback(item))
print(json.dumps({
    "items": [{"id": i.id, "agent_name": i.agent_name, "event_type": i.event_type,
               "feedback_type": i.feedback_type.value, "value": i.value, "comment": i.comment,
               "context": i.context, "timestamp": i.timestamp} for i in items],
    "rewritten": scratch.feedback_file.read_text(),
}))
"#;

#[test]
fn a_dismissal_is_read_back_by_devloops_own_feedback_store() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    project.run_ok(&[])?;
    let finding = &project.listed(&[])?[0];
    let fingerprint = finding["fingerprint"].as_str().unwrap_or_default().to_owned();

    project.ok(&["insights", "dismiss", &fingerprint, "--reason", "bd ready is polled by a script – café"], &[])?;
    let feedback_dir = project.path().join(".devloop/feedback");
    let written = std::fs::read_to_string(feedback_dir.join("feedback.jsonl"))?;
    assert_eq!(written.lines().count(), 1);

    let read: serde_json::Value =
        serde_json::from_str(&python(READ_BACK, &[&feedback_dir.display().to_string(), "command-repetition"])?)?;
    let items = read["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "devloop reads the dismissal for the detector: {read}");
    let item = &items[0];
    assert_eq!(item["feedback_type"], "dismiss");
    assert_eq!(item["value"], serde_json::Value::Null);
    assert_eq!(item["comment"], "bd ready is polled by a script – café");
    assert_eq!(item["event_type"], "devloop-host:command_repetition:dismissed");
    assert_eq!(item["context"]["fingerprint"], fingerprint.as_str());
    assert_eq!(item["context"]["source"], "devloop-host");
    assert_eq!(item["context"]["occurrences"], 4);
    assert_eq!(item["context"]["affected_threads"][0], THREAD);
    let age = chrono_free_age(item["timestamp"].as_f64().unwrap_or(0.0));
    assert!((0.0..120.0).contains(&age), "a float epoch timestamp of now, got {age}s ago");
    assert_eq!(read["rewritten"].as_str(), Some(written.as_str()), "byte for byte what devloop's own writer writes");

    let again =
        project.ok(&["insights", "dismiss", &fingerprint, "--reason", "bd ready is polled by a script – café"], &[])?;
    assert!(again.contains("already dismissed"), "{again}");
    assert_eq!(
        std::fs::read_to_string(feedback_dir.join("feedback.jsonl"))?.lines().count(),
        1,
        "a repeated dismissal is not sent twice"
    );
    Ok(())
}

fn chrono_free_age(timestamp: f64) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs_f64())
        .unwrap_or(0.0);
    now - timestamp
}

#[test]
fn without_a_devloop_folder_the_dismissal_stays_in_the_store() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    project.run_ok(&[])?;
    let fingerprint = project.listed(&[])?[0]["fingerprint"].as_str().unwrap_or_default().to_owned();
    let output = project.devloop_host(&["insights", "dismiss", &fingerprint, "--devloop-dir", "elsewhere"], &[])?;
    assert!(output.status.success());
    assert!(String::from_utf8(output.stderr)?.contains("no devloop folder at elsewhere"));
    assert!(!project.path().join("elsewhere").exists());
    assert_eq!(project.listed(&["--status", "dismissed"])?.len(), 1);
    Ok(())
}
