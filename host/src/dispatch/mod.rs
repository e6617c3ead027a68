//! Feeding the ordered event stream to every loaded detector in batches, and collecting what
//! comes back, so that one plugin's failure is reported and never stops the others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod swap;
mod worker;

pub use swap::{Handover, PluginChange, SwapOutcome};

use crate::hotswap::PluginStatus;
use crate::model::{Event, Field, Fingerprint, Insight, Occurrences};
use crate::runtime::{BatchOutcome, LoadError, PluginSource, Runtime, Supervisor, WitEvents, namespace};
use worker::{SharedBatch, Worker};

/// Events per call by default: big enough that the fixed cost of crossing into the sandbox is
/// noise, small enough that a deadline covers one call comfortably.
pub const DEFAULT_BATCH_SIZE: usize = 1024;

/// Something went wrong in one plugin; the run went on.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginProblem {
    /// The detector id, or the file when it never started.
    pub plugin: String,
    /// The batch it happened in: its first event id and size (none for load problems).
    pub batch: Option<(u64, usize)>,
    pub problem: String,
}

impl std::fmt::Display for PluginProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.batch {
            Some((first, size)) => write!(
                f,
                "plugin {}: {} (batch of {size} events from event {first:016x} not processed by it)",
                self.plugin, self.problem
            ),
            None => write!(f, "plugin {}: {}", self.plugin, self.problem),
        }
    }
}

/// What the detectors reported about one finding over some batches.
#[derive(Debug, Clone, PartialEq)]
pub struct Reports {
    /// The latest report.
    pub latest: Insight,
    /// The evidence of every report: a finding reported twice with different evidence has the
    /// evidence of both.
    pub occurrences: Occurrences,
}

impl Reports {
    fn add(reports: &mut BTreeMap<Fingerprint, Reports>, insight: &Insight) {
        let entry = reports
            .entry(insight.fingerprint())
            .or_insert_with(|| Reports { latest: insight.clone(), occurrences: Occurrences::default() });
        entry.occurrences.add(insight);
        entry.latest = insight.clone();
    }
}

/// The `.wasm` files in a plugins folder, in name order.
pub fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

/// The user's settings for the detector `source` holds, found by its detector id (whatever the
/// file is called), which a settings-free instance tells.
pub fn settings_for(
    runtime: &Runtime,
    source: &PluginSource,
    settings: &BTreeMap<String, Vec<Field>>,
) -> Result<Vec<Field>, LoadError> {
    if settings.is_empty() {
        return Ok(Vec::new());
    }
    let instance = runtime.instantiate(source, &[])?;
    Ok(settings.get(&instance.description().id).cloned().unwrap_or_default())
}

/// Every loaded detector, fed batch by batch.
///
/// Each plugin runs on a long-lived worker of its own ([`worker`]). Between
/// [`Pipeline::submit`] and [`Pipeline::settle`] the plugins are lent to their workers and
/// run ahead of each other as far as their queues allow; whatever needs the plugins themselves
/// (their state, a swap, the findings of the latest batches) settles first. What they report
/// is recorded at a settle in batch order, then plugin order, so a run's output does not depend
/// on scheduling.
pub struct Pipeline<'runtime> {
    runtime: &'runtime Runtime,
    /// The plugins, while none is lent to its worker.
    plugins: Vec<Supervisor>,
    workers: Vec<Worker>,
    /// The batches (first event id, size) queued since the plugins were lent; `None` while
    /// they are here.
    in_flight: Option<Vec<(u64, usize)>>,
    /// What the plugins looked like when they were lent, for [`Pipeline::statuses`] meanwhile.
    lent_statuses: Vec<PluginStatus>,
    batch_size: usize,
    problems: Vec<PluginProblem>,
    /// Every finding reported in this run.
    findings: BTreeMap<Fingerprint, Reports>,
    /// Findings reported since the last [`Pipeline::take_reported`], for the next checkpoint.
    reported: BTreeMap<Fingerprint, Reports>,
    events_processed: usize,
    lineage: swap::Lineage,
}

impl<'runtime> Pipeline<'runtime> {
    pub fn new(runtime: &'runtime Runtime, batch_size: usize) -> Self {
        Pipeline {
            runtime,
            plugins: Vec::new(),
            workers: Vec::new(),
            in_flight: None,
            lent_statuses: Vec::new(),
            batch_size: batch_size.max(1),
            problems: Vec::new(),
            findings: BTreeMap::new(),
            reported: BTreeMap::new(),
            events_processed: 0,
            lineage: swap::Lineage::default(),
        }
    }

