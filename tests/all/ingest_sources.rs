//! Every devloop log, written by devloop 0.10.3's own classes (tests/devloop/write_fixtures.py),
//! read back through the library into the events docs/events.md promises.

use std::collections::HashSet;
use std::sync::OnceLock;

use devloop_host::ingest::{self, DevloopDirs, Ingested};
use devloop_host::model::{Event, Source, Status, Value};
use devloop_host_tests::devloop::run_script;

const THREAD: &str = "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f";
/// The fixture's simulated clock starts here (2026-11-25T07:44:03Z).
const START_MS: i64 = 1_795_592_643_000;

fn fixture_dirs() -> &'static DevloopDirs {
    static DIRS: OnceLock<DevloopDirs> = OnceLock::new();
    DIRS.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("ingest-sources");
        let _ = std::fs::remove_dir_all(&root);
        let project = root.join("proj").join(".devloop");
        let home = root.join("home").join(".devloop");
        run_script("write_fixtures.py", &[&project, &home]);
        DevloopDirs { project, home: Some(home) }
    })
}

fn ingested() -> &'static Ingested {
    static INGESTED: OnceLock<Ingested> = OnceLock::new();
    INGESTED.get_or_init(|| ingest::read_all(fixture_dirs()).expect("the fixture folders are readable"))
}

fn events_of(source: Source) -> Vec<&'static Event> {
    ingested().events.iter().filter(|event| event.source == source).collect()
}

fn kinds(events: &[&Event]) -> Vec<String> {
    events.iter().map(|event| event.kind.to_string()).collect()
}

fn text(event: &Event, key: &str) -> Option<String> {
    match event.field(key) {
        Some(Value::Text(text)) => Some(text.clone()),
        _ => None,
    }
}

#[test]
fn the_whole_stream_is_ordered_complete_and_clean() {
    let ingested = ingested();
    assert!(ingested.malformed.is_empty(), "{:?}", ingested.malformed);
    let times: Vec<i64> = ingested.events.iter().map(|event| event.time_ms).collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "events are in time order");
    let mut ids = HashSet::new();
    for event in &ingested.events {
        assert!(ids.insert(event.id), "every event has its own id: {event:?}");
    }
    let sources: HashSet<Source> = ingested.events.iter().map(|event| event.source).collect();
    assert_eq!(sources.len(), 9, "every source gave events: {sources:?}");
}

#[test]
fn cli_actions_become_commands_with_their_thread() {
    let events = events_of(Source::CliActions);
    assert_eq!(events.len(), 4);
    let burst: Vec<_> = events.iter().filter(|event| event.subject.as_deref() == Some("bd ready")).collect();
    assert_eq!(burst.len(), 3);
    assert!(
        burst.iter().all(|event| event.thread_id.as_deref() == Some(THREAD) && event.outcome.status == Status::Success)
    );
    assert_eq!(burst.iter().map(|event| event.time_ms - START_MS).collect::<Vec<_>>(), [0, 10_000, 20_000]);
    let status = events.iter().find(|event| event.subject.as_deref() == Some("status")).expect("the status run");
    assert_eq!(
        (status.outcome.status, status.outcome.exit_code, status.duration_ms),
        (Status::Failure, Some(1), Some(300))
    );
    assert_eq!(status.thread_id, None);
    assert!(events.iter().all(|event| event.kind == "cli.command"));
}

#[test]
fn the_amp_thread_log_gives_each_item_once() {
    let events = events_of(Source::AmpThread);
    let mut found = kinds(&events);
    found.sort();
    assert_eq!(found, ["thread.agent_action", "thread.insight", "thread.prompt", "thread.user_action"]);
    assert!(events.iter().all(|event| event.thread_id.as_deref() == Some(THREAD)));
    let action = events.iter().find(|event| event.kind == "thread.agent_action").expect("the agent action");
    assert_eq!(action.subject.as_deref(), Some("ruff check src"));
    assert_eq!(text(action, "output").as_deref(), Some("3 issues"));
    let user = events.iter().find(|event| event.kind == "thread.user_action").expect("the user action");
    assert_eq!(user.subject.as_deref(), Some("fixed the imports by hand"));
    assert_eq!(user.field("time_after_agent_action"), Some(&Value::Integer(30)));
    let insight = events.iter().find(|event| event.kind == "thread.insight").expect("the insight");
    assert_eq!(insight.subject.as_deref(), Some("user_manual_fix_after_agent"));
}

#[test]
fn telemetry_events_keep_their_type_agent_and_details() {
    let events = events_of(Source::Telemetry);
    assert_eq!(
        kinds(&events),
        [
            "telemetry.agent_executed",
            "telemetry.agent_executed",
            "telemetry.agent_finding",
            "telemetry.pre_commit_check",
            "telemetry.value_event"
        ]
    );
    assert_eq!(
        (events[0].actor.as_deref(), events[0].outcome.status, events[0].duration_ms),
        (Some("linter"), Status::Success, Some(410))
    );
    assert_eq!(events[1].outcome.status, Status::Failure);
    assert_eq!(events[2].subject.as_deref(), Some("src/app.py"));
    assert_eq!(events[2].field("line"), Some(&Value::Integer(42)));
    assert_eq!(events[3].field("checks_run"), Some(&Value::Integer(4)));
    assert_eq!(text(events[4], "event_name").as_deref(), Some("interruption_prevented"));
}

