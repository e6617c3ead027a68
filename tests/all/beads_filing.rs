//! Beads issues filed exactly once per finding, through the `bd` CLI: across repeated runs,
//! after a crash between `bd create` and recording its id, when `bd` fails or is missing, and
//! in both JSON output shapes. Runs against the stand-in, or a real bd named by `BD_BIN`.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::insights_support::{
    Project, THREAD, bd_init, bd_issues, bd_json, bd_program, burst, crashing_bd, failing_bd,
};

const ROUTING: &str = "[[rule]]\nsinks = [\"beads\"]\n\n[beads]\nparent = \"PARENT\"\nlabels = [\"ux\"]\n";

/// A project with one finding, a beads database with a parent issue, and routing to beads.
struct Setup {
    project: Project,
    bd: PathBuf,
    parent: String,
}

impl Setup {
    fn new() -> Result<Setup> {
        let project = Project::new()?;
        project.log(&burst(0, 4, "bd ready", Some(THREAD)))?;
        let program = bd_program(project.path())?;
        bd_init(&program, project.path(), "proj")?;
        let parent = bd_json(
            &program,
            project.path(),
            &["create", "UX findings from devloop-host", "-t", "epic", "--json"],
            &[],
        )?;
        let parent = parent["id"].as_str().context("parent id")?.to_owned();
        project.write(".devloop-host/routing.toml", &ROUTING.replace("PARENT", &parent))?;
        Ok(Setup { project, bd: program, parent })
    }

    fn run(&self, extra_env: &[(&str, &str)]) -> Result<std::process::Output> {
        let bd_bin = self.bd.display().to_string();
        let mut env: Vec<(&str, &str)> = vec![("BD_BIN", bd_bin.as_str())];
        env.extend_from_slice(extra_env);
        self.project.run(&env)
    }

    /// Issues filed by devloop-host (the parent is not one).
    fn filed(&self) -> Result<Vec<serde_json::Value>> {
        Ok(bd_issues(&self.bd, self.project.path())?
            .into_iter()
            .filter(|issue| {
                issue["external_ref"].as_str().is_some_and(|reference| reference.starts_with("devloop-host:"))
            })
            .collect())
    }

    fn finding(&self) -> Result<serde_json::Value> {
        self.project.listed(&["--status", "all"])?.into_iter().next().context("one finding")
    }
}

