//! One long-lived thread per plugin, so a slow plugin holds up only itself.
//!
//! A worker is lent a [`Supervisor`] and then handed batches through its queue; it runs each
//! one as it comes and sends back what came of it, in order, until the supervisor is asked
//! back. The batches are shared ([`Arc`]): one conversion per batch whatever the number of
//! plugins, and each plugin picks the kinds it wants by reference.
//!
//! The queue has no fixed depth: healthy plugins run ahead of a slow one at full speed, and the
//! slow one pins only the batches it has not run yet. What bounds it is memory: once
//! [`LAG_CAP_EVENTS`] events are queued for a plugin, the feed either waits for it or, in a
//! run, detaches it (see [`super::Pipeline::detach`]): it is given nothing more and catches up
//! later on events read again. A plugin that holds the feed or is detached so, at a CPU cost
//! per event that would take it over its CPU budget before it caught up, is quarantined at its
//! next batch ([`Supervisor::quarantine_if_it_cannot_catch_up`]) rather than when it actually
//! goes over; one within its budget is only heavy. A quarantined plugin drains its queue at
//! once.
//!
//! A checkpoint does not ask the supervisors back either: a [`Job::Cut`] goes down the queues
//! like a batch, and each worker saves its plugin's state when it gets there, so every state
//! is taken exactly after the last batch before the cut, however far ahead of the others its
//! plugin runs. The checkpoint is complete once the slowest worker fed with the others has
//! passed it (see [`super::cut`]).

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::CutState;
use crate::runtime::{BatchOutcome, PluginHealth, Supervisor, WitEvents};

/// Events that may wait in one plugin's queue before the feed waits for it (or detaches it) by
/// default: far above what a healthy plugin lags by (a few batches), small enough that the
/// batches a stuck plugin pins stay a few tens of MiB.
pub const LAG_CAP_EVENTS: usize = 64 * super::DEFAULT_BATCH_SIZE;

/// One batch as every plugin sees it.
pub(super) struct SharedBatch {
    pub(super) events: WitEvents,
    /// The time of its last event: each detector's clock after the batch.
    pub(super) now_ms: i64,
}

/// What one plugin made of one batch.
pub(super) struct Report {
    pub(super) processed: BatchOutcome,
    pub(super) ticked: BatchOutcome,
    /// What it did wrong while the batch went on (see [`Supervisor::take_notices`]).
    pub(super) notices: Vec<String>,
    /// Its health after the batch: whether a failure in it quarantined the plugin (rather
    /// than leaving it to restart), and its counters for its status while it is lent.
    pub(super) health: PluginHealth,
}

enum Job {
    Lend(Box<Supervisor>),
    Batch(Arc<SharedBatch>),
    /// A checkpoint's place between two batches; `true` asks for the plugin's state there.
    Cut(bool),
    GiveBack,
}

/// What a worker sends back, in the order of the jobs it was given.
pub(super) enum Done {
    Batch(Report),
    Cut(Option<CutState>),
    Back(Box<Supervisor>),
}

/// How far a worker is behind the feed, shared with its thread.
#[derive(Default)]
struct Lag {
    state: Mutex<LagState>,
    changed: Condvar,
}

#[derive(Default)]
struct LagState {
    /// Events queued and not run yet.
    queued: usize,
    /// The feed waits for this worker (its queue is full).
    holding: bool,
    /// The worker's plugin is detached from the feed (see [`super::Pipeline::detach`]).
    detached: bool,
    /// The thread has ended: nobody will run what is queued.
    ended: bool,
}

