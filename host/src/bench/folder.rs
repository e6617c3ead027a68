//! A large devloop folder written in devloop's own formats (docs/events.md, FORMATS.md), so the
//! benchmark needs no Python and measures the same bytes on every machine: three weeks of two
//! developers, every record derived from a fixed seed.
//!
//! The records copy the shapes devloop 0.10.3's writers produce (`json.dumps` spacing, ISO times
//! with `+00:00`, float epochs printed as Python's `repr`), and the traffic is made to give the
//! detectors work: bursts of one command, failures and their reruns, agents that fail and are
//! worked around, slow operations among fast ones, thumbs-down feedback. The Amp thread log is
//! left out: devloop re-appends a whole thread per record, which makes it a poor bulk source.

use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Local, Utc};

/// Where the generated folder ends up and what it holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FolderStats {
    /// Records written per file, in the order of `FILES`.
    pub records: Vec<(&'static str, u64)>,
}

impl FolderStats {
    pub fn total(&self) -> u64 {
        self.records.iter().map(|(_, count)| count).sum()
    }
}

/// The files written, relative to the project's `.devloop` (or the home folder for the CLI log),
/// and how often each is picked, out of 100.
const FILES: [(&str, u64); 8] = [
    ("cli-actions.jsonl", 36),
    ("events.jsonl", 18),
    ("performance/metrics.jsonl", 14),
    ("agent-audit.log", 9),
    ("feedback/feedback.jsonl", 4),
    ("security-audit.log", 5),
    ("devloop.log", 7),
    ("events.db", 7),
];

const AGENTS: [&str; 5] = ["linter", "formatter", "type-checker", "test-runner", "security-scanner"];
const COMMANDS: [&str; 8] = [
    "bd ready --json",
    "status",
    "bd show proj-4f",
    "insights list",
    "telemetry stats",
    "audit recent",
    "agents list",
    "verify-job --watch",
];
/// 2026-11-02T08:00:00Z: three weeks before devloop's fixture scenario.
const START_SECONDS: f64 = 1_793_606_400.0;

/// A small deterministic generator (splitmix64): the folder is the same for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            (b >> 48) & 0x3fff | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