#[test]
fn repeated_runs_file_one_issue_and_a_lost_store_files_no_second() -> Result<()> {
    let setup = Setup::new()?;
    for _ in 0..3 {
        let output = setup.run(&[])?;
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let filed = setup.filed()?;
    assert_eq!(filed.len(), 1, "{filed:?}");
    let finding = setup.finding()?;
    let fingerprint = finding["fingerprint"].as_str().context("fingerprint")?;
    assert_eq!(filed[0]["external_ref"], format!("devloop-host:{fingerprint}"));
    assert_eq!(finding["status"], "filed");
    assert_eq!(finding["issue_id"], filed[0]["id"]);
    let labels: Vec<&str> = filed[0]["labels"]
        .as_array()
        .map(|labels| labels.iter().filter_map(|label| label.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(labels, ["devloop-host", "command_repetition", "ux"]);
    let shown = bd_json(
        &setup.bd,
        setup.project.path(),
        &["show", filed[0]["id"].as_str().unwrap_or_default(), "--json"],
        &[],
    )?;
    let shown = if shown.is_array() { shown[0].clone() } else { shown };
    assert_eq!(shown["dependencies"][0]["depends_on_id"], setup.parent.as_str());
    assert_eq!(shown["dependencies"][0]["type"], "discovered-from");
    let description = shown["description"].as_str().unwrap_or_default();
    for part in [
        "## What was seen",
        // The message is plain text, so its backticks are escaped, not a code span.
        "\\`bd ready\\` was run 4 times",
        "https://ampcode.com/threads/",
        "## Recommendation",
        "insights dismiss",
    ] {
        assert!(description.contains(part), "description lacks {part:?}:\n{description}");
    }

    std::fs::remove_dir_all(setup.project.path().join(".devloop-host"))?;
    setup.project.write(".devloop-host/routing.toml", &ROUTING.replace("PARENT", &setup.parent))?;
    assert!(setup.run(&[])?.status.success());
    assert_eq!(setup.filed()?.len(), 1, "the external ref finds the issue even without the store");
    assert_eq!(setup.finding()?["issue_id"], filed[0]["id"]);
    Ok(())
}

#[test]
fn a_crash_between_create_and_recording_the_id_still_leaves_one_issue() -> Result<()> {
    let setup = Setup::new()?;
    let crashing = crashing_bd(setup.project.path(), &setup.bd)?;
    let crashed = setup.project.run(&[("BD_BIN", &crashing.display().to_string())])?;
    assert!(!crashed.status.success(), "devloop-host was killed right after bd create");
    let finding = setup.finding()?;
    assert_eq!(finding["issue_id"], serde_json::Value::Null, "the crash came before the id was recorded");
    assert_eq!(setup.filed()?.len(), 1);

    let recovered = setup.run(&[])?;
    assert!(recovered.status.success(), "{}", String::from_utf8_lossy(&recovered.stderr));
    let filed = setup.filed()?;
    assert_eq!(filed.len(), 1, "reconciled by external ref, not filed again: {filed:?}");
    assert_eq!(setup.finding()?["issue_id"], filed[0]["id"]);
    let shown = setup.project.ok(&["insights", "show", finding["fingerprint"].as_str().unwrap_or_default()], &[])?;
    assert!(shown.contains("adopted by external ref"), "{shown}");
    Ok(())
}

#[test]
fn a_failing_bd_leaves_the_finding_unfiled_and_the_next_run_files_it() -> Result<()> {
    let setup = Setup::new()?;
    let failing = failing_bd(setup.project.path(), &setup.bd)?;
    let failed = setup.project.run(&[("BD_BIN", &failing.display().to_string())])?;
    assert!(failed.status.success(), "a sink failure does not fail the run");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("retried on the next run") && stderr.contains("database is locked"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
    assert!(setup.filed()?.is_empty());
    let finding = setup.finding()?;
    assert_eq!(finding["issue_id"], serde_json::Value::Null);
    assert_eq!(finding["filing"]["queued"], true);
    assert!(
        finding["filing"]["last_error"].as_str().is_some_and(|error| error.contains("database is locked")),
        "{finding}"
    );

    assert!(setup.run(&[])?.status.success());
    assert_eq!(setup.filed()?.len(), 1);
    assert!(setup.run(&[])?.status.success());
    assert_eq!(setup.filed()?.len(), 1);
    Ok(())
}

#[test]
fn a_missing_bd_names_the_fix_and_keeps_the_finding_queued() -> Result<()> {
    let setup = Setup::new()?;
    let missing = [("BD_BIN", "/nonexistent/bd")];
    let run = setup.project.run(&missing)?;
    assert!(run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("the beads CLI `/nonexistent/bd` was not found; install beads"), "{stderr}");

    let file = setup.project.devloop_host(&["beads", "file"], &missing)?;
    assert!(!file.status.success());
    assert!(
        String::from_utf8_lossy(&file.stderr).contains("--export-jsonl"),
        "{}",
        String::from_utf8_lossy(&file.stderr)
    );

    let bd_bin = setup.bd.display().to_string();
    let filed = setup.project.ok(&["beads", "file"], &[("BD_BIN", &bd_bin)])?;
    assert!(filed.contains("filed as"), "{filed}");
    assert_eq!(setup.filed()?.len(), 1);
    Ok(())
}

#[test]
fn both_json_shapes_are_understood() -> Result<()> {
    let mut shapes = vec![("BD_JSON_ENVELOPE", "1")];
    if std::env::var_os("BD_BIN").is_none() {
        // The bare object of bd before v1.0.3, which only the stand-in can still print.
        shapes.push(("BD_STAND_IN_JSON", "legacy"));
    }
    for (variable, value) in shapes {
        let setup = Setup::new()?;
        let output = setup.run(&[(variable, value)])?;
        assert!(output.status.success());
        let filed = setup.filed()?;
        assert_eq!(filed.len(), 1, "{variable}");
        assert_eq!(setup.finding()?["issue_id"], filed[0]["id"], "{variable}: the id was read from the answer");
    }
    Ok(())
}

#[test]
fn dry_run_prints_the_exact_commands_and_changes_nothing() -> Result<()> {
    let setup = Setup::new()?;
    let failing = failing_bd(setup.project.path(), &setup.bd)?;
    assert!(setup.project.run(&[("BD_BIN", &failing.display().to_string())])?.status.success());
    let bd_bin = setup.bd.display().to_string();
    let printed = setup.project.ok(&["beads", "file", "--dry-run"], &[("BD_BIN", &bd_bin)])?;
    assert!(printed.starts_with(&format!("{bd_bin} list --all -n 0 --json\n{bd_bin} create ")), "{printed}");
    assert_eq!(printed.matches(&format!("\n{bd_bin} ")).count(), 1, "one create: {printed}");
    let fingerprint = setup.finding()?["fingerprint"].as_str().unwrap_or_default().to_owned();
    for part in [
        &format!("--deps discovered-from:{}", setup.parent),
        &format!("--external-ref devloop-host:{fingerprint}"),
        " -l devloop-host,command_repetition,ux",
        " -p 3",
        " -t task",
    ] {
        assert!(printed.contains(part), "{part:?} missing in {printed}");
    }
    assert!(setup.filed()?.is_empty(), "nothing was filed");

    // The printed commands are exact: a shell running them files the issue devloop-host would.
    let ran = std::process::Command::new("sh").current_dir(setup.project.path()).arg("-c").arg(&printed).output()?;
    assert!(ran.status.success(), "{}", String::from_utf8_lossy(&ran.stderr));
    let filed = setup.filed()?;
    assert_eq!(filed.len(), 1);
    assert_eq!(filed[0]["external_ref"], format!("devloop-host:{fingerprint}"));
    assert!(
        filed[0]["description"].as_str().is_some_and(|description| description.contains("## Silencing it\n")),
        "{:?}",
        filed[0]
    );
    let adopted = setup.project.ok(&["beads", "file"], &[("BD_BIN", &bd_bin)])?;
    assert!(adopted.contains("already filed"), "{adopted}");
    assert_eq!(setup.filed()?.len(), 1);
    Ok(())
}

#[test]
fn a_finding_that_grows_gets_a_comment_not_a_second_issue() -> Result<()> {
    let setup = Setup::new()?;
    assert!(setup.run(&[])?.status.success());
    setup.project.log(&burst(900, 5, "bd ready", Some(THREAD)))?;
    assert!(setup.run(&[])?.status.success());
    let filed = setup.filed()?;
    assert_eq!(filed.len(), 1);
    let id = filed[0]["id"].as_str().unwrap_or_default();
    let comments = bd_json(&setup.bd, setup.project.path(), &["comments", id, "--json"], &[])?;
    let comments = comments.as_array().cloned().unwrap_or_default();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0]["text"].as_str().is_some_and(|text| text.contains("grew to 9 occurrence(s)")), "{comments:?}");
    assert!(setup.run(&[])?.status.success());
    assert_eq!(
        bd_json(&setup.bd, setup.project.path(), &["comments", id, "--json"], &[])?.as_array().map(Vec::len),
        Some(1)
    );
    Ok(())
}

#[test]
fn export_jsonl_writes_import_lines_for_machines_without_bd() -> Result<()> {
    let setup = Setup::new()?;
    assert!(setup.project.run(&[("BD_BIN", "/nonexistent/bd")])?.status.success());
    let exported = setup.project.ok(&["beads", "file", "--export-jsonl", "issues.jsonl"], &[])?;
    assert!(exported.contains("wrote 1 issue(s)"), "{exported}");
    let text = std::fs::read_to_string(setup.project.path().join("issues.jsonl"))?;
    let lines: Vec<serde_json::Value> = text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 1);
    let fingerprint = setup.finding()?["fingerprint"].as_str().unwrap_or_default().to_owned();
    let line = &lines[0];
    assert_eq!(line["id"], format!("devloop-host-{fingerprint}"));
    assert_eq!(line["external_ref"], format!("devloop-host:{fingerprint}"));
    assert_eq!(
        (line["status"].as_str(), line["issue_type"].as_str(), line["priority"].as_i64()),
        (Some("open"), Some("task"), Some(3))
    );
    assert_eq!(line["dependencies"][0]["type"], "discovered-from");
    assert_eq!(line["dependencies"][0]["depends_on_id"], setup.parent.as_str());
    assert!(setup.filed()?.is_empty(), "exporting files nothing");
    Ok(())
}
