use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use devloop_host::dispatch::{DEFAULT_BATCH_SIZE, Pipeline};
use devloop_host::ingest;
use devloop_host::model::{Field, Value};
use devloop_host::output;
use devloop_host::runtime::{Limits, Runtime, RuntimeConfig};

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
    /// The project's devloop folder.
    #[arg(long, env = "DEVLOOP_DIR", default_value = ".devloop")]
    devloop_dir: PathBuf,
    /// Folder of detector plugins (`*.wasm` components).
    #[arg(long, env = "DEVLOOP_HOST_PLUGINS", default_value = super::DEFAULT_PLUGINS_DIR)]
    plugins: PathBuf,
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
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
    /// The state folder: the insight store (insights.db) and routing.toml.
    #[arg(long, env = "DEVLOOP_HOST_STATE", default_value = devloop_host::store::DEFAULT_STATE_DIR)]
    state_dir: PathBuf,
    /// Routing rules for new and materially changed findings (default: STATE_DIR/routing.toml;
    /// see `devloop-host insights --help`).
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

impl Run {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let settings = parse_settings(&self.settings)?;
        let routing = super::insights::load_routing(&self.state_dir, self.routing.as_deref())?;
        if !self.devloop_dir.is_dir() {
            bail!(
                "devloop folder {} not found; pass --devloop-dir (or set DEVLOOP_DIR) to the project's .devloop folder",
                self.devloop_dir.display()
            );
        }
        let ingested = ingest::read_devloop_dir(&self.devloop_dir)
            .with_context(|| format!("failed to read {}", self.devloop_dir.display()))?;
        for malformed in &ingested.malformed {
            tracing::warn!("{malformed}");
        }
        if self.strict && !ingested.malformed.is_empty() {
            bail!("{} malformed record(s), first at {} (--strict)", ingested.malformed.len(), ingested.malformed[0]);
        }

        let limits = Limits {
            call_deadline: Duration::from_millis(self.deadline_ms),
            memory_bytes: self.memory_mib << 20,
            ..Limits::default()
        };
        let cache_dir = self.cache_dir.or_else(super::default_cache_dir);
        let runtime = Runtime::new(RuntimeConfig { limits, cache_dir })?;
        let mut pipeline = Pipeline::new(&runtime, self.batch_size);
        pipeline.load_dir(&self.plugins, &settings).with_context(|| {
            format!(
                "cannot read plugins folder {}; build and install the plugins with `scripts/setup`, or pass --plugins",
                self.plugins.display()
            )
        })?;
        if pipeline.plugins().is_empty() {
            bail!("no detector plugin could be loaded from {}; see the errors above", self.plugins.display());
        }
        pipeline.feed(&ingested.events);

        let findings = pipeline.findings();
        let stdout = std::io::stdout();
        let mut out = stdout.lock();
        match self.format {
            Format::Json => output::write_json_lines(&mut out, &findings)?,
            Format::Table => output::write_table(&mut out, &findings)?,
        }
        out.flush()?;
        super::insights::record_and_route(&self.state_dir, &routing, &findings)?;
        tracing::info!(
            events = pipeline.events_processed(),
            malformed = ingested.malformed.len(),
            plugins = pipeline.plugins().len(),
            plugin_problems = pipeline.problems().len(),
            findings = findings.len(),
            "run complete"
        );
        Ok(ExitCode::SUCCESS)
    }
}
