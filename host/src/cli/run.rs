use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;

use devloop_host::config::{ConfigFile, SettingsError, settings};
use devloop_host::detectors;
use devloop_host::detectors::Candidate;
use devloop_host::dispatch::{DEFAULT_BATCH_SIZE, Pipeline};
use devloop_host::hotswap::HotSwap;
use devloop_host::model::{Field, Insight};
use devloop_host::output;
use devloop_host::routing::SinkKind;
use devloop_host::runtime::{Budget, Limits, LoadError, Runtime, RuntimeConfig};
use devloop_host::sinks::terminal;
use devloop_host::store::{self, Filter, RunLock, Store};
use devloop_host::stream::{self, CheckpointPolicy, Stop};

use super::ListFormat;
use super::project::ProjectArgs;

/// Reads devloop's logs, runs every detector over them, prints the findings and stores them.
///
/// The detectors compiled into devloop-host run, unless the project's or the user's plugin
/// folder holds one with the same id (see `devloop-host plugins --help`). Settings come from
/// .devloop-host/config.toml (`devloop-host init` writes one), and the options here override it.
/// A run reads each log from where the last one stopped. Each finding is printed with its
/// occurrences (SEEN in the table): the distinct events its evidence named over every run so far,
/// the number `devloop-host insights` shows for it.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  devloop-host run                                    the project in this folder
  devloop-host run --devloop-dir ~/src/app/.devloop   another project (its state stays beside it)
  devloop-host run --set command-repetition.min_repeats=4 --format json
  devloop-host run --follow                           keep watching; stop with Ctrl-C")]
pub struct Run {
    #[command(flatten)]
    project: ProjectArgs,
    /// Run exactly the detectors in this folder (`*.wasm` components) instead of the bundled
    /// ones and the project's and user's plugin folders.
    #[arg(long, env = "DEVLOOP_HOST_PLUGINS")]
    plugins: Option<PathBuf>,
    /// Pattern folders (`*.toml` pattern files), `:`-separated, instead of the project's
    /// (.devloop-host/patterns) and the user's (~/.config/devloop-host/patterns).
    #[arg(long = "patterns", env = "DEVLOOP_HOST_PATTERNS", value_delimiter = ':')]
    pattern_folders: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    format: ListFormat,
    /// A detector setting, `DETECTOR.NAME=VALUE` (repeatable), e.g. `command-repetition.min_repeats=4`;
    /// overrides `[detectors.DETECTOR]` in the config file. `devloop-host plugins info ID` lists them.
    #[arg(long = "set", value_name = "DETECTOR.NAME=VALUE")]
    settings: Vec<String>,
    /// Events per plugin call [default: `[limits] batch_size`, else 1024].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Wall time one plugin call may take, in milliseconds [default: `[limits] deadline_ms`, else 2000].
    #[arg(long)]
    deadline_ms: Option<u64>,
    /// Memory one plugin may use, in MiB [default: `[limits] memory_mib`, else 64].
    #[arg(long)]
    memory_mib: Option<usize>,
    /// What one plugin may use over the run, `NAME=VALUE` (repeatable): cpu-base-ms and
    /// cpu-per-event-us (CPU time inside it), time-base-ms and time-per-event-us (wall time
    /// inside it), log-records-per-call, log-records, findings, updates, snapshot-bytes. Going
    /// over one quarantines the plugin; log records are dropped instead.
    #[arg(long = "budget", value_name = "NAME=VALUE")]
    budgets: Vec<String>,
    /// Treat a malformed log record as an error instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// Read every log from the start, forgetting where the last run stopped.
    #[arg(long)]
    from_start: bool,
    /// Keep running and process new records as devloop writes them (stop with Ctrl-C).
    #[arg(long)]
    follow: bool,
    /// Record every delivered event id in the state database (for crash tests).
    #[arg(long, hide = true)]
    trace_delivered: bool,
    /// Mark a checkpoint once this many events were read since the last (for crash tests); it
    /// commits when every detector has run them, and none is marked while one waits.
    #[arg(long, hide = true, default_value_t = CheckpointPolicy::default().events)]
    checkpoint_events: u64,
    /// Events that may wait for one plugin before it is left behind to catch up later (for
    /// tests of a plugin slower than the feed).
    #[arg(long, hide = true, default_value_t = devloop_host::dispatch::LAG_CAP_EVENTS)]
    lag_cap_events: usize,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
    /// Where each plugin's status is written for `devloop-host plugins list` (default:
    /// `.status.json` in the project's plugins folder).
    #[arg(long, env = "DEVLOOP_HOST_STATUS")]
    status_file: Option<PathBuf>,
    /// A routing file to use instead of the config file's `[routing]` table (see
    /// `devloop-host insights --help`).
    #[arg(long, env = "DEVLOOP_HOST_ROUTING")]
    routing: Option<PathBuf>,
}

