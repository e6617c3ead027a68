//! `devloop-host bench`: the whole run measured in one go (see [`devloop_host::bench`]), and
//! `bench ingest`: how fast devloop's logs are read and normalized, side by side with
//! `jq -c . >/dev/null` (parsing only) over the same JSON files in the same run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use devloop_host::bench::{self, BenchConfig};
use devloop_host::dispatch::DEFAULT_BATCH_SIZE;
use devloop_host::ingest::DevloopDirs;
use devloop_host::runtime::{Limits, Runtime, RuntimeConfig};

use super::project::ProjectArgs;

/// Measures devloop-host: without a subcommand, ingest and the full run with every detector
/// against `jq -c .`, per-detector time and state, checkpoint overhead and peak memory, on a
/// large folder it writes in devloop's formats (or on --devloop-dir).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Bench {
    #[command(subcommand)]
    what: Option<BenchCommand>,
    #[command(flatten)]
    full: FullBench,
}

#[derive(Debug, Args)]
struct FullBench {
    /// An existing project devloop folder to measure instead of writing one.
    #[arg(long)]
    devloop_dir: Option<PathBuf>,
    /// devloop's home folder beside --devloop-dir (where cli-actions.jsonl is).
    #[arg(long, requires = "devloop_dir")]
    home_devloop_dir: Option<PathBuf>,
    /// Records to write when no --devloop-dir is given.
    #[arg(long, default_value_t = 300_000)]
    events: u64,
    /// Seed of the written folder (the same seed writes the same folder).
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Where to write the folder and the runs' state (default: a fresh folder under the
    /// system's temporary folder, removed afterwards).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Folder of detector plugins (`*.wasm` components) to measure instead of the bundled ones.
    #[arg(long, env = "DEVLOOP_HOST_PLUGINS")]
    plugins: Option<PathBuf>,
    /// The jq to compare with.
    #[arg(long, default_value = "jq")]
    jq: PathBuf,
    /// Events per plugin call.
    #[arg(long, default_value_t = DEFAULT_BATCH_SIZE)]
    batch_size: usize,
    /// Where compiled plugins are cached (default: ~/.cache/devloop-host/components).
    #[arg(long, env = "DEVLOOP_HOST_CACHE")]
    cache_dir: Option<PathBuf>,
    /// Times to repeat each measurement (the fastest counts).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// A plugin (`.wasm`) to run beside the detectors, e.g. a slow one: adds their time
    /// beside it against their time alone.
    #[arg(long, value_name = "FILE")]
    beside: Option<PathBuf>,
}

impl FullBench {
    fn run(self) -> anyhow::Result<ExitCode> {
        let scratch = match &self.work_dir {
            Some(dir) => dir.clone(),
            None => std::env::temp_dir().join(format!("devloop-host-bench-{}", std::process::id())),
        };
        std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
        let result = self.measure(&scratch);
        if self.work_dir.is_none() {
            let _ = std::fs::remove_dir_all(&scratch);
        }
        let report = result?;
        println!("{report}");
        Ok(ExitCode::SUCCESS)
    }

    fn measure(&self, scratch: &std::path::Path) -> anyhow::Result<bench::Report> {
        let (dirs, generated) = match &self.devloop_dir {
            Some(project) => (DevloopDirs { project: project.clone(), home: self.home_devloop_dir.clone() }, None),
            None => {
                let dirs = DevloopDirs { project: scratch.join("proj/.devloop"), home: Some(scratch.join("home")) };
                let home = dirs.home.clone().unwrap_or_default();
                let stats = bench::folder::write(&dirs.project, &home, self.events, self.seed)
                    .with_context(|| format!("cannot write the benchmark folder under {}", scratch.display()))?;
                (dirs, Some(stats))
            }
        };
        if dirs.existing().is_empty() {
            bail!(
                "devloop folder {} not found; pass --devloop-dir to an existing .devloop folder",
                dirs.project.display()
            );
        }
        let cache_dir = self.cache_dir.clone().or_else(super::default_cache_dir);
        let runtime =
            Arc::new(Runtime::new(RuntimeConfig { limits: Limits::default(), cache_dir: cache_dir.clone() })?);
        let config = BenchConfig {
            dirs,
            plugins: self.plugins.clone(),
            jq: Some(self.jq.clone()),
            batch_size: self.batch_size,
            work: scratch.to_owned(),
            repeat: self.repeat,
            beside: self.beside.clone(),
            command: std::env::current_exe().ok(),
            cache_dir,
        };
        Ok(bench::measure(&config, &runtime, generated)?)
    }
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Reads and normalizes every log from the start (as `run --from-start` does, without
    /// plugins) and runs `jq -c . >/dev/null` over the same JSON files.
    Ingest(IngestBench),
}

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  scripts/make-large-devloop /tmp/large && devloop-host bench ingest --devloop-dir /tmp/large/.devloop")]
struct IngestBench {
    #[command(flatten)]
    project: ProjectArgs,
    /// The jq to compare with.
    #[arg(long, default_value = "jq")]
    jq: PathBuf,
    /// Times to repeat each measurement (the best run counts).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

impl Bench {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let Some(BenchCommand::Ingest(options)) = self.what else { return self.full.run() };
        let dirs = options.project.devloop_dirs(None)?;
        let json_files = bench::json_files(&dirs);
        if json_files.is_empty() {
            bail!("no JSON log found under {}; generate one with `scripts/make-large-devloop`", dirs.project.display());
        }
        let bytes: u64 = json_files.iter().filter_map(|file| std::fs::metadata(file).ok()).map(|meta| meta.len()).sum();
        let records: u64 = json_files
            .iter()
            .filter_map(|file| std::fs::read(file).ok())
            .map(|content| content.iter().filter(|&&byte| byte == b'\n').count() as u64)
            .sum();

        let by_time = |(_, time): &(u64, Duration)| *time;
        let (all_events, all_time) = bench::fastest(options.repeat, || bench::ingest(&dirs, false), by_time)?;
        let (json_events, json_time) = bench::fastest(options.repeat, || bench::ingest(&dirs, true), by_time)?;
        let jq_time = bench::fastest(
            options.repeat,
            || -> anyhow::Result<Duration> {
                bench::jq(&options.jq, &json_files)?
                    .map_err(|reason| anyhow::anyhow!("{reason}; install jq (apt-get install jq) or pass --jq"))
            },
            |time| *time,
        )?;

        println!(
            "JSON files: {} ({} records, {:.1} MiB)",
            json_files.len(),
            records,
            bytes as f64 / f64::from(1 << 20)
        );
        println!(
            "devloop-host, JSON files:  {json_events:>9} events in {:>8.3} s = {:>10.0} events/s",
            json_time.as_secs_f64(),
            per_second(json_events, json_time)
        );
        println!(
            "jq -c . >/dev/null:        {records:>9} records in {:>8.3} s = {:>10.0} records/s",
            jq_time.as_secs_f64(),
            per_second(records, jq_time)
        );
        println!(
            "devloop-host, every log:   {all_events:>9} events in {:>8.3} s = {:>10.0} events/s",
            all_time.as_secs_f64(),
            per_second(all_events, all_time)
        );
        println!(
            "ratio (jq time / devloop-host time, same files): {:.2}x",
            jq_time.as_secs_f64() / json_time.as_secs_f64().max(1e-9)
        );
        Ok(ExitCode::SUCCESS)
    }
}
