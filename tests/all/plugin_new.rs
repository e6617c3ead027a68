//! `devloop-host plugin new` in every language: the scaffold builds with its documented toolchain
//! and passes its own starter case when run through the real runtime.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, anyhow, ensure};
use devloop_host::model::{Event, Insight};
use devloop_host::runtime::{BatchOutcome, Runtime, RuntimeConfig, Supervisor, WitEvents};
use devloop_host_tests::polyglot;
use serde_json::Value as Json;

/// Scaffolds `name` in `lang`, builds it, runs its starter case and checks the expected insights.
fn scaffold_builds_and_passes_its_starter_case(lang: &str, name: &str) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path().join(name);
    let sdk = polyglot::workspace().join("plugin-sdk");
    let output = Command::new(devloop_host_tests::binary())
        .args(["plugin", "new", "--lang", lang, name, "--dir"])
        .arg(&dir)
        .arg("--sdk")
        .arg(&sdk)
        .output()?;
    ensure!(output.status.success(), "plugin new failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout)?;
    ensure!(stdout.contains("build it:"), "plugin new names the build command: {stdout}");

    let wasm = polyglot::build(&dir).map_err(|error| anyhow!(error))?;
    let runtime = Runtime::new(RuntimeConfig {
        cache_dir: Some(polyglot::cache_root().join("test-components")),
        ..RuntimeConfig::default()
    })?;
    let mut supervisor = Supervisor::start(&runtime, runtime.load_file(&wasm)?, Vec::new())?;
    assert_eq!(supervisor.description().id, name);
    assert_eq!(supervisor.description().language, lang);

    let case = dir.join("cases").join("starter");
    let events = read_events(&case.join("events.jsonl"))?;
    let insights = match supervisor.process(&runtime, &WitEvents::new(&events)) {
        BatchOutcome::Insights(insights) => insights,
        other => return Err(anyhow!("the starter detector did not answer with insights: {other:?}")),
    };
    let expected: Vec<Json> = serde_json::from_str(&std::fs::read_to_string(case.join("expected.json"))?)?;
    ensure!(!expected.is_empty(), "the starter case expects a finding");
    let found: Vec<Json> = insights.iter().map(summary).collect();
    assert_eq!(found, expected, "{lang} scaffold vs its starter case");
    Ok(())
}

fn read_events(path: &Path) -> Result<Vec<Event>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .enumerate()
        .map(|(index, line)| serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), index + 1)))
        .collect()
}

/// The parts of an insight a starter case pins down.
fn summary(insight: &Insight) -> Json {
    serde_json::json!({
        "pattern": insight.pattern,
        "key": insight.key,
        "severity": insight.severity.as_str(),
        "event_ids": insight.evidence.event_ids,
        "affected_threads": insight.affected_threads,
    })
}

#[test]
fn a_new_rust_detector_builds_and_passes_its_starter_case() -> Result<()> {
    scaffold_builds_and_passes_its_starter_case("rust", "failing-commands-rs")
}

#[test]
fn a_new_python_detector_builds_and_passes_its_starter_case() -> Result<()> {
    scaffold_builds_and_passes_its_starter_case("python", "failing-commands-py")
}

#[test]
fn a_new_javascript_detector_builds_and_passes_its_starter_case() -> Result<()> {
    scaffold_builds_and_passes_its_starter_case("js", "failing-commands-js")
}

#[test]
fn plugin_new_refuses_a_bad_name_and_an_occupied_folder() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let bad = Command::new(devloop_host_tests::binary())
        .args(["plugin", "new", "--lang", "python", "Slow_Builds", "--dir"])
        .arg(scratch.path().join("x"))
        .output()?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("is not a detector id"), "{}", String::from_utf8_lossy(&bad.stderr));

    std::fs::write(scratch.path().join("keep.txt"), "mine")?;
    let occupied = Command::new(devloop_host_tests::binary())
        .args(["plugin", "new", "--lang", "js", "slow-builds", "--dir"])
        .arg(scratch.path())
        .output()?;
    assert!(!occupied.status.success());
    assert!(String::from_utf8_lossy(&occupied.stderr).contains("already exists and is not empty"));
    assert_eq!(std::fs::read_to_string(scratch.path().join("keep.txt"))?, "mine", "nothing was overwritten");
    Ok(())
}
