//! `command_correlation`: command A is reliably followed by command B, by the same person,
//! within a short time — a candidate for a combined command, a flag, or a hook.
//!
//! Every successful command opens a window of `window_seconds`; each distinct different command
//! that succeeds inside it counts once as a follower. A pair is reported when it happened
//! `min_support` times, B followed at least `min_confidence` of A's runs (that share is the
//! insight's confidence), and B is `min_lift` times likelier after A than after the other
//! commands (neither A nor B) — so a command people run after everything (`status`) is never
//! "correlated" with anything. The other commands are everyone's, and also the pair's own
//! people's: one person's habit of running `git status` after whatever they ran is theirs,
//! however rarely the others run it. A habit kept all day is also known by its pace, before
//! a person's runs of other commands add up: B's runs apart from the pair over the time its
//! people were at work, as the runs it puts in a window, is a base rate too.
//! Failed runs are left to `failure_workaround` and `command_rerun`. Commands are grouped with
//! whitespace collapsed and shown as logged; a finding is re-sent only when its support grew.
//!
//! The work per command is bounded by its window, never by history: the runs a command
//! follows for the first time are exactly those since its own last run in the window (each
//! run before that was followed by it already), and the median gap of a pair is that of its
//! last 100 follows, kept sorted, so neither is found by a search over what was seen.
//!
//! The state is bounded by the commands of the last `forget_after_days`: a command or pair not
//! run for that long is forgotten (its counts start again from zero if it comes back, as a new
//! one's would), and a sweep once a day of event time drops what was forgotten, as well as
//! people's runs that slid out of their window. The reported pairs' last reports are kept, so
//! a finding is re-sent only when it changed.

mod gaps;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state::{Saved, as_pairs};
use devloop_plugin_sdk::text::command_key;
use serde::{Deserialize, Serialize};

use gaps::Gaps;

pub const PATTERN: &str = "command_correlation";

/// A run in a person's window. (Format 1 also kept the commands that followed it; they are
/// the commands run after it in the window, so a format-1 snapshot reads into this as is.)
#[derive(Debug, Serialize, Deserialize)]
struct Run {
    command: String,
    id: u64,
    time_ms: i64,
}

const DAY_MS: i64 = 86_400_000;

/// A pair: its last gaps, and when B last followed A.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pair {
    support: u64,
    gaps_ms: Gaps,
    people: BTreeSet<String>,
    /// The runs of its follows not yet named by a report: each report names the new ones, and
    /// the host's union of every report's evidence is every follow (at most
    /// [`MAX_UNREPORTED_EVENTS`] of them before a pair is first reported).
    events: Vec<(u64, i64)>,
    last_ms: i64,
}

/// Runs a pair keeps to name in its next report: 64 follows, so that a pair that stays under
/// the thresholds for months holds bounded state.
const MAX_UNREPORTED_EVENTS: usize = 128;

/// A command: its runs, the runs that followed another command in its window, and its last run.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Command {
    runs: u64,
    followed_by: u64,
    last_ms: i64,
}

/// A person's runs, and per command its runs and how many of their other runs it followed
/// within the window: the base rate of a follower for the people who ran a pair.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Person {
    runs: u64,
    followed_by: KeyMap<String, Command>,
    last_ms: i64,
    /// The time between their runs, each gap counted up to [`BUSY_GAP_MS`]: how long they were
    /// at work, over which a command of theirs has its pace (format 5, later).
    #[serde(default)]
    busy_ms: i64,
}

/// A gap between two runs longer than this is a break: it counts this much of work.
const BUSY_GAP_MS: i64 = 30 * 60 * 1000;

impl Person {
    /// Counts a run of `command` that followed `follows` of this person's runs in the window.
    fn ran(&mut self, command: &str, follows: usize, now_ms: i64, forget_ms: i64) {
        if self.runs > 0 {
            self.busy_ms += (now_ms - self.last_ms).clamp(0, BUSY_GAP_MS);
        }
        self.runs += 1;
        self.last_ms = now_ms;
        count_run(&mut self.followed_by, command, follows, now_ms, forget_ms);
    }
}

/// Counts a run of `command` in `commands` (everyone's or a person's) that followed `follows`
/// runs in the window.
fn count_run(commands: &mut KeyMap<String, Command>, command: &str, follows: usize, now_ms: i64, forget_ms: i64) {
    let counts = match commands.get_mut(command) {
        Some(counts) => counts,
        None => commands.entry(command.to_owned()).or_default(),
    }
    .seen(now_ms, forget_ms);
    counts.runs += 1;
    counts.followed_by += follows as u64;
    counts.last_ms = now_ms;
}

/// Something counted until it is not seen for the forgetting horizon.
trait Forgettable: Default {
    fn last_ms(&self) -> i64;

