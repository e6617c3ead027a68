//! Waiting for devloop's files to change: file-system notifications, with a slow poll as a
//! safety net for changes a notification misses (a folder created after the start, a network
//! file system).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};

use super::StreamError;
use crate::ingest::DevloopDirs;

/// How long to wait without any notification before reading anyway.
const SAFETY_POLL: Duration = Duration::from_millis(500);
/// Changes that come together (a writer appending several lines) are read together.
const SETTLE: Duration = Duration::from_millis(20);

pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
    changes: mpsc::Receiver<notify::Result<notify::Event>>,
}

impl Watcher {
    pub fn new(dirs: &DevloopDirs) -> Result<Watcher, StreamError> {
        let (sender, changes) = mpsc::channel();
        let watch_error = |path: &Path| {
            let path = path.display().to_string();
            move |source| StreamError::Watch { path, source }
        };
        let mut watcher = notify::recommended_watcher(sender).map_err(watch_error(&dirs.project))?;
        for dir in dirs.existing() {
            let mode = if dir == dirs.project { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
            watcher.watch(dir, mode).map_err(watch_error(dir))?;
        }
        Ok(Watcher { _watcher: watcher, changes })
    }

    /// Returns after the next change (or the safety poll interval).
    pub fn wait_for_change(&self) {
        if self.changes.recv_timeout(SAFETY_POLL).is_ok() {
            while self.changes.recv_timeout(SETTLE).is_ok() {}
        }
    }
}