    /// Loads a plugin file; a plugin that cannot load, or claims the id or a pattern of one
    /// already loaded, is reported and left out.
    pub fn load(&mut self, path: &Path, settings: &BTreeMap<String, Vec<Field>>) -> Result<&Supervisor, LoadError> {
        let result = self.runtime.load_file(path).and_then(|source| {
            let settings = settings_for(self.runtime, &source, settings)?;
            Supervisor::start(self.runtime, source, settings)
        });
        self.admit(&path.display().to_string(), result)
    }

    /// Starts an already compiled plugin (a bundled one) with its settings; one that cannot
    /// start is reported and left out.
    pub fn start(&mut self, source: PluginSource, settings: Vec<Field>) -> Result<&Supervisor, LoadError> {
        let origin = source.origin.clone();
        let result = Supervisor::start(self.runtime, source, settings);
        self.admit(&origin, result)
    }

    /// Admits a started plugin unless its id or a pattern it declares is already taken.
    fn admit(&mut self, origin: &str, result: Result<Supervisor, LoadError>) -> Result<&Supervisor, LoadError> {
        self.settle();
        let result = result.and_then(|supervisor| {
            let loaded = self.plugins.iter().map(|plugin| (plugin.source().origin.as_str(), plugin.description()));
            namespace::check(&supervisor.source().origin, supervisor.description(), loaded)
                .map_err(|conflict| LoadError::Conflict(Box::new(conflict)))?;
            Ok(supervisor)
        });
        match result {
            Ok(supervisor) => {
                tracing::info!(
                    plugin = supervisor.id(),
                    version = supervisor.description().version,
                    api = %supervisor.source().api_version,
                    "loaded {origin}"
                );
                self.plugins.push(supervisor);
                Ok(self.plugins.last().expect("just pushed"))
            }
            Err(error) => {
                let problem = PluginProblem { plugin: origin.to_owned(), batch: None, problem: error.to_string() };
                tracing::error!("{problem}");
                self.problems.push(problem);
                Err(error)
            }
        }
    }

    /// Loads every `.wasm` in `dir`.
    pub fn load_dir(&mut self, dir: &Path, settings: &BTreeMap<String, Vec<Field>>) -> std::io::Result<()> {
        for file in plugin_files(dir)? {
            let _ = self.load(&file, settings);
        }
        Ok(())
    }

    /// The plugins, once every batch given so far has run.
    pub fn plugins(&mut self) -> &[Supervisor] {
        self.settle();
        &self.plugins
    }

    /// The plugins, to hand their state over (snapshot and restore), once every batch given
    /// so far has run.
    pub fn plugins_mut(&mut self) -> &mut [Supervisor] {
        self.settle();
        &mut self.plugins
    }

    /// Feeds `events` (in event-time order) in batches, advancing each detector's clock to
    /// the last event of every batch, and waits until every plugin has processed them.
    pub fn feed(&mut self, events: &[Event]) {
        self.submit(events);
        self.settle();
    }

    /// Gives `events` (in event-time order) to every plugin's worker in batches, advancing
    /// each detector's clock to the last event of every batch, without waiting for the plugins
    /// to process them; it waits only for a plugin [`worker::QUEUE_DEPTH`] batches behind.
    pub fn submit(&mut self, events: &[Event]) {
        if self.plugins.is_empty() && self.in_flight.is_none() {
            self.events_processed += events.len();
            return;
        }
        let lent = self.lend();
        for batch in events.chunks(self.batch_size) {
            let shared = Arc::new(SharedBatch {
                events: WitEvents::new(batch),
                now_ms: batch.last().map_or(0, |event| event.time_ms),
            });
            let first = batch.first().map_or(0, |event| event.id);
            if !lent {
                for index in 0..self.plugins.len() {
                    let report = worker::run(&mut self.plugins[index], &shared);
                    self.record_report(index, report, (first, batch.len()));
                }
                self.events_processed += batch.len();
                continue;
            }
            for worker in &mut self.workers {
                worker.queue(shared.clone());
            }
            self.in_flight.get_or_insert_with(Vec::new).push((first, batch.len()));
        }
    }

