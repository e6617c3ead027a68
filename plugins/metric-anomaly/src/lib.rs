//! `metric_anomaly`: an agent whose run time or failure rate departs from *its own* baseline —
//! a linter that used to take 0.4 s now takes 2 s, a test runner that rarely failed now fails
//! every other run.
//!
//! Every agent has its own normal, so each is compared only with its past, per source (devloop
//! records one run in several logs; the finding's key is the agent and the metric, so they meet
//! in one finding). A single slow run is a cold cache, not a regression: the detector compares
//! the median of the last `recent_runs` runs with a robust baseline (median and MAD of up to
//! 200 earlier runs, after `warmup_runs`), and reports when its robust z-score passes
//! `z_threshold` *and* it is at least `min_ratio` times the baseline. Failure rates compare the
//! last `recent_runs × 2` outcomes with an EWMA of earlier ones by a one-sided binomial test,
//! requiring an increase of at least `min_failure_increase`. While a shift lasts the baseline
//! is frozen, so it does not learn the regression as the new normal.

use std::collections::{BTreeMap, VecDeque};

use devloop_plugin_sdk::prelude::*;

pub const PATTERN: &str = "metric_anomaly";

const BASELINE_CAPACITY: usize = 200;

#[derive(Debug)]
struct Series {
    durations: RobustBaseline,
    recent_durations: VecDeque<(f64, u64, i64)>,
    slow: bool,
    failure_rate: Ewma,
    recent_outcomes: VecDeque<(bool, u64, i64)>,
    failing: bool,
}

impl Series {
    fn new(warmup: usize) -> Self {
        Series {
            durations: RobustBaseline::new(BASELINE_CAPACITY, warmup),
            recent_durations: VecDeque::new(),
            slow: false,
            failure_rate: Ewma::new(0.02, warmup as u32),
            recent_outcomes: VecDeque::new(),
            failing: false,
        }
    }
}

pub struct MetricAnomaly {
    recent_runs: usize,
    warmup_runs: usize,
    z_threshold: f64,
    min_ratio: f64,
    min_failure_increase: f64,
    series: BTreeMap<(String, String), Series>,
}

impl Default for MetricAnomaly {
    fn default() -> Self {
        MetricAnomaly {
            recent_runs: 10,
            warmup_runs: 30,
            z_threshold: 3.5,
            min_ratio: 1.5,
            min_failure_increase: 0.25,
            series: BTreeMap::new(),
        }
    }
}

/// The agent an event is about: the subject for daemon-log results and event-store
/// completions, the actor (without the `agent.` logger prefix) for everything else.
fn agent_of(event: &Event) -> Option<String> {
    let name = match event.kind.as_str() {
        "log.agent_result" | "agent.completed" => event.subject.as_deref().or(event.actor.as_deref()),
        _ => event.actor.as_deref(),
    }?;
    let name = name.strip_prefix("agent.").unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] }
}

fn seconds(ms: f64) -> String {
    if ms >= 10_000.0 { format!("{:.0} s", ms / 1000.0) } else { format!("{:.2} s", ms / 1000.0) }
}

