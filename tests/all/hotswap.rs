//! Swapping detectors while events stream: the real folder watcher, real builds from source,
//! and the ledger fixture, which reports every batch it saw and how many events came before.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use devloop_host::dispatch::{Handover, Pipeline, PluginChange, SwapOutcome};
use devloop_host::hotswap::folder;
use devloop_host::hotswap::{PluginWatcher, StatusFile, WatchOptions};
use devloop_host::model::{Event, Insight, Value};
use devloop_host::runtime::{Runtime, RuntimeConfig, Supervisor};
use devloop_host_tests::follow::Follower;

use crate::conformance::cli_event;

const BATCH: usize = 256;
const EVENTS: u64 = 100_000;
/// Long enough for a loaded machine; a test only waits this long when something is broken.
const PATIENCE: Duration = Duration::from_secs(120);

fn runtime(cache: &Path) -> Result<Arc<Runtime>> {
    Ok(Arc::new(Runtime::new(RuntimeConfig { cache_dir: Some(cache.to_owned()), ..RuntimeConfig::default() })?))
}

/// Commands by several people, some in bursts, in event-time order.
fn stream() -> Vec<Event> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..EVENTS)
        .map(|id| {
            let roll = next();
            let command = format!("bd {}", ["ready", "list", "show", "sync", "status", "close"][(roll % 6) as usize]);
            let user = ["ana", "bo", "cy"][((roll >> 8) % 3) as usize];
            cli_event(id, id as i64 * 9, &command, user, 0)
        })
        .collect()
}

