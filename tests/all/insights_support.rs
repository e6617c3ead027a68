//! Shared by the insights and beads tests: a scratch project whose devloop logs are written by
//! the real devloop package, the real binary run in it, and a `bd` to file into (the stand-in
//! under tests/bd-stand-in, or the real one when BD_BIN names it).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, ensure};

/// Every logged command runs at this time plus its offset, so fingerprints, evidence ids and
/// last-seen times are the same on every test run.
pub const LOG_START: &str = "2026-11-25T07:00:00+00:00";
pub const THREAD: &str = "T-7f395a45-3c1e-4b8a-9d2f-0a1b2c3d4e5f";

/// The Python of the venv with the real devloop package (`scripts/python-env` creates it).
pub fn venv_python() -> Result<PathBuf> {
    let venv = std::env::var_os("DEVLOOP_HOST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/devloop-host/venv")
    });
    let python = venv.join("bin/python");
    ensure!(python.exists(), "{} is missing: run scripts/python-env", python.display());
    Ok(python)
}

/// Runs a Python snippet in the devloop venv with `args`, returning stdout.
pub fn python(snippet: &str, args: &[&str]) -> Result<String> {
    let output = Command::new(venv_python()?).arg("-c").arg(snippet).args(args).output()?;
    ensure!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(String::from_utf8(output.stdout)?)
}

/// One logged devloop command: seconds after [`LOG_START`], the command line, its thread.
pub struct Logged<'a> {
    pub offset_seconds: u32,
    pub command: &'a str,
    pub thread: Option<&'a str>,
}

/// `count` runs of `command` in `thread`, 10 s apart from `start`.
pub fn burst<'a>(start: u32, count: u32, command: &'a str, thread: Option<&'a str>) -> Vec<Logged<'a>> {
    (0..count).map(|index| Logged { offset_seconds: start + index * 10, command, thread }).collect()
}

/// A project with a devloop folder and the command-repetition plugin.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Result<Project> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join(".devloop"))?;
        let plugins = dir.path().join("plugins");
        std::fs::create_dir_all(&plugins)?;
        std::fs::copy(devloop_host_tests::plugin("command-repetition"), plugins.join("command_repetition.wasm"))?;
        Ok(Project { dir })
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Appends CLI actions to `.devloop/cli-actions.jsonl` with devloop's own `ActionLogger`.
    pub fn log(&self, runs: &[Logged<'_>]) -> Result<()> {
        let records: Vec<serde_json::Value> = runs
            .iter()
            .map(|run| serde_json::json!({"offset": run.offset_seconds, "command": run.command, "thread": run.thread}))
            .collect();
        python(
            r#"
import datetime, importlib, json, sys
from pathlib import Path
action_logger = importlib.import_module("devloop.core.action_logger")
logger = action_logger.ActionLogger(Path(sys.argv[1]))
start = datetime.datetime.fromisoformat(sys.argv[2])
for record in json.loads(sys.argv[3]):
    thread = record["thread"]
    logger.log_action(action_logger.CLIAction(
        timestamp=(start + datetime.timedelta(seconds=record["offset"])).isoformat(),
        command=record["command"], exit_code=0, thread_id=thread,
        thread_url=f"https://ampcode.com/threads/{thread}" if thread else None,
        duration_ms=300, user="dev", working_dir="/home/dev/proj"))
"#,
            &[
                &self.path().join(".devloop/cli-actions.jsonl").display().to_string(),
                LOG_START,
                &serde_json::to_string(&records)?,
            ],
        )?;
        Ok(())
    }

    /// Runs `devloop-host ARGS` in the project with `env`.
    pub fn devloop_host(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        let mut command = Command::new(crate::binary());
        command.current_dir(self.path()).args(args).env_remove("RUST_LOG").env_remove("NO_COLOR").env_remove("BD_BIN");
        command
            .env_remove("DEVLOOP_HOST_STATE_DIR")
            .env_remove("DEVLOOP_HOST_PLUGINS")
            .env_remove("DEVLOOP_HOST_ROUTING");
        command.env_remove("DEVLOOP_DIR").env("DEVLOOP_HOME_DIR", self.path().join("no-home-devloop"));
        for (key, value) in env {
            command.env(key, value);
        }
        Ok(command.stdin(Stdio::null()).output()?)
    }

    /// `devloop-host run` over what the project's logs gained since the last run.
    pub fn run(&self, env: &[(&str, &str)]) -> Result<Output> {
        self.run_with(&[], env)
    }

    /// `devloop-host run EXTRA…`.
    pub fn run_with(&self, extra: &[&str], env: &[(&str, &str)]) -> Result<Output> {
        let mut args = vec![
            "run",
            "--devloop-dir",
            ".devloop",
            "--plugins",
            "plugins",
            "--cache-dir",
            "cache",
            "--format",
            "json",
        ];
        args.extend_from_slice(extra);
        self.devloop_host(&args, env)
    }

    /// Like [`Project::run`], failing unless it succeeds.
    pub fn run_ok(&self, env: &[(&str, &str)]) -> Result<Output> {
        let output = self.run(env)?;
        ensure!(output.status.success(), "run failed: {}", String::from_utf8_lossy(&output.stderr));
        Ok(output)
    }

    /// `devloop-host ARGS`, failing unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str], env: &[(&str, &str)]) -> Result<String> {
        let output = self.devloop_host(args, env)?;
        ensure!(output.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        Ok(String::from_utf8(output.stdout)?)
    }

    /// `insights list --format json` as values.
    pub fn listed(&self, extra: &[&str]) -> Result<Vec<serde_json::Value>> {
        let mut args = vec!["insights", "list", "--format", "json"];
        args.extend_from_slice(extra);
        self.ok(&args, &[])?.lines().map(|line| serde_json::from_str(line).context("a JSON line")).collect()
    }

    pub fn write(&self, relative: &str, text: &str) -> Result<()> {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(std::fs::write(path, text)?)
    }
}

