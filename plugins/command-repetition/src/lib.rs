//! `command_repetition`: the same command run unusually often by one person (or agent thread),
//! with nothing in between that explains the repeats.
//!
//! People re-run a command when they cannot tell whether it worked: `bd ready` four times in a
//! minute, or four times in two hours when they usually run it twice a day, means its output
//! did not answer the question. Two things make repeats ordinary and keep them quiet: a reason
//! in between (a failure of the command — an edit–test loop, or `command_rerun`'s business — or,
//! for back-to-back runs, a file change), and habit (someone's `git status` doubles and triples
//! all week). So every judgement is against the person's own usual behaviour with that command.
//!
//! Runs are grouped into *sittings*: successful runs of one command (whitespace collapsed, case
//! kept) by one person, each within `burst_seconds` of the one before, with no file change and
//! no failure of it in between. The detector reports when either
//! - a sitting reaches `min_repeats` runs and a sitting that long is improbable (≤ `max_chance`)
//!   for this person and command: their past sittings of it give the chance that a sitting goes
//!   on for one more run (a geometric length; a command never seen counts as run once per
//!   sitting), so alice's habitual doubles and triples of `git status` make a chance merge of two
//!   of them unremarkable, while four `devloop status` in two minutes from someone who runs it
//!   once a week is not; or
//! - `min_repeats` sittings of it fall within `window_seconds` with no failure of it in between,
//!   and that many is improbable at the person's own usual rate (a one-sided Poisson test at
//!   `max_chance`): the command's sittings per clock hour the person was at work before the
//!   window, times the window — "usually once or twice a day" against "4 times in 2 hours".
//!   Counting sittings, not runs, keeps a habit of doubles from looking twice as frequent. A
//!   sitting begun within `burst_seconds` after any of the person's commands failed is a
//!   reaction to that failure (`git diff` after a red test run) and is not counted. File changes
//!   do not explain runs hours apart: over hours someone is always editing, and the usual rate
//!   already holds how often they run the command around their edits. The usual rate is trusted
//!   once the person has run `min_history_runs` commands. Only commands the person usually runs
//!   fewer than `max_usual_sittings` times per window are judged this way: a habit (`git status`
//!   all day) piling up over a busy stretch is not someone re-checking an answer, and a count
//!   of a habit over hours is far more bunched than a Poisson test assumes.
//!
//! Sittings that were reported stay out of the person's usual, so a problem that recurs keeps
//! being seen as one. Once reported, a burst goes on while its sitting does, and a longer
//! occasion while successful runs of the command keep coming within `window_seconds` of each
//! other; every run counts toward it and the finding is re-sent with all its runs (one report
//! per occasion per batch: a later report of the same occasion in a batch replaces the
//! earlier, whose evidence — the occasion's first runs — it holds). Each further
//! occasion raises its confidence. Per event the detector touches one person's sittings of one
//! command, which hold at most `window_seconds` of runs (20 ids each): amortized O(log n).
//!
//! The state is bounded by what people ran in the last `forget_after_days`: a command a person
//! has not run successfully for that long is no longer a habit of theirs, and someone (or an
//! agent thread) not seen for that long is no longer known; either starts again from zero if
//! it comes back, as a new one would. A sweep once a day of event time drops them.

use std::collections::VecDeque;

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state;
use devloop_plugin_sdk::text::command_key;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "command_repetition";

/// Run ids kept per sitting and per occasion, as the evidence can hold no more.
const KEPT_IDS: usize = 20;

/// Consecutive runs of one command: within `burst_seconds` of each other, nothing in between.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Sitting {
    start_ms: i64,
    size: usize,
    /// Whether it counts in the longer view: not begun right after one of the person's commands
    /// failed (a reaction to that failure), nor within `burst_seconds` of the run before (the
    /// same sitting, split only by a file change). Its runs count toward its length either way.
    counted: bool,
    /// Times and ids of its first runs.
    runs: Runs,
}

/// The times and ids of a sitting's first runs. Most sittings are a single run, held without
/// an allocation: allocating and freeing a list for each took about 15% of the component's
/// time (the guest's allocator is dearer than the host's), against a few percent natively.
/// Saved as the list it is, so a saved state reads the same either way.
#[derive(Debug, Default)]
enum Runs {
    #[default]
    Empty,
    One((i64, u64)),
    Many(Vec<(i64, u64)>),
}

impl Runs {
    fn push(&mut self, run: (i64, u64)) {
        match self {
            Runs::Empty => *self = Runs::One(run),
            Runs::One(first) => *self = Runs::Many(vec![*first, run]),
            Runs::Many(runs) => runs.push(run),
        }
    }

    fn as_slice(&self) -> &[(i64, u64)] {
        match self {
            Runs::Empty => &[],
            Runs::One(run) => std::slice::from_ref(run),
            Runs::Many(runs) => runs,
        }
    }
}

