//! Keeping one plugin going across failures, within its budget and its own patterns, and
//! keeping count of what it did.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use super::LoadError;
use super::budget::thread_cpu_time;
use super::engine::{CompiledPlugin, Runtime};
use super::instance::{DetectorDescription, PluginInstance, WitEvents};
use super::limits::{Limits, PluginFailure};
use crate::model::{Field, Fingerprint, Insight};

/// What happened to one batch in one plugin.
#[derive(Debug)]
pub enum BatchOutcome {
    /// The detector ran and returned these (possibly none).
    Insights(Vec<Insight>),
    /// The detector ran and answered with its own error.
    DetectorError(String),
    /// The sandbox stopped the detector; its instance is discarded.
    Failed(PluginFailure),
    /// The detector did not see the batch (backing off, or quarantined).
    Skipped(String),
}

/// Counters shown by `plugins list` and in run summaries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginHealth {
    pub events_seen: u64,
    pub insights_emitted: u64,
    /// Wall time inside its calls.
    pub time_spent: Duration,
    /// CPU time of the thread while inside its calls: what it cost, however busy the machine.
    pub cpu_time: Duration,
    pub failures: u32,
    pub detector_errors: u32,
    pub consecutive_failures: u32,
    pub quarantined: bool,
    /// Why it is quarantined, when it is.
    pub quarantine_reason: Option<String>,
    pub last_failure: Option<String>,
    /// Insights rejected because their pattern is not one the plugin declared.
    pub undeclared_rejected: u64,
    /// Log records written, and dropped for being over its log budget.
    pub log_records: u64,
    pub log_records_dropped: u64,
}

/// One plugin under supervision: a failed instance is recreated, after a backoff that doubles
/// with each failure in a row, and the plugin is quarantined after `quarantine_after` of them,
/// or as soon as it goes over its budget for the run.
pub struct Supervisor {
    compiled: CompiledPlugin,
    settings: Vec<Field>,
    instance: Option<PluginInstance>,
    description: DetectorDescription,
    /// The event fields it reads (`None`: every field).
    reads: Option<Vec<String>>,
    limits: Limits,
    health: PluginHealth,
    batches_to_skip: u32,
    /// Distinct findings it reported this run, counted against its budget.
    fingerprints: HashSet<Fingerprint>,
    /// What it did wrong while its batch still went on, for the pipeline to report.
    notices: Vec<String>,
}

impl Supervisor {
    pub fn start(runtime: &Runtime, compiled: CompiledPlugin, settings: Vec<Field>) -> Result<Self, LoadError> {
        let instance = runtime.instantiate(&compiled, &settings)?;
        Ok(Supervisor {
            description: instance.description().clone(),
            reads: instance.reads().map(<[String]>::to_vec),
            instance: Some(instance),
            compiled,
            settings,
            limits: runtime.limits().clone(),
            health: PluginHealth::default(),
            batches_to_skip: 0,
            fingerprints: HashSet::new(),
            notices: Vec::new(),
        })
    }

    pub fn id(&self) -> &str {
        &self.description.id
    }

    pub fn description(&self) -> &DetectorDescription {
        &self.description
    }

    /// The event fields the detector reads (`None`: every field), for the batches it is given
    /// to carry.
    pub fn reads(&self) -> Option<&[String]> {
        self.reads.as_deref()
    }

    pub fn compiled(&self) -> &CompiledPlugin {
        &self.compiled
    }

    pub fn health(&self) -> &PluginHealth {
        &self.health
    }

    /// The live instance, for hand-over of state; `None` while recovering.
    pub fn instance_mut(&mut self) -> Option<&mut PluginInstance> {
        self.instance.as_mut()
    }

    /// What the plugin did wrong since the last call (undeclared patterns, dropped log
    /// records) while its batches went on.
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// The detector's state, if it can hand it over. A trap discards the instance, so the
    /// next batch runs on a fresh one instead of failing on a dead one; a state over the
    /// snapshot budget quarantines the plugin.
    pub fn snapshot(&mut self) -> Result<Option<Vec<u8>>, PluginFailure> {
        let Some(instance) = self.instance.as_mut() else { return Ok(None) };
        match instance.snapshot() {
            Ok(Some(state)) if state.len() > self.limits.budget.snapshot_bytes => Err(self.over_budget(
                "bytes of saved state",
                state.len().to_string(),
                self.limits.budget.snapshot_bytes.to_string(),
            )),
            Ok(state) => Ok(state),
            Err(failure) => Err(self.discard(failure)),
        }
    }