/// Writes `bytes` as `dir/name` the way installers should: a hidden temporary, then a rename.
fn install(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf> {
    let temporary = dir.join(format!(".{name}.partial"));
    std::fs::write(&temporary, bytes)?;
    let file = dir.join(name);
    std::fs::rename(&temporary, &file)?;
    Ok(file)
}

/// What the test writes into the plugins folder, and what must come of it.
enum Step {
    /// Install these bytes (by rename) and expect a swap with the state handed over.
    Swap(&'static str, Vec<u8>),
    /// Overwrite in place (truncate, write, close) and expect a swap with the state handed over.
    Overwrite(&'static str, Vec<u8>),
    /// Install these bytes and expect them to be refused with a reason containing this text.
    Refuse(&'static str, Vec<u8>, &'static str),
}

fn schedule(ledger_v1: &[u8], ledger_v2: &[u8], repetition: &[u8]) -> Result<Vec<Step>> {
    let truncated = ledger_v1[..ledger_v1.len() / 2].to_vec();
    let core_module = b"\0asm\x01\0\0\0".to_vec();
    let broken_restore = std::fs::read(devloop_host_tests::ledger("broken-restore"))?;
    let other_detector = std::fs::read(devloop_host_tests::hostile("panic"))?;
    let mut steps = Vec::new();
    for _ in 0..3 {
        steps.push(Step::Swap("ledger.wasm", ledger_v2.to_vec()));
        steps.push(Step::Refuse("ledger.wasm", truncated.clone(), "not a valid WebAssembly component"));
        steps.push(Step::Overwrite("command_repetition.wasm", repetition.to_vec()));
        steps.push(Step::Refuse("ledger.wasm", core_module.clone(), "core WebAssembly module, not a component"));
        steps.push(Step::Overwrite("ledger.wasm", ledger_v1.to_vec()));
        steps.push(Step::Refuse(
            "ledger.wasm",
            broken_restore.clone(),
            "while taking over the running version's state",
        ));
        steps.push(Step::Refuse("ledger.wasm", other_detector.clone(), "now holds detector `hostile`"));
        steps.push(Step::Swap("command_repetition.wasm", repetition.to_vec()));
    }
    Ok(steps)
}

/// Every batch of the ledger's was reported exactly once, with the count of events before it.
fn assert_ledger_complete(findings: &[(Insight, u64)]) {
    let mut batches: Vec<(&Insight, u64)> = findings
        .iter()
        .filter(|(insight, _)| insight.pattern == "batch")
        .map(|(insight, count)| (insight, *count))
        .collect();
    batches.sort_by(|(a, _), (b, _)| a.key.cmp(&b.key));
    assert_eq!(batches.len(), (EVENTS as usize).div_ceil(BATCH), "one finding per batch");
    let mut expected_before = 0_i64;
    for (index, (insight, reports)) in batches.iter().enumerate() {
        assert_eq!(*reports, 1, "batch {index} ({}) was processed {reports} times", insight.key);
        assert_eq!(insight.key, format!("{:016x}", index * BATCH), "batch {index} starts where the last ended");
        let field =
            |name: &str| insight.evidence.fields.iter().find(|field| field.key == name).map(|field| &field.value);
        assert_eq!(
            field("seen_before"),
            Some(&Value::Integer(expected_before)),
            "batch {index}: events seen before it"
        );
        let Some(Value::Integer(size)) = field("events") else { panic!("batch {index} has no size") };
        expected_before += size;
    }
    assert_eq!(expected_before, EVENTS as i64, "every event seen once");
}

/// Equal findings, or a short account of the first difference (the full lists are long).
fn assert_same_findings(found: &[(Insight, u64)], expected: &[(Insight, u64)]) {
    let difference = found.iter().zip(expected).position(|(a, b)| a != b);
    if let Some(index) = difference {
        panic!(
            "finding {index} differs from the run without swaps:\n  with swaps: {:?}\n  without:    {:?}",
            found[index], expected[index]
        );
    }
    assert_eq!(found.len(), expected.len(), "as many findings as the run without swaps");
}

#[test]
fn swapping_many_times_under_load_changes_no_insight_and_loses_no_event() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let runtime = runtime(&scratch.path().join("cache"))?;
    let events = stream();
    let ledger_v1 = std::fs::read(devloop_host_tests::ledger("v1"))?;
    let ledger_v2 = std::fs::read(devloop_host_tests::ledger("v2"))?;
    let repetition = std::fs::read(devloop_host_tests::plugin("command-repetition"))?;

    let baseline_dir = scratch.path().join("baseline");
    std::fs::create_dir(&baseline_dir)?;
    install(&baseline_dir, "ledger.wasm", &ledger_v1)?;
    install(&baseline_dir, "command_repetition.wasm", &repetition)?;
    let mut baseline = Pipeline::new(&runtime, BATCH);
    baseline.load_dir(&baseline_dir, &BTreeMap::new())?;
    for batch in events.chunks(BATCH) {
        baseline.feed(batch);
    }
    let expected = baseline.findings();
    assert!(expected.iter().any(|(insight, _)| insight.detector == "command-repetition"), "the stream has bursts");
    assert_ledger_complete(&expected);

    let dir = scratch.path().join("plugins");
    std::fs::create_dir(&dir)?;
    install(&dir, "ledger.wasm", &ledger_v1)?;
    install(&dir, "command_repetition.wasm", &repetition)?;
    let watcher = PluginWatcher::spawn(runtime.clone(), &dir, BTreeMap::new(), WatchOptions::default())?;
    let mut pipeline = Pipeline::new(&runtime, BATCH);
    pipeline.load_dir(&dir, &BTreeMap::new())?;
    assert_eq!(pipeline.plugins().len(), 2);

    let steps = schedule(&ledger_v1, &ledger_v2, &repetition)?;
    let batches: Vec<&[Event]> = events.chunks(BATCH).collect();
    let every = batches.len() / (steps.len() + 1);
    let mut outcomes = Vec::new();
    let mut awaiting = false;
    let mut steps_left = steps.iter();
    for (index, batch) in batches.iter().enumerate() {
        if index > 0 && index % every == 0 {
            if awaiting {
                let change = watcher.next_timeout(PATIENCE).context("the watcher never delivered the last change")?;
                outcomes.push(pipeline.apply(change));
            }
            awaiting = match steps_left.next() {
                Some(Step::Swap(name, bytes) | Step::Refuse(name, bytes, _)) => {
                    install(&dir, name, bytes).map(|_| true)?
                }
                Some(Step::Overwrite(name, bytes)) => std::fs::write(dir.join(name), bytes).map(|()| true)?,
                None => false,
            };
        } else if awaiting && let Some(change) = watcher.try_next() {
            outcomes.push(pipeline.apply(change));
            awaiting = false;
        }
        pipeline.feed(batch);
    }
    if awaiting {
        outcomes.push(pipeline.apply(watcher.next_timeout(PATIENCE).context("the last change never came")?));
    }

    assert_eq!(outcomes.len(), steps.len(), "one outcome per change: {outcomes:#?}");
    for (step, outcome) in steps.iter().zip(&outcomes) {
        match (step, outcome) {
            (
                Step::Swap(..) | Step::Overwrite(..),
                SwapOutcome::Swapped { handover: Handover::Restored { .. }, .. },
            ) => {}
            (Step::Refuse(_, _, reason), SwapOutcome::Rejected { reason: found, .. }) if found.contains(reason) => {}
            (_, outcome) => bail!("unexpected outcome {outcome:?} in {outcomes:#?}"),
        }
    }
    assert_same_findings(&pipeline.findings(), &expected);
    assert_ledger_complete(&pipeline.findings());

    let statuses = pipeline.statuses();
    let ledger = statuses.iter().find(|status| status.id == "ledger").context("ledger still loaded")?;
    assert_eq!(ledger.events_seen, EVENTS, "events seen summed over every version");
    assert_eq!(ledger.swaps, 6);
    assert_eq!(ledger.version, "1.0.0");
    assert!(ledger.rejected.is_some(), "the last refusal is shown: {ledger:?}");
    let repetition = statuses.iter().find(|status| status.id == "command-repetition").context("still loaded")?;
    assert_eq!(repetition.events_seen, EVENTS);
    assert_eq!(repetition.swaps, 6);
    Ok(())
}

fn started(runtime: &Runtime, file: &Path) -> Result<Box<Supervisor>> {
    Ok(Box::new(Supervisor::start(runtime, runtime.load_file(file)?, Vec::new())?))
}

fn ready(runtime: &Runtime, file: &Path, built: &Path) -> Result<PluginChange> {
    std::fs::copy(built, file)?;
    Ok(PluginChange::Ready {
        file: file.to_owned(),
        candidate: started(runtime, file)?,
        noticed: std::time::Instant::now(),
        disposal: None,
    })
}

#[test]
fn a_version_without_state_hand_over_starts_fresh_and_says_why() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let runtime = runtime(scratch.path())?;
    let file = scratch.path().join("ledger.wasm");
    std::fs::copy(devloop_host_tests::ledger("v1"), &file)?;
    let mut pipeline = Pipeline::new(&runtime, 10);
    pipeline.load(&file, &BTreeMap::new())?;
    let events: Vec<Event> = (0..20).map(|id| cli_event(id, id as i64, "bd ready", "ana", 0)).collect();
    pipeline.feed(&events[..10]);

    let outcome = pipeline.apply(ready(&runtime, &file, devloop_host_tests::ledger("stateless"))?);
    let SwapOutcome::Swapped { handover: Handover::Fresh { reason }, .. } = &outcome else { bail!("{outcome:?}") };
    assert!(reason.contains("did not take the state: this detector does not restore state"), "{reason}");
    pipeline.feed(&events[10..]);
    let second = pipeline.findings().into_iter().find(|(insight, _)| insight.key == format!("{:016x}", 10));
    let second = second.context("the fresh version processed the second batch")?.0;
    assert!(second.evidence.fields.iter().any(|field| field.key == "seen_before" && field.value == Value::Integer(0)));

    let outcome = pipeline.apply(ready(&runtime, &file, devloop_host_tests::ledger("v1"))?);
    let SwapOutcome::Swapped { handover: Handover::Fresh { reason }, .. } = &outcome else { bail!("{outcome:?}") };
    assert_eq!(reason, "the running version does not hand over state");
    Ok(())
}

#[test]
fn a_version_that_traps_on_restore_leaves_the_old_one_running() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let runtime = runtime(scratch.path())?;
    let file = scratch.path().join("ledger.wasm");
    std::fs::copy(devloop_host_tests::ledger("v1"), &file)?;
    let mut pipeline = Pipeline::new(&runtime, 10);
    pipeline.load(&file, &BTreeMap::new())?;
    let events: Vec<Event> = (0..20).map(|id| cli_event(id, id as i64, "bd ready", "ana", 0)).collect();
    pipeline.feed(&events[..10]);

    let outcome = pipeline.apply(ready(&runtime, &file, devloop_host_tests::ledger("broken-restore"))?);
    assert!(matches!(&outcome, SwapOutcome::Rejected { reason, .. } if reason.contains("trapped")), "{outcome:?}");
    pipeline.feed(&events[10..]);
    let status = &pipeline.statuses()[0];
    assert_eq!((status.version.as_str(), status.events_seen, status.swaps), ("1.0.0", 20, 0));
    assert!(pipeline.problems().iter().any(|problem| problem.problem.contains("trapped")), "{:?}", pipeline.problems());
    let second = pipeline.findings().into_iter().find(|(insight, _)| insight.key == format!("{:016x}", 10));
    let second = second.context("the old version processed the second batch")?.0;
    assert!(second.evidence.fields.iter().any(|field| field.key == "seen_before" && field.value == Value::Integer(10)));
    Ok(())
}

