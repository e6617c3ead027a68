//! Pattern files in `plugins list`: one row per pattern, as a detector of its own.

use std::path::PathBuf;

use super::{RulesEngine, discover};
use crate::detectors::{Candidate, Found, Origin};
use crate::runtime::{LoadError, Runtime};

/// One row per pattern file in `folders` (the project's before the user's), as the detector it
/// runs as.
pub fn candidates(runtime: &Runtime, folders: &[PathBuf]) -> Vec<Candidate> {
    let discovered = match discover(folders) {
        Ok(discovered) => discovered,
        Err(error) => {
            tracing::warn!("cannot read the pattern folders: {error}");
            return Vec::new();
        }
    };
    if discovered.is_empty() {
        return Vec::new();
    }
    let engine = RulesEngine::bundled(runtime);
    discovered
        .into_iter()
        .map(|pattern| {
            let path = pattern.path.display().to_string();
            let found = match (&engine, pattern.found) {
                (_, Err(error)) => Err(LoadError::Configure { path: path.clone(), reason: error.to_string() }),
                (Err(error), Ok(_)) => Err(LoadError::Configure { path: path.clone(), reason: error.to_string() }),
                (Ok(engine), Ok(file)) => {
                    Ok(Found { compiled: engine.compiled_for(&file), description: engine.identity(&file) })
                }
            };
            Candidate { origin: Origin::Pattern, location: path, found, overridden_by: None }
        })
        .collect()
}
