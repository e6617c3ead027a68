//! The 0.2.0 contract through the real runtime: a detector built with the SDK receives exactly
//! the events of its kinds and the fields it declared, every value intact; and a 0.1.0 plugin
//! (the C port) runs in the same pipeline as 0.2.0 ones, each finding what it finds alone.

use std::collections::BTreeMap;

use anyhow::{Result, anyhow};
use devloop_host::dispatch::Pipeline;
use devloop_host::model::{Event, Field, Insight, Outcome, Source, Status, Value};
use devloop_host::runtime::{ApiVersion, BatchOutcome, Runtime, RuntimeConfig, Supervisor};
use devloop_host_tests::polyglot;

use crate::conformance::cli_event;

/// Above 2^53: an id that a float anywhere on the way would round.
const LARGE_ID: u64 = (1 << 60) + 3;

fn field(key: &str, value: Value) -> Field {
    Field { key: key.to_owned().into(), value }
}

fn texts(items: &[&str]) -> Value {
    Value::Texts(items.iter().map(|item| (*item).to_owned()).collect())
}

/// The events the echo fixture is sent: one of each wanted kind, one it did not ask for, and
/// between them every case of value, unicode, empty strings and absent columns.
fn probe_events() -> Vec<Event> {
    let command = Event {
        id: LARGE_ID,
        time_ms: -1_000,
        source: Source::CliActions,
        kind: "cli.command".into(),
        actor: Some("".into()),
        thread_id: Some("T-ünï-🧪".into()),
        subject: Some("grep -r 'naïve ✓' .".into()),
        outcome: Outcome::from_exit_code(Some(-2)),
        duration_ms: Some(u64::MAX),
        fields: vec![
            field("kept", Value::Text("ünï ✓".into())),
            field("dropped", Value::Text("not declared".into())),
            field("ünïcödé", Value::Integer(i64::MIN)),
            field("empty", Value::Text(String::new())),
            field("many", texts(&["a", "", "ç"])),
            field("also_dropped", Value::Float(0.5)),
        ],
    };
    let unwanted = Event {
        id: 7,
        kind: "file.modified".into(),
        source: Source::AgentAudit,
        fields: vec![field("kept", Value::Text("never seen".into()))],
        ..command.clone()
    };
    let probe = Event {
        id: u64::MAX,
        time_ms: 5_000,
        source: Source::Telemetry,
        kind: "probe.x".into(),
        actor: None,
        thread_id: None,
        subject: None,
        outcome: Outcome { status: Status::Unknown, exit_code: None },
        duration_ms: None,
        fields: vec![
            field("kept", Value::Float(-2.5)),
            field("many", texts(&[])),
            field("empty", Value::Json("{\"a\":[1,null]}".into())),
            field("ünïcödé", Value::Boolean(true)),
        ],
    };
    vec![command, unwanted, probe]
}

/// What the echo reports for an event, field by field, in the order it reports them.
fn echoed(insight: &Insight) -> Vec<(String, Value)> {
    insight.evidence.fields.iter().map(|field| (field.key.to_string(), field.value.clone())).collect()
}

fn expected(source: &str, time_ms: i64, columns: [Value; 6], fields: &[(&str, Value)]) -> Vec<(String, Value)> {
    let [actor, thread, subject, status, exit_code, duration] = columns;
    let mut all = vec![
        ("source".to_owned(), Value::Text(source.to_owned())),
        ("time_ms".to_owned(), Value::Integer(time_ms)),
        ("actor".to_owned(), actor),
        ("thread_id".to_owned(), thread),
        ("subject".to_owned(), subject),
        ("status".to_owned(), status),
        ("exit_code".to_owned(), exit_code),
        ("duration_ms".to_owned(), duration),
    ];
    all.extend(fields.iter().map(|(key, value)| (format!("field:{key}"), value.clone())));
    all
}

#[test]
fn a_v02_detector_gets_its_kinds_and_declared_fields_with_every_value_intact() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let source = runtime.load_file(devloop_host_tests::hostile("echo"))?;
    assert_eq!(source.api_version, ApiVersion::V0_2_0);
    let mut echo = Supervisor::start(&runtime, source, Vec::new())?;
    assert_eq!(echo.description().api_version, "0.2.0");
    let events = probe_events();
    let insights = match echo.process(&devloop_host_tests::batch_for(&echo, &events)) {
        BatchOutcome::Insights(insights) => insights,
        other => return Err(anyhow!("expected insights, got {other:?}")),
    };

    let ids: Vec<u64> = insights.iter().flat_map(|insight| insight.evidence.event_ids.clone()).collect();
    assert_eq!(ids, [LARGE_ID, u64::MAX], "the kinds it asked for, in order, ids exact");
    assert_eq!(insights[0].key, LARGE_ID.to_string());
    assert_eq!(insights[0].message, "cli.command");
    assert_eq!(
        echoed(&insights[0]),
        expected(
            "cli-actions",
            -1_000,
            [
                texts(&[""]),
                texts(&["T-ünï-🧪"]),
                texts(&["grep -r 'naïve ✓' ."]),
                Value::Text("Failure".into()),
                texts(&["-2"]),
                texts(&[&u64::MAX.to_string()])
            ],
            &[
                ("kept", Value::Text("ünï ✓".into())),
                ("ünïcödé", Value::Integer(i64::MIN)),
                ("empty", Value::Text(String::new())),
                ("many", texts(&["a", "", "ç"])),
            ],
        )
    );
    assert_eq!(insights[1].message, "probe.x");
    assert_eq!(
        echoed(&insights[1]),
        expected(
            "telemetry",
            5_000,
            [texts(&[]), texts(&[]), texts(&[]), Value::Text("Unknown".into()), texts(&[]), texts(&[])],
            &[
                ("kept", Value::Float(-2.5)),
                ("many", texts(&[])),
                ("empty", Value::Json("{\"a\":[1,null]}".into())),
                ("ünïcödé", Value::Boolean(true)),
            ],
        )
    );
    Ok(())
}

