//! Confidence that means something: one-sided tests of "this share is higher than chance".
//!
//! Detectors that count how often something happens to one subject (dismissals of one agent,
//! manual edits after one agent's fixes) report as confidence `1 − p`, where p is the chance of
//! seeing a share at least this high if the subject were no different from the baseline. Normal
//! approximations are plenty at the counts detectors act on, and cost nothing in a plugin.

/// The standard normal cumulative distribution, Φ(z) (Abramowitz and Stegun 7.1.26 for erf,
/// absolute error < 1.5e-7).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erf = 1.0 - poly * (-x * x).exp();
    if z >= 0.0 { 0.5 * (1.0 + erf) } else { 0.5 * (1.0 - erf) }
}

/// `1 − P(X ≥ successes)` for X ~ Binomial(trials, p0): how sure we are that the true share is
/// above `p0` (normal approximation with continuity correction; `p0` is kept inside [0.01, 0.99]).
pub fn binomial_confidence(successes: u64, trials: u64, p0: f64) -> f64 {
    if trials == 0 {
        return 0.0;
    }
    let p0 = p0.clamp(0.01, 0.99);
    let n = trials as f64;
    let mean = n * p0;
    let deviation = (n * p0 * (1.0 - p0)).sqrt();
    normal_cdf((successes as f64 - 0.5 - mean) / deviation)
}

/// How sure we are that share `a_hits / a_total` is above share `b_hits / b_total` (pooled
/// two-proportion z-test, one-sided).
pub fn two_proportion_confidence(a_hits: u64, a_total: u64, b_hits: u64, b_total: u64) -> f64 {
    if a_total == 0 || b_total == 0 {
        return 0.0;
    }
    let (a_n, b_n) = (a_total as f64, b_total as f64);
    let pooled = ((a_hits + b_hits) as f64 / (a_n + b_n)).clamp(0.01, 0.99);
    let deviation = (pooled * (1.0 - pooled) * (1.0 / a_n + 1.0 / b_n)).sqrt();
    normal_cdf((a_hits as f64 / a_n - b_hits as f64 / b_n) / deviation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_cdf_matches_known_values() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-3);
        assert!((normal_cdf(-1.0) - 0.158_655).abs() < 1e-4);
    }

    #[test]
    fn binomial_confidence_grows_with_evidence() {
        let weak = binomial_confidence(2, 3, 0.15);
        let strong = binomial_confidence(8, 10, 0.15);
        assert!(strong > 0.999, "8 of 10 where 15% is chance: {strong}");
        assert!(weak < strong);
        assert!(binomial_confidence(1, 10, 0.15) < 0.5, "at chance level we are not sure of anything");
        assert_eq!(binomial_confidence(0, 0, 0.5), 0.0);
    }

    #[test]
    fn two_proportions() {
        assert!(two_proportion_confidence(14, 18, 20, 160) > 0.999);
        assert!(two_proportion_confidence(3, 20, 20, 160) < 0.7);
        assert_eq!(two_proportion_confidence(1, 0, 1, 1), 0.0);
    }
}
