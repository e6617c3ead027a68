//! Plugins that loop, hog memory, panic, flood results or answer with errors are stopped within
//! their limits, tagged, and isolated, while a healthy plugin in the same run keeps working.
//! So are plugins that stay under every per-call limit but go over a budget for the run, that
//! report under another detector's pattern or claim its id, or trap while saving or restoring
//! their state: beside each, command-repetition reports exactly what it reports alone.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use devloop_host::dispatch::{Cut, CutState, Pipeline, PluginChange, SwapOutcome};
use devloop_host::ingest::DevloopDirs;
use devloop_host::model::{Event, Insight};
use devloop_host::routing::RoutingConfig;
use devloop_host::runtime::{Budget, Limits, PluginFailure, PluginHealth, Runtime, RuntimeConfig, Supervisor};
use devloop_host::store::{PluginSnapshot, Store};
use devloop_host::stream::{self, CheckpointPolicy, Stop};

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

fn runtime_with_budget(budget: Budget) -> Result<Runtime> {
    Runtime::new(RuntimeConfig {
        limits: Limits { call_deadline: Duration::from_secs(30), memory_bytes: 64 << 20, budget, ..Limits::default() },
        cache_dir: None,
    })
}

/// 20 runs of `bd ready` by `dev`, 20 s apart: one burst for command-repetition.
fn planted() -> Vec<Event> {
    (0..20).map(|i| cli_event(i, i as i64 * 20, "bd ready", "dev", 0)).collect()
}

/// What command-repetition reports over [`planted`] when it runs alone, in batches of
/// `batch_size` (it sends one report of a finding per batch).
fn healthy_alone(batch_size: usize) -> Result<Vec<(Insight, u64)>> {
    let runtime = runtime()?;
    let mut pipeline = Pipeline::new(&runtime, batch_size);
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    pipeline.feed(&planted());
    ensure!(pipeline.findings().len() == 1, "the burst is found: {:?}", pipeline.findings());
    Ok(pipeline.findings())
}

/// Runs the hostile fixture `feature` beside command-repetition over [`planted`] in batches of
/// 4 under `budget`, checks command-repetition reports what it reports alone, and returns the
/// hostile plugin's problems, its health, and its own findings.
fn beside_healthy_within(feature: &str, budget: Budget) -> Result<(Vec<String>, PluginHealth, Vec<Insight>)> {
    let runtime = runtime_with_budget(budget)?;
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load(devloop_host_tests::hostile(feature), &BTreeMap::new())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    pipeline.feed(&planted());
    let (healthy, hostile): (Vec<_>, Vec<_>) =
        pipeline.findings().into_iter().partition(|(insight, _)| insight.detector == "command-repetition");
    assert_eq!(healthy, healthy_alone(4)?, "command-repetition beside {feature} reports what it reports alone");
    assert!(pipeline.problems().iter().all(|problem| problem.plugin == "hostile"), "{:?}", pipeline.problems());
    let problems = pipeline.problems().iter().map(ToString::to_string).collect();
    let health = pipeline.plugins()[0].health().clone();
    Ok((problems, health, hostile.into_iter().map(|(insight, _)| insight).collect()))
}

#[test]
fn insights_under_an_undeclared_pattern_are_rejected_and_counted() -> Result<()> {
    let (problems, health, own) = beside_healthy_within("undeclared-pattern", Budget::default())?;
    assert_eq!(own.len(), 1, "its finding under its own pattern stays: {own:?}");
    assert_eq!(own[0].pattern, "hostile");
    assert_eq!(health.undeclared_rejected, 5, "one per batch");
    assert!(!health.quarantined);
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(
        problems.iter().all(|problem| problem
            == "plugin hostile: 1 insight(s) rejected: pattern `command_repetition` is not one it declared (`hostile`)"),
        "{problems:#?}"
    );
    Ok(())
}

/// Loads command-repetition, then the fixture `feature`; returns why the second was refused.
fn refused_after_healthy(feature: &str) -> Result<String> {
    let runtime = runtime()?;
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let refused = pipeline.load(devloop_host_tests::hostile(feature), &BTreeMap::new()).err().map(|e| e.to_string());
    let message = refused.context("the second plugin is refused")?;
    assert_eq!(pipeline.plugins().len(), 1);
    pipeline.feed(&planted());
    assert_eq!(pipeline.findings(), healthy_alone(4)?);
    for file in [devloop_host_tests::hostile(feature), devloop_host_tests::plugin("command-repetition")] {
        assert!(message.contains(&file.display().to_string()), "names {}: {message}", file.display());
    }
    Ok(message)
}

