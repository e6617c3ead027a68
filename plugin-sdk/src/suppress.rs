//! Suppression of repeats. [`LastReported`]: say a finding again only when something a person
//! reads in it changed (its message, severity or confidence), so findings stay current and an
//! unchanged one is never re-sent. [`Suppressor`] (Elastic's alert suppression, Prometheus'
//! `for:`): say it again only when it has grown materially or a quiet period has passed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Insight;
use crate::keys::stable_hash;

/// What was last reported per key, as a hash of what a person reads in it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize", deserialize = "K: Deserialize<'de> + Ord"))]
pub struct LastReported<K> {
    #[serde(with = "crate::state::as_pairs")]
    reported: BTreeMap<K, u64>,
}

impl<K: Ord> LastReported<K> {
    pub fn new() -> Self {
        LastReported { reported: BTreeMap::new() }
    }

    /// Whether `insight` differs from what was last reported under `key` (its message,
    /// severity, confidence to 3 decimals, or number of evidence events); if so, remembers it.
    pub fn changed(&mut self, key: K, insight: &Insight) -> bool {
        let confidence = (f64::from(insight.confidence) * 1000.0).round() as i64;
        let events = insight.evidence.event_ids.len() as u64;
        let hash = stable_hash(&[
            insight.message.as_bytes(),
            format!("{:?}", insight.severity).as_bytes(),
            &confidence.to_le_bytes(),
            &events.to_le_bytes(),
        ]);
        if self.reported.get(&key) == Some(&hash) {
            return false;
        }
        self.reported.insert(key, hash);
        true
    }

    /// Whether `key` was ever reported.
    pub fn was_reported(&self, key: &K) -> bool {
        self.reported.contains_key(key)
    }

    /// The keys reported so far, in order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.reported.keys()
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Reported {
    time_ms: i64,
    strength: f64,
}

/// Remembers what was reported per key, and how strong it was.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(serialize = "K: Serialize", deserialize = "K: Deserialize<'de> + Ord"))]
pub struct Suppressor<K> {
    growth: f64,
    quiet_ms: i64,
    #[serde(with = "crate::state::as_pairs")]
    reported: BTreeMap<K, Reported>,
}

impl<K: Ord> Suppressor<K> {
    /// Report again when `strength` (a count, a rate, a z-score) has grown by `growth` × the
    /// last reported one (1.5 = half again as much), or after `quiet_ms` of event time.
    pub fn new(growth: f64, quiet_ms: i64) -> Self {
        Suppressor { growth: growth.max(1.0), quiet_ms, reported: BTreeMap::new() }
    }

    /// Whether to report `key` now; if so, remembers it.
    pub fn should_report(&mut self, key: K, time_ms: i64, strength: f64) -> bool {
        let report = match self.reported.get(&key) {
            None => true,
            Some(last) => strength >= last.strength * self.growth || time_ms - last.time_ms >= self.quiet_ms,
        };
        if report {
            self.reported.insert(key, Reported { time_ms, strength });
        }
        report
    }

    /// Whether `key` was ever reported.
    pub fn was_reported(&self, key: &K) -> bool {
        self.reported.contains_key(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_changed_finding_is_reported_again() {
        let mut reported = LastReported::new();
        let insight = Insight::new("p", "k").message("`bd ready` was run 4 times");
        assert!(reported.changed("k", &insight));
        assert!(!reported.changed("k", &insight.clone()), "nothing changed");
        assert!(reported.changed("k", &insight.clone().message("`bd ready` was run 5 times")));
        assert!(reported.changed("other", &insight), "keys are independent");
        assert!(reported.was_reported(&"other"));
    }

    #[test]
    fn repeats_are_suppressed_until_growth_or_quiet_period() {
        let mut suppressor = Suppressor::new(1.5, 86_400_000);
        assert!(suppressor.should_report("bd sync", 0, 4.0));
        assert!(!suppressor.should_report("bd sync", 1_000, 5.0), "4 → 5 is not material");
        assert!(suppressor.should_report("bd sync", 2_000, 6.0), "4 → 6 is half again");
        assert!(!suppressor.should_report("bd sync", 3_000, 6.0));
        assert!(suppressor.should_report("bd sync", 2_000 + 86_400_000, 6.0), "a day later it may be said again");
        assert!(suppressor.should_report("status", 3_000, 1.0), "keys are independent");
        assert!(suppressor.was_reported(&"status"));
    }
}
