//! Pattern files: detectors written as TOML and run by the rules component — the shipped
//! patterns through their cases, two compiled detectors re-expressed as files, `run` finding a
//! pattern from the project's folder with its state kept across runs, and `patterns check`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result};
use devloop_host::harness::Case;
use devloop_host::patterns::{self, PatternFile, RulesEngine};
use devloop_host::runtime::{Runtime, RuntimeConfig};
use devloop_host_tests::follow::Follower;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn binary(arguments: &[&std::ffi::OsStr], cwd: &Path) -> Result<Output> {
    Ok(Command::new(crate::binary()).current_dir(cwd).args(arguments).env_remove("RUST_LOG").output()?)
}

fn shipped_patterns() -> Result<Vec<PathBuf>> {
    let mut files = patterns::pattern_files(&repository().join("patterns"))?;
    files.sort();
    Ok(files)
}

#[test]
fn every_shipped_pattern_passes_its_cases_through_plugin_test() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let files = shipped_patterns()?;
    assert!(files.len() >= 3, "at least three shipped patterns: {files:?}");
    for file in files {
        let id = PatternFile::read(&file)?.pattern.id;
        let cases = repository().join("patterns").join("cases");
        let output = binary(
            &[
                "-q".as_ref(),
                "plugin".as_ref(),
                "test".as_ref(),
                file.as_os_str(),
                cases.as_os_str(),
                "--rules".as_ref(),
                devloop_host_tests::plugin("rules").as_os_str(),
                "--cache-dir".as_ref(),
                cache.path().as_os_str(),
            ],
            &repository(),
        )?;
        let stdout = String::from_utf8(output.stdout)?;
        assert!(output.status.success(), "{id}:\n{stdout}\n{}", String::from_utf8_lossy(&output.stderr));

        let case_dirs: Vec<PathBuf> =
            std::fs::read_dir(cases.join(&id))?.filter_map(Result::ok).map(|entry| entry.path()).collect();
        let ok_lines = stdout.lines().filter(|line| line.starts_with("ok ")).count();
        assert_eq!(ok_lines, case_dirs.len(), "every case of {id} ran, and only its own:\n{stdout}");
        let mut positive = 0;
        for case in &case_dirs {
            let expected: Vec<serde_json::Value> =
                serde_json::from_str(&std::fs::read_to_string(case.join("expected.json"))?)?;
            positive += usize::from(!expected.is_empty());
        }
        assert!(positive >= 1 && positive < case_dirs.len(), "{id} needs positive and negative cases");
    }
    Ok(())
}

/// What must be equal for "the same finding": the identity, the triage-relevant values and how
/// often it was reported. The detector id differs by design (the pattern is a plugin of its
/// own), messages and evidence field names follow each one's own template, and a pattern's
/// confidence is its own stated rule.
const SAME_FINDING: &[&str] = &["pattern", "key", "fingerprint", "severity", "occurrences", "affected_threads"];

/// A compiled detector, the file re-expressing one of its checks, and which of the detector's
/// findings that check makes (by the end of their key).
struct Equivalent {
    file: &'static str,
    plugin: &'static str,
    cases: &'static str,
    key_suffix: &'static str,
    /// Whether the file's stated confidence is the detector's own (a test it can name).
    same_confidence: bool,
}

const EQUIVALENTS: &[Equivalent] = &[
    Equivalent {
        file: "metric-anomaly-duration.toml",
        plugin: "metric-anomaly",
        cases: "metric_anomaly",
        key_suffix: "\u{1f}duration",
        same_confidence: false,
    },
    Equivalent {
        file: "dismissed-suggestions.toml",
        plugin: "dismissed-suggestions",
        cases: "dismissed_suggestions",
        key_suffix: "",
        same_confidence: true,
    },
];

