//! Log text written to hurt: escape and OSC sequences, Markdown and HTML, a newline in a thread
//! id, a NUL byte, a command of 200 KB. Logged by devloop's own `ActionLogger`, found by the
//! real command-repetition detector, and followed through every sink: the `run` table and the
//! terminal notice, `insights list` and `show` as tables and Markdown, JSON and the JSON Lines
//! sink, and the arguments the `bd` stand-in received.

use anyhow::{Context, Result, ensure};

use super::insights_support::{LOG_START, Project, bd_init, bd_json, bd_program, python};

/// A command that tries to retitle the terminal, hide a link, clear the screen (also with the
/// one-byte C1 CSI), reverse the text direction, break out of a code span and a table cell,
/// add HTML, and carries a NUL.
const COMMAND: &str = "bd ready \u{1b}]0;owned\u{7}\u{1b}]8;;http://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\ \u{1b}[2J \u{9b}31m \u{202e}txt.exe `x` ``y`` <b>bold</b> | cell \u{0} end";
/// A thread id that tries to add a heading and a link to any Markdown it lands in.
const THREAD: &str = "T-1\n## Owned [x](http://evil.example/)";

const ROUTING: &str =
    "[[rule]]\nsinks = [\"terminal\", \"beads\", \"jsonl\"]\n\n[jsonl]\npath = \".devloop-host/findings.jsonl\"\n";

