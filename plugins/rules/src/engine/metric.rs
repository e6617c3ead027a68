//! `metric`: a value above (or below) a multiple of the key's own usual value. The usual value
//! is a running mean that starts judging after `warmup` observations; one finding per
//! excursion, so a key is reported again only after it came back to normal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Found;
use crate::compile::MetricMatch;
use crate::filter::Captured;

/// The weight of a new observation once the mean has settled (an EWMA); before that, the
/// plain mean of what was seen.
const ALPHA: f64 = 0.1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    keys: BTreeMap<String, Baseline>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Baseline {
    observations: u32,
    mean: f64,
    excursion: bool,
}

impl State {
    pub fn on_event(&mut self, rule: &MetricMatch, group: String, value: f64, event: Captured) -> Option<Found> {
        let baseline = self.keys.entry(group).or_default();
        let mut found = None;
        if baseline.observations >= rule.warmup && baseline.mean > 0.0 {
            let high = rule.above.is_some_and(|factor| value > factor * baseline.mean);
            let low = rule.below.is_some_and(|factor| value < factor * baseline.mean);
            if high || low {
                if !baseline.excursion {
                    found = Some(Found {
                        events: vec![event],
                        steps: Vec::new(),
                        count: baseline.observations as usize + 1,
                        extra: 0,
                        distinct: Vec::new(),
                        metric: Some((value, baseline.mean)),
                        time_ms: None,
                    });
                }
                baseline.excursion = true;
            } else {
                baseline.excursion = false;
            }
        }
        baseline.observations = baseline.observations.saturating_add(1);
        let alpha = (1.0 / f64::from(baseline.observations)).max(ALPHA);
        baseline.mean += alpha * (value - baseline.mean);
        found
    }
}