    /// Lends every plugin to its worker, unless they are lent already; `false` when the
    /// workers cannot be started, and the plugins run here, one after another.
    fn lend(&mut self) -> bool {
        if self.in_flight.is_some() {
            return true;
        }
        while self.workers.len() < self.plugins.len() {
            match Worker::spawn(self.workers.len()) {
                Ok(worker) => self.workers.push(worker),
                Err(error) => {
                    tracing::warn!("cannot start the plugin workers ({error}); plugins run one after another");
                    return false;
                }
            }
        }
        self.lent_statuses = self.statuses();
        self.workers.truncate(self.plugins.len());
        for (worker, plugin) in self.workers.iter_mut().zip(self.plugins.drain(..)) {
            worker.lend(plugin);
        }
        self.in_flight = Some(Vec::new());
        true
    }

    /// Waits until every plugin has processed every batch given to it, takes the plugins back,
    /// and records what they reported.
    pub fn settle(&mut self) {
        let Some(batches) = self.in_flight.take() else { return };
        for worker in &mut self.workers {
            worker.ask_back();
        }
        let mut reports = Vec::with_capacity(self.workers.len());
        for worker in &mut self.workers {
            let returned = worker.take_back();
            self.plugins.push(*returned.supervisor);
            reports.push(returned.reports.into_iter());
        }
        for batch in batches {
            for (index, plugin_reports) in reports.iter_mut().enumerate() {
                let report = plugin_reports.next().expect("a worker reports on every batch it was given");
                self.record_report(index, report, batch);
            }
            self.events_processed += batch.1;
        }
    }

    fn record_report(&mut self, index: usize, report: worker::Report, batch: (u64, usize)) {
        self.report_notices(index, report.notices);
        self.record(index, report.processed, Some(batch), report.quarantined);
        self.record(index, report.ticked, None, report.quarantined);
    }

    /// Tells every detector that event time has reached `now_ms` with no further events, so
    /// timers due by then fire (the end of a replay, an idle follow).
    pub fn tick(&mut self, now_ms: i64) {
        self.settle();
        for index in 0..self.plugins.len() {
            let outcome = self.plugins[index].tick(now_ms);
            let notices = self.plugins[index].take_notices();
            self.report_notices(index, notices);
            let quarantined = self.plugins[index].health().quarantined;
            self.record(index, outcome, None, quarantined);
        }
    }

    fn report_notices(&mut self, index: usize, notices: Vec<String>) {
        for notice in notices {
            let problem = PluginProblem { plugin: self.plugins[index].id().to_owned(), batch: None, problem: notice };
            tracing::warn!("{problem}");
            self.problems.push(problem);
        }
    }

    fn record(&mut self, index: usize, outcome: BatchOutcome, batch: Option<(u64, usize)>, quarantined: bool) {
        let plugin = self.plugins[index].id().to_owned();
        let problem = match outcome {
            BatchOutcome::Insights(insights) => {
                for insight in &insights {
                    Reports::add(&mut self.reported, insight);
                    Reports::add(&mut self.findings, insight);
                }
                return;
            }
            BatchOutcome::Skipped(_) if batch.is_none() => return,
            BatchOutcome::DetectorError(message) => format!("the detector reported an error: {message}"),
            BatchOutcome::Failed(failure) => {
                let next = if quarantined { "quarantined for the rest of the run" } else { "will be restarted" };
                format!("{failure}; {next}")
            }
            BatchOutcome::Skipped(reason) => reason,
        };
        let problem = PluginProblem { plugin, batch, problem };
        tracing::warn!("{problem}");
        self.problems.push(problem);
    }

    /// Events every plugin has processed, as of the last settle.
    pub fn events_processed(&self) -> usize {
        self.events_processed
    }

    pub fn problems(&self) -> &[PluginProblem] {
        &self.problems
    }

    /// What was reported of each finding since the last call, in fingerprint order, once
    /// every batch given so far has run.
    pub fn take_reported(&mut self) -> Vec<Reports> {
        self.settle();
        std::mem::take(&mut self.reported).into_values().collect()
    }

    /// One insight per finding (the latest report of it) with its occurrences in this run, in
    /// order of severity, then confidence, as of the last settle.
    pub fn findings(&self) -> Vec<(Insight, u64)> {
        let mut findings: Vec<(Insight, u64)> =
            self.findings.values().map(|reports| (reports.latest.clone(), reports.occurrences.count())).collect();
        findings.sort_by(|(a, _), (b, _)| {
            b.severity
                .cmp(&a.severity)
                .then(b.confidence.total_cmp(&a.confidence))
                .then(a.pattern.cmp(&b.pattern))
                .then(a.key.cmp(&b.key))
        });
        findings
    }
}
