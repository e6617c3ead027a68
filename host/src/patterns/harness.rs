//! `plugin test` for a pattern file: the same case folders as a compiled detector's.

use crate::dispatch::{DEFAULT_BATCH_SIZE, Pipeline, PluginChange, SwapOutcome};
use crate::harness::{Case, CaseOutcome, HarnessError, run_case_in};
use crate::runtime::Runtime;

use super::{PatternFile, RulesEngine};

/// Replays `case` through a fresh instance of `engine` running `file`.
pub fn run_case(
    runtime: &Runtime,
    engine: &RulesEngine,
    file: &PatternFile,
    case: &Case,
) -> Result<CaseOutcome, HarnessError> {
    file.settings(&case.config.settings)
        .map_err(|error| HarnessError::Plugin(format!("{}: {error}", case.dir.join("case.json").display())))?;
    let engine = engine.clone().with_settings([(file.pattern.id.clone(), case.config.settings.clone())].into());
    let mut pipeline = Pipeline::new(runtime, case.config.batch_size.unwrap_or(DEFAULT_BATCH_SIZE));
    let supervisor = engine.supervisor(runtime, file)?;
    let change = PluginChange::Ready {
        file: file.path.clone(),
        candidate: Box::new(supervisor),
        noticed: std::time::Instant::now(),
        disposal: None,
    };
    if let outcome @ SwapOutcome::Rejected { .. } = pipeline.apply(change) {
        return Err(HarnessError::Plugin(outcome.to_string()));
    }
    run_case_in(pipeline, case)
}