impl Lag {
    fn lock(&self) -> MutexGuard<'_, LagState> {
        // The counters stay meaningful whatever panicked while holding them.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `ready` holds or the thread ended, at most `timeout`; whether `ready` holds.
    fn wait(&self, timeout: Option<Duration>, ready: impl Fn(&LagState) -> bool) -> bool {
        let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
        let mut state = self.lock();
        while !ready(&state) && !state.ended {
            state = match deadline {
                None => self.changed.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.changed.wait_timeout(state, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
        ready(&state)
    }

    fn update(&self, change: impl FnOnce(&mut LagState)) {
        change(&mut self.lock());
        self.changed.notify_all();
    }
}

/// Marks the lag ended when the worker's thread ends, panicking or not, so the feed never
/// waits on a thread that is gone.
struct EndOnDrop(Arc<Lag>);

impl Drop for EndOnDrop {
    fn drop(&mut self) {
        self.0.update(|state| state.ended = true);
    }
}

pub(super) struct Worker {
    jobs: Sender<Job>,
    done: Receiver<Done>,
    lag: Arc<Lag>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub(super) fn spawn(index: usize) -> std::io::Result<Worker> {
        let (jobs, queue) = channel();
        let (done_sender, done) = channel();
        let lag = Arc::new(Lag::default());
        let thread_lag = lag.clone();
        let thread = std::thread::Builder::new()
            .name(format!("plugin-worker-{index}"))
            .spawn(move || work(&queue, &done_sender, thread_lag))?;
        Ok(Worker { jobs, done, lag, thread: Some(thread) })
    }

    pub(super) fn lend(&mut self, supervisor: Supervisor) {
        self.send(Job::Lend(Box::new(supervisor)));
    }

    /// Queues a batch; waits only while `cap` events are queued for this plugin.
    pub(super) fn queue(&mut self, batch: Arc<SharedBatch>, cap: usize) {
        let size = batch.events.len();
        // One batch is always let in, whatever its size, so a batch above the cap still goes.
        let fits = |state: &LagState| state.queued == 0 || state.queued + size <= cap;
        if !fits(&self.lag.lock()) {
            self.lag.update(|state| state.holding = true);
            self.lag.wait(None, fits);
        }
        self.lag.update(|state| {
            state.holding = false;
            state.queued += size;
        });
        self.send(Job::Batch(batch));
    }

    /// Says whether the plugin is detached from the feed.
    pub(super) fn set_detached(&mut self, detached: bool) {
        self.lag.update(|state| state.detached = detached);
    }

    /// Queues a cut: the worker reports when it gets there, with the plugin's state if `save`.
    pub(super) fn cut(&mut self, save: bool) {
        self.send(Job::Cut(save));
    }

    /// Asks for the supervisor back; it comes as [`Done::Back`] after everything queued before.
    pub(super) fn ask_back(&mut self) {
        self.send(Job::GiveBack);
    }

    /// What the worker finished next, if it has.
    pub(super) fn try_next(&mut self) -> Option<Done> {
        match self.done.try_recv() {
            Ok(done) => Some(done),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => self.rethrow(),
        }
    }

    /// What the worker finishes next, waiting for it.
    pub(super) fn next(&mut self) -> Done {
        match self.done.recv() {
            Ok(done) => done,
            Err(_) => self.rethrow(),
        }
    }

    /// Events queued for the worker and not run yet.
    pub(super) fn behind(&self) -> usize {
        self.lag.lock().queued
    }

    /// Waits until nothing is queued for the worker, at most `timeout`; whether it got there.
    pub(super) fn wait_caught_up(&self, timeout: Duration) -> bool {
        self.lag.wait(Some(timeout), |state| state.queued == 0)
    }

    fn send(&mut self, job: Job) {
        if self.jobs.send(job).is_err() {
            self.rethrow();
        }
    }

    /// The worker thread ended, which only a panic in the host's own code does: the panic goes
    /// on here, as it would have on one thread.
    fn rethrow(&mut self) -> ! {
        let thread = self.thread.take().expect("a worker's thread is joined once, here or on drop");
        match thread.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("a worker ends only when its queue closes"),
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has finished what it was given.
        let (closed, _) = channel();
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn work(queue: &Receiver<Job>, done: &Sender<Done>, lag: Arc<Lag>) {
    let _end = EndOnDrop(lag.clone());
    let mut lent: Option<Box<Supervisor>> = None;
    const LENT_FIRST: &str = "the pipeline lends a supervisor before it queues batches or asks it back";
    for job in queue {
        let finished = match job {
            Job::Lend(supervisor) => {
                lent = Some(supervisor);
                continue;
            }
            Job::Batch(batch) => {
                let supervisor = lent.as_mut().expect(LENT_FIRST);
                let (holding, queued) = {
                    let state = lag.lock();
                    (state.holding || state.detached, state.queued)
                };
                if holding {
                    supervisor.quarantine_if_it_cannot_catch_up(queued);
                }
                let report = run(supervisor, &batch);
                let size = batch.events.len();
                lag.update(|state| state.queued -= size);
                Done::Batch(report)
            }
            Job::Cut(save) => Done::Cut(save.then(|| save_state(lent.as_mut().expect(LENT_FIRST)))),
            Job::GiveBack => Done::Back(lent.take().expect(LENT_FIRST)),
        };
        if done.send(finished).is_err() {
            return;
        }
    }
}

/// Runs one batch in `supervisor`, on whichever thread calls it.
pub(super) fn run(supervisor: &mut Supervisor, batch: &SharedBatch) -> Report {
    let processed = supervisor.process(&batch.events);
    let ticked = supervisor.tick(batch.now_ms);
    Report { processed, ticked, notices: supervisor.take_notices(), health: supervisor.health().clone() }
}

/// The plugin's state as it stands, on whichever thread calls it.
pub(super) fn save_state(supervisor: &mut Supervisor) -> CutState {
    CutState {
        plugin: supervisor.id().to_owned(),
        version: supervisor.description().version.clone(),
        state: supervisor.snapshot(),
    }
}
