//! Hot reload of pattern files in `run --follow`: an edited file replaces its running
//! version between two batches.
//!
//! Everything that decides *how* goes through [`Pipeline::apply`], as for a new `.wasm`: the
//! state is handed over (snapshot → restore), and the rules component refuses a snapshot of a
//! different `[match]`, so an edit of the message keeps the counts and an edit of the match
//! starts fresh — the log says which. A file that does not read, or a new id in the same file,
//! is rejected and the running version stays. Starting an instance of the already compiled
//! rules component takes about a millisecond, so a change is prepared on the event path, once
//! the file has been quiet for [`SETTLE`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use super::{PatternFile, RulesEngine};
use crate::dispatch::{Pipeline, PluginChange, SwapOutcome};
use crate::runtime::{LoadError, Runtime};

/// How long a changed file must be quiet before it is read (an editor's save is several writes).
pub const SETTLE: Duration = Duration::from_millis(100);

/// Watches the pattern folders that exist when it starts.
pub struct PatternWatch {
    runtime: Arc<Runtime>,
    engine: RulesEngine,
    /// `(the folder as canonical path, the folder as the loader named it)`, so a reloaded file
    /// keeps the name it was loaded under.
    folders: Vec<(PathBuf, PathBuf)>,
    notified: Receiver<notify::Result<notify::Event>>,
    pending: BTreeMap<PathBuf, Instant>,
    _watcher: RecommendedWatcher,
}

impl PatternWatch {
    pub fn start(runtime: Arc<Runtime>, engine: RulesEngine, folders: &[PathBuf]) -> notify::Result<PatternWatch> {
        let (sender, notified) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(sender)?;
        let mut watched = Vec::new();
        for folder in folders.iter().filter(|folder| folder.is_dir()) {
            watcher.watch(folder, RecursiveMode::NonRecursive)?;
            watched.push((folder.canonicalize().unwrap_or_else(|_| folder.clone()), folder.clone()));
        }
        Ok(PatternWatch { runtime, engine, folders: watched, notified, pending: BTreeMap::new(), _watcher: watcher })
    }

    /// Applies every settled change; call it between two batches. Never waits: while a plugin
    /// left behind works through its queue, the changes wait for a later batch (as the plugins
    /// folder's do).
    pub fn between_batches(&mut self, pipeline: &mut Pipeline<'_>) -> Vec<SwapOutcome> {
        let now = Instant::now();
        for event in self.notified.try_iter().filter_map(Result::ok) {
            for path in event.paths {
                if let Some(file) = self.loaded_name(&path) {
                    self.pending.insert(file, now);
                }
            }
        }
        if pipeline.left_behind_at_work() {
            return Vec::new();
        }
        let settled: Vec<PathBuf> = self
            .pending
            .iter()
            .filter(|(_, noticed)| noticed.elapsed() >= SETTLE)
            .map(|(file, _)| file.clone())
            .collect();
        settled
            .into_iter()
            .map(|file| {
                self.pending.remove(&file);
                pipeline.apply(self.prepare(file))
            })
            .collect()
    }

    /// `path` as the loader named it, if it is a pattern file in a watched folder.
    fn loaded_name(&self, path: &Path) -> Option<PathBuf> {
        if path.extension().is_none_or(|extension| extension != "toml") {
            return None;
        }
        let name = path.file_name()?;
        let parent = path.parent()?;
        let parent = parent.canonicalize().unwrap_or_else(|_| parent.to_owned());
        self.folders.iter().find(|(canonical, _)| *canonical == parent).map(|(_, folder)| folder.join(name))
    }

    fn prepare(&self, file: PathBuf) -> PluginChange {
        if !file.exists() {
            return PluginChange::Removed { file };
        }
        let started = PatternFile::read(&file)
            .map_err(|error| LoadError::Configure { path: file.display().to_string(), reason: error.to_string() })
            .and_then(|pattern| self.engine.supervisor(&self.runtime, &pattern));
        match started {
            Ok(candidate) => {
                PluginChange::Ready { file, candidate: Box::new(candidate), noticed: Instant::now(), disposal: None }
            }
            Err(error) => PluginChange::Rejected { file, error },
        }
    }
}
