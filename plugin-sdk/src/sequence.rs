//! Sequences: "A, then B within T, by key" (Elastic EQL `sequence by … with maxspan`, Flink
//! CEP `followedBy`).
//!
//! The key is the back-reference: key by the file path and B must touch *the same file*, key by
//! thread and B must come from *the same thread*. Each started A waits until a matching B
//! completes it, a cancelling event removes it (`until`), or `within` passes. Pending starts per
//! key are bounded so a key that never completes cannot grow without limit.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// Most starts kept waiting per key; the oldest gives way first.
pub const MAX_PENDING_PER_KEY: usize = 64;

/// A started sequence that found its second step.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed<A> {
    /// What was recorded when the sequence started.
    pub start: A,
    pub started_ms: i64,
    /// How long after the start the second step came.
    pub gap_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending<A> {
    started_ms: i64,
    start: A,
}

/// Pending "A then B" sequences per key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "K: Serialize, A: Serialize",
    deserialize = "K: Deserialize<'de> + Ord, A: Deserialize<'de>"
))]
pub struct Sequence<K, A> {
    within_ms: i64,
    #[serde(with = "crate::state::as_pairs")]
    pending: BTreeMap<K, VecDeque<Pending<A>>>,
}

impl<K: Ord + Clone, A: Clone> Sequence<K, A> {
    pub fn new(within_ms: i64) -> Self {
        Sequence { within_ms, pending: BTreeMap::new() }
    }

    /// Step A happened for `key`.
    pub fn start(&mut self, key: K, time_ms: i64, start: A) {
        let entry = self.pending.entry(key).or_default();
        if entry.len() == MAX_PENDING_PER_KEY {
            entry.pop_front();
        }
        entry.push_back(Pending { started_ms: time_ms, start });
    }

    /// Step B happened for `key` at `time_ms`: completes every pending start that is within
    /// reach and that `matches` accepts (a further condition on A, such as "a different
    /// command"), oldest first. Completed starts are consumed.
    pub fn complete_where(&mut self, key: &K, time_ms: i64, matches: impl Fn(&A) -> bool) -> Vec<Completed<A>> {
        let within_ms = self.within_ms;
        let Some(entry) = self.pending.get_mut(key) else {
            return Vec::new();
        };
        entry.retain(|pending| time_ms - pending.started_ms <= within_ms);
        let mut completed = Vec::new();
        entry.retain(|pending| {
            if pending.started_ms <= time_ms && matches(&pending.start) {
                completed.push(Completed {
                    start: pending.start.clone(),
                    started_ms: pending.started_ms,
                    gap_ms: time_ms - pending.started_ms,
                });
                false
            } else {
                true
            }
        });
        if entry.is_empty() {
            self.pending.remove(key);
        }
        completed
    }

    /// Step B happened for `key`: completes every pending start within reach.
    pub fn complete(&mut self, key: &K, time_ms: i64) -> Vec<Completed<A>> {
        self.complete_where(key, time_ms, |_| true)
    }

    /// A cancelling event for `key` (`until`): drops the pending starts `matches` accepts.
    pub fn cancel_where(&mut self, key: &K, matches: impl Fn(&A) -> bool) -> usize {
        let Some(entry) = self.pending.get_mut(key) else {
            return 0;
        };
        let before = entry.len();
        entry.retain(|pending| !matches(&pending.start));
        let cancelled = before - entry.len();
        if entry.is_empty() {
            self.pending.remove(key);
        }
        cancelled
    }

    /// Drops every pending start of `key`.
    pub fn cancel(&mut self, key: &K) -> usize {
        self.cancel_where(key, |_| true)
    }

    /// Whether `key` has a start waiting.
    pub fn is_pending(&self, key: &K) -> bool {
        self.pending.contains_key(key)
    }

    /// Drops starts that can no longer complete at `now_ms`, returning them (a sequence that
    /// timed out is sometimes the finding).
    pub fn expire(&mut self, now_ms: i64) -> Vec<(K, A)> {
        let within_ms = self.within_ms;
        let mut expired = Vec::new();
        self.pending.retain(|key, entry| {
            while entry.front().is_some_and(|pending| now_ms - pending.started_ms > within_ms) {
                if let Some(pending) = entry.pop_front() {
                    expired.push((key.clone(), pending.start));
                }
            }
            !entry.is_empty()
        });
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b_within_reach_of_the_same_key_completes_a() {
        let mut sequence = Sequence::new(600_000);
        sequence.start("src/app.py", 0, "formatter");
        assert!(sequence.complete(&"src/other.py", 60_000).is_empty(), "another file is not a back-reference");
        let completed = sequence.complete(&"src/app.py", 120_000);
        assert_eq!(completed, vec![Completed { start: "formatter", started_ms: 0, gap_ms: 120_000 }]);
        assert!(sequence.complete(&"src/app.py", 130_000).is_empty(), "a completed start is consumed");
    }

    #[test]
    fn b_after_the_span_does_not_complete() {
        let mut sequence = Sequence::new(1_000);
        sequence.start(1, 0, ());
        assert!(sequence.complete(&1, 1_001).is_empty());
        assert!(!sequence.is_pending(&1), "a start out of reach is dropped when seen");
    }

    #[test]
    fn a_condition_on_a_selects_which_starts_complete() {
        let mut sequence = Sequence::new(10_000);
        sequence.start("dev", 0, "release publish");
        sequence.start("dev", 1_000, "status");
        let completed = sequence.complete_where(&"dev", 2_000, |failed| *failed != "status");
        assert_eq!(completed.len(), 1);
        assert_eq!(completed[0].start, "release publish");
        assert!(sequence.is_pending(&"dev"), "the other start still waits");
    }

    #[test]
    fn cancel_on_removes_pending_starts() {
        let mut sequence = Sequence::new(10_000);
        sequence.start("dev", 0, "a");
        sequence.start("dev", 1, "b");
        assert_eq!(sequence.cancel_where(&"dev", |start| *start == "a"), 1);
        assert_eq!(sequence.complete(&"dev", 2).len(), 1);
        sequence.start("dev", 3, "c");
        assert_eq!(sequence.cancel(&"dev"), 1);
        assert!(sequence.complete(&"dev", 4).is_empty());
    }

    #[test]
    fn expire_returns_timed_out_starts_and_pending_is_bounded() {
        let mut sequence = Sequence::new(100);
        for time in 0..(MAX_PENDING_PER_KEY as i64 + 10) {
            sequence.start("k", time, time);
        }
        let expired = sequence.expire(1_000);
        assert_eq!(expired.len(), MAX_PENDING_PER_KEY);
        assert_eq!(expired[0], ("k", 10), "the oldest starts gave way");
    }
}
