//! Baselines that say whether a value departs from what is normal *for this subject*: an
//! exponentially weighted mean and variance (EWMA, for slow-moving rates), and a robust
//! median/MAD z-score over a rolling window (for durations, where a few huge outliers must not
//! drag the baseline along).
//!
//! Both refuse to judge during warm-up (`None`), and both put a floor under the spread so that
//! a subject that was perfectly constant does not turn every small change into an infinite z.

use std::collections::VecDeque;

/// Exponentially weighted moving mean and variance.
#[derive(Debug, Clone)]
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
#[derive(Debug, Clone)]
pub struct RobustBaseline {
    capacity: usize,
    warmup: usize,
    values: VecDeque<f64>,
}

fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) { (sorted[middle - 1] + sorted[middle]) / 2.0 } else { sorted[middle] }
}

fn sorted(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values
}

impl RobustBaseline {
    /// Keeps the last `capacity` values; answers once it holds `warmup` of them.
    pub fn new(capacity: usize, warmup: usize) -> Self {
        let capacity = capacity.max(1);
        RobustBaseline { capacity, warmup: warmup.clamp(1, capacity), values: VecDeque::with_capacity(capacity) }
    }

    pub fn push(&mut self, value: f64) {
        if self.values.len() == self.capacity {
            self.values.pop_front();
        }
        self.values.push_back(value);
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
        (!self.values.is_empty()).then(|| median(&sorted(self.values.iter().copied())))
    }

    /// `0.6745·(x − median)/MAD` (Iglewicz and Hoaglin; |z| > 3.5 is the usual outlier line).
    /// When MAD is 0 (more than half the values equal) it falls back to the mean absolute
    /// deviation (scaled to the same units), and the spread is never taken below
    /// `min_relative_spread` × |median|. `None` during warm-up.
    pub fn robust_z(&self, value: f64, min_relative_spread: f64) -> Option<f64> {
        if !self.warmed_up() {
            return None;
        }
        let values = sorted(self.values.iter().copied());
        let center = median(&values);
        let deviations = sorted(values.iter().map(|value| (value - center).abs()));
        let mut mad = median(&deviations);
        if mad == 0.0 {
            let mean_deviation = deviations.iter().sum::<f64>() / deviations.len() as f64;
            mad = mean_deviation * 1.253_314 * MAD_SCALE;
        }
        let floor = (min_relative_spread * center.abs()).max(f64::EPSILON);
        Some(MAD_SCALE * (value - center) / mad.max(floor * MAD_SCALE))
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
