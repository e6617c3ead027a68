//! Starting the pattern files as detectors, for `run`.

use std::collections::BTreeMap;
use std::time::Instant;

use super::{Discovered, RulesEngine};
use crate::dispatch::{Pipeline, PluginChange};
use crate::model::Field;
use crate::runtime::{LoadError, Runtime};

/// Starts one instance of the rules component per pattern file `discovered`, each with its
/// settings (by pattern id, checked by the caller). A pattern that does not read or start is
/// reported like a plugin that does not load, and the others go on. Returns the rules
/// component when there is one, to reload edited patterns with.
pub fn start_patterns(
    pipeline: &mut Pipeline<'_>,
    runtime: &Runtime,
    discovered: Vec<Discovered>,
    settings: BTreeMap<String, Vec<Field>>,
) -> Option<RulesEngine> {
    let engine = RulesEngine::bundled(runtime).map(|engine| engine.with_settings(settings));
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
    engine.ok()
}
