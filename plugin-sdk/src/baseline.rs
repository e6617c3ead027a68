//! Baselines that say whether a value departs from what is normal *for this subject*: an
//! exponentially weighted mean and variance (EWMA, for slow-moving rates), and a robust
//! median/MAD z-score over a rolling window (for durations, where a few huge outliers must not
//! drag the baseline along).
//!
//! Both refuse to judge during warm-up (`None`), and both put a floor under the spread so that
//! a subject that was perfectly constant does not turn every small change into an infinite z.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Exponentially weighted moving mean and variance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ewma {
    alpha: f64,
    warmup: u32,
    count: u32,
    mean: f64,
    variance: f64,
}

impl Ewma {
    /// `alpha` is the weight of each new value (0.05 ≈ the last 20 values matter most);
    /// `warmup` values are needed before [`Ewma::zscore`] answers.
    pub fn new(alpha: f64, warmup: u32) -> Self {
        Ewma { alpha: alpha.clamp(1e-6, 1.0), warmup, count: 0, mean: 0.0, variance: 0.0 }
    }

    pub fn update(&mut self, value: f64) {
        if self.count == 0 {
            self.mean = value;
        } else {
            let delta = value - self.mean;
            self.mean += self.alpha * delta;
            self.variance = (1.0 - self.alpha) * (self.variance + self.alpha * delta * delta);
        }
        self.count = self.count.saturating_add(1);
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    pub fn warmed_up(&self) -> bool {
        self.count >= self.warmup
    }

    /// How many standard deviations `value` is from the mean, with the deviation floored at
    /// `min_deviation`; `None` during warm-up.
    pub fn zscore(&self, value: f64, min_deviation: f64) -> Option<f64> {
        if !self.warmed_up() {
            return None;
        }
        Some((value - self.mean) / self.variance.sqrt().max(min_deviation).max(f64::EPSILON))
    }
}

/// The consistency constant that makes the MAD estimate a standard deviation for normal data.
const MAD_SCALE: f64 = 0.6745;

/// Median and median absolute deviation over the last `capacity` values.
///
/// The window is kept twice: in arrival order (what slides out next, and what a snapshot
/// holds) and sorted, updated by binary search on every push. The median is then a lookup,
/// and the MAD a selection in O(log n): the deviations from the median of the values below it
/// and of those above it are two sorted runs, whose k-th smallest is found by bisection
/// without sorting either. A detector asking for a z-score on every event pays O(log n) for
/// it, plus a memmove of at most `capacity` values per push, instead of two sorts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Window")]
pub struct RobustBaseline {
    capacity: usize,
    warmup: usize,
    values: VecDeque<f64>,
    #[serde(skip)]
    sorted: Vec<f64>,
}

/// What a snapshot holds (the layout the baseline always had): the sorted copy is rebuilt.
#[derive(Deserialize)]
struct Window {
    capacity: usize,
    warmup: usize,
    values: VecDeque<f64>,
}

impl From<Window> for RobustBaseline {
    fn from(window: Window) -> Self {
        let mut baseline = RobustBaseline::new(window.capacity, window.warmup);
        for value in window.values {
            baseline.push(value);
        }
        baseline
    }
}

fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) { (sorted[middle - 1] + sorted[middle]) / 2.0 } else { sorted[middle] }
}

/// The `k`-th smallest (from 0) of two ascending runs of `below` and `above` items, read
/// through `lower(i)` and `upper(j)`: the bisection of Frederickson and Johnson on how many
/// come from the first run.
fn kth_of_two(k: usize, below: usize, above: usize, lower: impl Fn(usize) -> f64, upper: impl Fn(usize) -> f64) -> f64 {
    debug_assert!(k < below + above);
    let (mut low, mut high) = (k.saturating_sub(above), k.min(below));
    // Invariant: the answer takes `taken` items from the first run, with low <= taken <= high.
    while low < high {
        let taken = (low + high) / 2;
        // Taking `taken` from the first run and `k - taken` from the second is too few from the
        // first when its next item is below the last one taken from the second.
        if lower(taken) < upper(k - taken - 1) { low = taken + 1 } else { high = taken }
    }
    let taken = low;
    let from_lower = (taken < below).then(|| lower(taken));
    let from_upper = (k - taken < above).then(|| upper(k - taken));
    match (from_lower, from_upper) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => unreachable!("k is below the length of the two runs"),
    }
}

impl RobustBaseline {
    /// Keeps the last `capacity` values; answers once it holds `warmup` of them.
    pub fn new(capacity: usize, warmup: usize) -> Self {
        let capacity = capacity.max(1);
        RobustBaseline {
            capacity,
            warmup: warmup.clamp(1, capacity),
            values: VecDeque::with_capacity(capacity),
            sorted: Vec::with_capacity(capacity),
        }
    }

