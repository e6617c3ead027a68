//! `command_repetition`: the same command run unusually often by one person (or agent thread),
//! with nothing in between that explains the repeats.
//!
//! People re-run a command when they cannot tell whether it worked: `bd ready` four times in a
//! minute, or four times in two hours when they usually run it twice a day, means its output
//! did not answer the question. Two things make repeats ordinary and keep them quiet: a reason
//! in between (a file changed — an edit–test loop — or the command failed, which is
//! `command_rerun`'s business), and habit (someone's `git status` doubles and triples all week).
//!
//! So the detector counts *unexplained* successful runs of one command (whitespace collapsed,
//! case kept) by one person: runs with no file change and no failure of that command since the
//! run before. It reports when either
//! - `min_repeats` of them fall within `burst_seconds` (a burst: nobody's habit is to run the
//!   same command four times in two minutes), or
//! - `min_repeats` of them fall within `window_seconds` and that many is improbable at the
//!   person's own usual rate of that command (a one-sided Poisson test at `max_chance`): the
//!   share the command has of everything the person ran before, times what they ran in the
//!   window — so a busy afternoon is judged as busy, and a habit that makes up a third of
//!   someone's commands is never unusual. The usual mix is trusted once the person has run
//!   `min_history_runs` commands before the window.
//!
//! Once reported, the occasion goes on while unexplained runs keep coming within the window:
//! every such run counts toward it. One finding per command and person, updated each time the
//! repeats grow by half again (4, 6, 9, 14 … runs: current, yet a script polling a command
//! sends a handful of updates, not one per run); each further occasion raises its confidence. Per event the detector touches one person's runs of one command,
//! which hold at most `window_seconds` of runs: amortized O(log n).

use std::collections::{BTreeMap, VecDeque};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state;
use devloop_plugin_sdk::text::command_key;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "command_repetition";

/// How much an occasion must grow before its finding is updated (half again).
const GROWTH: f64 = 1.5;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Habit {
    /// The command as logged by the first run of the current repeats.
    command: String,
    /// Times and ids of the unexplained runs within the window.
    runs: VecDeque<(i64, u64)>,
    /// The file-change count at the last run: a change since means the next run is explained.
    changes_seen: u64,
    /// Successful runs ever, for the usual rate.
    total: u64,
    /// How many runs the current repeats were last reported with (0: not reported), and how
    /// many occasions were reported.
    reported_runs: usize,
    occasions: u32,
}

/// Everything one person ran: how much in all, and when, within the window.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Person {
    total: u64,
    recent: VecDeque<i64>,
}

pub struct CommandRepetition {
    min_repeats: usize,
    burst_ms: i64,
    window_ms: i64,
    min_history_runs: u64,
    max_chance: f64,
    /// By command key and person.
    habits: PairMap<(String, String), Habit>,
    people: BTreeMap<String, Person>,
    file_changes: u64,
}

impl Default for CommandRepetition {
    fn default() -> Self {
        CommandRepetition {
            min_repeats: 4,
            burst_ms: 120_000,
            window_ms: 7_200_000,
            min_history_runs: 30,
            max_chance: 0.01,
            habits: PairMap::default(),
            people: BTreeMap::new(),
            file_changes: 0,
        }
    }
}

/// P(X ≥ n) for X ~ Poisson(mean).
fn poisson_tail(n: usize, mean: f64) -> f64 {
    if n == 0 {
        return 1.0;
    }
    let mut term = (-mean).exp();
    let mut below = term;
    for k in 1..n {
        term *= mean / k as f64;
        below += term;
    }
    (1.0 - below).max(0.0)
}

/// A span in words: seconds under two minutes, minutes under two hours, hours beyond.
fn span_words(ms: i64) -> String {
    let seconds = ms as f64 / 1000.0;
    if seconds < 120.0 {
        format!("{seconds:.0}s")
    } else if seconds < 7_200.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3_600.0)
    }
}

fn is_file_change(event: &Event) -> bool {
    event.is("file.*")
        || matches!(event.kind.as_str(), "audit.file_modified" | "audit.file_created" | "audit.fix_applied")
}

/// How a finding was judged: a burst, or unusually many for the person's usual rate.
struct Judgement {
    runs: usize,
    first_ms: i64,
    usual: Option<f64>,
    chance: Option<f64>,
}

