//! A detector slower than the feed but within its budgets (the `laggard` fixture: a few
//! milliseconds per call, counting the events it is given) does not set the others' pace:
//! it is left behind with its own place in the store, the others' checkpoints commit without
//! it, and it is fed what it missed once they have caught up. Every detector, the laggard
//! too, stores what one run of it stores, even when the run is killed or stopped while it is
//! behind; `plugins list` shows it as lagging; and a store from before detectors had places of
//! their own keeps working.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use devloop_host::dispatch::{Passed, Pipeline, SwapOutcome};
use devloop_host::hotswap::{HotSwap, StatusFile};
use devloop_host::model::Event;
use devloop_host::runtime::{Budget, Limits, Runtime, RuntimeConfig};
use devloop_host_tests::follow::Follower;

use super::conformance::cli_event;
use super::insights_support::{Project, THREAD, burst};

/// Every run here: batches of 4, a laggard left behind once 64 events wait for it, and a
/// checkpoint every 100 events.
const RUN: &[&str] = &["--batch-size", "4", "--lag-cap-events", "64", "--checkpoint-events", "100"];
const EVENTS: u64 = 600;

/// A project with command-repetition, the laggard if `laggard`, and 600 CLI actions.
fn project(laggard: bool) -> Result<Project> {
    let project = Project::new()?;
    if laggard {
        std::fs::copy(devloop_host_tests::hostile("laggard"), project.path().join("plugins/laggard.wasm"))?;
    }
    let mut runs = burst(0, 300, "bd ready", Some(THREAD));
    runs.extend(burst(3000, 200, "devloop status", None));
    runs.extend(burst(5000, 100, "bd list", None));
    project.log(&runs)?;
    Ok(project)
}

/// Findings as compared across runs: fingerprint, detector, occurrences and the latest message.
fn findings(project: &Project) -> Result<Vec<(String, String, u64, String)>> {
    let mut findings: Vec<_> = project
        .listed(&["--status", "all"])?
        .iter()
        .map(|finding| {
            Ok((
                finding["fingerprint"].as_str().context("a fingerprint")?.to_owned(),
                finding["detector"].as_str().context("a detector")?.to_owned(),
                finding["occurrences"].as_u64().context("occurrences")?,
                finding["message"].as_str().context("a message")?.to_owned(),
            ))
        })
        .collect::<Result<_>>()?;
    findings.sort();
    Ok(findings)
}

