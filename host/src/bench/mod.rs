//! `devloop-host bench`: where the time of a run goes, measured in one command on one folder,
//! with `jq -c . >/dev/null` over the same JSON files as the yardstick, so the figures read as
//! ratios that hold from one machine to the next.
//!
//! The sections, in the order [`Report`] prints them: the folder; ingest alone against jq; the
//! full run (`run --from-start` with every detector in the plugins folder) against jq, in this
//! process and as a process of its own, as a user starts it ([`process`]); each
//! detector's time inside its sandbox and its stored state; the full run with checkpoints only
//! at the end, for the overhead of the normal checkpoint policy; the sandbox's cost per event
//! against native code ([`crossing`]); the peak resident memory of each phase, the run in a
//! process of its own included. [`folder`] writes a large folder in devloop's formats when none
//! is given.

mod beside;
pub mod crossing;
pub mod folder;
pub mod process;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::dispatch::Pipeline;
use crate::ingest::{DevloopDirs, Feed};
use crate::model::Source;
use crate::routing::RoutingConfig;
use crate::runtime::{LoadError, Runtime};
use crate::store::{Store, StoreError};
use crate::stream::{self, CheckpointPolicy, Options, Stop, StreamError};

pub use beside::BesideFigures;
pub use crossing::{CrossingFigures, sdk_events};
pub use folder::FolderStats;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error("cannot write or read the benchmark folder")]
    Io(#[from] std::io::Error),
    #[error("cannot write the benchmark's events.db")]
    EventStore(#[from] rusqlite::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error("no detector plugin could be loaded from {0}")]
    NoPlugins(String),
    #[error("no JSON log found under {0}")]
    NoJson(PathBuf),
    #[error("cannot load {path} to run beside the detectors")]
    Beside {
        path: PathBuf,
        #[source]
        source: LoadError,
    },
    #[error("{jq} failed on {file}")]
    Jq { jq: PathBuf, file: PathBuf },
    #[error("{command} run --from-start failed: {reason}")]
    Process { command: PathBuf, reason: String },
    #[error("cannot start {origin} to measure the sandbox's crossing")]
    Crossing {
        origin: String,
        #[source]
        source: LoadError,
    },
    #[error("{detector} compiled into this binary failed: {reason}")]
    Native { detector: String, reason: String },
    #[error("cannot put {origin} back to its fresh state after a pass: {reason}")]
    Warming { origin: String, reason: String },
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub dirs: DevloopDirs,
    /// A folder of detector plugins; `None` measures the detectors compiled into the binary.
    pub plugins: Option<PathBuf>,
    /// The jq to compare with; `None` leaves the comparison out.
    pub jq: Option<PathBuf>,
    pub batch_size: usize,
    /// Scratch space for the state databases of the runs.
    pub work: PathBuf,
    /// Times each measurement is taken; the fastest counts (the others met a busier machine).
    pub repeat: u32,
    /// A plugin to measure the detectors beside (a slow one), besides alone.
    pub beside: Option<PathBuf>,
    /// This binary, to time `run --from-start` as its own process too; `None` leaves it out.
    pub command: Option<PathBuf>,
    /// Where compiled plugins are cached, for that process to load them from.
    pub cache_dir: Option<PathBuf>,
}

/// One detector in one full run.
#[derive(Debug, Clone, PartialEq)]
pub struct DetectorFigures {
    pub id: String,
    /// CPU time inside its calls: what it cost.
    pub cpu: Duration,
    /// Wall time inside its calls, which counts time the machine gave other threads too: on
    /// fewer cores than busy detectors, each one's calls last longer than they cost.
    pub time: Duration,
    /// Bytes of its state in the store at the end (none when it keeps no state).
    pub state_bytes: Option<usize>,
    /// Why it stopped taking part (over its budget, failing), if it did: its time then
    /// covers only part of the run.
    pub quarantined: Option<String>,
}

/// One full run through every detector.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFigures {
    pub events: u64,
    pub time: Duration,
    pub findings: usize,
    pub detectors: Vec<DetectorFigures>,
    pub peak_rss_kib: Option<u64>,
}

