//! `silent_completion`: an agent keeps reporting results that nobody answers — no feedback, no
//! follow-up action in the thread. Its output is invisible, unclear, or not worth reading.
//!
//! devloop's performance snapshot (`feedback.performance_snapshot`) is updated after every run
//! of an agent, whoever reads it; it is no reaction and answers nothing.
//!
//! Each agent action in a thread (`thread.agent_action`) arms an event-time timer for that
//! thread; any sign the user reacted disarms it: a user action or prompt in the thread, a CLI
//! command run from it, or feedback about the agent. A timer that fires after
//! `response_window_seconds` is a silent completion. Every thread ends with some silence, so
//! an agent is reported only when at least `min_silent` of its results, in at least
//! `min_threads` threads, went unanswered, making at least `min_share` of its results.
//! Confidence is one minus the p-value of "this agent is answered less than the others", and
//! never more than 1 − ½ⁿ for n silent results, so it says how much evidence there is: 3 of 3
//! is reported, at 0.875 at most; 10 of 12 can reach 0.99.
//!
//! devloop's context store says what it showed the user and whether they saw it: a
//! `context.finding` already `seen_by_user` is an answered result, an unseen one arms a timer
//! that its `context.seen` disarms; such results are placed by file rather than thread. Agent
//! runs that found nothing (a count of zero, or an output saying so — "no secrets found",
//! "found no issues" — whatever it looked for) ask for no answer and are not counted.
//!
//! Thresholds (defaults, and why): `response_window_seconds` 1800 — a person who reads a result
//! reacts within half an hour, or not at all; `min_silent` 3 and `min_threads` 3 — three
//! unanswered results in three different threads (or files) are no longer one distracted
//! afternoon; `min_share` 0.6 — most of the agent's results go unanswered, not just some.
//!
//! The state is bounded by the agents and places of the last `forget_after_days`: an agent not
//! seen for that long is forgotten (its counts start again from zero if it comes back, and
//! leave the other agents' share), the threads and files of an agent's silent results not seen
//! for that long drop out of its distinct counts, and at most [`RecentSet::CAP`] of each
//! are kept. A sweep once a day of event time, its time saved in the state, drops what was
//! forgotten, so a run in pieces stores what one run does. The reported agents' last reports
//! are kept, so a finding is re-sent only when it changed.

use std::collections::{BTreeMap, BTreeSet};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state::Saved;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "silent_completion";

/// devloop's per-agent counters (`performance.json`), rewritten after every run of an agent:
/// they say the agent ran, not that anyone read what it said, so they answer nothing.
const SNAPSHOT: &str = "feedback.performance_snapshot";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Output {
    agent: String,
    id: u64,
    time_ms: i64,
    command: Option<String>,
    /// The file of a context-store result (it has no thread).
    file: Option<String>,
}

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    results: u64,
    silent: u64,
    threads: RecentSet,
    files: RecentSet,
    commands: Examples<String>,
    events: Vec<(u64, i64)>,
    last_ms: i64,
}

/// An agent's tally as format 1 saved it: every place it was ever silent in, with no times.
#[derive(Deserialize)]
struct TallyFormat1 {
    results: u64,
    silent: u64,
    threads: BTreeSet<String>,
    files: BTreeSet<String>,
    commands: Examples<String>,
    events: Vec<(u64, i64)>,
}

/// The state as format 1 saved it: agents and their places kept forever.
#[derive(Deserialize)]
struct Format1 {
    timers: Absence<String, Output>,
    agents: BTreeMap<String, TallyFormat1>,
    all_silent: u64,
    all_results: u64,
    reported: LastReported<String>,
}

pub struct SilentCompletion {
    min_silent: u64,
    min_share: f64,
    min_threads: usize,
    forget_ms: i64,
    timers: Absence<String, Output>,
    agents: BTreeMap<String, Tally>,
    /// Silent and all results over all agents.
    all_silent: u64,
    all_results: u64,
    reported: LastReported<String>,
    /// When what was forgotten was last swept away.
    swept_ms: i64,
}

