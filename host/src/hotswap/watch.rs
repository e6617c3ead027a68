//! Watching the plugins folder and preparing new versions on a worker thread.
//!
//! A file being copied in fires many notifications before it is complete, so a path is only
//! read once it has been quiet for a while: briefly after a sign that the writer is done (the
//! file was closed after writing, renamed into place, touched or removed), much longer after a
//! plain write, which on systems that do not report closes may be one of many. A file read
//! too early anyway fails to load and is reported, and the next notification for it tries
//! again; a broken version never replaces a working one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use thiserror::Error;

use crate::dispatch::{PluginChange, settings_for};
use crate::model::Field;
use crate::runtime::{Runtime, Supervisor};

/// How long a changed file must stay quiet before it is read.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// After the file was closed, renamed into place, touched or removed.
    pub settle: Duration,
    /// After a write with no sign that the writer is done.
    pub unfinished: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions { settle: Duration::from_millis(50), unfinished: Duration::from_secs(2) }
    }
}

/// With nothing pending the worker sleeps on the notifications; it learns of a shutdown when
/// they end (the watcher is dropped first), and checks the flag at least this often anyway.
const IDLE_POLL: Duration = Duration::from_secs(5);

#[derive(Debug, Error)]
pub enum WatchError {
    #[error("cannot watch plugins folder {dir}: {source}; check that it exists and is readable")]
    Watch {
        dir: String,
        #[source]
        source: notify::Error,
    },
    #[error("cannot start the plugin compiler thread")]
    Thread(#[source] std::io::Error),
}

/// Called on the worker thread each time a change is ready.
type ReadyHook = Arc<Mutex<Option<Box<dyn Fn() + Send>>>>;

/// Watches a plugins folder; hands out compiled, started new versions as [`PluginChange`]s.
pub struct PluginWatcher {
    changes: Receiver<PluginChange>,
    on_ready: ReadyHook,
    watcher: Option<RecommendedWatcher>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

impl PluginWatcher {
    /// Starts watching `dir`; `settings` are applied to new versions as at load time.
    pub fn spawn(
        runtime: Arc<Runtime>,
        dir: &Path,
        settings: BTreeMap<String, Vec<Field>>,
        options: WatchOptions,
    ) -> Result<Self, WatchError> {
        let watch_error = |source| WatchError::Watch { dir: dir.display().to_string(), source };
        let (notifications, notified) = mpsc::channel();
        let mut watcher = notify::recommended_watcher(notifications).map_err(watch_error)?;
        watcher.watch(dir, RecursiveMode::NonRecursive).map_err(watch_error)?;
        let (changes, ready) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (disposal, disposed) = mpsc::channel();
        let on_ready = ReadyHook::default();
        let preparer = Preparer {
            on_ready: on_ready.clone(),
            runtime,
            dir: dir.to_owned(),
            settings,
            options,
            pending: BTreeMap::new(),
            changes,
            stop: stop.clone(),
            disposal,
            disposed,
        };
        let worker = std::thread::Builder::new()
            .name("plugin-compiler".into())
            .spawn(move || preparer.run(&notified))
            .map_err(WatchError::Thread)?;
        Ok(PluginWatcher { changes: ready, on_ready, watcher: Some(watcher), stop, worker: Some(worker) })
    }

    /// Calls `hook` (on the worker thread) each time a change is ready, so a host waiting for
    /// something else can come and take it.
    pub fn on_ready(&self, hook: impl Fn() + Send + 'static) {
        *self.on_ready.lock().unwrap_or_else(PoisonError::into_inner) = Some(Box::new(hook));
    }

    /// The next ready change, if any; never waits. Call it between batches.
    pub fn try_next(&self) -> Option<PluginChange> {
        self.changes.try_recv().ok()
    }

    /// Waits up to `timeout` for the next change.
    pub fn next_timeout(&self, timeout: Duration) -> Option<PluginChange> {
        self.changes.recv_timeout(timeout).ok()
    }
}

impl Drop for PluginWatcher {
    fn drop(&mut self) {
        self.watcher.take();
        self.stop.store(true, Ordering::Relaxed);
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

/// A path that changed and is waiting to be quiet.
struct Pending {
    noticed: Instant,
    due: Instant,
}

/// The worker: debounces notifications and prepares each settled file.
struct Preparer {
    runtime: Arc<Runtime>,
    dir: PathBuf,
    settings: BTreeMap<String, Vec<Field>>,
    options: WatchOptions,
    pending: BTreeMap<PathBuf, Pending>,
    changes: Sender<PluginChange>,
    on_ready: ReadyHook,
    stop: Arc<AtomicBool>,
    /// Versions swapped out, dropped on this thread rather than between two batches.
    disposal: Sender<Supervisor>,
    disposed: Receiver<Supervisor>,
}

impl Preparer {
    fn run(mut self, notified: &Receiver<notify::Result<notify::Event>>) {
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            let wait = self
                .pending
                .values()
                .map(|pending| pending.due.saturating_duration_since(now))
                .min()
                .unwrap_or(IDLE_POLL)
                .min(IDLE_POLL);
            match notified.recv_timeout(wait) {
                Ok(Ok(event)) => self.note(event),
                Ok(Err(error)) => tracing::warn!(dir = %self.dir.display(), "watching the plugins folder: {error}"),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return,
            }
            self.disposed.try_iter().for_each(drop);
            let now = Instant::now();
            let due: Vec<PathBuf> =
                self.pending.iter().filter(|(_, pending)| pending.due <= now).map(|(file, _)| file.clone()).collect();
            for file in due {
                let Some(pending) = self.pending.remove(&file) else { continue };
                if self.changes.send(self.prepare(file, pending.noticed)).is_err() {
                    return;
                }
                if let Some(hook) = self.on_ready.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                    hook();
                }
            }
        }
    }

    fn note(&mut self, event: notify::Event) {
        let finished = match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write))
            | EventKind::Modify(ModifyKind::Name(_) | ModifyKind::Metadata(_))
            | EventKind::Remove(_) => true,
            EventKind::Access(_) => return,
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Any | EventKind::Other => false,
        };
        let now = Instant::now();
        let quiet = if finished { self.options.settle } else { self.options.unfinished };
        for path in event.paths {
            if path.extension().is_none_or(|extension| extension != "wasm") {
                continue;
            }
            let Some(name) = path.file_name() else { continue };
            let file = self.dir.join(name);
            tracing::trace!(file = %file.display(), kind = ?event.kind, "plugin file changed");
            let pending = self.pending.entry(file).or_insert(Pending { noticed: now, due: now });
            pending.due = now + quiet;
        }
    }

    /// Reads, compiles, checks and starts the new version of `file`.
    fn prepare(&self, file: PathBuf, noticed: Instant) -> PluginChange {
        if !file.exists() {
            return PluginChange::Removed { file };
        }
        let started = self.runtime.load_file(&file).and_then(|compiled| {
            let settings = settings_for(&self.runtime, &compiled, &self.settings)?;
            Supervisor::start(&self.runtime, compiled, settings)
        });
        match started {
            Ok(candidate) => {
                tracing::debug!(file = %file.display(), waited = ?noticed.elapsed(), "new version ready");
                PluginChange::Ready {
                    file,
                    candidate: Box::new(candidate),
                    noticed,
                    disposal: Some(self.disposal.clone()),
                }
            }
            Err(error) => PluginChange::Rejected { file, error },
        }
    }
}