/// Everything `bench` prints.
#[derive(Debug, Clone)]
pub struct Report {
    pub folder: PathBuf,
    pub generated: Option<FolderStats>,
    pub json_files: usize,
    pub json_bytes: u64,
    pub json_records: u64,
    /// jq over the JSON files, or why it was not run.
    pub jq: Result<Duration, String>,
    /// Ingest of the JSON logs alone (what jq reads) and of every log.
    pub ingest_json: (u64, Duration),
    pub ingest_all: (u64, Duration),
    pub ingest_peak_rss_kib: Option<u64>,
    pub full: RunFigures,
    /// The full run as its own process ([`process`]), when [`BenchConfig::command`] is given.
    pub process: Option<process::ProcessRun>,
    pub end_only: RunFigures,
    pub checkpoint_policy: CheckpointPolicy,
    pub repeat: u32,
    /// The detectors beside [`BenchConfig::beside`], when it is given.
    pub beside: Option<BesideFigures>,
    /// The crossing of each measured detector that the folder has events for.
    pub crossings: Vec<CrossingFigures>,
}

/// Logs that are JSON, which jq can read too.
fn is_json(source: Source) -> bool {
    !matches!(source, Source::EventStore | Source::DaemonLog)
}

/// The quickest of `repeat` results of `measure` (at least one), by `time`: the slower ones met
/// a busier machine.
pub fn fastest<T, E>(
    repeat: u32,
    mut measure: impl FnMut() -> Result<T, E>,
    time: impl Fn(&T) -> Duration,
) -> Result<T, E> {
    let mut best = measure()?;
    for _ in 1..repeat {
        let again = measure()?;
        if time(&again) < time(&best) {
            best = again;
        }
    }
    Ok(best)
}

/// Reads every event the `readers` give; returns how many and how long it took.
pub fn ingest(dirs: &DevloopDirs, json_only: bool) -> Result<(u64, Duration), BenchError> {
    let readers = dirs.readers().into_iter().filter(|reader| !json_only || is_json(reader.slot().source)).collect();
    let started = Instant::now();
    let mut feed = Feed::new(readers);
    let mut events = 0;
    loop {
        let batch = feed.next_batch(4096)?;
        if batch.is_empty() {
            break;
        }
        events += batch.len() as u64;
    }
    Ok((events, started.elapsed()))
}

/// The JSON log files present under `dirs`.
pub fn json_files(dirs: &DevloopDirs) -> Vec<PathBuf> {
    dirs.readers()
        .iter()
        .map(|reader| reader.slot())
        .filter(|slot| is_json(slot.source) && slot.path.is_file())
        .map(|slot| slot.path.clone())
        .collect()
}

/// `jq -c . >/dev/null` over `files`, one process per file; `Err` says why it could not run.
pub fn jq(jq: &Path, files: &[PathBuf]) -> Result<Result<Duration, String>, BenchError> {
    let started = Instant::now();
    for file in files {
        let status = match Command::new(jq).args(["-c", "."]).arg(file).stdout(Stdio::null()).status() {
            Ok(status) => status,
            Err(error) => return Ok(Err(format!("{} cannot run ({error})", jq.display()))),
        };
        if !status.success() {
            return Err(BenchError::Jq { jq: jq.to_owned(), file: file.clone() });
        }
    }
    Ok(Ok(started.elapsed()))
}