/// The batch buffer the SDK reuses from batch to batch must hold only the new batch: a second,
/// smaller batch with fewer fields and absent columns echoes nothing of the first.
#[test]
fn a_v02_detector_sees_each_batch_afresh() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut echo = Supervisor::start(&runtime, runtime.load_file(devloop_host_tests::hostile("echo"))?, Vec::new())?;
    let first = probe_events();
    let BatchOutcome::Insights(_) = echo.process(&devloop_host_tests::batch_for(&echo, &first)) else {
        return Err(anyhow!("the first batch failed"));
    };
    let mut second = cli_event(9, 9, "ls", "dev", 0);
    second.actor = None;
    second.fields = vec![field("many", Value::Integer(3))];
    let insights = match echo.process(&devloop_host_tests::batch_for(&echo, &[second])) {
        BatchOutcome::Insights(insights) => insights,
        other => return Err(anyhow!("expected insights, got {other:?}")),
    };
    assert_eq!(insights.len(), 1);
    assert_eq!(
        echoed(&insights[0]),
        expected(
            "cli-actions",
            1_795_000_009_000,
            [texts(&[]), texts(&[]), texts(&["ls"]), Value::Text("Success".into()), texts(&["0"]), texts(&["250"])],
            &[("many", Value::Integer(3))],
        )
    );
    Ok(())
}

/// The findings of one pipeline run, by detector, without the timing-free parts that differ.
fn findings_by_detector(pipeline: &Pipeline) -> BTreeMap<String, Vec<(String, Vec<u64>)>> {
    let mut found: BTreeMap<String, Vec<(String, Vec<u64>)>> = BTreeMap::new();
    for (insight, _) in pipeline.findings() {
        found
            .entry(insight.detector.clone())
            .or_default()
            .push((insight.key.clone(), insight.evidence.event_ids.clone()));
    }
    found
}

/// Three weeks of CLI traffic: varied background, a burst of one command, and a failing
/// release that is worked around the same way on three days (with its error message).
fn mixed_traffic() -> Vec<Event> {
    let commands = ["status", "status", "bd ready", "insights list", "status", "doctor"];
    let mut events: Vec<Event> = (0..60)
        .map(|i| cli_event(10_000 + i, i as i64 * 700, commands[i as usize % commands.len()], "dev", 0))
        .collect();
    events.extend((100..105).map(|i| cli_event(i, 50_000 + i as i64, "bd ready", "ops", 0)));
    for day in 0..3_u64 {
        let start = 100_000 + day as i64 * 86_400;
        let mut failure = cli_event(day * 2, start, "release publish", "dev", 1);
        failure.fields.push(field("error_message", Value::Text("twine not configured".into())));
        events.push(failure);
        events.push(cli_event(day * 2 + 1, start + 120, "twine upload dist/*", "dev", 0));
    }
    events.sort_by_key(|event| event.time_ms);
    events
}

#[test]
fn a_v01_plugin_and_v02_plugins_run_side_by_side_each_as_alone() -> Result<()> {
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(polyglot::cache_root().join("test-components")),
        ..RuntimeConfig::default()
    })?;
    let c_port = runtime.load_file(&polyglot::example("command-repetition-c").map_err(|error| anyhow!(error))?)?;
    assert_eq!(c_port.api_version, ApiVersion::V0_1_0);
    let workaround = runtime.load_file(devloop_host_tests::plugin("failure-workaround"))?;
    let rerun = runtime.load_file(devloop_host_tests::plugin("command-rerun"))?;
    assert_eq!((workaround.api_version, rerun.api_version), (ApiVersion::V0_2_0, ApiVersion::V0_2_0));
    let events = mixed_traffic();

    let mut together = Pipeline::new(&runtime, 16);
    for source in [&c_port, &workaround, &rerun] {
        together.start(source.clone(), Vec::new())?;
    }
    together.feed(&events);
    together.tick(events.last().map_or(0, |event| event.time_ms) + 3_600_000);
    assert!(together.problems().is_empty(), "{:?}", together.problems());
    let together = findings_by_detector(&together);

    let mut alone = BTreeMap::new();
    for source in [&c_port, &workaround, &rerun] {
        let mut pipeline = Pipeline::new(&runtime, 16);
        pipeline.start(source.clone(), Vec::new())?;
        pipeline.feed(&events);
        pipeline.tick(events.last().map_or(0, |event| event.time_ms) + 3_600_000);
        alone.extend(findings_by_detector(&pipeline));
    }
    assert_eq!(together, alone);
    assert!(
        together.get("command-repetition").is_some_and(|found| found.iter().any(|(key, _)| key == "bd ready\u{1f}ops")),
        "the 0.1 C port finds the burst: {together:#?}"
    );
    assert!(together.contains_key("failure-workaround"), "a 0.2 detector finds the workaround: {together:#?}");
    Ok(())
}