#[test]
fn performance_metrics_are_agent_operations() {
    let events = events_of(Source::Performance);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].subject.as_deref(), Some("agent.linter.handle"));
    assert_eq!((events[0].actor.as_deref(), events[0].duration_ms), (Some("linter"), Some(410)));
    assert_eq!(events[1].subject.as_deref(), Some("agent.formatter.handle"));
    assert_eq!(text(events[1], "event_type").as_deref(), Some("file:modified"));
}

#[test]
fn event_store_rows_are_read_in_time_order() {
    let events = events_of(Source::EventStore);
    assert_eq!(kinds(&events), ["agent.completed", "agent.completed", "file.modified"]);
    assert_eq!((events[0].subject.as_deref(), events[0].outcome.status), (Some("linter"), Status::Success));
    assert_eq!((events[1].subject.as_deref(), events[1].outcome.status), (Some("formatter"), Status::Failure));
    assert_eq!(events[2].subject.as_deref(), Some("src/app.py"));
    assert_eq!(events[2].actor.as_deref(), Some("filesystem"));
}

#[test]
fn feedback_and_the_performance_snapshot_are_about_agents() {
    let events = events_of(Source::Feedback);
    let feedback: Vec<_> = events.iter().filter(|event| event.kind != "feedback.performance_snapshot").collect();
    assert_eq!(
        feedback.iter().map(|event| event.kind.as_ref()).collect::<Vec<_>>(),
        ["feedback.thumbs_down", "feedback.rating"]
    );
    assert_eq!(feedback[0].subject.as_deref(), Some("linter"));
    assert_eq!(feedback[0].field("value"), Some(&Value::Boolean(true)));
    assert_eq!(text(feedback[0], "comment").as_deref(), Some("false positive"));
    assert_eq!(feedback[1].field("value"), Some(&Value::Integer(2)));
    let mut agents: Vec<_> = events
        .iter()
        .filter(|event| event.kind == "feedback.performance_snapshot")
        .map(|event| event.subject.clone().unwrap_or_default())
        .collect();
    agents.sort();
    assert_eq!(agents, ["formatter", "linter"]);
}

#[test]
fn agent_audit_entries_name_their_files_and_commands() {
    let events = events_of(Source::AgentAudit);
    assert_eq!(kinds(&events), ["audit.fix_applied", "audit.command_executed"]);
    assert!(events[0].subject.as_deref().is_some_and(|path| path.ends_with("src/app.py")));
    assert_eq!(events[0].field("lines_changed"), Some(&Value::Integer(2)));
    assert_eq!(events[1].subject.as_deref(), Some("pytest -q"));
    assert_eq!((events[1].outcome.status, events[1].outcome.exit_code), (Status::Failure, Some(1)));
}

#[test]
fn security_audit_tells_runs_blocks_and_timeouts_apart() {
    let events = events_of(Source::SecurityAudit);
    assert_eq!(kinds(&events), ["security.execution", "security.blocked", "security.timeout"]);
    assert_eq!(events[0].subject.as_deref(), Some("pytest"));
    assert_eq!(events[0].outcome.status, Status::Success);
    assert_eq!(text(events[1], "block_reason").as_deref(), Some("network access not allowed"));
    assert_eq!(events[2].duration_ms, Some(30_000));
}

#[test]
fn the_daemon_log_keeps_tracebacks_with_their_record() {
    let events = events_of(Source::DaemonLog);
    assert_eq!(
        kinds(&events),
        ["log.record", "log.record", "log.agent_result", "log.agent_result", "log.record", "log.record"]
    );
    assert_eq!(
        events[0].field("continuation"),
        Some(&Value::Texts(vec!["DevLoop v2 daemon started (PID: 4242)".to_owned()]))
    );
    assert_eq!(events[0].time_ms, START_MS, "lines before any record take the next record's time");
    assert_eq!((events[2].subject.as_deref(), events[2].duration_ms), (Some("linter"), Some(410)));
    assert_eq!(events[3].outcome.status, Status::Failure);
    let Some(Value::Texts(traceback)) = events[4].field("continuation") else {
        panic!("the traceback: {:?}", events[4])
    };
    assert_eq!(traceback.first().map(String::as_str), Some("Traceback (most recent call last):"));
    assert_eq!(traceback.last().map(String::as_str), Some("ValueError: config missing"));
    assert_eq!(text(events[4], "level").as_deref(), Some("ERROR"));
}

#[test]
fn sources_lists_every_log_with_its_events_and_span() -> anyhow::Result<()> {
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample/.devloop");
    let output = std::process::Command::new(crate::binary())
        .args(["sources", "--devloop-dir"])
        .arg(&sample)
        .arg("--home-devloop-dir")
        .arg(&sample)
        .output()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout)?;
    for source in [
        "telemetry",
        "agent-audit",
        "feedback",
        "performance",
        "event-store",
        "security-audit",
        "daemon-log",
        "cli-actions",
        "amp-thread",
    ] {
        assert!(stdout.lines().any(|line| line.starts_with(source)), "no `{source}` row in:\n{stdout}");
    }
    let total = ingest::read_all(&DevloopDirs { project: sample.clone(), home: Some(sample) })?.events.len();
    assert!(stdout.contains(&format!("\n{total} event(s), 0 late, 0 malformed record(s).")), "{stdout}");
    assert!(stdout.contains("2026-11-23 08:12:47"), "the first event's time: {stdout}");
    Ok(())
}
