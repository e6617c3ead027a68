//! The gaps between the runs of a pair, for their median: a count per gap (at most one entry
//! per millisecond of the window, however often the pair happens) with the median at hand.
//! One insertion moves the median by at most one distinct gap, so it costs O(log n) where
//! sorting a list of every gap, on every report, cost O(n log n) and memory that grew forever.

use std::collections::BTreeMap;
use std::ops::Bound;

use serde::{Deserialize, Serialize};

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(from = "Counts")]
pub struct Gaps {
    #[serde(with = "devloop_plugin_sdk::state::as_pairs")]
    counts: BTreeMap<i64, u64>,
    #[serde(skip)]
    total: u64,
    /// The gap at position `total / 2` of all gaps in order (the upper median).
    #[serde(skip)]
    median: i64,
    /// How many gaps are below `median`.
    #[serde(skip)]
    below: u64,
}

/// What a snapshot holds: the counts; the median is found again.
#[derive(Deserialize)]
struct Counts {
    #[serde(with = "devloop_plugin_sdk::state::as_pairs")]
    counts: BTreeMap<i64, u64>,
}

impl From<Counts> for Gaps {
    fn from(saved: Counts) -> Self {
        let counts: BTreeMap<i64, u64> = saved.counts.into_iter().filter(|(_, count)| *count > 0).collect();
        let total = counts.values().sum();
        let mut below = 0;
        for (&gap, &count) in &counts {
            if below + count > total / 2 {
                return Gaps { counts, total, median: gap, below };
            }
            below += count;
        }
        Gaps::default()
    }
}

impl Gaps {
    pub fn insert(&mut self, gap: i64) {
        *self.counts.entry(gap).or_default() += 1;
        self.total += 1;
        if self.total == 1 {
            self.median = gap;
            return;
        }
        if gap < self.median {
            self.below += 1;
        }
        let position = self.total / 2;
        loop {
            let at_median = self.counts[&self.median];
            if position < self.below {
                let (&previous, &count) =
                    self.counts.range(..self.median).next_back().expect("gaps are counted below the median");
                self.median = previous;
                self.below -= count;
            } else if position >= self.below + at_median {
                let (&next, _) = self
                    .counts
                    .range((Bound::Excluded(self.median), Bound::Unbounded))
                    .next()
                    .expect("gaps are counted above the median");
                self.below += at_median;
                self.median = next;
            } else {
                break;
            }
        }
    }

    /// The gap at position `len / 2` of all gaps in order; `None` before the first.
    pub fn median(&self) -> Option<i64> {
        (self.total > 0).then_some(self.median)
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
    fn a_snapshot_holds_the_counts_and_restores_the_median() -> Result<(), String> {
        let mut gaps = Gaps::default();
        for gap in [300, 100, 300, 200, 300] {
            gaps.insert(gap);
        }
        let saved = state::save(&gaps).ok_or("serializable")?;
        assert_eq!(String::from_utf8_lossy(&saved), r#"{"counts":[[100,1],[200,1],[300,3]]}"#);
        let mut restored: Gaps = state::load(&saved)?;
        assert_eq!(restored.median(), Some(300));
        for gap in [50, 50, 50] {
            restored.insert(gap);
        }
        assert_eq!(restored.median(), Some(200), "50 50 50 100 200 300 300 300");
        Ok(())
    }
}
