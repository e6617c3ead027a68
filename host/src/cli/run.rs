use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use devloop_host::dispatch::{DEFAULT_BATCH_SIZE, Pipeline};
use devloop_host::hotswap::HotSwap;
use devloop_host::model::{Field, Value};
use devloop_host::output;
use devloop_host::runtime::{Limits, Runtime, RuntimeConfig};
use devloop_host::state::StateDb;
use devloop_host::stream;

use super::sources::DevloopDirArgs;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// One JSON object per finding per line.
    Json,
}

/// Reads devloop's logs, runs every detector plugin over them, and prints the findings.
#[derive(Debug, Args)]
pub struct Run {
    #[command(flatten)]
    dirs: DevloopDirArgs,
    /// Folder of detector plugins (`*.wasm` components).
    #[arg(long, env = "DEVLOOP_HOST_PLUGINS", default_value = super::DEFAULT_PLUGINS_DIR)]
    plugins: PathBuf,
    /// Pattern folders (`*.toml` pattern files), `:`-separated (default: `patterns/` beside the
    /// plugins folder, then ~/.config/devloop-host/patterns).
    #[arg(long = "patterns", env = "DEVLOOP_HOST_PATTERNS", value_delimiter = ':')]
    pattern_folders: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// A detector setting, `DETECTOR.NAME=VALUE` (repeatable), e.g. `command-repetition.min_repeats=4`.
    #[arg(long = "set", value_name = "DETECTOR.NAME=VALUE")]
    settings: Vec<String>,
    /// Events per plugin call.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Wall time one plugin call may take, in milliseconds.
    #[arg(long, default_value_t = Limits::default().call_deadline.as_millis() as u64)]
    deadline_ms: u64,
    /// Memory one plugin may use, in MiB.
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_mib: usize,
    /// Treat a malformed log record as an error instead of skipping it.
    #[arg(long)]
    strict: bool,
    /// Read every log from the start, forgetting where the last run stopped.
    #[arg(long)]
    from_start: bool,
    /// Keep running and process new records as devloop writes them (stop with Ctrl-C).
    #[arg(long)]
    follow: bool,
    /// The state database: where each log was read up to, and each detector's state
    /// (default: .devloop-host/state.db beside the devloop folder).
    #[arg(long, env = "DEVLOOP_HOST_STATE")]
    state_db: Option<PathBuf>,
    /// Record every delivered event id in the state database (for crash tests).
    #[arg(long, hide = true)]
    trace_delivered: bool,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
    /// Where each plugin's status is written for `devloop-host plugins list` (default:
    /// `.status.json` in the plugins folder).
    #[arg(long, env = "DEVLOOP_HOST_STATUS")]
    status_file: Option<PathBuf>,
    /// Routing rules for new and materially changed findings (default: routing.toml beside the
    /// state database; see `devloop-host insights --help`).
    #[arg(long, env = "DEVLOOP_HOST_ROUTING")]
    routing: Option<PathBuf>,
}

/// Parses `detector.name=value` settings, typing the value as it reads.
fn parse_settings(raw: &[String]) -> anyhow::Result<BTreeMap<String, Vec<Field>>> {
    let mut settings: BTreeMap<String, Vec<Field>> = BTreeMap::new();
    for setting in raw {
        let (target, value) = setting
            .split_once('=')
            .with_context(|| format!("setting `{setting}` has no `=`; write DETECTOR.NAME=VALUE"))?;
        let (detector, name) = target
            .split_once('.')
            .with_context(|| format!("setting `{setting}` names no detector; write DETECTOR.NAME=VALUE"))?;
        let value = if let Ok(integer) = value.parse::<i64>() {
            Value::Integer(integer)
        } else if let Ok(float) = value.parse::<f64>() {
            Value::Float(float)
        } else if let Ok(flag) = value.parse::<bool>() {
            Value::Boolean(flag)
        } else {
            Value::Text(value.to_owned())
        };
        settings.entry(detector.to_owned()).or_default().push(Field::new(name, value));
    }
    Ok(settings)
}