#[test]
fn compiled_detectors_re_expressed_as_files_give_the_same_findings_on_their_cases() -> Result<()> {
    let cache = tempfile::tempdir()?;
    let runtime = Runtime::new(RuntimeConfig { cache_dir: Some(cache.path().to_owned()), ..RuntimeConfig::default() })?;
    let engine = RulesEngine::load(&runtime, devloop_host_tests::plugin("rules"))?;
    for equivalent in EQUIVALENTS {
        let file = PatternFile::read(&repository().join("patterns").join("equivalents").join(equivalent.file))?;
        let (mut positive, mut negative) = (0, 0);
        for case_dir in
            devloop_host::harness::discover(&repository().join("tests").join("cases").join(equivalent.cases), &[])?
        {
            let case = Case::read(&case_dir)?;
            let compiled =
                devloop_host::harness::run_case(&runtime, devloop_host_tests::plugin(equivalent.plugin), &case)?;
            anyhow::ensure!(compiled.passed(), "{}: the compiled detector passes its own case", case.name);
            let expected: Vec<&serde_json::Value> = compiled
                .actual
                .iter()
                .filter(|finding| finding["key"].as_str().is_some_and(|key| key.ends_with(equivalent.key_suffix)))
                .collect();
            let outcome = patterns::run_case(&runtime, &engine, &file, &case)?;
            assert_eq!(outcome.actual.len(), expected.len(), "{}: {:#?}", case.name, outcome.actual);
            for (actual, expected) in outcome.actual.iter().zip(&expected) {
                for key in SAME_FINDING {
                    assert_eq!(actual[key], expected[key], "{}: `{key}` differs", case.name);
                }
                assert_eq!(actual["evidence"]["event_ids"], expected["evidence"]["event_ids"], "{}", case.name);
                if equivalent.same_confidence {
                    assert_eq!(actual["confidence"], expected["confidence"], "{}", case.name);
                }
                assert_eq!(actual["detector"], file.pattern.id.as_str(), "the pattern is a detector of its own");
            }
            if expected.is_empty() { negative += 1 } else { positive += 1 }
        }
        assert!(positive >= 1 && negative >= 1, "{}: positive and negative cases compared", equivalent.cases);
    }
    Ok(())
}

/// A scratch project: plugins (the rules component only), a pattern folder beside it, and the
/// logs devloop's own ActionLogger wrote.
struct Project {
    root: tempfile::TempDir,
}

impl Project {
    fn new(pattern: &Path) -> Result<Project> {
        let root = tempfile::tempdir()?;
        for folder in ["plugins", "patterns", "config", "proj/.devloop", "home/.devloop"] {
            std::fs::create_dir_all(root.path().join(folder))?;
        }
        std::fs::copy(devloop_host_tests::plugin("rules"), root.path().join("plugins").join("rules.wasm"))?;
        std::fs::copy(pattern, root.path().join("patterns").join(pattern.file_name().context("a file name")?))?;
        Ok(Project { root })
    }

    fn write_logs(&self, part: &str) {
        let (project, home) = (self.root.path().join("proj/.devloop"), self.root.path().join("home/.devloop"));
        devloop_host_tests::devloop::run_script("write_init_reruns.py", &[&project, &home, Path::new(part)]);
    }

    fn command(&self, arguments: &[&str]) -> Command {
        let mut command = Command::new(crate::binary());
        command
            .current_dir(self.root.path())
            .args(arguments)
            .env("XDG_CONFIG_HOME", self.root.path().join("config"))
            .env_remove("RUST_LOG");
        command
    }

    /// `run --format json` over the project's logs, plugins and state, with `extra` arguments.
    fn run_command(&self, extra: &[&str]) -> Command {
        let mut command = self.command(&[
            "run",
            "--format",
            "json",
            "--devloop-dir",
            "proj/.devloop",
            "--home-devloop-dir",
            "home/.devloop",
        ]);
        command.args(["--plugins", "plugins", "--cache-dir", "cache", "--state-dir", "state"]).args(extra);
        command
    }

    fn run(&self) -> Result<Vec<serde_json::Value>> {
        let output = self.run_command(&[]).output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        anyhow::ensure!(output.status.success(), "run failed: {stderr}");
        Ok(String::from_utf8(output.stdout)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?)
    }
}

