//! `silent_completion`: an agent keeps reporting results that nobody answers — no feedback, no
//! follow-up action in the thread. Its output is invisible, unclear, or not worth reading.
//!
//! Each agent action in a thread (`thread.agent_action`) arms an event-time timer for that
//! thread; any sign the user reacted disarms it: a user action or prompt in the thread, a CLI
//! command run from it, or feedback about the agent. A timer that fires after
//! `response_window_seconds` is a silent completion. Every thread ends with some silence, so
//! an agent is reported only when at least `min_silent` of its results, in at least
//! `min_threads` threads, went unanswered, making at least `min_share` of its results.
//! Confidence is one minus the p-value of "this agent is answered less than the others".

use std::collections::{BTreeMap, BTreeSet};

use devloop_plugin_sdk::prelude::*;

pub const PATTERN: &str = "silent_completion";

#[derive(Debug, Clone, PartialEq)]
struct Output {
    agent: String,
    id: u64,
    time_ms: i64,
    command: Option<String>,
}

#[derive(Debug, Default)]
struct Tally {
    results: u64,
    silent: u64,
    threads: BTreeSet<String>,
    commands: Examples<String>,
    events: Vec<(u64, i64)>,
}

pub struct SilentCompletion {
    min_silent: u64,
    min_share: f64,
    min_threads: usize,
    timers: Absence<String, Output>,
    agents: BTreeMap<String, Tally>,
    suppressor: Suppressor<String>,
}

impl Default for SilentCompletion {
    fn default() -> Self {
        SilentCompletion {
            min_silent: 5,
            min_share: 0.6,
            min_threads: 3,
            timers: Absence::new(1_800_000),
            agents: BTreeMap::new(),
            suppressor: Suppressor::new(1.5, i64::MAX),
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
            tally.threads.insert(missed.key);
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
        if tally.silent < self.min_silent || share < self.min_share || tally.threads.len() < self.min_threads {
            return;
        }
        if !self.suppressor.should_report(agent.to_owned(), time_ms, tally.silent as f64) {
            return;
        }
        let (others_silent, others_results) = self
            .agents
            .iter()
            .filter(|(name, _)| name.as_str() != agent)
            .fold((0, 0), |(silent, results), (_, other)| (silent + other.silent, results + other.results));
        let chance = if others_results == 0 { 0.3 } else { (others_silent as f64 / others_results as f64).max(0.2) };
        let confidence = binomial_confidence(tally.silent, tally.results, chance);
        let threads: Vec<String> = tally.threads.iter().take(10).cloned().collect();
        let mut insight = Insight::new(PATTERN, insight_key(&[agent]))
            .severity(if share >= 0.8 { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(format!(
                "`{agent}` results got no response in {silent} of {results} cases across {thread_count} threads",
                silent = tally.silent,
                results = tally.results,
                thread_count = tally.threads.len(),
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
            .evidence("threads", threads.clone());
        if !tally.commands.items().is_empty() {
            insight = insight.evidence("commands", tally.commands.items().to_vec());
        }
        for (id, time) in &tally.events {
            insight = insight.event_id(*id, *time);
        }
        for thread in threads {
            insight = insight.thread(thread);
        }
        out.push(insight.at(time_ms));
    }
}

impl Detector for SilentCompletion {
    fn info() -> DetectorInfo {
        DetectorInfo::new("silent-completion", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["thread.agent_action", "thread.user_action", "thread.prompt", "cli.command", "feedback.*"])
            .setting(
                "response_window_seconds",
                1_800_i64,
                "How long a result may wait for any reaction before it counts as silent.",
            )
            .setting("min_silent", 5_i64, "Silent results an agent needs before it can be reported.")
            .setting("min_share", 0.6, "Share of the agent's results that must have gone unanswered.")
            .setting("min_threads", 3_i64, "Distinct threads the silent results must span.")
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
            if let Some(agent) = agent_of(event) {
                self.agents.entry(agent.clone()).or_default().results += 1;
                let command = event.subject.clone().filter(|command| !command.is_empty());
                self.timers.arm(thread, event.time_ms, Output { agent, id: event.id, time_ms: event.time_ms, command });
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
