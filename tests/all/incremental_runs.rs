//! Runs from a hook or a timer: weeks of logs written by devloop's own classes (the independent
//! generator's scenarios), read by six runs as the folders grow — cut at the generator's random
//! moments, sometimes with half a line still being written — end with the same stored findings as
//! one `run --from-start` over the complete folders, for every bundled detector.
//!
//! Each bundled detector must find something in the scenario first, or its part of the equality
//! would say nothing. `tests/devloop/incremental_scenario.py` says how the two files devloop
//! rewrites in place (rather than appends to) are replayed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use devloop_host_tests::devloop::GrowingScenario;

const SEEDS: [u64; 3] = [1, 2, 3];
const DAYS: u32 = 7;
/// Moments at which a run reads the growing folders; one more run reads them complete.
const CUTS: usize = 5;

/// What is compared of a stored finding.
#[derive(Debug, PartialEq)]
struct Stored {
    detector: String,
    pattern: String,
    message: String,
    occurrences: u64,
    evidence_events: usize,
    confidence: f64,
}

/// The binary with no user-level plugins or settings, and a component cache kept across test
/// runs (the bundled detectors compile once).
fn host(scratch: &Path) -> Command {
    let mut command = Command::new(crate::binary());
    command
        .env("HOME", scratch.join("user"))
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("RUST_LOG")
        .env_remove("DEVLOOP_HOST_STATE_DIR")
        .env_remove("DEVLOOP_HOST_PLUGINS")
        .env_remove("BD_BIN")
        .arg("--quiet");
    command
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("bundled-component-cache")
}

fn output(command: &mut Command) -> Result<String> {
    let output = command.output()?;
    ensure!(output.status.success(), "{command:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?)
}

/// The bundled detectors, as `plugins list` names them (the rules detector that runs pattern
/// files is not one).
fn bundled_detectors(scratch: &Path) -> Result<BTreeSet<String>> {
    let listed = output(
        host(scratch).args(["plugins", "list", "--format", "json", "--state-dir"]).arg(scratch.join("listing")),
    )?;
    let mut detectors = BTreeSet::new();
    for line in listed.lines() {
        let plugin: serde_json::Value = serde_json::from_str(line)?;
        if plugin["source"] == "bundled" && plugin["id"] != "rules" {
            detectors.insert(plugin["id"].as_str().context("an id")?.to_owned());
        }
    }
    Ok(detectors)
}

/// `run` over a generator's folder layout: `project/.devloop` and `home/.devloop` under `folders`.
fn run(scratch: &Path, folders: &Path, state: &Path, from_start: bool) -> Result<()> {
    let mut command = host(scratch);
    command
        .args(["run", "--format", "json", "--devloop-dir"])
        .arg(folders.join("project/.devloop"))
        .arg("--home-devloop-dir")
        .arg(folders.join("home/.devloop"))
        .arg("--state-dir")
        .arg(state)
        .arg("--cache-dir")
        .arg(cache());
    if from_start {
        command.arg("--from-start");
    }
    output(&mut command).map(drop)
}

/// Every stored finding by fingerprint, whatever its triage status.
fn stored(scratch: &Path, state: &Path) -> Result<BTreeMap<String, Stored>> {
    let listed = output(
        host(scratch).args(["insights", "list", "--format", "json", "--status", "all", "--state-dir"]).arg(state),
    )?;
    let mut findings = BTreeMap::new();
    for line in listed.lines() {
        let finding: serde_json::Value = serde_json::from_str(line)?;
        let text = |key: &str| finding[key].as_str().map(str::to_owned).with_context(|| format!("{key} in {line}"));
        let stored = Stored {
            detector: text("detector")?,
            pattern: text("pattern")?,
            message: text("message")?,
            occurrences: finding["occurrences"].as_u64().context("occurrences")?,
            evidence_events: finding["evidence"]["event_ids"].as_array().context("evidence event ids")?.len(),
            confidence: finding["confidence"].as_f64().context("a confidence")?,
        };
        findings.insert(text("fingerprint")?, stored);
    }
    Ok(findings)
}

fn check_seed(scratch: &Path, seed: u64, detectors: &BTreeSet<String>) -> Result<()> {
    let complete = scratch.join(format!("scenario-{seed}"));
    let scenario = GrowingScenario::generate(&complete, seed, DAYS, CUTS);
    let whole_state = scratch.join(format!("from-start-{seed}"));
    run(scratch, &complete, &whole_state, true)?;
    let expected = stored(scratch, &whole_state)?;
    let found: BTreeSet<String> = expected.values().map(|finding| finding.detector.clone()).collect();
    let silent: Vec<&String> = detectors.difference(&found).collect();
    ensure!(silent.is_empty(), "seed {seed}: these bundled detectors find nothing in the scenario: {silent:?}");

    let growing = scratch.join(format!("growing-{seed}"));
    let state = scratch.join(format!("incremental-{seed}"));
    for cut in (0..scenario.cuts()).map(Some).chain([None]) {
        scenario.grow(&growing, cut);
        run(scratch, &growing, &state, false)?;
    }
    let incremental = stored(scratch, &state)?;
    for (fingerprint, finding) in &expected {
        assert_eq!(
            incremental.get(fingerprint),
            Some(finding),
            "seed {seed}: finding {fingerprint} after {} runs",
            CUTS + 1
        );
    }
    let extra: Vec<&String> = incremental.keys().filter(|fingerprint| !expected.contains_key(*fingerprint)).collect();
    assert!(extra.is_empty(), "seed {seed}: found only by the incremental runs: {extra:?}");
    Ok(())
}

#[test]
fn six_incremental_runs_store_what_one_run_from_the_start_stores_for_every_bundled_detector() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let root = scratch.path();
    let detectors = &bundled_detectors(root)?;
    ensure!(detectors.len() >= 9, "the bundled detectors: {detectors:?}");
    // The seeds are independent; run side by side, they take the time of one.
    std::thread::scope(|scope| {
        let checks: Vec<_> = SEEDS.iter().map(|&seed| scope.spawn(move || check_seed(root, seed, detectors))).collect();
        checks.into_iter().try_for_each(|check| check.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}