#[test]
fn a_second_detector_with_a_loaded_id_is_refused_naming_both_files() -> Result<()> {
    let message = refused_after_healthy("duplicate-id")?;
    assert!(message.contains("holds detector `command-repetition`, which is already loaded from"), "{message}");
    Ok(())
}

#[test]
fn a_detector_declaring_a_loaded_pattern_is_refused_naming_both_files() -> Result<()> {
    let message = refused_after_healthy("pattern-thief")?;
    assert!(
        message.contains("declares pattern `command_repetition`, which detector `command-repetition`"),
        "{message}"
    );
    Ok(())
}

#[test]
fn a_hot_swap_that_claims_a_loaded_pattern_is_refused() -> Result<()> {
    let runtime = runtime()?;
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let file = devloop_host_tests::hostile("pattern-thief");
    let candidate = Supervisor::start(&runtime, runtime.load_file(file)?, Vec::new())?;
    let outcome = pipeline.apply(PluginChange::Ready {
        file: file.to_owned(),
        candidate: Box::new(candidate),
        noticed: std::time::Instant::now(),
        disposal: None,
    });
    let SwapOutcome::Rejected { reason, .. } = outcome else { anyhow::bail!("not refused: {outcome:?}") };
    assert!(reason.contains("declares pattern `command_repetition`"), "{reason}");
    assert!(reason.contains(&devloop_host_tests::plugin("command-repetition").display().to_string()), "{reason}");
    assert_eq!(pipeline.plugins().len(), 1);
    Ok(())
}

#[test]
fn plugins_add_refuses_a_detector_claiming_an_installed_pattern() -> Result<()> {
    let project = tempfile::tempdir()?;
    let plugins = project.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
    let output = std::process::Command::new(crate::binary())
        .current_dir(project.path())
        .args(["plugins", "add"])
        .arg(devloop_host_tests::hostile("pattern-thief"))
        .args(["--plugins", "plugins", "--cache-dir", "cache"])
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr)?;
    assert!(stderr.contains("declares pattern `command_repetition`"), "{stderr}");
    assert!(stderr.contains("plugins/command_repetition.wasm"), "{stderr}");
    assert_eq!(std::fs::read_dir(&plugins)?.count(), 1, "nothing installed");
    Ok(())
}

fn assert_over_budget(problems: &[String], health: &PluginHealth, resource: &str) {
    let first = problems.first().map(String::as_str).unwrap_or_default();
    assert!(first.contains("went over its budget for this run") && first.contains(resource), "{problems:#?}");
    assert!(first.contains("; quarantined for the rest of the run"), "{problems:#?}");
    assert!(health.quarantined);
    assert_eq!(health.quarantine_reason.as_deref().map(|reason| first.contains(reason)), Some(true));
    assert!(
        problems[1..].iter().all(|problem| problem.contains("is quarantined: went over its budget")),
        "{problems:#?}"
    );
}

#[test]
fn a_plugin_slow_on_every_call_is_quarantined_by_its_time_budget() -> Result<()> {
    let budget = Budget { time_base: Duration::from_millis(100), time_per_event: Duration::ZERO, ..Budget::default() };
    let (problems, health, _) = beside_healthy_within("slow", budget)?;
    assert_over_budget(&problems, &health, "of time inside the plugin");
    assert_eq!(health.events_seen, 4, "stopped after its first call");
    Ok(())
}