/// Text a terminal shows as it is: no control character but newline, no bidi override.
fn assert_terminal_safe(what: &str, text: &str) {
    let unsafe_character = text.chars().find(|character| {
        (character.is_control() && *character != '\n')
            || matches!(character, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
    });
    assert!(unsafe_character.is_none(), "{what} has {unsafe_character:?}:\n{text}");
}

/// The lines of Markdown `text` outside fenced code blocks (where text is only text).
fn outside_code_blocks(text: &str) -> Vec<&str> {
    let mut fence: Option<usize> = None;
    let mut lines = Vec::new();
    for line in text.lines() {
        let run = line.chars().take_while(|character| *character == '`').count();
        match fence {
            Some(open) if run >= open && line[run..].trim().is_empty() => fence = None,
            Some(_) => {}
            None if run >= 3 => fence = Some(run),
            None => lines.push(line),
        }
    }
    lines
}

/// Markdown with no structure from the data: only the headings the renderer writes, no link
/// or HTML from the log text.
fn assert_markdown_inert(what: &str, text: &str) {
    assert_terminal_safe(what, text);
    for line in outside_code_blocks(text) {
        assert!(!line.trim_start().starts_with("## Owned"), "{what} has an injected heading:\n{text}");
        assert!(!line.contains("[x](http"), "{what} has an injected link:\n{text}");
        assert!(!line.contains("<b>"), "{what} has raw HTML:\n{text}");
    }
}

/// Logs `count` runs of `command` in `thread`, 10 s apart from `start`, with devloop's own
/// `ActionLogger`; the records go through a file, since one may be larger than an argument.
fn log(project: &Project, start: u32, count: u32, command: &str, thread: &str) -> Result<()> {
    let records: Vec<serde_json::Value> = (0..count)
        .map(|index| serde_json::json!({"offset": start + index * 10, "command": command, "thread": thread}))
        .collect();
    let records_file = project.path().join("records.json");
    std::fs::write(&records_file, serde_json::to_string(&records)?)?;
    python(
        r#"
import datetime, importlib, json, sys
from pathlib import Path
action_logger = importlib.import_module("devloop.core.action_logger")
logger = action_logger.ActionLogger(Path(sys.argv[1]))
start = datetime.datetime.fromisoformat(sys.argv[2])
for record in json.loads(Path(sys.argv[3]).read_text()):
    logger.log_action(action_logger.CLIAction(
        timestamp=(start + datetime.timedelta(seconds=record["offset"])).isoformat(),
        command=record["command"], exit_code=0, thread_id=record["thread"],
        thread_url=f"https://ampcode.com/threads/{record['thread']}",
        duration_ms=300, user="dev", working_dir="/home/dev/proj"))
"#,
        &[
            &project.path().join(".devloop/cli-actions.jsonl").display().to_string(),
            LOG_START,
            &records_file.display().to_string(),
        ],
    )?;
    Ok(())
}

struct Setup {
    project: Project,
    bd: std::path::PathBuf,
}

impl Setup {
    fn new(command: &str, thread: &str) -> Result<Setup> {
        let project = Project::new()?;
        log(&project, 0, 4, command, thread)?;
        let bd = bd_program(project.path())?;
        bd_init(&bd, project.path(), "proj")?;
        project.write(".devloop-host/routing.toml", ROUTING)?;
        Ok(Setup { project, bd })
    }

    fn bd_env(&self) -> [(&'static str, String); 1] {
        [("BD_BIN", self.bd.display().to_string())]
    }

    fn run(&self) -> Result<std::process::Output> {
        let [(key, value)] = self.bd_env();
        self.project.devloop_host(
            &["run", "--devloop-dir", ".devloop", "--plugins", "plugins", "--cache-dir", "cache", "--format", "table"],
            &[(key, &value)],
        )
    }

    fn fingerprint(&self) -> Result<String> {
        let listed = self.project.listed(&["--status", "all"])?;
        ensure!(listed.len() == 1, "one finding expected: {listed:?}");
        Ok(listed[0]["fingerprint"].as_str().context("fingerprint")?.to_owned())
    }

    /// Issues the stand-in holds that devloop-host filed, as `bd` received them.
    fn filed(&self) -> Result<Vec<serde_json::Value>> {
        let issues = bd_json(&self.bd, self.project.path(), &["list", "--all", "-n", "0", "--json"], &[])?;
        Ok(issues.as_array().cloned().unwrap_or_default())
    }
}

#[test]
fn hostile_log_text_is_inert_in_every_sink() -> Result<()> {
    let setup = Setup::new(COMMAND, THREAD)?;
    let output = setup.run()?;
    ensure!(output.status.success(), "run failed: {}", String::from_utf8_lossy(&output.stderr));
    assert_terminal_safe("the run table", &String::from_utf8(output.stdout)?);
    let stderr = String::from_utf8(output.stderr)?;
    assert_terminal_safe("the run's notices", &stderr);
    assert!(stderr.contains("\\u{1b}]0;owned"), "the escape shows as text:\n{stderr}");

    let fingerprint = setup.fingerprint()?;
    let project = &setup.project;
    assert_terminal_safe("insights list", &project.ok(&["insights", "list", "--status", "all"], &[])?);
    let shown = project.ok(&["insights", "show", &fingerprint], &[])?;
    assert_terminal_safe("insights show", &shown);
    assert!(shown.contains("\\u{202e}txt.exe"), "{shown}");
    for args in [
        vec!["insights", "show", &fingerprint, "--format", "markdown"],
        vec!["insights", "list", "--status", "all", "--format", "markdown"],
        vec!["insights", "summary", "--format", "markdown"],
    ] {
        assert_markdown_inert(&args.join(" "), &project.ok(&args, &[])?);
    }

    // JSON keeps the text exactly, and ids exactly as strings too.
    let json: serde_json::Value =
        serde_json::from_str(&project.ok(&["insights", "show", &fingerprint, "--format", "json"], &[])?)?;
    assert_eq!(json["evidence"]["fields"]["command"], COMMAND);
    assert_eq!(json["affected_threads"][0], THREAD);
    let ids = json["evidence"]["event_ids"].as_array().context("event ids")?;
    let strings = json["evidence"]["event_id_strings"].as_array().context("event id strings")?;
    assert_eq!(ids.len(), 4);
    for (id, text) in ids.iter().zip(strings) {
        assert_eq!(id.as_u64().map(|id| id.to_string()).as_deref(), text.as_str());
    }

    // The JSON Lines sink: the same exact text, with nothing raw a terminal would act on.
    let appended = std::fs::read_to_string(project.path().join(".devloop-host/findings.jsonl"))?;
    assert_terminal_safe("the JSON Lines sink", &appended);
    let line: serde_json::Value = serde_json::from_str(appended.lines().next().context("one line")?)?;
    assert_eq!(line["evidence"]["fields"]["command"], COMMAND);
    assert_eq!(line["affected_threads"][0], THREAD);

    // Filed once, with what bd received escaped.
    let filed = setup.filed()?;
    assert_eq!(filed.len(), 1, "{filed:?}");
    let title = filed[0]["title"].as_str().context("title")?;
    let description = filed[0]["description"].as_str().context("description")?;
    assert_terminal_safe("the issue title", title);
    assert_markdown_inert("the issue description", description);
    assert!(description.contains("click"), "the text is still there, escaped:\n{description}");
    assert_eq!(json["issue_id"], filed[0]["id"]);

    // It grows: the comment bd receives is escaped too.
    // (Five more runs: the finding is re-sent at 9, and 9 is a material change from 4.)
    log(project, 300, 5, COMMAND, THREAD)?;
    ensure!(setup.run()?.status.success());
    let id = filed[0]["id"].as_str().context("issue id")?;
    let comments = bd_json(&setup.bd, project.path(), &["comments", id, "--json"], &[])?;
    let comments = comments.as_array().cloned().unwrap_or_default();
    assert_eq!(comments.len(), 1, "{comments:?}");
    let comment = comments[0]["text"].as_str().context("comment text")?;
    assert_markdown_inert("the growth comment", comment);
    assert!(comment.contains("grew to 9 occurrence(s)"), "{comment}");
    Ok(())
}

#[test]
fn a_200_kb_command_is_filed_with_its_evidence_capped_and_kept_whole_in_the_store() -> Result<()> {
    let command = format!("bd create {}", "x".repeat(200 * 1024));
    let setup = Setup::new(&command, "T-7f395a45")?;
    let output = setup.run()?;
    ensure!(output.status.success(), "run failed: {}", String::from_utf8_lossy(&output.stderr));
    let filed = setup.filed()?;
    assert_eq!(filed.len(), 1, "filed on the first run, not retried forever: {filed:?}");
    let description = filed[0]["description"].as_str().context("description")?;
    assert!(description.len() < 100 * 1024, "description of {} bytes", description.len());
    assert!(description.contains("--format json` has all of it"), "the cut says where the rest is");

    let fingerprint = setup.fingerprint()?;
    let json: serde_json::Value =
        serde_json::from_str(&setup.project.ok(&["insights", "show", &fingerprint, "--format", "json"], &[])?)?;
    assert_eq!(json["evidence"]["fields"]["command"], command.as_str(), "the store keeps all of it");
    assert_eq!(json["status"], "filed");
    Ok(())
}
