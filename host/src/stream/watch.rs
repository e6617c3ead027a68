//! Waiting for devloop's files to change, at no cost while nothing does: the follow stream
//! blocks on file-system notifications, debounced, and otherwise wakes only for a slow poll, a
//! safety net for changes a notification misses (a network file system).
//!
//! Only changes count: the notifications our own reads cause (a file opened or closed without
//! writing) are ignored, or an idle follow would wake itself up forever. A devloop folder that
//! does not exist yet is waited for through its parent folder.
//!
//! Plugins and pattern files are applied between batches by their own watchers, once a changed
//! file is complete; the stream has to run a round for that to happen. A hot-swapped plugin that
//! is ready says so ([`Nudge`]); after a change in a pattern folder the stream checks back often
//! for a short while instead.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use notify::{EventKind, RecursiveMode, Watcher as _};

use super::StreamError;
use super::stop::Stop;
use crate::ingest::DevloopDirs;

/// How long to wait without any notification before reading anyway.
pub const SAFETY_POLL: Duration = Duration::from_secs(30);
/// Changes that come together (a writer appending several lines) are read together…
const SETTLE: Duration = Duration::from_millis(20);
/// …but a writer that never pauses is read at least this often.
const MAX_SETTLE: Duration = Duration::from_millis(250);
/// After a change in a folder applied between batches, the stream checks back this often…
const APPLY_POLL: Duration = Duration::from_millis(250);
/// …for this long after the last such change.
const APPLY_WINDOW: Duration = Duration::from_secs(3);

#[derive(Debug)]
enum Wake {
    /// devloop's folders changed.
    Logs,
    /// A folder applied between batches changed.
    Applied,
    /// Something is ready to be applied between batches.
    Nudged,
    Stop,
}

/// Wakes a waiting follow stream for a round, e.g. when a hot-swapped plugin is ready.
#[derive(Debug, Clone, Default)]
pub struct Nudge {
    waiting: Arc<Mutex<Vec<mpsc::Sender<Wake>>>>,
}

impl Nudge {
    pub fn nudge(&self) {
        for waiting in self.waiting.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = waiting.send(Wake::Nudged);
        }
    }

    fn register(&self, sender: mpsc::Sender<Wake>) {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner).push(sender);
    }
}

/// Files the run applies between batches: those named `*.extension` in `folder`.
#[derive(Debug, Clone)]
pub struct Applied {
    pub folder: PathBuf,
    pub extension: &'static str,
}

impl Applied {
    /// The same files, their folder named as notifications name theirs: from the root (a
    /// relative folder is watched in the working directory, and notified by the whole path).
    fn absolute(&self) -> Applied {
        let folder = std::path::absolute(&self.folder).unwrap_or_else(|_| self.folder.clone());
        Applied { folder, extension: self.extension }
    }

    fn covers(&self, path: &Path) -> bool {
        path.starts_with(&self.folder) && path.extension().is_some_and(|extension| extension == self.extension)
    }
}

/// What a follow stream watches besides devloop's folders.
#[derive(Debug, Clone, Default)]
pub struct Follow {
    /// Plugins and pattern files (not what else their folders hold, such as the status file).
    pub applied: Vec<Applied>,
    /// Nudged when something is ready to be applied between batches.
    pub nudge: Nudge,
}

pub struct Watcher {
    watcher: notify::RecommendedWatcher,
    wakes: mpsc::Receiver<Wake>,
    /// devloop folders not there yet, each waited for through its parent folder.
    missing: Vec<(PathBuf, RecursiveMode)>,
    /// Until when a change in an applied folder makes the stream check back often.
    applying_until: Option<Instant>,
}

fn is_change(event: &notify::Result<notify::Event>) -> bool {
    match event {
        Ok(event) => !matches!(event.kind, EventKind::Access(_)),
        // A lost notification may hide a change: read again.
        Err(_) => true,
    }
}

fn watch_error(path: &Path) -> impl FnOnce(notify::Error) -> StreamError {
    let path = path.display().to_string();
    move |source| StreamError::Watch { path, source }
}