/// Words of an agent's output that say it found nothing to act on.
const NOTHING_FOUND: &[&str] = &[
    "no issues",
    "no findings",
    "no problems",
    "no changes",
    "nothing to",
    "0 issues",
    "0 findings",
    "0 problems",
    "all checks passed",
];

/// Words that say there is none of something, and verbs that say what a run turned up: an
/// output saying "no secrets found", "no vulnerabilities were detected", "found no issues" or
/// "0 problems found" found nothing, whatever it was looking for.
const NONE: &[&str] = &["no", "0", "zero", "nothing", "none"];
const TURNED_UP: &[&str] = &["found", "detected", "reported", "flagged"];

/// Words between a word of [`NONE`] and a verb of [`TURNED_UP`] ("no type errors were found").
const NONE_REACH: usize = 4;

/// Whether an agent run found nothing (its output says so, or it counted zero findings).
fn found_nothing(event: &Event) -> bool {
    event.number("findings").is_some_and(|findings| findings == 0.0)
        || event.number("findings_count").is_some_and(|findings| findings == 0.0)
        || event.text("output").is_some_and(says_nothing_found)
}

/// Whether `output` says the run found nothing: one of [`NOTHING_FOUND`], or, within one
/// clause, a word of [`NONE`] a few words before a verb of [`TURNED_UP`] or right after one
/// ("0 failed, 3 issues found" found three).
fn says_nothing_found(output: &str) -> bool {
    let output = output.to_lowercase();
    if NOTHING_FOUND.iter().any(|phrase| output.contains(phrase)) {
        return true;
    }
    output.split(['.', ',', ';', ':', '!', '?', '\n']).any(|clause| {
        let words: Vec<&str> =
            clause.split(|c: char| !c.is_alphanumeric() && c != '-').filter(|word| !word.is_empty()).collect();
        words.iter().enumerate().any(|(index, word)| {
            TURNED_UP.contains(word)
                && (words[index.saturating_sub(NONE_REACH)..index].iter().any(|before| NONE.contains(before))
                    || words.get(index + 1).is_some_and(|after| NONE.contains(after)))
        })
    })
}

/// The place of a context-store result: its file.
fn context_key(event: &Event) -> Option<String> {
    event.text("finding_id").map(|id| format!("context:{id}"))
}

impl Default for SilentCompletion {
    fn default() -> Self {
        SilentCompletion {
            min_silent: 3,
            min_share: 0.6,
            min_threads: 3,
            forget_ms: 30 * DAY_MS,
            timers: Absence::new(1_800_000),
            agents: BTreeMap::new(),
            all_silent: 0,
            all_results: 0,
            reported: LastReported::new(),
            swept_ms: 0,
        }
    }
}

/// The agent behind a thread action: the `action` field devloop records (`linter`), else the
/// actor.
fn agent_of(event: &Event) -> Option<String> {
    event.text("action").or(event.actor.as_deref()).filter(|agent| !agent.is_empty()).map(str::to_owned)
}

impl SilentCompletion {
    /// The agent's tally, started again from zero (its counts taken out of everyone's) if it
    /// was not seen within the horizon.
    fn agent(&mut self, agent: &str, now_ms: i64) -> &mut Tally {
        let tally = self.agents.entry(agent.to_owned()).or_default();
        if now_ms - tally.last_ms > self.forget_ms {
            self.all_silent -= tally.silent;
            self.all_results -= tally.results;
            *tally = Tally::default();
        }
        tally.last_ms = tally.last_ms.max(now_ms);
        tally
    }

    /// Once a day of event time, drops the agents not seen within the horizon (their counts
    /// leave everyone's) and each agent's places not seen within it: memory and distinct counts
    /// of the horizon only, and a run in pieces sweeps where one run does.
    fn forget(&mut self, now_ms: i64) {
        if now_ms - self.swept_ms < DAY_MS {
            return;
        }
        self.swept_ms = now_ms;
        let forget_ms = self.forget_ms;
        let (mut silent, mut results) = (0, 0);
        self.agents.retain(|_, tally| {
            let keep = now_ms - tally.last_ms <= forget_ms;
            if !keep {
                silent += tally.silent;
                results += tally.results;
            }
            keep
        });
        self.all_silent -= silent;
        self.all_results -= results;
        for tally in self.agents.values_mut() {
            tally.threads.forget(now_ms, forget_ms);
            tally.files.forget(now_ms, forget_ms);
        }
    }

