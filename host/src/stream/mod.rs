//! The pipeline of `devloop-host run`, from where the last run stopped to the next checkpoint:
//! read devloop's logs ([`crate::ingest`]), feed every detector ([`crate::dispatch`]), commit
//! progress and findings together ([`crate::store::Checkpoint`]), then send what changed to
//! the sinks ([`crate::sinks`]).
//!
//! A checkpoint is one transaction holding where every source stands, the state of every
//! detector that changed, and the findings reported since the previous one, with their beads
//! filing intents. It is written every [`CheckpointPolicy::events`] events or
//! [`CheckpointPolicy::interval`], whichever comes first, each time the stream catches up,
//! and when the run stops; a run that dies in between replays from the last checkpoint with
//! the detectors restored to it, so each event reaches each detector once. A due checkpoint
//! does not stop the feed: it is marked after the last batch read ([`Pipeline::cut`]), each
//! plugin's state is saved when that plugin gets there, and it is committed once the slowest
//! has, while the others go on reading; the next is due only after that. Catching up and
//! stopping wait for every plugin, since nothing is left to read meanwhile. Sinks run after the
//! commit, once the stream has caught up (or stops): a finding is stored before anyone hears of
//! it, and a long replay announces each finding once, as it stands at the end, rather than at
//! every doubling on the way.
//!
//! With `follow`, the stream keeps going: it waits for the files to change ([`watch`]) and
//! reads what is new, until asked to [`Stop`]. Idle, it sleeps on file notifications.

mod stop;
mod watch;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use thiserror::Error;

pub use stop::{Stop, StopReason};
pub use watch::{Applied, Follow, Nudge, SAFETY_POLL};

use crate::dispatch::{Cut, CutState, Pipeline};
use crate::ingest::position::Cursor;
use crate::ingest::{DevloopDirs, MalformedRecord, Stream};
use crate::model::Fingerprint;
use crate::routing::RoutingConfig;
use crate::sinks::{self, SinkError};
use crate::store::{Change, Checkpoint, PluginSnapshot, Reported, Store, StoreError};

#[derive(Debug, Error)]
pub enum StreamError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("cannot read devloop's logs")]
    Read(#[source] std::io::Error),
    #[error(
        "{count} malformed record(s), first at {first} (--strict); fix or remove the record, or run without --strict"
    )]
    Strict { count: usize, first: MalformedRecord },
    #[error("cannot watch {path} for changes (--follow)")]
    Watch { path: String, source: notify::Error },
    #[error("cannot write the findings")]
    Output(#[source] std::io::Error),
}

/// When progress is committed besides catching up and stopping.
#[derive(Debug, Clone, Copy)]
pub struct CheckpointPolicy {
    /// After this many events since the last checkpoint…
    pub events: u64,
    /// …or this long since it, whichever comes first.
    pub interval: Duration,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        CheckpointPolicy { events: 50_000, interval: Duration::from_secs(2) }
    }
}

/// How to run the stream.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events per batch (and per plugin call).
    pub batch_size: usize,
    /// Forget the stored cursors and detector states and read everything again.
    pub from_start: bool,
    /// A malformed record stops the run (before the batch it is in is delivered).
    pub strict: bool,
    /// Keep reading as the files grow, until stopped.
    pub follow: Option<Follow>,
    /// Record the id of every delivered event in the store (for crash tests).
    pub trace_delivered: bool,
    pub checkpoint: CheckpointPolicy,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub events: u64,
    pub late: u64,
    pub malformed: Vec<MalformedRecord>,
    /// New and materially changed findings committed (and sent to the sinks).
    pub changes: usize,
    /// Why the run stopped before its end, if it did.
    pub stopped: Option<StopReason>,
}

/// Where the run's results go: the store and the routing rules for its sinks.
pub struct Destination<'a> {
    pub store: &'a mut Store,
    pub routing: &'a RoutingConfig,
}

