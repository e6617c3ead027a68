//! Plugins that loop, hog memory, panic, flood results or answer with errors are stopped within
//! their limits, tagged, and isolated, while a healthy plugin in the same run keeps working.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use devloop_host::dispatch::Pipeline;
use devloop_host::runtime::{Limits, PluginFailure, Runtime, RuntimeConfig};

use crate::conformance::cli_event;

/// The deadline is tight only where a deadline is what the test is about: on a loaded machine,
/// honest work must never run into it.
fn runtime_with_deadline(call_deadline: Duration) -> Result<Runtime> {
    Runtime::new(RuntimeConfig {
        limits: Limits { call_deadline, memory_bytes: 32 << 20, ..Limits::default() },
        cache_dir: None,
    })
}

fn runtime() -> Result<Runtime> {
    runtime_with_deadline(Duration::from_secs(30))
}

/// Runs the hostile fixture `feature` next to command-repetition over a planted burst, and
/// returns the problems reported for the hostile plugin.
fn run_beside_healthy(feature: &str) -> Result<Vec<String>> {
    let deadline = if feature == "endless-loop" { Duration::from_millis(300) } else { Duration::from_secs(30) };
    let runtime = runtime_with_deadline(deadline)?;
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load(devloop_host_tests::hostile(feature), &BTreeMap::new())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let events: Vec<_> = (0..20).map(|i| cli_event(i, i as i64 * 20, "bd ready", "dev", 0)).collect();
    pipeline.feed(&events);

    let findings = pipeline.findings();
    assert_eq!(findings.len(), 1, "the healthy plugin still reports its finding beside {feature}");
    assert_eq!(findings[0].0.detector, "command-repetition");
    assert_eq!(findings[0].0.pattern, "command_repetition");
    assert!(pipeline.problems().iter().all(|problem| problem.plugin == "hostile"), "{:?}", pipeline.problems());
    Ok(pipeline.problems().iter().map(|problem| problem.to_string()).collect())
}

fn assert_isolated(problems: &[String], expected: &str) {
    assert!(!problems.is_empty());
    assert!(problems[0].contains(expected), "first problem should say `{expected}`: {problems:#?}");
    assert!(problems[0].starts_with("plugin hostile: "), "{problems:#?}");
    assert!(problems.iter().any(|problem| problem.contains("quarantined")), "{problems:#?}");
}

#[test]
fn endless_loop_is_interrupted_at_its_deadline() -> Result<()> {
    let problems = run_beside_healthy("endless-loop")?;
    assert_isolated(&problems, "ran past its deadline of 300ms");
    Ok(())
}

#[test]
fn memory_bomb_is_stopped_at_its_cap() -> Result<()> {
    let problems = run_beside_healthy("memory-bomb")?;
    assert_isolated(&problems, "memory past the cap of 32 MiB");
    Ok(())
}

#[test]
fn panic_is_a_trap_not_a_detector_error() -> Result<()> {
    let problems = run_beside_healthy("panic")?;
    assert_isolated(&problems, "trapped: wasm `unreachable` executed");
    Ok(())
}

#[test]
fn oversized_result_is_rejected() -> Result<()> {
    let problems = run_beside_healthy("oversized-result")?;
    assert_isolated(&problems, "returned an oversized result (5000 insights)");
    Ok(())
}

#[test]
fn detector_error_is_reported_and_never_quarantines() -> Result<()> {
    let problems = run_beside_healthy("detector-error")?;
    assert_eq!(problems.len(), 5, "one per batch: {problems:#?}");
    assert!(problems.iter().all(|problem| problem.contains("the detector reported an error: hostile fixture answers")));
    Ok(())
}

#[test]
fn failures_back_off_then_quarantine() -> Result<()> {
    let runtime = runtime()?;
    let mut pipeline = Pipeline::new(&runtime, 1);
    pipeline.load(devloop_host_tests::hostile("panic"), &BTreeMap::new())?;
    let events: Vec<_> = (0..10).map(|i| cli_event(i, i as i64, "status", "dev", 0)).collect();
    pipeline.feed(&events);
    let health = pipeline.plugins()[0].health();
    assert!(health.quarantined);
    assert_eq!(health.failures, Limits::default().quarantine_after);
    let problems: Vec<String> = pipeline.problems().iter().map(|problem| problem.problem.clone()).collect();
    // batch 1 fails; batch 2 runs on a fresh instance and fails; batch 3 is skipped (backoff);
    // batch 4 fails a third time; everything after is quarantined.
    assert!(problems[0].contains("trapped") && problems[0].ends_with("will be restarted"), "{problems:#?}");
    assert!(problems[1].contains("trapped"), "{problems:#?}");
    assert!(problems[2].contains("backing off"), "{problems:#?}");
    assert!(problems[3].ends_with("quarantined for the rest of the run"), "{problems:#?}");
    assert!(problems[4..].iter().all(|problem| problem.contains("is quarantined")), "{problems:#?}");
    assert_eq!(
        PluginFailure::Quarantined { failures: 3 }.to_string(),
        "is quarantined after 3 failures in a row; fix it and reload it"
    );
    Ok(())
}

#[test]
fn a_plugin_sees_no_files_env_network_or_wall_clock() -> Result<()> {
    use devloop_host::model::Value;
    let runtime = runtime()?;
    let mut pipeline = Pipeline::new(&runtime, 8);
    pipeline.load(devloop_host_tests::hostile("snoop"), &BTreeMap::new())?;
    pipeline.feed(&[cli_event(1, 0, "status", "dev", 0)]);
    let findings = pipeline.findings();
    assert_eq!(findings.len(), 1, "{:?}", pipeline.problems());
    let seen = |key: &str| {
        findings[0].0.evidence.fields.iter().find(|field| field.key == key).map(|field| field.value.clone())
    };
    assert_eq!(seen("env_vars"), Some(Value::Integer(0)));
    assert_eq!(seen("root_listing"), Some(Value::Boolean(false)));
    assert_eq!(seen("cwd_listing"), Some(Value::Boolean(false)));
    assert_eq!(seen("wall_clock_seconds"), Some(Value::Integer(0)), "the wall clock is stopped at the epoch");
    assert_eq!(seen("tcp_connect"), Some(Value::Boolean(false)));
    Ok(())
}
