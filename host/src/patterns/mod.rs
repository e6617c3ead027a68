//! Pattern files: detectors written as data, run by the bundled rules detector.
//!
//! A pattern file (`*.toml`, one pattern each; the language is the `rules` crate's) lives in
//! the project's `.devloop-host/patterns/` or the user's `~/.config/devloop-host/patterns/`.
//! The rules component (compiled into the binary like the bundled detectors) is started once
//! per pattern file, each instance under the pattern's own identity: its own id, state,
//! counters and quarantine, so to the rest of the host — dispatch, the store, fingerprints,
//! routing, beads — a pattern is a detector like any other.
//!
//! - [`RulesEngine`] is the loaded component and makes a [`Supervisor`](crate::runtime::Supervisor) for one pattern.
//! - [`discover`] finds the pattern files, the project's before the user's (a project pattern
//!   overrides a user pattern of the same id).
//! - [`start_patterns`] starts every pattern as a detector, for `run`.
//! - [`run_case`] replays a test case through one pattern, for `plugin test`.
//! - [`candidates`] gives each pattern a row of its own in `plugins list`.
//! - [`PatternWatch`] reloads an edited pattern file in `run --follow`.

mod engine;
mod harness;
mod inventory;
mod load;
mod watch;

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::model::{Field, Value};
use crate::runtime::DetectorDescription;

pub use engine::RulesEngine;
pub use harness::run_case;
pub use inventory::candidates;
pub use load::start_patterns;
pub use rules::{Pattern, PatternError, SettingsError};
pub use watch::PatternWatch;

/// Why a pattern file cannot run.
#[derive(Debug, Error)]
pub enum PatternFileError {
    #[error("cannot read pattern file {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{}", .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { errors: Vec<PatternError> },
}

/// One pattern file, read and checked.
#[derive(Debug, Clone)]
pub struct PatternFile {
    pub path: PathBuf,
    pub text: String,
    pub pattern: Pattern,
}

impl PatternFile {
    pub fn read(path: &Path) -> Result<PatternFile, PatternFileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| PatternFileError::Read { path: path.display().to_string(), source })?;
        let pattern = Pattern::parse(&text, &path.display().to_string())
            .map_err(|errors| PatternFileError::Invalid { errors })?;
        Ok(PatternFile { path: path.to_owned(), text, pattern })
    }

    /// The pattern as a detector, for settings and listings: its id, the event kinds it can
    /// use, and its settings (the thresholds its `[match]` writes, their values as defaults).
    pub fn description(&self) -> DetectorDescription {
        let pattern = &self.pattern;
        let config = pattern
            .settings
            .iter()
            .filter_map(|(name, value)| {
                let value = match value {
                    toml::Value::Integer(integer) => Value::Integer(*integer),
                    toml::Value::Float(float) => Value::Float(*float),
                    toml::Value::String(text) => Value::Text(text.clone()),
                    toml::Value::Boolean(flag) => Value::Boolean(*flag),
                    _ => return None,
                };
                Some((name.clone(), value, format!("`{name}` in the `[match]` of {}", self.path.display())))
            })
            .collect();
        DetectorDescription {
            id: pattern.id.clone(),
            version: String::new(),
            api_version: String::new(),
            patterns: vec![pattern.id.clone()],
            kinds: pattern.kinds.clone(),
            config,
            language: "pattern".to_owned(),
        }
    }

    /// Checks that `settings` (resolved against [`PatternFile::description`]) apply: the file
    /// with them must still be a valid pattern.
    pub fn settings(&self, settings: &[Field]) -> Result<(), SettingsError> {
        Pattern::parse_with(&self.text, &self.path.display().to_string(), &overrides_table(settings)).map(drop)
    }
}

