//! `run --follow`: records appended, a log rotated, a file truncated and another rewritten in
//! place (devloop's retention) while the real binary runs. Every event of every state the files
//! went through is delivered exactly once, as one-shot reads of those states say.
//!
//! The test waits on the binary's own "caught up" reports, never on the clock.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use devloop_host::ingest::{self, DevloopDirs};
use devloop_host_tests::follow::Follower;

fn sample_lines(relative: &str) -> Result<Vec<String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sample/.devloop").join(relative);
    Ok(std::fs::read_to_string(&path).with_context(|| path.display().to_string())?.lines().map(str::to_owned).collect())
}

fn append(path: &Path, text: &str) -> Result<()> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)?.write_all(text.as_bytes())?;
    Ok(())
}

fn lines(lines: &[String]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// `devloop.log` lines cut only before a record starts, so no record loses its traceback.
fn record_chunks(lines: &[String], size: usize) -> Vec<Vec<String>> {
    let mut chunks = vec![Vec::new()];
    for line in lines {
        let current = chunks.last_mut().expect("never empty");
        if current.len() >= size && line.starts_with("20") {
            chunks.push(Vec::new());
        }
        chunks.last_mut().expect("never empty").push(line.clone());
    }
    chunks
}

const WAIT: Duration = Duration::from_secs(60);

fn start(project: &Path, plugins: &Path, state: &Path) -> Result<Follower> {
    Follower::spawn(
        Command::new(crate::binary())
            .args(["run", "--follow", "--trace-delivered", "--format", "json", "--batch-size", "16", "--devloop-dir"])
            .arg(project)
            .arg("--home-devloop-dir")
            .arg(project)
            .arg("--plugins")
            .arg(plugins)
            .arg("--cache-dir")
            .arg(plugins.join("cache"))
            .arg("--state-dir")
            .arg(state)
            .env("NO_COLOR", "1")
            // Each round's "caught up" report is a debug line.
            .env("RUST_LOG", "warn,devloop_host=debug")
            .stdout(Stdio::null()),
    )
}

/// Waits until the binary reports having delivered `total` events in all; a record reported
/// malformed fails the test.
fn wait_for_total(follower: &mut Follower, total: usize, within: Duration) -> Result<()> {
    follower.wait_for_events(total, within)?;
    if let Some(line) = follower.seen().iter().find(|line| line.contains("malformed record")) {
        bail!("a record was reported malformed: {line}");
    }
    Ok(())
}

/// A scratch folder with an empty `.devloop` and the command-repetition plugin.
fn scratch_project() -> Result<(tempfile::TempDir, PathBuf, PathBuf, DevloopDirs)> {
    let scratch = tempfile::tempdir()?;
    let project = scratch.path().join(".devloop");
    std::fs::create_dir_all(&project)?;
    let plugins = scratch.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
    let dirs = DevloopDirs { project: project.clone(), home: Some(project.clone()) };
    Ok((scratch, project, plugins, dirs))
}

/// The ids a one-shot read of the folder's current state gives.
fn one_shot(dirs: &DevloopDirs) -> Result<HashSet<u64>> {
    Ok(ingest::read_all(dirs)?.events.iter().map(|event| event.id).collect())
}

#[test]
fn follow_survives_appends_rotation_truncation_and_rewrite() -> Result<()> {
    let (scratch, project, plugins, dirs) = scratch_project()?;
    let cli = sample_lines("cli-actions.jsonl")?;
    let telemetry = sample_lines("events.jsonl")?;
    let daemon = record_chunks(&sample_lines("devloop.log")?, 40);
    let (cli_file, telemetry_file, daemon_file) =
        (project.join("cli-actions.jsonl"), project.join("events.jsonl"), project.join("devloop.log"));

    let mut expected = HashSet::new();
    let check = |follower: &mut Follower, expected: &mut HashSet<u64>| -> Result<()> {
        expected.extend(one_shot(&dirs)?);
        wait_for_total(follower, expected.len(), WAIT)
    };

    append(&cli_file, &lines(&cli[..40]))?;
    append(&telemetry_file, &lines(&telemetry[..60]))?;
    append(&daemon_file, &lines(&daemon[0]))?;
    let mut follower = start(&project, &plugins, &scratch.path().join("state"))?;
    check(&mut follower, &mut expected)?;

    // Appends, one of them cut in the middle of a line: the half line is waited for.
    let (head, tail) = cli[40].split_at(cli[40].len() / 2);
    append(&cli_file, head)?;
    append(&telemetry_file, &lines(&telemetry[60..90]))?;
    append(&daemon_file, &lines(&daemon[1]))?;
    check(&mut follower, &mut expected)?;
    append(&cli_file, &format!("{tail}\n{}", lines(&cli[41..60])))?;
    check(&mut follower, &mut expected)?;

    // Rotation: devloop.log becomes devloop.log.1 and a new devloop.log starts.
    std::fs::rename(&daemon_file, project.join("devloop.log.1"))?;
    append(&daemon_file, &lines(&daemon[2]))?;
    check(&mut follower, &mut expected)?;
    append(&daemon_file, &lines(&daemon[3]))?;
    check(&mut follower, &mut expected)?;

    // Truncation: events.jsonl emptied, then written again.
    std::fs::File::create(&telemetry_file)?;
    append(&telemetry_file, &lines(&telemetry[90..120]))?;
    check(&mut follower, &mut expected)?;

    // Rewrite in place, as devloop's 30-day retention does: old lines dropped, the rest kept.
    let mut rewritten = lines(&cli[20..60]);
    rewritten.push_str(&lines(&cli[60..75]));
    std::fs::write(&cli_file, rewritten)?;
    check(&mut follower, &mut expected)?;

    drop(follower);
    let connection = rusqlite::Connection::open(scratch.path().join("state/insights.db"))?;
    let mut statement = connection.prepare("SELECT event_id FROM delivered ORDER BY sequence")?;
    let delivered: Vec<u64> = statement
        .query_map([], |row| row.get::<_, i64>(0))?
        .map(|id| id.map(|id| id as u64))
        .collect::<Result<_, _>>()?;
    let unique: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "an event was delivered twice");
    assert_eq!(unique, expected, "the follow run delivered exactly the events of every state");
    Ok(())
}

#[test]
fn an_append_is_read_when_its_notification_comes_not_at_the_safety_poll() -> Result<()> {
    let (scratch, project, plugins, dirs) = scratch_project()?;
    let cli = sample_lines("cli-actions.jsonl")?;
    let log = project.join("cli-actions.jsonl");
    append(&log, &lines(&cli[..20]))?;
    let mut follower = start(&project, &plugins, &scratch.path().join("state"))?;
    wait_for_total(&mut follower, one_shot(&dirs)?.len(), WAIT)?;
    // Idle now, until a notification or the safety poll. A third of the poll interval is far
    // more than reading an append takes, even on a loaded machine, and far less than the poll.
    let within = devloop_host::stream::SAFETY_POLL / 3;
    for round in 1..=3 {
        append(&log, &lines(&cli[20 * round..20 * (round + 1)]))?;
        wait_for_total(&mut follower, one_shot(&dirs)?.len(), within)?;
    }
    Ok(())
}
