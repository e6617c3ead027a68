//! `absence`: the first step not followed by the second within `within`, per key. Each first
//! step arms a timer in event time; a matching follow-up disarms it; a timer fires when an
//! event or a tick carries event time past its deadline, so a replay fires the same timers.

use std::collections::{BTreeMap, VecDeque};

use devloop_plugin_sdk::Event;
use serde::{Deserialize, Serialize};

use super::Found;
use crate::compile::AbsenceMatch;
use crate::filter::Captured;

/// Timers armed per key at most; the oldest give way.
const MAX_ARMED: usize = 64;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    armed: BTreeMap<String, VecDeque<Captured>>,
}

impl State {
    /// Fires every timer whose deadline passed before `now_ms`.
    pub fn fire(&mut self, rule: &AbsenceMatch, now_ms: i64) -> Vec<Found> {
        let mut found = Vec::new();
        self.armed.retain(|_, armed| {
            while let Some(first) = armed.front().filter(|first| now_ms - first.time_ms > rule.within_ms) {
                let deadline = first.time_ms + rule.within_ms;
                let first = first.clone();
                armed.pop_front();
                found.push(Found {
                    events: vec![first.clone()],
                    steps: vec![Some(first), None],
                    count: 1,
                    extra: 0,
                    distinct: Vec::new(),
                    metric: None,
                    shares: None,
                    time_ms: Some(deadline),
                });
            }
            !armed.is_empty()
        });
        found.sort_by_key(|found| found.time_ms);
        found
    }

    pub fn on_event(&mut self, rule: &AbsenceMatch, group: String, event: &Event, capture: impl Fn() -> Captured) {
        if let Some(armed) = self.armed.get_mut(&group) {
            armed.retain(|first| !rule.then.matches(event, Some(first)));
            if armed.is_empty() {
                self.armed.remove(&group);
            }
        }
        if rule.first.matches(event, None) {
            let armed = self.armed.entry(group).or_default();
            if armed.len() == MAX_ARMED {
                armed.pop_front();
            }
            armed.push_back(capture());
        }
    }
}
