//! Where a project's devloop-host files live, and its settings file,
//! `.devloop-host/config.toml`.
//!
//! Settings that only lived on the command line had to be repeated on every run, and a typo in
//! one went unnoticed. The config file holds them once, in a form a person can read and
//! comment; `--set` and the command-line options still override it for one run. Every table
//! rejects keys it does not know, and detector settings are checked against what each detector
//! declares (see [`settings`]), so a typo is an error naming the file and line.
//!
//! ```toml
//! disabled_detectors = ["metric-anomaly"]   # these do not run
//!
//! [detectors.command-repetition]   # by detector id: `devloop-host plugins info ID` lists the settings
//! min_repeats = 4
//!
//! [limits]
//! batch_size = 1024                # events per plugin call
//! deadline_ms = 2000               # wall time one plugin call may take
//! memory_mib = 64                  # memory one plugin may use
//! cpu_base_ms = 5000               # CPU time one plugin may use over a run…
//! cpu_per_event_us = 100           # …plus this much per event it is given
//!
//! [sources]
//! home_devloop_dir = "~/.devloop"  # where devloop logs CLI actions and Amp threads
//! strict = false                   # a malformed record is an error instead of skipped
//!
//! [routing]                        # the keys of routing.toml, one level down
//! [[routing.rule]]
//! min_severity = "warning"
//! sinks = ["terminal", "beads"]
//! ```

mod layout;
pub mod settings;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;
use toml::Spanned;

pub use layout::{STATE_DIR_NAME, StateDir};
pub use settings::{Given, GivenValue, SettingsError};

use crate::routing::{RoutingConfig, RoutingError};

/// The config file's name in the state folder.
pub const CONFIG_FILE: &str = "config.toml";

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Detectors that do not run, by id (a bundled one too).
    #[serde(default)]
    pub disabled_detectors: Vec<Spanned<String>>,
    /// Settings by detector id, checked against what each detector declares.
    #[serde(default)]
    pub detectors: BTreeMap<Spanned<String>, BTreeMap<Spanned<String>, Spanned<toml::Value>>>,
    #[serde(default)]
    pub limits: LimitSettings,
    #[serde(default)]
    pub sources: SourceSettings,
    /// Routing of new and materially changed findings; without it, `routing.toml` is read.
    pub routing: Option<RoutingConfig>,
}

/// What one plugin may use; each one left out keeps its built-in default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Events per plugin call.
    pub batch_size: Option<usize>,
    /// Wall time one plugin call may take, in milliseconds.
    pub deadline_ms: Option<u64>,
    /// Memory one plugin may use, in MiB.
    pub memory_mib: Option<usize>,
    /// CPU time one plugin may use over a run, in milliseconds, to start with…
    pub cpu_base_ms: Option<u64>,
    /// …plus this many microseconds for every event it is given.
    pub cpu_per_event_us: Option<u64>,
}

/// Where devloop's logs are and how to read them.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSettings {
    /// devloop's home folder (`~` is the home directory; relative paths are relative to the
    /// project folder, the one holding `.devloop-host`).
    pub home_devloop_dir: Option<PathBuf>,
    /// Treat a malformed log record as an error instead of skipping it.
    pub strict: Option<bool>,
}

impl SourceSettings {
    /// `home_devloop_dir`, with a leading `~` read as the home directory and a relative path
    /// taken from `project` (the folder holding the state folder).
    pub fn home_devloop_dir_in(&self, project: &Path) -> Option<PathBuf> {
        let path = self.home_devloop_dir.as_ref()?;
        let home = || std::env::var_os("HOME").map(PathBuf::from);
        let expanded = match path.strip_prefix("~") {
            Ok(rest) => home().map_or_else(|| path.clone(), |home| home.join(rest)),
            Err(_) => path.clone(),
        };
        Some(if expanded.is_relative() { project.join(expanded) } else { expanded })
    }
}

/// A config file that cannot be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}; `devloop-host init --help` describes the keys")]
    Invalid { path: PathBuf, line: usize, message: String },
    #[error(transparent)]
    Routing(#[from] RoutingError),
}

/// A config file as read: its settings, and its text to tell where each one was written.
#[derive(Debug, Default)]
pub struct ConfigFile {
    /// `None` when there is no file (every setting at its default).
    pub path: Option<PathBuf>,
    text: String,
    pub config: Config,
}