/// What the caller sees of the run: `between_batches` may change the pipeline before each batch
/// (hot swap); `after_round` sees it each time the stream has caught up and everything found
/// so far is committed (once without `follow`). An `after_round` whose output was closed
/// (`BrokenPipe`) stops the run cleanly; another error ends it.
pub struct Hooks<'a> {
    pub between_batches: &'a mut dyn FnMut(&mut Pipeline),
    pub after_round: &'a mut dyn FnMut(&Pipeline) -> std::io::Result<()>,
}

/// Runs the stream from where the store says through `pipeline` until caught up (or, with
/// `follow`, until `stop` is requested).
pub fn run(
    dirs: &DevloopDirs,
    pipeline: &mut Pipeline,
    destination: Destination<'_>,
    options: &Options,
    stop: &Stop,
    hooks: Hooks<'_>,
) -> Result<Summary, StreamError> {
    let Destination { store, routing } = destination;
    if options.from_start {
        store.reset_progress()?;
    }
    let mut stream = Stream::new(dirs.readers());
    stream.resume(&stored_cursors(store)?);
    let mut progress = Progress::new(store, routing, options);
    progress.restore(pipeline)?;
    let mut watcher = match &options.follow {
        Some(follow) => Some(watch::Watcher::new(dirs, follow, stop)?),
        None => None,
    };
    let mut summary = Summary::default();
    'rounds: loop {
        loop {
            if stop.requested().is_some() {
                break 'rounds;
            }
            (hooks.between_batches)(pipeline);
            let batch = stream.next_batch(options.batch_size).map_err(StreamError::Read)?;
            let malformed = stream.take_malformed();
            for record in &malformed {
                tracing::warn!("{record}");
            }
            if options.strict && !malformed.is_empty() {
                // Nothing since the last checkpoint is committed: the next run reads it again.
                return Err(StreamError::Strict { count: malformed.len(), first: malformed[0].clone() });
            }
            summary.malformed.extend(malformed);
            if batch.is_empty() {
                break;
            }
            pipeline.submit(&batch);
            summary.events += batch.len() as u64;
            progress.delivered(&batch);
            if progress.due() {
                progress.cut(pipeline, &mut stream);
            }
            progress.commit_passed(pipeline)?;
        }
        progress.checkpoint(pipeline, &mut stream)?;
        if progress.has_undelivered() {
            summary.changes += progress.deliver()?;
        }
        summary.late = stream.late_events();
        tracing::debug!(events = summary.events, late = summary.late, malformed = summary.malformed.len(), "caught up");
        match (hooks.after_round)(pipeline) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => stop.request(StopReason::OutputClosed),
            Err(error) => return Err(StreamError::Output(error)),
        }
        let Some(watcher) = &mut watcher else { break };
        if stop.requested().is_some() {
            break;
        }
        watcher.wait_for_change();
        stream.next_round();
    }
    progress.checkpoint(pipeline, &mut stream)?;
    // Once per run at least, for what an earlier run left queued for beads.
    if progress.has_undelivered() || !progress.delivered_once {
        summary.changes += progress.deliver()?;
    }
    summary.late = stream.late_events();
    summary.stopped = stop.requested();
    Ok(summary)
}

fn stored_cursors(store: &Store) -> Result<HashMap<String, Cursor>, StoreError> {
    let mut cursors = HashMap::new();
    for (slot, text) in store.cursors()? {
        match serde_json::from_str(&text) {
            Ok(cursor) => {
                cursors.insert(slot, cursor);
            }
            Err(error) => tracing::warn!(slot, "stored position unreadable ({error}); reading the file from the start"),
        }
    }
    Ok(cursors)
}

/// A checkpoint marked in the pipeline ([`Pipeline::cut`]) and not committed yet: where the
/// stream stood there.
struct Marked {
    cursors: Vec<(String, String)>,
    delivered: Vec<(u64, i64)>,
}

