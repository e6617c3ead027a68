//! The stand-in `bd` (tests/bd-stand-in) checked against beads' documented contract: the
//! shapes of `--json` output, errors and dependencies. With `BD_BIN` pointing at a real bd these
//! same tests check that the contract devloop-host relies on still holds.

use std::collections::BTreeSet;

use anyhow::Result;

use super::insights_support::{bd, bd_init, bd_issues, bd_json, bd_program};

/// The keys of beads' documented `bd create … --json` example (docs/JSON_SCHEMA.md).
const CREATE_EXAMPLE_KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "status",
    "priority",
    "issue_type",
    "created_at",
    "created_by",
    "updated_at",
    "schema_version",
];

#[test]
fn create_prints_the_documented_issue_object_pretty_printed() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let program = bd_program(dir.path())?;
    bd_init(&program, dir.path(), "proj")?;
    let output = bd(
        &program,
        dir.path(),
        &["create", "Pattern: command_repetition", "-d", "desc", "-t", "task", "-p", "3", "--json"],
        &[],
    )?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout)?;
    assert!(text.starts_with("{\n  \""), "pretty-printed with a 2-space indent: {text}");
    let issue: serde_json::Value = serde_json::from_str(&text)?;
    let keys: BTreeSet<&str> =
        issue.as_object().map(|object| object.keys().map(String::as_str).collect()).unwrap_or_default();
    for key in CREATE_EXAMPLE_KEYS {
        assert!(keys.contains(key), "create output lacks documented key `{key}`: {text}");
    }
    assert_eq!(issue["schema_version"], 1);
    assert_eq!(
        (issue["status"].as_str(), issue["priority"].as_i64(), issue["issue_type"].as_str()),
        (Some("open"), Some(3), Some("task"))
    );
    assert!(issue["id"].as_str().is_some_and(|id| id.starts_with("proj-")), "{issue}");
    assert!(issue["created_at"].as_str().is_some_and(|time| time.ends_with('Z')), "RFC 3339 in UTC: {issue}");
    Ok(())
}

#[test]
fn the_envelope_wraps_every_payload() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let program = bd_program(dir.path())?;
    bd_init(&program, dir.path(), "proj")?;
    let envelope = [("BD_JSON_ENVELOPE", "1")];
    let created = bd(&program, dir.path(), &["create", "t", "--json"], &envelope)?;
    let created: serde_json::Value = serde_json::from_slice(&created.stdout)?;
    assert_eq!(created["schema_version"], 1);
    assert!(created["data"]["id"].is_string(), "{created}");
    let listed = bd(&program, dir.path(), &["list", "--json"], &envelope)?;
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout)?;
    assert!(listed["data"].is_array(), "{listed}");
    Ok(())
}

#[test]
fn discovered_from_is_stored_as_a_dependency_record() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let program = bd_program(dir.path())?;
    bd_init(&program, dir.path(), "proj")?;
    let parent = bd_json(&program, dir.path(), &["create", "Parent", "--json"], &[])?;
    let parent = parent["id"].as_str().unwrap_or_default().to_owned();
    let child = bd_json(
        &program,
        dir.path(),
        &[
            "create",
            "Child",
            "--deps",
            &format!("discovered-from:{parent}"),
            "--external-ref",
            "devloop-host:abc",
            "--json",
        ],
        &[],
    )?;
    let shown = bd_json(&program, dir.path(), &["show", child["id"].as_str().unwrap_or_default(), "--json"], &[])?;
    let shown = if shown.is_array() { shown[0].clone() } else { shown };
    let dependency = &shown["dependencies"][0];
    assert_eq!(dependency["issue_id"], child["id"]);
    assert_eq!(dependency["depends_on_id"], parent.as_str());
    assert_eq!(dependency["type"], "discovered-from");
    assert_eq!(shown["external_ref"], "devloop-host:abc");
    let listed = bd_issues(&program, dir.path())?;
    let item = listed.iter().find(|issue| issue["id"] == child["id"]).cloned().unwrap_or_default();
    for key in ["dependency_count", "dependent_count", "comment_count"] {
        assert!(item.get(key).is_some(), "list items carry `{key}`: {item}");
    }
    Ok(())
}

#[test]
fn errors_with_json_are_a_json_object_on_stderr_and_exit_1() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let program = bd_program(dir.path())?;
    bd_init(&program, dir.path(), "proj")?;
    let missing = bd(&program, dir.path(), &["show", "proj-zzzz", "--json"], &[])?;
    assert_eq!(missing.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&missing.stderr)?;
    assert!(error["error"].is_string() && error["schema_version"] == 1, "{error}");

    let bad_dependency = bd(&program, dir.path(), &["create", "t", "--deps", "no-such-type:proj-1", "--json"], &[])?;
    assert_eq!(bad_dependency.status.code(), Some(1), "an unknown dependency type is fatal");
    assert!(bd_issues(&program, dir.path())?.is_empty(), "and creates nothing");
    Ok(())
}

#[test]
fn list_hides_closed_issues_and_stops_at_50_unless_asked() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let program = bd_program(dir.path())?;
    bd_init(&program, dir.path(), "proj")?;
    let closed = bd_json(&program, dir.path(), &["create", "done", "--json"], &[])?;
    let closed = closed["id"].as_str().unwrap_or_default().to_owned();
    assert!(bd(&program, dir.path(), &["close", &closed, "--reason", "fixed"], &[])?.status.success());
    for index in 0..51 {
        assert!(bd(&program, dir.path(), &["create", &format!("issue {index}"), "--silent"], &[])?.status.success());
    }
    let default = bd_json(&program, dir.path(), &["list", "--json"], &[])?;
    assert_eq!(default.as_array().map(Vec::len), Some(50));
    assert!(default.as_array().is_some_and(|issues| issues.iter().all(|issue| issue["status"] != "closed")));
    assert_eq!(bd_issues(&program, dir.path())?.len(), 52, "`--all -n 0` returns everything");
    Ok(())
}