fn debug_run(project: &Project) -> Result<std::process::Output> {
    let output = project.run_with(RUN, &[("RUST_LOG", "devloop_host=debug")])?;
    ensure!(output.status.success(), "run failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(output)
}

/// The detectors the store has behind the others.
fn behind(project: &Project) -> Result<Vec<String>> {
    let connection = rusqlite::Connection::open(project.path().join(".devloop-host/insights.db"))?;
    let mut statement = connection.prepare("SELECT plugin FROM plugin_behind ORDER BY plugin")?;
    let plugins = statement.query_map([], |row| row.get(0))?.collect::<Result<_, _>>()?;
    Ok(plugins)
}

/// The laggard's finding: every event counted once, each its evidence once.
fn assert_laggard_saw_every_event_once(findings: &[(String, String, u64, String)]) {
    let laggard: Vec<_> = findings.iter().filter(|finding| finding.1 == "hostile").collect();
    assert_eq!(laggard.len(), 1, "{findings:#?}");
    assert_eq!((laggard[0].2, laggard[0].3.as_str()), (EVENTS, format!("{EVENTS} events seen").as_str()));
}

#[test]
fn the_others_commit_while_a_laggard_is_behind_and_every_detector_stores_what_it_stores_alone() -> Result<()> {
    let alone = project(false)?;
    debug_run(&alone)?;
    let alone = findings(&alone)?;

    let beside = project(true)?;
    let output = debug_run(&beside)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    let position = |what: &str, test: &dyn Fn(&str) -> bool| {
        lines.iter().position(|line| test(line)).with_context(|| format!("no line {what}:\n{stderr}"))
    };
    let detached =
        position("detaching the laggard", &|line| line.contains("slower than the feed") && line.contains("hostile"))?;
    // A checkpoint of the others' states committed with the laggard behind it.
    let committed_without_it = position("of a checkpoint without the laggard", &|line| {
        line.contains("checkpoint") && line.contains(r#"("hostile", true)"#) && !line.contains("states=0")
    })?;
    let joined =
        position("of the laggard joining", &|line| line.contains("joined the others") && line.contains("hostile"))?;
    assert!(detached < committed_without_it && committed_without_it < joined, "{stderr}");
    assert_eq!(behind(&beside)?, Vec::<String>::new(), "caught up, the laggard is where the others are");

    let beside = findings(&beside)?;
    let others: Vec<_> = beside.iter().filter(|finding| finding.1 != "hostile").cloned().collect();
    assert_eq!(others, alone, "beside the laggard, the others store what they store alone");
    assert_laggard_saw_every_event_once(&beside);
    Ok(())
}

/// `run` as [`Project::run_with`] runs it, with `extra` arguments, its stderr read line by line.
fn spawn_run(project: &Path, extra: &[&str]) -> Result<Follower> {
    Follower::spawn(
        Command::new(crate::binary())
            .current_dir(project)
            .args(["run", "--devloop-dir", ".devloop", "--plugins", "plugins", "--cache-dir", "cache"])
            .args(extra)
            .args(["--format", "json"])
            .args(RUN)
            .env("DEVLOOP_HOME_DIR", project.join("no-home-devloop"))
            .env("RUST_LOG", "devloop_host=debug")
            .env_remove("DEVLOOP_HOST_STATE_DIR")
            .env_remove("DEVLOOP_HOST_PLUGINS")
            .env_remove("DEVLOOP_HOST_ROUTING")
            .env_remove("DEVLOOP_DIR")
            .env_remove("BD_BIN")
            .stdin(Stdio::null())
            .stdout(Stdio::null()),
    )
}

/// Stops `run` as Ctrl-C does and returns all it wrote on stderr, once it exited as stopped.
fn interrupt(run: &mut Follower) -> Result<String> {
    let status = Command::new("kill").args(["-INT", &run.child().id().to_string()]).status()?;
    ensure!(status.success(), "kill -INT failed");
    let exit = run.child().wait()?;
    let stderr = run.all_stderr(Duration::from_secs(60));
    assert_eq!(exit.code(), Some(130), "{stderr}");
    Ok(stderr)
}

/// The findings one uninterrupted run with the laggard stores.
fn reference() -> Result<Vec<(String, String, u64, String)>> {
    let reference = project(true)?;
    debug_run(&reference)?;
    findings(&reference)
}

/// A project with the laggard whose run was killed at a checkpoint that left the laggard
/// behind.
fn killed_while_the_laggard_is_behind() -> Result<Project> {
    let project = project(true)?;
    let mut run = spawn_run(project.path(), &[])?;
    run.wait_for_line(&["checkpoint", r#"("hostile", true)"#], Duration::from_secs(120))?;
    run.child().kill()?;
    run.child().wait()?;
    Ok(project)
}

/// Runs `project` again: the run says the laggard is behind, leaves nobody behind, and the
/// store holds what one uninterrupted run stores, the laggard having seen every event once.
fn assert_the_next_run_catches_the_laggard_up(
    project: &Project,
    reference: &[(String, String, u64, String)],
    what: &str,
) -> Result<()> {
    let stderr = String::from_utf8_lossy(&debug_run(project)?.stderr).into_owned();
    assert!(stderr.contains("the detector is behind the others"), "{what}: {stderr}");
    assert_eq!(behind(project)?, Vec::<String>::new(), "{what}");
    let after = findings(project)?;
    assert_eq!(after, reference, "{what}, the store holds what one run stores");
    assert_laggard_saw_every_event_once(&after);
    Ok(())
}

#[test]
fn a_run_killed_while_a_laggard_is_behind_is_caught_up_by_the_next_losing_and_repeating_nothing() -> Result<()> {
    let reference = reference()?;
    let project = killed_while_the_laggard_is_behind()?;
    // On a loaded machine a healthy detector may fall behind too, and is caught up as well.
    let killed = behind(&project)?;
    assert!(killed.iter().any(|plugin| plugin == "hostile"), "killed, the store has the laggard behind: {killed:?}");

    assert_the_next_run_catches_the_laggard_up(&project, &reference, "killed and run again")
}

#[test]
fn a_store_from_before_detectors_had_places_of_their_own_is_migrated_and_resumed() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 3, "bd ready", Some(THREAD)))?;
    project.run_ok(&[])?;
    {
        // What the store was at schema version 2.
        let connection = rusqlite::Connection::open(project.path().join(".devloop-host/insights.db"))?;
        connection.execute_batch("DROP TABLE plugin_behind; PRAGMA user_version = 2;")?;
    }
    project.log(&burst(100, 3, "bd ready", Some(THREAD)))?;
    project.run_ok(&[])?;
    let connection = rusqlite::Connection::open(project.path().join(".devloop-host/insights.db"))?;
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    assert_eq!(version, devloop_host::store::SCHEMA_VERSION);
    assert_eq!(behind(&project)?, Vec::<String>::new(), "every detector of an old store is at the shared cursors");

    let once = Project::new()?;
    std::fs::copy(project.path().join(".devloop/cli-actions.jsonl"), once.path().join(".devloop/cli-actions.jsonl"))?;
    once.run_ok(&[])?;
    assert_eq!(findings(&project)?, findings(&once)?, "the second run went on from the first's place and state");
    Ok(())
}

#[test]
fn ctrl_c_while_a_laggard_catches_up_keeps_its_place_and_the_next_run_finishes_it() -> Result<()> {
    let reference = reference()?;

    let project = project(true)?;
    let mut run = spawn_run(project.path(), &["--follow"])?;
    run.wait_for_line(&["feeding the detector what it missed", "hostile"], Duration::from_secs(120))?;
    let stderr = interrupt(&mut run)?;
    if !stderr.contains("the detector joined the others") {
        assert!(behind(&project)?.contains(&"hostile".to_owned()), "stopped while catching up, it is still behind");
    }

    debug_run(&project)?;
    assert_eq!(behind(&project)?, Vec::<String>::new());
    assert_eq!(findings(&project)?, reference, "stopped and run again, the store holds what one run stores");
    Ok(())
}

/// In follow mode a laggard catches up one of its checkpoints (100 events here) at a time, and
/// the stream reads what is new between two, rather than waiting for all it missed; what it
/// stores is what one run stores.
#[test]
fn following_a_laggard_catches_up_a_checkpoint_at_a_time_with_the_stream_read_between() -> Result<()> {
    let reference = reference()?;

    let project = project(true)?;
    let mut run = spawn_run(project.path(), &["--follow"])?;
    run.wait_for_line(&["joined the others", "hostile"], Duration::from_secs(120))?;
    let stderr = interrupt(&mut run)?;

    let lines: Vec<&str> = stderr.lines().collect();
    let laggard = |at: &usize, what: &str| lines[*at].contains(what) && lines[*at].contains("hostile");
    let fed: Vec<usize> = (0..lines.len()).filter(|at| laggard(at, "feeding the detector what it missed")).collect();
    let joined = (0..lines.len()).find(|at| laggard(at, "joined the others")).context("the laggard joined")?;
    assert!(fed.len() >= 2, "fed in slices, not at once:\n{stderr}");
    let rounds_between =
        lines[fed[0]..joined].iter().filter(|line| line.contains("caught up") && line.contains("events=")).count();
    assert!(rounds_between >= fed.len() - 1, "the stream read between the slices:\n{stderr}");

    assert_eq!(behind(&project)?, Vec::<String>::new());
    assert_eq!(findings(&project)?, reference, "caught up in slices, the store holds what one run stores");
    Ok(())
}

/// A laggard removed by a hot swap (its file moved away) while it catches up keeps its own
/// place; loaded again by the next run, it is caught up from there, having seen every event
/// once. (Not being among a checkpoint's detached plugins, it had been taken to have got there,
/// and lost what it had not caught up on.)
#[test]
fn a_laggard_removed_while_behind_keeps_its_place_for_the_next_run() -> Result<()> {
    let reference = reference()?;

    let project = project(true)?;
    let mut run = spawn_run(project.path(), &["--follow"])?;
    run.wait_for_line(&["feeding the detector what it missed", "hostile"], Duration::from_secs(120))?;
    let (file, aside) = (project.path().join("plugins/laggard.wasm"), project.path().join("laggard.wasm"));
    std::fs::rename(&file, &aside)?;
    run.wait_for_line(&["plugin hostile removed"], Duration::from_secs(60))?;
    let stderr = interrupt(&mut run)?;
    let joined = stderr.lines().any(|line| line.contains("joined the others") && line.contains("hostile"));
    assert!(!joined, "removed before it caught up:\n{stderr}");
    assert!(behind(&project)?.contains(&"hostile".to_owned()), "removed while behind, it keeps its place");

    std::fs::rename(&aside, &file)?;
    debug_run(&project)?;
    assert_eq!(behind(&project)?, Vec::<String>::new());
    assert_eq!(findings(&project)?, reference, "the store holds what one run stores");
    Ok(())
}

/// On the library's pipeline: a plugin left behind shows as lagging, the others' checkpoint
/// is passed without it, and fed what it missed it has run every event once.
#[test]
fn a_plugin_left_behind_shows_as_lagging_and_joins_the_others_having_run_every_event_once() -> Result<()> {
    let limits = Limits { call_deadline: Duration::from_secs(30), memory_bytes: 64 << 20, ..Limits::default() };
    let runtime = Runtime::new(RuntimeConfig { limits, cache_dir: None })?;
    let events: Vec<Event> = (0..200).map(|i| cli_event(i, i as i64 * 20, "bd ready", "dev", 0)).collect();
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load(devloop_host_tests::hostile("laggard"), &Default::default())?;
    pipeline.load(devloop_host_tests::plugin("command-repetition"), &Default::default())?;
    let (given, rest) = events.split_at(20);
    pipeline.submit(given);
    pipeline.detach("hostile");
    pipeline.submit(rest);

    let lagging = |pipeline: &Pipeline, id: &str| {
        pipeline.statuses().into_iter().find(|status| status.id == id).map(|status| status.lagging)
    };
    let behind = lagging(&pipeline, "hostile").context("the laggard's status")?;
    assert!(behind.is_some_and(|behind| behind >= rest.len() as u64), "lagging by what it missed: {behind:?}");
    assert_eq!(lagging(&pipeline, "command-repetition"), Some(None), "the other is not lagging");
    pipeline.cut(true);
    let Some(Passed::Cut(cut)) = pipeline.next_passed() else { anyhow::bail!("the others' checkpoint is passed") };
    assert_eq!(cut.behind, ["hostile"], "the checkpoint is passed without the plugin left behind");
    let states: Vec<&str> = cut.states.iter().map(|state| state.plugin.as_str()).collect();
    assert_eq!(states, ["command-repetition"], "only the others' states are in it");

    pipeline.submit_to("hostile", rest);
    pipeline.attach("hostile");
    pipeline.settle();
    assert_eq!(lagging(&pipeline, "hostile"), Some(None), "caught up, it is not lagging");
    let seen: Vec<u64> = pipeline.plugins().iter().map(|plugin| plugin.health().events_seen).collect();
    assert_eq!(seen, [200, 200], "each plugin ran every event once");
    let laggard = pipeline.findings().into_iter().find(|(insight, _)| insight.detector == "hostile");
    let (insight, occurrences) = laggard.context("the laggard's finding")?;
    assert_eq!((insight.message.as_str(), occurrences), ("200 events seen", 200));
    Ok(())
}

/// A plugin added while one left behind works through its queue waits for a later batch: the
/// feed is not held until that queue is run (applying a change waits for every queue), and the
/// change is applied once it is.
#[test]
fn a_plugin_change_waits_for_a_plugin_left_behind_rather_than_hold_the_feed() -> Result<()> {
    let project = tempfile::tempdir()?;
    let plugins = project.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    std::fs::copy(devloop_host_tests::hostile("laggard"), plugins.join("laggard.wasm"))?;
    // A few seconds of queue, over the default CPU budget for so few events.
    let budget =
        Budget { cpu_base: Duration::from_secs(600), time_base: Duration::from_secs(600), ..Budget::default() };
    let limits = Limits { call_deadline: Duration::from_secs(30), budget, ..Limits::default() };
    let runtime = Arc::new(Runtime::new(RuntimeConfig { limits, cache_dir: Some(project.path().join("cache")) })?);
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load_dir(&plugins, &Default::default())?;
    let mut host = HotSwap::start(runtime.clone(), &plugins, BTreeMap::new(), &project.path().join("status.json"))?;
    let (ready, changes) = mpsc::channel();
    host.on_ready(move || {
        let _ = ready.send(());
    });

    let events: Vec<Event> = (0..6000).map(|i| cli_event(i, i as i64, "bd ready", "dev", 0)).collect();
    pipeline.submit(&events[..4]);
    pipeline.detach("hostile");
    pipeline.submit_to("hostile", &events[4..]);
    std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
    changes.recv_timeout(Duration::from_secs(120)).context("the new plugin was never ready")?;
    let queued = |pipeline: &Pipeline| pipeline.progress().iter().map(|progress| progress.behind).sum::<usize>();
    ensure!(pipeline.left_behind_at_work() && queued(&pipeline) > 400, "the laggard ran its queue before the change");

    assert_eq!(host.between_batches(&mut pipeline), Vec::new(), "the change waits");
    assert!(queued(&pipeline) > 0, "and the laggard's queue was not waited for");
    assert!(pipeline.wait_caught_up("hostile", Duration::from_secs(300)), "the laggard runs its queue");
    let added = SwapOutcome::Added { id: "command-repetition".into(), version: "0.1.0".into() };
    assert_eq!(host.between_batches(&mut pipeline), vec![added], "then the change is applied");
    Ok(())
}

#[test]
fn plugins_list_shows_a_plugin_left_behind_as_lagging_not_as_a_problem() -> Result<()> {
    let project = tempfile::tempdir()?;
    let plugins = project.path().join("plugins");
    std::fs::create_dir(&plugins)?;
    std::fs::copy(devloop_host_tests::hostile("laggard"), plugins.join("laggard.wasm"))?;
    std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut pipeline = Pipeline::new(&runtime, 4);
    pipeline.load_dir(&plugins, &Default::default())?;
    let events: Vec<Event> = (0..40).map(|i| cli_event(i, i as i64, "bd ready", "dev", 0)).collect();
    pipeline.submit(&events[..8]);
    pipeline.detach("hostile");
    pipeline.submit(&events[8..]);
    StatusFile::of(&pipeline).write(&project.path().join("status.json"))?;

    let output = Command::new(crate::binary())
        .current_dir(project.path())
        .args(["plugins", "list", "--format", "json", "--plugins", "plugins", "--cache-dir", "cache"])
        .args(["--status-file", "status.json"])
        .env_remove("RUST_LOG")
        .output()?;
    ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let listed: Vec<serde_json::Value> =
        String::from_utf8(output.stdout)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let state = |id: &str| listed.iter().find(|plugin| plugin["id"] == id).map(|plugin| plugin["state"].clone());
    let lagging = state("hostile").context("a row for the laggard")?;
    let behind: u64 = lagging
        .as_str()
        .and_then(|state| state.strip_prefix("lagging ("))
        .and_then(|rest| rest.strip_suffix(" events behind)"))
        .and_then(|count| count.parse().ok())
        .with_context(|| format!("the laggard's state: {lagging}"))?;
    assert!(behind >= 32, "it missed the 32 events after it was left behind: {behind}");
    assert_eq!(state("command-repetition"), Some("loaded".into()));
    Ok(())
}

#[test]
fn a_laggard_left_out_of_a_run_keeps_its_place_and_catches_up_when_loaded_again() -> Result<()> {
    let reference = reference()?;
    let project = killed_while_the_laggard_is_behind()?;
    ensure!(behind(&project)?.iter().any(|plugin| plugin == "hostile"), "killed, the laggard is behind");

    let installed = project.path().join("plugins/laggard.wasm");
    let aside = project.path().join("laggard.wasm");
    std::fs::rename(&installed, &aside)?;
    debug_run(&project)?;
    assert!(
        behind(&project)?.iter().any(|plugin| plugin == "hostile"),
        "a run without the laggard leaves its place in the store"
    );

    std::fs::rename(&aside, &installed)?;
    assert_the_next_run_catches_the_laggard_up(&project, &reference, "loaded again")
}
