//! Feeding the ordered event stream to every loaded detector in batches, and collecting what
//! comes back, so that one plugin's failure is reported and never stops the others.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

mod swap;
mod worker;

pub use swap::{Handover, PluginChange, SwapOutcome};

use crate::hotswap::PluginStatus;
use crate::model::{Event, Field, Fingerprint, Insight, Occurrences};
use crate::runtime::{BatchOutcome, LoadError, PluginFailure, PluginSource, Runtime, Supervisor, WitEvents, namespace};
use worker::{Done, SharedBatch, Worker};

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

/// One plugin's state at a [`Cut`].
#[derive(Debug)]
pub struct CutState {
    /// The detector id.
    pub plugin: String,
    pub version: String,
    /// Its snapshot (`None` when it keeps no state), or how saving it failed.
    pub state: Result<Option<Vec<u8>>, PluginFailure>,
}

/// Everything before a place in the stream ([`Pipeline::cut`]), as every plugin left it there:
/// what a checkpoint commits.
#[derive(Debug)]
pub struct Cut {
    /// Each plugin's state right after the last batch before the cut, when it was asked for.
    pub states: Vec<CutState>,
    /// What was reported of each finding since the previous cut, in fingerprint order.
    pub reported: Vec<Reports>,
}

/// How far one plugin is behind the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginProgress {
    /// The detector id.
    pub plugin: String,
    /// Events given to it that it has not run yet.
    pub behind: usize,
}

