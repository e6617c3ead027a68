//! Feeding the ordered event stream to every loaded detector in batches, and collecting what
//! comes back, so that one plugin's failure is reported and never stops the others.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

mod cut;
mod status;
mod swap;
mod worker;

pub use cut::{Cut, CutState, Passed, PluginCut};
pub use status::PluginStatus;
pub use swap::{Handover, PluginChange, SwapOutcome};
pub use worker::LAG_CAP_EVENTS;

use crate::detectors::plugin_files;
use crate::model::{Event, Field, Fingerprint, Insight, Occurrences};
use crate::runtime::{
    BatchOutcome, CompiledPlugin, FieldSelection, LoadError, Runtime, Supervisor, WitEvents, namespace,
};
use cut::Cuts;
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
    /// Adds what was reported of one finding later to what was reported of it before.
    fn merge(reports: &mut BTreeMap<Fingerprint, Reports>, fingerprint: Fingerprint, later: Reports) {
        match reports.entry(fingerprint) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(later);
            }
            std::collections::btree_map::Entry::Occupied(mut entry) => {
                let known = entry.get_mut();
                known.occurrences.merge(&later.occurrences);
                known.latest = later.latest;
            }
        }
    }

    fn add(reports: &mut BTreeMap<Fingerprint, Reports>, insight: &Insight) {
        let entry = reports
            .entry(insight.fingerprint())
            .or_insert_with(|| Reports { latest: insight.clone(), occurrences: Occurrences::default() });
        entry.occurrences.add(insight);
        entry.latest = insight.clone();
    }
}

/// How far one plugin is behind the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginProgress {
    /// The detector id.
    pub plugin: String,
    /// Events the others got that it has not run yet: those in its queue and, detached, those
    /// it was not given.
    pub behind: usize,
    /// It is fed apart from the others until it catches up ([`Pipeline::detach`]).
    pub detached: bool,
}

/// What went to one worker since the plugins were lent, in order.
enum InFlight {
    /// A batch: its first event id and size.
    Batch(u64, usize),
    /// A cut, by number.
    Cut(u64),
}

/// One lent plugin's worker, as the pipeline sees it.
struct Lane {
    /// The detector id.
    id: String,
    /// What went to the worker and is not recorded yet.
    in_flight: VecDeque<InFlight>,
    /// Events it has run since it was lent.
    processed: usize,
}

/// The user's settings for the detector `compiled` holds, found by its detector id (whatever the
/// file is called), which a settings-free instance tells.
pub fn settings_for(
    runtime: &Runtime,
    compiled: &CompiledPlugin,
    settings: &BTreeMap<String, Vec<Field>>,
) -> Result<Vec<Field>, LoadError> {
    if settings.is_empty() {
        return Ok(Vec::new());
    }
    let instance = runtime.instantiate(compiled, &[])?;
    Ok(settings.get(&instance.description().id).cloned().unwrap_or_default())
}

/// Every loaded detector, fed batch by batch.
///
/// Each plugin runs on a long-lived worker of its own (`worker`). Between
/// [`Pipeline::submit`] and [`Pipeline::settle`] the plugins are lent to their workers and
/// run ahead of each other as far as their queues allow; whatever needs the plugins themselves
/// (a swap, a tick) settles first. A checkpoint needs only their states at one place in the
/// stream, which [`Pipeline::cut`] asks for without waiting: each worker saves its plugin's
/// state when it gets there, and the [`Cut`] is passed once the slowest has.
///
/// A plugin whose queue is full ([`Pipeline::full`]) can be *detached* instead of waited for:
/// it is given nothing more, the cuts passed no longer wait for it, and it works through its
/// queue on its own, its part of each cut handed on when it gets there ([`Passed::Behind`]).
/// It is fed apart ([`Pipeline::submit_to`]) until it has caught up, then attached again. What
/// a plugin reports is recorded as soon as it has run a batch; plugins report under patterns of
/// their own, so a run's findings do not depend on which ran first.
pub struct Pipeline<'runtime> {
    runtime: &'runtime Runtime,
    /// The plugins, while none is lent to its worker.
    plugins: Vec<Supervisor>,
    workers: Vec<Worker>,
    /// One per worker while the plugins are lent, in plugin order; `None` while they are here.
    lanes: Option<Vec<Lane>>,
    /// What the plugins looked like when they were lent, for [`Pipeline::statuses`] meanwhile.
    lent_statuses: Vec<PluginStatus>,
    /// The detached plugins, by detector id, with how many events the others got since.
    detached: BTreeMap<String, usize>,
    cuts: Cuts,
    batch_size: usize,
    /// Events that may wait in one plugin's queue ([`worker::LAG_CAP_EVENTS`] unless set).
    lag_cap: usize,
    problems: Vec<PluginProblem>,
    /// Every finding reported in this run.
    findings: BTreeMap<Fingerprint, Reports>,
    /// Findings each plugin reported since it last got to a cut, by detector id.
    reported: BTreeMap<String, BTreeMap<Fingerprint, Reports>>,
    /// Events every attached plugin has processed, up to the plugins' last lending.
    events_processed: usize,
    lineage: swap::Lineage,
    /// The fields the batches carry: those the plugins read, as they were when last lent (the
    /// plugins cannot change while they are).
    carried: FieldSelection,
}