/// The peak resident set of this process since the last [`reset_peak_rss`], from
/// `/proc/self/status` (Linux); `None` elsewhere.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Starts a new peak for [`peak_rss_kib`] (Linux `clear_refs` 5); a no-op elsewhere, where the
/// peak is then the process's.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// A `run --from-start` through every plugin in `config.plugins` (else every bundled one), quiet (no sink), with its own
/// state database under `config.work`.
pub fn full_run(
    config: &BenchConfig,
    runtime: &Runtime,
    policy: CheckpointPolicy,
    name: &str,
) -> Result<RunFigures, BenchError> {
    reset_peak_rss();
    let mut pipeline = Pipeline::new(runtime, config.batch_size);
    load_detectors(config, runtime, &mut pipeline)?;
    let state_path = config.work.join(name).join("state.db");
    if let Some(parent) = state_path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut store = Store::open(&state_path)?;
    let routing = RoutingConfig { rules: Vec::new(), ..RoutingConfig::default() };
    let options = Options {
        batch_size: config.batch_size,
        from_start: true,
        strict: false,
        follow: None,
        trace_delivered: false,
        checkpoint: policy,
    };
    let hooks = stream::Hooks { between_batches: &mut |_| {}, after_round: &mut |_| Ok(()) };
    let destination = stream::Destination { store: &mut store, routing: &routing };
    let started = Instant::now();
    let summary = stream::run(&config.dirs, &mut pipeline, destination, &options, &Stop::new(), hooks)?;
    let time = started.elapsed();
    let peak_rss_kib = peak_rss_kib();
    let states = store.snapshots()?;
    let detectors = pipeline
        .plugins()
        .iter()
        .map(|plugin| DetectorFigures {
            id: plugin.id().to_owned(),
            cpu: plugin.health().cpu_time,
            time: plugin.health().time_spent,
            state_bytes: states.get(plugin.id()).map(|snapshot| snapshot.state.len()),
            quarantined: plugin
                .health()
                .quarantined
                .then(|| plugin.health().quarantine_reason.clone().unwrap_or_else(|| "failing".to_owned())),
        })
        .collect();
    Ok(RunFigures { events: summary.events, time, findings: pipeline.findings().len(), detectors, peak_rss_kib })
}

/// Loads every plugin in `config.plugins` (else every bundled one) into `pipeline`.
fn load_detectors(config: &BenchConfig, runtime: &Runtime, pipeline: &mut Pipeline) -> Result<(), BenchError> {
    match &config.plugins {
        Some(folder) => pipeline.load_dir(folder, &BTreeMap::new())?,
        None => {
            for candidate in crate::detectors::bundled(runtime) {
                if let Ok(found) = candidate.found {
                    let _ = pipeline.start(found.compiled, Vec::new());
                }
            }
        }
    }
    if pipeline.plugins().is_empty() {
        let from = config.plugins.as_ref().map_or_else(|| "this binary".to_owned(), |dir| dir.display().to_string());
        return Err(BenchError::NoPlugins(from));
    }
    Ok(())
}

/// Measures everything [`Report`] shows, each phase [`BenchConfig::repeat`] times.
pub fn measure(config: &BenchConfig, runtime: &Runtime, generated: Option<FolderStats>) -> Result<Report, BenchError> {
    let files = json_files(&config.dirs);
    if files.is_empty() {
        return Err(BenchError::NoJson(config.dirs.project.clone()));
    }
    let json_bytes = files.iter().filter_map(|file| std::fs::metadata(file).ok()).map(|meta| meta.len()).sum();
    let mut json_records = 0;
    for file in &files {
        json_records += std::fs::read(file)?.iter().filter(|&&byte| byte == b'\n').count() as u64;
    }
    let repeat = config.repeat.max(1);
    let jq = match &config.jq {
        Some(path) => fastest(repeat, || jq(path, &files), |measured| *measured.as_ref().unwrap_or(&Duration::MAX))?,
        None => Err("jq not compared".to_owned()),
    };
    reset_peak_rss();
    let ingest_json = fastest(repeat, || ingest(&config.dirs, true), |(_, time)| *time)?;
    let ingest_all = fastest(repeat, || ingest(&config.dirs, false), |(_, time)| *time)?;
    let ingest_peak_rss_kib = peak_rss_kib();
    let checkpoint_policy = CheckpointPolicy::default();
    let end_only_policy = CheckpointPolicy { events: u64::MAX, interval: Duration::MAX };
    // Alternated, so that a busier moment of the machine does not fall on one policy only.
    let mut full = full_run(config, runtime, checkpoint_policy, "checkpoints")?;
    let mut end_only = full_run(config, runtime, end_only_policy, "end-only")?;
    for _ in 1..repeat {
        let again = full_run(config, runtime, checkpoint_policy, "checkpoints")?;
        if again.time < full.time {
            full = again;
        }
        let again = full_run(config, runtime, end_only_policy, "end-only")?;
        if again.time < end_only.time {
            end_only = again;
        }
    }
    let process = match &config.command {
        Some(command) => {
            let mut own = process::OwnRun::new(config, command, "process")?;
            Some(fastest(repeat, || own.run(), |run| run.time)?)
        }
        None => None,
    };
    let beside = config.beside.as_deref().map(|plugin| beside::beside(config, runtime, plugin)).transpose()?;
    let crossings = crossing::crossings(runtime, &config.dirs)?;
    Ok(Report {
        folder: config.dirs.project.clone(),
        generated,
        json_files: files.len(),
        json_bytes,
        json_records,
        jq,
        ingest_json,
        ingest_all,
        ingest_peak_rss_kib,
        full,
        process,
        end_only,
        checkpoint_policy,
        repeat,
        beside,
        crossings,
    })
}

