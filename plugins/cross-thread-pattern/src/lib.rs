//! `cross_thread_pattern`: the same question asked in several agent threads — in different
//! words, not only identical ones. Something people need keeps being missing from the docs, the
//! tool's output, or the agent's context.
//!
//! Each prompt (`thread.prompt`) becomes a set of content words: compounds joined however they
//! were written (`auto-fix`, `auto fix`, `autofix`), stop words dropped, stemmed, a small
//! thesaurus folded (`folder`/`dir` → `directory`, `exclude`/`ignore` → `skip`), and typos one
//! edit away from a word seen before read as that word. It is compared with the groups of other
//! threads' prompts from the last `window_days` using Jaccard weighted by inverse document
//! frequency, so the shared rare words of one question ("vendor", "exclude") count and the
//! words every request shares ("fix", "test", a template's fixed words) do not: "add caching /
//! logging / pagination to the orders endpoint" differ in the one word that carries weight.
//! Where a template's own words are rarer than its slot ("Add a --json flag to the export /
//! prune command", when the commands are talked about and the flag is not), the prompts share a
//! run of words as typed and each has a word of its own: a template filled in differently,
//! never the same question (which, in other words, shares few words as typed). A
//! prompt at least `similarity` alike to a group joins it; a group spanning `min_threads`
//! threads is reported at once (there is no warm-up), keyed by its first prompt, and updated as
//! threads join.
//!
//! Candidate groups are found through an index from each word to the groups whose first prompt
//! has it, looked up by the prompt's rarest words only, so a prompt is compared with a bounded
//! number of groups, not with all of them.
//!
//! The state is bounded by the words of the last `forget_after_days`: a word no prompt used for
//! that long leaves the document frequencies (it reads as rare as a new word if it comes back)
//! and the vocabulary (its typos are learned anew), groups quiet for `window_days` are
//! dropped, a group keeps its first 50 threads (a question asked in more is reported as asked
//! in at least that many, and not re-sent for each further thread), and the sum of its members'
//! similarities, not each one. A sweep once a day of event time, its time saved in the state,
//! drops what was forgotten, so a run in pieces stores what one run does.

use std::collections::{BTreeMap, BTreeSet};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state::Saved;
use devloop_plugin_sdk::text::{DocumentFrequencies, Vocabulary, join_compounds, synonym, words};
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "cross_thread_pattern";

/// Groups kept for comparison; past this the least recently active tenth gives way.
const MAX_GROUPS: usize = 5_000;

/// Threads a group keeps. A question asked in this many threads is established; past it the
/// group is reported as asked in at least this many and stops growing: without the bound a
/// question every agent asks would keep every thread's id, and each new thread would re-send
/// the whole list (quadratic in the threads, through the store and the sinks).
const MAX_THREADS: usize = 50;

/// Words two prompts share as typed, in a row, that make them one template when each also has
/// a word of its own: "Add a --json flag to the" export / prune command.
const TEMPLATE_RUN: usize = 4;

/// Words of a prompt read for its template, at most.
const TEMPLATE_WORDS: usize = 64;

/// A prompt's rarest words used to find candidate groups, and groups remembered per word.
const LOOKUP_WORDS: usize = 4;
const GROUPS_PER_WORD: usize = 64;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Group {
    /// The first prompt's id: the finding's key.
    anchor: u64,
    anchor_text: String,
    /// The first prompt's terms: later prompts join by similarity to it, not to any member,
    /// so a chain of near neighbours cannot drift into a group of unrelated requests.
    leader_terms: BTreeSet<String>,
    last_ms: i64,
    /// The first [`MAX_THREADS`] threads that asked.
    threads: BTreeSet<String>,
    members: Vec<(u64, i64, String)>,
    /// The terms of the first members, for "alike to most of the group".
    member_terms: Vec<BTreeSet<String>>,
    /// The files the first prompt names.
    subjects: BTreeSet<String>,
    /// The similarities of the prompts that joined, summed in the order they joined (so the
    /// mean reads as the mean of the list formats before 2 kept), and how many joined.
    #[serde(default)]
    similarity_sum: f64,
    #[serde(default)]
    joined: u64,
    /// Every similarity, as format 1 kept them; read into the sum when a snapshot is migrated.
    #[serde(default, skip_serializing)]
    similarities: Vec<f64>,
}