    /// Restores state from an earlier snapshot. A trap discards the instance, as in
    /// [`Supervisor::snapshot`]: the plugin goes on with fresh state.
    pub fn restore(&mut self, state: &[u8]) -> Result<Result<(), String>, PluginFailure> {
        let Some(instance) = self.instance.as_mut() else {
            return Ok(Err("no live instance to restore into".to_owned()));
        };
        instance.restore(state).map_err(|failure| self.discard(failure))
    }

    /// Feeds one batch.
    pub fn process(&mut self, events: &WitEvents) -> BatchOutcome {
        let seen = events.len() as u64;
        self.call(seen, |instance| instance.process(events))
    }

    /// Advances the detector's clock. A plugin recovering from a failure is not restarted
    /// for a tick: the next batch does that, and counts toward quarantine if it fails again.
    pub fn tick(&mut self, now_ms: i64) -> BatchOutcome {
        if self.instance.is_none() {
            return BatchOutcome::Skipped("recovering from a failure".to_owned());
        }
        self.call(0, |instance| instance.tick(now_ms))
    }

    /// A fresh instance after a failure, from the engine the plugin was compiled for: a
    /// supervisor needs no [`Runtime`] after it starts, so it can run on a thread of its own.
    fn restart(&self) -> Result<PluginInstance, LoadError> {
        PluginInstance::start(self.compiled.instance_pre.engine(), &self.limits, &self.compiled, &self.settings)
    }

    fn call(
        &mut self,
        events: u64,
        call: impl FnOnce(&mut PluginInstance) -> Result<Result<Vec<Insight>, String>, PluginFailure>,
    ) -> BatchOutcome {
        if self.health.quarantined {
            let reason = match &self.health.quarantine_reason {
                Some(reason) => format!("is quarantined: {reason}"),
                None => PluginFailure::Quarantined { failures: self.health.consecutive_failures }.to_string(),
            };
            return BatchOutcome::Skipped(reason);
        }
        if self.batches_to_skip > 0 {
            self.batches_to_skip -= 1;
            return BatchOutcome::Skipped(format!(
                "backing off after {} failure(s) in a row",
                self.health.consecutive_failures
            ));
        }
        let instance = match self.instance.take() {
            Some(instance) => instance,
            None => match self.restart() {
                Ok(instance) => {
                    tracing::warn!(plugin = self.id(), "restarted with fresh state after a failure");
                    instance
                }
                Err(error) => {
                    let failure = match error {
                        LoadError::Start { failure, .. } => failure,
                        other => PluginFailure::Trap { message: other.to_string() },
                    };
                    return self.failed(failure);
                }
            },
        };
        let mut instance = instance;
        let budget = &self.limits.budget;
        instance.allow_log_records(
            budget.log_records_per_call.min(budget.log_records.saturating_sub(self.health.log_records)),
        );
        let started = Instant::now();
        let cpu_started = thread_cpu_time();
        let result = call(&mut instance);
        self.health.cpu_time += thread_cpu_time().saturating_sub(cpu_started);
        self.health.time_spent += started.elapsed();
        self.health.events_seen += events;
        self.count_log_records(instance.log_counts());
        let allowed_cpu = self.limits.budget.cpu_for(self.health.events_seen);
        if self.health.cpu_time > allowed_cpu {
            let used = format!("{:.1}s", self.health.cpu_time.as_secs_f64());
            return BatchOutcome::Failed(self.over_budget(
                "of CPU time inside the plugin",
                used,
                format!("{:.1}s for {} events", allowed_cpu.as_secs_f64(), self.health.events_seen),
            ));
        }
        let allowed_time = self.limits.budget.time_for(self.health.events_seen);
        if self.health.time_spent > allowed_time {
            let used = format!("{:.1}s", self.health.time_spent.as_secs_f64());
            return BatchOutcome::Failed(self.over_budget(
                "of time inside the plugin",
                used,
                format!("{:.1}s for {} events", allowed_time.as_secs_f64(), self.health.events_seen),
            ));
        }
        match result {
            Ok(answer) => {
                self.instance = Some(instance);
                self.health.consecutive_failures = 0;
                match answer {
                    Ok(insights) => {
                        let insights = self.keep_declared(insights);
                        if let Err(failure) = self.charge(&insights) {
                            return BatchOutcome::Failed(failure);
                        }
                        self.health.insights_emitted += insights.len() as u64;
                        BatchOutcome::Insights(insights)
                    }
                    Err(message) => {
                        self.health.detector_errors += 1;
                        BatchOutcome::DetectorError(message)
                    }
                }
            }
            Err(failure) => self.failed(failure),
        }
    }

