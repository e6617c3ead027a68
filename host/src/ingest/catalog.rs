//! Where devloop writes each of its logs, and the reader for each.
//!
//! The project folder (`.devloop/`) holds most logs; the home folder (`~/.devloop/`) holds the
//! CLI-action and Amp thread logs by default. The two are looked at the same way, so a single
//! folder holding everything (a sample, or a project that set devloop's paths) works too.

use std::path::{Path, PathBuf};

use super::amp_thread::AmpThreadLog;
use super::context_store::ContextStoreReader;
use super::daemon_log::DaemonLogReader;
use super::event_store::EventStoreReader;
use super::jsonl::{JsonlReader, LineFormat};
use super::performance_snapshot::PerformanceSnapshotReader;
use super::reader::{Slot, SourceReader};
use super::{agent_audit, cli_actions, feedback, metrics, security_audit, telemetry};
use crate::model::Source;

/// The folders devloop writes to.
#[derive(Debug, Clone)]
pub struct DevloopDirs {
    /// The project's `.devloop` folder.
    pub project: PathBuf,
    /// devloop's home folder, `~/.devloop` by default.
    pub home: Option<PathBuf>,
}

enum Kind {
    Lines(fn(&[u8], u64) -> Result<crate::model::Event, String>),
    AmpThread,
    DaemonLog,
    EventStore,
    PerformanceSnapshot,
    ContextStore,
}

/// Every log, relative to the folder it lives in.
const PROJECT_LOGS: &[(&str, Source)] = &[
    ("events.jsonl", Source::Telemetry),
    ("agent-audit.log", Source::AgentAudit),
    ("feedback/feedback.jsonl", Source::Feedback),
    ("feedback/performance.json", Source::Feedback),
    ("performance/metrics.jsonl", Source::Performance),
    ("events.db", Source::EventStore),
    ("security-audit.log", Source::SecurityAudit),
    ("devloop.log", Source::DaemonLog),
    ("context/immediate.json", Source::ContextStore),
    ("context/relevant.json", Source::ContextStore),
    ("context/background.json", Source::ContextStore),
    ("context/auto_fixed.json", Source::ContextStore),
];

const HOME_LOGS: &[(&str, Source)] =
    &[("cli-actions.jsonl", Source::CliActions), ("amp-thread-log.jsonl", Source::AmpThread)];

fn kind(relative: &str) -> Kind {
    match relative {
        "events.jsonl" => Kind::Lines(telemetry::parse_line),
        "agent-audit.log" => Kind::Lines(agent_audit::parse_line),
        "feedback/feedback.jsonl" => Kind::Lines(feedback::parse_line),
        "feedback/performance.json" => Kind::PerformanceSnapshot,
        "performance/metrics.jsonl" => Kind::Lines(metrics::parse_line),
        "events.db" => Kind::EventStore,
        "security-audit.log" => Kind::Lines(security_audit::parse_line),
        "devloop.log" => Kind::DaemonLog,
        "amp-thread-log.jsonl" => Kind::AmpThread,
        relative if super::context_store::TIER_FILES.contains(&relative) => Kind::ContextStore,
        _ => Kind::Lines(cli_actions::parse_line),
    }
}

fn reader(slot: Slot, relative: &str) -> Box<dyn SourceReader> {
    match kind(relative) {
        Kind::Lines(parse) => Box::new(JsonlReader::new(slot, LineFormat::OnePerLine(parse))),
        Kind::AmpThread => Box::new(JsonlReader::new(slot, LineFormat::AmpThread(AmpThreadLog::default()))),
        Kind::DaemonLog => Box::new(DaemonLogReader::new(slot)),
        Kind::EventStore => Box::new(EventStoreReader::new(slot)),
        Kind::PerformanceSnapshot => Box::new(PerformanceSnapshotReader::new(slot)),
        Kind::ContextStore => Box::new(ContextStoreReader::new(slot)),
    }
}

fn same_folder(first: &Path, second: &Path) -> bool {
    match (std::fs::canonicalize(first), std::fs::canonicalize(second)) {
        (Ok(first), Ok(second)) => first == second,
        _ => first == second,
    }
}

impl DevloopDirs {
    /// A reader for every place a log may be, whether or not it exists yet (follow mode picks
    /// up files created later). The home logs are also looked for in the project folder.
    pub fn readers(&self) -> Vec<Box<dyn SourceReader>> {
        let mut readers = Vec::new();
        for (relative, source) in PROJECT_LOGS.iter().chain(HOME_LOGS) {
            readers.push(reader(Slot { source: *source, path: self.project.join(relative) }, relative));
        }
        if let Some(home) = self.home.as_ref().filter(|home| !same_folder(home, &self.project)) {
            for (relative, source) in HOME_LOGS {
                readers.push(reader(Slot { source: *source, path: home.join(relative) }, relative));
            }
        }
        readers
    }

    /// The folders that exist, to watch and to tell a missing setup from an empty one.
    pub fn existing(&self) -> Vec<&Path> {
        std::iter::once(self.project.as_path()).chain(self.home.as_deref()).filter(|dir| dir.is_dir()).collect()
    }
}
