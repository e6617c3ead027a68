//! What one plugin may use over a whole run, beside what one call may ([`super::Limits`]).
//!
//! A call's deadline and memory cap stop a plugin that runs away in one call; they do not stop
//! one that stays just under them on every call, floods the log, reports thousands of findings
//! or saves a huge state each time. A budget counts across the run, and a plugin that goes
//! over one is quarantined with the reason, while the others go on. Log records are the
//! exception: past their budget they are dropped and counted, since a chatty plugin's findings
//! are still worth having.
//!
//! Time is counted twice. CPU time (the worker thread's own clock) is what a plugin costs,
//! and it is the same whether the machine is idle or busy with other plugins, so its budget is
//! the tight one. Wall time also counts what a plugin waits for; its budget is looser and
//! catches a plugin that blocks rather than computes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Per-plugin, per-run budgets. The defaults leave room for several times what the bundled
/// detectors use on a first replay of weeks of logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// CPU time inside the plugin over the run, to start with…
    pub cpu_base: Duration,
    /// …plus this much for every event it is given.
    pub cpu_per_event: Duration,
    /// Wall time inside the plugin over the run, to start with…
    pub time_base: Duration,
    /// …plus this much for every event it is given.
    pub time_per_event: Duration,
    /// Log records (log calls and lines of stdout or stderr) one call may write; the rest are
    /// dropped and counted.
    pub log_records_per_call: u64,
    /// Log records over the run; past it, every record is dropped and counted.
    pub log_records: u64,
    /// Distinct findings (fingerprints) it may report over the run.
    pub findings: usize,
    /// Insights it may return over the run, repeated reports of a finding included.
    pub updates: u64,
    /// Bytes of one saved state (snapshot).
    pub snapshot_bytes: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            cpu_base: Duration::from_secs(5),
            cpu_per_event: Duration::from_micros(100),
            time_base: Duration::from_secs(20),
            time_per_event: Duration::from_micros(400),
            log_records_per_call: 100,
            log_records: 10_000,
            findings: 1_000,
            updates: 50_000,
            snapshot_bytes: 16 << 20,
        }
    }
}

/// A budget setting that does not parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("budget setting `{setting}`: {problem}; write NAME=VALUE with NAME one of {}", Budget::NAMES.join(", "))]
pub struct BudgetError {
    setting: String,
    problem: String,
}

impl Budget {
    /// The names [`Budget::set`] takes.
    pub const NAMES: &'static [&'static str] = &[
        "cpu-base-ms",
        "cpu-per-event-us",
        "time-base-ms",
        "time-per-event-us",
        "log-records-per-call",
        "log-records",
        "findings",
        "updates",
        "snapshot-bytes",
    ];

    /// Changes one budget from a `NAME=VALUE` setting, e.g. `findings=5000`.
    pub fn set(&mut self, setting: &str) -> Result<(), BudgetError> {
        let error = |problem: &str| BudgetError { setting: setting.to_owned(), problem: problem.to_owned() };
        let (name, value) = setting.split_once('=').ok_or_else(|| error("no `=`"))?;
        let value: u64 = value.trim().parse().map_err(|_| error("the value is not a whole number"))?;
        let size = || usize::try_from(value).map_err(|_| error("the value is too large"));
        match name.trim() {
            "cpu-base-ms" => self.cpu_base = Duration::from_millis(value),
            "cpu-per-event-us" => self.cpu_per_event = Duration::from_micros(value),
            "time-base-ms" => self.time_base = Duration::from_millis(value),
            "time-per-event-us" => self.time_per_event = Duration::from_micros(value),
            "log-records-per-call" => self.log_records_per_call = value,
            "log-records" => self.log_records = value,
            "findings" => self.findings = size()?,
            "updates" => self.updates = value,
            "snapshot-bytes" => self.snapshot_bytes = size()?,
            _ => return Err(error("unknown name")),
        }
        Ok(())
    }

    /// The CPU time allowed after `events` events.
    pub fn cpu_for(&self, events: u64) -> Duration {
        grown(self.cpu_base, self.cpu_per_event, events)
    }

    /// The wall time allowed after `events` events.
    pub fn time_for(&self, events: u64) -> Duration {
        grown(self.time_base, self.time_per_event, events)
    }
}

