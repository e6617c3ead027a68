//! Waiting for devloop's files to change: file-system notifications, debounced, with a slow
//! poll as a safety net for changes a notification misses (a folder created after the start,
//! a network file system), which is also when a hot-swapped plugin takes over while no events
//! come. A request to stop ends the wait at once.
//!
//! Only changes count: the notifications our own reads cause (a file opened or closed without
//! writing) are ignored, or an idle follow would wake itself up forever.

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};

use super::StreamError;
use super::stop::Stop;
use crate::ingest::DevloopDirs;

/// How long to wait without any notification before reading anyway.
const SAFETY_POLL: Duration = Duration::from_secs(1);
/// Changes that come together (a writer appending several lines) are read together…
const SETTLE: Duration = Duration::from_millis(20);
/// …but a writer that never pauses is read at least this often.
const MAX_SETTLE: Duration = Duration::from_millis(250);

enum Wake {
    Changed,
    Stop,
}

pub struct Watcher {
    _watcher: notify::RecommendedWatcher,
    wakes: mpsc::Receiver<Wake>,
}

fn is_change(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(event) => !matches!(event.kind, EventKind::Access(_)),
        // A lost notification may hide a change: read again.
        Err(_) => true,
    }
}

impl Watcher {
    pub fn new(dirs: &DevloopDirs, stop: &Stop) -> Result<Watcher, StreamError> {
        let (sender, wakes) = mpsc::channel();
        let watch_error = |path: &Path| {
            let path = path.display().to_string();
            move |source| StreamError::Watch { path, source }
        };
        let changes = sender.clone();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if is_change(&event) {
                let _ = changes.send(Wake::Changed);
            }
        })
        .map_err(watch_error(&dirs.project))?;
        for dir in dirs.existing() {
            let mode = if dir == dirs.project { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
            watcher.watch(dir, mode).map_err(watch_error(dir))?;
        }
        stop.on_request(move || {
            let _ = sender.send(Wake::Stop);
        });
        Ok(Watcher { _watcher: watcher, wakes })
    }

    /// Returns after the next change has settled, the safety poll interval, or a stop request.
    pub fn wait_for_change(&self) {
        match self.wakes.recv_timeout(SAFETY_POLL) {
            Ok(Wake::Changed) => {}
            Ok(Wake::Stop) | Err(_) => return,
        }
        let settled_by = Instant::now() + MAX_SETTLE;
        while Instant::now() < settled_by {
            match self.wakes.recv_timeout(SETTLE) {
                Ok(Wake::Changed) => {}
                Ok(Wake::Stop) | Err(_) => return,
            }
        }
    }
}