impl Serialize for Runs {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Runs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut runs = Vec::<(i64, u64)>::deserialize(deserializer)?;
        Ok(match runs.len() {
            0 => Runs::Empty,
            1 => Runs::One(runs.remove(0)),
            _ => Runs::Many(runs),
        })
    }
}

/// A reported occasion, going on while runs keep coming within the window.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Occasion {
    first_ms: i64,
    last_ms: i64,
    runs: usize,
    sittings: usize,
    /// The first runs' times and ids: the evidence, the same however the runs were batched.
    first_runs: Vec<(i64, u64)>,
    /// What the judgement that opened it said: the usual count (sittings in the window, or
    /// runs per sitting) and the chance of what was seen at it.
    usual: f64,
    chance: f64,
    by_window: bool,
}

impl Occasion {
    fn add(&mut self, time_ms: i64, id: u64, new_sitting: bool) {
        self.runs += 1;
        self.sittings += usize::from(new_sitting);
        self.last_ms = time_ms;
        if self.first_runs.len() < KEPT_IDS {
            self.first_runs.push((time_ms, id));
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Habit {
    /// The command as logged by the first run of the current occasion (or sitting).
    command: String,
    /// The last successful run, and whether a failure of the command came since.
    last_ms: Option<i64>,
    failed_since: bool,
    /// The file-change count at the last run: a change since ends the sitting.
    changes_seen: u64,
    /// Unreported sittings since the last failure of the command within the window; the last
    /// may still be going on.
    window: VecDeque<Sitting>,
    /// Whether the last sitting in `window` is still going on (not yet in the past counts).
    open_sitting: bool,
    /// Completed unreported sittings and their runs: the usual sitting length.
    past_sittings: u64,
    past_runs: u64,
    /// Unreported sittings ever, for the usual rate.
    sittings: u64,
    occasion: Option<Occasion>,
    occasions: u32,
}

/// Everything one person ran: how much, in how many clock hours, when they last failed, and
/// their habits. The habits sit under the person, so an event finds its habit with the person's
/// key hashed and compared once: hashing and comparing keys is the guest's dearest work.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Person {
    runs: u64,
    /// When the person's last failed command ran.
    last_failure_ms: Option<i64>,
    /// Clock hours in which they ran anything, and those of them that overlap the window.
    hours: u64,
    recent_hours: VecDeque<i64>,
    /// By command key. (Absent from formats 2 to 4, which kept every habit in one map.)
    #[serde(default)]
    habits: KeyMap<String, Habit>,
}

/// What the longer view reads of a person while one of their habits is changed.
#[derive(Clone, Copy)]
struct Usage {
    runs: u64,
    /// Clock hours the person was at work before the window.
    hours_before: u64,
}

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;

impl Habit {
    /// Whether the person last ran the command successfully more than `forget_ms` before `now`.
    fn forgotten(&self, now: i64, forget_ms: i64) -> bool {
        self.last_ms.is_none_or(|last| now - last > forget_ms)
    }
}

impl Person {
    /// Whether the last clock hour the person was at work ended more than `forget_ms` before
    /// `now` (never before any of their habits is forgotten: each run is in such an hour).
    fn forgotten(&self, now: i64, forget_ms: i64) -> bool {
        self.recent_hours.back().is_none_or(|hour| now - (hour + 1) * HOUR_MS > forget_ms)
    }

    fn usage(&self) -> Usage {
        Usage { runs: self.runs, hours_before: self.hours.saturating_sub(self.recent_hours.len() as u64) }
    }

    /// Notes that the person ran something at `now`.
    fn active(&mut self, now: i64, window_ms: i64) {
        let hour = now.div_euclid(HOUR_MS);
        while self.recent_hours.front().is_some_and(|start| (start + 1) * HOUR_MS <= now - window_ms) {
            self.recent_hours.pop_front();
        }
        if self.recent_hours.back() != Some(&hour) {
            self.recent_hours.push_back(hour);
            self.hours += 1;
        }
    }
}

/// The settings, apart from the state so that they can be read while a habit is changed.
struct Thresholds {
    min_repeats: usize,
    burst_ms: i64,
    window_ms: i64,
    min_history_runs: u64,
    max_chance: f64,
    max_usual_sittings: f64,
    forget_ms: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            min_repeats: 4,
            burst_ms: 120_000,
            window_ms: 7_200_000,
            min_history_runs: 30,
            max_chance: 0.002,
            max_usual_sittings: 1.0,
            forget_ms: 30 * DAY_MS,
        }
    }
}

#[derive(Default)]
pub struct CommandRepetition {
    thresholds: Thresholds,
    people: KeyMap<String, Person>,
    file_changes: u64,
    /// When what was forgotten was last swept away.
    swept_ms: i64,
}