pub struct CrossThreadPattern {
    similarity: f64,
    min_threads: usize,
    window_ms: i64,
    forget_ms: i64,
    frequencies: DocumentFrequencies,
    vocabulary: Vocabulary,
    groups: BTreeMap<u64, Group>,
    /// Word → groups whose first prompt has it (newest last).
    index: BTreeMap<String, Vec<u64>>,
    since_sweep: usize,
    reported: LastReported<u64>,
    /// When the words not used within the horizon were last forgotten.
    swept_ms: i64,
}

impl Default for CrossThreadPattern {
    fn default() -> Self {
        CrossThreadPattern {
            similarity: 0.5,
            min_threads: 3,
            window_ms: 14 * DAY_MS,
            forget_ms: 30 * DAY_MS,
            frequencies: DocumentFrequencies::new(),
            vocabulary: Vocabulary::new(),
            groups: BTreeMap::new(),
            index: BTreeMap::new(),
            since_sweep: 0,
            reported: LastReported::new(),
            swept_ms: 0,
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

/// A prompt's words as typed, lower-cased, without the punctuation around them.
fn typed_words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric() && c != '-').to_lowercase())
        .filter(|word| !word.is_empty())
        .take(TEMPLATE_WORDS)
        .collect()
}

/// The longest run of words two prompts share word for word.
fn longest_shared_run(one: &[String], other: &[String]) -> usize {
    let (mut previous, mut current) = (vec![0; other.len() + 1], vec![0; other.len() + 1]);
    let mut longest = 0;
    for word in one {
        for (index, other_word) in other.iter().enumerate() {
            current[index + 1] = if word == other_word { previous[index] + 1 } else { 0 };
            longest = longest.max(current[index + 1]);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    longest
}

/// Whether two prompts are one template filled in differently ("Add a --json flag to the
/// export command" / "… the prune command", "Pick up bd-412 from the bd ready queue (…)"): they
/// share a run of [`TEMPLATE_RUN`] words as typed, and each has a content word the other lacks,
/// its slot. The same question in other words shares few words as typed, and a copy with a
/// word added or mistyped has no slot of its own on one side.
fn filled_in_differently(
    (text, terms): (&str, &BTreeSet<String>),
    (other_text, other_terms): (&str, &BTreeSet<String>),
) -> bool {
    !terms.is_subset(other_terms)
        && !other_terms.is_subset(terms)
        && longest_shared_run(&typed_words(text), &typed_words(other_text)) >= TEMPLATE_RUN
}

impl CrossThreadPattern {
    /// The content words of a prompt, compounds joined, synonyms folded, typos corrected.
    fn terms(&mut self, text: &str, now_ms: i64) -> BTreeSet<String> {
        words(&join_compounds(text))
            .into_iter()
            .map(|word| {
                let word = synonym(&word).to_owned();
                self.vocabulary.canonical_at(&word, now_ms)
            })
            .collect()
    }

    /// Once a day of event time, forgets the words no prompt used within the horizon: memory
    /// only, and a run in pieces forgets where one run does.
    fn forget(&mut self, now_ms: i64) {
        if now_ms - self.swept_ms < DAY_MS {
            return;
        }
        self.swept_ms = now_ms;
        self.frequencies.forget(now_ms, self.forget_ms);
        self.vocabulary.forget(now_ms, self.forget_ms);
    }

    /// How alike a prompt is to a group: to its first prompt, or else the median of its
    /// similarities to the members (alike to at least half of them), never to a lone member,
    /// so a chain of near neighbours cannot drift into a group of unrelated requests. A prompt
    /// about other files than the first's, or the first's template filled in differently, asks
    /// something else.
    fn similarity_to(
        &self,
        (text, terms): (&str, &BTreeSet<String>),
        subjects: &BTreeSet<String>,
        group: &Group,
    ) -> f64 {
        if !subjects.is_empty() && !group.subjects.is_empty() && subjects.is_disjoint(&group.subjects) {
            return 0.0;
        }
        if filled_in_differently((text, terms), (&group.anchor_text, &group.leader_terms)) {
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

    /// The groups that share one of the prompt's rarest words.
    fn candidates(&self, terms: &BTreeSet<String>) -> BTreeSet<u64> {
        let mut by_rarity: Vec<&String> = terms.iter().collect();
        by_rarity.sort_by(|a, b| self.frequencies.idf(b).total_cmp(&self.frequencies.idf(a)).then(a.cmp(b)));
        by_rarity
            .into_iter()
            .take(LOOKUP_WORDS)
            .filter_map(|term| self.index.get(term))
            .flatten()
            .copied()
            .filter(|id| self.groups.contains_key(id))
            .collect()
    }

    /// Drops groups quiet for longer than the window (and, past `MAX_GROUPS`, the stalest
    /// tenth), once per as many prompts as there are groups.
    fn sweep(&mut self, now_ms: i64) {
        self.since_sweep += 1;
        if self.since_sweep < self.groups.len().max(64) && self.groups.len() < MAX_GROUPS {
            return;
        }
        self.since_sweep = 0;
        let window_ms = self.window_ms;
        self.groups.retain(|_, group| now_ms - group.last_ms <= window_ms);
        if self.groups.len() >= MAX_GROUPS {
            let mut last: Vec<i64> = self.groups.values().map(|group| group.last_ms).collect();
            last.sort_unstable();
            let cutoff = last[MAX_GROUPS / 10];
            self.groups.retain(|_, group| group.last_ms > cutoff);
        }
        let groups = &self.groups;
        self.index.retain(|_, ids| {
            ids.retain(|id| groups.contains_key(id));
            !ids.is_empty()
        });
    }

    fn report(&mut self, group_id: u64, time_ms: i64, out: &mut Vec<Insight>) {
        let group = &self.groups[&group_id];
        if group.threads.len() < self.min_threads {
            return;
        }
        let mean_similarity = group.similarity_sum / group.joined.max(1) as f64;
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
        let question = group.anchor_text.as_str();
        let mut insight = Insight::new(PATTERN, format!("prompt-group-{:016x}", group.anchor))
            .severity(if group.threads.len() >= 2 * self.min_threads { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.95))
            .message(format!(
                "The same question was asked in {at_least}{count} threads ({list}): \"{question}\"",
                at_least = if threads.len() >= MAX_THREADS { "at least " } else { "" },
                count = threads.len(),
                list = threads.iter().take(4).cloned().collect::<Vec<_>>().join(", "),
            ))
            .recommendation(
                "Answer this once where people and agents look first: document it, make the tool's output or error \
                 say it, or add it to the agent's instructions (AGENTS.md), then check the threads stop asking."
                    .to_owned(),
            )
            .evidence("question", question)
            .evidence("threads", threads.clone())
            .evidence("thread_count", threads.len())
            .evidence("prompts", examples)
            .evidence("mean_similarity", (mean_similarity * 1000.0).round() / 1000.0);
        for (id, time, _) in &group.members {
            insight = insight.event_id(*id, *time);
        }
        for thread in threads {
            insight = insight.thread(thread.to_owned());
        }
        let insight = insight.at(time_ms);
        if self.reported.changed(group_id, &insight) {
            out.push(insight);
        }
    }
}

impl Detector for CrossThreadPattern {
    fn info() -> DetectorInfo {
        DetectorInfo::new("cross-thread-pattern", env!("CARGO_PKG_VERSION"))
            .fields([] as [&str; 0])
            .pattern(PATTERN)
            .kinds(["thread.prompt"])
            .setting(
                "similarity",
                0.5,
                "IDF-weighted Jaccard similarity (0-1) at which a prompt asks what a group asks. Default 0.5: \
                 paraphrases of one question share their rare words and reach it; templated requests that differ \
                 in the one word that matters (caching / logging / pagination) stay below it.",
            )
            .setting(
                "min_threads",
                3_i64,
                "Distinct threads that must ask it. Default 3: twice can be chance, three threads asking the \
                 same thing is something missing from the docs or the tool.",
            )
            .setting(
                "window_days",
                14_i64,
                "How long a group stays open after its last prompt. Default 14: a question asked again within \
                 two weeks is the same need; older groups are dropped, which keeps memory bounded.",
            )
            .setting(
                "forget_after_days",
                30_i64,
                "Days after which a word no prompt used is forgotten: it leaves the word frequencies (reading \
                 as rare as a new word if it comes back) and the typo vocabulary. Never shorter than \
                 `window_days`. Default 30: twice the group window, so every open group's words are known, \
                 and the state stays bounded by the words of the last month.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.similarity = settings.float("similarity")?;
        if !(0.0..=1.0).contains(&self.similarity) {
            return Err(format!("setting `similarity` must be between 0 and 1, not {}", self.similarity));
        }
        self.min_threads = settings.integer_at_least("min_threads", 2)? as usize;
        self.window_ms = settings.integer_at_least("window_days", 1)? * DAY_MS;
        self.forget_ms = (settings.integer_at_least("forget_after_days", 1)? * DAY_MS).max(self.window_ms);
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        self.forget(event.time_ms);
        let (Some(thread), Some(text)) =
            (event.thread_id.as_deref().map(str::to_owned), event.subject.as_deref().map(str::to_owned))
        else {
            return Ok(());
        };
        let terms = self.terms(&text, event.time_ms);
        if terms.is_empty() {
            return Ok(());
        }
        let subjects = subjects(&text);
        self.frequencies.add_at(&terms, event.time_ms);
        self.sweep(event.time_ms);

        let window_ms = self.window_ms;
        let mut best: Option<(u64, f64)> = None;
        for id in self.candidates(&terms) {
            let group = &self.groups[&id];
            if event.time_ms - group.last_ms > window_ms {
                continue;
            }
            let similarity = self.similarity_to((&text, &terms), &subjects, group);
            if similarity >= self.similarity && best.is_none_or(|(_, best_similarity)| similarity > best_similarity) {
                best = Some((id, similarity));
            }
        }
        let group_id = best.map_or(event.id, |(id, _)| id);
        if best.is_none() {
            for term in &terms {
                let ids = self.index.entry(term.clone()).or_default();
                if ids.len() == GROUPS_PER_WORD {
                    ids.remove(0);
                }
                ids.push(group_id);
            }
        }
        let group = self.groups.entry(group_id).or_insert_with(|| Group {
            anchor: event.id,
            anchor_text: text.clone(),
            leader_terms: terms.clone(),
            subjects,
            ..Group::default()
        });
        group.last_ms = event.time_ms;
        let new_thread = group.threads.len() < MAX_THREADS && group.threads.insert(thread);
        if group.members.len() < 20 {
            group.members.push((event.id, event.time_ms, text));
            group.member_terms.push(terms);
        }
        if let Some((_, similarity)) = best {
            group.similarity_sum += similarity;
            group.joined += 1;
            if new_thread {
                self.report(group_id, event.time_ms, out);
            }
        }
        Ok(())
    }

    keep_state!(
        format = 2, migrate = CrossThreadPattern::migrate;
        frequencies, vocabulary, groups, index, since_sweep, reported, swept_ms
    );
}

impl CrossThreadPattern {
    /// Reads a format-1 snapshot: it did not say when a word was last used, so every word
    /// counts as used at the newest time the snapshot holds (its latest group's last prompt);
    /// a group's list of similarities becomes their sum and count.
    fn migrate(&mut self, saved: Saved) -> Result<(), String> {
        if saved.format != 1 {
            return Err(saved.unconvertible());
        }
        let read: Result<(), String> = devloop_plugin_sdk::keep_state!(@read self, saved, 1;
            frequencies, vocabulary, groups, index, since_sweep, reported);
        read?;
        let newest_ms = self.groups.values().map(|group| group.last_ms).max().unwrap_or(0);
        for group in self.groups.values_mut() {
            let similarities = std::mem::take(&mut group.similarities);
            group.joined = similarities.len() as u64;
            group.similarity_sum = similarities.into_iter().sum();
        }
        self.frequencies.date_undated(newest_ms);
        self.vocabulary.date_undated(newest_ms);
        self.swept_ms = newest_ms;
        Ok(())
    }
}

export_detector!(CrossThreadPattern);

#[cfg(test)]
mod tests {
    use devloop_plugin_sdk::state;

    use super::*;

    fn prompt(id: u64, hours: i64, thread: &str, text: &str) -> Event<'static> {
        Event::at(id, hours * 3_600_000, "thread.prompt")
            .source("amp-thread")
            .actor("user")
            .thread(thread.to_owned())
            .subject(text.to_owned())
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
        detector.configure(&CrossThreadPattern::info().settings(Vec::new())?)?;
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
    fn a_question_every_thread_asks_is_reported_up_to_a_bound_of_threads() -> Result<(), String> {
        let mut detector = detector()?;
        let asked = |index: u64| {
            let thread = format!("T-{index:04}");
            prompt(index, index as i64, &thread, "How do I exclude the vendor directory from devloop linting?")
        };
        let first: Vec<Event> = (0..MAX_THREADS as u64).map(asked).collect();
        let insights = detector.process(&first)?;
        // Reported from the third thread on, once per new thread.
        assert_eq!(insights.len(), MAX_THREADS - 2);
        let last = insights.last().expect("reported");
        assert_eq!(last.affected_threads.len(), MAX_THREADS);
        assert!(last.message.contains(&format!("at least {MAX_THREADS} threads")), "{}", last.message);
        let kept = detector.snapshot().ok_or("cross-thread-pattern keeps state")?.len();
        let more: Vec<Event> = (MAX_THREADS as u64..4 * MAX_THREADS as u64).map(asked).collect();
        assert!(detector.process(&more)?.is_empty(), "the established finding is not re-sent for every thread");
        let later = detector.snapshot().ok_or("cross-thread-pattern keeps state")?.len();
        // The group's time and similarities change; no thread is added.
        assert!(later < kept + 64, "state grew from {kept} to {later} bytes");
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
    fn three_threads_asking_in_other_words_and_spellings_are_reported_without_warm_up() -> Result<(), String> {
        let mut detector = detector()?;
        let events = vec![
            prompt(100, 0, "T-a", "How do I turn off auto-fix for the formatter?"),
            prompt(101, 1, "T-b", "formatter autofix: how to turn it off"),
            prompt(102, 2, "T-c", "turn off the formattr auto fix please"),
        ];
        let insights = detector.process(&events)?;
        let last = insights.last().ok_or("reported at the third thread")?;
        assert_eq!(last.affected_threads, vec!["T-a", "T-b", "T-c"]);
        assert!(last.message.contains("How do I turn off auto-fix for the formatter?"), "{}", last.message);
        Ok(())
    }

    /// Twenty weeks: every day ten threads asking about words of that day's own (a new
    /// vocabulary daily), beside a question asked every day.
    fn day_of_prompts(day: i64, id: &mut u64) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        let letters = |number: i64| -> String {
            (0..4).map(|place| char::from(b'a' + (number / 26_i64.pow(place) % 26) as u8)).collect()
        };
        for hour in 0..10_i64 {
            *id += 1;
            let (first, second) = (letters(day * 20 + hour), letters(day * 20 + 10 + hour));
            let text = format!("How do I configure the plug{first} widg{second} for releases?");
            events.push(prompt(*id, day * 24 + 8 + hour, &format!("T-{day}-{hour}"), &text));
        }
        *id += 1;
        events.push(prompt(*id, day * 24 + 19, &format!("T-{day}-vendor"), "How do I exclude the vendor directory?"));
        events
    }

    #[test]
    fn state_stays_bounded_by_the_words_of_the_horizon() -> Result<(), String> {
        let mut detector = detector()?;
        let (mut id, mut sizes) = (0, Vec::new());
        for day in 0..140_i64 {
            detector.process(&day_of_prompts(day, &mut id))?;
            if day % 28 == 27 {
                // Groups are dropped by their own window (and swept every so many prompts);
                // the word tables are what grew with history.
                let opened = Saved::open(&detector.snapshot().ok_or("cross-thread-pattern keeps state")?)?;
                let tables = [&opened.state["frequencies"], &opened.state["vocabulary"]];
                let bytes: usize = tables.iter().map(|table| state::save(table).map_or(0, |saved| saved.len())).sum();
                sizes.push((detector.frequencies.words(), detector.vocabulary.len(), bytes));
            }
        }
        let (words, spellings, bytes) = sizes[1];
        assert!(words <= 31 * 20 + 10, "the last 30 days' words: {sizes:?}");
        for (later_words, later_spellings, later_bytes) in &sizes[2..] {
            // Made-up words one letter apart are read as typos of each other, so how many
            // stand on their own varies a little from day to day.
            assert!(*later_words <= words + words / 5, "words stop growing: {sizes:?}");
            assert!(*later_spellings <= spellings + spellings / 5, "spellings stop growing: {sizes:?}");
            assert!(*later_bytes <= bytes + bytes / 5, "the word tables stop growing: {sizes:?}");
        }
        Ok(())
    }

    #[test]
    fn a_format_1_snapshot_goes_on_from_where_it_was() -> Result<(), String> {
        let mut before = detector()?;
        let mut id = 0;
        let events: Vec<Event> = (0..3).flat_map(|day| day_of_prompts(day, &mut id)).collect();
        before.process(&events)?;
        // Format 1 was today's layout with no dates of words and no sweep time.
        let mut opened = Saved::open(&before.snapshot().ok_or("cross-thread-pattern keeps state")?)?;
        assert_eq!(opened.format, 2);
        let saved_state = opened.state.as_object_mut().ok_or("an object")?;
        saved_state.remove("swept_ms").ok_or("kept")?;
        for field in ["frequencies", "vocabulary"] {
            let table = saved_state.get_mut(field).and_then(|table| table.as_object_mut()).ok_or("a table")?;
            table.remove("last_ms").ok_or("kept")?;
        }
        let saved = state::save_versioned(1, &opened.state).ok_or("serializable")?;
        let mut migrated = detector()?;
        migrated.restore(&saved)?;
        let newest_ms = (2 * 24 + 19) * 3_600_000;
        assert_eq!(migrated.swept_ms, newest_ms);
        assert_eq!(migrated.frequencies.words(), before.frequencies.words());
        // It goes on as the detector that saw the events would.
        let more = day_of_prompts(3, &mut id);
        let (after, expected) = (migrated.process(&more)?, before.process(&more)?);
        assert_eq!(format!("{after:?}"), format!("{expected:?}"));
        // Forty days on, the words of the first days are forgotten, dated at migration or not:
        // it knows the words a detector that saw only that day would.
        let later = day_of_prompts(40, &mut id);
        migrated.process(&later)?;
        let mut fresh = detector()?;
        fresh.process(&later)?;
        assert_eq!(migrated.frequencies.words(), fresh.frequencies.words());
        Ok(())
    }

    #[test]
    fn templated_prompts_asking_for_different_things_stay_quiet() -> Result<(), String> {
        let mut detector = detector()?;
        let events: Vec<Event> = ["pagination", "caching", "logging", "rate limiting"]
            .iter()
            .enumerate()
            .map(|(index, feature)| {
                prompt(
                    index as u64,
                    index as i64,
                    &format!("T-{index}"),
                    &format!("Add {feature} to the orders endpoint"),
                )
            })
            .collect();
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn a_template_whose_fixed_words_are_rare_is_still_told_from_one_question() -> Result<(), String> {
        // Nothing else asks for a --json flag, and the commands are talked about all day: the
        // template's own words are rarer than its slot.
        let mut detector = detector()?;
        let talk = [
            "The export drops unicode titles",
            "Retry the sync when the database is locked",
            "Make prune keep the last ten backups",
            "The import ignores closed issues",
            "Why is the export so slow on big projects",
            "Sync fails behind the corporate proxy",
            "Prune deletes the wrong snapshots",
            "Import from the old tracker loses labels",
            "Export to CSV puts dates in the wrong order",
            "Can sync run in the background",
            "Prune should ask before deleting anything",
            "Import crashes on an empty file",
        ];
        let mut events: Vec<Event> = talk
            .iter()
            .enumerate()
            .map(|(index, text)| prompt(100 + index as u64, index as i64, &format!("T-t{index}"), text))
            .collect();
        events.extend(["export", "import", "prune", "sync"].iter().enumerate().map(|(index, command)| {
            let text = format!("Add a --json flag to the {command} command");
            prompt(index as u64, 20 + index as i64, &format!("T-j{index}"), &text)
        }));
        let insights = detector.process(&events)?;
        assert!(insights.is_empty(), "{insights:#?}");
        assert!(
            !filled_in_differently(
                ("How do I make devloop ignore node_modules?", &BTreeSet::from(["node_modules".to_owned()])),
                (
                    "How do I make devloop ignore the node_modules folder?",
                    &BTreeSet::from(["node_modules".to_owned(), "directory".to_owned()])
                ),
            ),
            "a word added on one side is no slot"
        );
        Ok(())
    }
}
