//! `cross_thread_pattern`: the same question asked in several agent threads — in different
//! words, not only identical ones. Something people need keeps being missing from the docs, the
//! tool's output, or the agent's context.
//!
//! Each prompt (`thread.prompt`) becomes a set of content words (normalized,
//! stop words dropped, stemmed). It is compared with the prompts of other threads from the last
//! `window_days` using Jaccard weighted by inverse document frequency, so the shared rare words
//! of one question ("vendor", "exclude") count and the words every request shares ("fix",
//! "test") do not. Prompts at least `similarity` alike join one group; a group spanning
//! `min_threads` threads is reported, keyed by its first prompt so replays update one finding.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::text::{DocumentFrequencies, shingles, words};

pub const PATTERN: &str = "cross_thread_pattern";

/// Prompts kept for comparison; the oldest give way first.
const MAX_PROMPTS: usize = 5_000;

#[derive(Debug, Clone)]
struct Prompt {
    time_ms: i64,
    thread: String,
    terms: BTreeSet<String>,
    group: u64,
}

#[derive(Debug, Clone, Default)]
struct Group {
    /// The first prompt's id: the finding's key.
    anchor: u64,
    anchor_text: String,
    threads: BTreeSet<String>,
    members: Vec<(u64, i64, String, String)>,
    similarities: Vec<f64>,
}

pub struct CrossThreadPattern {
    similarity: f64,
    min_threads: usize,
    window_ms: i64,
    prompts: VecDeque<Prompt>,
    frequencies: DocumentFrequencies,
    groups: BTreeMap<u64, Group>,
    suppressor: Suppressor<u64>,
}

impl Default for CrossThreadPattern {
    fn default() -> Self {
        CrossThreadPattern {
            similarity: 0.5,
            min_threads: 3,
            window_ms: 14 * 86_400_000,
            prompts: VecDeque::new(),
            frequencies: DocumentFrequencies::new(),
            groups: BTreeMap::new(),
            suppressor: Suppressor::new(1.3, i64::MAX),
        }
    }
}

/// Single content words: paraphrases share words far more often than word pairs.
fn terms(text: &str) -> BTreeSet<String> {
    shingles(&words(text), 1)
}

impl CrossThreadPattern {
    fn merge(&mut self, into: u64, from: u64) {
        if into == from {
            return;
        }
        let Some(absorbed) = self.groups.remove(&from) else { return };
        for prompt in self.prompts.iter_mut().filter(|prompt| prompt.group == from) {
            prompt.group = into;
        }
        let group = self.groups.entry(into).or_default();
        group.threads.extend(absorbed.threads);
        group.members.extend(absorbed.members);
        group.similarities.extend(absorbed.similarities);
    }

    fn report(&mut self, group_id: u64, time_ms: i64, out: &mut Vec<Insight>) {
        let group = &self.groups[&group_id];
        if group.threads.len() < self.min_threads {
            return;
        }
        if !self.suppressor.should_report(group.anchor, time_ms, group.threads.len() as f64) {
            return;
        }
        let mean_similarity = group.similarities.iter().sum::<f64>() / group.similarities.len().max(1) as f64;
        let extra_threads = (group.threads.len() - self.min_threads) as f64;
        let closeness = ((mean_similarity - self.similarity) / (1.0 - self.similarity).max(1e-6)).clamp(0.0, 1.0);
        let confidence = 0.6 + 0.08 * extra_threads.min(3.0) + 0.15 * closeness;
        let threads: Vec<String> = group.threads.iter().cloned().collect();
        let examples: Vec<String> = {
            let mut seen = Vec::new();
            for (_, _, _, text) in &group.members {
                if seen.len() < 5 && !seen.contains(text) {
                    seen.push(text.clone());
                }
            }
            seen
        };
        let question: String = group.anchor_text.chars().take(120).collect();
        let mut insight = Insight::new(PATTERN, format!("prompt-group-{:016x}", group.anchor))
            .severity(if group.threads.len() >= 2 * self.min_threads { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.95))
            .message(format!(
                "The same question was asked in {count} threads ({list}): \"{question}\"",
                count = threads.len(),
                list = threads.iter().take(4).cloned().collect::<Vec<_>>().join(", "),
            ))
            .recommendation(
                "Answer this once where people and agents look first: document it, make the tool's output or error \
                 say it, or add it to the agent's instructions (AGENTS.md), then check the threads stop asking."
                    .to_owned(),
            )
            .evidence("question", question.as_str())
            .evidence("threads", threads.clone())
            .evidence("thread_count", threads.len())
            .evidence("prompts", examples)
            .evidence("mean_similarity", (mean_similarity * 1000.0).round() / 1000.0);
        for (id, time, _, _) in &group.members {
            insight = insight.event_id(*id, *time);
        }
        for thread in threads {
            insight = insight.thread(thread);
        }
        out.push(insight.at(time_ms));
    }
}

