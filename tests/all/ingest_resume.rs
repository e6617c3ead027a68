//! Checkpoints: a run goes on where the last one stopped, and a run killed (SIGKILL) at any
//! point resumes with no event lost, none delivered twice, and the same stored findings as one
//! uninterrupted run. Delivered event ids are traced in the state database inside the same
//! transaction as the checkpoint (`--trace-delivered`), which also holds the findings.
//!
//! A run of the sample commits its events within a few milliseconds, far less than it takes to
//! start up, so a kill timed from outside rarely lands while they flow. The kills meant for that
//! moment hold the run still instead ([`kill_in_slices`]): it goes on in slices of well under a
//! millisecond, each ended early by a line of its log; the test reads the log between two, and
//! kills the run, stopped, once events are flowing — wherever it stopped: inside a plugin call,
//! a read or a commit. The feed reads ahead of the detectors, so a run commits in a few large
//! steps: a loaded machine can run one from its first to its last between two slices, which the
//! tests allow for.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};
use devloop_host_tests::follow::Follower;

/// The committed sample, written by devloop's own classes (scripts/make-sample).
fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("sample").join(".devloop")
}

struct Setup {
    scratch: tempfile::TempDir,
}

impl Setup {
    fn new() -> Result<Setup> {
        let scratch = tempfile::tempdir()?;
        std::fs::create_dir_all(scratch.path().join("plugins"))?;
        std::fs::copy(
            devloop_host_tests::plugin("command-repetition"),
            scratch.path().join("plugins").join("command_repetition.wasm"),
        )?;
        Ok(Setup { scratch })
    }

    fn add_plugin(&self, name: &str, component: &Path) -> Result<()> {
        std::fs::copy(component, self.scratch.path().join("plugins").join(format!("{name}.wasm")))?;
        Ok(())
    }

    fn run(&self, devloop: &Path, state: &str, extra: &[&str]) -> Command {
        let mut command = Command::new(crate::binary());
        command
            .args(["run", "--format", "json", "--trace-delivered", "--devloop-dir"])
            .arg(devloop)
            .arg("--home-devloop-dir")
            .arg(devloop)
            .arg("--plugins")
            .arg(self.scratch.path().join("plugins"))
            .arg("--cache-dir")
            .arg(self.scratch.path().join("cache"))
            .arg("--state-dir")
            .arg(self.scratch.path().join(state))
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    /// Every stored finding: fingerprint, distinct evidence events, and its latest report.
    fn stored_findings(&self, state: &str) -> Result<Vec<(String, i64, String)>> {
        let connection = rusqlite::Connection::open(self.scratch.path().join(state).join("insights.db"))?;
        let mut statement =
            connection.prepare("SELECT fingerprint, occurrences, insight FROM findings ORDER BY fingerprint")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delivered(&self, state: &str) -> Result<Vec<i64>> {
        let connection = rusqlite::Connection::open(self.scratch.path().join(state).join("insights.db"))?;
        let mut statement = connection.prepare("SELECT event_id FROM delivered ORDER BY sequence")?;
        let ids = statement.query_map([], |row| row.get(0))?.collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    }

    /// The run with its debug log on stderr, read line by line: every line is a moment of the
    /// run a test can strike at.
    fn spawn_logged(&self, devloop: &Path, state: &str, extra: &[&str]) -> Result<Follower> {
        Follower::spawn(self.run(devloop, state, extra).env("RUST_LOG", "devloop_host=debug"))
    }

    /// How many stderr lines a whole run with its debug log writes.
    fn logged_lines(&self, devloop: &Path, state: &str, extra: &[&str]) -> Result<u64> {
        let output =
            self.run(devloop, state, extra).env("RUST_LOG", "devloop_host=debug").stderr(Stdio::piped()).output()?;
        assert!(output.status.success());
        Ok(String::from_utf8(output.stderr)?.lines().count() as u64)
    }
}

/// Waits until `run` has logged `count` lines (with a deadline); `false` when the run ended
/// first.
fn wait_for_lines(run: &mut Follower, count: u64) -> Result<bool> {
    let mut seen = 0;
    if count == 0 {
        return Ok(true);
    }
    let waited = run.wait_until(&format!("{count} log lines"), Duration::from_secs(30), |_| {
        seen += 1;
        Ok(seen >= count)
    });
    match waited {
        Ok(_) => Ok(true),
        Err(error) => {
            // Its stderr closed (the run ended) or the deadline passed (it is stuck): a kill
            // tells which, as only a run that ended by itself exits successfully.
            let _ = run.child().kill();
            if run.child().wait()?.success() { Ok(false) } else { Err(error) }
        }
    }
}

/// Lets `run` go on in slices, stopped (SIGSTOP) between two, and kills it where it stopped
/// `slices` slices after the one in which events began to flow: it logged a checkpoint (a
/// commit) and not yet that it caught up. A slice ends at the run's next log line, or after 0.1
/// to 1 ms without one. `false` when the run ended first. The run commits its events in a few
/// large steps, so a kill slices later can find them all committed.
///
/// Only its log is looked at between slices: a reader of its database could find the write
/// ahead log's index half written by the stopped run, and SQLite retries such a read for
/// seconds.
fn kill_in_slices(run: &mut Follower, mut slices: u64, delays: &mut Delays) -> Result<bool> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        signal(run.child(), libc::SIGSTOP)?;
        if run.child().try_wait()?.is_some() {
            return Ok(false);
        }
        let lines = run.seen_within(Duration::ZERO);
        let flowing = lines.iter().any(|line| line.contains(" checkpoint "))
            && !lines.iter().any(|line| line.contains(" caught up "));
        if flowing {
            if slices == 0 {
                run.child().kill()?;
                run.child().wait()?;
                return Ok(true);
            }
            slices -= 1;
        }
        if Instant::now() > deadline {
            bail!("the run neither ended nor came to its moment within a minute:\n{}", lines.join("\n"));
        }
        signal(run.child(), libc::SIGCONT)?;
        run.seen_within(Duration::from_micros(100 + delays.next(900)));
    }
}

