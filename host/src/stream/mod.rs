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
//! of the plugins fed together has, while the others go on reading.
//!
//! A plugin slower than the feed does not set its pace. Once its queue is full
//! ([`Pipeline::full`]) a checkpoint is marked and the plugin is *detached* there: the feed
//! gives it nothing more and no checkpoint waits for it. It works through its queue alone, and
//! its state at each checkpoint it gets to is committed with that checkpoint's cursors as its
//! own, with the findings it reported up to there. When the stream has caught up (the end of a
//! round, or of the run), it is fed alone (`catch_up`) from a second feed resumed at its
//! own cursors and stopped at the others' ([`Feed::resume_until`]), then attached again. The
//! main feed waits meanwhile: catching up runs while there is nothing else to read. With
//! `follow`, where new events can come while a slow detector catches up, it is fed one of its
//! checkpoints' worth per round, and the stream reads what is new (without waiting for the
//! files to change) before the next. A run that dies while a detector is behind leaves its own
//! cursors in the store, and the next run catches it up the same way: each event still
//! reaches each detector once.
//!
//! Sinks run after the commit: a finding is stored before anyone hears of it, and a long
//! replay announces each finding once, as it stands at the end, rather than at every doubling
//! on the way.
//!
//! With `follow`, the stream keeps going: it waits for the files to change (`watch`) and
//! reads what is new, until asked to [`Stop`]. Idle, it sleeps on file notifications.

mod catch_up;
mod stop;
mod watch;

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use thiserror::Error;

pub use stop::{Stop, StopReason};
pub use watch::{Applied, Follow, Nudge, SAFETY_POLL};

use crate::dispatch::{Cut, CutState, Passed, Pipeline, PluginCut};
use crate::ingest::position::Cursor;
use crate::ingest::{DevloopDirs, Feed, MalformedRecord};
use crate::model::Fingerprint;
use crate::routing::RoutingConfig;
use crate::sinks::{self, SinkError};
use crate::store::{Change, Checkpoint, Cursors, PluginSnapshot, Reported, Store, StoreError};

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
/// (hot swap); `after_round` gets it each time the stream has caught up and everything found
/// so far is committed (once without `follow`), to take what was found
/// ([`Pipeline::take_findings`]). An `after_round` whose output was closed
/// (`BrokenPipe`) stops the run cleanly; another error ends it.
pub struct Hooks<'a> {
    pub between_batches: &'a mut dyn FnMut(&mut Pipeline),
    pub after_round: &'a mut dyn FnMut(&mut Pipeline) -> std::io::Result<()>,
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
    let mut feed = Feed::new(dirs.readers());
    let cursors = store.cursors()?;
    feed.resume(&parse_cursors(&cursors));
    let mut progress = Progress::new(store, routing, options, cursors.into_iter().collect());
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
            let batch = feed.next_batch(options.batch_size).map_err(StreamError::Read)?;
            let malformed = feed.take_malformed();
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
                progress.cut(pipeline, &mut feed, false);
            }
            progress.commit_passed(pipeline)?;
            progress.detach_the_full(pipeline, &mut feed);
        }
        progress.checkpoint(pipeline, &mut feed)?;
        if progress.has_undelivered() {
            summary.changes += progress.deliver()?;
        }
        progress.catch_up(dirs, pipeline, options.batch_size, stop, watcher.is_some())?;
        if progress.has_undelivered() {
            summary.changes += progress.deliver()?;
        }
        summary.late = feed.late_events();
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
        if pipeline.detached().is_empty() {
            // A change to the plugins that waited while a plugin left behind was at work is
            // applied before the run sleeps: nothing would wake it for that change again.
            (hooks.between_batches)(pipeline);
            watcher.wait_for_change();
        }
        feed.next_round();
    }
    progress.checkpoint(pipeline, &mut feed)?;
    progress.catch_up(dirs, pipeline, options.batch_size, stop, false)?;
    // Once per run at least, for what an earlier run left queued for beads.
    if progress.has_undelivered() || !progress.delivered_once {
        summary.changes += progress.deliver()?;
    }
    summary.late = feed.late_events();
    summary.stopped = stop.requested();
    Ok(summary)
}