impl Detector for CrossThreadPattern {
    fn info() -> DetectorInfo {
        DetectorInfo::new("cross-thread-pattern", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["thread.prompt"])
            .setting("similarity", 0.5, "IDF-weighted Jaccard similarity (0-1) at which two prompts ask the same thing.")
            .setting("min_threads", 3_i64, "Distinct threads that must ask it.")
            .setting("window_days", 14_i64, "How far back prompts are compared.")
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.similarity = settings.float("similarity")?;
        if !(0.0..=1.0).contains(&self.similarity) {
            return Err(format!("setting `similarity` must be between 0 and 1, not {}", self.similarity));
        }
        self.min_threads = settings.integer_at_least("min_threads", 2)? as usize;
        self.window_ms = settings.integer_at_least("window_days", 1)? * 86_400_000;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let (Some(thread), Some(text)) = (event.thread_id.clone(), event.subject.clone()) else {
            return Ok(());
        };
        let terms = terms(&text);
        if terms.is_empty() {
            return Ok(());
        }
        while self.prompts.front().is_some_and(|prompt| event.time_ms - prompt.time_ms > self.window_ms)
            || self.prompts.len() >= MAX_PROMPTS
        {
            self.prompts.pop_front();
        }
        self.frequencies.add(&terms);

        let mut matches: Vec<(u64, f64)> = Vec::new();
        for prompt in &self.prompts {
            if prompt.thread == thread {
                continue;
            }
            let similarity = self.frequencies.weighted_jaccard(&terms, &prompt.terms);
            if similarity >= self.similarity {
                matches.push((prompt.group, similarity));
            }
        }
        let group_id = matches.iter().map(|(group, _)| *group).min().unwrap_or(event.id);
        for (group, _) in &matches {
            self.merge(group_id, *group);
        }
        let group = self.groups.entry(group_id).or_insert_with(|| Group {
            anchor: event.id,
            anchor_text: text.clone(),
            ..Group::default()
        });
        group.threads.insert(thread.clone());
        group.members.push((event.id, event.time_ms, thread.clone(), text));
        group.similarities.extend(matches.iter().map(|(_, similarity)| *similarity));
        self.prompts.push_back(Prompt { time_ms: event.time_ms, thread, terms, group: group_id });
        if self.groups.len() > MAX_PROMPTS {
            let live: BTreeSet<u64> = self.prompts.iter().map(|prompt| prompt.group).collect();
            self.groups.retain(|id, _| live.contains(id));
        }
        if !matches.is_empty() {
            self.report(group_id, event.time_ms, out);
        }
        Ok(())
    }
}

export_detector!(CrossThreadPattern);

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(id: u64, hours: i64, thread: &str, text: &str) -> Event {
        Event::at(id, hours * 3_600_000, "thread.prompt").source("amp-thread").actor("user").thread(thread).subject(text)
    }

    const NOISE: &[&str] = &[
        "Fix the failing test in src/payments/refund.py",
        "Add a --json flag to the export command",
        "Fix the failing test in src/auth/session.py",
        "Why is the dashboard slow when there are many projects?",
        "Rename the config loader module and update imports",
        "Fix the failing test in src/api/routes.py",
        "Write a migration that adds an index on events.timestamp",
        "Update the changelog for the 2.3 release",
        "Fix the failing test in src/cli/main.py",
        "Refactor the retry logic in the http client",
    ];

    #[test]
    fn the_same_question_in_other_words_across_threads_is_reported() -> Result<(), String> {
        let mut detector = CrossThreadPattern::default();
        let mut events: Vec<Event> =
            NOISE.iter().enumerate().map(|(index, text)| prompt(index as u64, index as i64, &format!("T-n{index}"), text)).collect();
        events.push(prompt(100, 20, "T-a", "How do I make devloop skip the vendor directory when linting?"));
        events.push(prompt(101, 30, "T-b", "devloop keeps linting vendor/ - how can I exclude the vendor directory?"));
        events.push(prompt(102, 40, "T-c", "Exclude the vendor directory from devloop linting"));
        let insights = detector.process(&events)?;
        assert!(!insights.is_empty(), "paraphrases must meet");
        let last = insights.last().expect("reported");
        assert_eq!(last.affected_threads, vec!["T-a", "T-b", "T-c"]);
        assert!(last.message.contains("vendor"), "{}", last.message);
        assert!(insights.iter().all(|insight| insight.key == insights[0].key));
        Ok(())
    }

    #[test]
    fn templated_requests_about_different_things_stay_quiet() -> Result<(), String> {
        let mut detector = CrossThreadPattern::default();
        let events: Vec<Event> =
            NOISE.iter().enumerate().map(|(index, text)| prompt(index as u64, index as i64, &format!("T-n{index}"), text)).collect();
        let insights = detector.process(&events)?;
        assert!(insights.is_empty(), "{insights:#?}");
        Ok(())
    }

    #[test]
    fn repeats_within_one_thread_do_not_count() -> Result<(), String> {
        let mut detector = CrossThreadPattern::default();
        let events: Vec<Event> =
            (0..5).map(|index| prompt(index, index as i64, "T-1", "How do I exclude vendor from linting?")).collect();
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }
}