impl CommandRepetition {
    fn judge(&self, habit: &Habit, person: &Person, now_ms: i64) -> Option<Judgement> {
        let runs = habit.runs.len();
        if runs < self.min_repeats {
            return None;
        }
        let burst = if habit.reported_runs > 0 {
            runs
        } else {
            habit.runs.iter().rev().take_while(|(time, _)| now_ms - time <= self.burst_ms).count()
        };
        let in_window = person.recent.len() as u64;
        let person_before = person.total.saturating_sub(in_window);
        let usual_test = (person_before >= self.min_history_runs).then(|| {
            let command_before = habit.total.saturating_sub(runs as u64);
            let share = (command_before + 1) as f64 / (person_before + 1) as f64;
            let usual = share * in_window as f64;
            (usual, poisson_tail(runs, usual))
        });
        if let Some((usual, chance)) = usual_test
            && chance <= self.max_chance
        {
            return Some(Judgement { runs, first_ms: habit.runs[0].0, usual: Some(usual), chance: Some(chance) });
        }
        (burst >= self.min_repeats).then(|| Judgement {
            runs: burst,
            first_ms: habit.runs[runs - burst].0,
            usual: usual_test.map(|(usual, _)| usual),
            chance: None,
        })
    }

    fn ran(&mut self, key: &str, who: &str, event: &Event, out: &mut Vec<Insight>) {
        let window_ms = self.window_ms;
        let person = self.people.entry(who.to_owned()).or_default();
        person.total += 1;
        while person.recent.front().is_some_and(|time| event.time_ms - time > window_ms) {
            person.recent.pop_front();
        }
        person.recent.push_back(event.time_ms);
        let habit = self.habits.entry((key.to_owned(), who.to_owned())).or_default();
        habit.total += 1;
        while habit.runs.front().is_some_and(|(time, _)| event.time_ms - time > window_ms) {
            habit.runs.pop_front();
        }
        if habit.changes_seen != self.file_changes {
            habit.runs.clear();
        }
        if habit.runs.is_empty() {
            habit.reported_runs = 0;
            habit.command = event.subject_or_empty().trim().to_owned();
        }
        habit.changes_seen = self.file_changes;
        habit.runs.push_back((event.time_ms, event.id));

        let habit = &self.habits[&(key.to_owned(), who.to_owned())];
        let Some(judgement) = self.judge(habit, &self.people[who], event.time_ms) else { return };
        let habit = self.habits.get_mut(&(key.to_owned(), who.to_owned())).expect("present: just ran");
        if habit.reported_runs > 0 && (judgement.runs as f64) < habit.reported_runs as f64 * GROWTH {
            return;
        }
        if habit.reported_runs == 0 {
            habit.occasions += 1;
        }
        habit.reported_runs = judgement.runs;
        let occasions = habit.occasions;
        let command = habit.command.clone();
        let span_ms = event.time_ms - judgement.first_ms;
        let who_label = if who.is_empty() { "one user" } else { who };
        let usual_words = match (judgement.usual, judgement.chance) {
            (Some(usual), Some(_)) => {
                format!(", against about {usual:.1} at their usual rate")
            }
            _ => String::new(),
        };
        let extra = (judgement.runs - self.min_repeats) as f64;
        let confidence = 0.6 + 0.1 * extra + 0.1 * f64::from(occasions - 1);
        let mut insight = Insight::new(PATTERN, insight_key(&[key, who]))
            .severity(if occasions >= 3 { Severity::Warning } else { Severity::Info })
            .confidence(confidence.min(0.95))
            .message(format!(
                "`{command}` was run {runs} times in {span} by {who_label}{usual_words}",
                runs = judgement.runs,
                span = span_words(span_ms),
            ))
            .recommendation(format!(
                "Make `{command}` say clearly whether it worked and what changed (a summary line, \
                 a non-zero exit code on failure), so nobody has to run it again to check."
            ))
            .evidence("command", command.as_str())
            .evidence("runs", judgement.runs)
            .evidence("span_seconds", span_ms as f64 / 1000.0)
            .evidence("occasions", u64::from(occasions))
            .evidence("window_seconds", if judgement.chance.is_some() { self.window_ms } else { self.burst_ms } / 1000);
        if let Some(usual) = judgement.usual {
            insight = insight.evidence("usual_runs_per_window", (usual * 100.0).round() / 100.0);
        }
        if let Some(chance) = judgement.chance {
            insight = insight.evidence("chance_at_usual_rate", (chance * 1e6).round() / 1e6);
        }
        let skip = habit.runs.len() - judgement.runs;
        for (time, id) in habit.runs.iter().skip(skip) {
            insight = insight.event_id(*id, *time);
        }
        if let Some(thread) = &event.thread_id {
            insight = insight.thread(thread.clone());
        }
        if let Some(actor) = &event.actor {
            insight = insight.evidence("actor", actor.as_str());
        }
        out.push(insight);
    }