fn grown(base: Duration, per_event: Duration, events: u64) -> Duration {
    base.saturating_add(per_event.saturating_mul(u32::try_from(events).unwrap_or(u32::MAX)))
}

/// The CPU time the calling thread has used. A plugin's calls run whole on one thread, so the
/// difference across a call is what the call cost, whatever else the machine runs.
#[expect(unsafe_code, reason = "clock_gettime(2) is the only way to read a thread's CPU clock")]
pub fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid timespec to write into; CLOCK_THREAD_CPUTIME_ID exists on every
    // platform the host builds for (Linux and macOS).
    let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    if result != 0 {
        return Duration::ZERO;
    }
    Duration::new(u64::try_from(now.tv_sec).unwrap_or(0), u32::try_from(now.tv_nsec).unwrap_or(0))
}

/// Counts one instance's log records against what the current call may write. Shared by the
/// log host function and the stdout and stderr pipes of the instance.
#[derive(Debug, Default)]
pub(crate) struct LogMeter {
    allowed: AtomicU64,
    kept: AtomicU64,
    dropped: AtomicU64,
}

/// What a call wrote to the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounts {
    pub kept: u64,
    pub dropped: u64,
}

impl LogMeter {
    /// Starts a call that may write `allowed` records.
    pub(crate) fn allow(&self, allowed: u64) {
        self.allowed.store(allowed, Ordering::Relaxed);
        self.kept.store(0, Ordering::Relaxed);
        self.dropped.store(0, Ordering::Relaxed);
    }

    /// Whether one more record may be written; counts it either way.
    pub(crate) fn admit(&self) -> bool {
        let admitted = self
            .kept
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |kept| {
                (kept < self.allowed.load(Ordering::Relaxed)).then_some(kept + 1)
            })
            .is_ok();
        if !admitted {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        admitted
    }

    pub(crate) fn counts(&self) -> LogCounts {
        LogCounts { kept: self.kept.load(Ordering::Relaxed), dropped: self.dropped.load(Ordering::Relaxed) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_keeps_what_is_allowed_and_counts_the_rest() {
        let meter = LogMeter::default();
        meter.allow(2);
        let admitted: Vec<bool> = (0..5).map(|_| meter.admit()).collect();
        assert_eq!(admitted, [true, true, false, false, false]);
        assert_eq!(meter.counts(), LogCounts { kept: 2, dropped: 3 });
        meter.allow(1);
        assert_eq!(meter.counts(), LogCounts::default());
    }

    #[test]
    fn settings_change_one_budget_and_typos_are_errors() {
        let mut budget = Budget::default();
        assert_eq!(budget.set("findings=5"), Ok(()));
        assert_eq!(budget.set("time-base-ms=250"), Ok(()));
        assert_eq!(budget, Budget { findings: 5, time_base: Duration::from_millis(250), ..Budget::default() });
        let typo = budget.set("finding=5").err().map(|error| error.to_string()).unwrap_or_default();
        assert!(typo.contains("unknown name") && typo.contains("findings"), "{typo}");
        assert!(budget.set("findings").is_err());
        assert!(budget.set("findings=-1").is_err());
    }

    #[test]
    fn time_grows_with_events() {
        let budget = Budget::default();
        assert_eq!(budget.cpu_for(0), Duration::from_secs(5));
        assert_eq!(budget.cpu_for(10_000), Duration::from_secs(6));
        assert_eq!(budget.time_for(10_000), Duration::from_secs(24));
    }

    #[test]
    fn the_thread_cpu_clock_counts_work_not_waiting() {
        let start = thread_cpu_time();
        std::thread::sleep(Duration::from_millis(50));
        let slept = thread_cpu_time().saturating_sub(start);
        let mut sum = 0_u64;
        let busy_start = thread_cpu_time();
        while thread_cpu_time().saturating_sub(busy_start) < Duration::from_millis(20) {
            sum = std::hint::black_box(sum.wrapping_add(1));
        }
        assert!(sum > 0);
        assert!(slept < Duration::from_millis(20), "sleeping used {slept:?} of CPU time");
    }
}
