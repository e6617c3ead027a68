//! Loading a plugins folder and the pattern files together, for `run`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{ENGINE_FILE, RulesEngine, discover};
use crate::dispatch::{Pipeline, PluginChange, plugin_files};
use crate::model::Field;
use crate::runtime::{LoadError, Runtime};

/// Loads every detector in `plugins_dir` except the rules component, then one instance of the
/// rules component per pattern file in `pattern_folders`. A pattern that does not read or
/// start is reported like a plugin that does not load, and the others go on. Returns the rules
/// component when it loaded, to reload edited patterns with.
pub fn load_plugins(
    pipeline: &mut Pipeline<'_>,
    runtime: &Runtime,
    plugins_dir: &Path,
    settings: &BTreeMap<String, Vec<Field>>,
    pattern_folders: &[PathBuf],
) -> std::io::Result<Option<RulesEngine>> {
    let mut engine_file = None;
    for file in plugin_files(plugins_dir)? {
        if file.file_name().is_some_and(|name| name == ENGINE_FILE) {
            engine_file = Some(file);
        } else {
            let _ = pipeline.load(&file, settings);
        }
    }
    let discovered = discover(pattern_folders)?;
    if discovered.is_empty() && engine_file.is_none() {
        return Ok(None);
    }
    let engine = match &engine_file {
        Some(file) => RulesEngine::load(runtime, file),
        None => Err(LoadError::Read {
            path: plugins_dir.join(ENGINE_FILE).display().to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "the rules detector that runs pattern files is not installed (scripts/setup installs it)",
            ),
        }),
    };
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