    fn fire(&mut self, now_ms: i64, out: &mut Vec<Insight>) {
        let missed = self.timers.fire(now_ms);
        let mut touched = BTreeSet::new();
        for missed in missed {
            let result = missed.armed;
            let tally = self.agent(&result.agent, missed.deadline_ms);
            tally.silent += 1;
            match &result.file {
                Some(file) => tally.files.see(file, missed.deadline_ms),
                None => tally.threads.see(&missed.key, missed.deadline_ms),
            }
            if let Some(command) = result.command {
                tally.commands.push(command);
            }
            if tally.events.len() < 20 {
                tally.events.push((result.id, result.time_ms));
            }
            self.all_silent += 1;
            touched.insert((result.agent, missed.deadline_ms));
        }
        for (agent, deadline_ms) in touched {
            self.report(&agent, deadline_ms, out);
        }
    }

    fn report(&mut self, agent: &str, time_ms: i64, out: &mut Vec<Insight>) {
        let tally = &self.agents[agent];
        let share = tally.silent as f64 / tally.results.max(1) as f64;
        let places = tally.threads.len().max(tally.files.len());
        if tally.silent < self.min_silent || share < self.min_share || places < self.min_threads {
            return;
        }
        let others_silent = self.all_silent - tally.silent;
        let others_results = self.all_results - tally.results;
        let chance = if others_results == 0 { 0.3 } else { (others_silent as f64 / others_results as f64).max(0.2) };
        let evidence_cap = 1.0 - 0.5_f64.powi(i32::try_from(tally.silent).unwrap_or(i32::MAX));
        let confidence = binomial_confidence(tally.silent, tally.results, chance).min(evidence_cap);
        let threads: Vec<String> = tally.threads.names().take(10).cloned().collect();
        let mut insight = Insight::new(PATTERN, insight_key(&[agent]))
            .severity(if share >= 0.8 { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(format!(
                "`{agent}` results got no response in {silent} of {results} cases across {where_}",
                silent = tally.silent,
                results = tally.results,
                where_ = if tally.threads.len() >= tally.files.len() {
                    format!("{} threads", tally.threads.len())
                } else {
                    format!("{} files nobody looked at", tally.files.len())
                },
            ))
            .recommendation(format!(
                "Check whether users see `{agent}`'s output at all and can tell what to do with it: surface it \
                 where they look (summary, PR comment), say what action it expects, or stop running it where nobody reads it."
            ))
            .evidence("agent", agent)
            .evidence("silent", tally.silent)
            .evidence("results", tally.results)
            .evidence("silent_share", (share * 1000.0).round() / 1000.0)
            .evidence("other_agents_silent_share", (chance * 1000.0).round() / 1000.0)
            .evidence("threads", threads.clone())
            .evidence("files", tally.files.names().take(10).cloned().collect::<Vec<_>>());
        if !tally.commands.items().is_empty() {
            insight = insight.evidence("commands", tally.commands.items().to_vec());
        }
        for (id, time) in &tally.events {
            insight = insight.event_id(*id, *time);
        }
        for thread in threads {
            insight = insight.thread(thread.to_owned());
        }
        let insight = insight.at(time_ms);
        if self.reported.changed(agent.to_owned(), &insight) {
            out.push(insight);
        }
    }
}

impl SilentCompletion {
    /// A result devloop showed the user (`context.finding`), or their look at it (`context.seen`).
    fn context(&mut self, event: &Event) {
        let (Some(key), Some(agent)) =
            (context_key(event), event.subject.as_deref().filter(|agent| !agent.is_empty()).map(str::to_owned))
        else {
            return;
        };
        if event.kind == "context.seen" {
            self.timers.answer(&key, i64::MAX);
            return;
        }
        self.agent(&agent, event.time_ms).results += 1;
        self.all_results += 1;
        if matches!(event.field("seen_by_user"), Some(FieldValue::Boolean(true))) {
            return;
        }
        let file = Some(event.text("file").unwrap_or_default().to_owned());
        let command = event.text("message").map(str::to_owned);
        self.timers.arm(key, event.time_ms, Output { agent, id: event.id, time_ms: event.time_ms, command, file });
    }
}

impl Detector for SilentCompletion {
    fn info() -> DetectorInfo {
        DetectorInfo::new("silent-completion", env!("CARGO_PKG_VERSION"))
            .fields(["seen_by_user", "findings", "findings_count", "action", "file", "finding_id", "message", "output"])
            .pattern(PATTERN)
            .kinds([
                "thread.agent_action",
                "thread.user_action",
                "thread.prompt",
                "cli.command",
                "feedback.*",
                "context.finding",
                "context.seen",
            ])
            .setting(
                "response_window_seconds",
                1_800_i64,
                "How long a result may wait for any reaction before it counts as silent. Default 1800 (30 min): \
                 a person who reads a result reacts within half an hour, or not at all.",
            )
            .setting(
                "min_silent",
                3_i64,
                "Silent results an agent needs before it can be reported. Default 3: \"3 of 3 unanswered\" is \
                 already a pattern; the confidence (capped at 1 - 1/2^n) says how little evidence that is.",
            )
            .setting(
                "min_share",
                0.6,
                "Share of the agent's results that must have gone unanswered. Default 0.6: most of its results, \
                 not the silence every thread ends with.",
            )
            .setting(
                "min_threads",
                3_i64,
                "Distinct threads (or files, for context-store results) the silent results must span. Default 3: \
                 not one distracted afternoon in one thread.",
            )
            .setting(
                "forget_after_days",
                30_i64,
                "Days after which an agent not seen is forgotten (its counts start again if it comes back) and \
                 the threads and files of its silent results not seen drop out of its counts. Default 30: a \
                 month is far longer than the response window, an agent not seen for a month no longer runs \
                 here, and the state stays bounded by the agents and places of the last month (at most 1000 \
                 threads and 1000 files per agent).",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        let window_ms = settings.integer_at_least("response_window_seconds", 1)? * 1000;
        self.timers = Absence::new(window_ms);
        self.forget_ms = (settings.integer_at_least("forget_after_days", 1)? * DAY_MS).max(window_ms);
        self.min_silent = settings.integer_at_least("min_silent", 1)? as u64;
        self.min_share = settings.float("min_share")?;
        self.min_threads = settings.integer_at_least("min_threads", 1)? as usize;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        self.fire(event.time_ms, out);
        self.forget(event.time_ms);
        if event.is("context.*") {
            self.context(event);
            return Ok(());
        }
        if event.kind == SNAPSHOT {
            return Ok(());
        }
        if event.is("feedback.*") {
            if let Some(agent) = event.subject.as_deref() {
                self.timers.answer_where(event.time_ms, |_, result| result.agent == agent);
            }
            return Ok(());
        }
        let Some(thread) = event.thread_id.as_deref().filter(|thread| !thread.is_empty()).map(str::to_owned) else {
            return Ok(());
        };
        if event.kind == "thread.agent_action" {
            if let Some(agent) = agent_of(event)
                && !found_nothing(event)
            {
                self.agent(&agent, event.time_ms).results += 1;
                self.all_results += 1;
                let command = event.subject.as_deref().filter(|command| !command.is_empty()).map(str::to_owned);
                let output = Output { agent, id: event.id, time_ms: event.time_ms, command, file: None };
                self.timers.arm(thread, event.time_ms, output);
            }
        } else {
            self.timers.answer(&thread, event.time_ms);
        }
        Ok(())
    }

    fn on_tick(&mut self, now_ms: i64, out: &mut Vec<Insight>) -> Result<(), String> {
        self.fire(now_ms, out);
        Ok(())
    }

    keep_state!(format = 2, migrate = SilentCompletion::migrate; timers, agents, all_silent, all_results, reported, swept_ms);
}

impl SilentCompletion {
    /// Reads a format-1 snapshot: as it did not say when an agent or place was last seen,
    /// everything counts as seen at the newest time the snapshot holds.
    fn migrate(&mut self, saved: Saved) -> Result<(), String> {
        if saved.format != 1 {
            return Err(saved.unconvertible());
        }
        // Each armed timer is saved as `[[deadline, order], [thread, output, armed at]]`.
        let armed = saved.state["timers"]["timers"].as_array().into_iter().flatten();
        let armed_ms: Vec<i64> = armed.filter_map(|timer| timer[1][2].as_i64()).collect();
        let state: Format1 = saved.read_any()?;
        let newest_ms = (state.agents.values().flat_map(|tally| tally.events.iter().map(|(_, time_ms)| *time_ms)))
            .chain(armed_ms)
            .max()
            .unwrap_or(0);
        let agents = state.agents.into_iter().map(|(agent, tally)| {
            let TallyFormat1 { results, silent, threads, files, commands, events } = tally;
            let threads = RecentSet::from_names(threads, newest_ms);
            let files = RecentSet::from_names(files, newest_ms);
            (agent, Tally { results, silent, threads, files, commands, events, last_ms: newest_ms })
        });
        self.timers = state.timers;
        self.agents = agents.collect();
        self.all_silent = state.all_silent;
        self.all_results = state.all_results;
        self.reported = state.reported;
        self.swept_ms = newest_ms;
        Ok(())
    }
}

export_detector!(SilentCompletion);

#[cfg(test)]
mod tests {
    use devloop_plugin_sdk::state;

    use super::*;

    #[test]
    fn an_output_saying_it_found_nothing_is_told_from_one_that_found_something() {
        for nothing in [
            "No secrets found",
            "no vulnerabilities were detected",
            "Found no issues in 12 files",
            "0 problems found",
            "nothing found",
            "All checks passed",
            "scan complete: zero leaks reported",
        ] {
            assert!(says_nothing_found(nothing), "{nothing}");
        }
        for something in [
            "sql-linter: 3 problems need attention",
            "Found 3 issues in src/app.py",
            "2 secrets found",
            "0 failed, 3 issues found",
            "Check failed for a.py: mypy command not found",
        ] {
            assert!(!says_nothing_found(something), "{something}");
        }
    }

    const MINUTE: i64 = 60_000;

    fn agent_action(id: u64, at: i64, thread: &str, agent: &str) -> Event<'static> {
        Event::at(id, at, "thread.agent_action")
            .source("amp-thread")
            .actor("agent")
            .thread(thread.to_owned())
            .with("action", agent)
    }

    fn user_action(id: u64, at: i64, thread: &str) -> Event<'static> {
        Event::at(id, at, "thread.user_action").source("amp-thread").actor("user").thread(thread.to_owned())
    }

    /// Threads where the linter is answered and `doc-generator` never is.
    fn threads(count: u64) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        for index in 0..count {
            let thread = format!("T-{index}");
            let start = index as i64 * 240 * MINUTE;
            events.push(agent_action(index * 10, start, &thread, "linter"));
            events.push(user_action(index * 10 + 1, start + 3 * MINUTE, &thread));
            events.push(agent_action(index * 10 + 2, start + 10 * MINUTE, &thread, "doc-generator"));
            events.push(agent_action(index * 10 + 3, start + 60 * MINUTE, &thread, "linter"));
            events.push(user_action(index * 10 + 4, start + 62 * MINUTE, &thread));
        }
        events
    }