impl Watcher {
    pub fn new(dirs: &DevloopDirs, follow: &Follow, stop: &Stop) -> Result<Watcher, StreamError> {
        let (sender, wakes) = mpsc::channel();
        let changes = sender.clone();
        let applied: Vec<Applied> = follow.applied.iter().map(Applied::absolute).collect();
        let watched = applied.clone();
        let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if !is_change(&event) {
                return;
            }
            let paths = event.as_ref().map(|event| event.paths.as_slice()).unwrap_or_default();
            let in_applied_folder = |path: &PathBuf| applied.iter().any(|applied| path.starts_with(&applied.folder));
            let wake = if paths.iter().any(|path| applied.iter().any(|applied| applied.covers(path))) {
                Wake::Applied
            } else if !paths.is_empty() && paths.iter().all(in_applied_folder) {
                return;
            } else {
                Wake::Logs
            };
            let _ = changes.send(wake);
        })
        .map_err(watch_error(&dirs.project))?;
        let mut missing = Vec::new();
        for dir in std::iter::once(&dirs.project).chain(dirs.home.as_ref()) {
            let mode = if *dir == dirs.project { RecursiveMode::Recursive } else { RecursiveMode::NonRecursive };
            if dir.is_dir() {
                watcher.watch(dir, mode).map_err(watch_error(dir))?;
            } else {
                if let Some(parent) = dir.parent().filter(|parent| parent.is_dir()) {
                    watcher.watch(parent, RecursiveMode::NonRecursive).map_err(watch_error(parent))?;
                }
                missing.push((dir.clone(), mode));
            }
        }
        for Applied { folder, .. } in watched.iter().filter(|applied| applied.folder.is_dir()) {
            watcher.watch(folder, RecursiveMode::NonRecursive).map_err(watch_error(folder))?;
        }
        follow.nudge.register(sender.clone());
        stop.on_request(move || {
            let _ = sender.send(Wake::Stop);
        });
        Ok(Watcher { watcher, wakes, missing, applying_until: None })
    }

    /// Returns after the next change has settled, a nudge, the poll interval, or a stop request.
    pub fn wait_for_change(&mut self) {
        let applying = self.applying_until.is_some_and(|until| Instant::now() < until);
        let poll = if applying { APPLY_POLL } else { SAFETY_POLL };
        let first = match self.wakes.recv_timeout(poll) {
            Ok(Wake::Stop) => return,
            Ok(wake) => wake,
            Err(_) => {
                tracing::trace!(?poll, "no notification; reading anyway");
                return;
            }
        };
        self.note(&first);
        let settled_by = Instant::now() + MAX_SETTLE;
        while Instant::now() < settled_by {
            match self.wakes.recv_timeout(SETTLE) {
                Ok(Wake::Stop) | Err(_) => break,
                Ok(wake) => self.note(&wake),
            }
        }
        tracing::trace!(?first, "woken");
        self.watch_appeared_folders();
    }

    fn note(&mut self, wake: &Wake) {
        if matches!(wake, Wake::Applied) {
            self.applying_until = Some(Instant::now() + APPLY_WINDOW);
        }
    }

    /// Watches the devloop folders created since the last look (the parent's watch saw it).
    fn watch_appeared_folders(&mut self) {
        let (appeared, missing): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.missing).into_iter().partition(|(dir, _)| dir.is_dir());
        self.missing = missing;
        for (dir, mode) in appeared {
            if let Err(error) = self.watcher.watch(&dir, mode) {
                tracing::warn!(dir = %dir.display(), "cannot watch: {error}; reading it every {SAFETY_POLL:?}");
                continue;
            }
            tracing::debug!(dir = %dir.display(), "watching a devloop folder created while following");
            if let Some(parent) = dir.parent()
                && !self.missing.iter().any(|(other, _)| other.parent() == Some(parent))
            {
                let _ = self.watcher.unwatch(parent);
            }
        }
    }
}