/// The person `who`, started again from zero if they were forgotten (their habits with them,
/// as each was last run in an hour the person was at work): one lookup, and an allocation only
/// for someone new. (A macro: a function returning the entry it may have inserted would need
/// a second lookup to satisfy the borrow checker.)
macro_rules! known {
    ($people:expr, $who:expr, $now:expr, $forget_ms:expr) => {{
        let person = match $people.get_mut($who) {
            Some(person) => person,
            None => $people.entry($who.to_owned()).or_default(),
        };
        if person.forgotten($now, $forget_ms) {
            *person = Person::default();
        }
        person
    }};
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
        || matches!(event.kind.as_ref(), "audit.file_modified" | "audit.file_created" | "audit.fix_applied")
}

/// The state as formats 2 to 4 saved it: every habit in one list keyed by command and person,
/// beside the people; in formats 2 and 3 the people as an object (an ordered map, where a
/// [`KeyMap`] saves a list of pairs), and in format 2 without the time of the last sweep.
#[derive(Deserialize)]
struct Format4 {
    habits: Vec<((String, String), Habit)>,
    people: KeyMap<String, Person>,
    file_changes: u64,
    #[serde(default)]
    swept_ms: i64,
}

impl CommandRepetition {
    /// Once a day of event time, drops the habits and people forgotten (who would start again
    /// from zero if seen again): memory only, never a finding, and a run in pieces sweeps where
    /// one run does.
    fn sweep(&mut self, now: i64) {
        if now - self.swept_ms < DAY_MS {
            return;
        }
        self.swept_ms = now;
        let forget_ms = self.thresholds.forget_ms;
        self.people.retain(|_, person| {
            if person.forgotten(now, forget_ms) {
                return false;
            }
            person.habits.retain(|_, habit| !habit.forgotten(now, forget_ms));
            true
        });
    }
}

impl Thresholds {
    /// Whether the sittings so far make an occasion, judged against the person's usual.
    fn judge(&self, habit: &Habit, usage: Usage) -> Option<Occasion> {
        let current = habit.window.back()?;
        let now_ms = habit.last_ms.unwrap_or(current.start_ms);
        if current.size >= self.min_repeats {
            // Geometric sitting length: the chance a sitting goes on for one more run, from the
            // person's past sittings of the command, with one sitting of one run assumed.
            let going_on = habit.past_runs.saturating_sub(habit.past_sittings) as f64 / (habit.past_runs + 1) as f64;
            let chance = going_on.powi(current.size as i32 - 1);
            if chance <= self.max_chance {
                let usual = (habit.past_runs + 1) as f64 / (habit.past_sittings + 1) as f64;
                return Some(self.open(
                    current.runs.as_slice().iter(),
                    (current.start_ms, now_ms),
                    current.size,
                    1,
                    usual,
                    chance,
                    false,
                ));
            }
        }
        if habit.window.len() < self.min_repeats || usage.runs < self.min_history_runs {
            return None;
        }
        // The person's usual rate of the command: its sittings per hour they were at work, before
        // the window (one sitting assumed, so a command never run is not infinitely unusual).
        let usual = |sittings: usize| {
            let command_before = habit.sittings.saturating_sub(sittings as u64);
            (command_before + 1) as f64 / usage.hours_before.max(1) as f64 * (self.window_ms as f64 / HOUR_MS as f64)
        };
        // A habit is known without counting its sittings in the window: the rate is least when
        // every one of them counts. (A habit's window holds dozens, and this is asked at most
        // of its runs.)
        if usual(habit.window.len()) >= self.max_usual_sittings {
            return None;
        }
        let sittings = habit.window.iter().filter(|sitting| sitting.counted).count();
        if sittings < self.min_repeats {
            return None;
        }
        let usual = usual(sittings);
        if usual >= self.max_usual_sittings {
            return None;
        }
        let chance = poisson_tail(sittings, usual);
        (chance <= self.max_chance).then(|| {
            let runs = habit.window.iter().map(|sitting| sitting.size).sum();
            let runs_seen = habit.window.iter().flat_map(|sitting| sitting.runs.as_slice());
            self.open(runs_seen, (habit.window[0].start_ms, now_ms), runs, sittings, usual, chance, true)
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "an occasion is opened from either judgement, each with its own figures"
    )]
    fn open<'a>(
        &self,
        runs_seen: impl Iterator<Item = &'a (i64, u64)>,
        (first_ms, last_ms): (i64, i64),
        runs: usize,
        sittings: usize,
        usual: f64,
        chance: f64,
        by_window: bool,
    ) -> Occasion {
        let first_runs: Vec<(i64, u64)> = runs_seen.copied().take(KEPT_IDS).collect();
        Occasion { first_ms, last_ms, runs, sittings, first_runs, usual, chance, by_window }
    }