/// What is not committed yet, and what the last checkpoint holds.
struct Progress<'a> {
    store: &'a mut Store,
    routing: &'a RoutingConfig,
    policy: CheckpointPolicy,
    trace_delivered: bool,
    events_since: u64,
    since: Instant,
    delivered: Vec<(u64, i64)>,
    /// Checkpoints some plugin has not reached yet, oldest first.
    marked: VecDeque<Marked>,
    /// A digest of each detector's state as last committed, to skip the unchanged ones.
    committed_states: HashMap<String, [u8; 32]>,
    /// Findings an earlier checkpoint of this run recorded.
    recorded: HashSet<Fingerprint>,
    /// Committed changes the sinks have not heard of yet, one per finding, in commit order.
    undelivered: Vec<Change>,
    /// The sinks ran in this run (and beads filing with them).
    delivered_once: bool,
}

fn digest(snapshot: &PluginSnapshot) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(snapshot.version.as_bytes());
    hasher.update([0]);
    hasher.update(&snapshot.state);
    hasher.finalize().into()
}

impl<'a> Progress<'a> {
    fn new(store: &'a mut Store, routing: &'a RoutingConfig, options: &Options) -> Self {
        Progress {
            store,
            routing,
            policy: options.checkpoint,
            trace_delivered: options.trace_delivered,
            events_since: 0,
            since: Instant::now(),
            delivered: Vec::new(),
            marked: VecDeque::new(),
            committed_states: HashMap::new(),
            recorded: HashSet::new(),
            undelivered: Vec::new(),
            delivered_once: false,
        }
    }

    /// Hands every detector the state the last checkpoint holds for it.
    fn restore(&mut self, pipeline: &mut Pipeline) -> Result<(), StoreError> {
        let snapshots = self.store.snapshots()?;
        for supervisor in pipeline.plugins_mut() {
            let id = supervisor.id().to_owned();
            let Some(snapshot) = snapshots.get(&id) else { continue };
            match supervisor.restore(&snapshot.state) {
                Ok(Ok(())) => {
                    self.committed_states.insert(id.clone(), digest(snapshot));
                    tracing::debug!(plugin = id, from_version = snapshot.version, "restored the detector's state")
                }
                Ok(Err(reason)) => {
                    tracing::warn!(plugin = id, "the detector refused its saved state ({reason}); it starts fresh")
                }
                Err(failure) => {
                    tracing::warn!(plugin = id, "restoring the detector's state failed ({failure}); it starts fresh")
                }
            }
        }
        Ok(())
    }

    fn delivered(&mut self, batch: &[crate::model::Event]) {
        self.events_since += batch.len() as u64;
        if self.trace_delivered {
            self.delivered.extend(batch.iter().map(|event| (event.id, event.time_ms)));
        }
    }

    /// Whether a checkpoint is due: not while the last one marked waits for a slow plugin,
    /// which would only pile up the states of the others.
    fn due(&self) -> bool {
        self.marked.is_empty()
            && (self.events_since >= self.policy.events || self.since.elapsed() >= self.policy.interval)
    }

    /// Marks a checkpoint after the events delivered so far, without waiting for the plugins:
    /// [`Progress::commit_passed`] commits it once every one has run them.
    fn cut(&mut self, pipeline: &mut Pipeline, stream: &mut Stream) {
        let cursors = stream
            .checkpoint()
            .into_iter()
            .filter_map(|(slot, cursor)| serde_json::to_string(&cursor).ok().map(|text| (slot, text)))
            .collect();
        pipeline.cut(self.events_since > 0);
        self.marked.push_back(Marked { cursors, delivered: std::mem::take(&mut self.delivered) });
        self.events_since = 0;
        self.since = Instant::now();
    }

    /// Commits every marked checkpoint that every plugin has passed; never waits.
    fn commit_passed(&mut self, pipeline: &mut Pipeline) -> Result<(), StreamError> {
        while let Some(cut) = pipeline.take_cut() {
            let marked = self.marked.pop_front().expect("the run marks every cut of its pipeline");
            self.commit(marked, cut)?;
        }
        Ok(())
    }