fn print_findings(format: Format, findings: &[(devloop_host::model::Insight, u32)]) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Json => output::write_json_lines(&mut out, findings)?,
        Format::Table => output::write_table(&mut out, findings)?,
    }
    out.flush()
}

impl Run {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let settings = parse_settings(&self.settings)?;
        let dirs = self.dirs.resolve()?;
        let insights_dir =
            super::insights::state_folder(&self.state_db.clone().unwrap_or_else(|| dirs.default_state_db()));
        let routing = super::insights::load_routing(&insights_dir, self.routing.as_deref())?;

        let limits = Limits {
            call_deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: self.memory_mib << 20,
            ..Limits::default()
        };
        let cache_dir = self.cache_dir.or_else(super::default_cache_dir);
        let runtime = Arc::new(Runtime::new(RuntimeConfig { limits, cache_dir })?);
        let status_file = self.status_file.clone().unwrap_or_else(|| super::default_status_file(&self.plugins));
        // Watching starts before loading, so a plugin that changes meanwhile is not missed.
        let mut hot_swap = if self.follow {
            Some(HotSwap::start(runtime.clone(), &self.plugins, settings.clone(), &status_file)?)
        } else {
            None
        };
        let mut pipeline = Pipeline::new(&runtime, self.batch_size);
        let pattern_folders = if self.pattern_folders.is_empty() {
            devloop_host::patterns::default_folders(&self.plugins)
        } else {
            self.pattern_folders.clone()
        };
        let rules_engine = devloop_host::patterns::load_plugins(
            &mut pipeline,
            &runtime,
            &self.plugins,
            &settings,
            &pattern_folders,
        )
        .with_context(|| {
            format!(
                "cannot read plugins folder {}; build and install the plugins with `scripts/setup`, or pass --plugins",
                self.plugins.display()
            )
        })?;
        if pipeline.plugins().is_empty() {
            if !self.follow {
                bail!("no detector plugin could be loaded from {}; see the errors above", self.plugins.display());
            }
            tracing::warn!(
                "no detector plugin loaded from {} yet; `devloop-host plugins add FILE` adds one while this runs",
                self.plugins.display()
            );
        }
        let state_path = self.state_db.unwrap_or_else(|| dirs.default_state_db());
        let mut state = StateDb::open(&state_path)?;
        let options = stream::Options {
            batch_size: self.batch_size,
            from_start: self.from_start,
            strict: self.strict,
            follow: self.follow,
            trace_delivered: self.trace_delivered,
        };
        let format = self.format;
        let mut printed = std::collections::BTreeSet::new();
        let mut pattern_watch = match rules_engine.filter(|_| self.follow) {
            Some(engine) => devloop_host::patterns::PatternWatch::start(runtime.clone(), engine, &pattern_folders)
                .inspect_err(|error| tracing::warn!("pattern files will not be reloaded while this runs: {error}"))
                .ok(),
            None => None,
        };
        let between_batches = |pipeline: &mut Pipeline<'_>| {
            if let Some(hot_swap) = &mut hot_swap {
                hot_swap.between_batches(pipeline);
            }
            if let Some(pattern_watch) = &mut pattern_watch {
                pattern_watch.between_batches(pipeline);
            }
        };
        let summary = stream::run(&dirs, &mut pipeline, &mut state, &options, between_batches, |pipeline| {
            if options.follow {
                let fresh: Vec<_> = pipeline
                    .findings()
                    .into_iter()
                    .filter(|(insight, _)| printed.insert(insight.fingerprint()))
                    .collect();
                if !fresh.is_empty()
                    && let Err(error) = print_findings(format, &fresh)
                {
                    tracing::error!("cannot print findings: {error}");
                }
            }
        })?;

        super::plugins::write_status(&pipeline, &status_file);

        let findings = pipeline.findings();
        print_findings(self.format, &findings)?;
        super::insights::record_and_route(&insights_dir, &routing, &findings)?;
        tracing::info!(
            events = pipeline.events_processed(),
            late = summary.late,
            malformed = summary.malformed.len(),
            plugins = pipeline.plugins().len(),
            plugin_problems = pipeline.problems().len(),
            findings = findings.len(),
            "run complete"
        );
        Ok(ExitCode::SUCCESS)
    }
}