#[expect(unsafe_code, reason = "kill(2) is how a test stops a process and lets it go on")]
fn signal(child: &Child, signal: libc::c_int) -> Result<()> {
    let pid = libc::pid_t::try_from(child.id())?;
    // SAFETY: kill(2) reads its two integers and no memory of this process.
    let sent = unsafe { libc::kill(pid, signal) };
    ensure!(sent == 0, "kill({pid}, {signal}): {}", std::io::Error::last_os_error());
    Ok(())
}

/// A small deterministic generator of kill points (no dependency, reproducible).
struct Delays(u64);

impl Delays {
    /// A number below `max`.
    fn next(&mut self, max: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % max.max(1)
    }
}

#[test]
fn a_second_run_reads_only_what_is_new_and_from_start_reads_all_again() -> Result<()> {
    let setup = Setup::new()?;
    let sample = sample();
    assert!(setup.run(&sample, "state", &[]).status()?.success());
    let first = setup.delivered("state")?;
    assert!(first.len() > 1000, "the sample has {} events", first.len());
    assert!(setup.run(&sample, "state", &[]).status()?.success());
    assert_eq!(setup.delivered("state")?.len(), first.len(), "nothing new, nothing delivered");
    assert!(setup.run(&sample, "state", &["--from-start"]).status()?.success());
    assert_eq!(setup.delivered("state")?, [first.clone(), first].concat());
    Ok(())
}