    fn count_log_records(&mut self, counts: super::LogCounts) {
        self.health.log_records += counts.kept;
        self.health.log_records_dropped += counts.dropped;
        if counts.dropped > 0 {
            let budget = &self.limits.budget;
            self.notices.push(format!(
                "{} log record(s) dropped, over its budget of {} per call and {} per run ({} dropped in this run)",
                counts.dropped, budget.log_records_per_call, budget.log_records, self.health.log_records_dropped
            ));
        }
    }

    /// The insights under patterns the plugin declared; the others are counted and reported.
    fn keep_declared(&mut self, insights: Vec<Insight>) -> Vec<Insight> {
        let declared = &self.description.patterns;
        let (kept, rejected): (Vec<Insight>, Vec<Insight>) =
            insights.into_iter().partition(|insight| declared.contains(&insight.pattern));
        if let Some(first) = rejected.first() {
            self.health.undeclared_rejected += rejected.len() as u64;
            self.notices.push(format!(
                "{} insight(s) rejected: pattern `{}` is not one it declared ({})",
                rejected.len(),
                crate::escape::terminal_line(&first.pattern.chars().take(100).collect::<String>()),
                declared.iter().map(|pattern| format!("`{pattern}`")).collect::<Vec<_>>().join(", ")
            ));
        }
        kept
    }

    /// Counts a call's insights against the findings and updates budgets.
    fn charge(&mut self, insights: &[Insight]) -> Result<(), PluginFailure> {
        let budget = &self.limits.budget;
        let updates = self.health.insights_emitted + insights.len() as u64;
        if updates > budget.updates {
            let limit = budget.updates.to_string();
            return Err(self.over_budget("insights", updates.to_string(), limit));
        }
        let new: HashSet<Fingerprint> = insights
            .iter()
            .map(Insight::fingerprint)
            .filter(|fingerprint| !self.fingerprints.contains(fingerprint))
            .collect();
        let findings = self.fingerprints.len() + new.len();
        if findings > budget.findings {
            let limit = budget.findings.to_string();
            return Err(self.over_budget("distinct findings", findings.to_string(), limit));
        }
        self.fingerprints.extend(new);
        Ok(())
    }

    /// Quarantines the plugin if, at the CPU time per event it has used so far, the `queued`
    /// events waiting for it would take it over its CPU budget for the run: it holds the feed
    /// (every other plugin waits for it) and would only go over the budget later. Whether it
    /// did.
    pub fn quarantine_if_it_cannot_catch_up(&mut self, queued: usize) -> bool {
        let seen = self.health.events_seen;
        if self.health.quarantined || seen == 0 {
            return false;
        }
        let queued = queued as u64;
        let per_event = self.health.cpu_time.as_secs_f64() / seen as f64;
        let projected = self.health.cpu_time.as_secs_f64() + per_event * queued as f64;
        let allowed = self.limits.budget.cpu_for(seen + queued);
        if projected <= allowed.as_secs_f64() {
            return false;
        }
        let failure = self.over_budget(
            "of CPU time inside the plugin projected at its rate so far for the events queued for it",
            format!("{projected:.1}s"),
            format!("{:.1}s for {} events", allowed.as_secs_f64(), seen + queued),
        );
        tracing::warn!(plugin = self.id(), "{failure}; quarantined for the rest of the run");
        true
    }

    /// Quarantines the plugin for the rest of the run and frees its instance.
    fn over_budget(&mut self, resource: &'static str, used: String, budget: String) -> PluginFailure {
        let failure = PluginFailure::OverBudget { resource, used, budget };
        self.health.failures += 1;
        self.health.last_failure = Some(failure.to_string());
        self.health.quarantined = true;
        self.health.quarantine_reason = Some(failure.to_string());
        self.instance = None;
        failure
    }

    /// Drops an instance that trapped outside a batch; the next batch starts a fresh one.
    fn discard(&mut self, failure: PluginFailure) -> PluginFailure {
        tracing::warn!(plugin = self.id(), "{failure}; the next batch runs on a fresh instance");
        self.health.failures += 1;
        self.health.last_failure = Some(failure.to_string());
        self.instance = None;
        failure
    }

    fn failed(&mut self, failure: PluginFailure) -> BatchOutcome {
        self.health.failures += 1;
        self.health.consecutive_failures += 1;
        self.health.last_failure = Some(failure.to_string());
        if self.health.consecutive_failures >= self.limits.quarantine_after {
            self.health.quarantined = true;
        } else {
            self.batches_to_skip = (1 << (self.health.consecutive_failures - 1)) - 1;
        }
        BatchOutcome::Failed(failure)
    }
}
