//! Feeding devloop's logs to the detectors with checkpoints: what `devloop-host run` does
//! between loading the plugins and printing the findings.
//!
//! Each batch goes through every detector, then the state database records, in one
//! transaction, where every source now stands and every detector's state; a new run (or the
//! same one after a crash) restores both and goes on from there. With `follow`, the stream
//! keeps going: it waits for the files to change ([`watch`]) and reads what is new.

mod watch;

use std::collections::HashMap;

use thiserror::Error;

use crate::dispatch::Pipeline;
use crate::ingest::position::Cursor;
use crate::ingest::{DevloopDirs, MalformedRecord, Stream};
use crate::state::{Checkpoint, PluginSnapshot, StateDb, StateError};

#[derive(Debug, Error)]
pub enum StreamError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot read devloop's logs")]
    Read(#[source] std::io::Error),
    #[error(
        "{count} malformed record(s), first at {first} (--strict); fix or remove the record, or run without --strict"
    )]
    Strict { count: usize, first: MalformedRecord },
    #[error("cannot watch {path} for changes (--follow)")]
    Watch { path: String, source: notify::Error },
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
    /// Keep reading as the files grow, until the process is stopped.
    pub follow: bool,
    /// Record the id of every delivered event in the state database (for crash tests).
    pub trace_delivered: bool,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub events: u64,
    pub late: u64,
    pub malformed: Vec<MalformedRecord>,
}

fn stored_cursors(state: &StateDb) -> Result<HashMap<String, Cursor>, StateError> {
    let mut cursors = HashMap::new();
    for (slot, text) in state.cursors()? {
        match serde_json::from_str(&text) {
            Ok(cursor) => {
                cursors.insert(slot, cursor);
            }
            Err(error) => tracing::warn!(slot, "stored position unreadable ({error}); reading the file from the start"),
        }
    }
    Ok(cursors)
}

fn restore_plugins(pipeline: &mut Pipeline, state: &StateDb) -> Result<(), StateError> {
    let snapshots = state.snapshots()?;
    for supervisor in pipeline.plugins_mut() {
        let id = supervisor.id().to_owned();
        let Some(snapshot) = snapshots.get(&id) else { continue };
        match supervisor.restore(&snapshot.state) {
            Ok(Ok(())) => {
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

fn plugin_snapshots(pipeline: &mut Pipeline) -> Vec<(String, PluginSnapshot)> {
    let mut snapshots = Vec::new();
    for supervisor in pipeline.plugins_mut() {
        let id = supervisor.id().to_owned();
        let version = supervisor.description().version.clone();
        match supervisor.snapshot() {
            Ok(Some(state)) => snapshots.push((id, PluginSnapshot { version, state })),
            Ok(None) => {}
            Err(failure) => tracing::warn!(plugin = id, "could not save the detector's state: {failure}"),
        }
    }
    snapshots
}

/// Runs the stream from where `state` says through `pipeline`; `between_batches` may change
/// the pipeline before each batch (hot swap), `after_round` sees it each time the stream has
/// caught up (once without `follow`).
pub fn run(
    dirs: &DevloopDirs,
    pipeline: &mut Pipeline,
    state: &mut StateDb,
    options: &Options,
    mut between_batches: impl FnMut(&mut Pipeline),
    mut after_round: impl FnMut(&Pipeline),
) -> Result<Summary, StreamError> {
    if options.from_start {
        state.reset()?;
    }
    restore_plugins(pipeline, state)?;
    let mut stream = Stream::new(dirs.readers());
    stream.resume(&stored_cursors(state)?);
    let watcher = if options.follow { Some(watch::Watcher::new(dirs)?) } else { None };
    let mut summary = Summary::default();
    loop {
        loop {
            between_batches(pipeline);
            let batch = stream.next_batch(options.batch_size).map_err(StreamError::Read)?;
            let malformed = stream.take_malformed();
            for record in &malformed {
                tracing::warn!("{record}");
            }
            if options.strict && !malformed.is_empty() {
                return Err(StreamError::Strict { count: malformed.len(), first: malformed[0].clone() });
            }
            summary.malformed.extend(malformed);
            let mut checkpoint = Checkpoint::default();
            if !batch.is_empty() {
                pipeline.feed(&batch);
                summary.events += batch.len() as u64;
                checkpoint.snapshots = plugin_snapshots(pipeline);
                if options.trace_delivered {
                    checkpoint.delivered = batch.iter().map(|event| (event.id, event.time_ms)).collect();
                }
            }
            checkpoint.cursors = stream
                .checkpoint()
                .into_iter()
                .filter_map(|(slot, cursor)| serde_json::to_string(&cursor).ok().map(|text| (slot, text)))
                .collect();
            if !checkpoint.cursors.is_empty() || !checkpoint.snapshots.is_empty() || !checkpoint.delivered.is_empty() {
                state.commit(&checkpoint)?;
            }
            if batch.is_empty() {
                break;
            }
        }
        summary.late = stream.late_events();
        tracing::info!(events = summary.events, late = summary.late, malformed = summary.malformed.len(), "caught up");
        after_round(pipeline);
        let Some(watcher) = &watcher else { break };
        watcher.wait_for_change();
        stream.next_round();
    }
    Ok(summary)
}
