//! The plugin test harness: replays recorded events through one detector plugin and compares
//! what it reports with what a case expects (`devloop-host plugins test`).
//!
//! A case is a folder `<pattern>/<case>/` holding `events.jsonl` (one host [`Event`] per line,
//! its serde JSON) and `expected.json` (the findings, as `run --format json` prints them on a
//! first run into an empty store, in order of pattern and key: `occurrences` counts the case's
//! own evidence events, [`crate::model::Occurrences`]), and optionally `case.json` (settings and a final tick). Expected
//! findings are matched *as a subset*: every key an expected object names must be in the actual
//! finding with an equal value, keys it leaves out are not checked, and volatile fields (`time`)
//! are never compared — so a case can pin exactly what matters (the pattern, the key, the
//! command in the evidence) and stay valid when a message is reworded. `--bless` writes the
//! full current output as the expectation, for review in the diff.

mod case;
mod compare;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use case::{Case, CaseConfig, discover};
pub use compare::{Difference, compare};

use crate::dispatch::Pipeline;
use crate::model::Event;
use crate::runtime::{LoadError, Runtime};

/// Fields of a finding that change from run to run and are never compared.
pub const VOLATILE_FIELDS: &[&str] = &["time"];

/// Why a case could not be run (as opposed to a case that ran and failed).
#[derive(Debug, Error)]
pub enum HarnessError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: not a devloop-host event: {reason}")]
    Event { path: PathBuf, line: usize, reason: String },
    #[error("{path}: {reason}")]
    Json { path: PathBuf, reason: String },
    #[error("{path}: events must be in event-time order, but line {line} is earlier than the line before")]
    Order { path: PathBuf, line: usize },
    #[error(
        "no test cases under {dir} for pattern(s) {patterns}; a case is a folder <pattern>/<case>/ with events.jsonl"
    )]
    NoCases { dir: PathBuf, patterns: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("the plugin failed on this case: {0}")]
    Plugin(String),
}

/// What one case produced.
#[derive(Debug)]
pub struct CaseOutcome {
    /// The findings as `run --format json` prints them, volatile fields removed, sorted by
    /// pattern and key.
    pub actual: Vec<serde_json::Value>,
    /// Empty when the case passed.
    pub differences: Vec<Difference>,
}

impl CaseOutcome {
    pub fn passed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Replays `case` through the plugin at `plugin` (a fresh instance) and compares the findings.
pub fn run_case(runtime: &Runtime, plugin: &Path, case: &Case) -> Result<CaseOutcome, HarnessError> {
    let mut pipeline = Pipeline::new(runtime, case.config.batch_size.unwrap_or(crate::dispatch::DEFAULT_BATCH_SIZE));
    pipeline.start(runtime.load_file(plugin)?, case.config.settings.clone())?;
    run_case_in(pipeline, case)
}

/// Replays `case` through the plugins already in `pipeline` and compares the findings.
pub fn run_case_in(mut pipeline: Pipeline<'_>, case: &Case) -> Result<CaseOutcome, HarnessError> {
    pipeline.feed(&case.events);
    if let Some(now_ms) = case.config.final_tick_ms {
        pipeline.tick(now_ms);
    }
    if let Some(problem) = pipeline.problems().first() {
        return Err(HarnessError::Plugin(problem.to_string()));
    }
    let actual = findings_json(&pipeline);
    let differences = match &case.expected {
        Some(expected) => compare(expected, &actual),
        None => vec![Difference::NoExpectation],
    };
    Ok(CaseOutcome { actual, differences })
}

fn findings_json(pipeline: &Pipeline<'_>) -> Vec<serde_json::Value> {
    let mut findings = pipeline.findings();
    findings.sort_by(|(a, _), (b, _)| a.pattern.cmp(&b.pattern).then(a.key.cmp(&b.key)));
    findings
        .into_iter()
        .map(|(insight, occurrences)| {
            let mut object = insight.to_json();
            object["occurrences"] = occurrences.into();
            if let Some(map) = object.as_object_mut() {
                for field in VOLATILE_FIELDS {
                    map.remove(*field);
                }
            }
            object
        })
        .collect()
}

/// Reads `events.jsonl`: one event per line, blank lines skipped, in event-time order.
pub fn read_events(path: &Path) -> Result<Vec<Event>, HarnessError> {
    let text = std::fs::read_to_string(path).map_err(|source| HarnessError::Read { path: path.to_owned(), source })?;
    let mut events: Vec<Event> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let event: Event = serde_json::from_str(line).map_err(|error| HarnessError::Event {
            path: path.to_owned(),
            line: index + 1,
            reason: error.to_string(),
        })?;
        if events.last().is_some_and(|last| last.time_ms > event.time_ms) {
            return Err(HarnessError::Order { path: path.to_owned(), line: index + 1 });
        }
        events.push(event);
    }
    Ok(events)
}