impl<'runtime> Pipeline<'runtime> {
    pub fn new(runtime: &'runtime Runtime, batch_size: usize) -> Self {
        Pipeline {
            runtime,
            plugins: Vec::new(),
            workers: Vec::new(),
            lanes: None,
            lent_statuses: Vec::new(),
            detached: BTreeMap::new(),
            cuts: Cuts::default(),
            batch_size: batch_size.max(1),
            lag_cap: worker::LAG_CAP_EVENTS,
            problems: Vec::new(),
            findings: BTreeMap::new(),
            reported: BTreeMap::new(),
            events_processed: 0,
            lineage: swap::Lineage::default(),
            carried: FieldSelection::Every,
        }
    }

    /// Loads a plugin file; a plugin that cannot load, or claims the id or a pattern of one
    /// already loaded, is reported and left out.
    pub fn load(&mut self, path: &Path, settings: &BTreeMap<String, Vec<Field>>) -> Result<&Supervisor, LoadError> {
        let result = self.runtime.load_file(path).and_then(|compiled| {
            let settings = settings_for(self.runtime, &compiled, settings)?;
            Supervisor::start(self.runtime, compiled, settings)
        });
        self.admit(&path.display().to_string(), result)
    }

    /// Starts an already compiled plugin (a bundled one) with its settings; one that cannot
    /// start is reported and left out.
    pub fn start(&mut self, compiled: CompiledPlugin, settings: Vec<Field>) -> Result<&Supervisor, LoadError> {
        let origin = compiled.origin.clone();
        let result = Supervisor::start(self.runtime, compiled, settings);
        self.admit(&origin, result)
    }

