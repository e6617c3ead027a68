//! Keyed sliding windows over event time: "how many times did this key happen in the last T",
//! and "how many distinct values did this key see in the last T".
//!
//! Windows slide with event time, never the wall clock, so a replay counts the same. Keys with
//! nothing left in their window are dropped by [`WindowedCounts::evict`], which keeps memory
//! bounded by the activity of the last `span`, not by the history of the log.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Drops the entries older than `span_ms` at `now_ms` from the front of a time-ordered window.
fn expire<T>(entry: &mut VecDeque<(i64, T)>, now_ms: i64, span_ms: i64) {
    while entry.front().is_some_and(|(time, _)| now_ms - time > span_ms) {
        entry.pop_front();
    }
}

/// Events per key within the last `span_ms` of event time, with their ids for evidence.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize", deserialize = "K: Deserialize<'de> + Ord"))]
pub struct WindowedCounts<K> {
    span_ms: i64,
    #[serde(with = "crate::state::as_pairs")]
    entries: BTreeMap<K, VecDeque<(i64, u64)>>,
}

impl<K: Ord + Clone> WindowedCounts<K> {
    pub fn new(span_ms: i64) -> Self {
        WindowedCounts { span_ms, entries: BTreeMap::new() }
    }

    /// Records an event of `key` at `time_ms` and returns how many the window now holds.
    pub fn add(&mut self, key: K, time_ms: i64, id: u64) -> usize {
        let span_ms = self.span_ms;
        let entry = self.entries.entry(key).or_default();
        expire(entry, time_ms, span_ms);
        entry.push_back((time_ms, id));
        entry.len()
    }

    /// How many events of `key` the window holds.
    pub fn count(&self, key: &K) -> usize {
        self.entries.get(key).map_or(0, VecDeque::len)
    }

    /// The `(time, id)` of each event of `key` in the window, oldest first.
    pub fn events(&self, key: &K) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.entries.get(key).into_iter().flat_map(|entry| entry.iter().copied())
    }

    /// Empties the window of `key` (a burst was reported and starts over).
    pub fn clear(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops every event older than the window at `now_ms`, and keys left empty.
    pub fn evict(&mut self, now_ms: i64) {
        let span_ms = self.span_ms;
        self.entries.retain(|_, entry| {
            expire(entry, now_ms, span_ms);
            !entry.is_empty()
        });
    }

    /// Keys with events in the window.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Distinct values per key within the last `span_ms` (threads that asked, files touched).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, V: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, V: Deserialize<'de>"
))]
pub struct WindowedDistinct<K, V> {
    span_ms: i64,
    #[serde(with = "crate::state::as_pairs")]
    entries: BTreeMap<K, VecDeque<(i64, V)>>,
}

impl<K: Ord + Clone, V: Ord + Clone> WindowedDistinct<K, V> {
    pub fn new(span_ms: i64) -> Self {
        WindowedDistinct { span_ms, entries: BTreeMap::new() }
    }

    /// Records `value` for `key` at `time_ms` and returns how many distinct values the window
    /// holds. A value seen again moves to the newest position.
    pub fn add(&mut self, key: K, value: V, time_ms: i64) -> usize {
        let span_ms = self.span_ms;
        let entry = self.entries.entry(key).or_default();
        expire(entry, time_ms, span_ms);
        entry.retain(|(_, seen)| *seen != value);
        entry.push_back((time_ms, value));
        entry.len()
    }

    /// The distinct values of `key` in the window, oldest first.
    pub fn values(&self, key: &K) -> Vec<V> {
        self.entries.get(key).map(|entry| entry.iter().map(|(_, value)| value.clone()).collect()).unwrap_or_default()
    }

    pub fn distinct(&self, key: &K) -> usize {
        self.entries.get(key).map_or(0, VecDeque::len)
    }

    /// Drops values older than the window at `now_ms`, and keys left empty.
    pub fn evict(&mut self, now_ms: i64) {
        let span_ms = self.span_ms;
        self.entries.retain(|_, entry| {
            expire(entry, now_ms, span_ms);
            !entry.is_empty()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_slide_with_event_time_per_key() {
        let mut counts = WindowedCounts::new(60_000);
        assert_eq!(counts.add("a", 0, 1), 1);
        assert_eq!(counts.add("a", 30_000, 2), 2);
        assert_eq!(counts.add("b", 30_000, 3), 1);
        assert_eq!(counts.add("a", 60_000, 4), 3, "an event exactly `span` old still counts");
        assert_eq!(counts.add("a", 90_001, 5), 2, "events older than the span slide out");
        assert_eq!(counts.events(&"a").map(|(_, id)| id).collect::<Vec<_>>(), vec![4, 5]);
        assert_eq!(counts.count(&"b"), 1);
    }

    #[test]
    fn evict_drops_empty_keys_so_memory_stays_bounded() {
        let mut counts = WindowedCounts::new(1_000);
        for key in 0..100 {
            counts.add(key, i64::from(key), u64::from(key as u32));
        }
        counts.evict(1_050);
        assert_eq!(counts.len(), 50, "keys 50..=99 are within 1s of 1050");
        counts.evict(10_000);
        assert!(counts.is_empty());
    }

    #[test]
    fn distinct_counts_values_once_and_slides() {
        let mut distinct = WindowedDistinct::new(10_000);
        assert_eq!(distinct.add("q", "T-1", 0), 1);
        assert_eq!(distinct.add("q", "T-1", 1_000), 1);
        assert_eq!(distinct.add("q", "T-2", 2_000), 2);
        assert_eq!(distinct.add("q", "T-3", 10_500), 3, "T-1 was refreshed at 1s, still inside");
        assert_eq!(distinct.add("q", "T-4", 11_500), 3, "T-1 (1s) has slid out");
        assert_eq!(distinct.values(&"q"), vec!["T-2", "T-3", "T-4"]);
        distinct.evict(100_000);
        assert_eq!(distinct.distinct(&"q"), 0);
    }
}
