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
//!
//! An agent that has always failed has no shift to find, so there is a third check: an agent
//! *failing the same way on most of its runs* ("Check failed for a.py: black command not found"
//! on every save). Failed runs are grouped by their error with file names and numbers taken
//! out; at least `min_same_failures` runs failing the same way, making at least
//! `min_same_share` of the agent's runs in that log, is a finding. devloop's context store
//! counts too: a result whose message says the agent's own check failed (`Check failed`, `not
//! found`, `not installed`) is such a run. One-off slow runs and an agent that fails now and
//! then for different reasons stay quiet.

use std::collections::{BTreeMap, VecDeque};

use devloop_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "metric_anomaly";

const BASELINE_CAPACITY: usize = 200;

#[derive(Debug, Serialize, Deserialize)]
struct Series {
    durations: RobustBaseline,
    recent_durations: VecDeque<(f64, u64, i64)>,
    slow: bool,
    failure_rate: Ewma,
    recent_outcomes: VecDeque<(bool, u64, i64)>,
    failing: bool,
    /// Runs, and failed runs per error signature with the first error as logged.
    runs: u64,
    #[serde(with = "devloop_plugin_sdk::state::as_pairs")]
    failures: BTreeMap<String, (u64, String)>,
}

/// Error signatures kept per series; the rarest gives way first.
const MAX_SIGNATURES: usize = 32;

/// Phrases of a context-store result that say the agent's own check failed.
const TOOL_FAILURE: &[&str] = &["check failed", "not found", "not installed", "could not run", "failed to run"];