    /// Admits a started plugin unless its id or a pattern it declares is already taken.
    fn admit(&mut self, origin: &str, result: Result<Supervisor, LoadError>) -> Result<&Supervisor, LoadError> {
        self.settle();
        let result = result.and_then(|supervisor| {
            let loaded = self.plugins.iter().map(|plugin| (plugin.compiled().origin.as_str(), plugin.description()));
            namespace::check(&supervisor.compiled().origin, supervisor.description(), loaded)
                .map_err(|conflict| LoadError::Conflict(Box::new(conflict)))?;
            Ok(supervisor)
        });
        match result {
            Ok(supervisor) => {
                tracing::info!(
                    plugin = supervisor.id(),
                    version = supervisor.description().version,
                    api = %supervisor.compiled().api_version,
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

    /// Gives `events` (in event-time order) to every attached plugin's worker in batches,
    /// advancing each detector's clock to the last event of every batch, without waiting for
    /// the plugins to process them; it waits only for a plugin [`Pipeline::set_lag_cap`]
    /// events behind (see [`Pipeline::full`]). What the plugins have run by then is recorded.
    pub fn submit(&mut self, events: &[Event]) {
        for missed in self.detached.values_mut() {
            *missed += events.len();
        }
        let attached: Vec<usize> = (0..self.plugin_count()).filter(|index| self.is_attached(*index)).collect();
        if attached.is_empty() {
            self.events_processed += events.len();
            return;
        }
        self.feed_to(&attached, events);
        if self.lanes.is_none() {
            self.events_processed += events.len();
        }
    }

    /// Gives `events` to the detached plugin `plugin` alone, as [`Pipeline::submit`] gives
    /// them to the others: the events it was not given, read again.
    pub fn submit_to(&mut self, plugin: &str, events: &[Event]) {
        let Some(index) = self.index_of(plugin) else { return };
        if let Some(missed) = self.detached.get_mut(plugin) {
            *missed = missed.saturating_sub(events.len());
        }
        self.feed_to(&[index], events);
    }

    fn feed_to(&mut self, indices: &[usize], events: &[Event]) {
        if self.lanes.is_none() {
            self.carried = FieldSelection::union(self.plugins.iter().map(Supervisor::reads));
        }
        let lent = self.lend();
        for batch in events.chunks(self.batch_size) {
            let shared = Arc::new(SharedBatch {
                events: WitEvents::new(batch, &self.carried),
                now_ms: batch.last().map_or(0, |event| event.time_ms),
            });
            let first = batch.first().map_or(0, |event| event.id);
            for &index in indices {
                if lent {
                    self.workers[index].queue(shared.clone(), self.lag_cap);
                    let lanes = self.lanes.as_mut().expect("lent");
                    lanes[index].in_flight.push_back(InFlight::Batch(first, batch.len()));
                } else {
                    let report = worker::run(&mut self.plugins[index], &shared);
                    self.record_report(index, report, (first, batch.len()));
                }
            }
        }
        self.collect();
    }

    /// Sets how many events may wait in one plugin's queue before the feed waits for it or
    /// detaches it (a test makes it small, so a few events make a plugin lag).
    pub fn set_lag_cap(&mut self, events: usize) {
        self.lag_cap = events.max(1);
    }

    /// The attached plugins whose queue cannot take another batch without the feed waiting
    /// for them: those to [`Pipeline::detach`], after a cut, rather than wait for.
    pub fn full(&self) -> Vec<String> {
        let Some(lanes) = &self.lanes else { return Vec::new() };
        lanes
            .iter()
            .zip(&self.workers)
            .filter(|(lane, worker)| {
                !self.detached.contains_key(&lane.id) && worker.behind() + self.batch_size > self.lag_cap
            })
            .map(|(lane, _)| lane.id.clone())
            .collect()
    }

    /// Stops giving `plugin` what the others are given: the cuts passed no longer wait for
    /// it, and what it was given before it still runs. A plugin projected over its CPU budget
    /// by what waits for it is quarantined at its next batch, as when the feed waited for it.
    pub fn detach(&mut self, plugin: &str) {
        let Some(index) = self.index_of(plugin) else { return };
        self.detached.insert(plugin.to_owned(), 0);
        if self.lanes.is_some() {
            self.workers[index].set_detached(true);
        }
        self.collect();
    }

    /// Gives `plugin` what the others are given again, from the next batch on.
    pub fn attach(&mut self, plugin: &str) {
        self.detached.remove(plugin);
        if let (Some(index), Some(_)) = (self.index_of(plugin), &self.lanes) {
            self.workers[index].set_detached(false);
        }
    }

    /// The detached plugins that are loaded, in id order.
    pub fn detached(&self) -> Vec<String> {
        self.detached.keys().filter(|id| self.is_loaded(id)).cloned().collect()
    }

    /// Whether a plugin left behind still has batches of its queue to run. A change to the
    /// plugins ([`Pipeline::apply`]) waits for every plugin's queue, so applied now it would
    /// hold the feed until that plugin has run them.
    pub fn left_behind_at_work(&self) -> bool {
        self.lanes.is_some()
            && (0..self.plugin_count()).any(|index| !self.is_attached(index) && self.workers[index].behind() > 0)
    }

    /// Whether a plugin of detector id `plugin` is loaded.
    pub fn is_loaded(&self, plugin: &str) -> bool {
        self.index_of(plugin).is_some()
    }

    /// Marks the place after the last batch given to the attached plugins as a checkpoint's,
    /// without waiting, and returns its number: once every attached plugin has run every batch
    /// before it, [`Pipeline::take_passed`] gives what they reported up to there and, if
    /// `save_states`, their states there.
    pub fn cut(&mut self, save_states: bool) -> u64 {
        let seq = self.cuts.number();
        let attached: Vec<usize> = (0..self.plugin_count()).filter(|index| self.is_attached(*index)).collect();
        let ids = attached.iter().map(|index| self.plugin_id(*index).to_owned()).collect();
        self.cuts.mark(seq, ids);
        for index in attached {
            self.cut_lane(index, seq, save_states);
        }
        self.collect();
        seq
    }

    /// Marks the place after the last batch given to the detached `plugin` as a cut of its own
    /// and returns its number; its state there comes as [`Passed::Behind`].
    pub fn cut_plugin(&mut self, plugin: &str) -> u64 {
        let seq = self.cuts.number();
        if let Some(index) = self.index_of(plugin) {
            self.cut_lane(index, seq, true);
        }
        self.collect();
        seq
    }

    fn cut_lane(&mut self, index: usize, seq: u64, save: bool) {
        match &mut self.lanes {
            Some(lanes) => {
                self.workers[index].cut(save);
                lanes[index].in_flight.push_back(InFlight::Cut(seq));
            }
            None => {
                let state = save.then(|| worker::save_state(&mut self.plugins[index]));
                self.got_to_cut(index, seq, state);
            }
        }
    }

    /// The oldest cut passed, or part of one a detached plugin got to, if there is one; never
    /// waits.
    pub fn take_passed(&mut self) -> Option<Passed> {
        self.collect();
        self.cuts.take()
    }

    /// The next cut passed, waiting for the attached plugins to pass the cuts marked for them
    /// (not for the detached ones); `None` when nothing is left to take without waiting for a
    /// detached plugin.
    pub fn next_passed(&mut self) -> Option<Passed> {
        self.next_passed_waiting(false)
    }

    /// The next cut passed, or part of one, waiting for every plugin, detached or not, to get
    /// to the cuts marked for it; `None` once every one has.
    pub fn next_passed_by_all(&mut self) -> Option<Passed> {
        self.next_passed_waiting(true)
    }

    fn next_passed_waiting(&mut self, for_detached: bool) -> Option<Passed> {
        loop {
            self.collect();
            if let Some(passed) = self.cuts.take() {
                return Some(passed);
            }
            let lanes = self.lanes.as_ref()?;
            let attached: BTreeSet<String> =
                lanes.iter().filter(|lane| !self.detached.contains_key(&lane.id)).map(|lane| lane.id.clone()).collect();
            let waited = self.cuts.waiting_on(&attached).next().and_then(|id| self.index_of(id));
            let owing =
                || lanes.iter().position(|lane| lane.in_flight.iter().any(|item| matches!(item, InFlight::Cut(_))));
            let index = match waited {
                Some(index) => index,
                None if for_detached => owing()?,
                None => return None,
            };
            let done = self.workers[index].next();
            self.record_done(index, done);
        }
    }

    /// The oldest cut passed (with what it waited for), skipping what detached plugins got to:
    /// for callers that detach no plugin.
    pub fn next_cut(&mut self) -> Option<Cut> {
        loop {
            if let Passed::Cut(cut) = self.next_passed()? {
                return Some(cut);
            }
        }
    }

    /// How far each plugin is behind the feed, in plugin order.
    pub fn progress(&self) -> Vec<PluginProgress> {
        (0..self.plugin_count())
            .map(|index| {
                let plugin = self.plugin_id(index).to_owned();
                let queued = self.lanes.as_ref().map_or(0, |_| self.workers[index].behind());
                let missed = self.detached.get(&plugin).copied();
                PluginProgress { behind: queued + missed.unwrap_or(0), detached: missed.is_some(), plugin }
            })
            .collect()
    }

    /// Waits until `plugin` has run every batch given to it, at most `timeout`; whether it has
    /// (an unknown plugin has nothing to run).
    pub fn wait_caught_up(&self, plugin: &str, timeout: Duration) -> bool {
        match self.index_of(plugin) {
            Some(index) if self.lanes.is_some() => self.workers[index].wait_caught_up(timeout),
            _ => true,
        }
    }

    fn plugin_count(&self) -> usize {
        self.lanes.as_ref().map_or(self.plugins.len(), Vec::len)
    }

    fn index_of(&self, plugin: &str) -> Option<usize> {
        (0..self.plugin_count()).find(|index| self.plugin_id(*index) == plugin)
    }

    fn is_attached(&self, index: usize) -> bool {
        !self.detached.contains_key(self.plugin_id(index))
    }

    /// Lends every plugin to its worker, unless they are lent already; `false` when the
    /// workers cannot be started, and the plugins run here, one after another.
    fn lend(&mut self) -> bool {
        if self.lanes.is_some() {
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
        let lanes = self
            .plugins
            .iter()
            .map(|plugin| Lane { id: plugin.id().to_owned(), in_flight: VecDeque::new(), processed: 0 })
            .collect();
        for (worker, plugin) in self.workers.iter_mut().zip(self.plugins.drain(..)) {
            worker.set_detached(self.detached.contains_key(plugin.id()));
            worker.lend(plugin);
        }
        self.lanes = Some(lanes);
        true
    }

    /// Waits until every plugin has processed every batch given to it, detached or not, takes
    /// the plugins back, and records what they reported.
    pub fn settle(&mut self) {
        if self.lanes.is_none() {
            return;
        }
        for worker in &mut self.workers {
            worker.ask_back();
        }
        let mut supervisors = Vec::with_capacity(self.workers.len());
        for index in 0..self.workers.len() {
            loop {
                match self.workers[index].next() {
                    Done::Back(supervisor) => break supervisors.push(*supervisor),
                    done => self.record_done(index, done),
                }
            }
        }
        self.release();
        self.events_processed = self.events_processed();
        self.lanes = None;
        self.plugins = supervisors;
    }

    /// Records what every worker has finished so far, without waiting.
    fn collect(&mut self) {
        if self.lanes.is_some() {
            for index in 0..self.workers.len() {
                while let Some(done) = self.workers[index].try_next() {
                    self.record_done(index, done);
                }
            }
        }
        self.release();
    }

    /// Hands on the cuts no attached plugin is still to get to.
    fn release(&mut self) {
        let ids: BTreeSet<String> = (0..self.plugin_count()).map(|index| self.plugin_id(index).to_owned()).collect();
        let (detached, attached): (BTreeSet<String>, BTreeSet<String>) =
            ids.into_iter().partition(|id| self.detached.contains_key(id));
        self.cuts.release(&attached, &detached);
    }

    /// Records what the worker at `index` finished next: its oldest job not recorded.
    fn record_done(&mut self, index: usize, done: Done) {
        const IN_ORDER: &str = "a worker finishes what it is given in the order it is given";
        let lanes = self.lanes.as_mut().expect("only lent plugins finish jobs");
        let lane = &mut lanes[index];
        match (lane.in_flight.pop_front(), done) {
            (Some(InFlight::Batch(first, size)), Done::Batch(report)) => {
                lane.processed += size;
                self.record_report(index, report, (first, size));
            }
            (Some(InFlight::Cut(seq)), Done::Cut(state)) => self.got_to_cut(index, seq, state),
            _ => unreachable!("{IN_ORDER}"),
        }
    }

    /// The plugin at `index` got to cut `seq`, with its state there if it was asked for.
    fn got_to_cut(&mut self, index: usize, seq: u64, state: Option<CutState>) {
        let plugin = self.plugin_id(index).to_owned();
        let reported = self.reported.remove(&plugin).unwrap_or_default();
        self.cuts.got_there(seq, &plugin, state, reported);
    }

    /// The detector id of the plugin at `index`, lent or not.
    fn plugin_id(&self, index: usize) -> &str {
        match &self.lanes {
            Some(lanes) => &lanes[index].id,
            None => self.plugins[index].id(),
        }
    }

    fn record_report(&mut self, index: usize, report: worker::Report, batch: (u64, usize)) {
        self.report_notices(index, report.notices);
        self.record(index, report.processed, Some(batch), report.health.quarantined);
        self.record(index, report.ticked, None, report.health.quarantined);
        if self.lanes.is_some() {
            self.refresh_lent_status(index, report.health);
        }
    }

    /// Tells every detector that event time has reached `now_ms` with no further events, so
    /// timers due by then fire (the end of a replay, an idle follow).
    pub fn tick(&mut self, now_ms: i64) {
        self.settle();
        for index in 0..self.plugins.len() {
            if !self.is_attached(index) {
                continue;
            }
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
                let reported = self.reported.entry(plugin).or_default();
                for insight in &insights {
                    Reports::add(reported, insight);
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

    /// Events every attached plugin has processed and whose reports are recorded.
    pub fn events_processed(&self) -> usize {
        let Some(lanes) = &self.lanes else { return self.events_processed };
        let attached = lanes.iter().filter(|lane| !self.detached.contains_key(&lane.id));
        self.events_processed + attached.map(|lane| lane.processed).min().unwrap_or(0)
    }

    pub fn problems(&self) -> &[PluginProblem] {
        &self.problems
    }

    /// One insight per finding (the latest report of it) with its occurrences in this run (since
    /// the last [`Pipeline::take_findings`], if any), in order of severity, then confidence, as
    /// of the batches each plugin has run.
    pub fn findings(&self) -> Vec<(Insight, u64)> {
        ranked(self.findings.values().map(|reports| (reports.latest.clone(), reports.occurrences.count())))
    }

    /// The findings reported since the last call (or since the run began), as
    /// [`Pipeline::findings`] gives them, forgetting them here: a run that follows its logs for
    /// days takes what is new after each round instead of keeping every report's evidence.
    pub fn take_findings(&mut self) -> Vec<(Insight, u64)> {
        let taken = std::mem::take(&mut self.findings);
        ranked(taken.into_values().map(|reports| (reports.latest, reports.occurrences.count())))
    }
}

/// In order of severity, then confidence, then pattern and key.
fn ranked(findings: impl Iterator<Item = (Insight, u64)>) -> Vec<(Insight, u64)> {
    let mut findings: Vec<(Insight, u64)> = findings.collect();
    findings.sort_by(|(a, _), (b, _)| {
        b.severity
            .cmp(&a.severity)
            .then(b.confidence.total_cmp(&a.confidence))
            .then(a.pattern.cmp(&b.pattern))
            .then(a.key.cmp(&b.key))
    });
    findings
}