#[test]
fn run_finds_a_project_pattern_and_its_state_survives_between_runs() -> Result<()> {
    let project = Project::new(&repository().join("patterns").join("init-rerun.toml"))?;
    project.write_logs("1");
    assert!(project.run()?.is_empty(), "one init is not a re-run");

    project.write_logs("2");
    let findings = project.run()?;
    assert_eq!(findings.len(), 1, "the first run's init was kept in the pattern's state: {findings:#?}");
    let finding = &findings[0];
    assert_eq!(finding["pattern"], "init_rerun");
    assert_eq!(finding["detector"], "init_rerun");
    assert_eq!(finding["evidence"]["fields"]["count"], 2);
    let message = finding["message"].as_str().context("a message")?;
    assert!(message.starts_with("`init` was run 2 times in 2h"), "{message}");

    let status = std::fs::read_to_string(project.root.path().join("plugins").join(".status.json"))?;
    let status: serde_json::Value = serde_json::from_str(&status)?;
    let plugins = status["plugins"].as_array().context("a list of plugins")?;
    let entry =
        plugins.iter().find(|plugin| plugin["id"] == "init_rerun").context("the pattern has a status of its own")?;
    assert_eq!(entry["language"], "pattern");
    assert_eq!(entry["quarantined"], false);
    assert!(plugins.iter().all(|plugin| plugin["id"] != "rules"), "the engine itself is not a detector: {status}");

    let list = project
        .command(&["plugins", "--plugins", "plugins", "--cache-dir", "cache", "list", "--format", "json"])
        .output()?;
    assert!(list.status.success(), "{}", String::from_utf8_lossy(&list.stderr));
    let rows: Vec<serde_json::Value> =
        String::from_utf8(list.stdout)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let row = rows.iter().find(|row| row["id"] == "init_rerun").context("`plugins list` has a row for the pattern")?;
    assert_eq!(row["state"], "loaded", "{row}");
    assert_eq!(row["language"], "pattern");
    assert!(rows.iter().all(|row| row["id"] != "rules"), "{rows:#?}");
    Ok(())
}

impl Project {
    /// `run` with `extra` arguments, its exit status and stderr, and the findings it printed.
    fn run_with(&self, extra: &[&str]) -> Result<(Option<i32>, String, usize)> {
        let output = self.run_command(extra).env("NO_COLOR", "1").output()?;
        Ok((output.status.code(), String::from_utf8(output.stderr)?, String::from_utf8(output.stdout)?.lines().count()))
    }
}

#[test]
fn a_patterns_thresholds_are_settings_checked_before_anything_is_read() -> Result<()> {
    let project = Project::new(&repository().join("patterns").join("init-rerun.toml"))?;
    project.write_logs("1");
    project.write_logs("2");

    let (code, stderr, printed) = project.run_with(&["--set", "init_rerun.at_lest=3"])?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("init_rerun") && stderr.contains("at_lest") && stderr.contains("within, at_least"),
        "the typo and the pattern's settings are named: {stderr}"
    );
    assert_eq!(printed, 0);
    let (code, stderr, _) = project.run_with(&["--set", "init_rerun.at_least=0"])?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`at_least` must be 1 or more"), "a value the file could not hold either: {stderr}");
    let (code, stderr, _) = project.run_with(&["--set", "init_rerun.within=a day"])?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("`a day` is not a span"), "{stderr}");

    std::fs::create_dir_all(project.root.path().join("state"))?;
    std::fs::write(project.root.path().join("state").join("config.toml"), "[detectors.init_rerun]\nat_least = 3\n")?;
    let (code, stderr, printed) = project.run_with(&[])?;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(printed, 0, "two inits are not three: the config file's threshold applies");
    let doctor = project
        .command(&["doctor", "--devloop-dir", "proj/.devloop", "--state-dir", "state", "--plugins", "plugins"])
        .args(["--cache-dir", "cache"])
        .env("NO_COLOR", "1")
        .output()?;
    let report = String::from_utf8(doctor.stdout)? + &String::from_utf8(doctor.stderr)?;
    assert!(report.contains("1 detector setting(s) accepted"), "doctor knows the pattern's settings: {report}");

    project.write_logs("2");
    let (code, stderr, printed) = project.run_with(&["--set", "init_rerun.at_least=4"])?;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(printed, 0, "`--set` overrides the config file: three inits are not four");

    project.write_logs("2");
    let (code, stderr, printed) = project.run_with(&[])?;
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        printed, 1,
        "the config file's three, reached with the earlier inits kept in state (the refused runs read nothing)"
    );
    Ok(())
}

#[test]
fn a_pattern_whose_match_changed_between_runs_starts_fresh_and_says_why() -> Result<()> {
    let shipped = repository().join("patterns").join("init-rerun.toml");
    let project = Project::new(&shipped)?;
    project.write_logs("1");
    assert!(project.run()?.is_empty());

    let file = project.root.path().join("patterns").join("init-rerun.toml");
    std::fs::write(&file, std::fs::read_to_string(&shipped)?.replace("within = \"1d\"", "within = \"2d\""))?;
    project.write_logs("2");
    let output = project
        .command(&["run", "--format", "json", "--devloop-dir", "proj/.devloop", "--home-devloop-dir", "home/.devloop"])
        .args(["--plugins", "plugins", "--cache-dir", "cache", "--state-dir", "state"])
        .env("NO_COLOR", "1")
        .output()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8(output.stderr)?;
    assert!(stderr.contains("init_rerun") && stderr.contains("different `[match]`"), "{stderr}");
    assert_eq!(String::from_utf8(output.stdout)?.lines().count(), 0, "the first init was forgotten with the old match");
    Ok(())
}

