//! The independent evaluation of issue 13 (`tests/devloop/independent/`): scenarios written from
//! the requirements by a generator no detector was tuned to, scored strictly (recall over the
//! planted problems, precision over every finding, hard negatives), from the start and over
//! incremental runs on folders that grow between runs.
//!
//! The first test checks the yardstick itself, with no detector involved: the generator is
//! deterministic, its folders parse without a malformed record (also half-way, with a line
//! still being written), and the scorer counts a hand-written findings list as a person would.
//! The second holds the detectors to the bar through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, ensure};
use devloop_host_tests::devloop::{python, script};

fn run_python(script_name: &str, arguments: &[&std::ffi::OsStr]) -> Result<Output> {
    let python = python();
    ensure!(python.exists(), "{} is missing: run scripts/python-env", python.display());
    Command::new(&python)
        .arg(script(script_name))
        .args(arguments)
        .env("TZ", "UTC")
        .output()
        .with_context(|| format!("running {script_name}"))
}

fn malformed_records(devloop_dir: &Path, home_dir: &Path) -> Result<String> {
    let output = Command::new(crate::binary())
        .arg("sources")
        .arg("--devloop-dir")
        .arg(devloop_dir)
        .arg("--home-devloop-dir")
        .arg(home_dir)
        .output()?;
    let stdout = String::from_utf8(output.stdout)?;
    ensure!(output.status.success(), "sources failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let summary =
        stdout.lines().find(|line| line.contains("malformed record(s)")).context("sources prints a summary line")?;
    Ok(summary.to_owned())
}

#[test]
fn independent_generator_and_scorer_count_what_a_person_counts() -> Result<()> {
    let out = tempfile::tempdir()?;
    let output = run_python("independent/selftest.py", &[out.path().as_os_str()])?;
    ensure!(
        output.status.success(),
        "selftest failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    assert_eq!(report["selftest"], "ok", "{report}");
    assert!(report["planted"].as_u64() >= Some(13), "{report}");
    assert!(report["hard_negatives"].as_u64() >= Some(14), "{report}");

    for folder in ["scenario", "grown"] {
        let root = out.path().join(folder);
        let summary = malformed_records(&root.join("project/.devloop"), &root.join("home/.devloop"))?;
        assert!(summary.ends_with(" 0 malformed record(s)."), "{folder}: {summary}");
        let events: u64 = summary.split_whitespace().next().context("event count")?.parse()?;
        assert!(events > 1000, "{folder}: {summary}");
    }
    Ok(())
}

/// Issue 13's bar: on the independent evaluation, default settings, recall ≥ 0.9, precision ≥
/// 0.9, no hard negative reported, the same figures incremental and from start. Two seeds over
/// two weeks here; `scripts/evaluate-independent` runs five over three weeks for the README.
#[test]
fn detectors_meet_the_bar_on_the_independent_evaluation() -> Result<()> {
    let plugins = tempfile::tempdir()?;
    for (name, path) in devloop_host_tests::PLUGINS {
        std::fs::copy(path, plugins.path().join(format!("{}.wasm", name.replace('-', "_"))))?;
    }
    let scenarios = tempfile::tempdir()?;
    let binary: PathBuf = crate::binary();
    let output = run_python(
        "independent/evaluate.py",
        &[
            "--binary".as_ref(),
            binary.as_os_str(),
            "--plugins".as_ref(),
            plugins.path().as_os_str(),
            "--seeds".as_ref(),
            "31,32".as_ref(),
            "--days".as_ref(),
            "14".as_ref(),
            "--check".as_ref(),
            "--keep".as_ref(),
            scenarios.path().as_os_str(),
        ],
    )?;
    let stdout = String::from_utf8(output.stdout)?;
    let stderr = String::from_utf8(output.stderr)?;
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("| seed |"), "{stdout}");
    Ok(())
}