/// The settings the config file and `--set` give, checked against the detectors and pattern
/// files that run (a pattern's settings must also leave it a valid pattern).
fn detector_settings(
    config: &ConfigFile,
    arguments: &[String],
    pipeline_candidates: &[Candidate],
    patterns: &[devloop_host::patterns::Discovered],
) -> anyhow::Result<BTreeMap<String, Vec<Field>>> {
    let mut given = config.detector_settings();
    for argument in arguments {
        given.push(settings::parse_set(argument)?);
    }
    let pattern_files: Vec<_> = patterns.iter().filter_map(|pattern| pattern.found.as_ref().ok()).collect();
    let pattern_descriptions: Vec<_> = pattern_files.iter().map(|file| file.description()).collect();
    let running: Vec<_> = pipeline_candidates
        .iter()
        .filter(|candidate| candidate.runs())
        .filter_map(|candidate| candidate.found.as_ref().ok().map(|found| &found.description))
        .chain(&pattern_descriptions)
        .collect();
    let resolved = settings::resolve(&given, &running)?;
    for file in pattern_files {
        if let Some(own) = resolved.get(&file.pattern.id) {
            file.settings(own).map_err(|error| SettingsError::Refused {
                detector: file.pattern.id.clone(),
                reason: error.to_string(),
            })?;
        }
    }
    Ok(resolved)
}

/// The run's findings with their occurrences as the store holds them, over every run so far:
/// what `insights` shows for them afterwards (the pipeline counts this run's reports only).
fn stored_occurrences(store: &Store, findings: Vec<(Insight, u64)>) -> anyhow::Result<Vec<(Insight, u64)>> {
    findings
        .into_iter()
        .map(|(insight, _)| {
            let fingerprint = insight.fingerprint();
            let stored = store.get(&fingerprint)?.with_context(|| {
                format!("finding {fingerprint} was reported but is not in {}", store.path().display())
            })?;
            Ok((insight, stored.occurrences))
        })
        .collect()
}

/// Prints `findings` in `format`; a table of none says how many stored findings still want
/// attention, and where.
fn print_findings(format: ListFormat, findings: &[(Insight, u64)], store: &Store) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        ListFormat::Json => output::write_json_lines(&mut out, findings)?,
        ListFormat::Table if findings.is_empty() => {
            let attention = store.list(&Filter::default(), store::now_ms()).map_err(std::io::Error::other)?.len();
            output::write_none(&mut out, attention, &terminal::triage_command(store.path()))?
        }
        ListFormat::Table => output::write_table(&mut out, findings)?,
    }
    out.flush()
}

