//! `cross_thread_pattern`: the same question asked in several agent threads — in different
//! words, not only identical ones. Something people need keeps being missing from the docs, the
//! tool's output, or the agent's context.
//!
//! Each prompt (`thread.prompt`) becomes a set of content words (normalized,
//! stop words dropped, stemmed). It is compared with the prompts of other threads from the last
//! `window_days` using Jaccard weighted by inverse document frequency, so the shared rare words
//! of one question ("vendor", "exclude") count and the words every request shares ("fix",
//! "test") do not. A prompt at least `similarity` alike to a group's first prompt joins that
//! group; a group spanning `min_threads` threads is reported, keyed by its first prompt so
//! replays update one finding. Word weights mean little until some prompts have been seen, so
//! nothing is reported before `warmup_prompts`.

use std::collections::{BTreeMap, BTreeSet};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::text::{DocumentFrequencies, shingles, words};

pub const PATTERN: &str = "cross_thread_pattern";

/// Groups kept for comparison; the least recently active give way first.
const MAX_GROUPS: usize = 5_000;

#[derive(Debug, Clone, Default)]
struct Group {
    /// The first prompt's id: the finding's key.
    anchor: u64,
    anchor_text: String,
    /// The first prompt's terms: later prompts join by similarity to it, not to any member,
    /// so a chain of near neighbours cannot drift into a group of unrelated requests.
    leader_terms: BTreeSet<String>,
    last_ms: i64,
    threads: BTreeSet<String>,
    members: Vec<(u64, i64, String)>,
    /// The terms of the first members, for "alike to most of the group".
    member_terms: Vec<BTreeSet<String>>,
    /// The files the first prompt names.
    subjects: BTreeSet<String>,
    similarities: Vec<f64>,
}

pub struct CrossThreadPattern {
    similarity: f64,
    min_threads: usize,
    window_ms: i64,
    warmup_prompts: u64,
    frequencies: DocumentFrequencies,
    groups: BTreeMap<u64, Group>,
    suppressor: Suppressor<u64>,
}

impl Default for CrossThreadPattern {
    fn default() -> Self {
        CrossThreadPattern {
            similarity: 0.55,
            min_threads: 3,
            window_ms: 14 * 86_400_000,
            warmup_prompts: 20,
            frequencies: DocumentFrequencies::new(),
            groups: BTreeMap::new(),
            suppressor: Suppressor::new(1.3, i64::MAX),
        }
    }
}

/// The files and paths a prompt names (`src/app.py`, `vendor/`, `pyproject.toml`): two
/// requests about different files are different requests, however alike their wording.
fn subjects(text: &str) -> BTreeSet<String> {
    text.split_whitespace()
        .map(|token| token.trim_matches(|c: char| "?!,;:()\"'`".contains(c)).trim_end_matches('.').to_lowercase())
        .filter(|token| {
            token.contains('/')
                || token.split_once('.').is_some_and(|(name, extension)| {
                    !name.is_empty() && !extension.is_empty() && extension.chars().all(|c| c.is_ascii_alphanumeric())
                })
        })
        .collect()
}

/// Single content words: paraphrases share words far more often than word pairs.
fn terms(text: &str) -> BTreeSet<String> {
    shingles(&words(text), 1)
}

impl CrossThreadPattern {
    /// How alike a prompt is to a group: to its first prompt, or else the median of its
    /// similarities to the members (alike to at least half of them), never to a lone member,
    /// so a chain of near neighbours cannot drift into a group of unrelated requests.
    fn similarity_to(&self, terms: &BTreeSet<String>, subjects: &BTreeSet<String>, group: &Group) -> f64 {
        if !subjects.is_empty() && !group.subjects.is_empty() && subjects.is_disjoint(&group.subjects) {
            return 0.0;
        }
        let to_leader = self.frequencies.weighted_jaccard(terms, &group.leader_terms);
        if to_leader >= self.similarity || group.member_terms.len() < 2 {
            return to_leader;
        }
        let mut to_members: Vec<f64> =
            group.member_terms.iter().map(|member| self.frequencies.weighted_jaccard(terms, member)).collect();
        to_members.sort_by(|a, b| b.total_cmp(a));
        to_leader.max(to_members[(to_members.len() - 1) / 2])
    }