/// The `spinner` fixture costs a few tens of milliseconds of CPU on every call, far under its
/// deadline; in batches of one, its CPU budget for the run stops it after a few calls, while
/// command-repetition beside it sees every batch and reports what it reports alone.
#[test]
fn a_plugin_spinning_on_every_call_is_quarantined_by_its_cpu_budget_and_the_other_sees_every_batch() -> Result<()> {
    let budget = Budget {
        cpu_base: Duration::from_millis(100),
        cpu_per_event: Duration::ZERO,
        time_base: Duration::from_secs(3600),
        ..Budget::default()
    };
    let runtime = runtime_with_budget(budget)?;
    let mut pipeline = Pipeline::new(&runtime, 1);
    pipeline.load(devloop_host_tests::hostile("spinner"), &BTreeMap::new())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let events = planted();
    pipeline.submit(&events);
    pipeline.settle();
    let (healthy, _): (Vec<_>, Vec<_>) =
        pipeline.findings().into_iter().partition(|(insight, _)| insight.detector == "command-repetition");
    assert_eq!(healthy, healthy_alone(1)?, "command-repetition beside the spinner reports what it reports alone");
    let problems: Vec<String> = pipeline.problems().iter().map(ToString::to_string).collect();
    let plugins = pipeline.plugins();
    let (spinner, other) = (plugins[0].health(), plugins[1].health());
    assert_over_budget(&problems, spinner, "of CPU time inside the plugin");
    assert!(
        !problems.iter().any(|problem| problem.contains("deadline")),
        "no call reached its deadline: {problems:#?}"
    );
    assert_eq!(other.events_seen, events.len() as u64, "command-repetition saw every batch");
    assert!(!other.quarantined && other.failures == 0);
    assert!(
        spinner.events_seen * 2 < other.events_seen,
        "the spinner was stopped after a few batches, not at the end: {} of {}",
        spinner.events_seen,
        other.events_seen
    );
    assert_eq!(problems.len() as u64, events.len() as u64 - spinner.events_seen + 1, "{problems:#?}");
    Ok(())
}

/// The planted burst, then `count` commands that are all different (nothing to report).
fn planted_then_quiet(count: u64) -> Vec<Event> {
    let quiet = (20..20 + count).map(|i| cli_event(i, 400 + i as i64 * 20, &format!("ls dir-{i}"), "dev", 0));
    planted().into_iter().chain(quiet).collect()
}

/// Feeds `events[..split]` and `events[split..]` in batches of one, with a checkpoint's cut
/// after each, and returns both cuts and the findings.
fn two_cuts(pipeline: &mut Pipeline, events: &[Event], split: usize) -> Result<(Cut, Cut)> {
    pipeline.submit(&events[..split]);
    pipeline.cut(true);
    pipeline.submit(&events[split..]);
    pipeline.cut(true);
    Ok((pipeline.next_cut().context("the first cut")?, pipeline.next_cut().context("the second cut")?))
}

fn state_of<'a>(cut: &'a Cut, plugin: &str) -> Option<&'a CutState> {
    cut.states.iter().find(|state| state.plugin == plugin)
}

/// The feed used to wait for a plugin 4 batches behind, and every checkpoint for every plugin.
/// Now, beside the spinner (tens of milliseconds per call, never quarantined here),
/// command-repetition runs all 80 batches while the spinner is still far behind; and each
/// checkpoint's cut holds command-repetition's state and findings exactly as of the cut, as
/// when it runs alone, however far it ran past the cut meanwhile. The first cut is handed over
/// once the spinner has passed it, not once it has finished.
#[test]
fn a_slow_plugin_holds_neither_the_others_batches_nor_their_checkpoints() -> Result<()> {
    let budget =
        Budget { cpu_base: Duration::from_secs(3600), time_base: Duration::from_secs(3600), ..Budget::default() };
    let runtime = runtime_with_budget(budget)?;
    let events = planted_then_quiet(60);
    let mut alone = Pipeline::new(&runtime, 1);
    alone.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let (alone_first, alone_second) = two_cuts(&mut alone, &events, 20)?;

    let mut pipeline = Pipeline::new(&runtime, 1);
    pipeline.load(devloop_host_tests::hostile("spinner"), &BTreeMap::new())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    pipeline.submit(&events[..20]);
    pipeline.cut(true);
    pipeline.submit(&events[20..]);
    pipeline.cut(true);
    ensure!(pipeline.wait_caught_up("command-repetition", Duration::from_secs(300)), "command-repetition caught up");
    let behind = |pipeline: &Pipeline| {
        pipeline.progress().iter().find(|progress| progress.plugin == "hostile").map(|progress| progress.behind)
    };
    let spinner_behind = behind(&pipeline).context("the spinner's progress")?;
    assert!(spinner_behind > 4, "command-repetition ran every batch with the spinner {spinner_behind} behind");
    let first = pipeline.next_cut().context("the first cut")?;
    let spinner_behind = behind(&pipeline).context("the spinner's progress")?;
    assert!(spinner_behind > 0, "the first cut came once the spinner passed it, before it finished");
    let statuses = pipeline.statuses();
    let seen = statuses.iter().find(|status| status.id == "command-repetition").map(|status| status.events_seen);
    assert!(seen >= Some(20), "its status counts the batches every plugin has run, while lent: {seen:?}");
    let second = pipeline.next_cut().context("the second cut")?;
    assert!(pipeline.next_cut().is_none(), "two cuts were marked");

    for (cut, alone) in [(&first, &alone_first), (&second, &alone_second)] {
        let (healthy, hostile): (Vec<_>, Vec<_>) =
            cut.reported.iter().cloned().partition(|reports| reports.latest.detector == "command-repetition");
        assert_eq!(healthy, alone.reported, "command-repetition's findings at the cut are those alone");
        assert!(hostile.iter().all(|reports| reports.latest.detector == "hostile"));
        let (state, state_alone) = (state_of(cut, "command-repetition"), state_of(alone, "command-repetition"));
        assert_eq!(
            state.map(|state| &state.state),
            state_alone.map(|state| &state.state),
            "command-repetition's state at the cut is its state there alone"
        );
        assert!(state_of(cut, "hostile").is_some_and(|state| state.state.is_ok()), "the spinner's state is saved too");
    }
    assert!(!first.reported.is_empty(), "the burst is reported by the first cut");
    let (healthy, _): (Vec<_>, Vec<_>) =
        pipeline.findings().into_iter().partition(|(insight, _)| insight.detector == "command-repetition");
    assert_eq!(healthy, alone.findings(), "command-repetition beside the spinner reports what it reports alone");
    assert!(pipeline.problems().is_empty(), "{:?}", pipeline.problems());
    Ok(())
}

