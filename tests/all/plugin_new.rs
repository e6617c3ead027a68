//! `devloop-host plugin new` in every language: the scaffold builds with its documented toolchain
//! and passes its own starter case through `devloop-host plugin test`.

use std::process::Command;

use anyhow::{Result, anyhow, ensure};
use devloop_host::runtime::{Runtime, RuntimeConfig, Supervisor};
use devloop_host_tests::polyglot;

/// Scaffolds `name` in `lang`, builds it, runs its starter case and checks the expected insights.
fn scaffold_builds_and_passes_its_starter_case(lang: &str, name: &str) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let dir = scratch.path().join(name);
    let sdk = polyglot::workspace().join("plugin-sdk");
    let output = Command::new(crate::binary())
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
    let supervisor = Supervisor::start(&runtime, runtime.load_file(&wasm)?, Vec::new())?;
    assert_eq!(supervisor.description().id, name);
    assert_eq!(supervisor.description().language, lang);

    let expected = std::fs::read_to_string(dir.join("cases").join("starter").join("expected.json"))?;
    ensure!(expected.contains("\"make test\""), "the starter case expects a finding: {expected}");
    let test = Command::new(crate::binary())
        .args(["-q", "plugin", "test"])
        .arg(&wasm)
        .arg(dir.join("cases"))
        .arg("--cache-dir")
        .arg(polyglot::cache_root().join("test-components"))
        .output()?;
    ensure!(
        test.status.success(),
        "{lang} scaffold fails its starter case:\n{}{}",
        String::from_utf8_lossy(&test.stdout),
        String::from_utf8_lossy(&test.stderr)
    );
    Ok(())
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
    let bad = Command::new(crate::binary())
        .args(["plugin", "new", "--lang", "python", "Slow_Builds", "--dir"])
        .arg(scratch.path().join("x"))
        .output()?;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("is not a detector id"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    std::fs::write(scratch.path().join("keep.txt"), "mine")?;
    let occupied = Command::new(crate::binary())
        .args(["plugin", "new", "--lang", "js", "slow-builds", "--dir"])
        .arg(scratch.path())
        .output()?;
    assert!(!occupied.status.success());
    assert!(String::from_utf8_lossy(&occupied.stderr).contains("already exists and is not empty"));
    assert_eq!(std::fs::read_to_string(scratch.path().join("keep.txt"))?, "mine", "nothing was overwritten");
    Ok(())
}