    #[test]
    fn an_agent_nobody_answers_is_reported_when_timers_fire() -> Result<(), String> {
        let mut detector = SilentCompletion::default();
        let mut insights = detector.process(&threads(6))?;
        let mut tick = Vec::new();
        detector.on_tick(10_000 * MINUTE, &mut tick)?;
        insights.extend(tick);
        assert!(!insights.is_empty());
        assert!(insights.iter().all(|insight| insight.key == "doc-generator"), "{insights:#?}");
        let last = insights.last().expect("reported");
        assert!(last.message.contains("`doc-generator`"));
        assert!(last.affected_threads.len() >= 3);
        Ok(())
    }

    #[test]
    fn devloops_performance_counters_are_no_answer_but_user_feedback_is() -> Result<(), String> {
        let after_each_run = |kind: &'static str| {
            let mut events = Vec::new();
            for index in 0..3_u64 {
                let (thread, start) = (format!("T-{index}"), index as i64 * 240 * MINUTE);
                events.push(agent_action(index * 10, start, &thread, "dependency-auditor"));
                events.push(
                    Event::at(index * 10 + 1, start + 3_000, kind).source("feedback").subject("dependency-auditor"),
                );
            }
            events
        };
        let mut detector = SilentCompletion::default();
        let mut insights = detector.process(&after_each_run(SNAPSHOT))?;
        detector.on_tick(10_000 * MINUTE, &mut insights)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert!(insights[0].message.contains("3 of 3 cases across 3 threads"), "{}", insights[0].message);

