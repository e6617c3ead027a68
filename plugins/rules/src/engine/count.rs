//! `count`: at least N matching events (or distinct values of a field) per key within a
//! sliding span, optionally only when that is well above the key's usual count. One finding
//! per burst: a key is reported again only after its window has emptied.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::Found;
use crate::compile::CountMatch;
use crate::filter::Captured;

/// Events kept per key at most; a count above it is reported as this.
const MAX_WINDOW: usize = 1_000;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    windows: BTreeMap<String, Window>,
    usual: BTreeMap<String, Usual>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Window {
    events: VecDeque<Captured>,
    reported: bool,
}

/// Everything seen of a key since its first event, for its usual rate.
#[derive(Debug, Serialize, Deserialize)]
struct Usual {
    first_ms: i64,
    total: u64,
}

fn expire(events: &mut VecDeque<Captured>, now_ms: i64, within_ms: i64) {
    while events.front().is_some_and(|event| now_ms - event.time_ms > within_ms) {
        events.pop_front();
    }
}

impl State {
    pub fn on_event(&mut self, rule: &CountMatch, group: String, event: Captured) -> Option<Found> {
        let usual = match rule.above_usual {
            Some(_) => {
                let usual = self.usual.entry(group.clone()).or_insert(Usual { first_ms: event.time_ms, total: 0 });
                usual.total += 1;
                Some((usual.first_ms, usual.total))
            }
            None => None,
        };
        let window = self.windows.entry(group).or_default();
        expire(&mut window.events, event.time_ms, rule.within_ms);
        if window.events.is_empty() {
            window.reported = false;
        }
        if let Some(field) = &rule.distinct {
            let value = event.get(field.name()).map(str::to_owned);
            window.events.retain(|seen| seen.get(field.name()) != value.as_deref());
        }
        window.events.push_back(event);
        if window.events.len() > MAX_WINDOW {
            window.events.pop_front();
        }
        let count = window.events.len();
        if count < rule.at_least || window.reported {
            return None;
        }
        if let (Some((factor, after_ms)), Some((first_ms, total))) = (rule.above_usual, usual) {
            let window_start = window.events.front().map_or(first_ms, |event| event.time_ms);
            let history_ms = window_start - first_ms;
            if history_ms < after_ms {
                return None;
            }
            let before = total.saturating_sub(count as u64) as f64;
            let usual_per_window = before / (history_ms as f64 / rule.within_ms as f64);
            if (count as f64) < factor * usual_per_window {
                return None;
            }
        }
        window.reported = true;
        let distinct = match &rule.distinct {
            Some(field) => {
                window.events.iter().filter_map(|event| event.get(field.name()).map(str::to_owned)).collect()
            }
            None => Vec::new(),
        };
        Some(Found {
            events: window.events.iter().cloned().collect(),
            steps: Vec::new(),
            count,
            extra: count - rule.at_least,
            distinct,
            metric: None,
            shares: None,
            time_ms: None,
        })
    }

    /// Drops windows that have slid past `now_ms`, so state stays bounded by the active keys.
    pub fn evict(&mut self, rule: &CountMatch, now_ms: i64) {
        self.windows.retain(|_, window| {
            expire(&mut window.events, now_ms, rule.within_ms);
            !window.events.is_empty()
        });
    }
}