#[test]
fn a_file_copied_in_slowly_is_read_once_complete() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let runtime = runtime(&scratch.path().join("cache"))?;
    let dir = scratch.path().join("plugins");
    std::fs::create_dir(&dir)?;
    let options = WatchOptions { unfinished: PATIENCE * 2, ..WatchOptions::default() };
    let watcher = PluginWatcher::spawn(runtime.clone(), &dir, BTreeMap::new(), options)?;
    let bytes = std::fs::read(devloop_host_tests::ledger("v2"))?;
    let mut file = std::fs::File::create(dir.join("ledger.wasm"))?;
    for chunk in bytes.chunks(bytes.len() / 4 + 1) {
        file.write_all(chunk)?;
        file.flush()?;
    }
    drop(file);
    match watcher.next_timeout(PATIENCE).context("no change after the copy completed")? {
        PluginChange::Ready { candidate, .. } => assert_eq!(candidate.description().version, "2.0.0"),
        other => bail!("the first change must be the complete file: {other:?}"),
    }
    Ok(())
}

#[test]
fn added_then_removed_files_come_and_go() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let runtime = runtime(&scratch.path().join("cache"))?;
    let dir = scratch.path().join("plugins");
    std::fs::create_dir(&dir)?;
    let watcher = PluginWatcher::spawn(runtime.clone(), &dir, BTreeMap::new(), WatchOptions::default())?;
    let mut pipeline = Pipeline::new(&runtime, 10);
    let file = install(&dir, "ledger.wasm", &std::fs::read(devloop_host_tests::ledger("v1"))?)?;
    let outcome = pipeline.apply(watcher.next_timeout(PATIENCE).context("no change for the new file")?);
    assert_eq!(outcome, SwapOutcome::Added { id: "ledger".into(), version: "1.0.0".into() });

    let copy = install(&dir, "ledger_copy.wasm", &std::fs::read(devloop_host_tests::ledger("v2"))?)?;
    let outcome = pipeline.apply(watcher.next_timeout(PATIENCE).context("no change for the copy")?);
    assert!(
        matches!(&outcome, SwapOutcome::Rejected { reason, .. } if reason.contains("already loaded from")),
        "{outcome:?}"
    );
    assert_eq!(pipeline.rejected_files().len(), 1);

    std::fs::remove_file(&copy)?;
    let outcome = pipeline.apply(watcher.next_timeout(PATIENCE).context("no change for the removed copy")?);
    assert_eq!(outcome, SwapOutcome::NotLoaded { file: copy });
    assert!(pipeline.rejected_files().is_empty(), "a removed file is no longer reported");

    std::fs::remove_file(&file)?;
    let outcome = pipeline.apply(watcher.next_timeout(PATIENCE).context("no change for the removed file")?);
    assert_eq!(outcome, SwapOutcome::Removed { id: "ledger".into() });
    assert!(pipeline.plugins().is_empty());
    Ok(())
}

