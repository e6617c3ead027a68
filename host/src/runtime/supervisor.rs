//! Keeping one plugin going across failures, and keeping count of what it did.

use std::time::{Duration, Instant};

use super::LoadError;
use super::engine::{PluginSource, Runtime};
use super::instance::{DetectorDescription, PluginInstance, WitEvents};
use super::limits::PluginFailure;
use crate::model::{Field, Insight};

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
    pub time_spent: Duration,
    pub failures: u32,
    pub detector_errors: u32,
    pub consecutive_failures: u32,
    pub quarantined: bool,
    pub last_failure: Option<String>,
}

/// One plugin under supervision: a failed instance is recreated, after a backoff that doubles
/// with each failure in a row, and the plugin is quarantined after `quarantine_after` of them.
pub struct Supervisor {
    source: PluginSource,
    settings: Vec<Field>,
    instance: Option<PluginInstance>,
    description: DetectorDescription,
    health: PluginHealth,
    batches_to_skip: u32,
}

impl Supervisor {
    pub fn start(runtime: &Runtime, source: PluginSource, settings: Vec<Field>) -> Result<Self, LoadError> {
        let instance = runtime.instantiate(&source, &settings)?;
        Ok(Supervisor {
            description: instance.description().clone(),
            instance: Some(instance),
            source,
            settings,
            health: PluginHealth::default(),
            batches_to_skip: 0,
        })
    }

    pub fn id(&self) -> &str {
        &self.description.id
    }

    pub fn description(&self) -> &DetectorDescription {
        &self.description
    }

    pub fn source(&self) -> &PluginSource {
        &self.source
    }

    pub fn health(&self) -> &PluginHealth {
        &self.health
    }

    /// The live instance, for hand-over of state; `None` while recovering.
    pub fn instance_mut(&mut self) -> Option<&mut PluginInstance> {
        self.instance.as_mut()
    }

    /// Feeds one batch.
    pub fn process(&mut self, runtime: &Runtime, events: &WitEvents) -> BatchOutcome {
        let seen = events.len() as u64;
        self.call(runtime, seen, |instance| instance.process(events))
    }

    /// Advances the detector's clock. A plugin recovering from a failure is not restarted
    /// for a tick: the next batch does that, and counts toward quarantine if it fails again.
    pub fn tick(&mut self, runtime: &Runtime, now_ms: i64) -> BatchOutcome {
        if self.instance.is_none() {
            return BatchOutcome::Skipped("recovering from a failure".to_owned());
        }
        self.call(runtime, 0, |instance| instance.tick(now_ms))
    }

    fn call(
        &mut self,
        runtime: &Runtime,
        events: u64,
        call: impl FnOnce(&mut PluginInstance) -> Result<Result<Vec<Insight>, String>, PluginFailure>,
    ) -> BatchOutcome {
        if self.health.quarantined {
            return BatchOutcome::Skipped(
                PluginFailure::Quarantined { failures: self.health.consecutive_failures }.to_string(),
            );
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
            None => match runtime.instantiate(&self.source, &self.settings) {
                Ok(instance) => {
                    tracing::warn!(plugin = self.id(), "restarted with fresh state after a failure");
                    instance
                }
                Err(error) => {
                    let failure = match error {
                        LoadError::Start { failure, .. } => failure,
                        other => PluginFailure::Trap { message: other.to_string() },
                    };
                    return self.failed(runtime, failure);
                }
            },
        };
        let mut instance = instance;
        let started = Instant::now();
        let result = call(&mut instance);
        self.health.time_spent += started.elapsed();
        self.health.events_seen += events;
        match result {
            Ok(answer) => {
                self.instance = Some(instance);
                self.health.consecutive_failures = 0;
                match answer {
                    Ok(insights) => {
                        self.health.insights_emitted += insights.len() as u64;
                        BatchOutcome::Insights(insights)
                    }
                    Err(message) => {
                        self.health.detector_errors += 1;
                        BatchOutcome::DetectorError(message)
                    }
                }
            }
            Err(failure) => self.failed(runtime, failure),
        }
    }

    fn failed(&mut self, runtime: &Runtime, failure: PluginFailure) -> BatchOutcome {
        self.health.failures += 1;
        self.health.consecutive_failures += 1;
        self.health.last_failure = Some(failure.to_string());
        if self.health.consecutive_failures >= runtime.limits().quarantine_after {
            self.health.quarantined = true;
        } else {
            self.batches_to_skip = (1 << (self.health.consecutive_failures - 1)) - 1;
        }
        BatchOutcome::Failed(failure)
    }
}
