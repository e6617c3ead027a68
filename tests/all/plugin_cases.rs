//! `devloop-host plugins test`: every detector's cases through the real binary, and the
//! harness's own behaviour (readable diffs, clear errors).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result};

fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/cases")
}

fn plugin_test(plugin: &Path, cases: &Path, cache: &Path) -> Result<Output> {
    Ok(Command::new(crate::binary())
        .args(["-q", "plugins", "test"])
        .arg(plugin)
        .arg(cases)
        .arg("--cache-dir")
        .arg(cache)
        .env_remove("RUST_LOG")
        .output()?)
}

fn pattern_dirs() -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_root())?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    Ok(dirs)
}

#[test]
fn every_case_of_every_detector_passes_through_plugin_test() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let patterns = pattern_dirs()?;
    assert_eq!(patterns.len(), 9, "one folder of cases per pattern id: {patterns:?}");
    for pattern_dir in patterns {
        let pattern = pattern_dir.file_name().context("a folder name")?.to_string_lossy().into_owned();
        let plugin = devloop_host_tests::plugin(&pattern.replace('_', "-"));
        let output = plugin_test(plugin, &pattern_dir, cache.path())?;
        let stdout = String::from_utf8(output.stdout)?;
        assert!(output.status.success(), "{pattern}:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));

        let cases: Vec<PathBuf> =
            std::fs::read_dir(&pattern_dir)?.filter_map(Result::ok).map(|entry| entry.path()).collect();
        let ok_lines = stdout.lines().filter(|line| line.starts_with("ok ")).count();
        assert_eq!(ok_lines, cases.len(), "every case of {pattern} ran:\n{stdout}");
        let mut positive = 0;
        for case in &cases {
            let expected: Vec<serde_json::Value> =
                serde_json::from_str(&std::fs::read_to_string(case.join("expected.json"))?)?;
            positive += usize::from(!expected.is_empty());
            for finding in &expected {
                assert_eq!(finding["pattern"], pattern.as_str(), "{}", case.display());
            }
        }
        assert!(positive >= 1 && positive < cases.len(), "{pattern} needs positive and negative cases");
    }
    Ok(())
}

#[test]
fn the_whole_cases_folder_runs_only_the_plugins_own_patterns() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let output = plugin_test(devloop_host_tests::plugin("command-rerun"), &cases_root(), cache.path())?;
    let stdout = String::from_utf8(output.stdout)?;
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.lines().filter(|line| line.starts_with("ok ")).all(|line| line.contains("command_rerun/")),
        "{stdout}"
    );
    Ok(())
}

fn copy_case(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        std::fs::copy(entry.path(), to.join(entry.file_name()))?;
    }
    Ok(())
}

#[test]
fn a_wrong_expectation_fails_with_a_diff_naming_the_field() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let case = scratch.path().join("command_repetition").join("burst");
    copy_case(&cases_root().join("command_repetition").join("burst_among_noise"), &case)?;
    let expected_path = case.join("expected.json");
    let mut expected: Vec<serde_json::Value> = serde_json::from_str(&std::fs::read_to_string(&expected_path)?)?;
    expected[0]["evidence"]["fields"]["command"] = "bd sync".into();
    std::fs::write(&expected_path, serde_json::to_string_pretty(&expected)?)?;

    let output = plugin_test(devloop_host_tests::plugin("command-repetition"), &case, scratch.path())?;
    let stdout = String::from_utf8(output.stdout)?;
    assert!(!output.status.success());
    assert!(stdout.contains("FAILED   command_repetition/burst"), "{stdout}");
    assert!(stdout.contains(".evidence.fields.command:"), "{stdout}");
    assert!(stdout.contains("expected \"bd sync\"") && stdout.contains("actual   \"bd ready\""), "{stdout}");
    assert!(stdout.contains("0 passed, 1 failed"), "{stdout}");
    Ok(())
}

#[test]
fn a_partial_expectation_checks_only_what_it_names() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let case = scratch.path().join("command_repetition").join("partial");
    copy_case(&cases_root().join("command_repetition").join("burst_among_noise"), &case)?;
    std::fs::write(
        case.join("expected.json"),
        r#"[{"pattern": "command_repetition", "evidence": {"fields": {"command": "bd ready", "runs": 4}}}]"#,
    )?;
    let output = plugin_test(devloop_host_tests::plugin("command-repetition"), &case, scratch.path())?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stdout));

    std::fs::write(case.join("expected.json"), "[]")?;
    let output = plugin_test(devloop_host_tests::plugin("command-repetition"), &case, scratch.path())?;
    let stdout = String::from_utf8(output.stdout)?;
    assert!(!output.status.success());
    assert!(stdout.contains("finding #0 unexpected: command_repetition [bd ready |"), "{stdout}");
    Ok(())
}

#[test]
fn a_malformed_event_line_is_an_error_naming_file_and_line() -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let case = scratch.path().join("command_repetition").join("broken");
    copy_case(&cases_root().join("command_repetition").join("spread_out_runs"), &case)?;
    let events = std::fs::read_to_string(case.join("events.jsonl"))?;
    let mut lines: Vec<&str> = events.lines().collect();
    lines[2] = r#"{"id": 3, "time_ms": "yesterday"}"#;
    std::fs::write(case.join("events.jsonl"), lines.join("\n"))?;
    let output = plugin_test(devloop_host_tests::plugin("command-repetition"), &case, scratch.path())?;
    let stderr = String::from_utf8(output.stderr)?;
    assert!(!output.status.success());
    assert!(stderr.contains("events.jsonl:3: not a devloop-host event"), "{stderr}");
    Ok(())
}