    fn insight(&self, key: &str, who: &str, habit: &Habit, event: &Event) -> Insight {
        let occasion = habit.occasion.as_ref().expect("reported only with an occasion");
        let command = habit.command.as_str();
        let span_ms = occasion.last_ms - occasion.first_ms;
        let who_label = if who.is_empty() { "one user" } else { who };
        // A burst of a command usually run once at a time speaks for itself.
        let usual_words = if occasion.by_window {
            format!(", against about {:.1} at their usual rate", occasion.usual)
        } else if occasion.usual >= 1.05 {
            format!(", usually {:.1} at a time", occasion.usual)
        } else {
            String::new()
        };
        let extra = occasion.runs.saturating_sub(self.min_repeats) as f64;
        let confidence = 0.6 + 0.1 * extra + 0.1 * f64::from(habit.occasions - 1);
        let mut insight = Insight::new(PATTERN, insight_key(&[key, who]))
            .severity(if habit.occasions >= 3 { Severity::Warning } else { Severity::Info })
            .confidence(confidence.min(0.95))
            .message(format!(
                "`{command}` was run {runs} times in {span} by {who_label}{usual_words}",
                runs = occasion.runs,
                span = span_words(span_ms),
            ))
            .recommendation(format!(
                "Make `{command}` say clearly whether it worked and what changed (a summary line, \
                 a non-zero exit code on failure), so nobody has to run it again to check."
            ))
            .evidence("command", command)
            .evidence("runs", occasion.runs)
            .evidence("sittings", occasion.sittings)
            .evidence("span_seconds", span_ms as f64 / 1000.0)
            .evidence("occasions", u64::from(habit.occasions))
            .evidence("window_seconds", if occasion.by_window { self.window_ms } else { self.burst_ms } / 1000);
        insight = if occasion.by_window {
            insight.evidence("usual_sittings_per_window", (occasion.usual * 100.0).round() / 100.0)
        } else {
            insight.evidence("usual_runs_per_sitting", (occasion.usual * 100.0).round() / 100.0)
        };
        insight = insight.evidence("chance_at_usual", (occasion.chance * 1e6).round() / 1e6);
        for (time, id) in &occasion.first_runs {
            insight = insight.event_id(*id, *time);
        }
        if let Some(thread) = &event.thread_id {
            insight = insight.thread(thread.clone());
        }
        if let Some(actor) = &event.actor {
            insight = insight.evidence("actor", actor.as_ref());
        }
        insight
    }
}

impl CommandRepetition {
    fn ran(&mut self, key: &str, who: &str, event: &Event, out: &mut Vec<Insight>) {
        let thresholds = &self.thresholds;
        let (window_ms, burst_ms, now) = (thresholds.window_ms, thresholds.burst_ms, event.time_ms);
        let person = known!(self.people, who, now, thresholds.forget_ms);
        person.runs += 1;
        person.active(now, window_ms);
        let usage = person.usage();
        let after_failure = person.last_failure_ms.is_some_and(|failed| now - failed <= burst_ms);
        let habit = match person.habits.get_mut(key) {
            Some(habit) => habit,
            None => person.habits.entry(key.to_owned()).or_default(),
        };
        if habit.forgotten(now, thresholds.forget_ms) {
            *habit = Habit::default();
        }
        let continues = !habit.failed_since && habit.last_ms.is_some_and(|last| now - last <= burst_ms);
        let new_sitting = habit.failed_since
            || habit.changes_seen != self.file_changes
            || habit.last_ms.is_none_or(|last| now - last > burst_ms);
        // A burst goes on while its sitting does; a longer occasion while runs keep coming within
        // the window.
        let occasion_goes_on = !habit.failed_since
            && habit.occasion.as_ref().is_some_and(|occasion| {
                if occasion.by_window { now - occasion.last_ms <= window_ms } else { !new_sitting }
            });
        if new_sitting && habit.open_sitting {
            let done = habit.window.back().map_or(0, |sitting| sitting.size);
            habit.past_sittings += 1;
            habit.past_runs += done as u64;
            habit.open_sitting = false;
        }
        if habit.failed_since {
            habit.window.clear();
        }
        habit.failed_since = false;
        habit.changes_seen = self.file_changes;
        habit.last_ms = Some(now);

        if occasion_goes_on {
            let occasion = habit.occasion.as_mut().expect("checked: going on");
            occasion.add(now, event.id, new_sitting);
        } else {
            habit.occasion = None;
            if new_sitting || !habit.open_sitting {
                while habit.window.front().is_some_and(|sitting| now - sitting.start_ms > window_ms) {
                    habit.window.pop_front();
                }
                if habit.window.is_empty() {
                    devloop_plugin_sdk::assign(&mut habit.command, event.subject_or_empty().trim());
                }
                let counted = !after_failure && !continues;
                habit.sittings += u64::from(counted);
                habit.window.push_back(Sitting { start_ms: now, size: 0, counted, runs: Runs::Empty });
                habit.open_sitting = true;
            }
            let sitting = habit.window.back_mut().expect("just pushed or going on");
            sitting.size += 1;
            if sitting.runs.as_slice().len() < KEPT_IDS {
                sitting.runs.push((now, event.id));
            }
            let Some(occasion) = thresholds.judge(habit, usage) else { return };
            // The sittings it holds are reported: they leave the person's usual.
            let counted = habit.window.iter().filter(|sitting| sitting.counted).count();
            habit.sittings = habit.sittings.saturating_sub(counted as u64);
            if occasion.by_window {
                habit.window.clear();
            } else {
                habit.window.pop_back();
            }
            habit.open_sitting = false;
            habit.occasions += 1;
            habit.occasion = Some(occasion);
        }
        let insight = thresholds.insight(key, who, habit, event);
        // A later report of the same occasion carries all the earlier one did (its evidence is
        // the occasion's first runs), so it replaces it; another occasion's report stays.
        let ids = &insight.evidence.event_ids;
        out.retain(|earlier| {
            earlier.key != insight.key || !earlier.evidence.event_ids.iter().all(|id| ids.contains(id))
        });
        out.push(insight);
    }

