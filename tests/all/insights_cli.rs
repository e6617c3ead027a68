//! `devloop-host run` records findings in the store, and `devloop-host insights …` triages
//! them: dedupe across runs, status transitions, filters and formats.

use anyhow::Result;

use super::insights_support::{Project, THREAD, burst};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Two findings: `bd ready` three times in one thread; `devloop status` in two bursts of three
/// by one user (a second burst raises the detector's confidence).
fn two_findings() -> Result<Project> {
    let project = Project::new()?;
    let mut runs = burst(0, 3, "bd ready", Some(THREAD));
    runs.extend(burst(600, 3, "devloop status", None));
    runs.extend(burst(900, 3, "devloop status", None));
    project.log(&runs)?;
    Ok(project)
}

fn fingerprint_of(findings: &[serde_json::Value], command: &str) -> String {
    findings
        .iter()
        .find(|finding| finding["evidence"]["fields"]["command"] == command)
        .and_then(|finding| finding["fingerprint"].as_str())
        .unwrap_or_else(|| panic!("no finding for {command} in {findings:?}"))
        .to_owned()
}

#[test]
fn repeated_runs_keep_one_row_per_finding_and_announce_it_once() -> Result<()> {
    let project = two_findings()?;
    let first = project.run_ok(&[])?;
    assert!(stderr(&first).contains("2 finding(s) to look at"), "{}", stderr(&first));

    // A run that reads nothing new, and one that re-reads every log from the start.
    let nothing_new = project.run_ok(&[])?;
    assert!(!stderr(&nothing_new).contains("to look at"), "{}", stderr(&nothing_new));
    let reread = project.run_with(&["--from-start"], &[])?;
    assert!(reread.status.success());
    assert!(
        !stderr(&reread).contains("to look at"),
        "a finding detected again is not announced again: {}",
        stderr(&reread)
    );
    let findings = project.listed(&[])?;
    assert_eq!(findings.len(), 2, "{findings:?}");
    let ready =
        findings.iter().find(|finding| finding["evidence"]["fields"]["command"] == "bd ready").expect("bd ready");
    assert_eq!(ready["occurrences"], 3, "re-reading the same logs adds no evidence");
    assert_eq!(ready["runs"], 2, "the first run and the re-read detected it");
    assert_eq!(ready["status"], "new");
    assert_eq!(ready["thread_urls"][0], format!("https://ampcode.com/threads/{THREAD}"));

    let database = project.path().join(".devloop-host/insights.db");
    let connection = rusqlite::Connection::open(&database)?;
    let rows: i64 = connection.query_row("SELECT count(*) FROM findings", [], |row| row.get(0))?;
    let version: i64 = connection.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let journal: String = connection.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
    assert_eq!((rows, version, journal.as_str()), (2, devloop_host::store::SCHEMA_VERSION, "wal"));
    Ok(())
}

