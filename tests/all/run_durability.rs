//! A run people can leave alone: `run --follow` stores findings as it finds them (triage works
//! meanwhile), stops cleanly on SIGINT and SIGTERM, a closed stdout ends a run without losing
//! anything, and two runs never share one state.
//!
//! Every test compares the store with what one uninterrupted `run --from-start` on a fresh
//! state stores for the same logs (written by devloop's own `ActionLogger`).

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use devloop_host_tests::follow::Follower;

use super::insights_support::{Project, THREAD, burst};

const WAIT: Duration = Duration::from_secs(60);

/// `run --follow` on `project`, its stderr at debug level so a test can wait for its rounds.
fn follow(project: &Project, stdout: Stdio) -> Result<Follower> {
    Follower::spawn(
        Command::new(crate::binary())
            .current_dir(project.path())
            .args(["run", "--follow", "--format", "json", "--devloop-dir", ".devloop", "--plugins", "plugins"])
            .args(["--cache-dir", "cache"])
            .env("DEVLOOP_HOME_DIR", project.path().join("no-home-devloop"))
            .env("RUST_LOG", "devloop_host=debug")
            .env_remove("DEVLOOP_HOST_STATE_DIR")
            .env_remove("BD_BIN")
            .stdin(Stdio::null())
            .stdout(stdout),
    )
}

/// Waits until the follow run has caught up with `events` delivered in all: by then what they
/// brought is committed, findings included.
fn caught_up(follower: &mut Follower, events: usize) -> Result<()> {
    follower.wait_for_events(events, WAIT)
}

/// Waits on the run's exit itself (on a thread), for at most `within`; a run still going then
/// is killed and the wait fails.
fn wait_for_exit(child: &mut Child, within: Duration) -> Result<ExitStatus> {
    let pid = child.id().to_string();
    std::thread::scope(|scope| {
        let (sender, exited) = std::sync::mpsc::channel();
        scope.spawn(move || sender.send(child.wait()));
        match exited.recv_timeout(within) {
            Ok(status) => Ok(status?),
            Err(_) => {
                Command::new("kill").args(["-KILL", &pid]).status()?;
                bail!("the run did not exit within {within:?} of the signal");
            }
        }
    })
}

fn signal(child: &Child, name: &str) -> Result<()> {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status()?;
    ensure!(status.success(), "kill -{name} failed");
    Ok(())
}

fn stderr_of(child: &mut Child) -> String {
    let mut text = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
    }
    text
}

/// Findings as compared across runs: fingerprint, occurrences and the latest message.
fn findings(project: &Project) -> Result<Vec<(String, u64, String)>> {
    let mut findings: Vec<(String, u64, String)> = project
        .listed(&["--status", "all"])?
        .iter()
        .map(|finding| {
            Ok((
                finding["fingerprint"].as_str().context("a fingerprint")?.to_owned(),
                finding["occurrences"].as_u64().context("occurrences")?,
                finding["message"].as_str().context("a message")?.to_owned(),
            ))
        })
        .collect::<Result<_>>()?;
    findings.sort();
    Ok(findings)
}

/// What one uninterrupted run stores for the logs `project` has now.
fn reference(project: &Project) -> Result<Vec<(String, u64, String)>> {
    let fresh = Project::new()?;
    std::fs::copy(project.path().join(".devloop/cli-actions.jsonl"), fresh.path().join(".devloop/cli-actions.jsonl"))?;
    let run = fresh.run_with(&["--from-start"], &[])?;
    ensure!(run.status.success(), "the reference run failed: {}", String::from_utf8_lossy(&run.stderr));
    findings(&fresh)
}

fn stop_follow_after_appends(signal_name: &str, expected_exit: i32) -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    let mut follower = follow(&project, Stdio::null())?;
    // Stored while the follow run goes on, and readable beside it.
    caught_up(&mut follower, 4)?;
    assert_eq!(findings(&project)?.len(), 1, "the first finding is stored once its round is caught up");
    project.log(&burst(300, 4, "devloop status", None))?;
    caught_up(&mut follower, 8)?;
    assert_eq!(findings(&project)?.len(), 2, "the second finding is stored once its round is caught up");
    project.log(&burst(600, 5, "bd list", None))?;
    signal(follower.child(), signal_name)?;
    let status = wait_for_exit(follower.child(), Duration::from_secs(5))?;
    let stderr = follower.all_stderr(WAIT);
    assert_eq!(status.code(), Some(expected_exit), "{stderr}");
    // What the stopped run had not read yet, the next run reads; nothing twice.
    project.run_ok(&[])?;
    assert_eq!(findings(&project)?, reference(&project)?);
    Ok(())
}

#[test]
fn follow_stopped_by_sigint_after_appends_exits_130_and_loses_nothing() -> Result<()> {
    stop_follow_after_appends("INT", 130)
}

#[test]
fn follow_stopped_by_sigterm_after_appends_exits_0_and_loses_nothing() -> Result<()> {
    stop_follow_after_appends("TERM", 0)
}

