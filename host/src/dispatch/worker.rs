//! One long-lived thread per plugin, so a slow plugin holds up only itself.
//!
//! A worker is lent a [`Supervisor`] and then handed batches through a bounded queue; it runs
//! each one as it comes and keeps what came back, in order, until the supervisor is asked
//! back. The batches are shared ([`Arc`]): one conversion per batch whatever the number of
//! plugins, and each plugin picks the kinds it wants by reference.
//!
//! The queue is what lets healthy plugins run ahead of a slow one: a plugin holds the feed
//! only once it is [`QUEUE_DEPTH`] batches behind, and its budget for the run (CPU time above
//! all) bounds how long it can stay behind before it is quarantined, after which it drains its
//! queue at once. Asking a supervisor back waits for its queue to drain, which is what a
//! checkpoint needs: every batch before it processed by every plugin.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::runtime::{BatchOutcome, Supervisor, WitEvents};

/// Batches a plugin may fall behind the feed before the feed waits for it.
pub(super) const QUEUE_DEPTH: usize = 4;

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
    /// Whether a failure in this batch quarantined it (rather than leaving it to restart).
    pub(super) quarantined: bool,
}

enum Job {
    Lend(Box<Supervisor>),
    Batch(Arc<SharedBatch>),
    GiveBack,
}

/// The supervisor handed back, with a report per batch since it was lent, in batch order.
pub(super) struct Returned {
    pub(super) supervisor: Box<Supervisor>,
    pub(super) reports: Vec<Report>,
}

pub(super) struct Worker {
    jobs: SyncSender<Job>,
    returned: Receiver<Returned>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    pub(super) fn spawn(index: usize) -> std::io::Result<Worker> {
        let (jobs, queue) = sync_channel(QUEUE_DEPTH);
        let (give_back, returned) = sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(format!("plugin-worker-{index}"))
            .spawn(move || work(&queue, &give_back))?;
        Ok(Worker { jobs, returned, thread: Some(thread) })
    }

    pub(super) fn lend(&mut self, supervisor: Supervisor) {
        self.send(Job::Lend(Box::new(supervisor)));
    }

    /// Queues a batch; waits only while this plugin is [`QUEUE_DEPTH`] batches behind.
    pub(super) fn queue(&mut self, batch: Arc<SharedBatch>) {
        self.send(Job::Batch(batch));
    }

    /// Asks for the supervisor back; [`Worker::take_back`] waits for it.
    pub(super) fn ask_back(&mut self) {
        self.send(Job::GiveBack);
    }

    /// The supervisor, once every batch queued before [`Worker::ask_back`] ran.
    pub(super) fn take_back(&mut self) -> Returned {
        match self.returned.recv() {
            Ok(returned) => returned,
            Err(_) => self.rethrow(),
        }
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
        let (closed, _) = sync_channel(0);
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn work(queue: &Receiver<Job>, give_back: &SyncSender<Returned>) {
    let mut lent: Option<(Box<Supervisor>, Vec<Report>)> = None;
    const LENT_FIRST: &str = "the pipeline lends a supervisor before it queues batches or asks it back";
    for job in queue {
        match job {
            Job::Lend(supervisor) => lent = Some((supervisor, Vec::new())),
            Job::Batch(batch) => {
                let (supervisor, reports) = lent.as_mut().expect(LENT_FIRST);
                reports.push(run(supervisor, &batch));
            }
            Job::GiveBack => {
                let (supervisor, reports) = lent.take().expect(LENT_FIRST);
                if give_back.send(Returned { supervisor, reports }).is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs one batch in `supervisor`, on whichever thread calls it.
pub(super) fn run(supervisor: &mut Supervisor, batch: &SharedBatch) -> Report {
    let processed = supervisor.process(&batch.events);
    let ticked = supervisor.tick(batch.now_ms);
    Report { processed, ticked, notices: supervisor.take_notices(), quarantined: supervisor.health().quarantined }
}
