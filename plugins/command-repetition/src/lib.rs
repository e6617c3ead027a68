//! `command_repetition`: the same command line run again and again within minutes by one user
//! or agent thread.
//!
//! People re-run a command when they cannot tell whether it worked: `bd ready` three times in a
//! minute means its output did not answer the question. One run after another spread over a day
//! is normal use and must stay quiet, so the detector looks for *bursts*: at least
//! `min_repeats` successful runs of the same normalized command by the same person or thread,
//! each within `window_seconds` of the first. Failed runs are left to `command_rerun`.
//!
//! One finding per command and person; every further burst raises its confidence.

use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "command_repetition";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Burst {
    /// Times and ids of recent runs inside the window.
    runs: VecDeque<(i64, u64)>,
    /// Whether the current burst was already reported.
    reported: bool,
    /// Bursts seen so far for this command and person.
    bursts: u32,
}

pub struct CommandRepetition {
    min_repeats: usize,
    window_ms: i64,
    /// By command, then by person.
    bursts: HashMap<String, HashMap<String, Burst>>,
}

impl Default for CommandRepetition {
    fn default() -> Self {
        CommandRepetition { min_repeats: 3, window_ms: 120_000, bursts: HashMap::new() }
    }
}

/// Collapses whitespace so `bd  ready` and `bd ready ` are one command; borrows when the
/// command is already clean, which is nearly always.
fn normalize(command: &str) -> Cow<'_, str> {
    let clean = !command.starts_with(char::is_whitespace)
        && !command.ends_with(char::is_whitespace)
        && !command.contains("  ")
        && !command.contains(['\t', '\n', '\r']);
    if clean { Cow::Borrowed(command) } else { Cow::Owned(command.split_whitespace().collect::<Vec<_>>().join(" ")) }
}

impl Detector for CommandRepetition {
    fn info() -> DetectorInfo {
        DetectorInfo::new("command-repetition", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["cli.command"])
            .setting("min_repeats", 3_i64, "Successful runs of one command that make a burst.")
            .setting("window_seconds", 120_i64, "How close together the runs of a burst are.")
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.min_repeats = settings.integer_at_least("min_repeats", 2)? as usize;
        self.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        if event.failed() {
            return Ok(());
        }
        let command = normalize(event.subject_or_empty());
        if command.is_empty() {
            return Ok(());
        }
        let who = event.who();
        if !self.bursts.contains_key(command.as_ref()) {
            self.bursts.insert(command.clone().into_owned(), HashMap::new());
        }
        let by_person = self.bursts.get_mut(command.as_ref()).expect("inserted above");
        if !by_person.contains_key(who) {
            by_person.insert(who.to_owned(), Burst::default());
        }
        let burst = by_person.get_mut(who).expect("inserted above");
        while burst.runs.front().is_some_and(|(time, _)| event.time_ms - time > self.window_ms) {
            burst.runs.pop_front();
        }
        if burst.runs.is_empty() {
            burst.reported = false;
        }
        burst.runs.push_back((event.time_ms, event.id));
        if burst.runs.len() < self.min_repeats || burst.reported {
            return Ok(());
        }
        burst.reported = true;
        burst.bursts += 1;

        let runs = burst.runs.len();
        let span_seconds = (event.time_ms - burst.runs[0].0) as f64 / 1000.0;
        let extra_runs = (runs - self.min_repeats) as f64;
        let confidence = 0.6 + 0.1 * extra_runs + 0.1 * f64::from(burst.bursts - 1);
        let mut insight = Insight::new(PATTERN, format!("{command}\u{1f}{who}"))
            .severity(if burst.bursts >= 3 { Severity::Warning } else { Severity::Info })
            .confidence(confidence.min(0.95))
            .message(format!(
                "`{command}` was run {runs} times in {span_seconds:.0}s by {who_label}",
                who_label = if who.is_empty() { "one user" } else { who },
            ))
            .recommendation(format!(
                "Make `{command}` say clearly whether it worked and what changed (a summary line, \
                 a non-zero exit code on failure), so nobody has to run it again to check."
            ))
            .evidence("command", command.as_ref())
            .evidence("runs", runs)
            .evidence("span_seconds", span_seconds)
            .evidence("bursts", u64::from(burst.bursts))
            .evidence("window_seconds", self.window_ms / 1000);
        for (time, id) in &burst.runs {
            insight = insight.event_id(*id, *time);
        }
        if let Some(thread) = &event.thread_id {
            insight = insight.thread(thread.clone());
        }
        if let Some(actor) = &event.actor {
            insight = insight.evidence("actor", actor.as_str());
        }
        out.push(insight);
        Ok(())
    }

    fn snapshot(&self) -> Option<Vec<u8>> {
        state::save(&self.bursts)
    }

    fn restore(&mut self, saved: &[u8]) -> Result<(), String> {
        self.bursts = state::load(saved)?;
        Ok(())
    }
}

export_detector!(CommandRepetition);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event {
        Event {
            id,
            time_ms: seconds * 1000,
            source: "cli-actions".into(),
            kind: "cli.command".into(),
            actor: Some("dev".into()),
            thread_id: None,
            subject: Some(command.into()),
            outcome: Outcome {
                status: if exit_code == 0 { Status::Success } else { Status::Failure },
                exit_code: Some(exit_code),
            },
            duration_ms: Some(300),
            fields: Vec::new(),
        }
    }

    #[test]
    fn a_burst_is_reported_once() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let events: Vec<Event> = (0..5).map(|i| run(i, i as i64 * 10, "bd ready", 0)).collect();
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1);
        assert_eq!(insights[0].evidence.event_ids, vec![0, 1, 2]);
        assert!(insights[0].message.contains("`bd ready`"), "{}", insights[0].message);
        Ok(())
    }

    #[test]
    fn spread_out_runs_and_failures_stay_quiet() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let mut events: Vec<Event> = (0..10).map(|i| run(i, i as i64 * 600, "status", 0)).collect();
        events.extend((10..15).map(|i| run(i, 10_000 + i as i64, "bd sync", 1)));
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn whitespace_does_not_split_a_command() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let events = vec![run(1, 0, "bd ready", 0), run(2, 5, "bd  ready", 0), run(3, 9, " bd ready", 0)];
        assert_eq!(detector.process(&events)?.len(), 1);
        Ok(())
    }

    #[test]
    fn state_survives_a_snapshot_and_restore() -> Result<(), String> {
        let mut before = CommandRepetition::default();
        before.process(&[run(1, 0, "bd ready", 0), run(2, 5, "bd ready", 0)])?;
        let saved = before.snapshot().ok_or("command-repetition supports snapshots")?;
        let mut after = CommandRepetition::default();
        after.restore(&saved)?;
        assert_eq!(after.process(&[run(3, 9, "bd ready", 0)])?.len(), 1, "the third run completes the burst");
        Ok(())
    }

    #[test]
    fn a_second_burst_raises_confidence_under_the_same_key() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let mut events: Vec<Event> = (0..3).map(|i| run(i, i as i64, "bd ready", 0)).collect();
        events.extend((3..6).map(|i| run(i, 3600 + i as i64, "bd ready", 0)));
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 2);
        assert_eq!(insights[0].key, insights[1].key);
        assert!(insights[1].confidence > insights[0].confidence);
        Ok(())
    }
}
