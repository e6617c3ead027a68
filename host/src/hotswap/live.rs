//! What a long-running host does between two batches to keep its plugins current: apply
//! every ready change, and keep the status file that `plugins list` reads up to date.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::status::StatusFile;
use super::watch::{PluginWatcher, WatchError, WatchOptions};
use crate::dispatch::{Pipeline, SwapOutcome};
use crate::model::Field;
use crate::runtime::Runtime;

/// How often the status file is rewritten when nothing was swapped: counters move with every
/// batch, and a reader wants them fresh, not a write per batch.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// A plugins-folder watcher bound to a status file.
pub struct HotSwap {
    watcher: PluginWatcher,
    status_file: PathBuf,
    status_written: Option<Instant>,
}

impl HotSwap {
    /// Starts watching `plugins`; `settings` are applied to new versions as at load time.
    pub fn start(
        runtime: Arc<Runtime>,
        plugins: &Path,
        settings: BTreeMap<String, Vec<Field>>,
        status_file: &Path,
    ) -> Result<Self, WatchError> {
        Ok(HotSwap {
            watcher: PluginWatcher::spawn(runtime, plugins, settings, WatchOptions::default())?,
            status_file: status_file.to_owned(),
            status_written: None,
        })
    }

    /// Calls `hook` (on another thread) each time a change is ready to be applied.
    pub fn on_ready(&self, hook: impl Fn() + Send + 'static) {
        self.watcher.on_ready(hook);
    }

    /// Applies every change that is ready; call it between two batches. Never waits: while a
    /// plugin left behind works through its queue, the changes wait for a later batch rather
    /// than hold the feed until it is through ([`Pipeline::left_behind_at_work`]).
    pub fn between_batches(&mut self, pipeline: &mut Pipeline<'_>) -> Vec<SwapOutcome> {
        let mut outcomes = Vec::new();
        while !pipeline.left_behind_at_work()
            && let Some(change) = self.watcher.try_next()
        {
            outcomes.push(pipeline.apply(change));
        }
        let due = self.status_written.is_none_or(|written| written.elapsed() >= STATUS_EVERY);
        if !outcomes.is_empty() || due {
            self.write_status(pipeline);
        }
        if !outcomes.is_empty() {
            tracing::info!(changes = outcomes.len(), status = %self.status_file.display(), "plugins updated");
        }
        outcomes
    }

    /// Waits up to `timeout` for a change and applies it: for a host with no events to feed.
    pub fn wait(&mut self, pipeline: &mut Pipeline<'_>, timeout: Duration) -> Option<SwapOutcome> {
        let outcome = pipeline.apply(self.watcher.next_timeout(timeout)?);
        self.write_status(pipeline);
        Some(outcome)
    }

    /// Writes the status file now; a failure is logged, never fatal to the run.
    pub fn write_status(&mut self, pipeline: &Pipeline<'_>) {
        if let Err(error) = StatusFile::of(pipeline).write(&self.status_file) {
            tracing::warn!("{:#}", anyhow::Error::from(error));
        }
        self.status_written = Some(Instant::now());
    }
}
