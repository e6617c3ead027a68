//! `command_rerun`: a command that failed and was run again, and again, by the same person or
//! thread, each attempt shortly after the last failed one, failing the same way, with nothing
//! changed in between.
//!
//! Retrying a failed command once is normal (a flaky network, a typo fixed); a second blind
//! retry means the person could not tell from the failure what to do next. An edit–test loop
//! is not that: `pytest -q` fails, a file is edited, it runs again — the person acted on the
//! failure. So a *streak* is a run of attempts of one command (whitespace collapsed, case kept)
//! where every attempt but the last failed, each came within `max_gap_seconds` of the failure
//! before it, no file changed in between (the watcher's `file.*` events, an agent's file
//! changes in the audit log), and each failure failed like the one before (same error text, or
//! same exit code when there is none) — a different failure is progress, not a retry.
//! `min_attempts` attempts make a finding. One finding per command; each further streak, and
//! each further person, raises confidence, and a growing streak updates it.
//!
//! Per event the detector touches one streak and one history entry: O(log n). Streaks that can
//! no longer continue are swept in batches, so state is bounded by the commands run in the last
//! `max_gap_seconds`.

use std::collections::{BTreeMap, BTreeSet};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::text::command_key;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "command_rerun";

/// Attempts kept as evidence per streak; the count goes on.
const MAX_EVIDENCE: usize = 20;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Streak {
    /// The command as logged by the first attempt.
    command: String,
    attempts: Vec<(i64, u64)>,
    count: usize,
    last_ms: i64,
    last_failed: bool,
    /// How the last attempt failed: its error text, else its exit code.
    last_failure: String,
    /// The file-change count when the last attempt ran.
    changes_seen: u64,
    /// The streak number in its command's history, once reported.
    reported_as: Option<u32>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct History {
    streaks: u32,
    people: BTreeSet<String>,
    errors: Vec<String>,
}

pub struct CommandRerun {
    min_attempts: usize,
    max_gap_ms: i64,
    streaks: PairMap<(String, String), Streak>,
    history: BTreeMap<String, History>,
    /// File changes seen so far: a retry after one is not blind.
    file_changes: u64,
    /// Events since the last sweep of streaks that can no longer continue.
    since_sweep: usize,
    reported: LastReported<String>,
}

impl Default for CommandRerun {
    fn default() -> Self {
        CommandRerun {
            min_attempts: 3,
            max_gap_ms: 300_000,
            streaks: PairMap::default(),
            history: BTreeMap::new(),
            file_changes: 0,
            since_sweep: 0,
            reported: LastReported::new(),
        }
    }
}

/// How an attempt failed, for "failed the same way".
fn failure_of(event: &Event) -> String {
    match event.text("error_message").filter(|error| !error.is_empty()) {
        Some(error) => error.to_owned(),
        None => format!("exit {}", event.outcome.exit_code.map_or_else(|| "?".to_owned(), |code| code.to_string())),
    }
}

/// Whether the event is a file changing (by a person or an agent).
fn is_file_change(event: &Event) -> bool {
    event.is("file.*")
        || matches!(event.kind.as_ref(), "audit.file_modified" | "audit.file_created" | "audit.fix_applied")
}

impl CommandRerun {
    /// Drops streaks that can no longer continue, once per as many events as there are streaks.
    fn sweep(&mut self, now_ms: i64) {
        self.since_sweep += 1;
        if self.since_sweep < self.streaks.len().max(64) {
            return;
        }
        self.since_sweep = 0;
        let max_gap_ms = self.max_gap_ms;
        self.streaks.retain(|_, streak| streak.last_failed && now_ms - streak.last_ms <= max_gap_ms);
    }

    fn report(&mut self, key: &str, who: &str, event: &Event, out: &mut Vec<Insight>) {
        let Some(streak) = self.streaks.get_mut(&(key.to_owned(), who.to_owned())) else { return };
        let history = self.history.entry(key.to_owned()).or_default();
        let streak_number = *streak.reported_as.get_or_insert_with(|| {
            history.streaks += 1;
            history.streaks
        });
        history.people.insert(who.to_owned());
        if let Some(error) = event.text("error_message").filter(|error| !error.is_empty())
            && history.errors.len() < 3
            && !history.errors.iter().any(|seen| seen == error)
        {
            history.errors.push(error.to_owned());
        }
        let ended_in_success = !event.failed();
        let failures = streak.count - usize::from(ended_in_success);
        let streaks = history.streaks;
        let command = streak.command.clone();
        let confidence = 0.45 + 0.15 * f64::from(streaks.min(3)) + 0.05 * (history.people.len().min(3) - 1) as f64;
        let who_label = if who.is_empty() { "one user" } else { who };
        let mut insight = Insight::new(PATTERN, insight_key(&[key]))
            .severity(if streaks >= 3 { Severity::Warning } else { Severity::Info })
            .confidence(confidence.min(0.95))
            .message(format!(
                "`{command}` failed the same way and was retried {retries} times in a row by {who_label} with no file \
                 changed in between ({streaks} such streak{s} so far)",
                retries = streak.count - 1,
                s = if streaks == 1 { "" } else { "s" },
            ))
            .recommendation(format!(
                "Find out why `{command}` fails for people who then retry it: make its error say what to do next \
                 (or retry internally if the failure is transient), so nobody has to run it again to get past it."
            ))
            .evidence("command", command.as_str())
            .evidence("attempts", streak.count)
            .evidence("failures", failures)
            .evidence("ended_in_success", ended_in_success)
            .evidence("streak", u64::from(streak_number))
            .evidence("streaks", u64::from(streaks))
            .evidence("people", history.people.iter().cloned().collect::<Vec<_>>())
            .evidence("max_gap_seconds", self.max_gap_ms / 1000);
        if !history.errors.is_empty() {
            insight = insight.evidence("errors", history.errors.clone());
        }
        for (time, id) in &streak.attempts {
            insight = insight.event_id(*id, *time);
        }
        if let Some(thread) = &event.thread_id {
            insight = insight.thread(thread.clone());
        }
        if self.reported.changed(key.to_owned(), &insight) {
            out.push(insight);
        }
    }
}

impl Detector for CommandRerun {
    fn info() -> DetectorInfo {
        DetectorInfo::new("command-rerun", env!("CARGO_PKG_VERSION"))
            .fields(["error_message"])
            .pattern(PATTERN)
            .kinds(["cli.command", "file.*", "audit.file_modified", "audit.file_created", "audit.fix_applied"])
            .setting(
                "min_attempts",
                3_i64,
                "Attempts in a streak (the first failure and each blind retry) that make a finding. Default 3: \
                 one retry after a failure is normal (a flaky test, a network blip); a second blind retry is the \
                 person not knowing what to do next.",
            )
            .setting(
                "max_gap_seconds",
                300_i64,
                "Longest pause between a failure and its retry that still counts as retrying. Default 300 (5 min): \
                 a retry comes within a minute or two; after longer the person did something else first.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.min_attempts = settings.integer_at_least("min_attempts", 2)? as usize;
        self.max_gap_ms = settings.integer_at_least("max_gap_seconds", 1)? * 1000;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        if is_file_change(event) {
            self.file_changes += 1;
            return Ok(());
        }
        self.sweep(event.time_ms);
        let key = command_key(event.subject_or_empty());
        if key.is_empty() || event.outcome.status == Status::Unknown {
            return Ok(());
        }
        let who = event.who();
        let map_key = (key.clone().into_owned(), who.to_owned());
        let failure = event.failed().then(|| failure_of(event));
        let continues = self.streaks.get(&map_key).is_some_and(|streak| {
            streak.last_failed
                && event.time_ms - streak.last_ms <= self.max_gap_ms
                && streak.changes_seen == self.file_changes
                && failure.as_ref().is_none_or(|failure| *failure == streak.last_failure)
        });
        if !continues {
            match &failure {
                Some(_) => {
                    self.streaks.insert(
                        map_key.clone(),
                        Streak { command: event.subject_or_empty().trim().to_owned(), ..Streak::default() },
                    );
                }
                None => {
                    self.streaks.remove(&map_key);
                    return Ok(());
                }
            }
        }
        let file_changes = self.file_changes;
        let streak = self.streaks.get_mut(&map_key).expect("present: continued or just started");
        streak.count += 1;
        if streak.attempts.len() < MAX_EVIDENCE {
            streak.attempts.push((event.time_ms, event.id));
        }
        streak.last_ms = event.time_ms;
        streak.last_failed = failure.is_some();
        streak.last_failure = failure.unwrap_or_default();
        streak.changes_seen = file_changes;
        if streak.count >= self.min_attempts {
            self.report(&key, who, event, out);
        }
        if !event.failed() {
            self.streaks.remove(&map_key);
        }
        Ok(())
    }

    keep_state!(format = 1; streaks, history, file_changes, since_sweep, reported);
}

export_detector!(CommandRerun);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event<'static> {
        Event::at(id, seconds * 1000, "cli.command").subject(command.to_owned()).actor("dev").exit_code(exit_code)
    }

    #[test]
    fn a_failing_command_retried_twice_is_reported_and_kept_current() -> Result<(), String> {
        let mut detector = CommandRerun::default();
        let events = vec![
            run(1, 0, "bd sync", 1),
            run(2, 30, "status", 0),
            run(3, 60, "bd sync", 1),
            run(4, 100, "bd  sync", 1),
            run(5, 130, "bd sync", 0),
        ];
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 2, "reported at the third attempt, updated by the fourth: {insights:#?}");
        assert_eq!(insights[0].evidence.event_ids, vec![1, 3, 4]);
        assert_eq!(insights[1].evidence.event_ids, vec![1, 3, 4, 5]);
        assert!(insights[1].message.contains("`bd sync`") && insights[1].message.contains("retried 3 times"));
        Ok(())
    }

    #[test]
    fn an_edit_test_loop_and_changing_failures_stay_quiet() -> Result<(), String> {
        let mut detector = CommandRerun::default();
        let edit = |id: u64, seconds: i64| Event::at(id, seconds * 1000, "file.modified").subject("src/app.py");
        let events = vec![
            run(1, 0, "pytest -q", 1),
            edit(2, 20),
            run(3, 40, "pytest -q", 1),
            edit(4, 60),
            run(5, 80, "pytest -q", 0),
            run(6, 1_000, "make build", 1).with("error_message", "3 errors"),
            run(7, 1_030, "make build", 1).with("error_message", "1 error"),
            run(8, 1_060, "make build", 0),
        ];
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn commands_are_shown_as_logged() -> Result<(), String> {
        let mut detector = CommandRerun::default();
        let events: Vec<Event> = (0..3).map(|i| run(i, i as i64 * 10, "git add -A", 1)).collect();
        let insights = detector.process(&events)?;
        assert!(insights[0].message.contains("`git add -A`"), "{}", insights[0].message);
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
