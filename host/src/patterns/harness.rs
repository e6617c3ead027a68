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
    if !case.config.settings.is_empty() {
        return Err(HarnessError::Plugin(format!(
            "{}: a pattern file takes no settings; write a second pattern file for another threshold",
            case.dir.join("case.json").display()
        )));
    }
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