    /// Format 0 (before envelopes) was the old burst map alone; its bursts are short-lived, so
    /// the detector starts fresh rather than read a layout it no longer has.
    fn migrate_format_0(&mut self, saved: state::Saved) -> Result<(), String> {
        Err(format!(
            "the saved state is in format {}, from the burst-only version of this detector; starting fresh",
            saved.format
        ))
    }
}

impl Detector for CommandRepetition {
    fn info() -> DetectorInfo {
        DetectorInfo::new("command-repetition", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["cli.command", "file.*", "audit.file_modified", "audit.file_created", "audit.fix_applied"])
            .setting(
                "min_repeats",
                4_i64,
                "Unexplained successful runs of one command that can make a finding. Default 4: doubles and \
                 triples are everyday habit (`git status`), a fourth run with nothing changed is not.",
            )
            .setting(
                "burst_seconds",
                120_i64,
                "A burst: `min_repeats` runs this close together are reported whatever the person's habits. \
                 Default 120: nobody's routine runs one command four times in two minutes.",
            )
            .setting(
                "window_seconds",
                7_200_i64,
                "The longer view: `min_repeats` or more runs within it are judged against the person's own usual \
                 rate of that command. Default 7200 (2 h): \"`bd ready` 4 times in 2 hours\".",
            )
            .setting(
                "min_history_runs",
                30_i64,
                "Commands the person ran before the window, before their usual mix is trusted. Default 30: \
                 a day or two of work shows a person's habits; before that only bursts are reported.",
            )
            .setting(
                "max_chance",
                0.01,
                "How improbable the count must be at the person's usual rate (one-sided Poisson) to be \
                 reported. Default 0.01: one false alarm in a hundred windows at most, per command.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.min_repeats = settings.integer_at_least("min_repeats", 2)? as usize;
        self.burst_ms = settings.integer_at_least("burst_seconds", 1)? * 1000;
        self.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        self.min_history_runs = settings.integer_at_least("min_history_runs", 0)? as u64;
        self.max_chance = settings.float("max_chance")?;
        if !(0.0..=1.0).contains(&self.max_chance) {
            return Err(format!("setting `max_chance` must be between 0 and 1, not {}", self.max_chance));
        }
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        if is_file_change(event) {
            self.file_changes += 1;
            return Ok(());
        }
        let key = command_key(event.subject_or_empty());
        if key.is_empty() {
            return Ok(());
        }
        let who = event.who().to_owned();
        if event.failed() {
            if let Some(habit) = self.habits.get_mut(&(key.into_owned(), who)) {
                habit.runs.clear();
            }
            return Ok(());
        }
        self.ran(&key, &who, event, out);
        Ok(())
    }

    keep_state!(format = 1, migrate = Self::migrate_format_0; habits, people, file_changes);
}

export_detector!(CommandRepetition);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event {
        Event::at(id, seconds * 1000, "cli.command").subject(command).actor("dev").exit_code(exit_code)
    }

    fn ids(insight: &Insight) -> Vec<u64> {
        insight.evidence.event_ids.clone()
    }

