//! Suppression of repeats (Elastic's alert suppression, Prometheus' `for:`): once a finding is
//! reported, say it again only when it has grown materially or a quiet period has passed, so
//! a detector that re-checks on every event does not report the same thing a thousand times.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
struct Reported {
    time_ms: i64,
    strength: f64,
}

/// Remembers what was reported per key, and how strong it was.
#[derive(Debug, Clone)]
pub struct Suppressor<K> {
    growth: f64,
    quiet_ms: i64,
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
