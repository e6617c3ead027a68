//! What a plugin may use, and how it is stopped when it takes more.

use std::time::Duration;

use thiserror::Error;

use super::budget::Budget;

/// Per-plugin limits. The defaults suit detectors that look at a batch of a thousand events:
/// generous for honest work, small enough that a runaway plugin is noticed within seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Wall time one call may take before it is interrupted.
    pub call_deadline: Duration,
    /// Linear memory a plugin may grow to.
    pub memory_bytes: usize,
    /// Insights one call may return.
    pub max_insights_per_call: usize,
    /// Total bytes of text one call's insights may hold.
    pub max_result_bytes: usize,
    /// Failures in a row after which a plugin is quarantined for the rest of the run.
    pub quarantine_after: u32,
    /// What a plugin may use over the whole run.
    pub budget: Budget,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_deadline: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            max_insights_per_call: 1_000,
            max_result_bytes: 4 << 20,
            quarantine_after: 3,
            budget: Budget::default(),
        }
    }
}

/// How often the epoch ticks: the granularity of call deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

impl Limits {
    /// The call deadline in epoch ticks (at least one).
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.call_deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}

/// The sandbox stopped a plugin. Never the plugin's own error answer, which is a `String`
/// inside `Ok`.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum PluginFailure {
    #[error("ran past its deadline of {}ms and was interrupted", .limit.as_millis())]
    Deadline { limit: Duration },
    #[error("tried to grow its memory past the cap of {} MiB", .limit_bytes >> 20)]
    OutOfMemory { limit_bytes: usize },
    #[error("trapped: {message}")]
    Trap { message: String },
    #[error("returned an oversized result ({found}); the limit is {limit}")]
    OversizedResult { found: String, limit: String },
    #[error("is quarantined after {failures} failures in a row; fix it and reload it")]
    Quarantined { failures: u32 },
    #[error("went over its budget for this run: {used} {resource}, more than the {budget} allowed")]
    OverBudget { resource: &'static str, used: String, budget: String },
}

/// Caps a store's memory and records that the cap, not a bug, stopped the plugin.
pub(crate) struct MemoryLimiter {
    limit_bytes: usize,
    pub(crate) exceeded: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(limit_bytes: usize) -> Self {
        MemoryLimiter { limit_bytes, exceeded: false }
    }
}

/// The error a denied memory growth traps with.
#[derive(Debug, Error)]
#[error("memory cap of {limit_bytes} bytes exceeded (wanted {desired_bytes})")]
pub(crate) struct MemoryCapExceeded {
    limit_bytes: usize,
    desired_bytes: usize,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit_bytes {
            self.exceeded = true;
            return Err(wasmtime::Error::new(MemoryCapExceeded {
                limit_bytes: self.limit_bytes,
                desired_bytes: desired,
            }));
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
