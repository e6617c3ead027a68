//! What the pipeline says of each plugin it runs, for `devloop-host plugins list` (through
//! the status file a running host writes, see [`crate::hotswap::StatusFile`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

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