    /// Formats 2 to 4 kept the habits in one map beside the people, which now hold them (format
    /// 3 saved the people as an object, format 2 also lacked the time of the last sweep, which
    /// then comes with the next event). Formats 0 (before envelopes) and 1 (runs, not sittings)
    /// kept short-lived runs the detector no longer counts the same way, so it starts fresh
    /// rather than misread them.
    fn migrate_earlier(&mut self, saved: state::Saved) -> Result<(), String> {
        if matches!(saved.format, 2..=4) {
            let Format4 { habits, mut people, file_changes, swept_ms } = saved.read_any()?;
            for ((key, who), habit) in habits {
                people.entry(who).or_default().habits.insert(key, habit);
            }
            (self.people, self.file_changes, self.swept_ms) = (people, file_changes, swept_ms);
            return Ok(());
        }
        Err(format!(
            "the saved state is in format {}, from a version of this detector that counted runs, not sittings; \
             starting fresh",
            saved.format
        ))
    }
}

impl Detector for CommandRepetition {
    fn info() -> DetectorInfo {
        DetectorInfo::new("command-repetition", env!("CARGO_PKG_VERSION"))
            .fields([] as [&str; 0])
            .pattern(PATTERN)
            .kinds(["cli.command", "file.*", "audit.file_modified", "audit.file_created", "audit.fix_applied"])
            .setting(
                "min_repeats",
                4_i64,
                "Runs in one sitting, or sittings within `window_seconds`, that can make a finding. Default 4: \
                 doubles and triples are everyday habit (`git status`); a fourth with nothing changed may not be.",
            )
            .setting(
                "burst_seconds",
                120_i64,
                "A sitting: successful runs of one command each within this many seconds of the one before, no \
                 file change and no failure of it in between. Default 120: a re-run to check an answer comes \
                 within a minute or two; runs further apart are separate checks.",
            )
            .setting(
                "window_seconds",
                7_200_i64,
                "The longer view: `min_repeats` or more sittings within it, with no failure of the command between \
                 and not begun right after a failure of another command, are judged against the person's own usual rate of that command. Default 7200 (2 h): \
                 \"`bd ready` 4 times in 2 hours\".",
            )
            .setting(
                "min_history_runs",
                30_i64,
                "Commands the person must have run before their usual rate is trusted. Default 30: a day or \
                 two of work shows a person's habits; before that only long sittings are reported.",
            )
            .setting(
                "max_chance",
                0.002,
                "How improbable a sitting's length (geometric, from the person's past sittings of the command) \
                 or the sittings in a window (one-sided Poisson at their usual hourly rate) must be to be \
                 reported. Default 0.002: a person has a few two-hour windows a day for each of the commands \
                 they run, so 0.01 would raise a false alarm every few days; 0.002 still reports 4 runs in \
                 2 hours of a command they run twice a day (chance ≈ 0.001).",
            )
            .setting(
                "max_usual_sittings",
                1.0,
                "The longer view judges only commands the person usually runs in fewer sittings than this per \
                 window. Default 1: \"4 times in 2 hours\" is news for a command run once or twice a day; a habit \
                 run every hour piles up in busy stretches, which is work, not re-checking (its sittings are \
                 still judged by their length)."
            )
            .setting(
                "forget_after_days",
                30_i64,
                "Days after which a command a person has not run successfully is no longer their habit, and a \
                 person (or agent thread) not seen is no longer known: either starts again from zero if it comes \
                 back. Default 30: a month without a command says it is no habit any more, and the state stays \
                 bounded by what people ran in the last month.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.thresholds.min_repeats = settings.integer_at_least("min_repeats", 2)? as usize;
        self.thresholds.burst_ms = settings.integer_at_least("burst_seconds", 1)? * 1000;
        self.thresholds.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        self.thresholds.min_history_runs = settings.integer_at_least("min_history_runs", 0)? as u64;
        self.thresholds.max_chance = settings.float("max_chance")?;
        self.thresholds.max_usual_sittings = settings.float("max_usual_sittings")?;
        self.thresholds.forget_ms =
            (settings.integer_at_least("forget_after_days", 1)? * DAY_MS).max(self.thresholds.window_ms);
        if !(0.0..=1.0).contains(&self.thresholds.max_chance) {
            return Err(format!("setting `max_chance` must be between 0 and 1, not {}", self.thresholds.max_chance));
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
        let who = event.who();
        self.sweep(event.time_ms);
        if event.failed() {
            let Thresholds { window_ms, forget_ms, .. } = self.thresholds;
            let person = known!(self.people, who, event.time_ms, forget_ms);
            person.last_failure_ms = Some(event.time_ms);
            person.active(event.time_ms, window_ms);
            if let Some(habit) = person.habits.get_mut(key.as_ref()) {
                habit.failed_since = true;
            }
            return Ok(());
        }
        self.ran(&key, who, event, out);
        Ok(())
    }

    keep_state!(format = 5, migrate = Self::migrate_earlier; people, file_changes, swept_ms);
}

export_detector!(CommandRepetition);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event<'static> {
        Event::at(id, seconds * 1000, "cli.command").subject(command.to_owned()).actor("dev").exit_code(exit_code)
    }