#[test]
fn a_second_signal_ends_the_run_at_once_and_the_next_run_recovers() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    let mut follower = follow(&project, Stdio::null())?;
    caught_up(&mut follower, 4)?;
    assert_eq!(findings(&project)?.len(), 1, "the first finding is stored once its round is caught up");
    project.log(&burst(300, 4, "devloop status", None))?;
    signal(follower.child(), "INT")?;
    signal(follower.child(), "INT")?;
    let status = wait_for_exit(follower.child(), Duration::from_secs(5))?;
    assert!(!status.success());
    project.run_ok(&[])?;
    assert_eq!(findings(&project)?, reference(&project)?);
    Ok(())
}

#[test]
fn a_closed_stdout_stops_the_run_cleanly_with_everything_stored() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    project.log(&burst(300, 4, "devloop status", None))?;
    // `run | head -1` where head is already gone: the findings cannot be printed.
    let mut run = Command::new(crate::binary())
        .current_dir(project.path())
        .args(["run", "--format", "json", "--devloop-dir", ".devloop", "--plugins", "plugins", "--cache-dir", "cache"])
        .env("DEVLOOP_HOME_DIR", project.path().join("no-home-devloop"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    drop(run.stdout.take());
    let status = wait_for_exit(&mut run, WAIT)?;
    let stderr = stderr_of(&mut run);
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("error:") && !stderr.contains("Broken pipe"), "{stderr}");
    assert_eq!(findings(&project)?, reference(&project)?);
    let again = project.run_ok(&[])?;
    assert_eq!(String::from_utf8(again.stdout)?.lines().count(), 0, "the next run has nothing new to report");

    // The same with --follow: the first finding it cannot print ends it, saved.
    project.log(&burst(600, 5, "bd list", None))?;
    let mut follower = follow(&project, Stdio::piped())?;
    drop(follower.child().stdout.take());
    let status = wait_for_exit(follower.child(), WAIT)?;
    let stderr = follower.all_stderr(WAIT);
    assert!(status.success(), "{stderr}");
    assert_eq!(findings(&project)?, reference(&project)?);
    Ok(())
}

#[test]
fn a_second_run_on_the_same_state_is_refused_while_one_follows() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    let mut follower = follow(&project, Stdio::null())?;
    caught_up(&mut follower, 4)?;
    assert_eq!(findings(&project)?.len(), 1, "the first finding is stored once its round is caught up");
    let second = project.run(&[])?;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        stderr.contains(&format!("another `devloop-host run` (process {}) is using the state", follower.child().id())),
        "{stderr}"
    );
    signal(follower.child(), "TERM")?;
    assert!(wait_for_exit(follower.child(), Duration::from_secs(5))?.success());
    project.run_ok(&[])?;
    Ok(())
}

#[test]
fn two_runs_started_together_never_process_an_event_twice() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    project.log(&burst(300, 4, "devloop status", None))?;
    let start = |project: &Project| -> Result<Child> {
        Ok(Command::new(crate::binary())
            .current_dir(project.path())
            .args(["run", "--trace-delivered", "--devloop-dir", ".devloop", "--plugins", "plugins"])
            .args(["--cache-dir", "cache"])
            .env("DEVLOOP_HOME_DIR", project.path().join("no-home-devloop"))
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?)
    };
    let mut runs = [start(&project)?, start(&project)?];
    let mut succeeded = 0;
    for run in &mut runs {
        let status = wait_for_exit(run, WAIT)?;
        let stderr = stderr_of(run);
        if status.success() {
            succeeded += 1;
        } else {
            assert!(stderr.contains("another `devloop-host run`"), "{stderr}");
        }
    }
    assert!(succeeded >= 1);
    let connection = rusqlite::Connection::open(project.path().join(".devloop-host/insights.db"))?;
    let (delivered, distinct): (i64, i64) =
        connection.query_row("SELECT count(*), count(DISTINCT event_id) FROM delivered", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    let logged = std::fs::read_to_string(project.path().join(".devloop/cli-actions.jsonl"))?.lines().count() as i64;
    assert_eq!((delivered, distinct), (logged, logged), "every logged command delivered once");
    assert_eq!(findings(&project)?, reference(&project)?);
    Ok(())
}

#[test]
fn triage_beside_a_following_run_never_finds_the_database_locked() -> Result<()> {
    let project = Project::new()?;
    project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
    let mut follower = follow(&project, Stdio::null())?;
    caught_up(&mut follower, 4)?;
    assert_eq!(findings(&project)?.len(), 1, "the first finding is stored once its round is caught up");
    let fingerprint = findings(&project)?[0].0.clone();
    let no_devloop = project.path().join("no-devloop");
    for round in 0..12u32 {
        // The run commits what each append brings while the triage commands write.
        project.log(&burst(1000 + round * 100, 4, "devloop status", None))?;
        project.ok(&["insights", "dismiss", &fingerprint, "--devloop-dir", &path_text(&no_devloop)], &[])?;
        project.ok(&["insights", "ack", &fingerprint], &[])?;
        project.ok(&["insights", "snooze", &fingerprint, "--for", "1h"], &[])?;
        project.listed(&["--status", "all"])?;
    }
    signal(follower.child(), "TERM")?;
    let status = wait_for_exit(follower.child(), Duration::from_secs(5))?;
    let stderr = follower.all_stderr(WAIT);
    assert!(status.success(), "{stderr}");
    assert!(!stderr.contains("locked"), "{stderr}");
    Ok(())
}

fn path_text(path: &Path) -> String {
    path.display().to_string()
}