/// A plugin that fills its queue (65,536 events behind the feed) at a CPU cost per event that
/// would take it over its CPU budget before it caught up is quarantined then, rather than
/// holding every other plugin until it actually goes over: the `slow` fixture stops early, and
/// command-repetition beside it sees every batch and reports what it reports alone. The budget
/// (1 s and 10 µs per event) is far under what the fixture costs on any machine (a loop of
/// 500M additions per batch: ~150 µs per event here) and far over command-repetition's cost.
#[test]
fn a_plugin_holding_the_feed_at_a_rate_over_its_cpu_budget_is_quarantined_then() -> Result<()> {
    let budget =
        Budget { cpu_base: Duration::from_secs(1), cpu_per_event: Duration::from_micros(10), ..Budget::default() };
    let runtime = runtime_with_budget(budget)?;
    let events = planted_then_quiet(70_000);
    let mut alone = Pipeline::new(&runtime, 1024);
    alone.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    alone.feed(&events);
    let mut pipeline = Pipeline::new(&runtime, 1024);
    pipeline.load(devloop_host_tests::hostile("slow"), &BTreeMap::new())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    pipeline.feed(&events);

    let (healthy, _): (Vec<_>, Vec<_>) =
        pipeline.findings().into_iter().partition(|(insight, _)| insight.detector == "command-repetition");
    assert_eq!(healthy, alone.findings(), "command-repetition beside the slow plugin reports what it reports alone");
    let plugins = pipeline.plugins();
    let (slow, other) = (plugins[0].health(), plugins[1].health());
    assert_eq!(other.events_seen, events.len() as u64, "command-repetition saw every batch");
    assert!(slow.quarantined, "{slow:?}");
    let reason = slow.quarantine_reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("of CPU time inside the plugin projected at its rate so far for the events queued for it"),
        "{reason}"
    );
    assert!(slow.events_seen * 2 < events.len() as u64, "stopped early: {} events", slow.events_seen);
    Ok(())
}