    fn report(&mut self, group_id: u64, time_ms: i64, out: &mut Vec<Insight>) {
        let group = &self.groups[&group_id];
        if group.threads.len() < self.min_threads || self.frequencies.documents() < self.warmup_prompts {
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
        let mut examples: Vec<String> = Vec::new();
        for (_, _, text) in &group.members {
            if examples.len() < 5 && !examples.contains(text) {
                examples.push(text.clone());
            }
        }
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
        for (id, time, _) in &group.members {
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
            .setting(
                "similarity",
                0.55,
                "IDF-weighted Jaccard similarity (0-1) at which a prompt asks what a group's first prompt asked.",
            )
            .setting("min_threads", 3_i64, "Distinct threads that must ask it.")
            .setting("window_days", 14_i64, "How long a group stays open after its last prompt.")
            .setting("warmup_prompts", 20_i64, "Prompts seen before word weights are trusted enough to report.")
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.similarity = settings.float("similarity")?;
        if !(0.0..=1.0).contains(&self.similarity) {
            return Err(format!("setting `similarity` must be between 0 and 1, not {}", self.similarity));
        }
        self.min_threads = settings.integer_at_least("min_threads", 2)? as usize;
        self.window_ms = settings.integer_at_least("window_days", 1)? * 86_400_000;
        self.warmup_prompts = settings.integer_at_least("warmup_prompts", 0)? as u64;
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
        let subjects = subjects(&text);
        self.frequencies.add(&terms);
        let window_ms = self.window_ms;
        self.groups.retain(|_, group| event.time_ms - group.last_ms <= window_ms);
        if self.groups.len() >= MAX_GROUPS
            && let Some(stalest) = self.groups.iter().min_by_key(|(_, group)| group.last_ms).map(|(id, _)| *id)
        {
            self.groups.remove(&stalest);
        }

        let mut best: Option<(u64, f64)> = None;
        for (id, group) in &self.groups {
            let similarity = self.similarity_to(&terms, &subjects, group);
            if similarity >= self.similarity && best.is_none_or(|(_, best_similarity)| similarity > best_similarity) {
                best = Some((*id, similarity));
            }
        }
        let group_id = best.map_or(event.id, |(id, _)| id);
        let group = self.groups.entry(group_id).or_insert_with(|| Group {
            anchor: event.id,
            anchor_text: text.clone(),
            leader_terms: terms.clone(),
            subjects,
            ..Group::default()
        });
        group.last_ms = event.time_ms;
        let new_thread = group.threads.insert(thread);
        if group.members.len() < 20 {
            group.members.push((event.id, event.time_ms, text));
            group.member_terms.push(terms);
        }
        if let Some((_, similarity)) = best {
            group.similarities.push(similarity);
            if new_thread {
                self.report(group_id, event.time_ms, out);
            }
        }
        if self.frequencies.documents() == self.warmup_prompts {
            let waiting: Vec<u64> = self.groups.keys().copied().collect();
            for group_id in waiting {
                self.report(group_id, event.time_ms, out);
            }
        }
        Ok(())
    }
}

export_detector!(CrossThreadPattern);

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(id: u64, hours: i64, thread: &str, text: &str) -> Event {
        Event::at(id, hours * 3_600_000, "thread.prompt")
            .source("amp-thread")
            .actor("user")
            .thread(thread)
            .subject(text)
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

    fn detector() -> Result<CrossThreadPattern, String> {
        let mut detector = CrossThreadPattern::default();
        let settings = CrossThreadPattern::info()
            .settings(vec![Field { key: "warmup_prompts".into(), value: Value::Integer(5) }])?;
        detector.configure(&settings)?;
        Ok(detector)
    }

    #[test]
    fn the_same_question_in_other_words_across_threads_is_reported() -> Result<(), String> {
        let mut detector = detector()?;
        let mut events: Vec<Event> = NOISE
            .iter()
            .enumerate()
            .map(|(index, text)| prompt(index as u64, index as i64, &format!("T-n{index}"), text))
            .collect();
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
        let mut detector = detector()?;
        let events: Vec<Event> = NOISE
            .iter()
            .enumerate()
            .map(|(index, text)| prompt(index as u64, index as i64, &format!("T-n{index}"), text))
            .collect();
        let insights = detector.process(&events)?;
        assert!(insights.is_empty(), "{insights:#?}");
        Ok(())
    }

    #[test]
    fn requests_about_different_files_are_different_requests() -> Result<(), String> {
        assert_eq!(subjects("Fix the failing test in src/views.py."), BTreeSet::from(["src/views.py".to_owned()]));
        assert_eq!(
            subjects("why is pyproject.toml changed? see vendor/"),
            BTreeSet::from(["pyproject.toml".to_owned(), "vendor/".to_owned()])
        );
        assert!(subjects("Why is it slow. Really").is_empty());
        let mut detector = detector()?;
        let events: Vec<Event> =
            ["src/views.py", "src/utils.py", "src/models.py", "src/db.py", "src/app.py", "src/cli.py"]
                .iter()
                .enumerate()
                .map(|(index, file)| {
                    prompt(
                        index as u64,
                        index as i64,
                        &format!("T-{index}"),
                        &format!("Fix the failing test in {file}"),
                    )
                })
                .collect();
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn repeats_within_one_thread_do_not_count() -> Result<(), String> {
        let mut detector = detector()?;
        let events: Vec<Event> =
            (0..5).map(|index| prompt(index, index as i64, "T-1", "How do I exclude vendor from linting?")).collect();
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn groups_formed_during_warmup_are_reported_once_it_ends() -> Result<(), String> {
        let mut detector = CrossThreadPattern::default();
        let mut events = vec![
            prompt(100, 0, "T-a", "How do I make devloop skip the vendor directory when linting?"),
            prompt(101, 1, "T-b", "devloop keeps linting vendor/ - how can I exclude the vendor directory?"),
            prompt(102, 2, "T-c", "Exclude the vendor directory from devloop linting"),
        ];
        assert!(detector.process(&events)?.is_empty(), "too few prompts to trust word weights yet");
        events = (0..17)
            .map(|index| prompt(index, 3 + index as i64, &format!("T-n{index}"), NOISE[index as usize % NOISE.len()]))
            .collect();
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        assert_eq!(insights[0].affected_threads, vec!["T-a", "T-b", "T-c"]);
        Ok(())
    }
}
