//! `sequence`: steps in order per key within `within`, each step optionally tied to the one
//! before (the same file, a longer command) and close to it; `until` cancels what is pending,
//! an `absent` step cancels a match it interrupts. After a match, everything pending for the
//! key is dropped (Flink's "skip past last event"), so one burst makes one finding.

use std::collections::BTreeMap;

use devloop_plugin_sdk::Event;
use serde::{Deserialize, Serialize};

use super::Found;
use crate::compile::SequenceMatch;
use crate::filter::Captured;

/// Partial matches kept per key at most; the oldest give way.
const MAX_PENDING: usize = 64;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pending: BTreeMap<String, Vec<Partial>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Partial {
    /// The index of the next step to look for.
    next: usize,
    started_ms: i64,
    /// What each step matched (absent steps stay `None`).
    steps: Vec<Option<Captured>>,
    last: Captured,
}

impl State {
    pub fn on_event(
        &mut self,
        rule: &SequenceMatch,
        group: String,
        event: &Event,
        capture: impl Fn() -> Captured,
    ) -> Option<Found> {
        let steps = &rule.steps;
        let pending = self.pending.remove(&group).unwrap_or_default();
        let mut kept = Vec::with_capacity(pending.len() + 1);
        let mut completed = None;
        for mut partial in pending {
            if event.time_ms - partial.started_ms > rule.within_ms {
                continue;
            }
            // Validation guarantees a step that happens after any absent one.
            let Some(next) = (partial.next..steps.len()).find(|index| !steps[*index].absent) else { continue };
            let absent = partial.next..next;
            if completed.is_none() && steps[next].matches(event, Some(&partial.last)) {
                let captured = capture();
                partial.steps[next] = Some(captured.clone());
                partial.last = captured;
                partial.next = next + 1;
                if partial.next == steps.len() {
                    completed = Some(partial);
                } else {
                    kept.push(partial);
                }
                continue;
            }
            if steps[absent].iter().any(|step| step.matches(event, Some(&partial.last))) {
                continue;
            }
            if rule.until.as_ref().is_some_and(|until| until.matches(event)) {
                continue;
            }
            kept.push(partial);
        }
        if let Some(done) = completed {
            let events: Vec<Captured> = done.steps.iter().flatten().cloned().collect();
            return Some(Found {
                count: events.len(),
                events,
                steps: done.steps,
                extra: 0,
                distinct: Vec::new(),
                metric: None,
                shares: None,
                time_ms: None,
            });
        }
        if steps[0].matches(event, None) {
            let captured = capture();
            let mut matched = vec![None; steps.len()];
            matched[0] = Some(captured.clone());
            if kept.len() == MAX_PENDING {
                kept.remove(0);
            }
            kept.push(Partial { next: 1, started_ms: event.time_ms, steps: matched, last: captured });
        }
        if !kept.is_empty() {
            self.pending.insert(group, kept);
        }
        None
    }

    /// Drops partial matches that can no longer complete.
    pub fn evict(&mut self, rule: &SequenceMatch, now_ms: i64) {
        self.pending.retain(|_, pending| {
            pending.retain(|partial| now_ms - partial.started_ms <= rule.within_ms);
            !pending.is_empty()
        });
    }
}