        let mut detector = SilentCompletion::default();
        let mut insights = detector.process(&after_each_run("feedback.thumbs_up"))?;
        detector.on_tick(10_000 * MINUTE, &mut insights)?;
        assert!(insights.is_empty(), "{insights:#?}");
        Ok(())
    }

    fn context_finding(id: u64, at: i64, agent: &str, file: &str) -> Event<'static> {
        Event::at(id, at, "context.finding")
            .source("context-store")
            .subject(agent.to_owned())
            .with("finding_id", format!("F-{id}"))
            .with("file", file)
            .with("message", "unused import")
    }

    /// A day of work: a new agent every day, silent in five new threads, and the linter silent
    /// in five new threads and on five new files, beside one answered thread.
    fn day_of_work(day: i64, id: &mut u64) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        let mut next = || {
            *id += 1;
            *id
        };
        for hour in 0..5_i64 {
            let start = day * 1_440 * MINUTE + (8 + hour) * 60 * MINUTE;
            let thread = format!("T-{day}-{hour}");
            events.push(agent_action(next(), start, &thread, "linter"));
            events.push(agent_action(next(), start + MINUTE, &thread, &format!("agent-{day}")));
            events.push(context_finding(next(), start + 2 * MINUTE, "linter", &format!("src/day_{day}/m{hour}.py")));
        }
        let answered = format!("T-{day}-answered");
        events.push(agent_action(next(), day * 1_440 * MINUTE + 16 * 60 * MINUTE, &answered, "linter"));
        events.push(user_action(next(), day * 1_440 * MINUTE + 16 * 60 * MINUTE + MINUTE, &answered));
        events
    }

    fn tracked_places(detector: &SilentCompletion) -> usize {
        detector.agents.values().map(|tally| tally.threads.len() + tally.files.len()).sum()
    }

    #[test]
    fn state_stays_bounded_by_the_agents_and_places_of_the_horizon() -> Result<(), String> {
        let mut detector = SilentCompletion::default();
        let (mut id, mut sizes) = (0, Vec::new());
        for day in 0..140_i64 {
            detector.process(&day_of_work(day, &mut id))?;
            if day % 28 == 27 {
                // What was last reported is kept per agent ever reported (one hash each), so
                // an unchanged finding is never re-sent: the rest is what must stop growing.
                let mut opened = Saved::open(&detector.snapshot().ok_or("silent-completion keeps state")?)?;
                opened.state.as_object_mut().ok_or("an object")?.remove("reported").ok_or("kept")?;
                let bytes = state::save(&opened.state).ok_or("serializable")?.len();
                sizes.push((detector.agents.len(), tracked_places(&detector), bytes));
            }
        }
        // From the second month on, the last 30 days' agents (one a day, and the linter) and
        // their places.
        let (agents, places, bytes) = sizes[1];
        assert!(agents <= 32, "{sizes:?}");
        for (later_agents, later_places, later_bytes) in &sizes[2..] {
            assert!(*later_agents <= agents, "agents stop growing: {sizes:?}");
            assert!(*later_places <= places, "places stop growing: {sizes:?}");
            // Later ids, times and day numbers take more digits; nothing else grows.
            assert!(*later_bytes <= bytes + bytes / 10, "the snapshot stops growing: {sizes:?}");
        }
        let linter = &detector.agents["linter"];
        assert_eq!(linter.results, 140 * 11, "the agent seen every day is never forgotten");
        assert!(linter.threads.len() <= 31 * 5 && linter.files.len() <= 31 * 5, "{linter:?}");
        let counted: u64 = detector.agents.values().map(|tally| tally.results).sum();
        assert_eq!(detector.all_results, counted, "forgotten agents' results leave everyone's");
        Ok(())
    }

    #[test]
    fn a_format_1_snapshot_is_read_with_everything_seen_at_its_newest_time() -> Result<(), String> {
        let mut detector = SilentCompletion::default();
        let mut id = 0;
        let events: Vec<Event> = (0..3).flat_map(|day| day_of_work(day, &mut id)).collect();
        detector.process(&events)?;
        // Format 1 was today's layout with plain sets of places, and no times.
        let mut opened = Saved::open(&detector.snapshot().ok_or("silent-completion keeps state")?)?;
        assert_eq!(opened.format, 2);
        let saved_state = opened.state.as_object_mut().ok_or("an object")?;
        saved_state.remove("swept_ms").ok_or("kept")?;
        for (agent, tally) in saved_state.get_mut("agents").and_then(|agents| agents.as_object_mut()).ok_or("agents")? {
            let tally = tally.as_object_mut().ok_or("a tally")?;
            tally.remove("last_ms").ok_or("kept")?;
            let before = &detector.agents[agent];
            for (field, names) in
                [("threads", before.threads.names().collect::<Vec<_>>()), ("files", before.files.names().collect())]
            {
                *tally.get_mut(field).ok_or("kept")? = state::load(&state::save(&names).ok_or("serializable")?)?;
            }
        }
        let saved = state::save_versioned(1, &opened.state).ok_or("serializable")?;
        let mut migrated = SilentCompletion::default();
        migrated.restore(&saved)?;
        // No timer is armed at the end of a day; the newest time it holds is that of the new
        // agent's last silent result (the linter's first twenty are all it names).
        let newest_ms = 2 * 1_440 * MINUTE + (8 + 4) * 60 * MINUTE + MINUTE;
        assert_eq!(migrated.swept_ms, newest_ms);
        let (linter, before) = (&migrated.agents["linter"], &detector.agents["linter"]);
        assert_eq!((linter.results, linter.silent, linter.last_ms), (before.results, before.silent, newest_ms));
        assert!(linter.threads.names().eq(before.threads.names()) && linter.files.names().eq(before.files.names()));
        assert_eq!((migrated.all_results, migrated.all_silent), (detector.all_results, detector.all_silent));
        // It goes on as the detector that saw the events would.
        let more = day_of_work(3, &mut id);
        let (after, expected) = (migrated.process(&more)?, detector.process(&more)?);
        assert_eq!(format!("{after:?}"), format!("{expected:?}"));
        Ok(())
    }

    #[test]
    fn a_timer_waits_for_event_time_and_answered_agents_stay_quiet() -> Result<(), String> {
        let mut detector = SilentCompletion::default();
        let events: Vec<Event> =
            threads(6).into_iter().filter(|event| event.text("action") != Some("doc-generator")).collect();
        assert!(detector.process(&events)?.is_empty());
        let mut tick = Vec::new();
        detector.on_tick(10_000 * MINUTE, &mut tick)?;
        assert!(tick.is_empty(), "{tick:#?}");

        let mut detector = SilentCompletion::default();
        let mut events = threads(6);
        events.truncate(events.len() - 2);
        let last_time = events.last().map_or(0, |event| event.time_ms);
        let insights = detector.process(&events)?;
        let reported_before_deadline = insights.iter().any(|insight| insight.time_ms > last_time);
        assert!(!reported_before_deadline, "no timer fires before event time passes it");
        Ok(())
    }
}