/// What one in-process run over `project`'s logs with `plugins`, a checkpoint due after every
/// batch of one event, stored and found: the states committed, command-repetition's findings,
/// and the most events the `hostile` plugin was behind the feed at a batch boundary.
fn run_with_checkpoints(
    project: &super::insights_support::Project,
    plugins: &[&std::path::Path],
    state: &str,
) -> Result<Committed> {
    let budget =
        Budget { cpu_base: Duration::from_secs(3600), time_base: Duration::from_secs(3600), ..Budget::default() };
    let runtime = runtime_with_budget(budget)?;
    let mut pipeline = Pipeline::new(&runtime, 1);
    for plugin in plugins {
        pipeline.load(plugin, &BTreeMap::new())?;
    }
    let dirs = DevloopDirs { project: project.path().join(".devloop"), home: None };
    let mut store = Store::open(&project.path().join(state))?;
    let routing = RoutingConfig { rules: Vec::new(), ..RoutingConfig::default() };
    let options = stream::Options {
        batch_size: 1,
        from_start: false,
        strict: true,
        follow: None,
        trace_delivered: false,
        checkpoint: CheckpointPolicy { events: 1, interval: Duration::MAX },
    };
    let mut most_behind = 0;
    let hooks = stream::Hooks {
        between_batches: &mut |pipeline| {
            let hostile = pipeline.progress().into_iter().filter(|progress| progress.plugin == "hostile");
            most_behind = hostile.map(|progress| progress.behind).max().unwrap_or(0).max(most_behind);
        },
        after_round: &mut |_| Ok(()),
    };
    let destination = stream::Destination { store: &mut store, routing: &routing };
    stream::run(&dirs, &mut pipeline, destination, &options, &Stop::new(), hooks)?;
    ensure!(pipeline.problems().is_empty(), "{:?}", pipeline.problems());
    let healthy = pipeline.findings().into_iter().filter(|(insight, _)| insight.detector == "command-repetition");
    Ok(Committed { states: store.snapshots()?, found: healthy.collect(), most_behind })
}

/// What [`run_with_checkpoints`] stored and found.
struct Committed {
    states: HashMap<String, PluginSnapshot>,
    found: Vec<(Insight, u64)>,
    most_behind: usize,
}

/// The same through the run loop, whose checkpoints are due after every batch: beside the
/// spinner, the feed is more batches ahead of it than the old queue held (every due checkpoint
/// used to wait for every plugin), and what the run commits of command-repetition (its state)
/// and finds is what a run with it alone commits and finds.
#[test]
fn a_run_with_a_slow_plugin_feeds_the_others_past_its_checkpoints_and_commits_what_it_commits_alone() -> Result<()> {
    use super::insights_support::{Logged, Project, burst};
    let project = Project::new()?;
    let quiet: Vec<String> = (0..40).map(|index| format!("ls dir-{index}")).collect();
    let mut logged = burst(0, 6, "bd ready", None);
    logged.extend(quiet.iter().enumerate().map(|(index, command)| Logged {
        offset_seconds: 100 + index as u32 * 10,
        command,
        thread: None,
    }));
    project.log(&logged)?;
    let healthy = devloop_host_tests::plugin("command-repetition");
    let Committed { states: alone_states, found: alone_found, .. } =
        run_with_checkpoints(&project, &[healthy], "alone.db")?;
    let Committed { states, found, most_behind } =
        run_with_checkpoints(&project, &[devloop_host_tests::hostile("spinner"), healthy], "beside.db")?;
    assert!(most_behind > 4, "the feed ran ahead of the spinner past its checkpoints: at most {most_behind} behind");
    assert!(!alone_found.is_empty(), "the burst is found");
    assert!(alone_states.contains_key("command-repetition"), "command-repetition keeps state: {alone_states:?}");
    assert_eq!(found, alone_found, "command-repetition beside the spinner finds what it finds alone");
    assert_eq!(
        states.get("command-repetition"),
        alone_states.get("command-repetition"),
        "its committed state is the one alone"
    );
    Ok(())
}

/// `[limits]` in config.toml sets the CPU budget, and `plugins list` says why it quarantined.
#[test]
fn the_cpu_budget_is_read_from_the_config_file_and_plugins_list_shows_it() -> Result<()> {
    use super::insights_support::{Project, burst};
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", None))?;
    std::fs::copy(devloop_host_tests::hostile("spinner"), project.path().join("plugins/hostile.wasm"))?;
    std::fs::create_dir_all(project.path().join(".devloop-host"))?;
    std::fs::write(
        project.path().join(".devloop-host/config.toml"),
        "[limits]\ncpu_base_ms = 5\ncpu_per_event_us = 0\n",
    )?;
    let common = ["--plugins", "plugins", "--cache-dir", "cache", "--status-file", "status.json"];
    let mut run = vec!["run", "--devloop-dir", ".devloop"];
    run.extend(common);
    let output = project.devloop_host(&run, &[])?;
    ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut list = vec!["plugins", "list"];
    list.extend(common);
    let listed = project.ok(&list, &[])?;
    assert!(listed.contains("hostile is quarantined: went over its budget for this run"), "{listed}");
    assert!(listed.contains("of CPU time inside the plugin, more than the 0.0s for 4 events allowed"), "{listed}");
    let found = project.listed(&[])?;
    assert!(found.iter().any(|finding| finding["pattern"] == "command_repetition"), "{found:?}");
    Ok(())
}

