//! devloop-host as a user who ran `cargo install` meets it: the real binary in a folder that
//! has nothing of this repository, a fresh HOME, the bundled detectors, one state folder per
//! project, and settings checked before anything is read.

use std::path::Path;
use std::process::{Command, Output};

use anyhow::{Result, ensure};
use devloop_host_tests::follow::Follower;

fn cli_action(seconds: u32, command: &str) -> String {
    format!(
        r#"{{"timestamp": "2026-11-25T07:{:02}:{:02}.000000+00:00", "command": "{command}", "exit_code": 0, "thread_id": "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "thread_url": "https://ampcode.com/threads/T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f", "duration_ms": 312, "user": "dev", "working_dir": "/home/dev/proj", "environment": null, "output_size_bytes": 0, "error_message": null, "notes": null}}"#,
        seconds / 60,
        seconds % 60
    )
}

/// An empty folder with a HOME of its own and a project in `app/` whose devloop log holds
/// one burst of four `bd ready` runs.
struct Machine {
    root: tempfile::TempDir,
}

impl Machine {
    fn new() -> Result<Machine> {
        let root = tempfile::tempdir()?;
        std::fs::create_dir_all(root.path().join("home"))?;
        let devloop = root.path().join("app/.devloop");
        std::fs::create_dir_all(&devloop)?;
        let lines: Vec<String> = (0..4).map(|i| cli_action(i * 15, "bd ready")).collect();
        std::fs::write(devloop.join("cli-actions.jsonl"), lines.join("\n") + "\n")?;
        Ok(Machine { root })
    }

    fn path(&self, relative: &str) -> std::path::PathBuf {
        self.root.path().join(relative)
    }

    /// `devloop-host ARGS` in `cwd` (relative to the root), with nothing from this machine's
    /// environment that could point at the repository.
    fn devloop_host(&self, cwd: &str, args: &[&str]) -> Result<Output> {
        let mut command = Command::new(crate::binary());
        command.current_dir(self.path(cwd)).args(args).env("HOME", self.path("home")).env("NO_COLOR", "1");
        for variable in [
            "RUST_LOG",
            "XDG_CACHE_HOME",
            "XDG_CONFIG_HOME",
            "DEVLOOP_DIR",
            "DEVLOOP_HOME_DIR",
            "DEVLOOP_HOST_PLUGINS",
            "DEVLOOP_HOST_STATE_DIR",
            "DEVLOOP_HOST_CACHE",
            "DEVLOOP_HOST_STATUS",
            "DEVLOOP_HOST_ROUTING",
        ] {
            command.env_remove(variable);
        }
        Ok(command.output()?)
    }