#[test]
fn a_broken_pattern_is_reported_with_its_line_and_the_others_still_run() -> Result<()> {
    let project = Project::new(&repository().join("patterns").join("init-rerun.toml"))?;
    let broken = "id = \"broken\"\ntitle = \"t\"\ndescription = \"d\"\nseverity = \"info\"\nmessage = \"m\"\n\
                  recommendation = \"r\"\nconfidence = { base = 0.5 }\n\n[match]\nkind = \"count\"\nwithin = \"1h\"\n\
                  at_least = 2\nwhere = { kinds = \"cli.command\" }\n";
    std::fs::write(project.root.path().join("patterns").join("broken.toml"), broken)?;

    let check = project.command(&["patterns", "check", "patterns"]).output()?;
    assert_eq!(check.status.code(), Some(2), "{check:?}");
    let stderr = String::from_utf8(check.stderr)?;
    assert!(stderr.contains("broken.toml:13:11: unknown field `kinds`"), "{stderr}");
    assert!(String::from_utf8(check.stdout)?.contains("init_rerun"), "the valid file is ok");

    project.write_logs("1");
    project.write_logs("2");
    let output = project
        .command(&["run", "--format", "json", "--devloop-dir", "proj/.devloop", "--home-devloop-dir", "home/.devloop"])
        .args(["--plugins", "plugins", "--cache-dir", "cache", "--state-dir", "state"])
        .output()?;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("broken.toml:13:11"), "the run says what is wrong");
    assert_eq!(String::from_utf8(output.stdout)?.lines().count(), 1, "init_rerun still found its finding");
    Ok(())
}

/// How long a follower may take to log what a test waits for.
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a following run may take to apply an edited pattern file: the edit wakes it, well
/// before the poll that reads everything anyway when no notification comes.
const NOTIFIED: std::time::Duration =
    devloop_host::stream::SAFETY_POLL.saturating_sub(std::time::Duration::from_secs(10));

/// `run --follow` in a project, with its stderr read line by line.
fn follow(project: &Project) -> Result<Follower> {
    Follower::spawn(
        project
            .command(&["run", "--follow", "--format", "json", "--devloop-dir", "proj/.devloop", "--home-devloop-dir"])
            .args(["home/.devloop", "--plugins", "plugins", "--cache-dir", "cache", "--state-dir", "state"])
            .env("NO_COLOR", "1")
            // "caught up" is a debug line: a follow run left alone logs nothing at info.
            .env("RUST_LOG", "warn,devloop_host=debug")
            .stdout(std::process::Stdio::null()),
    )
}

#[test]
fn run_follow_reloads_an_edited_pattern_keeping_state_only_for_the_same_match() -> Result<()> {
    let shipped = repository().join("patterns").join("init-rerun.toml");
    let project = Project::new(&shipped)?;
    project.write_logs("1");
    let file = project.root.path().join("patterns").join("init-rerun.toml");
    let text = std::fs::read_to_string(&shipped)?;
    let mut follower = follow(&project)?;
    follower.wait_for_line(&["caught up"], PATIENCE)?;

    // The run is given its plugins folder as a relative path, and finds the patterns beside it.
    std::fs::write(&file, text.replace("Make `devloop init` end with", "Make `devloop init` finish with"))?;
    follower.wait_for_line(&["plugin init_rerun swapped from", "state handed over"], NOTIFIED)?;

    std::fs::write(&file, text.replace("at_least = 2", "at_least = two"))?;
    let rejected = follower.wait_for_line(&["init-rerun.toml", "not swapped"], NOTIFIED)?;
    assert!(rejected.contains("init-rerun.toml:17:12"), "the line of the bad value: {rejected}");

    std::fs::write(&file, text.replace("at_least = 2", "at_least = 3"))?;
    let fresh = follower.wait_for_line(&["init_rerun", "fresh state"], NOTIFIED)?;
    assert!(fresh.contains("different `[match]`"), "{fresh}");
    Ok(())
}