    #[test]
    fn a_burst_is_reported_at_the_fourth_run_and_updated_as_it_grows_by_half() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let events: Vec<Event> = (0..40).map(|i| run(i, i as i64 * 10, "bd ready", 0)).collect();
        let insights = detector.process(&events)?;
        let counts: Vec<usize> = insights.iter().map(|insight| ids(insight).len()).collect();
        assert_eq!(counts, vec![4, 6, 9, 14, 20, 20], "4, 6, 9, 14, 21, 32 runs (evidence keeps 20 ids)");
        assert_eq!(ids(&insights[0]), vec![0, 1, 2, 3]);
        assert!(insights[1].message.starts_with("`bd ready` was run 6 times in 50s by dev"), "{}", insights[1].message);
        Ok(())
    }

    #[test]
    fn a_second_burst_within_the_window_extends_the_occasion() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let mut events: Vec<Event> = (0..4).map(|i| run(i, i as i64 * 10, "bd ready", 0)).collect();
        events.extend((4..8).map(|i| run(i, 900 + i as i64 * 10, "bd ready", 0)));
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 2, "reported at 4 runs, updated at 6; 8 is short of 9: {insights:#?}");
        assert!(
            insights[1].message.starts_with("`bd ready` was run 6 times in 16 min by dev"),
            "{}",
            insights[1].message
        );
        Ok(())
    }

    #[test]
    fn triples_failures_and_edit_test_loops_stay_quiet() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let mut events: Vec<Event> = (0..3).map(|i| run(i, i as i64 * 20, "git status", 0)).collect();
        events.extend((10..15).map(|i| run(i, 1_000 + i as i64, "bd sync", 1)));
        for step in 0..5_u64 {
            let at = 2_000 + step as i64 * 60;
            events.push(run(20 + step * 2, at, "pytest -q", 0));
            events.push(Event::at(21 + step * 2, (at + 30) * 1000, "file.modified").subject("src/app.py"));
        }
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn four_runs_in_two_hours_are_unusual_for_someone_who_runs_it_twice_a_day() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let (day, hour) = (86_400, 3_600);
        let mut events = Vec::new();
        for d in 0..5_i64 {
            for h in 8..18 {
                events.push(run(1_000 + (d * 100 + h) as u64, d * day + h * hour + 600, "git status", 0));
                events.push(run(2_000 + (d * 100 + h) as u64, d * day + h * hour + 1_200, "pytest -q", 0));
            }
            events.push(run(d as u64 * 2, d * day + 9 * hour, "bd ready", 0));
            events.push(run(d as u64 * 2 + 1, d * day + 15 * hour, "bd ready", 0));
        }
        let start = 5 * day + 10 * hour;
        events.extend((0..4).map(|i| run(100 + i, start + i as i64 * 1_800, "bd ready", 0)));
        events.extend((0..3).map(|i| run(200 + i, start + 900 + i as i64 * 1_800, "git status", 0)));
        events.sort_by_key(|event| event.time_ms);
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(ids(&insights[0]), vec![100, 101, 102, 103]);
        assert!(insights[0].message.starts_with("`bd ready` was run 4 times in 90 min by dev, against about"));
        Ok(())
    }

    #[test]
    fn a_habit_of_many_runs_a_day_is_not_unusual() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let events: Vec<Event> =
            (0..300).map(|i| run(i, i as i64 * 1_500 + (i as i64 % 7) * 40, "git status", 0)).collect();
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn commands_keep_their_case_and_whitespace_does_not_split_them() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let events = vec![
            run(1, 0, "git add -A", 0),
            run(2, 5, "git  add -A", 0),
            run(3, 9, " git add -A", 0),
            run(4, 12, "git add -A", 0),
        ];
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1);
        assert!(insights[0].message.contains("`git add -A`"), "{}", insights[0].message);
        Ok(())
    }

    #[test]
    fn state_survives_a_snapshot_and_restore() -> Result<(), String> {
        let mut before = CommandRepetition::default();
        before.process(&[run(1, 0, "bd ready", 0), run(2, 5, "bd ready", 0), run(3, 7, "bd ready", 0)])?;
        let saved = before.snapshot().ok_or("command-repetition supports snapshots")?;
        let mut after = CommandRepetition::default();
        after.restore(&saved)?;
        assert_eq!(after.process(&[run(4, 9, "bd ready", 0)])?.len(), 1, "the fourth run completes the burst");
        Ok(())
    }

    #[test]
    fn a_snapshot_from_the_burst_only_version_says_why_it_starts_fresh() {
        let legacy = br#"{"bd ready":{"dev":{"runs":[[0,1],[5000,2]],"reported":false,"bursts":0}}}"#;
        let reason = CommandRepetition::default().restore(legacy).expect_err("format 0 is not read");
        assert!(reason.contains("format 0") && reason.contains("starting fresh"), "{reason}");
    }

    #[test]
    fn a_second_occasion_raises_confidence_under_the_same_key() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let mut events: Vec<Event> = (0..4).map(|i| run(i, i as i64, "bd ready", 0)).collect();
        events.extend((4..8).map(|i| run(i, 9_000 + i as i64, "bd ready", 0)));
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 2);
        assert_eq!(insights[0].key, insights[1].key);
        assert!(insights[1].confidence > insights[0].confidence);
        Ok(())
    }
}