    /// Starts it again from zero if it was last seen more than `forget_ms` before `now_ms`.
    fn seen(&mut self, now_ms: i64, forget_ms: i64) -> &mut Self {
        if now_ms - self.last_ms() > forget_ms {
            *self = Self::default();
        }
        self
    }
}

impl Forgettable for Pair {
    fn last_ms(&self) -> i64 {
        self.last_ms
    }
}

impl Forgettable for Command {
    fn last_ms(&self) -> i64 {
        self.last_ms
    }
}

impl Forgettable for Person {
    fn last_ms(&self) -> i64 {
        self.last_ms
    }
}

/// Runs of everyone's rate a person's own rate starts from: a person's own rate counts once
/// they have run about a day's commands, and a person who just came (or came back) is judged
/// by everyone's until then.
const PRIOR_RUNS: f64 = 50.0;

/// How often a command follows any run: everyone's, and the people's of a pair.
struct BaseRates<'s> {
    commands: &'s KeyMap<String, Command>,
    total_runs: u64,
    people: &'s KeyMap<String, Person>,
    window_ms: i64,
}

impl BaseRates<'_> {
    /// How often `then` follows the runs of commands other than `first` (the lift is how much
    /// likelier it is after `first`) and other than itself (a command does not follow itself:
    /// someone who runs `git status` all day has few other runs, and it follows many of them):
    /// everyone's rate, or that of `people` (who ran the pair, starting from [`PRIOR_RUNS`] at
    /// everyone's rate), or the chance that their pace of running `then` apart from the pair
    /// puts a run in any window of theirs, whichever is highest. `support` is how often it
    /// followed `first`. The pace tells a habit kept all day (`git status` every few minutes)
    /// from the start, when a person's few runs of other commands cannot.
    fn of(&self, (first, then): (&str, &str), support: u64, people: &BTreeSet<String>) -> f64 {
        // `then`'s runs and the runs it followed, and `first`'s runs, in `commands`.
        let counts = |commands: &KeyMap<String, Command>| {
            let then = commands.get(then).map_or((0, 0), |command| (command.runs, command.followed_by));
            (then, commands.get(first).map_or(0, |command| command.runs))
        };
        let ((then_runs, followed), first_runs) = counts(self.commands);
        let others = self.total_runs.saturating_sub(then_runs + first_runs);
        let everyone = followed.saturating_sub(support) as f64 / others.max(1) as f64;
        let (mut followed, mut others, mut runs_of_then, mut busy_ms) = (0, 0, 0, 0);
        for person in people.iter().filter_map(|who| self.people.get(who.as_str())) {
            let ((then_runs, then_followed), first_runs) = counts(&person.followed_by);
            followed += then_followed;
            others += person.runs.saturating_sub(then_runs + first_runs);
            runs_of_then += then_runs;
            busy_ms += person.busy_ms;
        }
        let followed = followed.saturating_sub(support);
        let own = (followed as f64 + PRIOR_RUNS * everyone) / (others as f64 + PRIOR_RUNS);
        // Runs expected in a window at that pace: the chance of one for a habit kept at an even
        // pace (a tic), and never below it for any other.
        let per_ms = runs_of_then.saturating_sub(support) as f64 / busy_ms.max(self.window_ms) as f64;
        let paced = (per_ms * self.window_ms as f64).min(1.0);
        everyone.max(own).max(paced)
    }
}

/// A pair as formats 1 and 2 saved it: every gap it ever had, in no order.
#[derive(Deserialize)]
struct PairFormat2 {
    support: u64,
    gaps_ms: Vec<i64>,
    people: BTreeSet<String>,
    events: Vec<(u64, i64)>,
}

/// The state as formats 1 and 2 saved it (format 1's runs also listed their followers, which
/// are left out): counts kept forever, every gap of every pair.
#[derive(Deserialize)]
struct Format2 {
    recent: BTreeMap<String, VecDeque<Run>>,
    runs: BTreeMap<String, u64>,
    total_runs: u64,
    followed_by: BTreeMap<String, u64>,
    #[serde(with = "as_pairs")]
    pairs: BTreeMap<(String, String), PairFormat2>,
    reported: LastReported<(String, String)>,
}

pub struct CommandCorrelation {
    thresholds: Thresholds,
    forget_ms: i64,
    recent: KeyMap<String, VecDeque<Run>>,
    commands: KeyMap<String, Command>,
    total_runs: u64,
    people: KeyMap<String, Person>,
    pairs: KeyMap<(String, String), Pair>,
    reported: LastReported<(String, String)>,
    /// When what was forgotten was last swept away.
    swept_ms: i64,
    /// The key of the pair a follow is about, kept so that finding a pair allocates nothing.
    pair_key: (String, String),
}

