//! Absence: "A not followed by B within T" (Flink CEP `notFollowedBy`), fired by event-time
//! timers.
//!
//! Event time only moves when events arrive or the host ticks, so a detector must call
//! [`Absence::fire`] with the time of every event *before* handling it (a B that arrives after
//! the deadline must not answer an A whose time is up) and from [`crate::Detector::on_tick`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// An A whose deadline passed with no B.
#[derive(Debug, Clone, PartialEq)]
pub struct Missed<K, A> {
    pub key: K,
    pub armed: A,
    pub armed_ms: i64,
    pub deadline_ms: i64,
}

/// Timers armed by A, disarmed by B, fired by event time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, A: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, A: Deserialize<'de>"
))]
pub struct Absence<K, A> {
    within_ms: i64,
    /// Ordered by deadline, then arming order, so firing is deterministic.
    #[serde(with = "crate::state::as_pairs")]
    timers: BTreeMap<(i64, u64), (K, A, i64)>,
    /// The timers of each key, so answering a key touches only its own timers.
    #[serde(with = "crate::state::as_pairs")]
    by_key: BTreeMap<K, Vec<(i64, u64)>>,
    next: u64,
}

impl<K: Ord + Clone, A: Clone> Absence<K, A> {
    pub fn new(within_ms: i64) -> Self {
        Absence { within_ms, timers: BTreeMap::new(), by_key: BTreeMap::new(), next: 0 }
    }

    /// A happened for `key`: B must follow within the window.
    pub fn arm(&mut self, key: K, time_ms: i64, armed: A) {
        let timer = (time_ms + self.within_ms, self.next);
        self.by_key.entry(key.clone()).or_default().push(timer);
        self.timers.insert(timer, (key, armed, time_ms));
        self.next += 1;
    }

    fn forget(&mut self, key: &K, timer: (i64, u64)) {
        if let Some(timers) = self.by_key.get_mut(key) {
            timers.retain(|armed| *armed != timer);
            if timers.is_empty() {
                self.by_key.remove(key);
            }
        }
    }

    /// B happened for `key` at `time_ms`: every timer of `key` armed at or before then is
    /// answered. Returns what was answered. Touches only `key`'s timers.
    pub fn answer(&mut self, key: &K, time_ms: i64) -> Vec<A> {
        let Some(timers) = self.by_key.remove(key) else { return Vec::new() };
        let mut answered = Vec::new();
        let mut waiting = Vec::new();
        for timer in timers {
            match self.timers.get(&timer) {
                Some((_, _, armed_ms)) if *armed_ms <= time_ms => {
                    if let Some((_, armed, _)) = self.timers.remove(&timer) {
                        answered.push(armed);
                    }
                }
                Some(_) => waiting.push(timer),
                None => {}
            }
        }
        if !waiting.is_empty() {
            self.by_key.insert(key.clone(), waiting);
        }
        answered
    }

    /// B happened for whatever `matches` accepts (a response about an agent rather than in a
    /// thread): answers every such timer armed at or before `time_ms`.
    pub fn answer_where(&mut self, time_ms: i64, matches: impl Fn(&K, &A) -> bool) -> Vec<A> {
        let mut answered = Vec::new();
        let mut done = Vec::new();
        self.timers.retain(|timer, (key, armed, armed_ms)| {
            if *armed_ms <= time_ms && matches(key, armed) {
                answered.push(armed.clone());
                done.push((key.clone(), *timer));
                false
            } else {
                true
            }
        });
        for (key, timer) in done {
            self.forget(&key, timer);
        }
        answered
    }

    /// Event time reached `now_ms`: every timer whose deadline is before it fires.
    pub fn fire(&mut self, now_ms: i64) -> Vec<Missed<K, A>> {
        let mut missed = Vec::new();
        while let Some(entry) = self.timers.first_entry() {
            let (deadline_ms, _) = *entry.key();
            if deadline_ms >= now_ms {
                break;
            }
            let (timer, (key, armed, armed_ms)) = entry.remove_entry();
            self.forget(&key, timer);
            missed.push(Missed { key, armed, armed_ms, deadline_ms });
        }
        missed
    }

    /// Timers still waiting.
    pub fn armed(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timer_fires_only_once_event_time_passes_its_deadline() {
        let mut absence = Absence::new(1_000);
        absence.arm("T-1", 0, "linter");
        assert!(absence.fire(1_000).is_empty(), "at the deadline B may still come");
        let missed = absence.fire(1_001);
        assert_eq!(missed, vec![Missed { key: "T-1", armed: "linter", armed_ms: 0, deadline_ms: 1_000 }]);
        assert!(absence.fire(5_000).is_empty(), "a timer fires once");
    }

    #[test]
    fn b_for_the_same_key_disarms_and_other_keys_keep_waiting() {
        let mut absence = Absence::new(1_000);
        absence.arm("T-1", 0, 1);
        absence.arm("T-2", 0, 2);
        absence.arm("T-1", 600, 3);
        assert_eq!(absence.answer(&"T-1", 500), vec![1], "a B answers only As before it");
        let missed = absence.fire(2_000);
        assert_eq!(missed.iter().map(|missed| missed.armed).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(absence.armed(), 0);
        assert!(absence.by_key.is_empty(), "fired timers leave no index behind");
    }

    #[test]
    fn answer_where_matches_on_what_was_armed() {
        let mut absence = Absence::new(1_000);
        absence.arm("T-1", 0, "linter");
        absence.arm("T-2", 0, "formatter");
        assert_eq!(absence.answer_where(10, |_, agent| *agent == "formatter"), vec!["formatter"]);
        assert_eq!(absence.fire(2_000).len(), 1);
    }

    #[test]
    fn firing_order_follows_deadlines() {
        let mut absence = Absence::new(100);
        absence.arm("late", 50, ());
        absence.arm("early", 10, ());
        let keys: Vec<_> = absence.fire(1_000).into_iter().map(|missed| missed.key).collect();
        assert_eq!(keys, vec!["early", "late"]);
    }
}
