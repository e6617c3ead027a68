//! `command_correlation`: command A is reliably followed by command B, by the same person,
//! within a short time — a candidate for a combined command, a flag, or a hook.
//!
//! Every successful command opens a window of `window_seconds`; each distinct different command
//! that succeeds inside it counts once as a follower. A pair is reported when it happened
//! `min_support` times, B followed at least `min_confidence` of A's runs (that share is the
//! insight's confidence), and B is `min_lift` times likelier after A than after any command —
//! so a command people run after everything (`status`) is never "correlated" with anything.
//! Failed runs are left to `failure_workaround` and `command_rerun`. Commands are grouped with
//! whitespace collapsed and shown as logged; a finding is re-sent only when its support grew.
//!
//! The work per command is bounded by its window, never by history: the runs a command
//! follows for the first time are exactly those since its own last run in the window (each
//! run before that was followed by it already), and the median gap of a pair is kept in two
//! heaps with the median on top, so neither is found by a search over what was seen.

mod gaps;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state::Saved;
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

/// A pair; its gaps are saved as the list format 1 saved.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Pair {
    support: u64,
    gaps_ms: Gaps,
    people: BTreeSet<String>,
    events: Vec<(u64, i64)>,
}

/// The state as format 1 saved it, which reads into today's types (its runs' followers are
/// left out).
#[derive(Deserialize)]
struct Format1 {
    recent: BTreeMap<String, VecDeque<Run>>,
    runs: BTreeMap<String, u64>,
    total_runs: u64,
    followed_by: BTreeMap<String, u64>,
    pairs: PairMap<(String, String), Pair>,
    reported: LastReported<(String, String)>,
}

pub struct CommandCorrelation {
    window_ms: i64,
    min_support: u64,
    min_confidence: f64,
    min_lift: f64,
    recent: BTreeMap<String, VecDeque<Run>>,
    runs: BTreeMap<String, u64>,
    total_runs: u64,
    followed_by: BTreeMap<String, u64>,
    pairs: PairMap<(String, String), Pair>,
    reported: LastReported<(String, String)>,
}

impl Default for CommandCorrelation {
    fn default() -> Self {
        CommandCorrelation {
            window_ms: 120_000,
            min_support: 5,
            min_confidence: 0.7,
            min_lift: 3.0,
            recent: BTreeMap::new(),
            runs: BTreeMap::new(),
            total_runs: 0,
            followed_by: BTreeMap::new(),
            pairs: PairMap::default(),
            reported: LastReported::new(),
        }
    }
}

impl CommandCorrelation {
    fn report(&mut self, first: &str, then: &str, time_ms: i64, out: &mut Vec<Insight>) {
        let Some(pair) = self.pairs.get(&(first.to_owned(), then.to_owned())) else { return };
        let runs = self.runs.get(first).copied().unwrap_or(0).max(pair.support);
        let share = pair.support as f64 / runs as f64;
        let base_rate = self.followed_by.get(then).copied().unwrap_or(0) as f64 / self.total_runs.max(1) as f64;
        let lift = share / base_rate.max(1e-3);
        if pair.support < self.min_support || share < self.min_confidence || lift < self.min_lift {
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
        if self.reported.changed((first.to_owned(), then.to_owned()), &insight) {
            out.push(insight);
        }
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
                "How many times likelier B must be after A than after any command. Default 3: commands people run \
                 after everything (`status`) stay near 1.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        self.min_support = settings.integer_at_least("min_support", 2)? as u64;
        self.min_confidence = settings.float("min_confidence")?;
        self.min_lift = settings.float("min_lift")?;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        if !event.succeeded() {
            return Ok(());
        }
        let command = command_key(event.subject_or_empty()).into_owned();
        if command.is_empty() {
            return Ok(());
        }
        let who = event.actor.clone().or_else(|| event.thread_id.clone()).unwrap_or_default();
        let window_ms = self.window_ms;
        let recent = self.recent.entry(who.clone()).or_default();
        while recent.front().is_some_and(|run| event.time_ms - run.time_ms > window_ms) {
            recent.pop_front();
        }
        let since = recent.iter().rposition(|run| run.command == command).map_or(0, |last| last + 1);
        let completed: Vec<(String, u64, i64)> =
            recent.range(since..).map(|run| (run.command.clone(), run.id, run.time_ms)).collect();
        recent.push_back(Run { command: command.clone(), id: event.id, time_ms: event.time_ms });
        *self.runs.entry(command.clone()).or_default() += 1;
        self.total_runs += 1;
        for (first, id, time_ms) in completed {
            *self.followed_by.entry(command.clone()).or_default() += 1;
            let pair = self.pairs.entry((first.clone(), command.clone())).or_default();
            pair.support += 1;
            pair.gaps_ms.insert(event.time_ms - time_ms);
            pair.people.insert(who.clone());
            if pair.events.len() < 10 {
                pair.events.push((id, time_ms));
                pair.events.push((event.id, event.time_ms));
            }
            self.report(&first, &command, event.time_ms, out);
        }
        Ok(())
    }

    keep_state!(format = 2, migrate = CommandCorrelation::migrate; recent, runs, total_runs, followed_by, pairs, reported);
}

impl CommandCorrelation {
    /// Reads a format-1 snapshot (whose runs also listed their followers).
    fn migrate(&mut self, saved: Saved) -> Result<(), String> {
        if saved.format != 1 {
            return Err(format!(
                "the saved state is in format {}, which this version cannot convert; starting fresh",
                saved.format
            ));
        }
        let state: Format1 = saved.read_any()?;
        self.recent = state.recent;
        self.runs = state.runs;
        self.total_runs = state.total_runs;
        self.followed_by = state.followed_by;
        self.pairs = state.pairs;
        self.reported = state.reported;
        Ok(())
    }
}

export_detector!(CommandCorrelation);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str) -> Event {
        Event::at(id, seconds * 1000, "cli.command").subject(command).actor("dev").exit_code(0)
    }

    /// Commands in a pseudo-random order (a fixed-seed LCG), `status` the most common.
    fn background(count: u64) -> Vec<Event> {
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
    fn frequent_commands_and_interleaved_noise_stay_quiet() -> Result<(), String> {
        let mut detector = CommandCorrelation::default();
        let insights = detector.process(&background(2_000))?;
        assert!(insights.is_empty(), "{:#?}", insights.iter().map(|insight| &insight.message).collect::<Vec<_>>());
        Ok(())
    }
}
