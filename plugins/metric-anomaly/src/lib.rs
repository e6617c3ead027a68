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
//! then for different reasons stay quiet. Run times are compared among the runs that worked:
//! a failed run's time is how soon it failed, and an agent whose tool was missing fails at once.
//!
//! An agent failing the same way on most of its runs is reported for that alone, whichever of
//! devloop's logs says so: its failure rate is not reported beside it (one cause, one finding),
//! and its run times are neither judged nor learned from while it lasts. devloop's performance
//! log times the handler, which succeeds when the check inside it failed at once, so a broken
//! agent's "successful" runs there are its failures, and the days it works look slow.
//!
//! A finding stays current while its anomaly lasts: each run that is itself anomalous — a run
//! slow against the baseline on its own, a failure while the failure rate is up, one more run
//! failing the same way — re-reports it with the counts and medians as they are now, naming in
//! its evidence only the anomalous runs since the previous report. The host unions the evidence
//! of every report, so the finding's occurrences are exactly its anomalous runs; a run that is
//! not anomalous adds no evidence and sends nothing.

use std::collections::{BTreeMap, VecDeque};
use std::ops::Bound;

use devloop_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "metric_anomaly";

const BASELINE_CAPACITY: usize = 200;

#[derive(Debug, Serialize, Deserialize)]
struct Series {
    durations: RobustBaseline,
    recent_durations: VecDeque<(f64, u64, i64)>,
    slow: bool,
    /// Runs named as slow since the current slowdown began (format 2).
    #[serde(default)]
    slow_runs: u64,
    failure_rate: Ewma,
    recent_outcomes: VecDeque<(bool, u64, i64)>,
    failing: bool,
    /// Failures named since the failure rate went up (format 2).
    #[serde(default)]
    failed_runs: u64,
    /// Runs, and failed runs per error signature with the first error as logged.
    runs: u64,
    #[serde(with = "devloop_plugin_sdk::state::as_pairs")]
    failures: BTreeMap<String, (u64, String)>,
    /// Per error signature, its failed runs no report has named yet (format 2).
    #[serde(default, with = "devloop_plugin_sdk::state::as_pairs")]
    unreported: BTreeMap<String, VecDeque<(u64, i64)>>,
    /// Whether most of its runs fail the same way, as of its last run (format 2, later).
    #[serde(default)]
    fails_the_same_way: bool,
}

/// Error signatures kept per series; the rarest gives way first.
const MAX_SIGNATURES: usize = 32;

