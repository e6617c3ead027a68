//! Feeding the ordered event stream to every loaded detector in batches, and collecting what
//! comes back, so that one plugin's failure is reported and never stops the others.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

mod swap;

pub use swap::{Handover, PluginChange, SwapOutcome};

use crate::model::{Event, Field, Fingerprint, Insight};
use crate::runtime::{BatchOutcome, LoadError, PluginSource, Runtime, Supervisor, WitEvents, namespace};

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
    /// How many reports.
    pub count: u32,
    /// The evidence event ids of every report: a finding reported twice with different
    /// evidence has the evidence of both.
    pub evidence: BTreeSet<u64>,
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
pub struct Pipeline<'runtime> {
    runtime: &'runtime Runtime,
    plugins: Vec<Supervisor>,
    batch_size: usize,
    problems: Vec<PluginProblem>,
    findings: BTreeMap<Fingerprint, (Insight, u32)>,
    /// Findings reported since the last [`Pipeline::take_reported`], for the next checkpoint.
    reported: BTreeMap<Fingerprint, Reports>,
    events_processed: usize,
    lineage: swap::Lineage,
    workers: Workers,
}

/// The threads the plugins run on: made once, as many as there are plugins, and kept across
/// batches (remade only when the number of plugins changes), so a batch costs no thread start.
#[derive(Default)]
struct Workers {
    pool: Option<rayon::ThreadPool>,
}

impl Workers {
    /// A pool with one worker per plugin, or `None` when one plugin (or none) runs inline, or
    /// the threads cannot be started.
    fn pool(&mut self, plugins: usize) -> Option<&rayon::ThreadPool> {
        if plugins < 2 {
            return None;
        }
        if self.pool.as_ref().is_none_or(|pool| pool.current_num_threads() != plugins) {
            let built = rayon::ThreadPoolBuilder::new()
                .num_threads(plugins)
                .thread_name(|index| format!("plugin-worker-{index}"))
                .build();
            self.pool = match built {
                Ok(pool) => Some(pool),
                Err(error) => {
                    tracing::warn!("cannot start the plugin workers ({error}); plugins run one after another");
                    None
                }
            };
        }
        self.pool.as_ref()
    }
}

impl<'runtime> Pipeline<'runtime> {
    pub fn new(runtime: &'runtime Runtime, batch_size: usize) -> Self {
        Pipeline {
            runtime,
            plugins: Vec::new(),
            batch_size: batch_size.max(1),
            problems: Vec::new(),
            findings: BTreeMap::new(),
            reported: BTreeMap::new(),
            events_processed: 0,
            lineage: swap::Lineage::default(),
            workers: Workers::default(),
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

    pub fn plugins(&self) -> &[Supervisor] {
        &self.plugins
    }

    /// The plugins, to hand their state over (snapshot and restore).
    pub fn plugins_mut(&mut self) -> &mut [Supervisor] {
        &mut self.plugins
    }

    /// Feeds `events` (in event-time order) in batches, advancing each detector's clock to
    /// the last event of every batch. Plugins run side by side on long-lived workers, one per
    /// plugin (each owns its store), over one converted batch they all borrow; their outcomes
    /// are recorded in plugin order, so a run's output does not depend on scheduling.
    pub fn feed(&mut self, events: &[Event]) {
        for batch in events.chunks(self.batch_size) {
            let converted = WitEvents::new(batch);
            let first = batch.first().map_or(0, |event| event.id);
            let now_ms = batch.last().map_or(0, |event| event.time_ms);
            let runtime = self.runtime;
            let run_one = |plugin: &mut Supervisor| (plugin.process(runtime, &converted), plugin.tick(runtime, now_ms));
            let outcomes: Vec<(BatchOutcome, BatchOutcome)> = match self.workers.pool(self.plugins.len()) {
                None => self.plugins.iter_mut().map(run_one).collect(),
                Some(pool) => {
                    let run_one = &run_one;
                    let mut slots: Vec<Option<(BatchOutcome, BatchOutcome)>> = Vec::new();
                    slots.resize_with(self.plugins.len(), || None);
                    pool.scope(|scope| {
                        for (plugin, slot) in self.plugins.iter_mut().zip(&mut slots) {
                            scope.spawn(move |_| *slot = Some(run_one(plugin)));
                        }
                    });
                    slots.into_iter().map(|slot| slot.expect("every plugin ran in the scope")).collect()
                }
            };
            for (index, (processed, ticked)) in outcomes.into_iter().enumerate() {
                self.record(index, processed, Some((first, batch.len())));
                self.record(index, ticked, None);
            }
            self.events_processed += batch.len();
        }
    }

    /// Tells every detector that event time has reached `now_ms` with no further events, so
    /// timers due by then fire (the end of a replay, an idle follow).
    pub fn tick(&mut self, now_ms: i64) {
        for index in 0..self.plugins.len() {
            let outcome = self.plugins[index].tick(self.runtime, now_ms);
            self.record(index, outcome, None);
        }
    }

    fn record(&mut self, index: usize, outcome: BatchOutcome, batch: Option<(u64, usize)>) {
        let plugin = self.plugins[index].id().to_owned();
        for notice in self.plugins[index].take_notices() {
            let problem = PluginProblem { plugin: plugin.clone(), batch: None, problem: notice };
            tracing::warn!("{problem}");
            self.problems.push(problem);
        }
        let problem = match outcome {
            BatchOutcome::Insights(insights) => {
                for insight in insights {
                    let fingerprint = insight.fingerprint();
                    let reports = self.reported.entry(fingerprint.clone()).or_insert_with(|| Reports {
                        latest: insight.clone(),
                        count: 0,
                        evidence: BTreeSet::new(),
                    });
                    reports.evidence.extend(insight.evidence.event_ids.iter().copied());
                    reports.latest = insight.clone();
                    reports.count += 1;
                    let entry = self.findings.entry(fingerprint).or_insert_with(|| (insight.clone(), 0));
                    entry.0 = insight;
                    entry.1 += 1;
                }
                return;
            }
            BatchOutcome::Skipped(_) if batch.is_none() => return,
            BatchOutcome::DetectorError(message) => format!("the detector reported an error: {message}"),
            BatchOutcome::Failed(failure) => {
                let health = self.plugins[index].health();
                let next = if health.quarantined { "quarantined for the rest of the run" } else { "will be restarted" };
                format!("{failure}; {next}")
            }
            BatchOutcome::Skipped(reason) => reason,
        };
        let problem = PluginProblem { plugin, batch, problem };
        tracing::warn!("{problem}");
        self.problems.push(problem);
    }

    pub fn events_processed(&self) -> usize {
        self.events_processed
    }

    pub fn problems(&self) -> &[PluginProblem] {
        &self.problems
    }

    /// What was reported of each finding since the last call, in fingerprint order.
    pub fn take_reported(&mut self) -> Vec<Reports> {
        std::mem::take(&mut self.reported).into_values().collect()
    }

    /// One insight per finding (the latest report of it) with how often it was reported, in
    /// order of severity, then confidence.
    pub fn findings(&self) -> Vec<(Insight, u32)> {
        let mut findings: Vec<(Insight, u32)> = self.findings.values().cloned().collect();
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
