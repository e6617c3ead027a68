//! `devloop-host exec -- CMD ARGS…`: runs a command and logs it to `cli-actions.jsonl` exactly
//! as devloop's `ActionLogger` does, so `bd` and `devloop` calls made by people and by Amp
//! agents land in the one log the detectors read.
//!
//! devloop takes the thread id from `AMP_THREAD_ID`, which Amp does not set; Amp's shell tool
//! sets `AMP_CURRENT_THREAD_ID`. Both are read here (and `AGENT_THREAD_ID`), and the thread URL
//! is built when `AMP_THREAD_URL` is not set.
//!
//! `exec` is transparent, so it can stand in for the command in a shell function: arguments
//! pass as the OS gave them (any bytes), the signals that end a command reach the child
//! ([`forward`]), the exit code is the child's (127 when the command is not found, as a shell
//! says), and nothing about logging (no home folder, a full disk) changes it.

mod forward;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::sources::default_home_devloop_dir;

/// The environment variables devloop's `ActionLogger` copies into a record, in its order.
const CAPTURED_ENVIRONMENT: &[&str] =
    &["AMP_THREAD_ID", "AMP_THREAD_URL", "CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL"];

/// Where an agent's thread id may be, most specific first.
const THREAD_ID_VARIABLES: &[&str] = &["AMP_CURRENT_THREAD_ID", "AMP_THREAD_ID", "AGENT_THREAD_ID"];

/// Runs a command with its input and output untouched, logs it to cli-actions.jsonl as
/// devloop does (with the Amp thread it ran in), and exits with its exit code.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host exec -- bd ready --json
  bd() { devloop-host exec -- bd \"$@\"; }     in a shell profile: every bd call is logged")]