    fn write(&self, relative: &str, text: &str) -> Result<()> {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
        Ok(std::fs::write(path, text)?)
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn json_lines(output: &Output) -> Result<Vec<serde_json::Value>> {
    Ok(stdout(output).lines().map(serde_json::from_str).collect::<Result<_, _>>()?)
}

fn patterns(output: &Output) -> Result<Vec<String>> {
    Ok(json_lines(output)?.iter().filter_map(|finding| finding["pattern"].as_str().map(str::to_owned)).collect())
}

#[test]
fn run_in_an_empty_folder_with_a_fresh_home_finds_the_bundled_detectors() -> Result<()> {
    let machine = Machine::new()?;
    let run = machine.devloop_host("app", &["run", "--format", "json"])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    assert!(patterns(&run)?.contains(&"command_repetition".to_owned()), "{}", stdout(&run));

    let listed = machine.devloop_host("app", &["plugins", "list", "--format", "json"])?;
    ensure!(listed.status.success(), "{}", stderr(&listed));
    let plugins = json_lines(&listed)?;
    let bundled: Vec<&str> = plugins
        .iter()
        .filter(|plugin| plugin["source"] == "bundled" && plugin["state"] == "loaded")
        .filter_map(|plugin| plugin["id"].as_str())
        .collect();
    // The rules detector runs pattern files; it is bundled, but not as a detector of its own.
    let built: Vec<&str> =
        devloop_host_tests::PLUGINS.iter().map(|(name, _)| *name).filter(|name| *name != "rules").collect();
    assert_eq!(bundled, built, "every detector under plugins/ is bundled and ran: {plugins:?}");
    Ok(())
}

#[test]
fn every_command_finds_the_state_folder_beside_the_devloop_folder() -> Result<()> {
    let machine = Machine::new()?;
    std::fs::create_dir_all(machine.path("elsewhere"))?;
    let devloop = machine.path("app/.devloop").display().to_string();
    let run = machine.devloop_host("elsewhere", &["run", "--devloop-dir", &devloop])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    assert!(machine.path("app/.devloop-host/insights.db").exists());
    assert!(!machine.path("elsewhere/.devloop-host").exists(), "nothing lands where the command ran");
    // The notice names a command that finds these findings from where the run was started.
    let notice = stderr(&run);
    let hint = notice
        .split("to look at (`")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .ok_or_else(|| anyhow::anyhow!("a triage hint in: {notice}"))?;
    let folder = hint
        .strip_prefix("devloop-host insights list --state-dir ")
        .ok_or_else(|| anyhow::anyhow!("the hint names the state folder: {hint}"))?;
    let hinted = machine.devloop_host("elsewhere", &["insights", "list", "--state-dir", folder])?;
    assert!(stdout(&hinted).contains("command_repetition"), "{}", stderr(&hinted));

    let listed = machine.devloop_host("elsewhere", &["insights", "list", "--devloop-dir", &devloop])?;
    ensure!(listed.status.success(), "{}", stderr(&listed));
    assert!(stdout(&listed).contains("command_repetition"), "{}", stdout(&listed));

    let moved = machine.path("state").display().to_string();
    let run = machine.devloop_host("app", &["run", "--state-dir", &moved])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    let listed = machine.devloop_host("app", &["insights", "list", "--state-dir", &moved])?;
    assert!(stdout(&listed).contains("command_repetition"), "{}", stderr(&listed));
    Ok(())
}

#[test]
fn a_project_plugin_overrides_the_bundled_one_with_the_same_id() -> Result<()> {
    let machine = Machine::new()?;
    let project_copy = machine.path("app/.devloop-host/plugins/my-repetition.wasm");
    std::fs::create_dir_all(project_copy.parent().unwrap_or(Path::new(".")))?;
    std::fs::copy(devloop_host_tests::plugin("command-repetition"), &project_copy)?;
    let user_copy = machine.path("home/.config/devloop-host/plugins/rerun.wasm");
    std::fs::create_dir_all(user_copy.parent().unwrap_or(Path::new(".")))?;
    std::fs::copy(devloop_host_tests::plugin("command-rerun"), &user_copy)?;

    let run = machine.devloop_host("app", &["run", "--format", "json"])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    let log = stderr(&run);
    assert!(log.contains("loaded .devloop-host/plugins/my-repetition.wasm"), "{log}");
    assert!(!log.contains("loaded bundled:command-repetition"), "{log}");
    assert!(log.contains(&format!("loaded {}", user_copy.display())), "{log}");
    assert!(!log.contains("loaded bundled:command-rerun"), "{log}");
    assert!(log.contains("loaded bundled:failure-workaround"), "the others still run: {log}");
    assert!(patterns(&run)?.contains(&"command_repetition".to_owned()));
    let five = machine.devloop_host(
        "app",
        &["run", "--format", "json", "--from-start", "--set", "command-repetition.min_repeats=5"],
    )?;
    ensure!(five.status.success(), "{}", stderr(&five));
    assert!(
        !patterns(&five)?.contains(&"command_repetition".to_owned()),
        "settings reach the detector by its id, whatever its file is called"
    );

    let listed = json_lines(&machine.devloop_host("app", &["plugins", "list", "--format", "json"])?)?;
    let sources: Vec<(String, String, String)> = listed
        .iter()
        .filter(|plugin| plugin["id"] == "command-repetition" || plugin["id"] == "command-rerun")
        .map(|plugin| {
            let text = |key: &str| plugin[key].as_str().unwrap_or_default().to_owned();
            (text("id"), text("source"), text("state"))
        })
        .collect();
    let owned = |id: &str, source: &str, state: &str| (id.to_owned(), source.to_owned(), state.to_owned());
    assert_eq!(
        sources,
        [
            owned("command-repetition", "project", "loaded"),
            owned("command-rerun", "user", "loaded"),
            owned("command-repetition", "bundled", "overridden"),
            owned("command-rerun", "bundled", "overridden"),
        ]
    );
    Ok(())
}

#[test]
fn settings_come_from_the_config_file_and_set_overrides_them() -> Result<()> {
    let machine = Machine::new()?;
    machine.write("app/.devloop-host/config.toml", "[detectors.command-repetition]\nmin_repeats = 5\n")?;
    let run = machine.devloop_host("app", &["run", "--format", "json"])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    assert!(!patterns(&run)?.contains(&"command_repetition".to_owned()), "four runs are no burst of five");

    let run = machine.devloop_host(
        "app",
        &["run", "--format", "json", "--from-start", "--set", "command-repetition.min_repeats=4"],
    )?;
    ensure!(run.status.success(), "{}", stderr(&run));
    assert!(patterns(&run)?.contains(&"command_repetition".to_owned()), "--set wins over the file");

    machine.write("app/.devloop-host/config.toml", "disabled_detectors = [\"command-repetition\"]\n")?;
    let run = machine.devloop_host("app", &["run", "--format", "json", "--from-start"])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    assert!(!patterns(&run)?.contains(&"command_repetition".to_owned()), "a disabled detector does not run");
    assert!(!stderr(&run).contains("loaded bundled:command-repetition"), "{}", stderr(&run));
    Ok(())
}

#[test]
fn a_typo_in_a_setting_is_exit_2_naming_what_exists_and_nothing_advances() -> Result<()> {
    let machine = Machine::new()?;
    let refused = |args: &[&str], expected: &str| -> Result<()> {
        let output = machine.devloop_host("app", &[&["run", "--format", "json"], args].concat())?;
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{args:?}: {}", stderr(&output));
        assert!(stdout(&output).is_empty());
        Ok(())
    };
    refused(
        &["--set", "command-repetiton.min_repeats=4"],
        "--set command-repetiton.min_repeats=4: there is no detector `command-repetiton`; the detectors are: ",
    )?;
    refused(
        &["--set", "command-repetition.min_repeat=4"],
        "detector `command-repetition` has no setting `min_repeat`; its settings are: min_repeats, burst_seconds",
    )?;
    refused(&["--set", "command-repetition.min_repeats=four"], "takes a whole number, not `four`")?;
    refused(&["--set", "command-repetition.min_repeats=1"], "detector `command-repetition` refused its settings")?;
    refused(&["--set", "min_repeats=4"], "write DETECTOR.NAME=VALUE")?;
    assert!(!machine.path("app/.devloop-host/insights.db").exists(), "nothing was read, nothing stored");

    let run = machine.devloop_host("app", &["run", "--format", "json", "--set", "command-repetition.min_repeats=4"])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    assert!(patterns(&run)?.contains(&"command_repetition".to_owned()), "the corrected run still finds the burst");
    Ok(())
}

#[test]
fn config_errors_name_the_file_and_line() -> Result<()> {
    let machine = Machine::new()?;
    let refused = |config: &str, expected: &str| -> Result<()> {
        machine.write("app/.devloop-host/config.toml", config)?;
        let output = machine.devloop_host("app", &["run"])?;
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains(expected), "{}", stderr(&output));
        Ok(())
    };
    refused("[limits]\nbatch_size = 16\ndeadline = 5\n", ".devloop-host/config.toml:3: unknown field `deadline`")?;
    refused(
        "# mine\n\n[detectors.command-repetition]\nmin_repeat = 4\n",
        ".devloop-host/config.toml:4: detector `command-repetition` has no setting `min_repeat`",
    )?;
    refused(
        "[detectors.command-repetition]\nmin_repeats = \"4\"\n",
        ".devloop-host/config.toml:2: `command-repetition.min_repeats` takes a whole number, not `\"4\"`",
    )?;
    refused("[[routing.rule]]\nsinks = [\"email\"]\n", ".devloop-host/config.toml:2: unknown variant `email`")?;
    refused(
        "\ndisabled_detectors = [\"metric-anomaly\", \"comand-rerun\"]\n",
        ".devloop-host/config.toml:2: there is no detector `comand-rerun`; the detectors are: command-correlation, ",
    )?;
    assert!(!machine.path("app/.devloop-host/insights.db").exists());
    Ok(())
}

#[test]
fn init_writes_a_config_that_doctor_accepts_and_doctor_says_what_to_fix() -> Result<()> {
    let machine = Machine::new()?;
    let init = machine.devloop_host("app", &["init"])?;
    ensure!(init.status.success(), "{}", stderr(&init));
    assert!(stdout(&init).contains("wrote .devloop-host/config.toml"), "{}", stdout(&init));
    let config = std::fs::read_to_string(machine.path("app/.devloop-host/config.toml"))?;
    assert!(config.contains("# [detectors.command-repetition]"), "{config}");
    assert!(config.contains("# min_repeats = 4   # "), "{config}");
    let again = machine.devloop_host("app", &["init"])?;
    assert!(!again.status.success() && stderr(&again).contains("pass --force"), "{}", stderr(&again));

    let doctor = machine.devloop_host("app", &["doctor"])?;
    assert!(doctor.status.success(), "{}\n{}", stdout(&doctor), stderr(&doctor));
    let report = stdout(&doctor);
    for expected in ["ok       config", "ok       sources  1 log(s)", "ok       plugins", "bd", "No problems"] {
        assert!(report.contains(expected), "`{expected}` missing from:\n{report}");
    }

    let uncommented = config
        .replace("# min_repeats = 4", "min_repeats = 1")
        .replace("# [detectors.command-repetition]", "[detectors.command-repetition]");
    machine.write("app/.devloop-host/config.toml", &uncommented)?;
    let doctor = machine.devloop_host("app", &["doctor"])?;
    assert_eq!(doctor.status.code(), Some(1));
    assert!(
        stdout(&doctor).contains("PROBLEM  settings detector `command-repetition` refused its settings"),
        "{}",
        stdout(&doctor)
    );
    Ok(())
}

#[test]
fn quiet_means_nothing_on_stderr_and_a_closed_pipe_ends_quietly() -> Result<()> {
    let machine = Machine::new()?;
    let run = machine.devloop_host("app", &["-q", "run"])?;
    ensure!(run.status.success(), "{}", stderr(&run));
    assert!(stdout(&run).contains("command_repetition"), "{}", stdout(&run));
    assert_eq!(stderr(&run), "", "-q prints no notice of new findings and no log");

    for args in [&["sources"][..], &["insights", "list"], &["completions", "bash"]] {
        let mut child = Command::new(crate::binary())
            .current_dir(machine.path("app"))
            .args(args)
            .env("HOME", machine.path("home"))
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()?;
        drop(child.stdout.take());
        let output = child.wait_with_output()?;
        assert!(output.status.success(), "{args:?} | head: {:?} {}", output.status, stderr(&output));
        assert!(!stderr(&output).contains("error"), "{args:?}: {}", stderr(&output));
    }
    Ok(())
}

#[test]
fn completions_and_a_man_page_are_generated_for_every_subcommand() -> Result<()> {
    let machine = Machine::new()?;
    for (shell, marker) in
        [("bash", "complete -F"), ("zsh", "#compdef devloop-host"), ("fish", "complete -c devloop-host")]
    {
        let output = machine.devloop_host("app", &["completions", shell])?;
        ensure!(output.status.success(), "{shell}: {}", stderr(&output));
        let script = stdout(&output);
        assert!(script.contains(marker), "{shell}: {script}");
        for subcommand in ["run", "insights", "plugins", "doctor", "init"] {
            assert!(script.contains(subcommand), "{shell} completes `{subcommand}`");
        }
    }
    let man = machine.devloop_host("app", &["man"])?;
    ensure!(man.status.success(), "{}", stderr(&man));
    assert!(stdout(&man).starts_with(".ie") || stdout(&man).contains(".TH devloop-host"), "{}", stdout(&man));

    for subcommand in
        [&["run"][..], &["init"], &["doctor"], &["plugins", "list"], &["plugins", "new"], &["insights", "list"]]
    {
        let help = machine.devloop_host("app", &[subcommand, &["--help"]].concat())?;
        assert!(stdout(&help).contains("Examples:\n  devloop-host "), "{subcommand:?} --help has examples");
    }
    Ok(())
}

#[test]
fn a_replay_shows_progress_on_a_terminal_only() -> Result<()> {
    let machine = Machine::new()?;
    let lines: Vec<String> = (0..3000).map(|i| cli_action(i % 3600, &format!("make target-{}", i % 7))).collect();
    machine.write("app/.devloop/cli-actions.jsonl", &(lines.join("\n") + "\n"))?;
    // `script` gives the command a terminal for stdin, stdout and stderr, and copies what it
    // writes there to our stdout.
    let on_terminal = |quiet: &str| -> Result<String> {
        let command = format!("{} {quiet} run --from-start --batch-size 8", crate::binary().display());
        let output = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .current_dir(machine.path("app"))
            .env("HOME", machine.path("home"))
            .env_remove("RUST_LOG")
            .env_remove("DEVLOOP_HOST_PLUGINS")
            .env_remove("DEVLOOP_HOST_STATE_DIR")
            .env_remove("DEVLOOP_DIR")
            .output()?;
        ensure!(output.status.success(), "{}", stdout(&output));
        Ok(stdout(&output))
    };
    let shown = on_terminal("")?;
    assert!(shown.contains("replaying devloop's logs through 9 detector(s)"), "{shown}");
    assert!(!on_terminal("-q")?.contains("replaying"), "-q shows no progress");
    let piped = machine.devloop_host("app", &["run", "--from-start", "--batch-size", "8"])?;
    ensure!(piped.status.success(), "{}", stderr(&piped));
    assert!(!stderr(&piped).contains("replaying"), "a piped stderr gets no progress line");
    Ok(())
}

#[test]
fn a_plugin_added_to_the_project_while_run_follows_takes_over_from_the_bundled_one() -> Result<()> {
    let machine = Machine::new()?;
    let mut follower = Follower::spawn(
        Command::new(crate::binary())
            .current_dir(machine.path("app"))
            .args(["run", "--follow"])
            .env("HOME", machine.path("home"))
            .env("NO_COLOR", "1")
            // "caught up" is a debug line: a follow run left alone logs nothing at info.
            .env("RUST_LOG", "warn,devloop_host=debug")
            .env_remove("DEVLOOP_HOST_PLUGINS")
            .env_remove("DEVLOOP_HOST_STATE_DIR")
            .env_remove("DEVLOOP_DIR")
            .stdout(std::process::Stdio::null()),
    )?;
    let patience = std::time::Duration::from_secs(120);
    follower.wait_for_line(&["caught up"], patience)?;
    let plugin = devloop_host_tests::plugin("command-repetition").display().to_string();
    let add = machine.devloop_host("app", &["plugins", "add", &plugin])?;
    ensure!(add.status.success(), "{}", stderr(&add));
    assert!(stdout(&add).contains("as .devloop-host/plugins/command-repetition.wasm"), "{}", stdout(&add));
    follower.wait_for_line(&["plugin command-repetition swapped from 0.1.0 to 0.1.0; state handed over"], patience)?;
    Ok(())
}

#[test]
fn removing_a_bundled_detector_says_how_to_turn_it_off() -> Result<()> {
    let machine = Machine::new()?;
    let remove = machine.devloop_host("app", &["plugins", "remove", "metric-anomaly"])?;
    assert!(!remove.status.success());
    assert!(
        stderr(&remove).contains("`metric-anomaly` is bundled with devloop-host, not in .devloop-host/plugins; to stop it running, add it to `disabled_detectors` in .devloop-host/config.toml"),
        "{}",
        stderr(&remove)
    );
    Ok(())
}
