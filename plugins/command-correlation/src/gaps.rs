//! The gaps between the runs of a pair, for their median: two heaps, the lower half of the
//! gaps (largest on top) and the upper half (smallest on top), so that an insertion costs
//! O(log n) and the median is on top of the upper half, where a list of every gap, cloned
//! and sorted on every report, cost O(n log n). A snapshot is the plain list of gaps (in no
//! order), as format 1 of the detector saved it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Default)]
pub struct Gaps {
    /// The `len / 2` smallest gaps.
    lower: BinaryHeap<i64>,
    /// The others; its smallest is the gap at position `len / 2` in order (the upper median).
    upper: BinaryHeap<Reverse<i64>>,
}

impl Gaps {
    pub fn insert(&mut self, gap: i64) {
        match self.upper.peek() {
            Some(&Reverse(median)) if gap < median => self.lower.push(gap),
            _ => self.upper.push(Reverse(gap)),
        }
        // Keep `upper` holding the larger half, with one more than `lower` for an odd count.
        if self.lower.len() > self.upper.len() {
            let moved = self.lower.pop().expect("lower is not empty");
            self.upper.push(Reverse(moved));
        } else if self.upper.len() > self.lower.len() + 1 {
            let Reverse(moved) = self.upper.pop().expect("upper is not empty");
            self.lower.push(moved);
        }
    }

    /// The gap at position `len / 2` of all gaps in order; `None` before the first.
    pub fn median(&self) -> Option<i64> {
        self.upper.peek().map(|&Reverse(median)| median)
    }
}

impl Serialize for Gaps {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.lower.iter().copied().chain(self.upper.iter().map(|&Reverse(gap)| gap)))
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

    #[test]
    fn the_median_is_the_one_a_sorted_list_of_every_gap_gives() {
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
                let mut sorted = every.clone();
                sorted.sort_unstable();
                assert_eq!(gaps.median(), Some(sorted[sorted.len() / 2]), "spread {spread}, step {step}");
            }
        }
    }

    #[test]
    fn a_snapshot_is_the_list_of_gaps_and_restores_the_median() -> Result<(), String> {
        let mut gaps = Gaps::default();
        for gap in [300, 100, 300, 200, 300] {
            gaps.insert(gap);
        }
        let saved = state::save(&gaps).ok_or("serializable")?;
        let mut listed: Vec<i64> = state::load(&saved)?;
        listed.sort_unstable();
        assert_eq!(listed, [100, 200, 300, 300, 300]);
        let mut restored: Gaps = state::load(&saved)?;
        assert_eq!(restored.median(), Some(300));
        for gap in [50, 50, 50] {
            restored.insert(gap);
        }
        assert_eq!(restored.median(), Some(200), "50 50 50 100 200 300 300 300");
        Ok(())
    }
}
