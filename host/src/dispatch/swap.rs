//! Switching a plugin to a new version between two batches.
//!
//! The expensive part of a swap (reading, compiling, checking and starting the new version)
//! happens elsewhere, on a worker thread (see [`crate::hotswap`]); what reaches
//! [`Pipeline::apply`] is a started instance or the reason there is none. Applying it only
//! moves state from the old instance to the new one and replaces a slot, so it happens between
//! two batches: every batch is processed by exactly one version, whole.
//!
//! A new version that cannot take over never replaces a working one: a different detector in
//! the same file, an id another file already has, or a trap while restoring the old state all
//! leave the old version running and are reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::Instant;

use super::PluginStatus;
use super::{Pipeline, PluginProblem};
use crate::detectors::BUNDLED_ORIGIN_PREFIX;
use crate::runtime::{LoadError, PluginHealth, Supervisor, namespace};

/// Something happened to a file in the plugins folder, already compiled and checked.
pub enum PluginChange {
    /// A new or changed file holds a detector that started and is ready to take over.
    Ready {
        file: PathBuf,
        candidate: Box<Supervisor>,
        /// When the watcher first saw the file change.
        noticed: Instant,
        /// Where the version it replaces goes to be dropped off the event path (tearing down
        /// an instance's memory takes longer than the rest of a swap); `None` drops it here.
        disposal: Option<Sender<Supervisor>>,
    },
    /// A new or changed file cannot be loaded.
    Rejected { file: PathBuf, error: LoadError },
    /// The file is gone.
    Removed { file: PathBuf },
}

impl std::fmt::Debug for PluginChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginChange::Ready { file, candidate, .. } => f
                .debug_struct("Ready")
                .field("file", file)
                .field("id", &candidate.id())
                .field("version", &candidate.description().version)
                .finish(),
            PluginChange::Rejected { file, error } => {
                f.debug_struct("Rejected").field("file", file).field("error", &error.to_string()).finish()
            }
            PluginChange::Removed { file } => f.debug_struct("Removed").field("file", file).finish(),
        }
    }
}

/// How the new version got its state.
#[derive(Debug, Clone, PartialEq)]
pub enum Handover {
    /// The old version's snapshot was restored into the new one.
    Restored { bytes: usize },
    /// The new version started with empty state, for this reason.
    Fresh { reason: String },
}

impl std::fmt::Display for Handover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Handover::Restored { bytes } => write!(f, "state handed over ({bytes} bytes)"),
            Handover::Fresh { reason } => write!(f, "started with fresh state: {reason}"),
        }
    }
}

/// What [`Pipeline::apply`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum SwapOutcome {
    Added {
        id: String,
        version: String,
    },
    Swapped {
        id: String,
        from: String,
        to: String,
        handover: Handover,
    },
    /// The change was refused; whatever ran from this file before still runs.
    Rejected {
        file: PathBuf,
        reason: String,
    },
    Removed {
        id: String,
    },
    /// A file that was never loaded went away.
    NotLoaded {
        file: PathBuf,
    },
}

impl std::fmt::Display for SwapOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SwapOutcome::Added { id, version } => write!(f, "plugin {id} {version} added"),
            SwapOutcome::Swapped { id, from, to, handover } => {
                write!(f, "plugin {id} swapped from {from} to {to}; {handover}")
            }
            SwapOutcome::Rejected { file, reason } => write!(f, "{reason}; {} not swapped", file.display()),
            SwapOutcome::Removed { id } => write!(f, "plugin {id} removed"),
            SwapOutcome::NotLoaded { file } => write!(f, "{} removed; it was not loaded", file.display()),
        }
    }
}

/// What earlier versions of each detector did, and the latest refusal per file.
#[derive(Default)]
pub(super) struct Lineage {
    retired: BTreeMap<String, Retired>,
    rejections: BTreeMap<PathBuf, String>,
}

#[derive(Default)]
struct Retired {
    health: PluginHealth,
    swaps: u32,
    last_handover: Option<String>,
}

/// Sets the counters of `status` to those of the running version's `health` plus those of the
/// versions it replaced.
fn count_into(status: &mut PluginStatus, health: PluginHealth, retired: Option<&Retired>) {
    let mut total = health;
    if let Some(retired) = retired {
        let current_failure = total.last_failure.take();
        accumulate(&mut total, &retired.health);
        if current_failure.is_some() {
            total.last_failure = current_failure;
        }
    }
    status.events_seen = total.events_seen;
    status.insights_emitted = total.insights_emitted;
    status.time_spent_us = u64::try_from(total.time_spent.as_micros()).unwrap_or(u64::MAX);
    status.cpu_time_us = u64::try_from(total.cpu_time.as_micros()).unwrap_or(u64::MAX);
    status.failures = total.failures;
    status.detector_errors = total.detector_errors;
    status.quarantined = total.quarantined;
    status.quarantine_reason = total.quarantine_reason;
    status.last_failure = total.last_failure;
    status.undeclared_rejected = total.undeclared_rejected;
    status.log_records_dropped = total.log_records_dropped;
}