/// The example pattern file of the README, exactly as printed there.
fn readme_example() -> Result<String> {
    let readme = std::fs::read_to_string(repository().join("README.md"))?;
    let start =
        readme.find("# .devloop-host/patterns/sync-fallback.toml").context("the README shows an example pattern")?;
    let end = start + readme[start..].find("```").context("the example's code block ends")?;
    Ok(readme[start..end].to_owned())
}

#[test]
fn the_readme_example_pattern_is_valid() -> Result<()> {
    let pattern =
        patterns::Pattern::parse(&readme_example()?, "README.md").map_err(|errors| anyhow::anyhow!("{errors:?}"))?;
    assert_eq!(pattern.id, "sync_fallback");
    Ok(())
}

/// The bar of pattern files: someone who read only the README saves its example where it says,
/// runs `devloop-host run` in their project as it says, and gets the finding; a typo in the
/// file is named with its line by `patterns check`. Nothing is compiled, and nothing but the
/// README's commands is used (no `--plugins`, no pattern folder option).
#[test]
fn a_pattern_written_as_the_readme_teaches_gives_findings_from_run_and_its_typos_their_line() -> Result<()> {
    let root = tempfile::tempdir()?;
    let (project, home) = (root.path().join("app"), root.path().join("home"));
    std::fs::create_dir_all(project.join(".devloop-host").join("patterns"))?;
    std::fs::create_dir_all(home.join(".devloop"))?;
    devloop_host_tests::devloop::run_script(
        "write_sync_fallback.py",
        &[&project.join(".devloop"), &home.join(".devloop")],
    );
    let file = project.join(".devloop-host").join("patterns").join("sync-fallback.toml");
    let example = readme_example()?;
    std::fs::write(&file, &example)?;
    let command = |arguments: &[&str]| {
        let mut command = Command::new(crate::binary());
        command
            .current_dir(&project)
            .args(arguments)
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("DEVLOOP_HOST_CACHE", root.path().join("cache"))
            .env_remove("RUST_LOG")
            .env_remove("DEVLOOP_DIR")
            .env_remove("DEVLOOP_HOST_PATTERNS");
        command
    };

    let check = command(&["patterns", "check", ".devloop-host/patterns"]).output()?;
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    let list = command(&["patterns", "list"]).output()?;
    assert!(String::from_utf8(list.stdout)?.contains("sync_fallback"), "`patterns list` shows what `run` loads");

    let run = command(&["run", "--format", "json"]).output()?;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let findings: Vec<serde_json::Value> =
        String::from_utf8(run.stdout)?.lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let found: Vec<&serde_json::Value> =
        findings.iter().filter(|finding| finding["pattern"] == "sync_fallback").collect();
    assert_eq!(found.len(), 1, "the failure followed 40 s later, not the one followed hours later: {findings:#?}");
    let message = found[0]["message"].as_str().context("a message")?;
    assert!(
        message.starts_with("`bd sync` failed; ") && message.contains(" ran `bd sync --no-daemon` 40s later"),
        "{message}"
    );
    assert_eq!(found[0]["detector"], "sync_fallback");
    assert_eq!(found[0]["evidence"]["event_ids"].as_array().map(Vec::len), Some(2));

    // A pattern is disabled by its id in the config file, like a compiled detector.
    std::fs::write(project.join(".devloop-host").join("config.toml"), "disabled_detectors = [\"sync_fallback\"]\n")?;
    let run = command(&["run", "--from-start", "--format", "json"]).output()?;
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let stdout = String::from_utf8(run.stdout)?;
    assert!(!stdout.contains("sync_fallback"), "a disabled pattern reports nothing: {stdout}");
    assert!(String::from_utf8(run.stderr)?.contains("sync_fallback is disabled in the config file"));
    std::fs::remove_file(project.join(".devloop-host").join("config.toml"))?;

    let typo = example.replacen("subject = { glob", "subjet = { glob", 1);
    let line = typo.lines().position(|line| line.contains("subjet")).context("the typo is in the file")? + 1;
    std::fs::write(&file, typo)?;
    let check = command(&["patterns", "check", ".devloop-host/patterns"]).output()?;
    assert_eq!(check.status.code(), Some(2));
    let stderr = String::from_utf8(check.stderr)?;
    assert!(stderr.contains(&format!("sync-fallback.toml:{line}:")) && stderr.contains("subjet"), "{stderr}");
    Ok(())
}
