//! The gaps between a pair's last [`KEPT_GAPS`] runs, for their median. A pair followed
//! thousands of times would otherwise keep thousands of gaps for one figure of its finding;
//! the median of the last hundred is the pair's usual gap as people run it now, and a pair
//! seen fewer times than that keeps every gap, so its median is exact.
//!
//! The gaps are kept twice: in arrival order (what slides out next, and what a snapshot holds)
//! and sorted, updated by binary search, so the median is a lookup.

use std::collections::VecDeque;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Gaps kept per pair: enough that one odd gap moves the median little, and a bound on the
/// pair's size in a snapshot (a few hundred bytes).
pub const KEPT_GAPS: usize = 100;

#[derive(Debug, Default)]
pub struct Gaps {
    arrival: VecDeque<i64>,
    sorted: Vec<i64>,
}

impl Gaps {
    pub fn insert(&mut self, gap: i64) {
        if self.arrival.len() == KEPT_GAPS
            && let Some(oldest) = self.arrival.pop_front()
        {
            let index = self.sorted.partition_point(|kept| *kept < oldest);
            self.sorted.remove(index);
        }
        self.arrival.push_back(gap);
        let index = self.sorted.partition_point(|kept| *kept <= gap);
        self.sorted.insert(index, gap);
    }

    /// The gap at position `len / 2` of the kept gaps in order; `None` before the first.
    pub fn median(&self) -> Option<i64> {
        self.sorted.get(self.sorted.len() / 2).copied()
    }

    /// Gaps from a format-2 snapshot: every gap the pair ever had, in no order. The
    /// [`KEPT_GAPS`] around their median are kept, so the median reads as it did, and they
    /// are queued farthest from it first, so those slide out before the middle.
    pub fn from_every_gap(mut every: Vec<i64>) -> Gaps {
        every.sort_unstable();
        let start = (every.len() / 2).saturating_sub(KEPT_GAPS / 2);
        let mut middle = every[start..every.len().min(start + KEPT_GAPS)].to_vec();
        let mut gaps = Gaps::default();
        if let Some(median) = middle.get(middle.len() / 2).copied() {
            middle.sort_by_key(|gap| std::cmp::Reverse(gap.abs_diff(median)));
            for gap in middle {
                gaps.insert(gap);
            }
        }
        gaps
    }
}

/// A snapshot is the list of kept gaps, oldest first.
impl Serialize for Gaps {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.arrival.iter())
    }
}

impl<'de> Deserialize<'de> for Gaps {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut gaps = Gaps::default();
        for gap in Vec::<i64>::deserialize(deserializer)? {
            gaps.insert(gap);
        }
        Ok(gaps)
    }
}

#[cfg(test)]
mod tests {
    use devloop_plugin_sdk::state;

    use super::*;

    fn sorted_median(gaps: &[i64]) -> i64 {
        let mut sorted = gaps.to_vec();
        sorted.sort_unstable();
        sorted[sorted.len() / 2]
    }

    #[test]
    fn the_median_is_that_of_the_last_kept_gaps_in_order() {
        let mut state: u64 = 11;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for spread in [1, 5, 1_000, 120_000] {
            let mut gaps = Gaps::default();
            let mut every = Vec::new();
            assert_eq!(gaps.median(), None);
            for step in 0..3_000 {
                // A drift upwards then downwards, so the median moves both ways.
                let drift = if step < 1_500 { step } else { 3_000 - step };
                let gap = (next() % spread) as i64 + drift * (spread as i64) / 1_000 - 3;
                gaps.insert(gap);
                every.push(gap);
                let last = &every[every.len().saturating_sub(KEPT_GAPS)..];
                assert_eq!(gaps.median(), Some(sorted_median(last)), "spread {spread}, step {step}");
                assert_eq!(gaps.sorted.len(), last.len());
            }
        }
    }

    #[test]
    fn a_snapshot_is_the_kept_gaps_oldest_first_and_restores_the_median() -> Result<(), String> {
        let mut gaps = Gaps::default();
        for gap in 0..(KEPT_GAPS as i64 + 3) {
            gaps.insert(gap * 10);
        }
        let saved = state::save(&gaps).ok_or("serializable")?;
        let listed: Vec<i64> = state::load(&saved)?;
        assert_eq!(listed, (3..(KEPT_GAPS as i64 + 3)).map(|gap| gap * 10).collect::<Vec<_>>());
        let mut restored: Gaps = state::load(&saved)?;
        assert_eq!(restored.median(), gaps.median());
        restored.insert(-1);
        assert_eq!(restored.arrival.front(), Some(&40), "the oldest slid out");
        Ok(())
    }

    #[test]
    fn every_gap_of_a_format_2_snapshot_keeps_its_median_and_the_farthest_slide_out_first() {
        for count in [1, 2, 5, KEPT_GAPS - 1, KEPT_GAPS, KEPT_GAPS + 1, 1_001, 4_000] {
            // In no order, as format 2 listed them (its two heaps one after the other).
            let every: Vec<i64> = (0..count as i64).map(|index| (index * 7_919) % count as i64 * 1_000).collect();
            let gaps = Gaps::from_every_gap(every.clone());
            let median = sorted_median(&every);
            assert_eq!(gaps.median(), Some(median), "{count} gaps");
            assert_eq!(gaps.arrival.len(), count.min(KEPT_GAPS));
            let distances: Vec<u64> = gaps.arrival.iter().map(|gap| gap.abs_diff(median)).collect();
            assert!(distances.windows(2).all(|pair| pair[0] >= pair[1]), "{count} gaps: {distances:?}");
        }
    }
}