/// Adds a retired version's counters to the running total.
fn accumulate(total: &mut PluginHealth, retired: &PluginHealth) {
    total.events_seen += retired.events_seen;
    total.insights_emitted += retired.insights_emitted;
    total.time_spent += retired.time_spent;
    total.cpu_time += retired.cpu_time;
    total.failures += retired.failures;
    total.detector_errors += retired.detector_errors;
    total.undeclared_rejected += retired.undeclared_rejected;
    total.log_records_dropped += retired.log_records_dropped;
    if retired.last_failure.is_some() {
        total.last_failure.clone_from(&retired.last_failure);
    }
}

impl Pipeline<'_> {
    /// Applies one change between two batches, once every batch given so far has run, and
    /// reports what it did.
    pub fn apply(&mut self, change: PluginChange) -> SwapOutcome {
        self.settle();
        let outcome = match change {
            PluginChange::Ready { file, candidate, noticed, disposal } => {
                let outcome = self.take_over(&file, *candidate, disposal);
                tracing::debug!(file = %file.display(), elapsed = ?noticed.elapsed(), "change applied");
                outcome
            }
            PluginChange::Rejected { file, error } => self.reject(&file, error.to_string()),
            PluginChange::Removed { file } => match self.slot_of(&file) {
                Some(index) => {
                    let old = self.plugins.remove(index);
                    self.lineage.retired.remove(old.id());
                    self.lineage.rejections.remove(&file);
                    SwapOutcome::Removed { id: old.id().to_owned() }
                }
                None => {
                    self.lineage.rejections.remove(&file);
                    SwapOutcome::NotLoaded { file }
                }
            },
        };
        match &outcome {
            SwapOutcome::Rejected { .. } => tracing::warn!("{outcome}"),
            _ => tracing::info!("{outcome}"),
        }
        outcome
    }

    fn slot_of(&self, file: &Path) -> Option<usize> {
        let origin = file.display().to_string();
        self.plugins.iter().position(|plugin| plugin.compiled().origin == origin)
    }

    fn reject(&mut self, file: &Path, reason: String) -> SwapOutcome {
        self.problems.push(PluginProblem { plugin: file.display().to_string(), batch: None, problem: reason.clone() });
        self.lineage.rejections.insert(file.to_owned(), reason.clone());
        SwapOutcome::Rejected { file: file.to_owned(), reason }
    }

    fn take_over(
        &mut self,
        file: &Path,
        mut candidate: Supervisor,
        disposal: Option<Sender<Supervisor>>,
    ) -> SwapOutcome {
        let id = candidate.id().to_owned();
        // A file in the plugins folder overrides the bundled detector with its id; any other
        // plugin holding its id or one of its patterns keeps them.
        let bundled = |plugin: &Supervisor| plugin.compiled().origin.starts_with(BUNDLED_ORIGIN_PREFIX);
        let origin = file.display().to_string();
        let others = self
            .plugins
            .iter()
            .filter(|plugin| plugin.compiled().origin != origin && !(plugin.id() == id && bundled(plugin)))
            .map(|plugin| (plugin.compiled().origin.as_str(), plugin.description()));
        if let Err(conflict) = namespace::check(&origin, candidate.description(), others) {
            return self.reject(file, conflict.to_string());
        }
        let overridden = || self.plugins.iter().position(|plugin| plugin.id() == id && bundled(plugin));
        let Some(index) = self.slot_of(file).or_else(overridden) else {
            let version = candidate.description().version.clone();
            self.plugins.push(candidate);
            self.lineage.rejections.remove(file);
            return SwapOutcome::Added { id, version };
        };
        let old_id = self.plugins[index].id().to_owned();
        if old_id != id {
            let reason = format!(
                "{} now holds detector `{id}` but `{old_id}` runs from it; to replace one detector by \
                 another, remove the file and add the new one under its own name",
                file.display()
            );
            return self.reject(file, reason);
        }
        let handover = match hand_over(&mut self.plugins[index], &mut candidate) {
            Ok(handover) => handover,
            Err(reason) => return self.reject(file, reason),
        };
        let old = std::mem::replace(&mut self.plugins[index], candidate);
        let from = old.description().version.clone();
        let to = self.plugins[index].description().version.clone();
        let retired = self.lineage.retired.entry(id.clone()).or_default();
        accumulate(&mut retired.health, old.health());
        retired.swaps += 1;
        retired.last_handover = Some(handover.to_string());
        self.lineage.rejections.remove(file);
        if let Some(disposal) = disposal {
            // A closed channel hands the version back, and it is dropped here instead.
            let _ = disposal.send(old);
        }
        if let Handover::Fresh { reason } = &handover {
            tracing::warn!(plugin = id, "new version {to} starts with fresh state: {reason}");
        }
        SwapOutcome::Swapped { id, from, to, handover }
    }

    /// Every loaded plugin's status, with counters summed over all its versions: as of the
    /// last batch each plugin has run while they are lent to their workers (see
    /// [`Pipeline::submit`]), and how far behind the others each one left behind is.
    pub fn statuses(&self) -> Vec<PluginStatus> {
        let mut statuses = match self.lanes {
            Some(_) => self.lent_statuses.clone(),
            None => self.statuses_here(),
        };
        for (status, progress) in statuses.iter_mut().zip(self.progress()) {
            status.lagging = progress.detached.then_some(progress.behind as u64);
        }
        statuses
    }

    fn statuses_here(&self) -> Vec<PluginStatus> {
        self.plugins
            .iter()
            .map(|plugin| {
                let retired = self.lineage.retired.get(plugin.id());
                let description = plugin.description();
                let mut status = PluginStatus {
                    id: description.id.clone(),
                    file: PathBuf::from(&plugin.compiled().origin),
                    version: description.version.clone(),
                    api_version: plugin.compiled().api_version.to_string(),
                    language: description.language.clone(),
                    content_hash: plugin.compiled().content_hash.clone(),
                    events_seen: 0,
                    insights_emitted: 0,
                    time_spent_us: 0,
                    cpu_time_us: 0,
                    failures: 0,
                    detector_errors: 0,
                    quarantined: false,
                    quarantine_reason: None,
                    last_failure: None,
                    undeclared_rejected: 0,
                    log_records_dropped: 0,
                    swaps: retired.map_or(0, |retired| retired.swaps),
                    last_handover: retired.and_then(|retired| retired.last_handover.clone()),
                    rejected: self.lineage.rejections.get(Path::new(&plugin.compiled().origin)).cloned(),
                    lagging: None,
                };
                count_into(&mut status, plugin.health().clone(), retired);
                status
            })
            .collect()
    }

    /// Brings the counters of a lent plugin's status to `health`, its health after a batch.
    pub(super) fn refresh_lent_status(&mut self, index: usize, health: PluginHealth) {
        let status = &mut self.lent_statuses[index];
        count_into(status, health, self.lineage.retired.get(&status.id));
    }

    /// Files whose latest version was refused and that run no earlier version either.
    pub fn rejected_files(&self) -> Vec<(PathBuf, String)> {
        let running: Vec<PathBuf> = self.statuses().into_iter().map(|status| status.file).collect();
        self.lineage
            .rejections
            .iter()
            .filter(|(file, _)| !running.contains(file))
            .map(|(file, reason)| (file.clone(), reason.clone()))
            .collect()
    }
}

/// Moves the old version's state into the candidate. `Err` means the candidate is broken.
fn hand_over(old: &mut Supervisor, candidate: &mut Supervisor) -> Result<Handover, String> {
    let version = candidate.description().version.clone();
    if old.instance_mut().is_none() {
        return Ok(Handover::Fresh { reason: "the running version was stopped after a failure".to_owned() });
    }
    let state = match old.snapshot() {
        Ok(Some(state)) => state,
        Ok(None) => return Ok(Handover::Fresh { reason: "the running version does not hand over state".to_owned() }),
        Err(failure) => {
            return Ok(Handover::Fresh { reason: format!("the running version failed to save its state: {failure}") });
        }
    };
    if candidate.instance_mut().is_none() {
        return Err(format!("version {version} has no live instance"));
    }
    match candidate.restore(&state) {
        Ok(Ok(())) => Ok(Handover::Restored { bytes: state.len() }),
        Ok(Err(message)) => {
            Ok(Handover::Fresh { reason: format!("version {version} did not take the state: {message}") })
        }
        Err(failure) => Err(format!("version {version} {failure} while taking over the running version's state")),
    }
}