/// Stored cursors, read back; one that cannot be read is left out (its file is read from the
/// start).
fn parse_cursors<'a>(stored: impl IntoIterator<Item = (&'a String, &'a String)>) -> HashMap<String, Cursor> {
    let mut cursors = HashMap::new();
    for (slot, text) in stored {
        match serde_json::from_str(text) {
            Ok(cursor) => {
                cursors.insert(slot.clone(), cursor);
            }
            Err(error) => tracing::warn!(slot, "stored position unreadable ({error}); reading the file from the start"),
        }
    }
    cursors
}

/// The cursors `feed` moved since it last said, as stored.
fn moved_cursors(feed: &mut Feed) -> Vec<(String, String)> {
    feed.checkpoint()
        .into_iter()
        .filter_map(|(slot, cursor)| serde_json::to_string(&cursor).ok().map(|text| (slot, text)))
        .collect()
}

/// A checkpoint marked in the pipeline ([`Pipeline::cut`]) and not committed yet: where the
/// stream stood there.
struct Marked {
    seq: u64,
    /// The cursors that moved since the checkpoint before.
    cursors: Vec<(String, String)>,
    /// Every cursor there.
    all: Cursors,
    delivered: Vec<(u64, i64)>,
}

/// Where the stream stood at a cut a detached plugin gets to later.
enum Place {
    /// At these cursors: its own from then on.
    At(Cursors),
    /// Where the others are: it caught up and joins them.
    WithTheOthers,
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
    /// Every cursor as last committed for the plugins fed together.
    shared: Cursors,
    /// Every cursor at the latest checkpoint marked.
    latest: Cursors,
    /// Cuts a detached plugin may still get to, by number.
    places: HashMap<u64, Place>,
    /// The own cursors of each detector behind the others, as committed.
    behind: HashMap<String, Cursors>,
    /// The own cursors of each detector behind the others that this run did not load.
    absent: HashMap<String, Cursors>,
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
    fn new(store: &'a mut Store, routing: &'a RoutingConfig, options: &Options, shared: Cursors) -> Self {
        Progress {
            latest: shared.clone(),
            shared,
            places: HashMap::new(),
            behind: HashMap::new(),
            absent: HashMap::new(),
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

    /// Hands every detector the state the last checkpoint holds for it, and detaches those
    /// the store says are behind the others, to catch up once the stream has. A detector behind
    /// that this run does not load keeps its place for a run that does.
    fn restore(&mut self, pipeline: &mut Pipeline) -> Result<(), StoreError> {
        let loaded: HashSet<String> = pipeline.plugins().iter().map(|plugin| plugin.id().to_owned()).collect();
        (self.behind, self.absent) = self.store.behind()?.into_iter().partition(|(plugin, _)| loaded.contains(plugin));
        for plugin in self.behind.keys() {
            tracing::info!(plugin, "the detector is behind the others; it catches up once they have");
            pipeline.detach(plugin);
        }
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
    /// [`Progress::commit_passed`] commits it once every one fed together has run them. The
    /// states are saved if any event was delivered since the last, or `save` says so.
    fn cut(&mut self, pipeline: &mut Pipeline, feed: &mut Feed, save: bool) {
        let cursors = moved_cursors(feed);
        self.latest.extend(cursors.iter().cloned());
        let seq = pipeline.cut(save || self.events_since > 0);
        let delivered = std::mem::take(&mut self.delivered);
        self.marked.push_back(Marked { seq, cursors, all: self.latest.clone(), delivered });
        self.events_since = 0;
        self.since = Instant::now();
    }

    /// Detaches every plugin whose queue is full, after a checkpoint marked where the stream
    /// stands: what it was given ends there.
    fn detach_the_full(&mut self, pipeline: &mut Pipeline, feed: &mut Feed) {
        let full = pipeline.full();
        if full.is_empty() {
            return;
        }
        self.cut(pipeline, feed, true);
        for plugin in full {
            tracing::info!(
                plugin,
                "the detector is slower than the feed; the others go on, it catches up once they have"
            );
            pipeline.detach(&plugin);
        }
    }

    /// Commits every marked checkpoint that every plugin fed together has passed, and every
    /// part of one a detached plugin got to; never waits.
    fn commit_passed(&mut self, pipeline: &mut Pipeline) -> Result<(), StreamError> {
        while let Some(passed) = pipeline.take_passed() {
            self.commit_one(passed, pipeline)?;
        }
        Ok(())
    }

    fn commit_one(&mut self, passed: Passed, pipeline: &Pipeline) -> Result<(), StreamError> {
        match passed {
            Passed::Cut(cut) => {
                let marked = self.marked.pop_front().expect("the run marks every cut of its pipeline");
                debug_assert_eq!(marked.seq, cut.seq, "cuts are passed in the order they are marked");
                self.commit(marked, cut, pipeline)
            }
            Passed::Behind(part) => self.commit_behind(part),
        }
    }

    /// Marks a checkpoint after the events delivered so far and commits it, with any marked
    /// before, each as soon as every plugin fed together has passed it (the detached ones
    /// are not waited for).
    fn checkpoint(&mut self, pipeline: &mut Pipeline, feed: &mut Feed) -> Result<(), StreamError> {
        self.cut(pipeline, feed, false);
        while let Some(passed) = pipeline.next_passed() {
            self.commit_one(passed, pipeline)?;
        }
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
    fn commit(&mut self, marked: Marked, cut: Cut, pipeline: &Pipeline) -> Result<(), StreamError> {
        // A detector removed (by a hot swap) while behind keeps its own place, as one this run
        // never loaded does, for the next run that loads it to catch it up: not being among
        // the cut's detached plugins does not mean it got there.
        let unloaded: Vec<String> = self.behind.keys().filter(|plugin| !pipeline.is_loaded(plugin)).cloned().collect();
        for plugin in unloaded {
            if let Some(own) = self.behind.remove(&plugin) {
                self.absent.insert(plugin, own);
            }
        }
        // A detector behind that got to this checkpoint is where the others are; one that was
        // at the shared cursors and has not got to it stays where the shared cursors were.
        let caught_up: Vec<String> =
            self.behind.keys().filter(|plugin| !cut.behind.contains(plugin)).cloned().collect();
        let mut behind = Vec::new();
        for plugin in caught_up {
            self.behind.remove(&plugin);
            behind.push((plugin, None));
        }
        // Loaded since the run began (a hot swap) and committed here with the others.
        for CutState { plugin, state, .. } in &cut.states {
            if state.is_ok() && self.absent.remove(plugin).is_some() {
                behind.push((plugin.clone(), None));
            }
        }
        for plugin in &cut.behind {
            if !self.behind.contains_key(plugin) {
                self.behind.insert(plugin.clone(), self.shared.clone());
                behind.push((plugin.clone(), Some(self.shared.clone())));
            }
        }
        if !cut.behind.is_empty() {
            self.places.insert(cut.seq, Place::At(marked.all.clone()));
        }
        self.shared = marked.all;
        let checkpoint = Checkpoint {
            cursors: marked.cursors,
            delivered: marked.delivered,
            snapshots: self.changed_snapshots(cut.states),
            findings: self.reported(cut.reported),
            behind,
        };
        self.write(checkpoint)
    }

    /// Commits a detached detector's state at a cut with the cursors there as its own, or, at
    /// the cut where it caught up, with none of its own.
    fn commit_behind(&mut self, part: PluginCut) -> Result<(), StreamError> {
        let own = match self.places.get(&part.seq) {
            Some(Place::At(cursors)) => Some(cursors.clone()),
            Some(Place::WithTheOthers) => None,
            None => unreachable!("a detached plugin gets only to cuts marked with their place"),
        };
        match &own {
            Some(cursors) => self.behind.insert(part.plugin.clone(), cursors.clone()),
            None => self.behind.remove(&part.plugin),
        };
        let checkpoint = Checkpoint {
            snapshots: self.changed_snapshots(part.state.into_iter().collect()),
            findings: self.reported(part.reported),
            behind: vec![(part.plugin, own)],
            ..Checkpoint::default()
        };
        self.write(checkpoint)
    }

    fn reported(&mut self, reported: Vec<crate::dispatch::Reports>) -> Vec<Reported> {
        reported
            .into_iter()
            .map(|reports| Reported {
                first_in_run: self.recorded.insert(reports.latest.fingerprint()),
                insight: reports.latest,
                occurrences: reports.occurrences,
            })
            .collect()
    }

    fn write(&mut self, checkpoint: Checkpoint) -> Result<(), StreamError> {
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
            behind = ?checkpoint.behind.iter().map(|(plugin, own)| (plugin, own.is_some())).collect::<Vec<_>>(),
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