/// What went to the workers since the plugins were lent, in order.
enum InFlight {
    /// A batch: its first event id and size.
    Batch(u64, usize),
    Cut,
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
/// (a swap, a tick) settles first. A checkpoint needs only their states at one place in the
/// stream, which [`Pipeline::cut`] asks for without waiting: each worker saves its plugin's
/// state when it gets there, and the [`Cut`] is ready once the slowest has. What the plugins
/// report is recorded as soon as every plugin has run a batch, in batch order, then plugin
/// order, so a run's output does not depend on scheduling.
pub struct Pipeline<'runtime> {
    runtime: &'runtime Runtime,
    /// The plugins, while none is lent to its worker.
    plugins: Vec<Supervisor>,
    workers: Vec<Worker>,
    /// What each worker finished that is not recorded yet: what some other worker has not
    /// finished yet.
    finished: Vec<VecDeque<Done>>,
    /// What went to the workers since the plugins were lent and is not recorded yet; `None`
    /// while the plugins are here.
    in_flight: Option<VecDeque<InFlight>>,
    /// What the plugins looked like when they were lent, for [`Pipeline::statuses`] meanwhile.
    lent_statuses: Vec<PluginStatus>,
    /// The ids of the plugins while they are lent, in plugin order.
    lent_ids: Vec<String>,
    /// Cuts every plugin has passed, oldest first, until [`Pipeline::take_cut`].
    cuts: VecDeque<Cut>,
    batch_size: usize,
    problems: Vec<PluginProblem>,
    /// Every finding reported in this run.
    findings: BTreeMap<Fingerprint, Reports>,
    /// Findings recorded since the last cut, for the next one.
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
            finished: Vec::new(),
            in_flight: None,
            lent_statuses: Vec::new(),
            lent_ids: Vec::new(),
            cuts: VecDeque::new(),
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
    /// to process them; it waits only for a plugin [`worker::LAG_CAP_EVENTS`] events behind.
    /// What every plugin has run by then is recorded.
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
            self.in_flight.get_or_insert_with(VecDeque::new).push_back(InFlight::Batch(first, batch.len()));
        }
        self.collect();
    }

    /// Marks the place after the last batch given as a checkpoint's, without waiting: once
    /// every plugin has run every batch before it, [`Pipeline::take_cut`] gives what they
    /// reported up to there and, if `save_states`, their states there.
    pub fn cut(&mut self, save_states: bool) {
        if let Some(in_flight) = &mut self.in_flight {
            for worker in &mut self.workers {
                worker.cut(save_states);
            }
            in_flight.push_back(InFlight::Cut);
            return;
        }
        let states = match save_states {
            true => self.plugins.iter_mut().map(worker::save_state).collect(),
            false => Vec::new(),
        };
        self.cuts.push_back(Cut { states, reported: std::mem::take(&mut self.reported).into_values().collect() });
    }

    /// The oldest cut every plugin has passed, if there is one; never waits.
    pub fn take_cut(&mut self) -> Option<Cut> {
        self.collect();
        self.cuts.pop_front()
    }

    /// The oldest cut, once every plugin has passed it, waiting for that; `None` when no cut
    /// is left to take.
    pub fn next_cut(&mut self) -> Option<Cut> {
        loop {
            self.collect();
            if let Some(cut) = self.cuts.pop_front() {
                return Some(cut);
            }
            let marked = self
                .in_flight
                .as_ref()
                .is_some_and(|in_flight| in_flight.iter().any(|next| matches!(next, InFlight::Cut)));
            if !marked {
                return None;
            }
            // The cut waits on the workers that have finished nothing unrecorded: the first of
            // them, at least.
            let (worker, finished) = self
                .workers
                .iter_mut()
                .zip(&mut self.finished)
                .find(|(_, finished)| finished.is_empty())
                .expect("an unrecorded cut waits on a worker that has finished nothing unrecorded");
            finished.push_back(worker.next());
        }
    }

    /// How far each plugin is behind the feed, in plugin order.
    pub fn progress(&self) -> Vec<PluginProgress> {
        if self.in_flight.is_none() {
            return self
                .plugins
                .iter()
                .map(|plugin| PluginProgress { plugin: plugin.id().to_owned(), behind: 0 })
                .collect();
        }
        self.lent_ids
            .iter()
            .zip(&self.workers)
            .map(|(plugin, worker)| PluginProgress { plugin: plugin.clone(), behind: worker.behind() })
            .collect()
    }

    /// Waits until `plugin` has run every batch given to it, at most `timeout`; whether it has
    /// (an unknown plugin has nothing to run).
    pub fn wait_caught_up(&self, plugin: &str, timeout: Duration) -> bool {
        match self.lent_ids.iter().position(|id| id == plugin) {
            Some(index) if self.in_flight.is_some() => self.workers[index].wait_caught_up(timeout),
            _ => true,
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
        self.lent_ids = self.plugins.iter().map(|plugin| plugin.id().to_owned()).collect();
        self.workers.truncate(self.plugins.len());
        self.finished = self.workers.iter().map(|_| VecDeque::new()).collect();
        for (worker, plugin) in self.workers.iter_mut().zip(self.plugins.drain(..)) {
            worker.lend(plugin);
        }
        self.in_flight = Some(VecDeque::new());
        true
    }

    /// Waits until every plugin has processed every batch given to it, takes the plugins back,
    /// and records what they reported.
    pub fn settle(&mut self) {
        if self.in_flight.is_none() {
            return;
        }
        for worker in &mut self.workers {
            worker.ask_back();
        }
        let mut supervisors = Vec::with_capacity(self.workers.len());
        for (worker, finished) in self.workers.iter_mut().zip(&mut self.finished) {
            loop {
                match worker.next() {
                    Done::Back(supervisor) => break supervisors.push(*supervisor),
                    done => finished.push_back(done),
                }
            }
        }
        self.record_finished();
        self.in_flight = None;
        self.plugins = supervisors;
    }

    /// Records what every worker has finished so far, without waiting.
    fn collect(&mut self) {
        if self.in_flight.is_none() {
            return;
        }
        for (worker, finished) in self.workers.iter_mut().zip(&mut self.finished) {
            while let Some(done) = worker.try_next() {
                finished.push_back(done);
            }
        }
        self.record_finished();
    }

    /// Records, in order, each batch and cut every worker has finished.
    fn record_finished(&mut self) {
        const IN_ORDER: &str = "a worker finishes what it is given in the order it is given";
        while self.finished.iter().all(|finished| !finished.is_empty()) {
            let Some(next) = self.in_flight.as_mut().and_then(VecDeque::pop_front) else { break };
            let done: Vec<Done> =
                self.finished.iter_mut().map(|finished| finished.pop_front().expect("none is empty")).collect();
            match next {
                InFlight::Batch(first, size) => {
                    for (index, done) in done.into_iter().enumerate() {
                        let Done::Batch(report) = done else { unreachable!("{IN_ORDER}") };
                        self.record_report(index, report, (first, size));
                    }
                    self.events_processed += size;
                }
                InFlight::Cut => {
                    let mut states = Vec::new();
                    for done in done {
                        let Done::Cut(saved) = done else { unreachable!("{IN_ORDER}") };
                        states.extend(saved);
                    }
                    let reported = std::mem::take(&mut self.reported).into_values().collect();
                    self.cuts.push_back(Cut { states, reported });
                }
            }
        }
    }

    /// The detector id of the plugin at `index`, lent or not.
    fn plugin_id(&self, index: usize) -> &str {
        match self.in_flight {
            Some(_) => &self.lent_ids[index],
            None => self.plugins[index].id(),
        }
    }

    fn record_report(&mut self, index: usize, report: worker::Report, batch: (u64, usize)) {
        self.report_notices(index, report.notices);
        self.record(index, report.processed, Some(batch), report.health.quarantined);
        self.record(index, report.ticked, None, report.health.quarantined);
        if self.in_flight.is_some() {
            self.refresh_lent_status(index, report.health);
        }
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
            let problem = PluginProblem { plugin: self.plugin_id(index).to_owned(), batch: None, problem: notice };
            tracing::warn!("{problem}");
            self.problems.push(problem);
        }
    }

    fn record(&mut self, index: usize, outcome: BatchOutcome, batch: Option<(u64, usize)>, quarantined: bool) {
        let plugin = self.plugin_id(index).to_owned();
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

    /// Events every plugin has processed and whose reports are recorded.
    pub fn events_processed(&self) -> usize {
        self.events_processed
    }

    pub fn problems(&self) -> &[PluginProblem] {
        &self.problems
    }

    /// One insight per finding (the latest report of it) with its occurrences in this run, in
    /// order of severity, then confidence, as of the batches every plugin has run.
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