fn seconds(time: Duration) -> f64 {
    time.as_secs_f64().max(1e-9)
}

fn rss(kib: Option<u64>) -> String {
    kib.map_or_else(|| "unknown".to_owned(), |kib| format!("{:.1} MiB", kib as f64 / 1024.0))
}

fn bytes(count: Option<usize>) -> String {
    count.map_or_else(|| "-".to_owned(), |count| count.to_string())
}

impl Report {
    /// `time` as a fraction of jq's time over the same files (below 1 is faster than jq).
    fn versus_jq(&self, time: Duration) -> String {
        match &self.jq {
            Ok(jq) => format!("{:.2}x jq's time", seconds(time) / seconds(*jq)),
            Err(_) => "jq not run".to_owned(),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "== folder (best of {} for every time below)", self.repeat)?;
        writeln!(f, "{}", self.folder.display())?;
        if let Some(generated) = &self.generated {
            writeln!(f, "generated {} records:", generated.total())?;
            for (file, count) in &generated.records {
                writeln!(f, "  {file:<28} {count:>9}")?;
            }
        }
        writeln!(
            f,
            "JSON files: {} ({} records, {:.1} MiB)",
            self.json_files,
            self.json_records,
            self.json_bytes as f64 / f64::from(1 << 20)
        )?;

        writeln!(f, "\n== ingest alone vs jq")?;
        match &self.jq {
            Ok(time) => writeln!(f, "jq -c . >/dev/null, JSON files: {:>9.3} s", time.as_secs_f64())?,
            Err(reason) => writeln!(f, "jq -c . >/dev/null: not measured: {reason}; install jq to compare")?,
        }
        let (events, time) = self.ingest_json;
        writeln!(
            f,
            "ingest, JSON files:    {events:>9} events {:>8.3} s = {}",
            time.as_secs_f64(),
            self.versus_jq(time)
        )?;
        let (events, time) = self.ingest_all;
        writeln!(
            f,
            "ingest, every log:     {events:>9} events {:>8.3} s = {}",
            time.as_secs_f64(),
            self.versus_jq(time)
        )?;

        writeln!(f, "\n== full run (every detector, normal checkpoints) vs jq")?;
        writeln!(
            f,
            "run --from-start:      {:>9} events {:>8.3} s = {} ({} detectors, {} findings)",
            self.full.events,
            self.full.time.as_secs_f64(),
            self.versus_jq(self.full.time),
            self.full.detectors.len(),
            self.full.findings
        )?;
        if let Some(process) = &self.process {
            writeln!(
                f,
                "the same, own process:                   {:>8.3} s = {} ({} findings; start-up and loading the detectors included)",
                process.time.as_secs_f64(),
                self.versus_jq(process.time),
                process.findings
            )?;
        }

        writeln!(f, "\n== per detector")?;
        writeln!(f, "{:<28} {:>9} {:>11} {:>12}  STATUS", "DETECTOR", "CPU s", "IN CALLS s", "STATE bytes")?;
        let mut detectors = self.full.detectors.clone();
        detectors.sort_by(|a, b| b.cpu.cmp(&a.cpu).then(a.id.cmp(&b.id)));
        for detector in &detectors {
            writeln!(
                f,
                "{:<28} {:>9.3} {:>11.3} {:>12}  {}",
                detector.id,
                detector.cpu.as_secs_f64(),
                detector.time.as_secs_f64(),
                bytes(detector.state_bytes),
                detector
                    .quarantined
                    .as_deref()
                    .map_or_else(|| "ok".to_owned(), |reason| format!("quarantined: {reason}"))
            )?;
        }

        writeln!(f, "\n== checkpoint overhead")?;
        writeln!(
            f,
            "every {} events or {:?}:  {:>8.3} s",
            self.checkpoint_policy.events,
            self.checkpoint_policy.interval,
            self.full.time.as_secs_f64()
        )?;
        writeln!(f, "only at the end:              {:>8.3} s", self.end_only.time.as_secs_f64())?;
        writeln!(f, "ratio (normal / end only): {:.3}x", seconds(self.full.time) / seconds(self.end_only.time))?;
        let state: usize = self.full.detectors.iter().filter_map(|detector| detector.state_bytes).sum();
        writeln!(f, "stored state, every detector: {state} bytes")?;

        if let Some(beside) = &self.beside {
            writeln!(f, "\n== beside a slow plugin (dispatch only, {} events in memory)", beside.events)?;
            writeln!(f, "every detector, alone:          {:>8.3} s", beside.alone.as_secs_f64())?;
            writeln!(
                f,
                "every detector, beside {}: {:>8.3} s = {:.2}x alone",
                beside.plugin,
                beside.detectors_beside.as_secs_f64(),
                seconds(beside.detectors_beside) / seconds(beside.alone)
            )?;
            writeln!(
                f,
                "{} itself through:      {:>8.3} s ({})",
                beside.plugin,
                beside.all_beside.as_secs_f64(),
                match (&beside.quarantined, beside.lagged) {
                    (Some(reason), _) => format!("quarantined: {reason}"),
                    (None, Some(behind)) =>
                        format!("ok; left behind, {behind} events behind when the detectors were through"),
                    (None, None) => "ok".to_owned(),
                }
            )?;
            let quarantined = match beside.detectors_quarantined.as_slice() {
                [] => "none".to_owned(),
                ids => ids.join(", "),
            };
            writeln!(f, "detectors quarantined:          {quarantined}")?;
            writeln!(
                f,
                "peak RSS alone / beside:        {} / {}",
                rss(beside.peak_rss_kib.0),
                rss(beside.peak_rss_kib.1)
            )?;
        }

        for crossing in &self.crossings {
            writeln!(
                f,
                "\n== the sandbox's crossing ({}, {} of the folder's events, in turn, median CPU time and ratio)",
                crossing.detector, crossing.events
            )?;
            let per_event = |time: Duration| time.as_secs_f64() * 1e6 / crossing.events as f64;
            let mut line = |label: String, time: Duration, over_native: f64| {
                writeln!(
                    f,
                    "{label:<46} {:>9.3} ms = {:>7.3} µs/event = {over_native:.2}x native",
                    time.as_secs_f64() * 1e3,
                    per_event(time),
                )
            };
            line("native (this binary), batch 1024:".to_owned(), crossing.native, 1.0)?;
            let prebuilt = &crossing.native_prebuilt;
            line("native, on events built beforehand:".to_owned(), prebuilt.time, prebuilt.over_native)?;
            for (batch_size, pass) in &crossing.component {
                line(format!("component, batch {batch_size}:"), pass.time, pass.over_native)?;
            }
            let fresh = &crossing.component_fresh;
            line("component, batch 1024, fresh instance:".to_owned(), fresh.time, fresh.over_native)?;
            let conversion = &crossing.conversion;
            line("converting the batches alone (host):".to_owned(), conversion.time, conversion.over_native)?;
        }

        writeln!(f, "\n== peak RSS")?;
        let mut memory = |label: &str, kib: Option<u64>| writeln!(f, "{label:<23}{}", rss(kib));
        memory("ingest, every log:", self.ingest_peak_rss_kib)?;
        memory("full run:", self.full.peak_rss_kib)?;
        memory("full run, end only:", self.end_only.peak_rss_kib)?;
        if let Some(process) = &self.process {
            memory("full run, own process:", process.peak_rss_kib)?;
        }
        Ok(())
    }
}