/// The stand-in `bd` script.
pub fn bd_stand_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/bd-stand-in/bd")
}

/// The `bd` the beads tests file into: `BD_BIN` (a real bd) when set, else a launcher in
/// `dir` that runs the stand-in with the venv's Python.
pub fn bd_program(dir: &Path) -> Result<PathBuf> {
    if let Some(real) = std::env::var_os("BD_BIN").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(real));
    }
    let launcher = dir.join("bd-launcher");
    write_script(
        &launcher,
        &format!("#!/bin/sh\nexec '{}' '{}' \"$@\"\n", venv_python()?.display(), bd_stand_in().display()),
    )?;
    Ok(launcher)
}

/// A `bd` that behaves like `real` but kills its caller right after a `create` returns: a
/// crash of devloop-host between `bd create` and recording the new issue's id.
pub fn crashing_bd(dir: &Path, real: &Path) -> Result<PathBuf> {
    let wrapper = dir.join("bd-crash-after-create");
    write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\n'{}' \"$@\"\nstatus=$?\nif [ \"$1\" = create ]; then kill -9 \"$PPID\"; fi\nexit $status\n",
            real.display()
        ),
    )?;
    Ok(wrapper)
}

/// A `bd` that behaves like `real` except that `create` fails the way bd reports errors.
pub fn failing_bd(dir: &Path, real: &Path) -> Result<PathBuf> {
    let wrapper = dir.join("bd-failing-create");
    write_script(
        &wrapper,
        &format!(
            "#!/bin/sh\nif [ \"$1\" = create ]; then echo '{{\"schema_version\": 1, \"error\": \"database is locked\", \"code\": \"error\"}}' >&2; exit 1; fi\nexec '{}' \"$@\"\n",
            real.display()
        ),
    )?;
    Ok(wrapper)
}

fn write_script(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

/// Runs `bd ARGS` in `dir`.
pub fn bd(program: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Output> {
    let mut command = Command::new(program);
    command.current_dir(dir).args(args).env_remove("BD_JSON_ENVELOPE").env_remove("BD_STAND_IN_JSON");
    for (key, value) in env {
        command.env(key, value);
    }
    Ok(command.output()?)
}

/// The JSON payload of a successful `bd … --json`, envelope removed.
pub fn bd_json(program: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<serde_json::Value> {
    let output = bd(program, dir, args, env)?;
    ensure!(output.status.success(), "bd {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    let value: serde_json::Value =
        serde_json::from_slice(&output.stdout).with_context(|| format!("bd {args:?} printed no JSON"))?;
    Ok(match value {
        serde_json::Value::Object(mut object) if object.contains_key("data") && !object.contains_key("id") => {
            object.remove("data").unwrap_or_default()
        }
        other => other,
    })
}

/// Every issue in the beads database of `dir`, closed ones too.
pub fn bd_issues(program: &Path, dir: &Path) -> Result<Vec<serde_json::Value>> {
    let listed = bd_json(program, dir, &["list", "--all", "-n", "0", "--json"], &[])?;
    listed.as_array().cloned().context("bd list --json prints a list")
}

/// `bd init` in `dir` with `prefix`.
pub fn bd_init(program: &Path, dir: &Path, prefix: &str) -> Result<()> {
    let output = bd(program, dir, &["init", "--prefix", prefix, "--quiet"], &[])?;
    ensure!(output.status.success(), "bd init failed: {}", String::from_utf8_lossy(&output.stderr));
    Ok(())
}