fn iso(seconds: f64) -> String {
    let time = DateTime::<Utc>::from_timestamp_micros((seconds * 1e6) as i64).unwrap_or_default();
    time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// devloop.log's `%Y-%m-%d %H:%M:%S`, in the local zone as Python's logging writes it.
fn local_stamp(seconds: f64) -> String {
    let time = DateTime::<Utc>::from_timestamp(seconds as i64, 0).unwrap_or_default();
    time.with_timezone(&Local).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A float as Python's `repr` prints it (`0.0`, `1795592719.41`).
fn py_float(value: f64) -> String {
    format!("{value:?}")
}

/// What one developer is doing: the thread they are in and the command they keep running.
struct Developer {
    home: &'static str,
    thread: String,
    burst: Option<(&'static str, u32)>,
    failed: Option<&'static str>,
}

struct Writers {
    files: Vec<BufWriter<std::fs::File>>,
    db: rusqlite::Connection,
    counts: [u64; FILES.len()],
}

/// Writes about `events` records into `project` (a `.devloop` folder) and `home` (devloop's home
/// folder, for `cli-actions.jsonl`), replacing what is there.
pub fn write(project: &Path, home: &Path, events: u64, seed: u64) -> Result<FolderStats, super::BenchError> {
    std::fs::create_dir_all(project.join("feedback"))?;
    std::fs::create_dir_all(project.join("performance"))?;
    std::fs::create_dir_all(home)?;
    let mut files = Vec::new();
    for (name, _) in &FILES[..FILES.len() - 1] {
        let folder = if *name == "cli-actions.jsonl" { home } else { project };
        files.push(BufWriter::with_capacity(1 << 20, std::fs::File::create(folder.join(name))?));
    }
    let db_path = project.join("events.db");
    if db_path.exists() {
        std::fs::remove_file(&db_path)?;
    }
    let db = rusqlite::Connection::open(&db_path)?;
    db.execute_batch(
        "CREATE TABLE events (id TEXT PRIMARY KEY, type TEXT NOT NULL, timestamp REAL NOT NULL, source TEXT NOT NULL,
           payload TEXT NOT NULL, priority INTEGER NOT NULL, sequence INTEGER UNIQUE NOT NULL, created_at REAL NOT NULL);
         CREATE INDEX idx_events_type ON events(type);
         CREATE INDEX idx_events_timestamp ON events(timestamp);
         CREATE INDEX idx_events_source ON events(source);
         CREATE INDEX idx_events_sequence ON events(sequence);
         CREATE TABLE replay_state (agent_name TEXT PRIMARY KEY, last_processed_sequence INTEGER DEFAULT 0,
           last_processed_timestamp REAL DEFAULT 0, updated_at REAL NOT NULL);
         BEGIN;",
    )?;
    let mut writers = Writers { files, db, counts: [0; FILES.len()] };
    let mut rng = Rng(seed);
    let mut developers = [
        Developer { home: "/home/ana/proj", thread: format!("T-{}", rng.uuid()), burst: None, failed: None },
        Developer { home: "/home/ben/proj", thread: format!("T-{}", rng.uuid()), burst: None, failed: None },
    ];
    // Three weeks, whatever the count: the mean gap between records follows from it.
    let mean_gap = 21.0 * 86_400.0 / events.max(1) as f64;
    let mut now = START_SECONDS;
    for _ in 0..events {
        now += mean_gap * (0.2 + 1.6 * (rng.below(1000) as f64 / 1000.0));
        let file = pick_file(rng.below(100));
        let developer = &mut developers[rng.below(2) as usize];
        writers.record(file, now, &mut rng, developer)?;
    }
    writers.db.execute_batch("COMMIT;")?;
    for file in &mut writers.files {
        file.flush()?;
    }
    Ok(FolderStats { records: FILES.iter().map(|(name, _)| *name).zip(writers.counts).collect() })
}

/// The file a roll out of 100 falls on, by the weights of [`FILES`].
fn pick_file(roll: u64) -> usize {
    let mut left = roll;
    for (index, (_, weight)) in FILES.iter().enumerate() {
        if left < *weight {
            return index;
        }
        left -= weight;
    }
    FILES.len() - 1
}

impl Writers {
    fn record(
        &mut self,
        file: usize,
        now: f64,
        rng: &mut Rng,
        developer: &mut Developer,
    ) -> Result<(), super::BenchError> {
        let agent = rng.pick(&AGENTS);
        let mut line = String::with_capacity(512);
        let time = iso(now);
        match FILES[file].0 {
            "cli-actions.jsonl" => {
                // A thread lasts about a day's work, as Amp threads do.
                if rng.below(1500) == 0 {
                    developer.thread = format!("T-{}", rng.uuid());
                }
                let command = match (developer.burst, developer.failed) {
                    (_, Some(failed)) if rng.chance(60) => {
                        developer.failed = None;
                        failed
                    }
                    (Some((command, left)), _) => {
                        developer.burst = (left > 1).then_some((command, left - 1));
                        command
                    }
                    _ => {
                        let command = rng.pick(&COMMANDS);
                        if rng.chance(8) {
                            developer.burst = Some((command, 2 + rng.below(5) as u32));
                        }
                        command
                    }
                };
                let exit_code = u64::from(rng.chance(9));
                if exit_code == 1 {
                    developer.failed = Some(command);
                }
                let error = if exit_code == 1 { "\"command failed\"" } else { "null" };
                let thread = &developer.thread;
                let _ = write!(
                    line,
                    r#"{{"timestamp": "{time}", "command": "{command}", "exit_code": {exit_code}, "thread_id": "{thread}", "thread_url": "https://ampcode.com/threads/{thread}", "duration_ms": {}, "user": null, "working_dir": "{}", "environment": {{"AMP_THREAD_ID": "{thread}", "AMP_THREAD_URL": "https://ampcode.com/threads/{thread}"}}, "output_size_bytes": {}, "error_message": {error}, "notes": null}}"#,
                    50 + rng.below(900),
                    developer.home,
                    rng.below(20_000),
                );
            }
            "events.jsonl" => {
                let findings = if rng.chance(30) { rng.below(6) } else { 0 };
                let success = !rng.chance(if agent == "formatter" { 20 } else { 4 });
                let levels = if findings > 0 { r#"["warning"]"# } else { "[]" };
                let message =
                    if success { format!("Found {findings} issues in src/app.py") } else { format!("{agent} failed") };
                let _ = write!(
                    line,
                    r#"{{"event_type": "agent_executed", "timestamp": "{time}", "agent": "{agent}", "duration_ms": {}, "findings": {findings}, "severity_levels": {levels}, "success": {success}, "details": {{"message": "{message}", "findings_count": {findings}}}}}"#,
                    20 + rng.below(800),
                );
            }
            "performance/metrics.jsonl" => {
                let duration =
                    if rng.chance(1) { 5.0 + rng.below(20) as f64 } else { 0.05 + rng.below(500) as f64 / 1000.0 };
                let start = now - duration;
                let memory = 28.0 + rng.below(4096) as f64 / 1024.0;
                let usage = |time: f64| {
                    format!(
                        r#"{{"timestamp": {}, "cpu_percent": 0.0, "memory_mb": {}, "memory_percent": 0.1197, "disk_read_mb": 17145.6767578125, "disk_write_mb": 56388.7265625, "network_bytes_sent": 1596833, "network_bytes_recv": 597277768}}"#,
                        py_float(time),
                        py_float(memory)
                    )
                };
                let _ = write!(
                    line,
                    r#"{{"operation_name": "agent.{agent}.handle", "start_time": {}, "end_time": {}, "duration": {}, "success": {}, "error_message": null, "metadata": {{"event_type": "file:modified", "agent_name": "{agent}"}}, "resource_usage_start": {}, "resource_usage_end": {}, "cpu_used": 0.0, "memory_used_mb": 0.01171875}}"#,
                    py_float(start),
                    py_float(now),
                    py_float(duration),
                    !rng.chance(3),
                    usage(start),
                    usage(now),
                );
            }
            "agent-audit.log" => {
                if rng.chance(50) {
                    let path = format!("{}/src/module_{}.py", developer.home, rng.below(40));
                    let _ = write!(
                        line,
                        r#"{{"timestamp": "{time}", "agent_name": "formatter", "action_type": "fix_applied", "message": "Applied formatting fix to module.py", "success": true, "duration_ms": {}, "file_modifications": [{{"path": "{path}", "action": "modified", "size_bytes_before": 4, "size_bytes_after": 6, "line_count_before": 1, "line_count_after": 1, "diff_lines": ["--- {path}", "+++ {path}", "@@ -1 +1 @@", "-x=1\n", "+x = 1\n"], "hash_before": "{:016x}{:016x}{:016x}{:016x}", "hash_after": "{:016x}{:016x}{:016x}{:016x}"}}], "command": null, "exit_code": null, "error": null, "findings_count": null, "context": {{"fix_type": "formatting", "severity": "low"}}}}"#,
                        10 + rng.below(90),
                        rng.next(),
                        rng.next(),
                        rng.next(),
                        rng.next(),
                        rng.next(),
                        rng.next(),
                        rng.next(),
                        rng.next(),
                    );
                } else {
                    let failed = rng.chance(15);
                    let (exit_code, error) = if failed { (1, "\"2 failed\"") } else { (0, "null") };
                    let _ = write!(
                        line,
                        r#"{{"timestamp": "{time}", "agent_name": "test-runner", "action_type": "command_executed", "message": "Tests {}", "success": {}, "duration_ms": {}, "file_modifications": [], "command": "pytest -q", "exit_code": {exit_code}, "error": {error}, "findings_count": null, "context": null}}"#,
                        if failed { "failed" } else { "passed" },
                        !failed,
                        500 + rng.below(9000),
                    );
                }
            }
            "feedback/feedback.jsonl" => {
                let (kind, value, comment) = match rng.below(4) {
                    0 => ("thumbs_down", "true", "\"false positive\""),
                    1 => ("thumbs_up", "true", "null"),
                    2 => ("rating", "2", "null"),
                    _ => ("dismiss", "null", "null"),
                };
                let _ = write!(
                    line,
                    r#"{{"id": "{}", "agent_name": "{agent}", "event_type": "agent:{agent}:completed", "feedback_type": "{kind}", "value": {value}, "comment": {comment}, "context": {{"file": "src/app.py"}}, "timestamp": {}}}"#,
                    rng.uuid(),
                    py_float(now),
                );
            }
            "security-audit.log" => {
                let blocked = rng.chance(10);
                let (command, exit_code, reason) =
                    if blocked { ("curl", -1, "\"network access not allowed\"") } else { ("pytest", 0, "null") };
                let _ = write!(
                    line,
                    r#"{{"timestamp": "{time}", "sandbox_mode": "bubblewrap", "command": "{command}", "args_count": 2, "cwd": "{}", "exit_code": {exit_code}, "duration_ms": {}, "memory_peak_mb": 42.5, "cpu_usage_percent": 12.0, "blocked": {blocked}, "block_reason": {reason}, "timeout": false, "error": null}}"#,
                    developer.home,
                    if blocked { 0 } else { 100 + rng.below(5000) },
                );
            }
            "devloop.log" => {
                let logger = format!("agent.{agent}");
                let (mark, message) = if rng.chance(5) { ("✗", "failed") } else { ("✓", "No issues") };
                let _ = write!(
                    line,
                    "{} | INFO     | {logger:<20} | {mark} {agent}: {message} ({}.{:02}s)",
                    local_stamp(now),
                    rng.below(3),
                    rng.below(100),
                );
            }
            _ => {
                let sequence = self.counts[file] + 1;
                let (kind, source, payload) = if rng.chance(50) {
                    let path = format!("src/module_{}.py", rng.below(40));
                    let payload = format!(r#"{{"path": "{path}", "absolute_path": "{}/{path}"}}"#, developer.home);
                    ("file:modified".to_owned(), "filesystem", payload)
                } else {
                    let payload = format!(
                        r#"{{"agent_name": "{agent}", "success": true, "duration": {}, "message": "No issues", "data": {{"findings_count": 0}}, "error": null}}"#,
                        py_float(rng.below(3000) as f64 / 1000.0)
                    );
                    (format!("agent:{agent}:completed"), agent, payload)
                };
                self.db.execute(
                    "INSERT INTO events (id, type, timestamp, source, payload, priority, sequence, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
                    rusqlite::params![rng.uuid(), kind, now, source, payload, sequence, now + 0.001],
                )?;
                self.counts[file] += 1;
                return Ok(());
            }
        }
        line.push('\n');
        self.files[file].write_all(line.as_bytes())?;
        self.counts[file] += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{DevloopDirs, Feed};

    fn written(seed: u64) -> anyhow::Result<(tempfile::TempDir, DevloopDirs, FolderStats)> {
        let root = tempfile::tempdir()?;
        let home = root.path().join("home");
        let dirs = DevloopDirs { project: root.path().join("proj/.devloop"), home: Some(home.clone()) };
        let stats = write(&dirs.project, &home, 2_000, seed)?;
        Ok((root, dirs, stats))
    }

    #[test]
    fn every_record_reads_back_as_one_event_and_none_is_malformed() -> anyhow::Result<()> {
        let (_root, dirs, stats) = written(7)?;
        assert_eq!(stats.total(), 2_000);
        assert!(stats.records.iter().all(|(_, count)| *count > 0), "{stats:?}");
        let mut feed = Feed::new(dirs.readers());
        let mut events = 0;
        loop {
            let batch = feed.next_batch(512)?;
            if batch.is_empty() {
                break;
            }
            events += batch.len() as u64;
        }
        assert_eq!(feed.take_malformed(), Vec::new());
        assert_eq!(events, stats.total());
        Ok(())
    }

    #[test]
    fn the_same_seed_writes_the_same_logs() -> anyhow::Result<()> {
        let read = |seed| -> anyhow::Result<Vec<u8>> {
            let (root, _, _) = written(seed)?;
            Ok(std::fs::read(root.path().join("home/cli-actions.jsonl"))?)
        };
        assert_eq!(read(3)?, read(3)?);
        assert_ne!(read(3)?, read(4)?);
        Ok(())
    }
}
