//! `failure_workaround`: a command fails and, within minutes, the same person gets the job done
//! with a *different* command instead — and the same pair recurs. That is a missing feature
//! or a broken path people have learned to route around (`release publish` fails, `twine
//! upload dist/*` succeeds).
//!
//! A failure starts a sequence keyed by the person (the back-reference); the first different
//! command that succeeds within `window_seconds` completes it; the failed command succeeding
//! on retry cancels it (that is a retry, not a workaround). One occasion is chance: a pair is
//! reported once it happened on `min_occasions` occasions, follows at least `min_share` of the
//! failed command's failures, and is `min_lift` times likelier after that failure than after
//! anything else (so `status`, which people run after everything, is never "the workaround").

use std::collections::BTreeMap;

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::text::normalize;

pub const PATTERN: &str = "failure_workaround";

#[derive(Debug, Clone, PartialEq)]
struct Failure {
    command: String,
    id: u64,
    time_ms: i64,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct Pair {
    occasions: u64,
    gaps_ms: Vec<i64>,
    people: Vec<String>,
    errors: Vec<String>,
    events: Vec<(u64, i64)>,
}

pub struct FailureWorkaround {
    window_ms: i64,
    min_occasions: u64,
    min_share: f64,
    min_lift: f64,
    pending: Sequence<String, Failure>,
    /// Failure episodes per command (a failure with no episode of it already pending).
    failures: BTreeMap<String, u64>,
    /// How often each command was the first success after *any* event, for the lift.
    first_successes: BTreeMap<String, u64>,
    successes: u64,
    pairs: BTreeMap<(String, String), Pair>,
    suppressor: Suppressor<(String, String)>,
}

impl Default for FailureWorkaround {
    fn default() -> Self {
        FailureWorkaround {
            window_ms: 600_000,
            min_occasions: 3,
            min_share: 0.5,
            min_lift: 3.0,
            pending: Sequence::new(600_000),
            failures: BTreeMap::new(),
            first_successes: BTreeMap::new(),
            successes: 0,
            pairs: BTreeMap::new(),
            suppressor: Suppressor::new(1.5, i64::MAX),
        }
    }
}

impl FailureWorkaround {
    fn report(&mut self, failed: &str, workaround: &str, time_ms: i64, out: &mut Vec<Insight>) {
        let key = (failed.to_owned(), workaround.to_owned());
        let Some(pair) = self.pairs.get(&key) else { return };
        let failures = self.failures.get(failed).copied().unwrap_or(0).max(pair.occasions);
        let share = pair.occasions as f64 / failures as f64;
        let base_rate =
            self.first_successes.get(workaround).copied().unwrap_or(0) as f64 / self.successes.max(1) as f64;
        let lift = share / base_rate.max(1e-3);
        if pair.occasions < self.min_occasions || share < self.min_share || lift < self.min_lift {
            return;
        }
        if !self.suppressor.should_report(key.clone(), time_ms, pair.occasions as f64) {
            return;
        }
        let mut gaps = pair.gaps_ms.clone();
        gaps.sort_unstable();
        let median_gap_seconds = gaps[gaps.len() / 2] as f64 / 1000.0;
        let confidence = binomial_confidence(pair.occasions, failures, base_rate.max(0.05));
        let mut insight = Insight::new(PATTERN, insight_key(&[failed, workaround]))
            .severity(if pair.occasions >= 2 * self.min_occasions { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(format!(
                "`{failed}` fails and is worked around with `{workaround}`: {occasions} of {failures} failures \
                 were followed by it within {minutes} min",
                occasions = pair.occasions,
                minutes = self.window_ms / 60_000,
            ))
            .recommendation(format!(
                "`{failed}` is missing what `{workaround}` does for people: fix the failure path, or make \
                 `{failed}` do (or suggest) `{workaround}` itself when it fails."
            ))
            .evidence("failed_command", failed)
            .evidence("workaround_command", workaround)
            .evidence("occasions", pair.occasions)
            .evidence("failures", failures)
            .evidence("share", (share * 1000.0).round() / 1000.0)
            .evidence("lift", (lift * 10.0).round() / 10.0)
            .evidence("median_gap_seconds", median_gap_seconds)
            .evidence("people", pair.people.clone());
        if !pair.errors.is_empty() {
            insight = insight.evidence("errors", pair.errors.clone());
        }
        for (id, time) in &pair.events {
            insight = insight.event_id(*id, *time);
        }
        out.push(insight.at(time_ms));
    }
}

/// The person: the user name when there is one (a workaround is often typed outside the agent
/// thread that ran the failing command), else the thread.
fn person(event: &Event) -> String {
    event.actor.clone().or_else(|| event.thread_id.clone()).unwrap_or_default()
}

impl Detector for FailureWorkaround {
    fn info() -> DetectorInfo {
        DetectorInfo::new("failure-workaround", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["cli.command"])
            .setting("window_seconds", 600_i64, "How soon after the failure the different command must succeed.")
            .setting("min_occasions", 3_i64, "Occasions on which the same failure was worked around the same way.")
            .setting("min_share", 0.5, "Share of the command's failures that must be followed by the workaround.")
            .setting(
                "min_lift",
                3.0,
                "How many times likelier the workaround must be after this failure than after anything.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        self.pending = Sequence::new(self.window_ms);
        self.min_occasions = settings.integer_at_least("min_occasions", 1)? as u64;
        self.min_share = settings.float("min_share")?;
        self.min_lift = settings.float("min_lift")?;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let command = normalize(event.subject_or_empty());
        if command.is_empty() {
            return Ok(());
        }
        let who = person(event);
        if event.failed() {
            let already = self.pending.complete_where(&who, event.time_ms, |failure| failure.command == command);
            let failure = match already.into_iter().next() {
                Some(completed) => completed.start,
                None => {
                    *self.failures.entry(command.clone()).or_default() += 1;
                    Failure {
                        command: command.clone(),
                        id: event.id,
                        time_ms: event.time_ms,
                        error: event.text("error_message").map(str::to_owned),
                    }
                }
            };
            self.pending.start(who, failure.time_ms, failure);
            return Ok(());
        }
        if !event.succeeded() {
            return Ok(());
        }
        self.successes += 1;
        *self.first_successes.entry(command.clone()).or_default() += 1;
        self.pending.cancel_where(&who, |failure| failure.command == command);
        for completed in self.pending.complete(&who, event.time_ms) {
            let failure = completed.start;
            let pair = self.pairs.entry((failure.command.clone(), command.clone())).or_default();
            pair.occasions += 1;
            pair.gaps_ms.push(completed.gap_ms);
            if !pair.people.contains(&who) && pair.people.len() < 5 {
                pair.people.push(who.clone());
            }
            if let Some(error) = failure.error.filter(|error| !error.is_empty())
                && pair.errors.len() < 3
                && !pair.errors.contains(&error)
            {
                pair.errors.push(error);
            }
            if pair.events.len() < 10 {
                pair.events.push((failure.id, failure.time_ms));
                pair.events.push((event.id, event.time_ms));
            }
            self.report(&failure.command, &command, event.time_ms, out);
        }
        Ok(())
    }
}

export_detector!(FailureWorkaround);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event {
        Event::at(id, seconds * 1000, "cli.command").subject(command).actor("dev").exit_code(exit_code)
    }

    /// Background: varied successful commands, `status` most of all.
    fn background(events: &mut Vec<Event>, from: i64, count: u64) {
        let commands = ["status", "status", "bd ready", "insights list", "status", "doctor"];
        for index in 0..count {
            events.push(run(
                10_000 + from as u64 + index,
                from + index as i64 * 700,
                commands[index as usize % commands.len()],
                0,
            ));
        }
    }

    #[test]
    fn a_recurring_workaround_is_reported_naming_both_commands() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for day in 0..3_i64 {
            let start = 100_000 + day * 86_400;
            events.push(run(day as u64 * 2, start, "release publish", 1).with("error_message", "twine not configured"));
            events.push(run(day as u64 * 2 + 1, start + 120, "twine upload dist/*", 0));
        }
        events.sort_by_key(|event| event.time_ms);
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        let insight = &insights[0];
        assert!(insight.message.contains("`release publish`") && insight.message.contains("`twine upload dist/*`"));
        assert_eq!(insight.evidence.event_ids.len(), 6);
        assert!(insight.confidence > 0.9);
        Ok(())
    }

    #[test]
    fn retries_that_succeed_and_checks_people_always_run_stay_quiet() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 200);
        for day in 0..5_i64 {
            let start = 200_000 + day * 86_400;
            events.push(run(day as u64 * 3, start, "bd sync", 1));
            events.push(run(day as u64 * 3 + 1, start + 30, "bd sync", 0));
            events.push(run(day as u64 * 3 + 2, start + 60, "doctor", 0));
            events.push(run(100 + day as u64 * 2, start + 3_000, "watch .", 1));
            events.push(run(101 + day as u64 * 2, start + 3_040, "status", 0));
        }
        events.sort_by_key(|event| event.time_ms);
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }
}