/// `run --follow` as a user runs it, with its stderr read line by line.
fn follow(project: &Path, plugins: &Path, status: &Path) -> Result<Follower> {
    Follower::spawn(
        std::process::Command::new(crate::binary())
            .args(["run", "--follow", "--format", "json", "--batch-size", "16", "--devloop-dir"])
            .arg(project)
            .arg("--home-devloop-dir")
            .arg(project)
            .arg("--plugins")
            .arg(plugins)
            .arg("--cache-dir")
            .arg(plugins.join("../cache"))
            .arg("--state-dir")
            .arg(plugins.join("../state"))
            .arg("--status-file")
            .arg(status)
            .env("NO_COLOR", "1")
            // Each round's "caught up" report is a debug line.
            .env("RUST_LOG", "warn,devloop_host=debug")
            .stdout(std::process::Stdio::null()),
    )
}

#[test]
fn run_follow_swaps_a_plugin_added_while_it_runs_and_loses_no_event() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let project = scratch.path().join(".devloop");
    let plugins = scratch.path().join("plugins");
    std::fs::create_dir_all(&project)?;
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(devloop_host_tests::ledger("v1"), plugins.join("ledger.wasm"))?;
    let status = scratch.path().join("status.json");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample/.devloop/cli-actions.jsonl");
    let lines: Vec<String> = std::fs::read_to_string(&sample)?.lines().map(|line| format!("{line}\n")).collect();
    let (first, rest) = lines.split_at(lines.len() / 2);
    let log = project.join("cli-actions.jsonl");
    std::fs::write(&log, first.concat())?;
    let dirs = devloop_host::ingest::DevloopDirs { project: project.clone(), home: Some(project.clone()) };
    let events_in_first = devloop_host::ingest::read_all(&dirs)?.events.len();

    let mut follower = follow(&project, &plugins, &status)?;
    follower.wait_for_events(events_in_first, PATIENCE)?;
    let add = std::process::Command::new(crate::binary())
        .args(["plugins", "add", "--replace"])
        .arg(devloop_host_tests::ledger("v2"))
        .arg("--plugins")
        .arg(&plugins)
        .arg("--cache-dir")
        .arg(scratch.path().join("cache"))
        .output()?;
    ensure!(add.status.success(), "{}", String::from_utf8_lossy(&add.stderr));
    follower.wait_for_line(&["plugin ledger swapped from 1.0.0 to 2.0.0; state handed over"], PATIENCE)?;

    std::fs::OpenOptions::new().append(true).open(&log)?.write_all(rest.concat().as_bytes())?;
    let events = devloop_host::ingest::read_all(&dirs)?.events.len();
    follower.wait_for_events(events, PATIENCE)?;
    folder::touch(&plugins.join("ledger.wasm"))?;
    follower.wait_for_line(&["plugins updated"], PATIENCE)?;

    let written = StatusFile::read(&status)?.context("the host writes its status")?;
    let ledger = written.plugins.iter().find(|plugin| plugin.id == "ledger").context("ledger runs")?;
    assert_eq!(ledger.version, "2.0.0");
    assert_eq!(ledger.swaps, 2, "the add and the reload");
    assert_eq!(ledger.events_seen, events as u64, "every event seen once, across both versions");
    assert!(ledger.last_handover.as_deref().is_some_and(|handover| handover.starts_with("state handed over")));
    Ok(())
}
