//! `devloop-host plugins` end to end: the real binary on a real plugins folder, the status a
//! host writes, and a watching host picking up what the commands change.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use devloop_host::dispatch::{Handover, Pipeline, SwapOutcome};
use devloop_host::hotswap::{HotSwap, StatusFile};
use devloop_host::runtime::{Runtime, RuntimeConfig};

use crate::conformance::cli_event;

const PATIENCE: Duration = Duration::from_secs(120);

fn devloop_host(project: &Path, args: &[&str]) -> Result<Output> {
    Ok(Command::new(crate::binary())
        .current_dir(project)
        .args(args)
        .args(["--plugins", "plugins", "--cache-dir", "cache", "--status-file", "status.json"])
        .env_remove("RUST_LOG")
        .output()?)
}

fn succeed(project: &Path, args: &[&str]) -> Result<String> {
    let output = devloop_host(project, args)?;
    ensure!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?)
}

fn project() -> Result<tempfile::TempDir> {
    let project = tempfile::tempdir()?;
    std::fs::create_dir(project.path().join("plugins"))?;
    Ok(project)
}

fn listed(project: &Path) -> Result<Vec<serde_json::Value>> {
    let stdout = succeed(project, &["plugins", "list", "--format", "json"])?;
    Ok(stdout.lines().map(serde_json::from_str).collect::<Result<_, _>>()?)
}

#[test]
fn add_checks_the_file_and_installs_it_under_the_detector_id() -> Result<()> {
    let project = project()?;
    let empty = succeed(project.path(), &["plugins", "list"])?;
    assert!(empty.contains("No plugins."), "{empty}");

    let ledger = devloop_host_tests::ledger("v1").display().to_string();
    let stdout = succeed(project.path(), &["plugins", "add", &ledger])?;
    assert_eq!(stdout.trim(), "installed ledger 1.0.0 as plugins/ledger.wasm");
    assert!(project.path().join("plugins/ledger.wasm").exists());

    let core_module = project.path().join("core.wasm");
    std::fs::write(&core_module, b"\0asm\x01\0\0\0")?;
    let refused = devloop_host(project.path(), &["plugins", "add", "core.wasm"])?;
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr)?;
    assert!(stderr.contains("core.wasm was not installed"), "{stderr}");
    assert!(stderr.contains("core WebAssembly module, not a component"), "{stderr}");
    assert!(!project.path().join("plugins/core.wasm").exists(), "nothing broken lands in the folder");

    let upgrade = devloop_host_tests::ledger("v2").display().to_string();
    std::fs::copy(
        devloop_host_tests::plugin("command-repetition"),
        project.path().join("plugins/command_repetition.wasm"),
    )?;
    let stdout = succeed(project.path(), &["plugins", "add", "--replace", &upgrade])?;
    assert_eq!(stdout.trim(), "installed ledger 2.0.0 as plugins/ledger.wasm", "an upgrade replaces the old file");
    let plugins = listed(project.path())?;
    let ids: Vec<&str> = plugins.iter().filter_map(|plugin| plugin["id"].as_str()).collect();
    assert_eq!(ids, ["command-repetition", "ledger"]);
    assert_eq!(plugins[1]["version"], "2.0.0");
    assert_eq!(plugins[1]["state"], "not loaded");

    let stdout = succeed(project.path(), &["plugins", "remove", "ledger"])?;
    assert_eq!(stdout.trim(), "removed ledger (plugins/ledger.wasm)");
    assert!(!project.path().join("plugins/ledger.wasm").exists());
    let missing = devloop_host(project.path(), &["plugins", "remove", "ledger"])?;
    assert!(!missing.status.success());
    assert!(String::from_utf8(missing.stderr)?.contains("no plugin `ledger` in plugins; `devloop-host plugins list`"));
    Ok(())
}