/// The error of a failed run with file names and numbers taken out, so the same failure on
/// different files meets: "Check failed for a.py: black command not found" and the same for
/// b.py are one signature.
fn signature(error: &str) -> String {
    error
        .split_whitespace()
        .map(|word| {
            let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
            if bare.contains('/') || bare.contains('.') || bare.contains('\\') {
                "<file>".to_owned()
            } else {
                word.chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The error a failed run (or a context-store result about a failed check) logged.
fn failure_text(event: &Event) -> Option<&str> {
    if event.kind == "context.finding" {
        return event.text("message").filter(|message| {
            let message = message.to_lowercase();
            TOOL_FAILURE.iter().any(|phrase| message.contains(phrase))
        });
    }
    if !event.failed() {
        return None;
    }
    ["error", "error_message", "message"].iter().find_map(|key| event.text(key)).filter(|error| !error.is_empty())
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
            runs: 0,
            failures: BTreeMap::new(),
        }
    }
}

/// The settings, apart from the state, so a series can be judged while it is borrowed.
#[derive(Debug, Clone, Copy)]
struct Limits {
    recent_runs: usize,
    warmup_runs: usize,
    z_threshold: f64,
    min_ratio: f64,
    min_failure_increase: f64,
    min_same_failures: u64,
    min_same_share: f64,
}

/// The run being judged: its agent, the kind of record it came in, the event itself.
struct Run<'a> {
    agent: &'a str,
    kind: &'a str,
    event: &'a Event,
}

pub struct MetricAnomaly {
    limits: Limits,
    series: PairMap<(String, String), Series>,
    reported: LastReported<String>,
    /// Room to sort the recent durations in, kept so that no event allocates for it.
    scratch: Vec<f64>,
}

impl Default for MetricAnomaly {
    fn default() -> Self {
        MetricAnomaly {
            limits: Limits {
                recent_runs: 10,
                warmup_runs: 30,
                z_threshold: 3.5,
                min_ratio: 1.5,
                min_failure_increase: 0.25,
                min_same_failures: 5,
                min_same_share: 0.6,
            },
            series: PairMap::default(),
            reported: LastReported::new(),
            scratch: Vec::new(),
        }
    }
}

/// The agent an event is about: the subject for daemon-log results and event-store
/// completions, the actor (without the `agent.` logger prefix) for everything else.
fn agent_of(event: &Event) -> Option<String> {
    let name = match event.kind.as_str() {
        "log.agent_result" | "agent.completed" | "context.finding" => {
            event.subject.as_deref().or(event.actor.as_deref())
        }
        _ => event.actor.as_deref(),
    }?;
    let name = name.strip_prefix("agent.").unwrap_or(name);
    (!name.is_empty()).then(|| name.to_owned())
}

/// The median of `values`, sorted in `scratch` (kept across events, so no allocation per event).
fn median(values: impl Iterator<Item = f64>, scratch: &mut Vec<f64>) -> f64 {
    scratch.clear();
    scratch.extend(values);
    scratch.sort_by(f64::total_cmp);
    let values = &scratch[..];
    let middle = values.len() / 2;
    if values.len().is_multiple_of(2) { (values[middle - 1] + values[middle]) / 2.0 } else { values[middle] }
}

fn seconds(ms: f64) -> String {
    if ms >= 10_000.0 { format!("{:.0} s", ms / 1000.0) } else { format!("{:.2} s", ms / 1000.0) }
}

impl Series {
    fn duration(
        &mut self,
        limits: &Limits,
        run: &Run,
        duration_ms: f64,
        scratch: &mut Vec<f64>,
        out: &mut Vec<Insight>,
    ) {
        let (recent_runs, z_threshold, min_ratio) = (limits.recent_runs, limits.z_threshold, limits.min_ratio);
        let Run { agent, kind, event } = *run;
        self.recent_durations.push_back((duration_ms, event.id, event.time_ms));
        if self.recent_durations.len() > recent_runs
            && let Some((oldest, _, _)) = self.recent_durations.pop_front()
            && !self.slow
        {
            self.durations.push(oldest);
        }
        if self.recent_durations.len() < recent_runs {
            return;
        }
        let recent = median(self.recent_durations.iter().map(|(duration, _, _)| *duration), scratch);
        let (Some(z), Some(baseline)) = (self.durations.robust_z(recent, 0.1), self.durations.median()) else {
            return;
        };
        let ratio = recent / baseline.max(1.0);
        if z < z_threshold / 2.0 {
            self.slow = false;
        }
        if self.slow || z < z_threshold || ratio < min_ratio {
            return;
        }
        self.slow = true;
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
        for (_, id, time) in &self.recent_durations {
            insight = insight.event_id(*id, *time);
        }
        out.push(insight);
    }

    fn outcome(&mut self, limits: &Limits, run: &Run, failed: bool, out: &mut Vec<Insight>) {
        let window = limits.recent_runs * 2;
        let min_increase = limits.min_failure_increase;
        let Run { agent, kind, event } = *run;
        self.recent_outcomes.push_back((failed, event.id, event.time_ms));
        if self.recent_outcomes.len() > window
            && let Some((oldest, _, _)) = self.recent_outcomes.pop_front()
            && !self.failing
        {
            self.failure_rate.update(if oldest { 1.0 } else { 0.0 });
        }
        if self.recent_outcomes.len() < window || !self.failure_rate.warmed_up() {
            return;
        }
        let failures = self.recent_outcomes.iter().filter(|(failed, _, _)| *failed).count();
        let rate = failures as f64 / window as f64;
        let baseline = self.failure_rate.mean().max(0.02);
        if rate - baseline < min_increase / 2.0 {
            self.failing = false;
        }
        let confidence = binomial_confidence(failures as u64, window as u64, baseline);
        if self.failing || rate - baseline < min_increase || confidence < 0.999 {
            return;
        }
        self.failing = true;
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
        for (_, id, time) in self.recent_outcomes.iter().filter(|(failed, _, _)| *failed) {
            insight = insight.event_id(*id, *time);
        }
        out.push(insight);
    }

    fn same_failure(
        &mut self,
        limits: &Limits,
        run: &Run,
        reported: &mut LastReported<String>,
        out: &mut Vec<Insight>,
    ) {
        let Run { agent, kind, event } = *run;
        self.runs += 1;
        let Some(error) = failure_text(event) else { return };
        let signature = signature(error);
        if !self.failures.contains_key(&signature) && self.failures.len() == MAX_SIGNATURES {
            let rarest = self.failures.iter().min_by_key(|(_, (count, _))| *count).map(|(key, _)| key.clone());
            if let Some(rarest) = rarest {
                self.failures.remove(&rarest);
            }
        }
        let (count, example) = self.failures.entry(signature).or_insert_with(|| (0, error.to_owned()));
        *count += 1;
        let (count, runs) = (*count, self.runs);
        let share = count as f64 / runs as f64;
        if count < limits.min_same_failures || share < limits.min_same_share {
            return;
        }
        let example = example.clone();
        let what = if kind == "context.finding" { "results" } else { "runs" };
        let insight = Insight::new(PATTERN, insight_key(&[agent, "same_failure"]))
            .severity(Severity::Error)
            .confidence(binomial_confidence(count, runs, 0.2).min(1.0 - 0.5_f64.powi(count.min(30) as i32)))
            .message(format!("`{agent}` failed the same way in {count} of its {runs} {what}: \"{example}\""))
            .recommendation(format!(
                "`{agent}` cannot do its job here (\"{example}\"): fix its setup (install the tool, fix its \
                 configuration) or disable it, and make it say so once where people look instead of on every run."
            ))
            .evidence("agent", agent)
            .evidence("metric", "same_failure")
            .evidence("source_kind", kind)
            .evidence("error", example.as_str())
            .evidence("same_failures", count)
            .evidence("runs", runs)
            .evidence("share", (share * 1000.0).round() / 1000.0)
            .event_id(event.id, event.time_ms)
            .at(event.time_ms);
        if reported.changed(insight_key(&[agent, "same_failure"]), &insight) {
            out.push(insight);
        }
    }
}

impl Detector for MetricAnomaly {
    fn info() -> DetectorInfo {
        DetectorInfo::new("metric-anomaly", env!("CARGO_PKG_VERSION"))
            .fields(["error", "error_message", "message"])
            .pattern(PATTERN)
            .kinds([
                "telemetry.agent_executed",
                "performance.operation",
                "agent.completed",
                "log.agent_result",
                "context.finding",
            ])
            .setting(
                "recent_runs",
                10_i64,
                "Runs whose median duration is compared with the baseline (twice as many for failure rates). \
                 Default 10: one slow or failed run (a cold cache) cannot move a median of ten.",
            )
            .setting(
                "warmup_runs",
                30_i64,
                "Runs an agent needs before its baseline is trusted. Default 30: enough runs for a median and its \
                 spread to mean something.",
            )
            .setting(
                "z_threshold",
                3.5,
                "Robust z-score (median/MAD) beyond which the recent median is anomalous. Default 3.5: Iglewicz \
                 and Hoaglin's usual outlier line.",
            )
            .setting(
                "min_ratio",
                1.5,
                "How many times slower than the baseline median the recent median must be. Default 1.5: a \
                 slowdown a person notices, not a statistically detectable 5%.",
            )
            .setting(
                "min_failure_increase",
                0.25,
                "Rise of the failure rate over the baseline rate that matters (0.25 = 25 points). Default 0.25: \
                 one run in four failing more than before is a broken agent, not noise.",
            )
            .setting(
                "min_same_failures",
                5_i64,
                "Runs failing with the same error (file names and numbers aside) before an agent that keeps \
                 failing the same way is reported. Default 5: a few failures happen; five identical ones are a \
                 broken setup.",
            )
            .setting(
                "min_same_share",
                0.6,
                "Share of the agent's runs that must fail that same way. Default 0.6: most of its runs, not an \
                 agent that fails now and then.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.limits = Limits {
            recent_runs: settings.integer_at_least("recent_runs", 3)? as usize,
            warmup_runs: settings.integer_at_least("warmup_runs", 5)? as usize,
            z_threshold: settings.float("z_threshold")?,
            min_ratio: settings.float("min_ratio")?,
            min_failure_increase: settings.float("min_failure_increase")?,
            min_same_failures: settings.integer_at_least("min_same_failures", 2)? as u64,
            min_same_share: settings.float("min_same_share")?,
        };
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let Some(agent) = agent_of(event) else { return Ok(()) };
        let limits = self.limits;
        let series =
            self.series.entry((agent.clone(), event.kind.clone())).or_insert_with(|| Series::new(limits.warmup_runs));
        let run = Run { agent: &agent, kind: &event.kind, event };
        if let Some(duration_ms) = event.duration_ms {
            series.duration(&limits, &run, duration_ms as f64, &mut self.scratch, out);
        }
        if event.outcome.status != Status::Unknown {
            series.outcome(&limits, &run, event.failed(), out);
        }
        if event.outcome.status != Status::Unknown || event.kind == "context.finding" {
            series.same_failure(&limits, &run, &mut self.reported, out);
        }
        Ok(())
    }

    keep_state!(format = 1; series, reported);
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
