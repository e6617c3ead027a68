//! Starting the pattern files as detectors, for `run`.

use std::path::PathBuf;
use std::time::Instant;

use super::{RulesEngine, discover};
use crate::dispatch::{Pipeline, PluginChange};
use crate::runtime::{LoadError, Runtime};

/// Starts one instance of the rules component per pattern file in `pattern_folders`. A pattern
/// that does not read or start is reported like a plugin that does not load, and the others go
/// on. Returns the rules component when there is one, to reload edited patterns with.
pub fn start_patterns(
    pipeline: &mut Pipeline<'_>,
    runtime: &Runtime,
    pattern_folders: &[PathBuf],
) -> std::io::Result<Option<RulesEngine>> {
    let discovered = discover(pattern_folders)?;
    let engine = RulesEngine::bundled(runtime);
    for pattern in discovered {
        let change = match (&engine, pattern.found) {
            (_, Err(error)) => PluginChange::Rejected {
                file: pattern.path.clone(),
                error: LoadError::Configure { path: pattern.path.display().to_string(), reason: error.to_string() },
            },
            (Err(error), Ok(_)) => PluginChange::Rejected {
                file: pattern.path.clone(),
                error: LoadError::Configure { path: pattern.path.display().to_string(), reason: error.to_string() },
            },
            (Ok(engine), Ok(file)) => match engine.supervisor(runtime, &file) {
                Ok(supervisor) => PluginChange::Ready {
                    file: pattern.path.clone(),
                    candidate: Box::new(supervisor),
                    noticed: Instant::now(),
                    disposal: None,
                },
                Err(error) => PluginChange::Rejected { file: pattern.path.clone(), error },
            },
        };
        pipeline.apply(change);
    }
    Ok(engine.ok())
}
