//! Checkpoints: a run goes on where the last one stopped, and a run killed (SIGKILL) at any
//! point resumes with no event lost and none delivered twice. Delivered event ids are traced
//! in the state database inside the same transaction as the checkpoint (`--trace-delivered`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Result;

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
            .arg("--state-db")
            .arg(self.scratch.path().join(state))
            .args(extra)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    }

    fn delivered(&self, state: &str) -> Result<Vec<i64>> {
        let connection = rusqlite::Connection::open(self.scratch.path().join(state))?;
        let mut statement = connection.prepare("SELECT event_id FROM delivered ORDER BY sequence")?;
        let ids = statement.query_map([], |row| row.get(0))?.collect::<Result<Vec<i64>, _>>()?;
        Ok(ids)
    }
}

/// A small deterministic generator of kill delays (no dependency, reproducible).
struct Delays(u64);

impl Delays {
    fn next(&mut self, max_ms: u64) -> Duration {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        Duration::from_millis((self.0 >> 33) % max_ms)
    }
}

#[test]
fn a_second_run_reads_only_what_is_new_and_from_start_reads_all_again() -> Result<()> {
    let setup = Setup::new()?;
    let sample = sample();
    assert!(setup.run(&sample, "state.db", &[]).status()?.success());
    let first = setup.delivered("state.db")?;
    assert!(first.len() > 1000, "the sample has {} events", first.len());
    assert!(setup.run(&sample, "state.db", &[]).status()?.success());
    assert_eq!(setup.delivered("state.db")?.len(), first.len(), "nothing new, nothing delivered");
    assert!(setup.run(&sample, "state.db", &["--from-start"]).status()?.success());
    assert_eq!(setup.delivered("state.db")?, [first.clone(), first].concat());
    Ok(())
}

#[test]
fn runs_killed_at_random_points_lose_nothing_and_repeat_nothing() -> Result<()> {
    let setup = Setup::new()?;
    let sample = sample();
    let reference = setup.run(&sample, "reference.db", &["--batch-size", "1"]).status()?;
    assert!(reference.success());
    let expected = setup.delivered("reference.db")?;

    let mut delays = Delays(0x5eed);
    let mut interrupted_midway = 0;
    let mut finished = false;
    for round in 0..40 {
        let before = setup.delivered("crash.db").map(|ids| ids.len()).unwrap_or(0);
        let mut child = setup.run(&sample, "crash.db", &["--batch-size", "1"]).spawn()?;
        if round % 4 == 3 {
            // Now and then a kill at a random moment, whatever the process is doing.
            std::thread::sleep(delays.next(400));
        } else {
            // Mostly a kill once a random number of further events went through.
            let target = before + 1 + delays.next(60).as_millis() as usize;
            let deadline = std::time::Instant::now() + Duration::from_secs(30);
            while child.try_wait()?.is_none()
                && setup.delivered("crash.db").map(|ids| ids.len()).unwrap_or(0) < target
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if child.try_wait()?.is_some_and(|status| status.success()) {
            finished = true;
            break;
        }
        child.kill()?;
        child.wait()?;
        let after = setup.delivered("crash.db").map(|ids| ids.len()).unwrap_or(0);
        if after > before && after < expected.len() {
            interrupted_midway += 1;
        }
    }
    if !finished {
        assert!(setup.run(&sample, "crash.db", &["--batch-size", "1"]).status()?.success());
    }
    assert!(interrupted_midway >= 3, "only {interrupted_midway} kills landed while events were flowing");
    let delivered = setup.delivered("crash.db")?;
    let mut seen = std::collections::HashSet::new();
    let twice: Vec<(usize, i64)> = delivered.iter().copied().enumerate().filter(|(_, id)| !seen.insert(*id)).collect();
    assert!(twice.is_empty(), "delivered twice (position, id): {twice:?}");
    assert_eq!(delivered.len(), expected.len(), "no event lost, none delivered twice");
    assert_eq!(delivered, expected, "and in the same order as one uninterrupted run");
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
    std::fs::write(&log, format!("{}\n{}\n", burst[0], burst[1]))?;
    let findings = |output: std::process::Output| -> Result<usize> {
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8(output.stdout)?.lines().filter(|line| line.contains("command_repetition")).count())
    };
    let first = setup.run(&devloop, "state.db", &[]).stdout(Stdio::piped()).output()?;
    assert_eq!(findings(first)?, 0, "two runs are no burst yet");
    std::fs::write(&log, format!("{}\n{}\n{}\n", burst[0], burst[1], burst[2]))?;
    let second = setup.run(&devloop, "state.db", &[]).stdout(Stdio::piped()).output()?;
    assert_eq!(findings(second)?, 1, "the third run completes the burst begun in the last run");
    let connection = rusqlite::Connection::open(setup.scratch.path().join("state.db"))?;
    let saved: i64 =
        connection
            .query_row("SELECT count(*) FROM plugin_state WHERE plugin = 'command-repetition'", [], |row| row.get(0))?;
    assert_eq!(saved, 1);
    Ok(())
}