#[test]
fn add_refuses_to_replace_an_installed_detector_unless_told_to() -> Result<()> {
    let project = project()?;
    let installed = project.path().join("plugins/ledger.wasm");
    succeed(project.path(), &["plugins", "add", &devloop_host_tests::ledger("v1").display().to_string()])?;
    let original = std::fs::read(&installed)?;
    let again = succeed(project.path(), &["plugins", "add", &devloop_host_tests::ledger("v1").display().to_string()])?;
    assert_eq!(again.trim(), "installed ledger 1.0.0 as plugins/ledger.wasm", "the same file again changes nothing");

    let other_name = project.path().join("ledger-next.wasm");
    std::fs::copy(devloop_host_tests::ledger("v2"), &other_name)?;
    let refused = devloop_host(project.path(), &["plugins", "add", "ledger-next.wasm"])?;
    assert!(!refused.status.success());
    let stderr = String::from_utf8(refused.stderr)?;
    assert!(
        stderr.contains(
            "ledger-next.wasm holds detector `ledger` 2.0.0, which plugins/ledger.wasm already holds (1.0.0)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("--replace"), "{stderr}");
    assert_eq!(std::fs::read(&installed)?, original, "the installed file is untouched");
    assert_eq!(std::fs::read_dir(project.path().join("plugins"))?.count(), 1, "nothing else installed");

    let replaced = succeed(project.path(), &["plugins", "add", "--replace", "ledger-next.wasm"])?;
    assert_eq!(replaced.trim(), "installed ledger 2.0.0 as plugins/ledger.wasm");
    assert_eq!(std::fs::read(&installed)?, std::fs::read(&other_name)?);
    Ok(())
}

#[test]
fn list_and_info_show_what_the_host_reported() -> Result<()> {
    let project = project()?;
    let plugins = project.path().join("plugins");
    std::fs::copy(devloop_host_tests::ledger("v1"), plugins.join("ledger.wasm"))?;
    std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
    std::fs::write(plugins.join("truncated.wasm"), &std::fs::read(devloop_host_tests::ledger("v1"))?[..100])?;

    let runtime = Runtime::new(RuntimeConfig::default())?;
    let mut pipeline = Pipeline::new(&runtime, 16);
    pipeline.load_dir(&plugins, &BTreeMap::new())?;
    let events: Vec<_> = (0..40).map(|id| cli_event(id, id as i64, "bd ready", "ana", 0)).collect();
    pipeline.feed(&events);
    StatusFile::of(&pipeline).write(&project.path().join("status.json"))?;

    let table = succeed(project.path(), &["plugins", "list"])?;
    let ledger_row = table.lines().find(|line| line.starts_with("ledger ")).context("a ledger row")?;
    let columns: Vec<&str> = ledger_row.split_whitespace().collect();
    assert_eq!(&columns[..6], ["ledger", "1.0.0", "0.2.0", "rust", "40", "3"], "{table}");
    assert_eq!(columns[8], "loaded", "{table}");
    let broken_row = table.lines().find(|line| line.starts_with("truncated ")).context("a row for the broken file")?;
    assert!(broken_row.contains(" broken "), "{table}");
    assert!(table.contains(&format!("Counters from the host (pid {}, still running)", std::process::id())), "{table}");

    std::fs::copy(devloop_host_tests::ledger("v2"), plugins.join("ledger.wasm"))?;
    let info = succeed(project.path(), &["plugins", "info", "ledger"])?;
    for expected in [
        "state:          file changed",
        "version:        2.0.0",
        "running:        1.0.0",
        "events seen:    40",
        "patterns:       batch, milestone",
    ] {
        assert!(info.contains(expected), "missing `{expected}` in\n{info}");
    }
    let info = succeed(project.path(), &["plugins", "info", "command-repetition", "--format", "json"])?;
    let info: serde_json::Value = serde_json::from_str(&info)?;
    assert_eq!(info["running"]["events_seen"], 40);
    assert_eq!(
        info["running"]["insights_emitted"], 3,
        "one burst of `bd ready` fed in three batches of 16: reported once per batch, with all its runs so far"
    );
    assert_eq!(info["settings"][0]["name"], "min_repeats");
    let info = succeed(project.path(), &["plugins", "info", "truncated"])?;
    assert!(info.contains("error:          plugins/truncated.wasm is not a valid WebAssembly component"), "{info}");
    Ok(())
}

#[test]
fn run_writes_the_status_that_list_reads() -> Result<()> {
    let project = project()?;
    std::fs::create_dir(project.path().join(".devloop"))?;
    std::fs::copy(devloop_host_tests::ledger("v1"), project.path().join("plugins/ledger.wasm"))?;
    let output = devloop_host(project.path(), &["run", "--devloop-dir", ".devloop"])?;
    ensure!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let status = StatusFile::read(&project.path().join("status.json"))?.context("run wrote a status file")?;
    assert_eq!(status.plugins.len(), 1);
    assert_eq!(status.plugins[0].id, "ledger");
    let plugins = listed(project.path())?;
    assert_eq!(plugins[0]["state"], "loaded");
    assert_eq!(plugins[0]["running"]["content_hash"], plugins[0]["content_hash"]);
    let table = succeed(project.path(), &["plugins", "list"])?;
    assert!(table.contains(", since exited)"), "{table}");
    Ok(())
}

#[test]
fn a_watching_host_picks_up_add_reload_and_remove() -> Result<()> {
    let project = project()?;
    let plugins = project.path().join("plugins");
    let runtime = Arc::new(Runtime::new(RuntimeConfig {
        cache_dir: Some(project.path().join("cache")),
        ..RuntimeConfig::default()
    })?);
    let mut pipeline = Pipeline::new(&runtime, 16);
    let mut host = HotSwap::start(runtime.clone(), &plugins, BTreeMap::new(), &project.path().join("status.json"))?;
    let mut next = |pipeline: &mut Pipeline<'_>| host.wait(pipeline, PATIENCE).context("the host saw no change");

    succeed(project.path(), &["plugins", "add", &devloop_host_tests::ledger("v1").display().to_string()])?;
    assert_eq!(next(&mut pipeline)?, SwapOutcome::Added { id: "ledger".into(), version: "1.0.0".into() });
    pipeline.feed(&[cli_event(1, 1, "bd ready", "ana", 0)]);

    succeed(project.path(), &["plugins", "add", "--replace", &devloop_host_tests::ledger("v2").display().to_string()])?;
    match next(&mut pipeline)? {
        SwapOutcome::Swapped { from, to, handover: Handover::Restored { .. }, .. } => {
            assert_eq!((from.as_str(), to.as_str()), ("1.0.0", "2.0.0"))
        }
        other => bail!("expected a swap to 2.0.0, got {other:?}"),
    }
    let info = succeed(project.path(), &["plugins", "info", "ledger"])?;
    for expected in [
        "state:          loaded",
        "running:        2.0.0",
        "events seen:    1",
        "swaps:          1",
        "last swap:      state handed over",
    ] {
        assert!(info.contains(expected), "missing `{expected}` in\n{info}");
    }

    succeed(project.path(), &["plugins", "reload", "ledger"])?;
    match next(&mut pipeline)? {
        SwapOutcome::Swapped { from, to, handover: Handover::Restored { .. }, .. } => {
            assert_eq!((from.as_str(), to.as_str()), ("2.0.0", "2.0.0"))
        }
        other => bail!("expected a reload of 2.0.0, got {other:?}"),
    }
    assert_eq!(pipeline.statuses()[0].swaps, 2);

    succeed(project.path(), &["plugins", "remove", "ledger"])?;
    assert_eq!(next(&mut pipeline)?, SwapOutcome::Removed { id: "ledger".into() });
    assert!(pipeline.plugins().is_empty());
    let status = StatusFile::read(&project.path().join("status.json"))?.context("the host keeps a status file")?;
    assert!(status.plugins.is_empty(), "the removed plugin is gone from the status: {status:?}");
    Ok(())
}