    /// Adds `value`, pushing the oldest out when the window is full. A NaN is no measurement
    /// and is left out.
    pub fn push(&mut self, value: f64) {
        if value.is_nan() {
            return;
        }
        if self.values.len() == self.capacity
            && let Some(oldest) = self.values.pop_front()
        {
            let index = self.sorted.partition_point(|kept| kept.total_cmp(&oldest).is_lt());
            self.sorted.remove(index);
        }
        self.values.push_back(value);
        let index = self.sorted.partition_point(|kept| kept.total_cmp(&value).is_le());
        self.sorted.insert(index, value);
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn warmed_up(&self) -> bool {
        self.values.len() >= self.warmup
    }

    /// The median of the window, if it has any values.
    pub fn median(&self) -> Option<f64> {
        (!self.sorted.is_empty()).then(|| median(&self.sorted))
    }

    /// `0.6745·(x − median)/MAD` (Iglewicz and Hoaglin; |z| > 3.5 is the usual outlier line).
    /// When MAD is 0 (more than half the values equal) it falls back to the mean absolute
    /// deviation (scaled to the same units), and the spread is never taken below
    /// `min_relative_spread` × |median|. `None` during warm-up.
    pub fn robust_z(&self, value: f64, min_relative_spread: f64) -> Option<f64> {
        if !self.warmed_up() {
            return None;
        }
        let center = median(&self.sorted);
        let mut mad = self.median_deviation(center);
        if mad == 0.0 {
            mad = self.mean_deviation(center) * 1.253_314 * MAD_SCALE;
        }
        let floor = (min_relative_spread * center.abs()).max(f64::EPSILON);
        Some(MAD_SCALE * (value - center) / mad.max(floor * MAD_SCALE))
    }

    /// Where the values at or above `center` start in the sorted window: the deviations of
    /// the values before it grow leftwards, those from it on grow rightwards.
    fn split(&self, center: f64) -> usize {
        self.sorted.partition_point(|kept| *kept < center)
    }

    /// The median of `|value − center|` over the window.
    fn median_deviation(&self, center: f64) -> f64 {
        let split = self.split(center);
        let (below, above) = (split, self.sorted.len() - split);
        let lower = |index: usize| (self.sorted[split - 1 - index] - center).abs();
        let upper = |index: usize| (self.sorted[split + index] - center).abs();
        let count = self.sorted.len();
        let middle = count / 2;
        if count.is_multiple_of(2) {
            (kth_of_two(middle - 1, below, above, lower, upper) + kth_of_two(middle, below, above, lower, upper)) / 2.0
        } else {
            kth_of_two(middle, below, above, lower, upper)
        }
    }

    /// The mean of `|value − center|`, summed smallest first (as a sorted list of deviations
    /// would be, so the sum is the same to the last bit): a walk outwards from the median,
    /// O(n) without allocating, asked for only when the MAD is 0.
    fn mean_deviation(&self, center: f64) -> f64 {
        let split = self.split(center);
        let (mut left, mut right) = (split, split);
        let mut sum = 0.0;
        while left > 0 || right < self.sorted.len() {
            let lower = (left > 0).then(|| (self.sorted[left - 1] - center).abs());
            let upper = (right < self.sorted.len()).then(|| (self.sorted[right] - center).abs());
            match (lower, upper) {
                (Some(a), Some(b)) if b < a => {
                    sum += b;
                    right += 1;
                }
                (Some(a), _) => {
                    sum += a;
                    left -= 1;
                }
                (None, Some(b)) => {
                    sum += b;
                    right += 1;
                }
                (None, None) => break,
            }
        }
        sum / self.sorted.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ewma_waits_for_warmup_then_tracks_the_mean() {
        let mut ewma = Ewma::new(0.1, 5);
        for _ in 0..4 {
            ewma.update(10.0);
        }
        assert_eq!(ewma.zscore(50.0, 1.0), None);
        ewma.update(10.0);
        let z = ewma.zscore(13.0, 1.0).expect("warmed up");
        assert!((z - 3.0).abs() < 1e-9, "constant history: the floor of 1.0 is the deviation, z={z}");
        for _ in 0..200 {
            ewma.update(20.0);
        }
        assert!((ewma.mean() - 20.0).abs() < 0.01, "mean moved to the new level: {}", ewma.mean());
    }

    #[test]
    fn robust_z_ignores_a_few_huge_outliers_in_the_baseline() {
        let mut baseline = RobustBaseline::new(100, 10);
        for index in 0..40 {
            baseline.push(if index % 10 == 0 { 10_000.0 } else { 400.0 + f64::from(index % 7) * 10.0 });
        }
        let usual = baseline.robust_z(430.0, 0.05).expect("warmed up");
        let slow = baseline.robust_z(1_600.0, 0.05).expect("warmed up");
        assert!(usual.abs() < 1.0, "a usual value: z={usual}");
        assert!(slow > 3.5, "four times slower is an outlier despite the 10s spikes: z={slow}");
        assert_eq!(baseline.median(), Some(430.0));
    }

    #[test]
    fn robust_z_has_a_floor_when_history_is_constant() {
        let mut baseline = RobustBaseline::new(10, 3);
        for _ in 0..10 {
            baseline.push(100.0);
        }
        let z = baseline.robust_z(101.0, 0.05).expect("warmed up");
        assert!(z.is_finite() && z < 1.0, "1% off a constant is not an anomaly: z={z}");
        assert!(baseline.robust_z(300.0, 0.05).expect("warmed up") > 3.5);
    }

    /// The baseline as it was computed before the sorted window: sort everything, every time.
    fn reference(window: &[f64], value: f64, min_relative_spread: f64) -> (f64, f64) {
        let sorted = |values: &mut Vec<f64>| values.sort_by(f64::total_cmp);
        let mut values = window.to_vec();
        sorted(&mut values);
        let center = median(&values);
        let mut deviations: Vec<f64> = values.iter().map(|value| (value - center).abs()).collect();
        sorted(&mut deviations);
        let mut mad = median(&deviations);
        if mad == 0.0 {
            mad = deviations.iter().sum::<f64>() / deviations.len() as f64 * 1.253_314 * MAD_SCALE;
        }
        let floor = (min_relative_spread * center.abs()).max(f64::EPSILON);
        (center, MAD_SCALE * (value - center) / mad.max(floor * MAD_SCALE))
    }

    #[test]
    fn the_sorted_window_gives_the_same_median_and_z_as_sorting_every_time() {
        let mut state: u64 = 7;
        let mut next = move || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        for capacity in [1, 2, 3, 10, 51, 200] {
            let mut baseline = RobustBaseline::new(capacity, 1);
            let mut window: VecDeque<f64> = VecDeque::new();
            for step in 0..2_000_u64 {
                // Runs of one repeated value (a MAD of 0), integers with ties, and fractions.
                let value = match (step / 300) % 3 {
                    0 => 400.0,
                    1 => (next() % 50) as f64,
                    _ => (next() % 10_000) as f64 / 7.0 - 300.0,
                };
                let value = if next() % 5 == 0 { 400.0 } else { value };
                baseline.push(value);
                window.push_back(value);
                if window.len() > capacity {
                    window.pop_front();
                }
                let probe = (next() % 2_000) as f64 / 3.0;
                let (center, z) = reference(window.make_contiguous(), probe, 0.1);
                assert_eq!(baseline.median().map(f64::to_bits), Some(center.to_bits()), "step {step}");
                let got = baseline.robust_z(probe, 0.1).expect("warm-up of 1");
                assert_eq!(got.to_bits(), z.to_bits(), "capacity {capacity}, step {step}: {got} against {z}");
            }
        }
    }

    #[test]
    fn a_snapshot_restores_the_same_window_in_the_layout_it_always_had() -> Result<(), serde_json::Error> {
        let mut baseline = RobustBaseline::new(4, 2);
        for value in [5.0, 1.0, 9.0, 3.0, 7.0] {
            baseline.push(value);
        }
        let saved = serde_json::to_value(&baseline)?;
        assert_eq!(saved, serde_json::json!({"capacity": 4, "warmup": 2, "values": [1.0, 9.0, 3.0, 7.0]}));
        let mut restored: RobustBaseline = serde_json::from_value(saved)?;
        assert_eq!(restored.median(), Some(5.0));
        restored.push(2.0);
        assert_eq!(restored.median(), Some(5.0), "9, 3, 7, 2: the 1 slid out first");
        assert_eq!(restored.robust_z(7.0, 0.0), Some(reference(&[9.0, 3.0, 7.0, 2.0], 7.0, 0.0).1));
        Ok(())
    }

    #[test]
    fn robust_baseline_refuses_to_judge_before_warmup_and_slides() {
        let mut baseline = RobustBaseline::new(3, 2);
        baseline.push(1.0);
        assert_eq!(baseline.robust_z(5.0, 0.1), None);
        for value in [2.0, 3.0, 4.0] {
            baseline.push(value);
        }
        assert_eq!(baseline.len(), 3);
        assert_eq!(baseline.median(), Some(3.0));
    }
}