impl Default for CommandCorrelation {
    fn default() -> Self {
        CommandCorrelation {
            thresholds: Thresholds { window_ms: 120_000, min_support: 5, min_confidence: 0.7, min_lift: 3.0 },
            forget_ms: 30 * DAY_MS,
            recent: KeyMap::default(),
            commands: KeyMap::default(),
            total_runs: 0,
            people: KeyMap::default(),
            pairs: KeyMap::default(),
            reported: LastReported::new(),
            swept_ms: 0,
            pair_key: Default::default(),
        }
    }
}

/// The settings a report is judged by, apart from the state so that both can be borrowed.
struct Thresholds {
    window_ms: i64,
    min_support: u64,
    min_confidence: f64,
    min_lift: f64,
}

impl Thresholds {
    /// Reports the pair `first` → `then` if it passes the thresholds and its report changed.
    fn report(
        &self,
        (first, then): (&str, &str),
        pair: &mut Pair,
        rates: &BaseRates<'_>,
        reported: &mut LastReported<(String, String)>,
        time_ms: i64,
        out: &mut Vec<Insight>,
    ) {
        let runs = rates.commands.get(first).map_or(0, |command| command.runs).max(pair.support);
        let share = pair.support as f64 / runs as f64;
        if pair.support < self.min_support || share < self.min_confidence {
            return;
        }
        // Only a pair that passed the cheap thresholds looks up its people's base rates.
        let lift = share / rates.of((first, then), pair.support, &pair.people).max(1e-3);
        if lift < self.min_lift {
            return;
        }
        let median_gap_seconds = pair.gaps_ms.median().unwrap_or(0) as f64 / 1000.0;
        let mut insight = Insight::new(PATTERN, insight_key(&[first, then]))
            .severity(Severity::Info)
            .confidence(share)
            .message(format!(
                "`{first}` is followed by `{then}` within {window} s in {support} of {runs} runs ({percent:.0}%, {lift:.0}× more often than after other commands)",
                window = self.window_ms / 1000,
                support = pair.support,
                percent = share * 100.0,
            ))
            .recommendation(format!(
                "People run `{then}` right after `{first}` almost every time: offer it as one step (a flag on \
                 `{first}`, a combined command) or a hook that runs `{then}` after `{first}`."
            ))
            .evidence("first_command", first)
            .evidence("then_command", then)
            .evidence("support", pair.support)
            .evidence("runs_of_first", runs)
            .evidence("share", (share * 1000.0).round() / 1000.0)
            .evidence("lift", (lift * 10.0).round() / 10.0)
            .evidence("median_gap_seconds", median_gap_seconds)
            .evidence("people", pair.people.iter().cloned().collect::<Vec<_>>());
        for (id, time) in &pair.events {
            insight = insight.event_id(*id, *time);
        }
        let insight = insight.at(time_ms);
        if reported.changed((first.to_owned(), then.to_owned()), &insight) {
            pair.events.clear();
            out.push(insight);
        }
    }
}

impl CommandCorrelation {
    /// Once a day of event time, drops the commands and pairs not seen within the horizon
    /// (which would start from zero if seen again) and the runs that slid out of people's
    /// windows: memory only, never a finding, and a run in pieces sweeps where one run does.
    fn sweep(&mut self, now_ms: i64) {
        if now_ms - self.swept_ms < DAY_MS {
            return;
        }
        self.swept_ms = now_ms;
        let (forget_ms, window_ms) = (self.forget_ms, self.thresholds.window_ms);
        self.commands.retain(|_, command| now_ms - command.last_ms <= forget_ms);
        self.people.retain(|_, person| {
            person.followed_by.retain(|_, command| now_ms - command.last_ms <= forget_ms);
            now_ms - person.last_ms <= forget_ms
        });
        self.pairs.retain(|_, pair| now_ms - pair.last_ms <= forget_ms);
        self.recent.retain(|_, runs| {
            while runs.front().is_some_and(|run| now_ms - run.time_ms > window_ms) {
                runs.pop_front();
            }
            !runs.is_empty()
        });
    }
}