pub struct Exec {
    /// devloop's home folder, where cli-actions.jsonl is (default: ~/.devloop).
    #[arg(long, env = "DEVLOOP_HOME_DIR")]
    home_devloop_dir: Option<PathBuf>,
    /// The command and its arguments (after `--`).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// A string as Python's `json.dumps` writes it (ASCII only, `\uXXXX` in lower-case hex).
fn python_json_string(text: &str, out: &mut String) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(character),
            _ => {
                let mut units = [0u16; 2];
                for unit in character.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// A JSON value as `json.dumps` writes it: `", "` between items and `": "` after keys.
enum PyJson {
    Null,
    Integer(i64),
    Text(String),
    Object(Vec<(&'static str, PyJson)>),
}

impl PyJson {
    fn text(value: Option<String>) -> PyJson {
        value.map_or(PyJson::Null, PyJson::Text)
    }

    fn write(&self, out: &mut String) {
        match self {
            PyJson::Null => out.push_str("null"),
            PyJson::Integer(integer) => out.push_str(&integer.to_string()),
            PyJson::Text(text) => python_json_string(text, out),
            PyJson::Object(entries) => {
                out.push('{');
                for (index, (key, value)) in entries.iter().enumerate() {
                    if index > 0 {
                        out.push_str(", ");
                    }
                    python_json_string(key, out);
                    out.push_str(": ");
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

/// What one command did, as a `CLIAction`.
struct CliAction {
    timestamp: chrono::DateTime<chrono::Utc>,
    command: String,
    exit_code: Option<i64>,
    duration_ms: i64,
    error_message: Option<String>,
}

/// `datetime.now(UTC).isoformat()`: microseconds, left out when zero.
fn python_isoformat(time: chrono::DateTime<chrono::Utc>) -> String {
    if time.timestamp_subsec_micros() == 0 {
        time.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// The record line (without its newline), reading the environment through `variable`.
fn record_line(action: &CliAction, variable: impl Fn(&str) -> Option<String>, working_dir: &str) -> String {
    let thread_id = THREAD_ID_VARIABLES.iter().find_map(|name| variable(name).filter(|value| !value.is_empty()));
    let thread_url = variable("AMP_THREAD_URL")
        .filter(|url| !url.is_empty())
        .or_else(|| thread_id.as_ref().map(|id| format!("https://ampcode.com/threads/{id}")));
    let environment: Vec<(&'static str, PyJson)> = CAPTURED_ENVIRONMENT
        .iter()
        .filter_map(|name| variable(name).map(|value| (*name, PyJson::Text(value))))
        .collect();
    let record = PyJson::Object(vec![
        ("timestamp", PyJson::Text(python_isoformat(action.timestamp))),
        ("command", PyJson::Text(action.command.clone())),
        ("exit_code", action.exit_code.map_or(PyJson::Null, PyJson::Integer)),
        ("thread_id", PyJson::text(thread_id)),
        ("thread_url", PyJson::text(thread_url)),
        ("duration_ms", PyJson::Integer(action.duration_ms)),
        ("user", PyJson::text(variable("USER"))),
        ("working_dir", PyJson::Text(working_dir.to_owned())),
        ("environment", if environment.is_empty() { PyJson::Null } else { PyJson::Object(environment) }),
        ("output_size_bytes", PyJson::Integer(0)),
        ("error_message", PyJson::text(action.error_message.clone())),
        ("notes", PyJson::Null),
    ]);
    let mut line = String::new();
    record.write(&mut line);
    line
}

/// How the command ended.
enum Ending {
    Exited(i32),
    Signalled(i32),
    NotStarted { code: i32, error: std::io::Error },
}

impl Ending {
    fn of(result: std::io::Result<std::process::ExitStatus>) -> Ending {
        use std::os::unix::process::ExitStatusExt;
        match result {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => Ending::Exited(code),
                (None, Some(signal)) => Ending::Signalled(signal),
                (None, None) => Ending::Exited(1),
            },
            // As a shell says: 127 when there is no such command, 126 when it cannot run.
            Err(error) => {
                let code = if error.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
                Ending::NotStarted { code, error }
            }
        }
    }

    /// The exit code a shell reports: the process's own, or 128 + the signal that ended it.
    fn shell_exit_code(&self) -> i32 {
        match self {
            Ending::Exited(code) | Ending::NotStarted { code, .. } => *code,
            Ending::Signalled(signal) => 128 + signal,
        }
    }
}

impl Exec {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let (program, arguments) =
            self.command.split_first().context("no command given; write `devloop-host exec -- CMD ARGS…`")?;
        if let Err(error) = forward::install() {
            tracing::warn!("signals will not be passed on to `{}`: {error}", program.to_string_lossy());
        }
        let started = Instant::now();
        let ending = Ending::of(forward::run(program, arguments));
        let duration_ms = started.elapsed().as_millis() as i64;
        let exit_code = ending.shell_exit_code();
        let action = CliAction {
            timestamp: chrono::Utc::now(),
            command: self.command.iter().map(|word| word.to_string_lossy()).collect::<Vec<_>>().join(" "),
            exit_code: Some(i64::from(exit_code)),
            duration_ms,
            error_message: match &ending {
                Ending::NotStarted { error, .. } => Some(error.to_string()),
                _ => None,
            },
        };
        if let Err(error) = log(self.home_devloop_dir, &action) {
            say(format_args!("the command was not logged: {error:#}"));
        }
        match ending {
            Ending::NotStarted { error, .. } => say(format_args!(
                "cannot run `{}`: {error}; check that it is installed and on PATH",
                program.to_string_lossy()
            )),
            Ending::Signalled(signal) if forward::FORWARDED.contains(&signal) => forward::die_by(signal),
            _ => {}
        }
        Ok(ExitCode::from(exit_code.clamp(0, 255) as u8))
    }
}

/// Tells stderr, if it can: a closed or broken stderr must not change the exit code either.
fn say(message: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr(), "devloop-host exec: {message}");
}

/// Appends the record to `cli-actions.jsonl` in `home` (default: ~/.devloop).
fn log(home: Option<PathBuf>, action: &CliAction) -> anyhow::Result<()> {
    let working_dir = std::env::current_dir().map(|dir| dir.display().to_string()).unwrap_or_default();
    let line = record_line(action, |name| std::env::var(name).ok(), &working_dir);
    let home = home
        .or_else(default_home_devloop_dir)
        .context("no home folder to log to; pass --home-devloop-dir or set DEVLOOP_HOME_DIR")?;
    let path = home.join("cli-actions.jsonl");
    append_line(&path, &line).with_context(|| format!("cannot append to {}", path.display()))
}

/// Appends one line in one write, as devloop does (`open(path, "a")`).
fn append_line(path: &std::path::Path, line: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(micros: u32) -> CliAction {
        let timestamp = chrono::DateTime::from_timestamp(1_795_592_643, micros * 1000).expect("a valid time");
        CliAction {
            timestamp,
            command: "bd ready --json".to_owned(),
            exit_code: Some(0),
            duration_ms: 312,
            error_message: None,
        }
    }

    #[test]
    fn the_record_matches_devloop_byte_for_byte() {
        let environment = |name: &str| match name {
            "AMP_CURRENT_THREAD_ID" => Some("T-7f395a45".to_owned()),
            "USER" => Some("dev".to_owned()),
            "CI" => Some("true".to_owned()),
            _ => None,
        };
        let line = record_line(&action(959_661), environment, "/home/dev/proj");
        assert_eq!(
            line,
            r#"{"timestamp": "2026-11-25T07:44:03.959661+00:00", "command": "bd ready --json", "exit_code": 0, "thread_id": "T-7f395a45", "thread_url": "https://ampcode.com/threads/T-7f395a45", "duration_ms": 312, "user": "dev", "working_dir": "/home/dev/proj", "environment": {"CI": "true"}, "output_size_bytes": 0, "error_message": null, "notes": null}"#
        );
    }

    #[test]
    fn whole_seconds_and_non_ascii_are_written_as_python_does() {
        let mut text = String::new();
        python_json_string("é\u{1F600}\"\u{1}", &mut text);
        assert_eq!(text, r#""\u00e9\ud83d\ude00\"\u0001""#);
        assert_eq!(python_isoformat(action(0).timestamp), "2026-11-25T07:44:03+00:00");
    }
}
