//! What a person reads: snapshots of the table and Markdown outputs (wall-clock times filtered),
//! and the JSON shapes programs rely on.

use anyhow::Result;

use super::insights_support::{Project, THREAD, burst};

fn project() -> Result<Project> {
    let project = Project::new()?;
    let mut runs = burst(0, 4, "bd ready", Some(THREAD));
    runs.extend(burst(600, 4, "devloop status", None));
    runs.extend(burst(900, 4, "devloop status", None));
    runs.extend(burst(1800, 4, "git commit -m 'a | pipe'", None));
    project.log(&runs)?;
    project.run_ok(&[])?;
    Ok(project)
}

/// Wall-clock times change on every run; event ids belong to ingestion's id scheme.
fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?Z?", "[TIME]");
    settings.add_filter(r"(events +)\d+( \d+)*", "$1[EVENT IDS]");
    settings.add_filter(r"\b\d{12,20}\b", "[EVENT ID]");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

fn first_fingerprint(project: &Project, command: &str) -> Result<String> {
    let findings = project.listed(&["--status", "all"])?;
    Ok(findings
        .iter()
        .find(|finding| finding["evidence"]["fields"]["command"] == command)
        .and_then(|finding| finding["fingerprint"].as_str())
        .unwrap_or_default()
        .to_owned())
}

#[test]
fn list_as_a_table_and_as_markdown() -> Result<()> {
    let project = project()?;
    let fingerprint = first_fingerprint(&project, "bd ready")?;
    project.ok(&["insights", "ack", &fingerprint], &[])?;
    let table = project.ok(&["insights", "list"], &[("COLUMNS", "120")])?;
    let narrow = project.ok(&["insights", "list"], &[("COLUMNS", "80")])?;
    let markdown = project.ok(&["insights", "list", "--format", "markdown"], &[])?;
    insta::assert_snapshot!("list_table", table);
    insta::assert_snapshot!("list_table_narrow", narrow);
    insta::assert_snapshot!("list_markdown", markdown);
    Ok(())
}

#[test]
fn summary_as_a_table_and_as_markdown() -> Result<()> {
    let project = project()?;
    let fingerprint = first_fingerprint(&project, "devloop status")?;
    project.ok(&["insights", "dismiss", &fingerprint, "--reason", "scripted"], &[])?;
    insta::assert_snapshot!("summary_table", project.ok(&["insights", "summary"], &[("COLUMNS", "120")])?);
    insta::assert_snapshot!("summary_markdown", project.ok(&["insights", "summary", "--format", "markdown"], &[])?);

    let json: serde_json::Value =
        serde_json::from_str(&project.ok(&["insights", "summary", "--format", "json"], &[])?)?;
    assert_eq!(json["total"], 3);
    assert_eq!(json["by_status"]["dismissed"], 1);
    assert_eq!(json["by_pattern"]["command_repetition"]["info"], 3);
    assert_eq!(json["top"].as_array().map(Vec::len), Some(2), "dismissed findings are not top findings");
    Ok(())
}

#[test]
fn show_as_text_markdown_and_json() -> Result<()> {
    let project = project()?;
    let fingerprint = first_fingerprint(&project, "bd ready")?;
    project.ok(&["insights", "snooze", &fingerprint, "--for", "2d"], &[])?;
    snapshot_settings().bind(|| -> Result<()> {
        insta::assert_snapshot!("show_table", project.ok(&["insights", "show", &fingerprint], &[("COLUMNS", "120")])?);
        insta::assert_snapshot!(
            "show_markdown",
            project.ok(&["insights", "show", &fingerprint, "--format", "markdown"], &[])?
        );
        Ok(())
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&project.ok(&["insights", "show", &fingerprint, "--format", "json"], &[])?)?;
    for key in [
        "fingerprint",
        "pattern",
        "severity",
        "confidence",
        "message",
        "recommendation",
        "evidence",
        "affected_threads",
        "status",
        "first_seen",
        "last_seen",
        "occurrences",
        "runs",
        "issue_id",
        "thread_urls",
        "history",
    ] {
        assert!(json.get(key).is_some(), "show --format json lacks `{key}`: {json}");
    }
    assert_eq!(json["status"], "snoozed");
    assert_eq!(json["history"][1]["change"], "snoozed");
    Ok(())
}
