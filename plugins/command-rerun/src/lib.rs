//! `command_rerun`: a command that failed and was run again, and again, by the same person or
//! thread, each attempt shortly after the last failed one.
//!
//! Retrying a failed command once is normal (a flaky network, a typo fixed); a second retry
//! means the person could not tell from the failure what to do next. So a *streak* is a run of
//! attempts of one normalized command where every attempt but the last failed and each came
//! within `max_gap_seconds` of the failure before it; `min_attempts` attempts make a finding.
//! One finding per command; each further streak, and each further person, raises confidence.

use std::collections::{BTreeMap, BTreeSet};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::text::normalize;

pub const PATTERN: &str = "command_rerun";

#[derive(Debug, Default)]
struct Streak {
    attempts: Vec<(i64, u64)>,
    last_failed: bool,
    reported: bool,
}

#[derive(Debug, Default)]
struct History {
    streaks: u32,
    people: BTreeSet<String>,
    errors: Vec<String>,
}

pub struct CommandRerun {
    min_attempts: usize,
    max_gap_ms: i64,
    streaks: BTreeMap<(String, String), Streak>,
    history: BTreeMap<String, History>,
}

impl Default for CommandRerun {
    fn default() -> Self {
        CommandRerun { min_attempts: 3, max_gap_ms: 300_000, streaks: BTreeMap::new(), history: BTreeMap::new() }
    }
}

impl Detector for CommandRerun {
    fn info() -> DetectorInfo {
        DetectorInfo::new("command-rerun", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["cli.command"])
            .setting(
                "min_attempts",
                3_i64,
                "Attempts in a streak (the first failed, each retry after a failure) that make a finding.",
            )
            .setting(
                "max_gap_seconds",
                300_i64,
                "Longest pause between a failure and its retry that still counts as retrying.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.min_attempts = settings.integer_at_least("min_attempts", 2)? as usize;
        self.max_gap_ms = settings.integer_at_least("max_gap_seconds", 1)? * 1000;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let command = normalize(event.subject_or_empty());
        if command.is_empty() || event.outcome.status == Status::Unknown {
            return Ok(());
        }
        let who = event.who().to_owned();
        let streak = self.streaks.entry((command.clone(), who.clone())).or_default();
        let continues = streak.last_failed
            && streak.attempts.last().is_some_and(|(time, _)| event.time_ms - time <= self.max_gap_ms);
        if !continues {
            *streak = Streak::default();
            if !event.failed() {
                self.streaks.remove(&(command, who));
                return Ok(());
            }
        }
        streak.attempts.push((event.time_ms, event.id));
        streak.last_failed = event.failed();
        if streak.attempts.len() < self.min_attempts || streak.reported {
            return Ok(());
        }
        streak.reported = true;
        let attempts = streak.attempts.clone();
        let ended_in_success = !event.failed();

        let history = self.history.entry(command.clone()).or_default();
        history.streaks += 1;
        history.people.insert(who.clone());
        if let Some(error) = event.text("error_message").filter(|error| !error.is_empty())
            && history.errors.len() < 3
            && !history.errors.iter().any(|seen| seen == error)
        {
            history.errors.push(error.to_owned());
        }

        let failures = attempts.len() - usize::from(ended_in_success);
        let streaks = history.streaks;
        let confidence = 0.45 + 0.15 * f64::from(streaks.min(3)) + 0.05 * (history.people.len().min(3) - 1) as f64;
        let who_label = if who.is_empty() { "one user".to_owned() } else { who.clone() };
        let mut insight = Insight::new(PATTERN, insight_key(&[&command]))
            .severity(if streaks >= 3 { Severity::Warning } else { Severity::Info })
            .confidence(confidence.min(0.95))
            .message(format!(
                "`{command}` failed and was retried {retries} times in a row by {who_label} ({streaks} such streak{s} so far)",
                retries = attempts.len() - 1,
                s = if streaks == 1 { "" } else { "s" },
            ))
            .recommendation(format!(
                "Find out why `{command}` fails for people who then retry it: make its error say what to do next \
                 (or retry internally if the failure is transient), so nobody has to run it again to get past it."
            ))
            .evidence("command", command.as_str())
            .evidence("attempts", attempts.len())
            .evidence("failures", failures)
            .evidence("ended_in_success", ended_in_success)
            .evidence("streaks", u64::from(streaks))
            .evidence("people", history.people.iter().cloned().collect::<Vec<_>>())
            .evidence("max_gap_seconds", self.max_gap_ms / 1000);
        if !history.errors.is_empty() {
            insight = insight.evidence("errors", history.errors.clone());
        }
        for (time, id) in attempts {
            insight = insight.event_id(id, time);
        }
        if let Some(thread) = &event.thread_id {
            insight = insight.thread(thread.clone());
        }
        out.push(insight);
        Ok(())
    }
}

export_detector!(CommandRerun);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event {
        Event::at(id, seconds * 1000, "cli.command").subject(command).actor("dev").exit_code(exit_code)
    }

    #[test]
    fn a_failing_command_retried_twice_is_reported_once_per_streak() -> Result<(), String> {
        let mut detector = CommandRerun::default();
        let events = vec![
            run(1, 0, "bd sync", 1),
            run(2, 30, "status", 0),
            run(3, 60, "bd sync", 1),
            run(4, 100, "bd  sync", 1),
            run(5, 130, "bd sync", 0),
        ];
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(insights[0].evidence.event_ids, vec![1, 3, 4]);
        assert!(insights[0].message.contains("`bd sync`") && insights[0].message.contains("dev"));
        Ok(())
    }

    #[test]
    fn one_retry_slow_retries_and_successes_stay_quiet() -> Result<(), String> {
        let mut detector = CommandRerun::default();
        let events = vec![
            run(1, 0, "bd sync", 1),
            run(2, 60, "bd sync", 0),
            run(3, 1_000, "release publish", 1),
            run(4, 1_400, "release publish", 1),
            run(5, 1_800, "release publish", 1),
            run(6, 3_000, "status", 0),
            run(7, 3_010, "status", 0),
            run(8, 3_020, "status", 0),
        ];
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn more_streaks_raise_confidence_under_one_key_and_settings_apply() -> Result<(), String> {
        let mut detector = CommandRerun::default();
        let mut events = Vec::new();
        for streak in 0..3 {
            for attempt in 0..3 {
                events.push(run(streak * 10 + attempt, streak as i64 * 86_400 + attempt as i64 * 20, "bd sync", 1));
            }
        }
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 3);
        assert!(insights.iter().all(|insight| insight.key == insights[0].key));
        assert!(insights[2].confidence > insights[0].confidence);
        assert_eq!(insights[2].severity, Severity::Warning);

        let mut strict = CommandRerun::default();
        let settings =
            CommandRerun::info().settings(vec![Field { key: "min_attempts".into(), value: Value::Integer(4) }])?;
        strict.configure(&settings)?;
        assert!(strict.process(&events)?.is_empty());
        Ok(())
    }
}
