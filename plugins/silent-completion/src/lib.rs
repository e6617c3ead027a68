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
//! runs that found nothing ask for no answer and are not counted.
//!
//! Thresholds (defaults, and why): `response_window_seconds` 1800 — a person who reads a result
//! reacts within half an hour, or not at all; `min_silent` 3 and `min_threads` 3 — three
//! unanswered results in three different threads (or files) are no longer one distracted
//! afternoon; `min_share` 0.6 — most of the agent's results go unanswered, not just some.

use std::collections::{BTreeMap, BTreeSet};

use devloop_plugin_sdk::prelude::*;
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

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    results: u64,
    silent: u64,
    threads: BTreeSet<String>,
    files: BTreeSet<String>,
    commands: Examples<String>,
    events: Vec<(u64, i64)>,
}

pub struct SilentCompletion {
    min_silent: u64,
    min_share: f64,
    min_threads: usize,
    timers: Absence<String, Output>,
    agents: BTreeMap<String, Tally>,
    /// Silent and all results over all agents.
    all_silent: u64,
    all_results: u64,
    reported: LastReported<String>,
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

/// Whether an agent run found nothing (its output says so, or it counted zero findings).
fn found_nothing(event: &Event) -> bool {
    event.number("findings").is_some_and(|findings| findings == 0.0)
        || event.number("findings_count").is_some_and(|findings| findings == 0.0)
        || event.text("output").is_some_and(|output| {
            let output = output.to_lowercase();
            NOTHING_FOUND.iter().any(|phrase| output.contains(phrase))
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
            timers: Absence::new(1_800_000),
            agents: BTreeMap::new(),
            all_silent: 0,
            all_results: 0,
            reported: LastReported::new(),
        }
    }
}

/// The agent behind a thread action: the `action` field devloop records (`linter`), else the
/// actor.
fn agent_of(event: &Event) -> Option<String> {
    event.text("action").or(event.actor.as_deref()).filter(|agent| !agent.is_empty()).map(str::to_owned)
}

impl SilentCompletion {
    fn fire(&mut self, now_ms: i64, out: &mut Vec<Insight>) {
        let missed = self.timers.fire(now_ms);
        let mut touched = BTreeSet::new();
        for missed in missed {
            let result = missed.armed;
            let tally = self.agents.entry(result.agent.clone()).or_default();
            tally.silent += 1;
            self.all_silent += 1;
            match &result.file {
                Some(file) => {
                    tally.files.insert(file.clone());
                }
                None => {
                    tally.threads.insert(missed.key);
                }
            }
            if let Some(command) = result.command {
                tally.commands.push(command);
            }
            if tally.events.len() < 20 {
                tally.events.push((result.id, result.time_ms));
            }
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
        let threads: Vec<String> = tally.threads.iter().take(10).cloned().collect();
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
            .evidence("files", tally.files.iter().take(10).cloned().collect::<Vec<_>>());
        if !tally.commands.items().is_empty() {
            insight = insight.evidence("commands", tally.commands.items().to_vec());
        }
        for (id, time) in &tally.events {
            insight = insight.event_id(*id, *time);
        }
        for thread in threads {
            insight = insight.thread(thread);
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
        let (Some(key), Some(agent)) = (context_key(event), event.subject.clone().filter(|agent| !agent.is_empty()))
        else {
            return;
        };
        if event.kind == "context.seen" {
            self.timers.answer(&key, i64::MAX);
            return;
        }
        self.agents.entry(agent.clone()).or_default().results += 1;
        self.all_results += 1;
        if matches!(event.field("seen_by_user"), Some(Value::Boolean(true))) {
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
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.timers = Absence::new(settings.integer_at_least("response_window_seconds", 1)? * 1000);
        self.min_silent = settings.integer_at_least("min_silent", 1)? as u64;
        self.min_share = settings.float("min_share")?;
        self.min_threads = settings.integer_at_least("min_threads", 1)? as usize;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        self.fire(event.time_ms, out);
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
        let Some(thread) = event.thread_id.clone().filter(|thread| !thread.is_empty()) else {
            return Ok(());
        };
        if event.kind == "thread.agent_action" {
            if let Some(agent) = agent_of(event)
                && !found_nothing(event)
            {
                self.agents.entry(agent.clone()).or_default().results += 1;
                self.all_results += 1;
                let command = event.subject.clone().filter(|command| !command.is_empty());
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

    keep_state!(format = 1; timers, agents, all_silent, all_results, reported);
}

export_detector!(SilentCompletion);

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: i64 = 60_000;

    fn agent_action(id: u64, at: i64, thread: &str, agent: &str) -> Event {
        Event::at(id, at, "thread.agent_action")
            .source("amp-thread")
            .actor("agent")
            .thread(thread)
            .with("action", agent)
    }

    fn user_action(id: u64, at: i64, thread: &str) -> Event {
        Event::at(id, at, "thread.user_action").source("amp-thread").actor("user").thread(thread)
    }

    /// Threads where the linter is answered and `doc-generator` never is.
    fn threads(count: u64) -> Vec<Event> {
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
        let after_each_run = |kind: &str| {
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