    fn ids(insight: &Insight) -> Vec<u64> {
        insight.evidence.event_ids.clone()
    }

    /// Each event in a batch of its own, as a followed log delivers them.
    fn one_by_one(detector: &mut CommandRepetition, events: &[Event]) -> Result<Vec<Insight>, String> {
        let mut insights = Vec::new();
        for event in events {
            insights.extend(detector.process(std::slice::from_ref(event))?);
        }
        Ok(insights)
    }

    fn integer(insight: &Insight, key: &str) -> Option<i64> {
        insight.evidence.fields.iter().find(|field| field.key == key).and_then(|field| match field.value {
            Value::Integer(integer) => Some(integer),
            _ => None,
        })
    }

    #[test]
    fn a_burst_is_reported_at_the_fourth_run_and_its_counts_follow_every_run() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let events: Vec<Event> = (0..40).map(|i| run(i, i as i64 * 10, "bd ready", 0)).collect();
        let insights = one_by_one(&mut detector, &events)?;
        assert_eq!(insights.len(), 37, "reported at the 4th run, then re-sent with each further run");
        assert_eq!(ids(&insights[0]), vec![0, 1, 2, 3]);
        for (index, insight) in insights.iter().enumerate() {
            let runs = index + 4;
            assert!(insight.message.contains(&format!(" run {runs} times ")), "{}", insight.message);
            assert_eq!(integer(insight, "runs"), Some(runs as i64));
            assert_eq!(ids(insight).len(), runs.min(KEPT_IDS), "its runs, up to what evidence holds");
        }
        assert_eq!(ids(&insights[36]), (0..20).collect::<Vec<u64>>(), "the first runs, however they were batched");
        assert!(insights[2].message.starts_with("`bd ready` was run 6 times in 50s by dev"), "{}", insights[2].message);
        Ok(())
    }

    #[test]
    fn one_batch_sends_one_report_of_a_finding_with_all_its_runs() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let events: Vec<Event> = (0..9).map(|i| run(i, i as i64 * 10, "bd ready", 0)).collect();
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert!(insights[0].message.starts_with("`bd ready` was run 9 times in 80s by dev"), "{}", insights[0].message);
        assert_eq!(ids(&insights[0]).len(), 9);
        assert!(detector.process(&[])?.is_empty(), "nothing changed, nothing re-sent");
        Ok(())
    }

    #[test]
    fn a_burst_ends_with_its_sitting_and_a_later_one_is_another_occasion() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let mut events: Vec<Event> = (0..5).map(|i| run(i, i as i64 * 10, "bd ready", 0)).collect();
        events.extend((5..9).map(|i| run(i, 900 + i as i64 * 10, "bd ready", 0)));
        let insights = one_by_one(&mut detector, &events)?;
        let messages: Vec<&str> = insights.iter().map(|insight| insight.message.as_str()).collect();
        assert_eq!(messages.len(), 3, "4 runs, 5 runs, then the second burst: {messages:#?}");
        assert!(messages[1].starts_with("`bd ready` was run 5 times in 40s by dev"), "{}", messages[1]);
        assert!(messages[2].starts_with("`bd ready` was run 4 times in 30s by dev"), "{}", messages[2]);
        assert_eq!(integer(&insights[2], "occasions"), Some(2));
        assert_eq!(ids(&insights[2]), vec![5, 6, 7, 8]);
        Ok(())
    }

    #[test]
    fn habitual_doubles_and_triples_that_run_together_stay_quiet() -> Result<(), String> {
        // Eight sittings of two or three a day for five days, and on the last day two triples
        // 40 s apart: six runs in one sitting, ordinary for someone whose sittings are this long.
        let mut detector = CommandRepetition::default();
        let mut events = Vec::new();
        let mut id = 0;
        for day in 0..5_i64 {
            for sitting in 0..8_i64 {
                let start = day * 86_400 + 9 * 3_600 + sitting * 3_000;
                for repeat in 0..(2 + (sitting % 2)) {
                    events.push(run(id, start + repeat * 20, "git status", 0));
                    id += 1;
                }
            }
        }
        let start = 5 * 86_400 + 9 * 3_600;
        for repeat in 0..6 {
            events.push(run(id, start + repeat * 20 + if repeat >= 3 { 40 } else { 0 }, "git status", 0));
            id += 1;
        }
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn a_burst_of_a_command_usually_run_once_at_a_time_is_reported() -> Result<(), String> {
        let mut detector = CommandRepetition::default();
        let mut events: Vec<Event> = (0..5).map(|day| run(day, day as i64 * 86_400, "devloop status", 0)).collect();
        events.extend((0..4).map(|i| run(10 + i, 6 * 86_400 + i as i64 * 30, "devloop status", 0)));
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(ids(&insights[0]), vec![10, 11, 12, 13]);
        assert_eq!(insights[0].message, "`devloop status` was run 4 times in 90s by dev");
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

    /// Sittings of two or three `git status` a day for five days from `first_day`.
    fn habit_of_doubles_and_triples(first_day: i64, id: &mut u64) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        for day in first_day..first_day + 5 {
            for sitting in 0..8_i64 {
                let start = day * 86_400 + 9 * 3_600 + sitting * 3_000;
                for repeat in 0..(2 + (sitting % 2)) {
                    events.push(run(*id, start + repeat * 20, "git status", 0));
                    *id += 1;
                }
            }
        }
        events
    }

    #[test]
    fn a_habit_not_run_for_the_horizon_is_judged_as_a_new_command() -> Result<(), String> {
        let mut id = 0;
        let mut events = habit_of_doubles_and_triples(0, &mut id);
        let six_at = |day: i64, id: u64| -> Vec<Event<'static>> {
            (0..6)
                .map(|repeat| run(id + repeat as u64, day * 86_400 + 9 * 3_600 + repeat * 25, "git status", 0))
                .collect()
        };
        events.extend(six_at(20, 1_000));
        events.extend(six_at(20 + 31, 2_000));
        let insights = CommandRepetition::default().process(&events)?;
        assert_eq!(insights.len(), 1, "six in a sitting is their habit within the month, news after it: {insights:#?}");
        assert_eq!(ids(&insights[0]), (2_000..2_006).collect::<Vec<u64>>());
        Ok(())
    }

    #[test]
    fn state_stays_bounded_by_what_people_ran_within_the_horizon() -> Result<(), String> {
        // Twenty weeks: every day a new agent thread runs ten commands of its own, twice, beside
        // one person's everyday habit.
        let mut detector = CommandRepetition::default();
        let mut id = 0;
        let mut sizes = Vec::new();
        for week in 0..20_i64 {
            let mut events = habit_of_doubles_and_triples(week * 7, &mut id);
            for day in week * 7..week * 7 + 7 {
                for command in 0..10_i64 {
                    for repeat in 0..2 {
                        let at = day * 86_400 + 14 * 3_600 + command * 600 + repeat * 30;
                        events.push(
                            Event::at(id, at * 1000, "cli.command")
                                .subject(format!("make target-{day}-{command}"))
                                .thread(format!("T-{day}"))
                                .exit_code(0),
                        );
                        id += 1;
                    }
                }
            }
            events.sort_by_key(|event| event.time_ms);
            detector.process(&events)?;
            let snapshot = detector.snapshot().ok_or("command-repetition keeps state")?;
            let habits: usize = saved_people(&snapshot)?
                .iter()
                .map(|(_, person)| person["habits"].as_array().map_or(0, Vec::len))
                .sum();
            sizes.push((habits, detector.people.len(), snapshot.len()));
        }
        // From the sixth week on, the last 30 days' threads and their commands, and the habit.
        let (habits, people, bytes) = sizes[5];
        assert!(habits <= 31 * 10 + 1 && people <= 31 + 1, "{sizes:?}");
        for (later_habits, later_people, later_bytes) in &sizes[6..] {
            assert!(*later_habits <= habits && *later_people <= people, "keys stop growing: {sizes:?}");
            // Later ids, times and day numbers take more digits; nothing else grows.
            assert!(*later_bytes <= bytes + bytes / 10, "the snapshot stops growing: {sizes:?}");
        }
        let habit = detector.people.get("dev").and_then(|person| person.habits.get("git status")).ok_or("kept")?;
        assert_eq!(habit.past_sittings + 1, 20 * 5 * 8, "the everyday habit is never forgotten");
        Ok(())
    }

    /// The people of a snapshot, as `(who, person)`.
    fn saved_people(snapshot: &[u8]) -> Result<Vec<(String, serde_json::Value)>, String> {
        let opened = state::Saved::open(snapshot)?;
        let people = opened.state["people"].as_array().ok_or("a list of pairs")?;
        Ok(people.iter().map(|pair| (pair[0].as_str().unwrap_or_default().to_owned(), pair[1].clone())).collect())
    }

    #[test]
    fn a_format_2_3_or_4_snapshot_goes_on_from_where_it_was() -> Result<(), String> {
        let mut before = CommandRepetition::default();
        let mut events = vec![run(1, 0, "bd ready", 0), run(2, 5, "bd ready", 0), run(3, 7, "bd ready", 0)];
        events.push(Event::at(4, 8_000, "cli.command").subject("git status".to_owned()).thread("T-1").exit_code(0));
        before.process(&events)?;
        let saved = before.snapshot().ok_or("command-repetition supports snapshots")?;
        // Format 4 kept every habit in one list of `[[command, person], habit]` beside the
        // people; format 3 that with the people as an object, and format 2 that without
        // `swept_ms`.
        let mut opened = state::Saved::open(&saved)?;
        assert_eq!(opened.format, 5);
        let mut habits = Vec::new();
        let mut people = serde_json::Map::new();
        for (who, mut person) in saved_people(&saved)? {
            let person_habits = person.as_object_mut().and_then(|person| person.remove("habits")).ok_or("habits")?;
            for pair in person_habits.as_array().ok_or("a list of pairs")? {
                habits.push(serde_json::json!([[pair[0], who], pair[1]]));
            }
            people.insert(who, person);
        }
        assert_eq!((habits.len(), people.len()), (2, 2));
        let state = opened.state.as_object_mut().ok_or("an object")?;
        state.insert("habits".to_owned(), habits.into());
        state
            .insert("people".to_owned(), people.iter().map(|(who, person)| serde_json::json!([who, person])).collect());
        let format_4 = state::save_versioned(4, &opened.state).ok_or("serializable")?;
        let state = opened.state.as_object_mut().ok_or("an object")?;
        state.insert("people".to_owned(), people.into());
        let format_3 = state::save_versioned(3, &opened.state).ok_or("serializable")?;
        opened.state.as_object_mut().ok_or("an object")?.remove("swept_ms").ok_or("kept")?;
        let format_2 = state::save_versioned(2, &opened.state).ok_or("serializable")?;
        for earlier in [format_4, format_3, format_2] {
            let mut after = CommandRepetition::default();
            after.restore(&earlier)?;
            assert_eq!(after.snapshot().as_ref(), Some(&saved), "read as it was saved");
            assert_eq!(after.process(&[run(5, 9, "bd ready", 0)])?.len(), 1, "the fourth run completes the burst");
        }
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
        assert_eq!(insights.len(), 2, "one batch keeps each occasion's report, and so its evidence");
        assert_eq!(insights[0].key, insights[1].key);
        assert_eq!((ids(&insights[0]), ids(&insights[1])), (vec![0, 1, 2, 3], vec![4, 5, 6, 7]));
        assert!(insights[1].confidence > insights[0].confidence);
        Ok(())
    }

    #[test]
    fn a_sittings_runs_are_saved_and_read_as_the_list_they_are() -> Result<(), serde_json::Error> {
        for (list, count) in [("[]", 0), ("[[5000,7]]", 1), ("[[5000,7],[6000,8],[7000,9]]", 3)] {
            let runs: Runs = serde_json::from_str(list)?;
            assert_eq!(runs.as_slice().len(), count, "{list}");
            assert_eq!(serde_json::to_string(&runs)?, list);
        }
        let mut runs = Runs::default();
        for run in [(1, 10), (2, 20), (3, 30)] {
            runs.push(run);
        }
        assert_eq!(runs.as_slice(), [(1, 10), (2, 20), (3, 30)]);
        Ok(())
    }
}