    /// Marks a checkpoint after the events delivered so far and commits it, with any marked
    /// before, each as soon as every plugin has passed it.
    fn checkpoint(&mut self, pipeline: &mut Pipeline, stream: &mut Stream) -> Result<(), StreamError> {
        self.cut(pipeline, stream);
        while let Some(cut) = pipeline.next_cut() {
            let marked = self.marked.pop_front().expect("the run marks every cut of its pipeline");
            self.commit(marked, cut)?;
        }
        // Every plugin has run every batch by now: this waits for nothing, and brings the
        // plugins back so their statuses are current.
        pipeline.settle();
        Ok(())
    }

    /// The states of the detectors that changed since the last checkpoint.
    fn changed_snapshots(&self, states: Vec<CutState>) -> Vec<(String, PluginSnapshot)> {
        let mut snapshots = Vec::new();
        for CutState { plugin, version, state } in states {
            match state {
                Ok(Some(state)) => {
                    let snapshot = PluginSnapshot { version, state };
                    if self.committed_states.get(&plugin) != Some(&digest(&snapshot)) {
                        snapshots.push((plugin, snapshot));
                    }
                }
                Ok(None) => {}
                Err(failure) => tracing::warn!(plugin, "could not save the detector's state: {failure}"),
            }
        }
        snapshots
    }

    /// Commits one checkpoint, keeping the new and materially changed findings for
    /// [`Progress::deliver`].
    fn commit(&mut self, marked: Marked, cut: Cut) -> Result<(), StreamError> {
        let checkpoint = Checkpoint {
            cursors: marked.cursors,
            delivered: marked.delivered,
            snapshots: self.changed_snapshots(cut.states),
            findings: cut
                .reported
                .into_iter()
                .map(|reports| Reported {
                    first_in_run: self.recorded.insert(reports.latest.fingerprint()),
                    insight: reports.latest,
                    occurrences: reports.occurrences,
                })
                .collect(),
        };
        if checkpoint.is_empty() {
            return Ok(());
        }
        let changes = self.store.commit(&checkpoint, self.routing, crate::store::now_ms())?;
        for (id, snapshot) in &checkpoint.snapshots {
            self.committed_states.insert(id.clone(), digest(snapshot));
        }
        tracing::debug!(
            cursors = checkpoint.cursors.len(),
            states = checkpoint.snapshots.len(),
            findings = checkpoint.findings.len(),
            changes = changes.len(),
            "checkpoint"
        );
        for change in changes {
            // A finding that changed twice since the sinks last heard is told once: the first
            // change's kind (new stays new), the finding as it stands now.
            match self.undelivered.iter_mut().find(|known| known.finding.fingerprint == change.finding.fingerprint) {
                Some(known) => known.finding = change.finding,
                None => self.undelivered.push(change),
            }
        }
        Ok(())
    }

    /// Sends the committed changes to the sinks and files whatever waits for a beads issue;
    /// returns how many changes there were.
    fn has_undelivered(&self) -> bool {
        !self.undelivered.is_empty()
    }

    fn deliver(&mut self) -> Result<usize, StreamError> {
        self.delivered_once = true;
        let changes = std::mem::take(&mut self.undelivered);
        let report = sinks::deliver(self.store, self.routing, &changes, crate::store::now_ms())?;
        if let Some(filing) = &report.filing {
            for (fingerprint, issue) in &filing.created {
                tracing::info!(%fingerprint, issue, "filed a beads issue");
            }
            for (fingerprint, issue) in &filing.adopted {
                tracing::info!(%fingerprint, issue, "found its beads issue by external ref");
            }
            for (fingerprint, error) in &filing.failed {
                tracing::warn!(%fingerprint, "not filed, retried on the next run: {error}");
            }
        }
        if let Some(error) = &report.filing_error {
            tracing::warn!("beads filing skipped, findings stay queued for the next run: {error}");
        }
        Ok(changes.len())
    }
}
