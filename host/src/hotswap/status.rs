//! What a running host tells `devloop-host plugins list`, a separate process: one JSON file,
//! replaced atomically so a reader never sees half of it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::dispatch::Pipeline;

/// One loaded plugin, with counters summed over every version that ran in this host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginStatus {
    pub id: String,
    /// The file it was loaded from.
    pub file: PathBuf,
    pub version: String,
    /// The detector API (WIT) version it speaks.
    pub api_version: String,
    /// The language it says it is written in.
    pub language: String,
    /// The first 16 hex digits of the running file's sha256.
    pub content_hash: String,
    pub events_seen: u64,
    pub insights_emitted: u64,
    /// Time spent inside the plugin, in microseconds.
    pub time_spent_us: u64,
    /// CPU time used inside the plugin, in microseconds.
    #[serde(default)]
    pub cpu_time_us: u64,
    /// Times the sandbox stopped it (trap, deadline, memory cap, oversized result).
    pub failures: u32,
    /// Times it answered a batch with its own error.
    pub detector_errors: u32,
    pub quarantined: bool,
    /// Why it is quarantined, when that is not failures in a row (a budget it went over).
    #[serde(default)]
    pub quarantine_reason: Option<String>,
    pub last_failure: Option<String>,
    /// Insights rejected for a pattern it did not declare.
    #[serde(default)]
    pub undeclared_rejected: u64,
    /// Log records dropped for being over its log budget.
    #[serde(default)]
    pub log_records_dropped: u64,
    /// Versions it was swapped to while the host ran.
    pub swaps: u32,
    /// How the latest swap handed state over.
    pub last_handover: Option<String>,
    /// Why the newest file for it was refused (it runs the version before).
    pub rejected: Option<String>,
    /// Events it is behind the others, when it was slower than the feed and is fed apart
    /// until it catches up: lagging, not failing.
    #[serde(default)]
    pub lagging: Option<u64>,
}

/// A plugin file that could not be loaded and runs no earlier version either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedFile {
    pub file: PathBuf,
    pub reason: String,
}

/// The status file's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    /// The process id of the host that wrote it.
    pub pid: u32,
    /// When it was written, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
    pub events_processed: u64,
    pub plugins: Vec<PluginStatus>,
    pub rejected: Vec<RejectedFile>,
}

#[derive(Debug, Error)]
pub enum StatusError {
    #[error("cannot write the plugin status file {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the plugin status file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the plugin status file {path} is not valid ({source}); delete it, the next run writes a new one")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StatusFile {
    /// The pipeline's current status.
    pub fn of(pipeline: &Pipeline<'_>) -> Self {
        StatusFile {
            pid: std::process::id(),
            updated_ms: chrono::Utc::now().timestamp_millis(),
            events_processed: pipeline.events_processed() as u64,
            plugins: pipeline.statuses(),
            rejected: pipeline
                .rejected_files()
                .into_iter()
                .map(|(file, reason)| RejectedFile { file, reason })
                .collect(),
        }
    }

    /// Replaces `path` with this status.
    pub fn write(&self, path: &Path) -> Result<(), StatusError> {
        let error = |source| StatusError::Write { path: path.display().to_string(), source };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|source| error(source.into()))?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, json).map_err(error)?;
        std::fs::rename(&temporary, path).map_err(error)
    }

    /// Reads `path`; `None` when no host has written it yet.
    pub fn read(path: &Path) -> Result<Option<Self>, StatusError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StatusError::Read { path: path.display().to_string(), source }),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StatusError::Parse { path: path.display().to_string(), source })
    }
}