/// Failed runs of one signature kept until a report names them; the oldest give way first.
const MAX_UNREPORTED: usize = 100;

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
fn failure_text<'e>(event: &'e Event<'_>) -> Option<&'e str> {
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
            slow_runs: 0,
            failure_rate: Ewma::new(0.02, warmup as u32),
            recent_outcomes: VecDeque::new(),
            failing: false,
            failed_runs: 0,
            runs: 0,
            failures: BTreeMap::new(),
            unreported: BTreeMap::new(),
            fails_the_same_way: false,
        }
    }

    /// After a run that did not make its own error pass the same-failure check: whether some
    /// error still accounts for at least `min_same_failures` runs and `min_same_share` of
    /// them. Such a run only lowers every error's share, so an agent not failing the same way
    /// still is not, and only one that was is looked at again.
    fn recheck_the_same_way(&mut self, limits: &Limits) {
        if self.fails_the_same_way {
            self.fails_the_same_way = self.failures.values().any(|(count, _)| limits.same_way(*count, self.runs));
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

impl Limits {
    /// Whether `count` runs failing the same way, of `runs`, is an agent failing the same way.
    fn same_way(&self, count: u64, runs: u64) -> bool {
        count >= self.min_same_failures && count as f64 / runs as f64 >= self.min_same_share
    }
}

/// The run being judged: its agent, the kind of record it came in, the event itself.
struct Run<'a> {
    agent: &'a str,
    kind: &'a str,
    event: &'a Event<'a>,
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
    let name = match event.kind.as_ref() {
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
        let durations = &self.durations;
        let slow_alone = |duration: f64| {
            duration / baseline.max(1.0) >= min_ratio
                && durations.robust_z(duration, 0.1).is_some_and(|z| z >= z_threshold)
        };
        let named: Vec<(u64, i64)> = if self.slow {
            if !slow_alone(duration_ms) {
                return;
            }
            vec![(event.id, event.time_ms)]
        } else if z >= z_threshold && ratio >= min_ratio {
            self.slow = true;
            self.slow_runs = 0;
            self.recent_durations
                .iter()
                .filter(|(duration, _, _)| slow_alone(*duration))
                .map(|(_, id, time)| (*id, *time))
                .collect()
        } else {
            return;
        };
        self.slow_runs += named.len() as u64;
        let slow_runs = self.slow_runs;
        let mut insight = Insight::new(PATTERN, insight_key(&[agent, "duration"]))
            .severity(if ratio >= 3.0 { Severity::Error } else { Severity::Warning })
            .confidence(normal_cdf(z - z_threshold + 1.0).min(0.99))
            .message(format!(
                "`{agent}` runs {ratio:.1}× slower than its own baseline: median {recent} over its last {recent_runs} runs, against {baseline} before; {slow_runs} slow runs since it slowed down",
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
            .evidence("recent_runs", recent_runs)
            .evidence("slow_runs", slow_runs);
        for (id, time) in named {
            insight = insight.event_id(id, time);
        }
        out.push(insight);
    }

    /// Follows the agent's failure rate, and reports it into `out` while it is up (`None`: it
    /// is followed, not reported).
    fn outcome(&mut self, limits: &Limits, run: &Run, failed: bool, out: Option<&mut Vec<Insight>>) {
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
        let named: Vec<(u64, i64)> = if self.failing {
            if !failed {
                return;
            }
            vec![(event.id, event.time_ms)]
        } else if rate - baseline >= min_increase && confidence >= 0.999 {
            self.failing = true;
            self.failed_runs = 0;
            self.recent_outcomes.iter().filter(|(failed, _, _)| *failed).map(|(_, id, time)| (*id, *time)).collect()
        } else {
            return;
        };
        self.failed_runs += named.len() as u64;
        let failed_runs = self.failed_runs;
        let Some(out) = out else { return };
        let mut insight = Insight::new(PATTERN, insight_key(&[agent, "failure_rate"]))
            .severity(if rate >= 0.5 { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(format!(
                "`{agent}` failed {failures} of its last {window} runs ({percent:.0}%), against {base:.0}% before; {failed_runs} failed runs since its failure rate went up",
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
            .evidence("baseline_failure_rate", (baseline * 1000.0).round() / 1000.0)
            .evidence("failed_runs", failed_runs);
        for (id, time) in named {
            insight = insight.event_id(id, time);
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
        let Some(error) = failure_text(event) else {
            self.recheck_the_same_way(limits);
            return;
        };
        let signature = signature(error);
        if !self.failures.contains_key(&signature) && self.failures.len() == MAX_SIGNATURES {
            let rarest = self.failures.iter().min_by_key(|(_, (count, _))| *count).map(|(key, _)| key.clone());
            if let Some(rarest) = rarest {
                self.failures.remove(&rarest);
                self.unreported.remove(&rarest);
            }
        }
        let unreported = self.unreported.entry(signature.clone()).or_default();
        if unreported.len() == MAX_UNREPORTED {
            unreported.pop_front();
        }
        unreported.push_back((event.id, event.time_ms));
        let (count, example) = self.failures.entry(signature.clone()).or_insert_with(|| (0, error.to_owned()));
        *count += 1;
        let (count, runs) = (*count, self.runs);
        if !limits.same_way(count, runs) {
            self.recheck_the_same_way(limits);
            return;
        }
        let share = count as f64 / runs as f64;
        let example = example.clone();
        self.fails_the_same_way = true;
        let what = if kind == "context.finding" { "results" } else { "runs" };
        let mut insight = Insight::new(PATTERN, insight_key(&[agent, "same_failure"]))
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
            .at(event.time_ms);
        for (id, time) in self.unreported.get(&signature).into_iter().flatten() {
            insight = insight.event_id(*id, *time);
        }
        if reported.changed(insight_key(&[agent, "same_failure"]), &insight) {
            self.unreported.remove(&signature);
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
        let from = (agent, String::new());
        let broken = self
            .series
            .range((Bound::Included(&from), Bound::Unbounded))
            .take_while(|((name, _), _)| *name == from.0)
            .any(|(_, series)| series.fails_the_same_way);
        let agent = from.0;
        let series = self
            .series
            .entry((agent.clone(), event.kind.to_string()))
            .or_insert_with(|| Series::new(limits.warmup_runs));
        let run = Run { agent: &agent, kind: &event.kind, event };
        // A failed run's time is how soon it failed (a missing tool fails at once), not how long
        // the agent's work takes: run times are compared among the runs that worked.
        if let Some(duration_ms) = event.duration_ms
            && !event.failed()
            && !broken
        {
            series.duration(&limits, &run, duration_ms as f64, &mut self.scratch, out);
        }
        if event.outcome.status != Status::Unknown {
            // A broken agent's failure rate is still followed, for when it works again.
            series.outcome(&limits, &run, event.failed(), (!broken).then_some(&mut *out));
        }
        if event.outcome.status != Status::Unknown || event.kind == "context.finding" {
            series.same_failure(&limits, &run, &mut self.reported, out);
        }
        Ok(())
    }

    keep_state!(format = 2, migrate = MetricAnomaly::migrate_format_1; series, reported);
}

impl MetricAnomaly {
    /// Format 1 kept no counts of a shift in progress nor failures waiting to be named: the
    /// rest is read, a shift in progress counts its runs from here on, and failures before
    /// the restore are not named again.
    fn migrate_format_1(&mut self, saved: devloop_plugin_sdk::state::Saved) -> Result<(), String> {
        devloop_plugin_sdk::keep_state!(@read self, saved, 1; series, reported)
    }
}

export_detector!(MetricAnomaly);

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// A deterministic spread around `center`: ±20%, and a cold-start spike every 37 runs.
    fn jitter(index: u64, center: f64) -> u64 {
        let spread = ((index * 7_919) % 41) as f64 / 40.0 - 0.5;
        let spike = if index.is_multiple_of(37) { 8.0 } else { 1.0 };
        (center * (1.0 + 0.4 * spread) * spike) as u64
    }

    fn run(id: u64, agent: &str, duration_ms: u64, success: bool) -> Event<'static> {
        Event::at(id, id as i64 * 60_000, "telemetry.agent_executed")
            .source("telemetry")
            .actor(agent.to_owned())
            .subject(agent.to_owned())
            .duration(duration_ms)
            .success(success)
    }

    /// Every event id the reports name, as the host unions them.
    fn named(insights: &[Insight]) -> BTreeSet<u64> {
        insights.iter().flat_map(|insight| insight.evidence.event_ids.iter().copied()).collect()
    }

    fn linter_at_400_ms(detector: &mut MetricAnomaly) -> Result<(), String> {
        let events: Vec<Event> = (0..200).map(|index| run(index, "linter", jitter(index, 400.0), true)).collect();
        assert!(detector.process(&events)?.is_empty(), "noise with spikes is normal");
        Ok(())
    }

    #[test]
    fn runs_that_work_again_after_failing_at_once_are_no_slowdown() -> Result<(), String> {
        // The type-checker fails in milliseconds while its tool is missing, on most days; on the
        // days it works it takes its usual second.
        let mut detector = MetricAnomaly::default();
        let works = |index: u64| (120..140).contains(&index) || index >= 230;
        let events: Vec<Event> = (0..260)
            .map(|index| {
                let duration = if works(index) { jitter(index, 1_000.0) } else { jitter(index, 60.0) };
                run(index, "type-checker", duration, works(index))
            })
            .collect();
        let insights = detector.process(&events)?;
        assert!(insights.iter().all(|insight| insight.key != "type-checker\u{1f}duration"), "{insights:#?}");
        Ok(())
    }

    #[test]
    fn an_agent_failing_the_same_way_is_one_finding_whatever_its_other_logs_say() -> Result<(), String> {
        // The type-checker finds mypy only on the days the daemon started in the venv (every
        // fifth day, from the third). Telemetry records each failed check; devloop's performance
        // log times the handler, which succeeds either way: in milliseconds when the tool is
        // missing, in a second when it works.
        let mut detector = MetricAnomaly::default();
        let works = |index: u64| (index / 40) % 5 == 2;
        let mut events = Vec::new();
        for index in 0..600_u64 {
            let duration = if works(index) { jitter(index, 1_200.0) } else { jitter(index, 60.0) };
            let mut checked = run(2 * index, "type-checker", duration, works(index));
            if !works(index) {
                checked = checked.with("error", format!("Check failed for m{index}.py: mypy command not found"));
            }
            let handled = Event::at(2 * index + 1, index as i64 * 60_000 + 1, "performance.operation")
                .source("performance")
                .actor("agent.type-checker".to_owned())
                .duration(duration)
                .success(true);
            events.extend([checked, handled]);
        }
        let insights = detector.process(&events)?;
        let keys: BTreeSet<&str> = insights.iter().map(|insight| insight.key.as_str()).collect();
        assert_eq!(keys, BTreeSet::from(["type-checker\u{1f}same_failure"]), "{insights:#?}");
        Ok(())
    }

    #[test]
    fn a_sustained_slowdown_is_kept_current_and_names_each_slow_run_once() -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        linter_at_400_ms(&mut detector)?;
        let events: Vec<Event> = (200..260).map(|index| run(index, "linter", jitter(index, 1_600.0), true)).collect();
        let insights = detector.process(&events)?;
        assert!(insights.len() > 1, "re-reported as the slowdown goes on: {insights:#?}");
        assert!(insights.iter().all(|insight| insight.key == "linter\u{1f}duration"), "{insights:#?}");
        assert_eq!(named(&insights), (200..260).collect(), "every slow run, no run before the slowdown");
        let named_total: usize = insights.iter().map(|insight| insight.evidence.event_ids.len()).sum();
        assert_eq!(named_total, 60, "no report names a run an earlier one named");
        let last = insights.last().ok_or("a report")?;
        assert!(last.message.contains("`linter`") && last.message.contains("60 slow runs"), "{}", last.message);
        assert_eq!(last.evidence.event_ids, vec![259], "the last report names only the run since the one before");
        Ok(())
    }

    #[test]
    fn runs_at_the_old_speed_during_a_slowdown_are_neither_evidence_nor_a_report() -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        linter_at_400_ms(&mut detector)?;
        let slow = |index: u64| !index.is_multiple_of(3);
        let events: Vec<Event> = (200..260)
            .map(|index| run(index, "linter", if slow(index) { jitter(index, 1_600.0) } else { 400 }, true))
            .collect();
        let insights = detector.process(&events)?;
        let named = named(&insights);
        assert!(!named.is_empty(), "{insights:#?}");
        assert!(named.iter().all(|id| slow(*id)), "only slow runs are evidence: {named:?}");
        let first = insights[0].evidence.event_ids[0];
        assert_eq!(named, (first..260).filter(|id| slow(*id)).collect(), "every slow run from the first named");
        assert_eq!(
            insights.len() - 1,
            named.iter().filter(|id| **id > insights[0].evidence.event_ids.last().copied().unwrap_or(0)).count(),
            "one report per slow run after the first report, none for the fast ones"
        );
        Ok(())
    }

    #[test]
    fn a_jump_in_failures_names_each_failure_of_the_stretch_and_occasional_failures_are_not_reported()
    -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        let events: Vec<Event> =
            (0..300).map(|index| run(index, "test-runner", jitter(index, 2_000.0), index % 25 != 3)).collect();
        assert!(detector.process(&events)?.is_empty());
        let events: Vec<Event> =
            (300..340).map(|index| run(index, "test-runner", jitter(index, 2_000.0), index % 2 == 0)).collect();
        let insights = detector.process(&events)?;
        assert!(insights.iter().all(|insight| insight.key == "test-runner\u{1f}failure_rate"), "{insights:#?}");
        assert!(insights[0].confidence >= 0.98, "{}", insights[0].confidence);
        let failures: BTreeSet<u64> = (300..340).filter(|index| index % 2 == 1).collect();
        assert_eq!(named(&insights), failures, "every failure of the stretch, no success, no earlier failure");
        assert_eq!(insights.len(), 1 + failures.len() - insights[0].evidence.event_ids.len());
        let last = insights.last().ok_or("a report")?;
        assert!(last.message.contains("20 failed runs since"), "{}", last.message);
        Ok(())
    }

    fn formatter(id: u64, file: &str, success: bool) -> Event<'static> {
        let event = run(id, "formatter", 300, success);
        if success { event } else { event.with("error", format!("Check failed for {file}: black command not found")) }
    }

    #[test]
    fn the_same_failure_is_re_reported_with_each_one_and_not_for_a_run_that_changes_nothing() -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        let events: Vec<Event> = (1..=8).map(|id| formatter(id, ["a.py", "b.py"][id as usize % 2], false)).collect();
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 4, "at the fifth failure, then one per failure: {insights:#?}");
        assert_eq!(insights[0].evidence.event_ids, vec![1, 2, 3, 4, 5], "the first report names the five");
        assert_eq!(named(&insights), (1..=8).collect());
        assert!(insights[3].message.contains("8 of its 8 runs"), "{}", insights[3].message);

        assert!(detector.process(&[formatter(9, "a.py", true)])?.is_empty(), "a success adds no evidence");
        let again = detector.process(&[formatter(10, "c.py", false)])?;
        assert_eq!(again.len(), 1, "{again:#?}");
        assert_eq!(again[0].evidence.event_ids, vec![10]);
        assert!(again[0].message.contains("9 of its 10 runs"), "{}", again[0].message);
        Ok(())
    }

    #[test]
    fn a_format_1_snapshot_is_migrated_and_the_finding_goes_on() -> Result<(), String> {
        let mut detector = MetricAnomaly::default();
        let events: Vec<Event> = (1..=6).map(|id| formatter(id, "a.py", false)).collect();
        assert_eq!(detector.process(&events)?.len(), 2);
        let snapshot = detector.snapshot().ok_or("a snapshot")?;
        let mut saved = String::from_utf8(snapshot).map_err(|error| error.to_string())?;
        for (format_2, format_1) in [
            ("\"format\":2", "\"format\":1"),
            ("\"slow_runs\":0,", ""),
            ("\"failed_runs\":0,", ""),
            (",\"unreported\":[]", ""),
        ] {
            assert!(saved.contains(format_2), "{format_2} in {saved}");
            saved = saved.replace(format_2, format_1);
        }
        let mut restored = MetricAnomaly::default();
        restored.restore(saved.as_bytes())?;
        let insights = restored.process(&[formatter(7, "a.py", false)])?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(insights[0].evidence.event_ids, vec![7]);
        assert!(insights[0].message.contains("7 of its 7 runs"), "{}", insights[0].message);
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