#[test]
fn log_records_past_the_budget_are_dropped_and_counted() -> Result<()> {
    let budget = Budget { log_records_per_call: 50, log_records: 120, ..Budget::default() };
    let (problems, health, _) = beside_healthy_within("log-flood", budget)?;
    assert!(!health.quarantined, "a chatty plugin keeps running");
    assert_eq!(health.log_records, 120);
    assert_eq!(health.log_records_dropped, 5 * 10_000 - 120);
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(problems[0].contains("9950 log record(s) dropped, over its budget of 50 per call and 120 per run"));
    Ok(())
}

#[test]
fn a_flood_of_findings_is_quarantined_by_the_findings_budget() -> Result<()> {
    let (problems, health, own) =
        beside_healthy_within("finding-flood", Budget { findings: 1_500, ..Budget::default() })?;
    assert_over_budget(&problems, &health, "1998 distinct findings, more than the 1500 allowed");
    assert_eq!(own.len(), 999, "the call that went over is dropped whole");
    Ok(())
}

#[test]
fn a_flood_of_updates_is_quarantined_by_the_updates_budget() -> Result<()> {
    let (problems, health, own) =
        beside_healthy_within("update-flood", Budget { updates: 1_500, ..Budget::default() })?;
    assert_over_budget(&problems, &health, "1998 insights, more than the 1500 allowed");
    assert_eq!(own.len(), 1);
    Ok(())
}

#[test]
fn a_snapshot_over_its_budget_quarantines_the_plugin() -> Result<()> {
    let runtime = runtime_with_budget(Budget { snapshot_bytes: 1 << 20, ..Budget::default() })?;
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load(devloop_host_tests::hostile("snapshot-bomb"), &BTreeMap::new())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let events = planted();
    pipeline.feed(&events[..8]);
    let saved = pipeline.plugins_mut()[0].snapshot();
    assert!(
        matches!(&saved, Err(PluginFailure::OverBudget { resource: "bytes of saved state", used, .. }) if used == "2097152"),
        "{saved:?}"
    );
    assert!(pipeline.plugins()[0].health().quarantined);
    assert!(pipeline.plugins_mut()[1].snapshot()?.is_some(), "the healthy plugin saves its state");
    pipeline.feed(&events[8..]);
    let (healthy, _): (Vec<(Insight, u64)>, Vec<_>) =
        pipeline.findings().into_iter().partition(|(insight, _)| insight.detector == "command-repetition");
    assert_eq!(healthy, healthy_alone(4)?);
    Ok(())
}

#[test]
fn a_trap_in_snapshot_or_restore_loses_no_batch() -> Result<()> {
    let runtime = runtime()?;
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load(devloop_host_tests::hostile("state-trap"), &BTreeMap::new())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &BTreeMap::new())?;
    let events = planted();
    pipeline.feed(&events[..4]);
    let saved = pipeline.plugins_mut()[0].snapshot();
    assert!(matches!(&saved, Err(PluginFailure::Trap { .. })), "{saved:?}");
    pipeline.feed(&events[4..8]);
    let restored = pipeline.plugins_mut()[0].restore(b"state");
    assert!(matches!(&restored, Err(PluginFailure::Trap { .. })), "{restored:?}");
    pipeline.feed(&events[8..]);

    assert!(pipeline.problems().is_empty(), "every batch ran: {:?}", pipeline.problems());
    let batches: Vec<String> = pipeline
        .findings()
        .into_iter()
        .filter(|(insight, _)| insight.detector == "hostile")
        .map(|(insight, _)| insight.key)
        .collect();
    assert_eq!(batches.len(), 5, "one finding per batch, none lost: {batches:?}");
    for first in [0, 4, 8, 12, 16] {
        assert!(batches.contains(&format!("batch-{first}")), "batch from event {first}: {batches:?}");
    }
    assert!(!pipeline.plugins()[0].health().quarantined);
    Ok(())
}