impl ConfigFile {
    /// The config at `path`, or an empty one when there is no file.
    pub fn load_or_default(path: &Path) -> Result<ConfigFile, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => ConfigFile::parse(text, path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(source) => Err(ConfigError::Read { path: path.to_owned(), source }),
        }
    }

    /// Parses and checks a config file's text; `path` names it in errors.
    pub fn parse(text: String, path: &Path) -> Result<ConfigFile, ConfigError> {
        let config: Config = toml::from_str(&text).map_err(|error| ConfigError::Invalid {
            path: path.to_owned(),
            line: error.span().map_or(1, |span| line_at(&text, span.start)),
            message: error.message().trim().replace('\n', " "),
        })?;
        if let Some(routing) = &config.routing {
            routing.check(&text, path)?;
        }
        Ok(ConfigFile { path: Some(path.to_owned()), text, config })
    }

    /// The detector settings, each with the file and line it was written on.
    pub fn detector_settings(&self) -> Vec<Given> {
        let file = self.path.as_deref().unwrap_or(Path::new(CONFIG_FILE)).display();
        let mut given = Vec::new();
        for (detector, values) in &self.config.detectors {
            for (name, value) in values {
                given.push(Given {
                    detector: detector.get_ref().clone(),
                    name: name.get_ref().clone(),
                    value: GivenValue::Toml(value.get_ref().clone()),
                    place: format!("{file}:{}", line_at(&self.text, name.span().start)),
                });
            }
        }
        given
    }
}

impl ConfigFile {
    /// The ids of `disabled_detectors`, each checked against the detectors there are.
    pub fn disabled_detectors(&self, known: &[&str]) -> Result<Vec<String>, SettingsError> {
        let file = self.path.as_deref().unwrap_or(Path::new(CONFIG_FILE)).display();
        let mut disabled = Vec::new();
        for id in &self.config.disabled_detectors {
            if !known.contains(&id.get_ref().as_str()) {
                let mut known = known.to_vec();
                known.sort_unstable();
                return Err(SettingsError::UnknownDetector {
                    place: format!("{file}:{}", line_at(&self.text, id.span().start)),
                    detector: id.get_ref().clone(),
                    known: known.join(", "),
                });
            }
            disabled.push(id.get_ref().clone());
        }
        Ok(disabled)
    }
}

fn line_at(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_settings_remember_their_line() -> Result<(), ConfigError> {
        let text = "# mine\n[detectors.command-repetition]\nmin_repeats = 4\n\n[limits]\nbatch_size = 64\n";
        let file = ConfigFile::parse(text.to_owned(), Path::new("c.toml"))?;
        assert_eq!(file.config.limits.batch_size, Some(64));
        let given = file.detector_settings();
        assert_eq!(given.len(), 1);
        assert_eq!((given[0].detector.as_str(), given[0].name.as_str()), ("command-repetition", "min_repeats"));
        assert_eq!(given[0].place, "c.toml:3");
        assert_eq!(given[0].value, GivenValue::Toml(toml::Value::Integer(4)));
        Ok(())
    }

    #[test]
    fn the_home_devloop_folder_reads_tilde_and_paths_relative_to_the_project() -> Result<(), ConfigError> {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        let sources = |value: &str| -> Result<SourceSettings, ConfigError> {
            let text = format!("[sources]\nhome_devloop_dir = {value:?}\n");
            Ok(ConfigFile::parse(text, Path::new("c.toml"))?.config.sources)
        };
        let project = Path::new("/work/app");
        assert_eq!(sources("~/.devloop")?.home_devloop_dir_in(project), Some(home.join(".devloop")));
        assert_eq!(sources("shared/.devloop")?.home_devloop_dir_in(project), Some(project.join("shared/.devloop")));
        assert_eq!(sources("/srv/.devloop")?.home_devloop_dir_in(project), Some(PathBuf::from("/srv/.devloop")));
        assert_eq!(SourceSettings::default().home_devloop_dir_in(project), None);
        Ok(())
    }

    #[test]
    fn unknown_keys_are_errors_naming_file_and_line() {
        let error = ConfigFile::parse("[limits]\nbatch_size = 8\ndeadline = 5\n".to_owned(), Path::new("c.toml"))
            .expect_err("typo");
        assert!(error.to_string().starts_with("c.toml:3: unknown field `deadline`"), "{error}");
        let error = ConfigFile::parse("[[routing.rule]]\nsinks = [\"jsonl\"]\n".to_owned(), Path::new("c.toml"))
            .expect_err("jsonl without a path");
        assert!(error.to_string().starts_with("c.toml:2: a rule sends findings to `jsonl`"), "{error}");
        let error =
            ConfigFile::parse("[sources]\nstrict = \"yes\"\n".to_owned(), Path::new("c.toml")).expect_err("bad value");
        assert!(error.to_string().starts_with("c.toml:2: invalid type"), "{error}");
    }
}
