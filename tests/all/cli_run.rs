//! `devloop-host run` end to end: the real binary, a real devloop folder, real plugins.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

fn cli_action(seconds: u32, command: &str, exit_code: i32) -> String {
    format!(
        r#"{{"timestamp": "2026-11-25T07:{:02}:{:02}.000000+00:00", "command": "{command}", "exit_code": {exit_code}, "thread_id": "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "thread_url": "https://ampcode.com/threads/T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "duration_ms": 312, "user": "dev", "working_dir": "/home/dev/proj", "environment": null, "output_size_bytes": 0, "error_message": null, "notes": null}}"#,
        seconds / 60,
        seconds % 60
    )
}

/// A project with a devloop folder and the command-repetition plugin installed.
fn project(lines: &[String]) -> Result<tempfile::TempDir> {
    let project = tempfile::tempdir()?;
    let devloop = project.path().join(".devloop");
    std::fs::create_dir_all(&devloop)?;
    std::fs::write(devloop.join("cli-actions.jsonl"), lines.join("\n") + "\n")?;
    let plugins = project.path().join("plugins");
    std::fs::create_dir_all(&plugins)?;
    std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
    Ok(project)
}

fn run(project: &Path, extra: &[&str]) -> Result<std::process::Output> {
    Ok(Command::new(crate::binary())
        .current_dir(project)
        .args(["run", "--devloop-dir", ".devloop", "--plugins", "plugins", "--cache-dir", "cache"])
        .args(extra)
        .env("DEVLOOP_HOME_DIR", project.join("no-home-devloop"))
        .env_remove("RUST_LOG")
        .output()?)
}

#[test]
fn json_output_has_one_finding_per_line_with_the_documented_keys() -> Result<()> {
    let mut lines: Vec<String> = (0..4).map(|i| cli_action(i * 15, "bd ready", 0)).collect();
    lines.push(cli_action(600, "status", 0));
    let project = project(&lines)?;
    let output = run(project.path(), &["--format", "json"])?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let stdout = String::from_utf8(output.stdout)?;
    let findings: Vec<serde_json::Value> = stdout.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(findings.len(), 1, "{stdout}");
    let finding = &findings[0];
    for key in [
        "pattern",
        "severity",
        "confidence",
        "message",
        "recommendation",
        "evidence",
        "affected_threads",
        "fingerprint",
    ] {
        assert!(finding.get(key).is_some(), "missing `{key}` in {finding}");
    }
    assert_eq!(finding["pattern"], "command_repetition");
    assert_eq!(finding["evidence"]["fields"]["command"], "bd ready");
    assert_eq!(finding["affected_threads"][0], "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f");
    Ok(())
}

#[test]
fn a_malformed_line_is_reported_with_file_and_line_and_the_rest_is_processed() -> Result<()> {
    let mut lines: Vec<String> = (0..2).map(|i| cli_action(i * 15, "bd ready", 0)).collect();
    lines.push("{\"timestamp\": \"2026-11-25T07:00:40+00:00\", \"command\": ".to_owned());
    lines.extend((3..5).map(|i| cli_action(i * 15, "bd ready", 0)));
    let project = project(&lines)?;

    let output = run(project.path(), &["--format", "json"])?;
    assert!(output.status.success());
    let stderr = String::from_utf8(output.stderr)?;
    assert!(stderr.contains(".devloop/cli-actions.jsonl:3: skipped malformed record"), "{stderr}");
    assert_eq!(String::from_utf8(output.stdout)?.lines().count(), 1, "the four good runs still make a burst");

    let strict = run(project.path(), &["--strict", "--from-start"])?;
    assert!(!strict.status.success());
    assert!(String::from_utf8(strict.stderr)?.contains("cli-actions.jsonl:3"));
    Ok(())
}

#[test]
fn table_output_is_readable_and_logs_stay_on_stderr() -> Result<()> {
    let lines: Vec<String> = (0..4).map(|i| cli_action(i * 10, "bd ready", 0)).collect();
    let project = project(&lines)?;
    let output = run(project.path(), &[])?;
    let stdout = String::from_utf8(output.stdout)?;
    assert!(stdout.starts_with("SEVERITY"), "{stdout}");
    assert!(stdout.contains("command_repetition") && stdout.contains("`bd ready` was run 4 times"), "{stdout}");
    assert!(!stdout.contains("INFO"), "logs must not reach stdout: {stdout}");
    Ok(())
}

#[test]
fn a_run_with_nothing_new_points_at_the_stored_findings() -> Result<()> {
    let lines: Vec<String> = (0..4).map(|i| cli_action(i * 10, "bd ready", 0)).collect();
    let project = project(&lines)?;
    assert!(run(project.path(), &[])?.status.success());

    let again = run(project.path(), &[])?;
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let stdout = String::from_utf8(again.stdout)?;
    assert_eq!(
        stdout,
        "No finding in this run's events; 1 stored finding(s) want attention (`devloop-host insights list`).\n"
    );

    let fingerprint = {
        let listed = Command::new(crate::binary())
            .current_dir(project.path())
            .args(["insights", "list", "--format", "json"])
            .output()?;
        let stdout = String::from_utf8(listed.stdout)?;
        let finding: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap_or_default())?;
        finding["fingerprint"].as_str().map(str::to_owned).unwrap_or_default()
    };
    let dismissed = Command::new(crate::binary())
        .current_dir(project.path())
        .args(["insights", "dismiss", &fingerprint])
        .output()?;
    assert!(dismissed.status.success(), "{}", String::from_utf8_lossy(&dismissed.stderr));
    assert_eq!(String::from_utf8(run(project.path(), &[])?.stdout)?, "No findings.\n");
    Ok(())
}

#[test]
fn a_missing_devloop_folder_is_a_clear_error() -> Result<()> {
    let project = tempfile::tempdir()?;
    let output = run(project.path(), &[])?;
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr)?;
    assert!(stderr.contains("devloop folder .devloop not found; pass --devloop-dir"), "{stderr}");
    Ok(())
}

#[test]
fn guest_output_and_panics_reach_the_log_tagged_with_the_plugin() -> Result<()> {
    let lines: Vec<String> = (0..4).map(|i| cli_action(i * 10, "bd ready", 0)).collect();
    let project = project(&lines)?;
    std::fs::copy(devloop_host_tests::hostile("panic"), project.path().join("plugins/hostile.wasm"))?;
    let output = run(project.path(), &["--format", "json"])?;
    assert!(output.status.success(), "a trapping plugin never fails the run");
    let stderr = String::from_utf8(output.stderr)?;
    let panic_line = stderr.lines().find(|line| line.contains("hostile fixture panics on purpose")).unwrap_or_default();
    assert!(panic_line.contains("hostile.wasm") && panic_line.contains("stderr"), "{stderr}");
    assert!(stderr.contains("plugin hostile: trapped"), "{stderr}");
    assert_eq!(String::from_utf8(output.stdout)?.lines().count(), 1, "command-repetition still reports");
    Ok(())
}
