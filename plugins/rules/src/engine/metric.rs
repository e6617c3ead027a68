//! `metric`: a value above (or below) a multiple of the key's own usual value.
//!
//! With the running mean, one finding per excursion: a key is reported again only after it
//! came back to normal.
//!
//! Two baselines. The running mean (the default) judges each value as it comes, after `warmup`
//! observations. The median baseline judges the median of the key's last `recent` values
//! against the median of up to 200 values before them, optionally with a robust z-score from
//! their median absolute deviation: one cold-start spike cannot move a median of ten, and the
//! baseline is frozen while the key is out of range, so it does not learn a regression as the
//! new normal. Its finding stays current while the excursion lasts: the first report names the
//! recent values that are beyond the usual on their own, and each later value beyond it
//! re-reports the finding with the median as it is then, naming only that value's event; a
//! value back in range sends nothing. `{count}` is the values beyond the usual so far.

use std::collections::{BTreeMap, VecDeque};

use devloop_plugin_sdk::RobustBaseline;
use serde::{Deserialize, Serialize};

use super::Found;
use crate::compile::{Baseline, MetricMatch};
use crate::filter::Captured;

/// The weight of a new observation once the mean has settled (an EWMA); before that, the
/// plain mean of what was seen.
const ALPHA: f64 = 0.1;

/// Earlier values a median baseline keeps.
const MEDIAN_CAPACITY: usize = 200;

/// The spread of a median baseline is never taken below this share of its median, so a key
/// whose values were all equal is not "infinitely" far off at the first different one.
const MIN_RELATIVE_SPREAD: f64 = 0.1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    keys: BTreeMap<String, Mean>,
    #[serde(default)]
    series: BTreeMap<String, Series>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Mean {
    observations: u32,
    mean: f64,
    excursion: bool,
}

/// A key's latest values and the median baseline of the values before them.
#[derive(Debug, Serialize, Deserialize)]
struct Series {
    baseline: RobustBaseline,
    recent: VecDeque<(f64, Captured)>,
    excursion: bool,
    /// Values beyond the usual named since the excursion began.
    #[serde(default)]
    beyond: usize,
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] }
}

impl State {
    pub fn on_event(&mut self, rule: &MetricMatch, group: String, value: f64, event: Captured) -> Option<Found> {
        match rule.baseline {
            Baseline::Mean => self.against_mean(rule, group, value, event),
            Baseline::Median { z_above } => self.against_median(rule, z_above, group, value, event),
        }
    }

    fn against_mean(&mut self, rule: &MetricMatch, group: String, value: f64, event: Captured) -> Option<Found> {
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
                        shares: None,
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

    fn against_median(
        &mut self,
        rule: &MetricMatch,
        z_above: Option<f64>,
        group: String,
        value: f64,
        event: Captured,
    ) -> Option<Found> {
        let series = self.series.entry(group).or_insert_with(|| Series {
            baseline: RobustBaseline::new(MEDIAN_CAPACITY, rule.warmup as usize),
            recent: VecDeque::new(),
            excursion: false,
            beyond: 0,
        });
        series.recent.push_back((value, event));
        if series.recent.len() > rule.recent
            && let Some((oldest, _)) = series.recent.pop_front()
            && !series.excursion
        {
            series.baseline.push(oldest);
        }
        if series.recent.len() < rule.recent {
            return None;
        }
        let recent = median(series.recent.iter().map(|(value, _)| *value));
        let (Some(z), Some(baseline)) =
            (series.baseline.robust_z(recent, MIN_RELATIVE_SPREAD), series.baseline.median())
        else {
            return None;
        };
        if baseline <= 0.0 {
            return None;
        }
        let usual = &series.baseline;
        let beyond = |value: f64, z: f64| {
            let ratio = value / baseline;
            let high = rule.above.is_some_and(|factor| ratio >= factor) && z_above.is_none_or(|line| z >= line);
            let low = rule.below.is_some_and(|factor| ratio <= factor) && z_above.is_none_or(|line| z <= -line);
            (high, low)
        };
        let beyond_alone = |value: f64| {
            usual.robust_z(value, MIN_RELATIVE_SPREAD).is_some_and(|z| {
                let (high, low) = beyond(value, z);
                high || low
            })
        };
        let (high, low) = beyond(recent, z);
        let back_to_normal = match z_above {
            // Half the line, so a key hovering at the threshold is not reported on every wobble.
            Some(threshold) => {
                rule.above.is_none_or(|_| z < threshold / 2.0) && rule.below.is_none_or(|_| z > -threshold / 2.0)
            }
            None => !high && !low,
        };
        if back_to_normal {
            series.excursion = false;
        }
        let events: Vec<Captured> = if series.excursion {
            let (value, event) = series.recent.back()?;
            if !beyond_alone(*value) {
                return None;
            }
            vec![event.clone()]
        } else if high || low {
            series.excursion = true;
            series.beyond = 0;
            series.recent.iter().filter(|(value, _)| beyond_alone(*value)).map(|(_, event)| event.clone()).collect()
        } else {
            return None;
        };
        series.beyond += events.len();
        Some(Found {
            events,
            steps: Vec::new(),
            count: series.beyond,
            extra: 0,
            distinct: Vec::new(),
            metric: Some((recent, baseline)),
            shares: None,
            time_ms: None,
        })
    }
}