impl Detector for CommandCorrelation {
    fn info() -> DetectorInfo {
        DetectorInfo::new("command-correlation", env!("CARGO_PKG_VERSION"))
            .fields([] as [&str; 0])
            .pattern(PATTERN)
            .kinds(["cli.command"])
            .setting(
                "window_seconds",
                120_i64,
                "How soon after A command B must run to count as following it. Default 120: the next step of \
                 one task, typed right after.",
            )
            .setting(
                "min_support",
                5_i64,
                "Times B must have followed A. Default 5: enough repetitions that a combined step would save \
                 real typing.",
            )
            .setting(
                "min_confidence",
                0.7,
                "Share of A's runs B must follow (the confidence). Default 0.7: B is the usual next step, not an \
                 occasional one.",
            )
            .setting(
                "min_lift",
                3.0,
                "How many times likelier B must be after A than after other commands, everyone's and the pair's \
                 own people's. Default 3: commands people run after everything (`status`), or one person does, stay \
                 near 1.",
            )
            .setting(
                "forget_after_days",
                30_i64,
                "Days after which a command or pair not run is forgotten (its counts start again if it comes \
                 back). Default 30: a habit not seen for a month is no longer one, and the state stays bounded \
                 by the commands of the last month.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        let thresholds = &mut self.thresholds;
        thresholds.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        thresholds.min_support = settings.integer_at_least("min_support", 2)? as u64;
        thresholds.min_confidence = settings.float("min_confidence")?;
        thresholds.min_lift = settings.float("min_lift")?;
        self.forget_ms = (settings.integer_at_least("forget_after_days", 1)? * DAY_MS).max(thresholds.window_ms);
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        if !event.succeeded() {
            return Ok(());
        }
        let command = command_key(event.subject_or_empty());
        if command.is_empty() {
            return Ok(());
        }
        self.sweep(event.time_ms);
        let (now_ms, forget_ms, window_ms) = (event.time_ms, self.forget_ms, self.thresholds.window_ms);
        let who = event.actor.as_deref().or(event.thread_id.as_deref()).unwrap_or("");
        let recent = match self.recent.get_mut(who) {
            Some(recent) => recent,
            None => self.recent.entry(who.to_owned()).or_default(),
        };
        while recent.front().is_some_and(|run| now_ms - run.time_ms > window_ms) {
            recent.pop_front();
        }
        // The runs this command follows for the first time: those since its own last run.
        let since = recent.iter().rposition(|run| run.command == command).map_or(0, |last| last + 1);
        count_run(&mut self.commands, &command, recent.len() - since, now_ms, forget_ms);
        self.total_runs += 1;
        let person = match self.people.get_mut(who) {
            Some(person) => person,
            None => self.people.entry(who.to_owned()).or_default(),
        }
        .seen(now_ms, forget_ms);
        person.ran(&command, recent.len() - since, now_ms, forget_ms);
        let rates =
            BaseRates { commands: &self.commands, total_runs: self.total_runs, people: &self.people, window_ms };
        for run in recent.range(since..) {
            devloop_plugin_sdk::assign(&mut self.pair_key.0, &run.command);
            devloop_plugin_sdk::assign(&mut self.pair_key.1, &command);
            let pair = match self.pairs.get_mut(&self.pair_key) {
                Some(pair) => pair,
                None => self.pairs.entry(self.pair_key.clone()).or_default(),
            }
            .seen(now_ms, forget_ms);
            pair.support += 1;
            pair.last_ms = now_ms;
            pair.gaps_ms.insert(now_ms - run.time_ms);
            if !pair.people.contains(who) {
                pair.people.insert(who.to_owned());
            }
            if pair.events.len() < MAX_UNREPORTED_EVENTS {
                pair.events.push((run.id, run.time_ms));
                pair.events.push((event.id, now_ms));
            }
            let pair_names = (run.command.as_str(), command.as_ref());
            self.thresholds.report(pair_names, pair, &rates, &mut self.reported, now_ms, out);
        }
        recent.push_back(Run { command: command.into_owned(), id: event.id, time_ms: now_ms });
        Ok(())
    }

    keep_state!(
        format = 5, migrate = CommandCorrelation::migrate;
        recent, commands, total_runs, people, pairs, reported, swept_ms
    );
}

impl CommandCorrelation {
    /// Reads a format-4 snapshot (today's state without the people's own counts, which start
    /// from here: until they add up, a pair is judged against everyone's base rate, as
    /// format 4 judged it), a format-3 one (format 4 with the people's runs and the commands
    /// saved as objects, which a [`KeyMap`] reads as it reads its own list of pairs) or a
    /// format-1 or format-2 one: every gap of a pair becomes the kept gaps around its median (the
    /// median reads the same), and as those formats did not say when a command or pair was last
    /// seen, everything counts as seen at the newest time the snapshot holds.
    fn migrate(&mut self, saved: Saved) -> Result<(), String> {
        if matches!(saved.format, 3 | 4) {
            let format = saved.format;
            return devloop_plugin_sdk::keep_state!(@read self, saved, format;
                recent, commands, total_runs, pairs, reported, swept_ms);
        }
        if !matches!(saved.format, 1 | 2) {
            return Err(saved.unconvertible());
        }
        let state: Format2 = saved.read_any()?;
        let newest_ms = (state.recent.values().flatten().map(|run| run.time_ms))
            .chain(state.pairs.values().flat_map(|pair| pair.events.iter().map(|(_, time_ms)| *time_ms)))
            .max()
            .unwrap_or(0);
        let mut commands: BTreeMap<String, Command> = BTreeMap::new();
        for (command, runs) in state.runs {
            commands.entry(command).or_default().runs = runs;
        }
        for (command, followed_by) in state.followed_by {
            commands.entry(command).or_default().followed_by = followed_by;
        }
        for command in commands.values_mut() {
            command.last_ms = newest_ms;
        }
        let pairs = state.pairs.into_iter().map(|(key, pair)| {
            let PairFormat2 { support, gaps_ms, people, events } = pair;
            (key, Pair { support, gaps_ms: Gaps::from_every_gap(gaps_ms), people, events, last_ms: newest_ms })
        });
        self.recent = state.recent.into_iter().collect();
        self.commands = commands.into_iter().collect();
        self.total_runs = state.total_runs;
        self.pairs = pairs.collect();
        self.reported = state.reported;
        self.swept_ms = newest_ms;
        Ok(())
    }
}

export_detector!(CommandCorrelation);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str) -> Event<'static> {
        Event::at(id, seconds * 1000, "cli.command").subject(command.to_owned()).actor("dev").exit_code(0)
    }

    /// A successful run of `command` by `who`.
    fn by(who: &str, id: u64, seconds: i64, command: &str) -> Event<'static> {
        run(id, seconds, command).actor(who.to_owned())
    }

    /// People's successful runs, each with an id of its own, handed out in time order.
    #[derive(Default)]
    struct Runs(Vec<Event<'static>>);

    impl Runs {
        fn add(&mut self, who: &str, seconds: i64, command: &str) {
            let id = self.0.len() as u64 + 1;
            self.0.push(by(who, id, seconds, command));
        }

        fn in_order(mut self) -> Vec<Event<'static>> {
            self.0.sort_by_key(|event| event.time_ms);
            self.0
        }
    }

    /// Commands in a pseudo-random order (a fixed-seed LCG), `status` the most common.
    fn background(count: u64) -> Vec<Event<'static>> {
        let commands = ["status", "bd ready", "status", "insights list", "doctor", "status", "watch ."];
        let mut state: u64 = 42;
        let mut next = || {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            state >> 33
        };
        let mut time = 0;
        (0..count)
            .map(|index| {
                time += 20 + (next() % 100) as i64;
                run(10_000 + index, time, commands[(next() % 7) as usize])
            })
            .collect()
    }

    #[test]
    fn a_reliable_follower_is_reported_with_its_share_as_confidence() -> Result<(), String> {
        let mut detector = CommandCorrelation::default();
        let mut events = background(400);
        for index in 0..8_i64 {
            events.push(run(index as u64 * 2, 30_000 + index * 3_600, "bd sync"));
            events.push(run(index as u64 * 2 + 1, 30_000 + index * 3_600 + 20, "bd ready"));
        }
        events.sort_by_key(|event| event.time_ms);
        let insights = detector.process(&events)?;
        assert!(!insights.is_empty());
        assert!(insights.iter().all(|insight| insight.key == "bd sync\u{1f}bd ready"), "{insights:#?}");
        assert!(insights[0].message.contains("`bd sync` is followed by `bd ready`"));
        assert!(insights[0].confidence >= 0.7);
        Ok(())
    }

    /// Every report names the follows since the one before, so together they name every run
    /// of every follow, however many there were, and no report names one twice.
    #[test]
    fn the_reports_of_a_pair_together_name_every_follow_once() -> Result<(), String> {
        let mut detector = CommandCorrelation::default();
        let mut events = background(400);
        let follows = 40_u64;
        for index in 0..follows {
            events.push(run(index * 2, 30_000 + index as i64 * 3_600, "bd sync"));
            events.push(run(index * 2 + 1, 30_000 + index as i64 * 3_600 + 20, "bd ready"));
        }
        events.sort_by_key(|event| event.time_ms);
        let insights = detector.process(&events)?;
        let mut named: Vec<u64> = insights.iter().flat_map(|insight| insight.evidence.event_ids.clone()).collect();
        let reports = named.len();
        named.sort_unstable();
        named.dedup();
        assert_eq!(named.len(), reports, "no run named twice");
        assert_eq!(named, (0..follows * 2).collect::<Vec<_>>());
        assert!(insights.len() > 1, "kept current as the follows go on");
        Ok(())
    }

    fn evidence<'a>(insight: &'a Insight, name: &str) -> Option<&'a Value> {
        insight.evidence.fields.iter().find(|field| field.key == name).map(|field| &field.value)
    }

    #[test]
    fn a_format_1_snapshot_with_every_gap_listed_goes_on_from_where_it_was() -> Result<(), String> {
        let saved = r#"{"format": 1, "state": {
            "recent": {"dev": [{"command": "bd sync", "id": 9, "time_ms": 1000000, "followers": []}]},
            "runs": {"bd sync": 5, "bd ready": 4, "status": 91},
            "total_runs": 100,
            "followed_by": {"bd ready": 4, "status": 40},
            "pairs": [[["bd sync", "bd ready"],
                {"support": 4, "gaps_ms": [20000, 10000, 30000, 20000], "people": ["dev"], "events": [[1, 0], [2, 20000]]}]],
            "reported": {"reported": []}
        }}"#;
        let mut detector = CommandCorrelation::default();
        detector.restore(saved.as_bytes())?;
        let insights = detector.process(&[run(10, 1_040, "bd ready"), run(11, 1_041, "status")])?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(insights[0].key, "bd sync\u{1f}bd ready");
        let support = evidence(&insights[0], "support");
        assert!(matches!(support, Some(Value::Integer(5))), "{support:?}");
        let gap = evidence(&insights[0], "median_gap_seconds");
        assert!(matches!(gap, Some(Value::Float(seconds)) if *seconds == 20.0), "10 20 20 30 40 s: {gap:?}");
        Ok(())
    }

    #[test]
    fn a_format_2_snapshot_keeps_the_median_of_every_gap_and_the_counts() -> Result<(), String> {
        // 301 gaps of 1 to 301 s, in the order format 2's two heaps listed them (none).
        let gaps: Vec<String> = (0..301_i64).map(|index| ((index * 37) % 301 + 1).to_string() + "000").collect();
        let saved = format!(
            r#"{{"format": 2, "state": {{
            "recent": {{"dev": [{{"command": "bd sync", "id": 9, "time_ms": 9000000}}]}},
            "runs": {{"bd sync": 320, "bd ready": 301, "status": 400}},
            "total_runs": 1021,
            "followed_by": {{"bd ready": 301, "status": 300}},
            "pairs": [[["bd sync", "bd ready"],
                {{"support": 301, "gaps_ms": [{gaps}], "people": ["dev"], "events": [[1, 0], [2, 20000]]}}]],
            "reported": {{"reported": []}}
        }}}}"#,
            gaps = gaps.join(", ")
        );
        let mut detector = CommandCorrelation::default();
        detector.restore(saved.as_bytes())?;
        let pair = &detector.pairs[&("bd sync".to_owned(), "bd ready".to_owned())];
        assert_eq!((pair.support, pair.last_ms), (301, 9_000_000), "seen at the newest time the snapshot holds");
        assert_eq!(pair.gaps_ms.median(), Some(151_000), "the median of every gap");
        assert_eq!(detector.commands["bd sync"].runs, 320);
        assert_eq!(detector.commands["status"].followed_by, 300);
        let insights = detector.process(&[run(10, 9_100, "bd ready")])?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert!(matches!(evidence(&insights[0], "support"), Some(Value::Integer(302))));
        assert!(
            matches!(evidence(&insights[0], "median_gap_seconds"), Some(Value::Float(seconds)) if *seconds == 151.0)
        );
        let saved = detector.snapshot().ok_or("command-correlation keeps state")?;
        assert!(String::from_utf8_lossy(&saved).starts_with(r#"{"format":5"#));
        Ok(())
    }

    #[test]
    fn a_format_3_snapshot_with_its_maps_as_objects_goes_on_from_where_it_was() -> Result<(), String> {
        let mut events = background(400);
        for index in 0..8_i64 {
            events.push(run(index as u64 * 2, 30_000 + index * 3_600, "bd sync"));
            events.push(run(index as u64 * 2 + 1, 30_000 + index * 3_600 + 20, "bd ready"));
        }
        let (first, rest) = events.split_at(406);
        let mut before = CommandCorrelation::default();
        assert!(before.process(first)?.is_empty(), "three follows are under min_support");
        let saved = before.snapshot().ok_or("command-correlation keeps state")?;
        let mut opened = Saved::open(&saved)?;
        let state = opened.state.as_object_mut().ok_or("an object")?;
        for map in ["recent", "commands"] {
            let pairs = state[map].as_array().ok_or("a list of pairs")?.clone();
            let object: serde_json::Map<String, serde_json::Value> = pairs
                .into_iter()
                .map(|pair| (pair[0].as_str().unwrap_or_default().to_owned(), pair[1].clone()))
                .collect();
            state.insert(map.to_owned(), object.into());
        }
        let format_3 = devloop_plugin_sdk::state::save_versioned(3, &opened.state).ok_or("serializable")?;
        let mut after = CommandCorrelation::default();
        after.restore(&format_3)?;
        assert_eq!(after.commands["bd sync"].runs, 3);
        let (going_on, restored) = (before.process(rest)?, after.process(rest)?);
        assert!(!going_on.is_empty(), "the pair is reported once it has five follows");
        // Format 3 had no people's own counts: they start at the restore, so the lift may read
        // differently until they add up; the counts are those of a run that never stopped.
        let counts = |insights: &[Insight]| {
            insights
                .iter()
                .map(|insight| insight.message.split(" (").next().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(counts(&restored), counts(&going_on));
        Ok(())
    }

    #[test]
    fn a_format_4_snapshot_without_the_people_counts_goes_on_from_where_it_was() -> Result<(), String> {
        let mut before = CommandCorrelation::default();
        before.process(&background(400))?;
        let mut opened = Saved::open(&before.snapshot().ok_or("command-correlation keeps state")?)?;
        opened.state.as_object_mut().ok_or("an object")?.remove("people").ok_or("format 5 keeps the people")?;
        let format_4 = devloop_plugin_sdk::state::save_versioned(4, &opened.state).ok_or("serializable")?;
        let mut after = CommandCorrelation::default();
        after.restore(&format_4)?;
        assert_eq!(
            (after.total_runs, after.commands["status"].runs),
            (before.total_runs, before.commands["status"].runs)
        );
        assert!(after.people.is_empty(), "the people's own counts start from the restore");
        Ok(())
    }

    #[test]
    fn a_pair_not_seen_for_the_horizon_starts_again_from_zero() -> Result<(), String> {
        let mut detector = CommandCorrelation::default();
        let mut events = background(400);
        let follows = |first_id: u64, start: i64, count: i64, gap: i64| {
            (0..count).flat_map(move |index| {
                let at = start + index * 3_600;
                [
                    run(first_id + index as u64 * 2, at, "bd sync"),
                    run(first_id + index as u64 * 2 + 1, at + gap, "bd ready"),
                ]
            })
        };
        events.extend(follows(0, 30_000, 6, 20));
        let later = 31 * 86_400;
        events.extend(follows(100, later, 9, 30));
        let insights = detector.process(&events)?;
        let last = insights.last().ok_or("reported")?;
        assert!(
            last.message.contains("in 9 of 9 runs"),
            "a month later it is counted from its return: {}",
            last.message
        );
        assert!(matches!(evidence(last, "median_gap_seconds"), Some(Value::Float(seconds)) if *seconds == 30.0));
        assert_eq!(detector.commands["bd sync"].runs, 9);
        Ok(())
    }

    #[test]
    fn state_stays_bounded_by_the_commands_of_the_horizon() -> Result<(), String> {
        // Twenty weeks of one person: every day eight commands of its own (a new vocabulary
        // daily), each run in a chain through the day, beside a pair followed every hour.
        let mut detector = CommandCorrelation::default();
        let mut id = 0;
        let mut sizes = Vec::new();
        for day in 0..140_i64 {
            let mut events = Vec::new();
            for hour in 0..10 {
                let start = day * 86_400 + 8 * 3_600 + hour * 3_600;
                events.push(run(id, start, "bd sync"));
                events.push(run(id + 1, start + (hour % 7) * 5 + 10, "bd ready"));
                id += 2;
                for step in 0..8_i64 {
                    events.push(run(id, start + 600 + step * 30, &format!("task-{day}-{} --step {step}", hour % 3)));
                    id += 1;
                }
            }
            detector.process(&events)?;
            if day % 28 == 27 {
                let snapshot = detector.snapshot().ok_or("command-correlation keeps state")?;
                sizes.push((detector.commands.len(), detector.pairs.len(), snapshot.len()));
            }
        }
        let pair = &detector.pairs[&("bd sync".to_owned(), "bd ready".to_owned())];
        assert_eq!(pair.support, 1_400, "the pair seen every day is never forgotten");
        assert_eq!(pair.gaps_ms.median(), Some(20_000), "10 to 40 s, 20 s the middle of the last 100");
        // From the second month on, the last 30 days' commands (24 a day, and the pair's two).
        let (commands, pairs, bytes) = sizes[1];
        assert!(commands <= 31 * 24 + 2, "{sizes:?}");
        for (later_commands, later_pairs, later_bytes) in &sizes[2..] {
            assert!(*later_commands <= commands, "commands stop growing: {sizes:?}");
            assert!(*later_pairs <= pairs, "pairs stop growing: {sizes:?}");
            // Later ids, times and day numbers take more digits; nothing else grows.
            assert!(*later_bytes <= bytes + bytes / 10, "the snapshot stops growing: {sizes:?}");
        }
        Ok(())
    }

    #[test]
    fn a_habit_kept_all_day_is_no_pair_even_when_it_followed_a_command_by_chance_at_first() -> Result<(), String> {
        let mut state: u64 = 11;
        let mut next = |below: u64| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % below
        };
        let mut runs = Runs::default();
        let (mut checks, day) = (0, 86_400_i64);
        for day_start in (0..10).map(|index| index * day) {
            // rin's `git status` every three to eight minutes of her eight hours at work.
            let mut at = day_start + 60;
            while at < day_start + 8 * 3_600 {
                runs.add("rin", at, "git status");
                at += 180 + next(300) as i64;
            }
            // `make check` four times a day; five of its first seven runs happen to have the
            // habit within the minute after them, later ones as often as anything else does.
            for slot in 0..4_i64 {
                let at = day_start + 1_000 + slot * 6_500 + next(600) as i64;
                runs.add("rin", at, "make check");
                checks += 1;
                if checks <= 7 && checks != 3 && checks != 6 {
                    runs.add("rin", at + 50, "git status");
                }
            }
            // A real pair: `cargo check -p api` half a minute after each `make proto`.
            for slot in 0..3_i64 {
                let at = day_start + 2_200 + slot * 8_000 + next(600) as i64;
                runs.add("rin", at, "make proto");
                runs.add("rin", at + 30, "cargo check -p api");
            }
            // sam runs other commands all day, never `git status`.
            let others = ["uv run pytest", "uv sync", "git log", "bd ready", "ruff check", "npm test"];
            for index in 0..150_i64 {
                runs.add("sam", day_start + 90 + index * 190, others[next(others.len() as u64) as usize]);
            }
        }
        let insights = CommandCorrelation::default().process(&runs.in_order())?;
        let keys: BTreeSet<&str> = insights.iter().map(|insight| insight.key.as_str()).collect();
        assert!(!keys.contains("make check\u{1f}git status"), "rin's habit, not the pair's: {keys:?}");
        assert!(keys.contains("make proto\u{1f}cargo check -p api"), "{keys:?}");
        Ok(())
    }

    #[test]
    fn a_habit_kept_at_an_even_pace_is_as_likely_in_a_window_as_the_window_is_long() -> Result<(), String> {
        // rin's `git status` every five minutes on the dot: a two-minute window after anything
        // holds one 40% of the time (an uneven pace of the same rate would, 33% of the time).
        // `make check`, once a day, happens to come a minute before one each time.
        let mut runs = Runs::default();
        let mine = ["cargo build", "cargo test", "git diff", "cargo run", "cargo doc"];
        let theirs = ["uv run pytest", "uv sync", "git log", "bd ready", "ruff check", "npm test"];
        for day_start in (0..10).map(|index| index * 86_400_i64) {
            for tic in 0..96_i64 {
                runs.add("rin", day_start + tic * 300, "git status");
            }
            runs.add("rin", day_start + 7_200 - 60, "make check");
            for index in 0..12_i64 {
                runs.add("rin", day_start + 137 + index * 2_377, mine[index as usize % mine.len()]);
            }
            for index in 0..150_i64 {
                runs.add("sam", day_start + 90 + index * 190, theirs[index as usize % theirs.len()]);
            }
        }
        let insights = CommandCorrelation::default().process(&runs.in_order())?;
        let keys: BTreeSet<&str> = insights.iter().map(|insight| insight.key.as_str()).collect();
        assert!(!keys.contains("make check\u{1f}git status"), "rin's habit, at most 2.5x: {insights:#?}");
        Ok(())
    }

    #[test]
    fn a_follower_one_person_runs_after_everything_is_judged_against_their_own_habit() -> Result<(), String> {
        let mut events = Vec::new();
        // rin runs `git status` every fourth minute whatever she is doing, so it follows a third
        // of her commands; `make check` is one of them, 5 of its 7 runs right before one. And
        // `cargo fmt` is always followed by `cargo clippy` half a minute later: a real pair.
        let rin = ["cargo build", "cargo test", "git diff", "cargo run"];
        let (mut checks, mut formats) = (0, 0);
        for index in 0..600_i64 {
            let at = index * 80;
            let command = match index % 3 {
                2 => "git status",
                1 if checks < 5 && index % 120 == 1 => {
                    checks += 1;
                    "make check"
                }
                0 if index % 100 == 30 => "make check",
                0 if formats < 15 && index % 30 == 0 => {
                    formats += 1;
                    events.push(by("rin", 1_000_000 + index as u64, at + 30, "cargo clippy"));
                    "cargo fmt"
                }
                _ => rin[index as usize % rin.len()],
            };
            events.push(by("rin", index as u64, at, command));
        }
        // sam and theo run five times as many commands, in no fixed order, and never `git status`.
        let others =
            ["uv run pytest", "uv sync", "git log", "bd ready", "ruff check", "npm test", "npm run build", "git pull"];
        let mut state: u64 = 7;
        for index in 0..3_000_u64 {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let who = if index % 2 == 0 { "sam" } else { "theo" };
            events.push(by(who, 2_000_000 + index, index as i64 * 16, others[(state >> 33) as usize % others.len()]));
        }
        events.sort_by_key(|event| event.time_ms);
        let insights = CommandCorrelation::default().process(&events)?;
        let keys: BTreeSet<&str> = insights.iter().map(|insight| insight.key.as_str()).collect();
        assert!(!keys.contains("make check\u{1f}git status"), "rin's habit, not the pair's: {keys:?}");
        assert!(keys.contains("cargo fmt\u{1f}cargo clippy"), "{keys:?}");
        Ok(())
    }

    #[test]
    fn frequent_commands_and_interleaved_noise_stay_quiet() -> Result<(), String> {
        let mut detector = CommandCorrelation::default();
        let insights = detector.process(&background(2_000))?;
        assert!(insights.is_empty(), "{:#?}", insights.iter().map(|insight| &insight.message).collect::<Vec<_>>());
        Ok(())
    }
}