/// Settings as the TOML table the rules component reads.
fn overrides_table(settings: &[Field]) -> toml::Table {
    settings
        .iter()
        .filter_map(|field| {
            let value = match &field.value {
                Value::Integer(integer) => toml::Value::Integer(*integer),
                Value::Float(float) => toml::Value::Float(*float),
                Value::Text(text) => toml::Value::String(text.clone()),
                Value::Boolean(flag) => toml::Value::Boolean(*flag),
                Value::Texts(_) | Value::Json(_) => return None,
            };
            Some((field.key.to_string(), value))
        })
        .collect()
}

/// The pattern folders for a plugins folder: the project's `patterns/` beside it, then the
/// user's.
pub fn default_folders(plugins_dir: &Path) -> Vec<PathBuf> {
    let project = plugins_dir.parent().unwrap_or(Path::new(".")).join("patterns");
    let mut folders = vec![project];
    folders.extend(user_folder());
    folders
}

/// `$XDG_CONFIG_HOME/devloop-host/patterns`, else `~/.config/devloop-host/patterns`.
pub fn user_folder() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("devloop-host").join("patterns"))
}

/// The `*.toml` files in `dir`, in name order; a missing folder has none.
pub fn pattern_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|extension| extension == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// A pattern file found in a folder, and whether it reads.
#[derive(Debug)]
pub struct Discovered {
    pub path: PathBuf,
    pub found: Result<PatternFile, PatternFileError>,
}

/// Every pattern file in `folders`, earlier folders first. A valid pattern whose id an
/// earlier folder already has is left out (and logged): the project overrides the user.
pub fn discover(folders: &[PathBuf]) -> std::io::Result<Vec<Discovered>> {
    let mut discovered: Vec<Discovered> = Vec::new();
    for folder in folders {
        for path in pattern_files(folder)? {
            let found = PatternFile::read(&path);
            if let Ok(file) = &found
                && let Some(earlier) = discovered
                    .iter()
                    .find(|other| other.found.as_ref().is_ok_and(|other| other.pattern.id == file.pattern.id))
            {
                tracing::info!(
                    pattern = file.pattern.id,
                    "{} is overridden by {}, which has the same id",
                    path.display(),
                    earlier.path.display()
                );
                continue;
            }
            discovered.push(Discovered { path, found });
        }
    }
    Ok(discovered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(id: &str, title: &str) -> String {
        format!(
            "id = \"{id}\"\ntitle = \"{title}\"\ndescription = \"d\"\nseverity = \"info\"\nmessage = \"m\"\n\
             recommendation = \"r\"\nconfidence = {{ base = 0.5 }}\n\n[match]\nkind = \"count\"\nwithin = \"1h\"\nat_least = 2\n"
        )
    }

    #[test]
    fn a_project_pattern_overrides_a_user_pattern_of_the_same_id() -> std::io::Result<()> {
        let root = tempfile::tempdir()?;
        let (project, user) = (root.path().join("project"), root.path().join("user"));
        std::fs::create_dir_all(&project)?;
        std::fs::create_dir_all(&user)?;
        std::fs::write(project.join("a.toml"), pattern("shared", "project's"))?;
        std::fs::write(user.join("b.toml"), pattern("shared", "user's"))?;
        std::fs::write(user.join("c.toml"), pattern("own", "user's own"))?;
        std::fs::write(user.join("notes.md"), "not a pattern")?;
        std::fs::write(user.join("d.toml"), "id = ")?;
        let found = discover(&[project, user, root.path().join("missing")])?;
        let summary: Vec<(String, Option<String>)> = found
            .iter()
            .map(|found| {
                let name = found.path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                (name, found.found.as_ref().ok().map(|file| file.pattern.title.clone()))
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("a.toml".to_owned(), Some("project's".to_owned())),
                ("c.toml".to_owned(), Some("user's own".to_owned())),
                ("d.toml".to_owned(), None),
            ]
        );
        Ok(())
    }

    #[test]
    fn the_project_folder_sits_beside_the_plugins_folder() {
        let folders = default_folders(Path::new("/work/app/.devloop-host/plugins"));
        assert_eq!(folders[0], Path::new("/work/app/.devloop-host/patterns"));
    }
}
