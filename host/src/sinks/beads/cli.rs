//! The `bd` command line, and nothing more: build arguments, run, parse `--json` output in
//! either shape (the bare object or list, or the `{"schema_version", "data"}` envelope).

use std::path::PathBuf;
use std::process::Command;

use crate::escape;
use crate::model::Fingerprint;
use crate::routing::BeadsSettings;

/// Longest command line and `bd` message kept in an error, in bytes.
const ERROR_COMMAND_LIMIT: usize = 400;

/// Prefix of the external ref that identifies a finding's issue.
pub const EXTERNAL_REF_PREFIX: &str = "devloop-host:";

/// The external ref of a finding's issue.
pub fn external_ref(fingerprint: &Fingerprint) -> String {
    format!("{EXTERNAL_REF_PREFIX}{fingerprint}")
}

/// `bd` could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BdError {
    #[error(
        "the beads CLI `{program}` was not found; install beads (`brew install beads`, or a release binary from the beads project), \
         point BD_BIN or `[beads] bin` in the routing config at it, or use `devloop-host beads file --export-jsonl FILE`"
    )]
    Missing { program: String },
    #[error("cannot run `{program}`")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed { command: String, status: String, stderr: String },
    #[error("`{command}` printed output that is not the JSON beads documents: {problem}")]
    Output { command: String, problem: String },
}

/// The fields of a beads issue the filer needs.
#[derive(Debug, Clone, PartialEq)]
pub struct BdIssue {
    pub id: String,
    pub title: String,
    pub status: Option<String>,
    pub external_ref: Option<String>,
}

/// A `bd` program to run.
#[derive(Debug, Clone)]
pub struct Bd {
    program: PathBuf,
}

impl Bd {
    pub fn new(program: impl Into<PathBuf>) -> Bd {
        Bd { program: program.into() }
    }

    /// `BD_BIN`, else `[beads] bin`, else `bd` on PATH.
    pub fn from_settings(settings: &BeadsSettings) -> Bd {
        let program = std::env::var_os("BD_BIN")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from)
            .or_else(|| settings.bin.clone())
            .unwrap_or_else(|| PathBuf::from("bd"));
        Bd { program }
    }

    /// The command line as a shell would take it, for `--dry-run` and error messages.
    pub fn command_line(&self, args: &[String]) -> String {
        let mut words = vec![self.program.display().to_string()];
        words.extend(args.iter().cloned());
        shell_words(&words)
    }

    /// Runs `bd ARGS` and returns the JSON payload of its stdout, envelope removed.
    pub fn run_json(&self, args: &[String]) -> Result<serde_json::Value, BdError> {
        let program = self.program.display().to_string();
        // Errors are stored with the finding and shown on terminals: a description's worth of
        // command line would drown the reason.
        let command_line = || escape::cap(&self.command_line(args), ERROR_COMMAND_LIMIT, "");
        tracing::debug!(command = %command_line(), "running bd");
        let output = Command::new(&self.program).args(args).output().map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                BdError::Missing { program: program.clone() }
            } else {
                BdError::Spawn { program: program.clone(), source }
            }
        })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let message = serde_json::from_str::<serde_json::Value>(stderr.trim())
                .ok()
                .and_then(|error| error.get("error").and_then(|text| text.as_str()).map(str::to_owned))
                .unwrap_or_else(|| stderr.trim().lines().last().unwrap_or("no message").to_owned());
            return Err(BdError::Failed {
                command: command_line(),
                status: output.status.to_string(),
                stderr: escape::cap(&escape::terminal_line(&message), ERROR_COMMAND_LIMIT, ""),
            });
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        let value: serde_json::Value = serde_json::from_str(stdout.trim())
            .map_err(|error| BdError::Output { command: command_line(), problem: error.to_string() })?;
        Ok(unwrap_envelope(value))
    }

    /// Every issue, closed ones included (`bd list --all -n 0 --json`).
    pub fn list_all(&self) -> Result<Vec<BdIssue>, BdError> {
        let args: Vec<String> = ["list", "--all", "-n", "0", "--json"].map(String::from).to_vec();
        let payload = self.run_json(&args)?;
        let items = payload.as_array().ok_or_else(|| BdError::Output {
            command: self.command_line(&args),
            problem: "expected a list of issues".into(),
        })?;
        Ok(items.iter().filter_map(issue_from_json).collect())
    }

    /// Runs a `create … --json` and returns the new issue's id.
    pub fn create(&self, args: &[String]) -> Result<String, BdError> {
        let payload = self.run_json(args)?;
        created_id(&payload).ok_or_else(|| BdError::Output {
            command: self.command_line(args),
            problem: "no issue id (`id` or `issue_id`) in it".into(),
        })
    }

    /// `bd comments add ID TEXT --json`.
    pub fn comment(&self, issue_id: &str, text: &str) -> Result<(), BdError> {
        self.run_json(&comment_args(issue_id, text)).map(|_| ())
    }
}

