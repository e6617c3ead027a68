//! Pattern files in `plugins list`: one row per pattern, as a detector of its own.

use std::path::Path;

use super::{ENGINE_FILE, RulesEngine, default_folders, discover};
use crate::hotswap::folder::{Detector, InstalledPlugin};
use crate::runtime::{LoadError, Runtime};

/// The plugins folder's detectors with the rules component replaced by the patterns it runs
/// (from the project's and the user's pattern folders), so each has a row of its own.
pub fn with_patterns(runtime: &Runtime, plugins_dir: &Path, installed: Vec<InstalledPlugin>) -> Vec<InstalledPlugin> {
    let (engines, mut rows): (Vec<InstalledPlugin>, Vec<InstalledPlugin>) =
        installed.into_iter().partition(|plugin| plugin.file.file_name().is_some_and(|name| name == ENGINE_FILE));
    let discovered = match discover(&default_folders(plugins_dir)) {
        Ok(discovered) => discovered,
        Err(error) => {
            tracing::warn!("cannot read the pattern folders: {error}");
            return rows.into_iter().chain(engines).collect();
        }
    };
    if discovered.is_empty() {
        return rows.into_iter().chain(engines).collect();
    }
    let engine = engines.first().map(|engine| RulesEngine::load(runtime, &engine.file));
    for pattern in discovered {
        let path = pattern.path.display().to_string();
        let found = match (&engine, pattern.found) {
            (_, Err(error)) => Err(LoadError::Configure { path, reason: error.to_string() }),
            (None, Ok(_)) => Err(LoadError::Configure {
                path,
                reason: format!("the rules detector ({ENGINE_FILE}) that runs pattern files is not installed"),
            }),
            (Some(Err(error)), Ok(_)) => Err(LoadError::Configure { path, reason: error.to_string() }),
            (Some(Ok(engine)), Ok(file)) => Ok(Detector {
                description: engine.identity(&file),
                api_version: engine.api_version(),
                content_hash: engine.source_for(&file).content_hash,
            }),
        };
        rows.push(InstalledPlugin { file: pattern.path, found });
    }
    rows
}