#[test]
fn status_transitions_ack_dismiss_snooze_and_reopen_on_growth() -> Result<()> {
    let project = two_findings()?;
    project.run_ok(&[])?;
    let findings = project.listed(&[])?;
    let ready = fingerprint_of(&findings, "bd ready");
    let status = fingerprint_of(&findings, "devloop status");

    let acked = project.ok(&["insights", "ack", &ready[..8]], &[])?;
    assert!(acked.contains("acknowledged") && acked.contains("(was new)"), "{acked}");
    let again = project.ok(&["insights", "ack", &ready], &[])?;
    assert!(again.contains("already acknowledged; nothing changed"), "{again}");

    project.ok(&["insights", "snooze", &status, "--for", "7d"], &[])?;
    let listed: Vec<String> =
        project.listed(&[])?.iter().map(|finding| finding["fingerprint"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(listed, [ready.as_str()], "snoozed findings are hidden by default");
    let snoozed = project.listed(&["--status", "snoozed"])?;
    assert_eq!(snoozed.len(), 1);
    assert!(snoozed[0]["snoozed_until"].as_str().is_some_and(|until| until.starts_with("20")), "{:?}", snoozed[0]);

    let dismissed = project.ok(&["insights", "dismiss", &ready, "--reason", "expected while debugging"], &[])?;
    assert!(dismissed.contains("quiet until 6 occurrences"), "{dismissed}");
    assert!(project.listed(&[])?.is_empty());

    // Detected again with the same evidence: it stays quiet (growth short of 2× is covered by
    // the store's own tests).
    let quiet = project.run_ok(&[])?;
    assert!(!stderr(&quiet).contains(&ready), "{}", stderr(&quiet));
    assert_eq!(project.listed(&["--status", "dismissed"])?.len(), 1);

    // A second burst doubles the evidence and reopens it.
    project.log(&burst(2400, 3, "bd ready", Some(THREAD)))?;
    let loud = project.run_ok(&[])?;
    assert!(stderr(&loud).contains("reopened") && stderr(&loud).contains(&ready), "{}", stderr(&loud));
    let reopened = project.listed(&["--pattern", "command_repetition", "--status", "new"])?;
    assert_eq!(reopened.len(), 1);
    assert!(
        reopened[0]["status_reason"].as_str().is_some_and(|reason| reason.starts_with("its evidence grew")),
        "{:?}",
        reopened[0]
    );

    let shown = project.ok(&["insights", "show", &ready], &[])?;
    for step in ["new", "acknowledged", "dismissed", "reopened"] {
        assert!(
            shown
                .lines()
                .any(|line| line.trim_start().get(17..).is_some_and(|rest| rest.trim_start().starts_with(step))),
            "history lacks {step}:\n{shown}"
        );
    }
    Ok(())
}

#[test]
fn filters_select_by_severity_pattern_thread_confidence_since_and_status() -> Result<()> {
    let project = two_findings()?;
    project.run_ok(&[])?;
    let count = |args: &[&str]| -> Result<usize> { Ok(project.listed(args)?.len()) };
    assert_eq!(count(&[])?, 2);
    assert_eq!(count(&["--thread", THREAD])?, 1);
    assert_eq!(count(&["--thread", &format!("https://ampcode.com/threads/{THREAD}")])?, 1);
    assert_eq!(count(&["--pattern", "command_repetition"])?, 2);
    assert_eq!(count(&["--pattern", "command_rerun"])?, 0);
    assert_eq!(count(&["--severity", "warning"])?, 0);
    assert_eq!(count(&["--severity", "info"])?, 2);
    assert_eq!(count(&["--min-confidence", "0.65"])?, 1, "a second burst is more confident");
    assert_eq!(count(&["--since", "2026-11-25T07:05:00Z"])?, 1);
    assert_eq!(count(&["--since", "2026-11-26"])?, 0);
    assert_eq!(count(&["--status", "new,acknowledged", "-n", "1"])?, 1);
    assert_eq!(count(&["--status", "dismissed"])?, 0);

    let bad = project.devloop_host(&["insights", "list", "--since", "yesterday"], &[])?;
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("neither a duration (24h, 7d) nor a date"), "{}", stderr(&bad));
    let elsewhere = project.devloop_host(&["insights", "list", "--state-dir", "elsewhere"], &[])?;
    assert!(
        stderr(&elsewhere).contains("no insight store at elsewhere/insights.db; `devloop-host run` creates it"),
        "{}",
        stderr(&elsewhere)
    );
    let unknown = project.devloop_host(&["insights", "show", "feedface"], &[])?;
    assert!(
        stderr(&unknown).contains("no finding `feedface`; `devloop-host insights list --status all`"),
        "{}",
        stderr(&unknown)
    );
    Ok(())
}

#[test]
fn tables_fit_the_terminal_width_and_carry_no_colour_off_a_terminal() -> Result<()> {
    let project = two_findings()?;
    project.run_ok(&[])?;
    for columns in ["80", "100", "160"] {
        let table = project.ok(&["insights", "list"], &[("COLUMNS", columns)])?;
        let width: usize = columns.parse()?;
        for line in table.lines().filter(|line| !line.starts_with(char::is_numeric)) {
            assert!(line.chars().count() <= width, "{} > {width}: {line}", line.chars().count());
        }
        assert!(!table.contains('\u{1b}'), "no escape codes when stdout is not a terminal");
        assert_eq!(table.contains("LAST SEEN"), width >= 120, "narrow terminals drop the last-seen column:\n{table}");
        assert!(table.contains("`bd ready` was run"), "{table}");
    }
    Ok(())
}

/// Runs `insights list` on a pseudo-terminal (util-linux `script`) to see what a person sees.
fn on_a_terminal(project: &Project, no_color: Option<&str>) -> Result<String> {
    let binary = crate::binary();
    let mut command = std::process::Command::new("script");
    command
        .current_dir(project.path())
        .args(["-qec", &format!("'{}' insights list", binary.display()), "/dev/null"])
        .env_remove("NO_COLOR")
        .env("COLUMNS", "120");
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let output = command.stdin(std::process::Stdio::null()).output()?;
    anyhow::ensure!(output.status.success(), "script failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?)
}

#[test]
fn colour_appears_on_a_terminal_unless_no_color_is_set() -> Result<()> {
    let project = two_findings()?;
    project.run_ok(&[])?;
    assert!(on_a_terminal(&project, None)?.contains("\u{1b}["), "a terminal gets colour");
    assert!(!on_a_terminal(&project, Some("1"))?.contains("\u{1b}["), "NO_COLOR turns it off");
    Ok(())
}

#[test]
fn a_typo_in_the_routing_config_stops_the_run_with_file_and_line() -> Result<()> {
    let project = two_findings()?;
    project.write(".devloop-host/routing.toml", "[[rule]]\nsinks = [\"terminal\"]\nmin_sevrity = \"error\"\n")?;
    let output = project.run(&[])?;
    assert!(!output.status.success());
    let message = stderr(&output);
    assert!(message.contains(".devloop-host/routing.toml:3: unknown field `min_sevrity`"), "{message}");
    Ok(())
}

#[test]
fn the_jsonl_sink_appends_new_and_grown_findings_only() -> Result<()> {
    let project = two_findings()?;
    project.write(
        ".devloop-host/routing.toml",
        "[[rule]]\nmin_confidence = 0.65\nsinks = [\"jsonl\"]\n\n[jsonl]\npath = \"out/findings.jsonl\"\n",
    )?;
    project.run_ok(&[])?;
    project.run_ok(&[])?;
    let text = std::fs::read_to_string(project.path().join("out/findings.jsonl"))?;
    let lines: Vec<serde_json::Value> = text.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    assert_eq!(lines.len(), 1, "only the confident finding, only once: {text}");
    assert_eq!(lines[0]["change"], "new");
    assert_eq!(lines[0]["evidence"]["fields"]["command"], "devloop status");
    Ok(())
}
