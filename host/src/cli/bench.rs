//! `devloop-host bench ingest`: how fast devloop's logs are read and normalized, measured side
//! by side with `jq -c . >/dev/null` (parsing only) over the same JSON files in the same run.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use devloop_host::ingest::{SourceReader, Stream};
use devloop_host::model::Source;

use super::project::ProjectArgs;

/// Measures parts of devloop-host.
#[derive(Debug, Args)]
pub struct Bench {
    #[command(subcommand)]
    what: BenchCommand,
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

/// Logs that are JSON, which jq can read too.
fn is_json(source: Source) -> bool {
    !matches!(source, Source::EventStore | Source::DaemonLog)
}

/// Reads every event from `readers`; returns how many and how long it took.
fn ingest(readers: Vec<Box<dyn SourceReader>>) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut stream = Stream::new(readers);
    let mut events = 0;
    loop {
        let batch = stream.next_batch(4096)?;
        if batch.is_empty() {
            break;
        }
        events += batch.len() as u64;
    }
    Ok((events, started.elapsed()))
}

fn best_of<T>(
    repeat: u32,
    mut measure: impl FnMut() -> anyhow::Result<(T, Duration)>,
) -> anyhow::Result<(T, Duration)> {
    let (mut value, mut best) = measure()?;
    for _ in 1..repeat {
        let (again, elapsed) = measure()?;
        if elapsed < best {
            (value, best) = (again, elapsed);
        }
    }
    Ok((value, best))
}

fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

impl Bench {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        let BenchCommand::Ingest(bench) = self.what;
        let dirs = bench.project.devloop_dirs(None)?;
        let json_files: Vec<PathBuf> = dirs
            .readers()
            .iter()
            .map(|reader| reader.slot())
            .filter(|slot| is_json(slot.source) && slot.path.is_file())
            .map(|slot| slot.path.clone())
            .collect();
        if json_files.is_empty() {
            bail!("no JSON log found under {}; generate one with `scripts/make-large-devloop`", dirs.project.display());
        }
        let bytes: u64 = json_files.iter().filter_map(|file| std::fs::metadata(file).ok()).map(|meta| meta.len()).sum();
        let records: u64 = json_files
            .iter()
            .filter_map(|file| std::fs::read(file).ok())
            .map(|content| content.iter().filter(|&&byte| byte == b'\n').count() as u64)
            .sum();

        let (all_events, all_time) = best_of(bench.repeat, || ingest(dirs.readers()))?;
        let json_readers = || dirs.readers().into_iter().filter(|reader| is_json(reader.slot().source)).collect();
        let (json_events, json_time) = best_of(bench.repeat, || ingest(json_readers()))?;
        let (_, jq_time) = best_of(bench.repeat, || {
            let started = Instant::now();
            for file in &json_files {
                let status =
                    Command::new(&bench.jq).args(["-c", "."]).arg(file).stdout(Stdio::null()).status().with_context(
                        || format!("cannot run {}; install jq (apt-get install jq) or pass --jq", bench.jq.display()),
                    )?;
                if !status.success() {
                    bail!("{} failed on {}", bench.jq.display(), file.display());
                }
            }
            Ok(((), started.elapsed()))
        })?;

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