#[test]
fn runs_killed_at_random_points_lose_nothing_and_repeat_nothing() -> Result<()> {
    let setup = Setup::new()?;
    // Beside command-repetition, a detector slower than the feed that counts what it is given:
    // the feed reads every event while it works on the first batches, so a run commits once
    // after a batch and then at the end, a few hundred milliseconds later. Each kill lands in
    // that window however loaded the machine, and the next run replays from the first commit.
    setup.add_plugin("laggard", devloop_host_tests::hostile("laggard"))?;
    let sample = sample();
    let options = ["--batch-size", "64", "--checkpoint-events", "5"];
    let reference = setup.run(&sample, "reference", &options).status()?;
    assert!(reference.success());
    let expected = setup.delivered("reference")?;
    let expected_findings = setup.stored_findings("reference")?;
    assert!(!expected_findings.is_empty(), "the sample has command repetitions");

    let lines = setup.logged_lines(&sample, "lines", &options)?;
    let mut delays = Delays(0x5eed);
    let mut kills = 0;
    let mut interrupted_midway = 0;
    let mut finished = false;
    for round in 0..40 {
        let before = setup.delivered("crash").map(|ids| ids.len()).unwrap_or(0);
        let killed = if round % 4 == 3 {
            // Now and then a kill early on, whatever the process is doing (loading plugins,
            // restoring their state, reading): after a random one of its first log lines.
            let mut run = setup.spawn_logged(&sample, "crash", &options)?;
            let running = wait_for_lines(&mut run, 1 + delays.next(lines / 4))?;
            if running {
                run.child().kill()?;
                run.child().wait()?;
            }
            running
        } else {
            // Mostly a kill once this run has committed its first batch, or a slice after.
            let mut run = setup.spawn_logged(&sample, "crash", &options)?;
            let slices = delays.next(2);
            kill_in_slices(&mut run, slices, &mut delays)?
        };
        if !killed {
            finished = true;
            break;
        }
        kills += 1;
        let after = setup.delivered("crash").map(|ids| ids.len()).unwrap_or(0);
        if after > before && after < expected.len() {
            interrupted_midway += 1;
        }
    }
    if !finished {
        assert!(setup.run(&sample, "crash", &options).status()?.success());
    }
    assert!(kills >= 3, "only {kills} runs were killed before the logs were read to the end");
    assert!(interrupted_midway >= 3, "only {interrupted_midway} kills landed while events were flowing");
    let delivered = setup.delivered("crash")?;
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<(usize, i64)> = delivered.iter().copied().enumerate().filter(|(_, id)| !seen.insert(*id)).collect();
    assert!(twice.is_empty(), "delivered twice (position, id): {twice:?}");
    assert_eq!(delivered.len(), expected.len(), "no event lost, none delivered twice");
    assert_eq!(delivered, expected, "and in the same order as one uninterrupted run");
    assert_eq!(
        setup.stored_findings("crash")?,
        expected_findings,
        "the stored findings (fingerprints, evidence counts, latest reports) are an uninterrupted run's"
    );
    Ok(())
}

#[test]
fn thirty_kills_at_random_moments_each_followed_by_a_normal_run_store_what_one_run_stores() -> Result<()> {
    let setup = Setup::new()?;
    let sample = sample();
    let options = ["--batch-size", "1", "--checkpoint-events", "5"];
    assert!(setup.run(&sample, "reference", &options).status()?.success());
    let expected = setup.delivered("reference")?;
    let expected_findings = setup.stored_findings("reference")?;
    let lines = setup.logged_lines(&sample, "lines", &options)?;

    let mut delays = Delays(0xdead_beef);
    let mut midway = 0;
    for trial in 0..30 {
        let state = format!("trial-{trial}");
        if trial % 5 == 4 {
            // Any moment of the run, start-up included (loading plugins, restoring state).
            let mut run = setup.spawn_logged(&sample, &state, &options)?;
            if wait_for_lines(&mut run, 1 + delays.next(lines))? {
                run.child().kill()?;
                run.child().wait()?;
            }
        } else {
            // A moment while events flow: once a first commit is in and before the last.
            let mut run = setup.spawn_logged(&sample, &state, &options)?;
            let slices = delays.next(4);
            kill_in_slices(&mut run, slices, &mut delays)?;
        }
        let before = setup.delivered(&state).map(|ids| ids.len()).unwrap_or(0);
        if before > 0 && before < expected.len() {
            midway += 1;
        }
        assert!(setup.run(&sample, &state, &options).status()?.success(), "trial {trial}: the normal run");
        assert_eq!(setup.delivered(&state)?, expected, "trial {trial}: every event once, in order");
        assert_eq!(setup.stored_findings(&state)?, expected_findings, "trial {trial}: the stored findings");
    }
    assert!(midway >= 10, "only {midway} of 30 kills landed while events were flowing");
    Ok(())
}