impl Run {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let state = self.project.state();
        let config = super::load_config(&state)?;
        let dirs = self.project.devloop_dirs(config.config.sources.home_devloop_dir_in(state.project()))?;
        let mut routing = super::insights::routing(&state, &config, self.routing.as_deref())?;
        if super::quiet() {
            for rule in &mut routing.rules {
                rule.sinks.retain(|sink| *sink != SinkKind::Terminal);
            }
        }
        let database = state.insights_db();
        // Before anything is loaded or read: a second run on this state would deliver every
        // event twice.
        let _lock = RunLock::acquire(&database)?;
        let stop = Stop::on_signals().context("cannot install the SIGINT/SIGTERM handlers")?;
        let configured = &config.config.limits;
        let batch_size = self.batch_size.or(configured.batch_size).unwrap_or(DEFAULT_BATCH_SIZE);
        let mut budget = Budget::default();
        if let Some(base_ms) = configured.cpu_base_ms {
            budget.cpu_base = Duration::from_millis(base_ms);
        }
        if let Some(per_event_us) = configured.cpu_per_event_us {
            budget.cpu_per_event = Duration::from_micros(per_event_us);
        }
        for setting in &self.budgets {
            budget.set(setting)?;
        }
        let defaults = Limits::default();
        let limits = Limits {
            call_deadline: self
                .deadline_ms
                .or(configured.deadline_ms)
                .map_or(defaults.call_deadline, Duration::from_millis),
            memory_bytes: self.memory_mib.or(configured.memory_mib).map_or(defaults.memory_bytes, |mib| mib << 20),
            budget,
            ..defaults
        };
        let strict = self.strict || config.config.sources.strict.unwrap_or(false);
        let cache_dir = self.cache_dir.or_else(super::default_cache_dir);
        let runtime = Arc::new(Runtime::new(RuntimeConfig { limits, cache_dir })?);
        let search = super::plugins::search(self.plugins.clone(), &state);
        let candidates = detectors::discover(&runtime, &search)?;
        let pattern_folders = if self.pattern_folders.is_empty() {
            devloop_host::patterns::default_folders(self.plugins.as_deref().unwrap_or(&state.plugins()))
        } else {
            self.pattern_folders.clone()
        };
        let mut patterns =
            devloop_host::patterns::discover(&pattern_folders).context("cannot read the pattern folders")?;
        // Checked before anything is read: a typo must not cost a run whose cursors advance.
        let settings = detector_settings(&config, &self.settings, &candidates, &patterns)?;
        let known: Vec<String> = candidates
            .iter()
            .filter(|candidate| candidate.found.is_ok())
            .map(Candidate::id)
            .chain(
                patterns.iter().filter_map(|pattern| pattern.found.as_ref().ok()).map(|file| file.pattern.id.clone()),
            )
            .collect();
        let disabled = config.disabled_detectors(&known.iter().map(String::as_str).collect::<Vec<_>>())?;
        patterns.retain(|pattern| match &pattern.found {
            Ok(file) if disabled.contains(&file.pattern.id) => {
                tracing::info!("{} is disabled in the config file", file.pattern.id);
                false
            }
            _ => true,
        });
        let status_file = self.status_file.clone().unwrap_or_else(|| super::default_status_file(&search.project));
        let mut hot_swap = if self.follow {
            if !search.is_exclusive() {
                std::fs::create_dir_all(&search.project)
                    .with_context(|| format!("cannot create plugins folder {}", search.project.display()))?;
            }
            Some(HotSwap::start(runtime.clone(), &search.project, settings.clone(), &status_file)?)
        } else {
            None
        };
        let mut pipeline = Pipeline::new(&runtime, batch_size);
        pipeline.set_lag_cap(self.lag_cap_events);
        for candidate in candidates {
            match candidate.found {
                Err(error) => tracing::error!("plugin {}: {error}", candidate.location),
                Ok(found) if candidate.overridden_by.is_some() => {
                    let winner = candidate.overridden_by.as_deref().unwrap_or_default();
                    // Across folders a detector overrides another by id; within one folder two
                    // files with one id are a mistake, and the second is refused.
                    if Path::new(winner).parent() == Path::new(&candidate.location).parent() {
                        tracing::error!(
                            "{} holds detector `{}`, which is already loaded from {winner}; remove one of the two files",
                            candidate.location,
                            found.description.id
                        );
                    } else {
                        tracing::debug!("{} is overridden by {winner}", candidate.location);
                    }
                }
                Ok(found) if disabled.contains(&found.description.id) => {
                    tracing::info!("{} is disabled in the config file", found.description.id);
                }
                Ok(found) => {
                    let id = found.description.id.clone();
                    let detector_settings = settings.get(&id).cloned().unwrap_or_default();
                    if let Err(LoadError::Configure { reason, .. }) = pipeline.start(found.compiled, detector_settings)
                    {
                        return Err(SettingsError::Refused { detector: id, reason }.into());
                    }
                }
            }
        }
        let pattern_settings = patterns
            .iter()
            .filter_map(|pattern| pattern.found.as_ref().ok())
            .filter_map(|file| settings.get(&file.pattern.id).map(|own| (file.pattern.id.clone(), own.clone())))
            .collect();
        let rules_engine = devloop_host::patterns::start_patterns(&mut pipeline, &runtime, patterns, pattern_settings);
        if pipeline.plugins().is_empty() {
            if !self.follow {
                bail!("no detector plugin could be loaded from {}; see the errors above", search.project.display());
            }
            tracing::warn!(
                "no detector plugin loaded from {} yet; `devloop-host plugins add FILE` adds one while this runs",
                search.project.display()
            );
        }
        let mut store = Store::open(&database)?;
        // The run holds `store` until it ends; what --follow prints meanwhile is read beside it.
        let follow_reader = if self.follow { Some(Store::open(&database)?) } else { None };
        let format = self.format;
        let mut printed = std::collections::BTreeSet::new();
        let mut pattern_watch = match rules_engine.filter(|_| self.follow) {
            Some(engine) => devloop_host::patterns::PatternWatch::start(runtime.clone(), engine, &pattern_folders)
                .inspect_err(|error| tracing::warn!("pattern files will not be reloaded while this runs: {error}"))
                .ok(),
            None => None,
        };
        // Plugins and pattern files are applied between batches: an idle follow run wakes for them.
        let follow = self.follow.then(|| {
            let nudge = stream::Nudge::default();
            if let Some(hot_swap) = &hot_swap {
                let nudge = nudge.clone();
                hot_swap.on_ready(move || nudge.nudge());
            }
            let mut applied = vec![stream::Applied { folder: search.project.clone(), extension: "wasm" }];
            if pattern_watch.is_some() {
                applied.extend(
                    pattern_folders.iter().map(|folder| stream::Applied { folder: folder.clone(), extension: "toml" }),
                );
            }
            stream::Follow { applied, nudge }
        });
        let options = stream::Options {
            batch_size,
            from_start: self.from_start,
            strict,
            follow,
            trace_delivered: self.trace_delivered,
            checkpoint: CheckpointPolicy { events: self.checkpoint_events, ..CheckpointPolicy::default() },
        };
        let progress = super::progress::Replay::start(pipeline.plugins().len());
        let hooks = stream::Hooks {
            between_batches: &mut |pipeline| {
                progress.update(pipeline.events_processed());
                if let Some(hot_swap) = &mut hot_swap {
                    hot_swap.between_batches(pipeline);
                }
                if let Some(pattern_watch) = &mut pattern_watch {
                    pattern_watch.between_batches(pipeline);
                }
            },
            // Without --follow the findings are printed once, at the end, as one table.
            after_round: &mut |pipeline| {
                progress.finish();
                let Some(reader) = &follow_reader else {
                    return Ok(());
                };
                let fresh: Vec<_> = pipeline
                    .take_findings()
                    .into_iter()
                    .filter(|(insight, _)| printed.insert(insight.fingerprint()))
                    .collect();
                let fresh = stored_occurrences(reader, fresh).map_err(std::io::Error::other)?;
                if fresh.is_empty() { Ok(()) } else { print_findings(format, &fresh, reader) }
            },
        };
        let destination = stream::Destination { store: &mut store, routing: &routing };
        let summary = stream::run(&dirs, &mut pipeline, destination, &options, &stop, hooks)?;
        progress.finish();

        super::plugins::write_status(&pipeline, &status_file);

        // A follow run took its findings round by round, and printed each once.
        let found = if self.follow {
            printed.len()
        } else {
            let findings = stored_occurrences(&store, pipeline.findings())?;
            match print_findings(self.format, &findings, &store) {
                Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {}
                shown => shown.context("cannot print the findings (they are stored)")?,
            }
            findings.len()
        };
        tracing::info!(
            events = pipeline.events_processed(),
            late = summary.late,
            malformed = summary.malformed.len(),
            plugins = pipeline.plugins().len(),
            plugin_problems = pipeline.problems().len(),
            findings = found,
            changes = summary.changes,
            store = %store.path().display(),
            "run complete"
        );
        Ok(summary.stopped.map_or(ExitCode::SUCCESS, |reason| ExitCode::from(reason.exit_code())))
    }
}
