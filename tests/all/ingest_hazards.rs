//! Ingest never drops silently: a record dated in the future does not hide what follows a
//! retention rewrite, `copytruncate` of devloop.log loses nothing in follow mode, a bad
//! `events.db` row costs only itself, and what is not a regular log file (a FIFO, a device, a
//! directory, an oversized snapshot) is a warning naming it while the other logs go on.
//!
//! Logs are written by devloop's own classes (`tests/devloop/ingest_hazards.py`); what a run
//! delivered is compared with one-shot reads of every state the folder went through.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use devloop_host::ingest;
use devloop_host::model::Source;
use devloop_host_tests::devloop::{DevloopFolders, python, script};
use devloop_host_tests::follow::Follower;

const WAIT: Duration = Duration::from_secs(60);

struct Hazards {
    folders: DevloopFolders,
    plugins: PathBuf,
}

impl Hazards {
    fn new() -> Result<Hazards> {
        let folders = DevloopFolders::new()?;
        let plugins = folders.root.path().join("plugins");
        std::fs::create_dir_all(&plugins)?;
        std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
        Ok(Hazards { folders, plugins })
    }

    /// Runs one step of `ingest_hazards.py`; returns what it printed.
    fn write(&self, step: &str) -> Result<String> {
        let output = Command::new(python())
            .arg(script("ingest_hazards.py"))
            .arg(step)
            .arg(&self.folders.project)
            .arg(&self.folders.home)
            .env("TZ", "UTC")
            .output()?;
        ensure!(output.status.success(), "{step}: {}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8(output.stdout)?)
    }

    fn command(&self, extra: &[&str]) -> Command {
        let mut command = Command::new(crate::binary());
        command
            .args(["run", "--format", "json", "--trace-delivered", "--devloop-dir"])
            .arg(&self.folders.project)
            .arg("--home-devloop-dir")
            .arg(&self.folders.home)
            .arg("--plugins")
            .arg(&self.plugins)
            .arg("--cache-dir")
            .arg(self.plugins.join("cache"))
            .arg("--state-dir")
            .arg(self.folders.root.path().join("state"))
            .args(extra)
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        command
    }

    fn state(&self) -> PathBuf {
        self.folders.root.path().join("state").join("insights.db")
    }

    /// A run that must end by itself (a FIFO must not hang it).
    fn run(&self) -> Result<Output> {
        let child = self.command(&[]).stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
        let pid = child.id().to_string();
        let (sender, ended) = std::sync::mpsc::channel();
        std::thread::spawn(move || sender.send(child.wait_with_output()));
        let output = match ended.recv_timeout(Duration::from_secs(60)) {
            Ok(output) => output?,
            Err(_) => {
                Command::new("kill").args(["-KILL", &pid]).status()?;
                bail!("the run hung");
            }
        };
        ensure!(output.status.success(), "run failed: {}", String::from_utf8_lossy(&output.stderr));
        Ok(output)
    }

    fn delivered(&self) -> Result<Vec<u64>> {
        let connection = rusqlite::Connection::open(self.state())?;
        let mut statement = connection.prepare("SELECT event_id FROM delivered ORDER BY sequence")?;
        let ids = statement.query_map([], |row| row.get::<_, i64>(0))?.map(|id| id.map(|id| id as u64));
        Ok(ids.collect::<Result<_, _>>()?)
    }

    /// The ids a one-shot read of the folders' current state gives.
    fn one_shot(&self) -> Result<HashSet<u64>> {
        self.one_shot_of(|_| true)
    }

    fn one_shot_of(&self, source: impl Fn(Source) -> bool) -> Result<HashSet<u64>> {
        let events = ingest::read_all(&self.folders.dirs())?.events;
        Ok(events.iter().filter(|event| source(event.source)).map(|event| event.id).collect())
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_delivered_once(delivered: &[u64], expected: &HashSet<u64>) {
    let unique: HashSet<u64> = delivered.iter().copied().collect();
    assert_eq!(unique.len(), delivered.len(), "an event was delivered twice");
    let missing = expected.difference(&unique).count();
    let extra = unique.difference(expected).count();
    assert_eq!((missing, extra), (0, 0), "events missing / never in any state of the folder");
}

#[test]
fn a_record_dated_in_the_future_does_not_hide_what_follows_a_retention_rewrite() -> Result<()> {
    let hazards = Hazards::new()?;
    hazards.write("audit-before")?;
    let mut expected = hazards.one_shot()?;
    let audit_before = hazards.one_shot_of(|source| source == Source::AgentAudit)?;
    hazards.run()?;
    hazards.write("audit-retention")?;
    let audit_after = hazards.one_shot_of(|source| source == Source::AgentAudit)?;
    assert_eq!(audit_after.difference(&audit_before).count(), 40, "the rewrite kept the new entries");
    expected.extend(hazards.one_shot()?);
    let output = hazards.run()?;
    assert!(stderr(&output).contains("rewritten"), "{}", stderr(&output));
    assert_delivered_once(&hazards.delivered()?, &expected);
    Ok(())
}

#[test]
fn a_bad_events_db_row_is_skipped_alone_with_its_rowid_and_blocks_nothing_after_it() -> Result<()> {
    let hazards = Hazards::new()?;
    hazards.write("store-6")?;
    let rowid = hazards.write("store-break")?.trim().to_owned();
    let output = hazards.run()?;
    let text = stderr(&output);
    let warnings: Vec<&str> = text.lines().filter(|line| line.contains("skipped malformed record")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains(&format!("events.db:{rowid}: ")), "{warnings:?}");
    assert!(warnings[0].contains("priority"), "{warnings:?}");
    let first = hazards.delivered()?;
    assert_eq!(first.len(), hazards.one_shot()?.len());
    // The next run reads the rows added since, and reports the bad one no more.
    hazards.write("store-3")?;
    let output = hazards.run()?;
    assert!(!stderr(&output).contains("skipped malformed record"), "{}", stderr(&output));
    let delivered = hazards.delivered()?;
    let rows = hazards.one_shot_of(|source| source == Source::EventStore)?;
    assert_eq!(rows.len(), 8, "nine rows, one of them bad");
    assert!(rows.iter().all(|id| delivered.contains(id)), "every good row, those after the bad one too");
    assert_delivered_once(&delivered, &hazards.one_shot()?);
    Ok(())
}

#[test]
fn what_is_not_a_regular_log_file_is_a_warning_naming_it_and_the_run_goes_on() -> Result<()> {
    let hazards = Hazards::new()?;
    hazards.write("store-4")?;
    let feedback = hazards.folders.project.join("feedback");
    std::fs::create_dir_all(&feedback)?;
    let snapshot = feedback.join("performance.json");
    type MakeHazard = Box<dyn Fn(&Path) -> Result<()>>;
    let cases: Vec<(&str, MakeHazard)> = vec![
        (
            "a FIFO",
            Box::new(|path: &Path| {
                ensure!(Command::new("mkfifo").arg(path).status()?.success(), "mkfifo failed");
                Ok(())
            }),
        ),
        ("a device", Box::new(|path: &Path| Ok(std::os::unix::fs::symlink("/dev/zero", path)?))),
        ("a directory", Box::new(|path: &Path| Ok(std::fs::create_dir(path)?))),
    ];
    let expected = hazards.one_shot()?;
    for (what, make) in cases {
        let _ = std::fs::remove_file(&snapshot);
        let _ = std::fs::remove_dir(&snapshot);
        make(&snapshot)?;
        if let Some(state) = hazards.state().parent() {
            std::fs::remove_dir_all(state).ok();
        }
        let output = hazards.run().with_context(|| format!("{what} at performance.json"))?;
        let text = stderr(&output);
        assert!(text.contains(&format!("cannot read {}: it is {what}", snapshot.display())), "{what}: {text}");
        assert_delivered_once(&hazards.delivered()?, &expected);
    }
    Ok(())
}

#[test]
fn an_oversized_snapshot_is_reported_not_read() -> Result<()> {
    let hazards = Hazards::new()?;
    hazards.write("store-2")?;
    let expected = hazards.one_shot()?;
    let snapshot = hazards.folders.project.join("feedback").join("performance.json");
    std::fs::create_dir_all(snapshot.parent().context("a parent")?)?;
    let file = std::fs::File::create(&snapshot)?;
    file.set_len(devloop_host::ingest::MAX_SNAPSHOT_BYTES + 1)?;
    let output = hazards.run()?;
    assert!(
        stderr(&output).contains(&format!("{}:1: skipped malformed record", snapshot.display())),
        "{}",
        stderr(&output)
    );
    assert_delivered_once(&hazards.delivered()?, &expected);
    Ok(())
}

#[test]
fn copytruncate_of_devloop_log_in_follow_mode_loses_nothing() -> Result<()> {
    let hazards = Hazards::new()?;
    hazards.write("daemon-10")?;
    let mut follower = Follower::spawn(
        hazards
            .command(&["--follow", "--batch-size", "4"])
            .env("RUST_LOG", "warn,devloop_host=debug")
            .stdout(Stdio::null()),
    )?;
    let mut expected = hazards.one_shot()?;
    let daemon_log = hazards.folders.project.join("devloop.log");
    follower.wait_for_events(expected.len(), WAIT)?;
    hazards.write("daemon-5")?;
    // logrotate's copytruncate: copy, then truncate the file devloop keeps appending to.
    std::fs::copy(&daemon_log, hazards.folders.project.join("devloop.log.1"))?;
    std::fs::OpenOptions::new().write(true).open(&daemon_log)?.set_len(0)?;
    hazards.write("daemon-5")?;
    expected.extend(hazards.one_shot()?);
    follower.wait_for_events(expected.len(), WAIT)?;
    drop(follower);
    assert_delivered_once(&hazards.delivered()?, &expected);
    Ok(())
}