/// The sample's CLI log fed to `runs` incremental runs, the file growing as devloop appends,
/// cut at random lines; returns the stored findings after the last run.
fn incremental_runs(setup: &Setup, seed: u64, runs: usize) -> Result<Vec<(String, i64, String)>> {
    let devloop = setup.scratch.path().join(format!("incremental-{seed}/.devloop"));
    std::fs::create_dir_all(&devloop)?;
    let lines: Vec<String> =
        std::fs::read_to_string(sample().join("cli-actions.jsonl"))?.lines().map(|line| format!("{line}\n")).collect();
    let mut delays = Delays(seed);
    let mut cuts: Vec<usize> = (1..runs).map(|_| delays.next(lines.len() as u64) as usize).collect();
    cuts.push(lines.len());
    cuts.sort_unstable();
    let state = format!("incremental-{seed}");
    let log = devloop.join("cli-actions.jsonl");
    for cut in cuts {
        std::fs::write(&log, lines[..cut].concat())?;
        assert!(setup.run(&devloop, &state, &[]).status()?.success());
    }
    setup.stored_findings(&state)
}

#[test]
fn incremental_runs_cut_at_random_points_store_what_one_run_from_the_start_stores() -> Result<()> {
    let setup = Setup::new()?;
    let whole = setup.scratch.path().join("whole/.devloop");
    std::fs::create_dir_all(&whole)?;
    std::fs::copy(sample().join("cli-actions.jsonl"), whole.join("cli-actions.jsonl"))?;
    assert!(setup.run(&whole, "whole", &["--from-start"]).status()?.success());
    let expected = setup.stored_findings("whole")?;
    assert!(!expected.is_empty());
    for seed in [1, 2, 3] {
        assert_eq!(incremental_runs(&setup, seed, 6)?, expected, "seed {seed}");
    }
    Ok(())
}

#[test]
fn a_burst_split_across_two_runs_is_found_because_detector_state_is_restored() -> Result<()> {
    let setup = Setup::new()?;
    let devloop = setup.scratch.path().join(".devloop");
    std::fs::create_dir_all(&devloop)?;
    let sample_lines: Vec<String> =
        std::fs::read_to_string(sample().join("cli-actions.jsonl"))?.lines().map(str::to_owned).collect();
    // Lines 7-10 of the sample are an Amp agent's `bd ready --json` burst (4 runs in 45 s).
    let burst = &sample_lines[6..10];
    assert!(burst.iter().all(|line| line.contains("\"bd ready --json\"")));
    let log = devloop.join("cli-actions.jsonl");
    std::fs::write(&log, format!("{}\n{}\n{}\n", burst[0], burst[1], burst[2]))?;
    let findings = |output: std::process::Output| -> Result<usize> {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8(output.stdout)?.lines().filter(|line| line.contains("command_repetition")).count())
    };
    let first = setup.run(&devloop, "state", &[]).stdout(Stdio::piped()).output()?;
    assert_eq!(findings(first)?, 0, "three runs are no burst yet");
    std::fs::write(&log, format!("{}\n", burst.join("\n")))?;
    let second = setup.run(&devloop, "state", &[]).stdout(Stdio::piped()).output()?;
    assert_eq!(findings(second)?, 1, "the fourth run completes the burst begun in the last run");
    let connection = rusqlite::Connection::open(setup.scratch.path().join("state/insights.db"))?;
    let saved: i64 =
        connection
            .query_row("SELECT count(*) FROM plugin_state WHERE plugin = 'command-repetition'", [], |row| row.get(0))?;
    assert_eq!(saved, 1);
    Ok(())
}
