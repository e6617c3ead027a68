//! The quality bar: on generated scenarios — weeks of everyday devloop activity written by the
//! real devloop package, with each of the nine patterns planted — the detectors reach recall
//! and precision of at least 0.9. Seeds and volumes differ from the ones in the README table,
//! so no threshold is fitted to one file.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, Result};

#[test]
fn detectors_reach_recall_and_precision_on_scenarios_of_varied_seeds_and_volumes() -> Result<()> {
    let venv = std::env::var_os("DEVLOOP_HOST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/devloop-host/venv")
    });
    let python = venv.join("bin/python");
    anyhow::ensure!(python.exists(), "{} is missing: run scripts/python-env", python.display());
    let plugins = tempfile::tempdir()?;
    for (name, path) in devloop_host_tests::PLUGINS {
        std::fs::copy(path, plugins.path().join(format!("{}.wasm", name.replace('-', "_"))))?;
    }
    let scenarios = tempfile::tempdir()?;
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().context("host/ sits in the repository")?.to_owned();
    let output = Command::new(python)
        .arg(repo.join("scripts/scenario/evaluate.py"))
        .arg("--binary")
        .arg(crate::binary())
        .arg("--plugins")
        .arg(plugins.path())
        .args(["--runs", "11:0.7,12:1.3", "--days", "14", "--check", "0.9", "--keep"])
        .arg(scenarios.path())
        .env("DEVLOOP_HOST_VENV", &venv)
        .output()?;
    let stdout = String::from_utf8(output.stdout)?;
    let stderr = String::from_utf8(output.stderr)?;
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("| **recall** |"), "{stdout}");
    Ok(())
}