impl MetricAnomaly {
    fn duration(&mut self, agent: &str, kind: &str, event: &Event, duration_ms: f64, out: &mut Vec<Insight>) {
        let (recent_runs, z_threshold, min_ratio) = (self.recent_runs, self.z_threshold, self.min_ratio);
        let series = self.series.get_mut(&(agent.to_owned(), kind.to_owned())).expect("created by on_event");
        series.recent_durations.push_back((duration_ms, event.id, event.time_ms));
        if series.recent_durations.len() > recent_runs
            && let Some((oldest, _, _)) = series.recent_durations.pop_front()
            && !series.slow
        {
            series.durations.push(oldest);
        }
        if series.recent_durations.len() < recent_runs {
            return;
        }
        let recent = median(series.recent_durations.iter().map(|(duration, _, _)| *duration));
        let (Some(z), Some(baseline)) = (series.durations.robust_z(recent, 0.1), series.durations.median()) else {
            return;
        };
        let ratio = recent / baseline.max(1.0);
        if z < z_threshold / 2.0 {
            series.slow = false;
        }
        if series.slow || z < z_threshold || ratio < min_ratio {
            return;
        }
        series.slow = true;
        let mut insight = Insight::new(PATTERN, insight_key(&[agent, "duration"]))
            .severity(if ratio >= 3.0 { Severity::Error } else { Severity::Warning })
            .confidence(normal_cdf(z - z_threshold + 1.0).min(0.99))
            .message(format!(
                "`{agent}` runs {ratio:.1}× slower than its own baseline: median {recent} over its last {recent_runs} runs, against {baseline} before",
                recent = seconds(recent),
                baseline = seconds(baseline),
            ))
            .recommendation(format!(
                "Look at what changed for `{agent}` just before the slow runs in the evidence: a new rule, a bigger \
                 input, a lost cache. Profile one slow run, and give the agent a time budget so it cannot slow the loop down unnoticed."
            ))
            .evidence("agent", agent)
            .evidence("metric", "duration")
            .evidence("source_kind", kind)
            .evidence("recent_median_ms", recent.round() as i64)
            .evidence("baseline_median_ms", baseline.round() as i64)
            .evidence("ratio", (ratio * 100.0).round() / 100.0)
            .evidence("robust_z", (z * 10.0).round() / 10.0)
            .evidence("recent_runs", recent_runs);
        for (_, id, time) in &series.recent_durations {
            insight = insight.event_id(*id, *time);
        }
        out.push(insight);
    }

