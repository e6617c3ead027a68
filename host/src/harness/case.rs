//! Finding and reading test cases.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{HarnessError, read_events};
use crate::model::{Event, Field, Value};

/// `case.json`: how to run a case, when the defaults are not it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseConfig {
    /// What the case shows, for people reading it.
    #[serde(default)]
    pub description: Option<String>,
    /// Detector settings for this case (`{"min_repeats": 4}`).
    #[serde(default, deserialize_with = "settings")]
    pub settings: Vec<Field>,
    /// After the last event, advance event time to this (ms since the epoch) so timers fire.
    #[serde(default)]
    pub final_tick_ms: Option<i64>,
    /// Events per plugin call (default: the host's).
    #[serde(default)]
    pub batch_size: Option<usize>,
}

fn settings<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<Field>, D::Error> {
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    Ok(map
        .iter()
        .filter_map(|(name, value)| Value::from_json(value).map(|value| Field::new(name.clone(), value)))
        .collect())
}

/// One test case, read.
#[derive(Debug, Clone)]
pub struct Case {
    /// `<pattern>/<case>`.
    pub name: String,
    pub dir: PathBuf,
    pub events: Vec<Event>,
    /// The expected findings; `None` when `expected.json` is missing (a case to bless).
    pub expected: Option<Vec<serde_json::Value>>,
    pub config: CaseConfig,
}

impl Case {
    pub fn read(dir: &Path) -> Result<Case, HarnessError> {
        let events = read_events(&dir.join("events.jsonl"))?;
        let expected_path = dir.join("expected.json");
        let expected = if expected_path.exists() {
            let text = std::fs::read_to_string(&expected_path)
                .map_err(|source| HarnessError::Read { path: expected_path.clone(), source })?;
            Some(serde_json::from_str(&text).map_err(|error| HarnessError::Json {
                path: expected_path.clone(),
                reason: format!("expected a JSON array of findings: {error}"),
            })?)
        } else {
            None
        };
        let config_path = dir.join("case.json");
        let config = if config_path.exists() {
            let text = std::fs::read_to_string(&config_path)
                .map_err(|source| HarnessError::Read { path: config_path.clone(), source })?;
            serde_json::from_str(&text)
                .map_err(|error| HarnessError::Json { path: config_path.clone(), reason: error.to_string() })?
        } else {
            CaseConfig::default()
        };
        Ok(Case { name: case_name(dir), dir: dir.to_owned(), events, expected, config })
    }
}

fn case_name(dir: &Path) -> String {
    let mut parts: Vec<String> =
        dir.components().rev().take(2).map(|part| part.as_os_str().to_string_lossy().into_owned()).collect();
    parts.reverse();
    parts.join("/")
}

fn is_case(dir: &Path) -> bool {
    dir.join("events.jsonl").is_file()
}

fn subdirectories(dir: &Path) -> Result<Vec<PathBuf>, HarnessError> {
    let entries = std::fs::read_dir(dir).map_err(|source| HarnessError::Read { path: dir.to_owned(), source })?;
    let mut dirs: Vec<PathBuf> =
        entries.filter_map(Result::ok).map(|entry| entry.path()).filter(|path| path.is_dir()).collect();
    dirs.sort();
    Ok(dirs)
}

/// The case folders under `dir` for a plugin reporting `patterns`: `dir` itself if it is a
/// case; the cases in it if it is a pattern folder; otherwise the cases of every pattern folder
/// in it named after one of `patterns`.
pub fn discover(dir: &Path, patterns: &[String]) -> Result<Vec<PathBuf>, HarnessError> {
    if is_case(dir) {
        return Ok(vec![dir.to_owned()]);
    }
    let children = subdirectories(dir)?;
    let mut cases: Vec<PathBuf> = children.iter().filter(|child| is_case(child)).cloned().collect();
    if cases.is_empty() {
        for child in &children {
            let name = child.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            if patterns.contains(&name) {
                cases.extend(subdirectories(child)?.into_iter().filter(|case| is_case(case)));
            }
        }
    }
    if cases.is_empty() {
        return Err(HarnessError::NoCases { dir: dir.to_owned(), patterns: patterns.join(", ") });
    }
    Ok(cases)
}