/// The arguments of `bd comments add`.
pub fn comment_args(issue_id: &str, text: &str) -> Vec<String> {
    vec!["comments".into(), "add".into(), issue_id.into(), text.into(), "--json".into()]
}

/// `{"schema_version": 1, "data": …}` (`BD_JSON_ENVELOPE=1`, planned default) → its data.
fn unwrap_envelope(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(mut object)
            if object.contains_key("schema_version") && object.contains_key("data") && !object.contains_key("id") =>
        {
            object.remove("data").unwrap_or_default()
        }
        other => other,
    }
}

/// The id in a create answer: the issue object (`id`, or `issue_id` in older bridges), or a
/// list of them (`create -f`).
fn created_id(payload: &serde_json::Value) -> Option<String> {
    let object = match payload {
        serde_json::Value::Array(items) => items.first()?,
        other => other,
    };
    ["id", "issue_id"].iter().find_map(|key| object.get(*key)?.as_str()).map(str::to_owned)
}

fn issue_from_json(value: &serde_json::Value) -> Option<BdIssue> {
    let text = |key: &str| value.get(key).and_then(|field| field.as_str()).map(str::to_owned);
    Some(BdIssue {
        id: text("id")?,
        title: text("title").unwrap_or_default(),
        status: text("status"),
        external_ref: text("external_ref"),
    })
}

/// Words joined so a POSIX shell reads them back unchanged.
pub fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word.chars().all(|character| character.is_ascii_alphanumeric() || "-_./:=,@+%".contains(character));
            if plain { word.clone() } else { format!("'{}'", word.replace('\'', "'\\''")) }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_json_shapes_give_the_id() {
        let bare = serde_json::json!({"id": "proj-a1b2", "title": "t", "schema_version": 1});
        let envelope = serde_json::json!({"schema_version": 1, "data": {"id": "proj-a1b2", "title": "t"}});
        let legacy = serde_json::json!({"issue_id": "proj-a1b2"});
        let listed = serde_json::json!([{"id": "proj-a1b2"}]);
        for payload in [bare, envelope, legacy, listed] {
            assert_eq!(created_id(&unwrap_envelope(payload)).as_deref(), Some("proj-a1b2"));
        }
        let list = unwrap_envelope(
            serde_json::json!({"schema_version": 1, "data": [{"id": "a", "external_ref": "devloop-host:x"}]}),
        );
        assert_eq!(issue_from_json(&list[0]).and_then(|issue| issue.external_ref).as_deref(), Some("devloop-host:x"));
    }

    #[test]
    fn shell_words_quote_only_what_needs_it() {
        let words = ["bd", "create", "it's a title", "--deps", "discovered-from:p-1"].map(String::from);
        assert_eq!(shell_words(&words), r"bd create 'it'\''s a title' --deps discovered-from:p-1");
    }
}