    fn outcome(&mut self, agent: &str, kind: &str, event: &Event, failed: bool, out: &mut Vec<Insight>) {
        let window = self.recent_runs * 2;
        let min_increase = self.min_failure_increase;
        let series = self.series.get_mut(&(agent.to_owned(), kind.to_owned())).expect("created by on_event");
        series.recent_outcomes.push_back((failed, event.id, event.time_ms));
        if series.recent_outcomes.len() > window
            && let Some((oldest, _, _)) = series.recent_outcomes.pop_front()
            && !series.failing
        {
            series.failure_rate.update(if oldest { 1.0 } else { 0.0 });
        }
        if series.recent_outcomes.len() < window || !series.failure_rate.warmed_up() {
            return;
        }
        let failures = series.recent_outcomes.iter().filter(|(failed, _, _)| *failed).count();
        let rate = failures as f64 / window as f64;
        let baseline = series.failure_rate.mean().max(0.02);
        if rate - baseline < min_increase / 2.0 {
            series.failing = false;
        }
        let confidence = binomial_confidence(failures as u64, window as u64, baseline);
        if series.failing || rate - baseline < min_increase || confidence < 0.999 {
            return;
        }
        series.failing = true;
        let mut insight = Insight::new(PATTERN, insight_key(&[agent, "failure_rate"]))
            .severity(if rate >= 0.5 { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(format!(
                "`{agent}` failed {failures} of its last {window} runs ({percent:.0}%), against {base:.0}% before",
                percent = rate * 100.0,
                base = baseline * 100.0,
            ))
            .recommendation(format!(
                "Read the errors of `{agent}`'s recent failed runs (evidence): a broken dependency, a changed \
                 environment or a bad release. Make the agent report the cause, and alert on its failure rate."
            ))
            .evidence("agent", agent)
            .evidence("metric", "failure_rate")
            .evidence("source_kind", kind)
            .evidence("recent_failures", failures)
            .evidence("recent_runs", window)
            .evidence("recent_failure_rate", (rate * 1000.0).round() / 1000.0)
            .evidence("baseline_failure_rate", (baseline * 1000.0).round() / 1000.0);
        for (_, id, time) in series.recent_outcomes.iter().filter(|(failed, _, _)| *failed) {
            insight = insight.event_id(*id, *time);
        }
        out.push(insight);
    }
}

impl Detector for MetricAnomaly {
    fn info() -> DetectorInfo {
        DetectorInfo::new("metric-anomaly", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["telemetry.agent_executed", "performance.operation", "agent.completed", "log.agent_result"])
            .setting(
                "recent_runs",
                10_i64,
                "Runs whose median duration is compared with the baseline (twice as many for failure rates).",
            )
            .setting("warmup_runs", 30_i64, "Runs an agent needs before its baseline is trusted.")
            .setting("z_threshold", 3.5, "Robust z-score (median/MAD) beyond which the recent median is anomalous.")
            .setting("min_ratio", 1.5, "How many times slower than the baseline median the recent median must be.")
            .setting(
                "min_failure_increase",
                0.25,
                "Rise of the failure rate over the baseline rate that matters (0.25 = 25 points).",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.recent_runs = settings.integer_at_least("recent_runs", 3)? as usize;
        self.warmup_runs = settings.integer_at_least("warmup_runs", 5)? as usize;
        self.z_threshold = settings.float("z_threshold")?;
        self.min_ratio = settings.float("min_ratio")?;
        self.min_failure_increase = settings.float("min_failure_increase")?;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let Some(agent) = agent_of(event) else { return Ok(()) };
        let warmup = self.warmup_runs;
        self.series.entry((agent.clone(), event.kind.clone())).or_insert_with(|| Series::new(warmup));
        if let Some(duration_ms) = event.duration_ms {
            self.duration(&agent, &event.kind, event, duration_ms as f64, out);
        }
        if event.outcome.status != Status::Unknown {
            self.outcome(&agent, &event.kind, event, event.failed(), out);
        }
        Ok(())
    }
}

export_detector!(MetricAnomaly);

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic spread around `center`: ±20%, and a cold-start spike every 37 runs.
    fn jitter(index: u64, center: f64) -> u64 {
        let spread = ((index * 7_919) % 41) as f64 / 40.0 - 0.5;
        let spike = if index.is_multiple_of(37) { 8.0 } else { 1.0 };
        (center * (1.0 + 0.4 * spread) * spike) as u64
    }

    fn run(id: u64, agent: &str, duration_ms: u64, success: bool) -> Event {
        Event::at(id, id as i64 * 60_000, "telemetry.agent_executed")
            .source("telemetry")
            .actor(agent)
            .subject(agent)
            .duration(duration_ms)
            .success(success)
    }

    #[test]
    fn a_sustained_slowdown_is_reported_once_and_spikes_are_not() -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        let mut events: Vec<Event> = (0..200).map(|index| run(index, "linter", jitter(index, 400.0), true)).collect();
        assert!(detector.process(&events)?.is_empty(), "noise with spikes is normal");
        events = (200..260).map(|index| run(index, "linter", jitter(index, 1_600.0), true)).collect();
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(insights[0].key, "linter\u{1f}duration");
        assert!(
            insights[0].message.contains("`linter`") && insights[0].message.contains("slower"),
            "{}",
            insights[0].message
        );
        Ok(())
    }

    #[test]
    fn a_jump_in_failures_is_reported_and_occasional_failures_are_not() -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        let events: Vec<Event> =
            (0..300).map(|index| run(index, "test-runner", jitter(index, 2_000.0), index % 25 != 3)).collect();
        assert!(detector.process(&events)?.is_empty());
        let events: Vec<Event> =
            (300..340).map(|index| run(index, "test-runner", jitter(index, 2_000.0), index % 2 == 0)).collect();
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(insights[0].key, "test-runner\u{1f}failure_rate");
        assert!(insights[0].confidence >= 0.98, "{}", insights[0].confidence);
        Ok(())
    }

    #[test]
    fn nothing_is_judged_during_warmup() -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        let mut events: Vec<Event> = (0..10).map(|index| run(index, "linter", 100, true)).collect();
        events.extend((10..25).map(|index| run(index, "linter", 10_000, false)));
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }
}