#[test]
fn plugins_list_shows_why_a_plugin_is_quarantined() -> Result<()> {
    use super::insights_support::{Project, burst};
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", None))?;
    std::fs::copy(devloop_host_tests::hostile("finding-flood"), project.path().join("plugins/hostile.wasm"))?;
    let common = ["--plugins", "plugins", "--cache-dir", "cache", "--status-file", "status.json"];
    let mut run = vec!["run", "--devloop-dir", ".devloop", "--budget", "findings=500"];
    run.extend(common);
    let output = project.devloop_host(&run, &[])?;
    ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut list = vec!["plugins", "list"];
    list.extend(common);
    let listed = project.ok(&list, &[])?;
    assert!(
        listed.contains(
            "hostile is quarantined: went over its budget for this run: 999 distinct findings, more than the 500 allowed"
        ),
        "{listed}"
    );
    let found = project.listed(&[])?;
    assert_eq!(found.len(), 1, "command-repetition's finding only: {found:?}");
    assert_eq!(found[0]["pattern"], "command_repetition");
    Ok(())
}

#[test]
fn a_flood_of_findings_within_budget_does_not_flood_the_terminal() -> Result<()> {
    use super::insights_support::{Project, burst};
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", None))?;
    std::fs::copy(devloop_host_tests::hostile("finding-flood"), project.path().join("plugins/hostile.wasm"))?;
    let run = [
        "run",
        "--devloop-dir",
        ".devloop",
        "--plugins",
        "plugins",
        "--cache-dir",
        "cache",
        "--format",
        "json",
        "--budget",
        "findings=2000",
    ];
    let output = project.devloop_host(&run, &[])?;
    ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.stdout.iter().filter(|byte| **byte == b'\n').count(), 1_000, "stdout has every finding");
    let notices = String::from_utf8(output.stderr)?;
    assert!(notices.contains("1000 finding(s) to look at"), "{notices}");
    assert!(notices.contains("  … and 950 more"), "{notices}");
    assert!(notices.lines().count() < 60, "{} lines of notices", notices.lines().count());
    Ok(())
}

#[test]
fn a_flood_of_findings_routed_to_beads_is_filed_a_hundred_per_run() -> Result<()> {
    use super::insights_support::{Project, bd_init, bd_issues, bd_program, burst};
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", None))?;
    std::fs::copy(devloop_host_tests::hostile("finding-flood"), project.path().join("plugins/hostile.wasm"))?;
    let bd = bd_program(project.path())?;
    bd_init(&bd, project.path(), "proj")?;
    project.write(".devloop-host/routing.toml", "[[rule]]\nsinks = [\"beads\"]\n")?;
    let bd_bin = bd.display().to_string();
    let filed_after_run = || -> Result<usize> {
        project.run_ok(&[("BD_BIN", &bd_bin)])?;
        Ok(bd_issues(&bd, project.path())?.len())
    };
    assert_eq!(filed_after_run()?, devloop_host::sinks::beads::MAX_CREATES_PER_PASS);
    assert_eq!(filed_after_run()?, 2 * devloop_host::sinks::beads::MAX_CREATES_PER_PASS, "the rest stay queued");
    let queued = project.listed(&[])?.iter().filter(|finding| finding["filing"]["queued"] == true).count();
    assert_eq!(queued, 1_000 - 200, "nothing is lost");
    Ok(())
}

#[test]
fn run_refuses_a_second_file_with_a_loaded_id_and_keeps_the_first() -> Result<()> {
    use super::insights_support::{Project, burst};
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", None))?;
    std::fs::copy(devloop_host_tests::hostile("duplicate-id"), project.path().join("plugins/zz_impostor.wasm"))?;
    let output = project.run_ok(&[])?;
    let stderr = String::from_utf8(output.stderr)?;
    assert!(
        stderr.contains(
            "plugins/zz_impostor.wasm holds detector `command-repetition`, which is already loaded from \
             plugins/command_repetition.wasm"
        ),
        "{stderr}"
    );
    let found = project.listed(&[])?;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["detector"], "command-repetition");
    Ok(())
}
