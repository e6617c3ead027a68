//! `failure_workaround`: a command fails and, within minutes, the same person gets the job done
//! with a *different* command instead — and the same pair recurs. That is a missing feature
//! or a broken path people have learned to route around (`release publish` fails, `twine
//! upload dist/*` succeeds).
//!
//! A failure opens an *episode* for its person (the user when there is one, else the thread)
//! that lasts `window_seconds`; every different command that succeeds during it is a follower
//! of that failure, counted once per episode — not only the first, so a `git diff` people run
//! after any failure cannot hide the real workaround behind it. The failed command succeeding
//! on retry closes the episode (that is a retry, not a workaround). A pair is reported once it
//! happened on `min_occasions` occasions, follows at least `min_share` of the failed command's
//! failures, and is `min_lift` times likelier after that failure than its base rate: how
//! often it follows the *other* commands' failures, or how common it is among all successful
//! commands, whichever is higher — so `status` or `git diff`, which people run after any
//! failure about as often as after success, is never "the workaround".
//!
//! Per event the detector looks at the person's open episodes only (bounded: at most
//! `MAX_OPEN` per person, each at most `window_seconds` old): amortized O(log n).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::text::command_key;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "failure_workaround";

/// Open failure episodes kept per person; the oldest gives way first.
const MAX_OPEN: usize = 16;

/// Failure episodes of other commands needed before their followers are a base rate.
const MIN_OTHER_EPISODES: u64 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Episode {
    /// The grouping key of the failed command, and the command as logged.
    key: String,
    command: String,
    id: u64,
    time_ms: i64,
    error: Option<String>,
    /// Commands already counted as followers of this episode.
    followers: BTreeSet<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Pair {
    /// The commands as first logged.
    failed: String,
    workaround: String,
    occasions: u64,
    gaps_ms: Vec<i64>,
    people: Vec<String>,
    errors: Vec<String>,
    events: Vec<(u64, i64)>,
}

pub struct FailureWorkaround {
    window_ms: i64,
    min_occasions: u64,
    min_share: f64,
    min_lift: f64,
    /// Open failure episodes per person, oldest first.
    open: BTreeMap<String, VecDeque<Episode>>,
    /// Failure episodes per command, and of all commands.
    failures: BTreeMap<String, u64>,
    episodes: u64,
    /// Episodes (of any failed command) each command followed.
    after_failures: BTreeMap<String, u64>,
    /// Successful runs per command, and of all commands.
    successes_of: BTreeMap<String, u64>,
    successes: u64,
    pairs: PairMap<(String, String), Pair>,
    reported: LastReported<(String, String)>,
}

impl Default for FailureWorkaround {
    fn default() -> Self {
        FailureWorkaround {
            window_ms: 600_000,
            min_occasions: 3,
            min_share: 0.5,
            min_lift: 3.0,
            open: BTreeMap::new(),
            failures: BTreeMap::new(),
            episodes: 0,
            after_failures: BTreeMap::new(),
            successes_of: BTreeMap::new(),
            successes: 0,
            pairs: PairMap::default(),
            reported: LastReported::new(),
        }
    }
}

impl FailureWorkaround {
    /// How often `workaround` turns up when nothing about `failed` calls for it.
    fn base_rate(&self, failed: &str, workaround: &str, occasions: u64) -> f64 {
        let among_successes =
            self.successes_of.get(workaround).copied().unwrap_or(0) as f64 / self.successes.max(1) as f64;
        let other_episodes = self.episodes - self.failures.get(failed).copied().unwrap_or(0);
        let after_other_failures = if other_episodes >= MIN_OTHER_EPISODES {
            let after = self.after_failures.get(workaround).copied().unwrap_or(0).saturating_sub(occasions);
            after as f64 / other_episodes as f64
        } else {
            0.0
        };
        among_successes.max(after_other_failures)
    }

    fn report(&mut self, key: &(String, String), time_ms: i64, out: &mut Vec<Insight>) {
        let Some(pair) = self.pairs.get(key) else { return };
        let failures = self.failures.get(&key.0).copied().unwrap_or(0).max(pair.occasions);
        let share = pair.occasions as f64 / failures as f64;
        let base_rate = self.base_rate(&key.0, &key.1, pair.occasions);
        let lift = share / base_rate.max(1e-3);
        if pair.occasions < self.min_occasions || share < self.min_share || lift < self.min_lift {
            return;
        }
        let mut gaps = pair.gaps_ms.clone();
        gaps.sort_unstable();
        let median_gap_seconds = gaps[gaps.len() / 2] as f64 / 1000.0;
        let confidence = binomial_confidence(pair.occasions, failures, base_rate.max(0.05));
        let (failed, workaround) = (&pair.failed, &pair.workaround);
        let mut insight = Insight::new(PATTERN, insight_key(&[&key.0, &key.1]))
            .severity(if pair.occasions >= 2 * self.min_occasions { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(format!(
                "`{failed}` fails and is worked around with `{workaround}`: {occasions} of {failures} failures \
                 were followed by it within {minutes} min",
                occasions = pair.occasions,
                minutes = self.window_ms / 60_000,
            ))
            .recommendation(format!(
                "`{failed}` is missing what `{workaround}` does for people: fix the failure path, or make \
                 `{failed}` do (or suggest) `{workaround}` itself when it fails."
            ))
            .evidence("failed_command", failed.as_str())
            .evidence("workaround_command", workaround.as_str())
            .evidence("occasions", pair.occasions)
            .evidence("failures", failures)
            .evidence("share", (share * 1000.0).round() / 1000.0)
            .evidence("base_rate", (base_rate * 1000.0).round() / 1000.0)
            .evidence("lift", (lift * 10.0).round() / 10.0)
            .evidence("median_gap_seconds", median_gap_seconds)
            .evidence("people", pair.people.clone());
        if !pair.errors.is_empty() {
            insight = insight.evidence("errors", pair.errors.clone());
        }
        for (id, time) in &pair.events {
            insight = insight.event_id(*id, *time);
        }
        let insight = insight.at(time_ms);
        if self.reported.changed(key.clone(), &insight) {
            out.push(insight);
        }
    }

    fn failed(&mut self, who: String, key: String, event: &Event) {
        let window_ms = self.window_ms;
        let open = self.open.entry(who).or_default();
        while open.front().is_some_and(|episode| event.time_ms - episode.time_ms > window_ms) {
            open.pop_front();
        }
        if let Some(episode) = open.iter_mut().find(|episode| episode.key == key) {
            // The same failure again inside its episode: one episode, now reaching further.
            episode.time_ms = event.time_ms;
            return;
        }
        if open.len() == MAX_OPEN {
            open.pop_front();
        }
        *self.failures.entry(key.clone()).or_default() += 1;
        self.episodes += 1;
        open.push_back(Episode {
            key,
            command: event.subject_or_empty().trim().to_owned(),
            id: event.id,
            time_ms: event.time_ms,
            error: event.text("error_message").filter(|error| !error.is_empty()).map(str::to_owned),
            followers: BTreeSet::new(),
        });
    }

    fn succeeded(&mut self, who: String, key: String, event: &Event, out: &mut Vec<Insight>) {
        self.successes += 1;
        *self.successes_of.entry(key.clone()).or_default() += 1;
        let window_ms = self.window_ms;
        let Some(open) = self.open.get_mut(&who) else { return };
        while open.front().is_some_and(|episode| event.time_ms - episode.time_ms > window_ms) {
            open.pop_front();
        }
        open.retain(|episode| episode.key != key);
        let mut touched = Vec::new();
        for episode in open.iter_mut() {
            if !episode.followers.insert(key.clone()) {
                continue;
            }
            *self.after_failures.entry(key.clone()).or_default() += 1;
            let pair_key = (episode.key.clone(), key.clone());
            let pair = self.pairs.entry(pair_key.clone()).or_insert_with(|| Pair {
                failed: episode.command.clone(),
                workaround: event.subject_or_empty().trim().to_owned(),
                ..Pair::default()
            });
            pair.occasions += 1;
            pair.gaps_ms.push(event.time_ms - episode.time_ms);
            if !pair.people.contains(&who) && pair.people.len() < 5 {
                pair.people.push(who.clone());
            }
            if let Some(error) = episode.error.clone()
                && pair.errors.len() < 3
                && !pair.errors.contains(&error)
            {
                pair.errors.push(error);
            }
            if pair.events.len() < 10 {
                pair.events.push((episode.id, episode.time_ms));
                pair.events.push((event.id, event.time_ms));
            }
            touched.push(pair_key);
        }
        if open.is_empty() {
            self.open.remove(&who);
        }
        for pair_key in touched {
            self.report(&pair_key, event.time_ms, out);
        }
    }
}

/// The person: the user name when there is one (a workaround is often typed outside the agent
/// thread that ran the failing command), else the thread.
fn person(event: &Event) -> String {
    event.actor.clone().or_else(|| event.thread_id.clone()).unwrap_or_default()
}

impl Detector for FailureWorkaround {
    fn info() -> DetectorInfo {
        DetectorInfo::new("failure-workaround", env!("CARGO_PKG_VERSION"))
            .pattern(PATTERN)
            .kinds(["cli.command"])
            .setting(
                "window_seconds",
                600_i64,
                "How soon after the failure the different command must succeed. Default 600 (10 min): long \
                 enough to look something up and type the other command, short enough to be the same task.",
            )
            .setting(
                "min_occasions",
                3_i64,
                "Occasions on which the same failure was worked around the same way. Default 3: once is \
                 chance, twice can be, three times is a habit.",
            )
            .setting(
                "min_share",
                0.5,
                "Share of the command's failures that must be followed by the workaround. Default 0.5: the \
                 workaround is what people usually do about this failure, not a one-off.",
            )
            .setting(
                "min_lift",
                3.0,
                "How many times likelier the workaround must be after this failure than its base rate (after \
                 other commands' failures, or among all successful commands). Default 3: commands people run \
                 after anything (`status`, `git diff`) stay near 1.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        self.min_occasions = settings.integer_at_least("min_occasions", 1)? as u64;
        self.min_share = settings.float("min_share")?;
        self.min_lift = settings.float("min_lift")?;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let key = command_key(event.subject_or_empty()).into_owned();
        if key.is_empty() {
            return Ok(());
        }
        let who = person(event);
        if event.failed() {
            self.failed(who, key, event);
        } else if event.succeeded() {
            self.succeeded(who, key, event, out);
        }
        Ok(())
    }

    keep_state!(
        format = 1;
        open, failures, episodes, after_failures, successes_of, successes, pairs, reported
    );
}

export_detector!(FailureWorkaround);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event {
        Event::at(id, seconds * 1000, "cli.command").subject(command).actor("dev").exit_code(exit_code)
    }

    /// Background: varied successful commands, `status` most of all.
    fn background(events: &mut Vec<Event>, from: i64, count: u64) {
        let commands = ["status", "status", "bd ready", "insights list", "status", "doctor"];
        for index in 0..count {
            events.push(run(
                10_000 + from as u64 + index,
                from + index as i64 * 700,
                commands[index as usize % commands.len()],
                0,
            ));
        }
    }

    #[test]
    fn a_recurring_workaround_is_reported_naming_both_commands() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for day in 0..3_i64 {
            let start = 100_000 + day * 86_400;
            events.push(run(day as u64 * 2, start, "release publish", 1).with("error_message", "twine not configured"));
            events.push(run(day as u64 * 2 + 1, start + 120, "twine upload dist/*", 0));
        }
        events.sort_by_key(|event| event.time_ms);
        let insights = detector.process(&events)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        let insight = &insights[0];
        assert!(insight.message.contains("`release publish`") && insight.message.contains("`twine upload dist/*`"));
        assert_eq!(insight.evidence.event_ids.len(), 6);
        assert!(insight.confidence > 0.9);
        Ok(())
    }

    #[test]
    fn retries_that_succeed_and_checks_people_always_run_stay_quiet() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 200);
        for day in 0..5_i64 {
            let start = 200_000 + day * 86_400;
            events.push(run(day as u64 * 3, start, "bd sync", 1));
            events.push(run(day as u64 * 3 + 1, start + 30, "bd sync", 0));
            events.push(run(day as u64 * 3 + 2, start + 60, "doctor", 0));
            events.push(run(100 + day as u64 * 2, start + 3_000, "watch .", 1));
            events.push(run(101 + day as u64 * 2, start + 3_040, "status", 0));
        }
        events.sort_by_key(|event| event.time_ms);
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn a_command_run_after_any_failure_neither_hides_nor_is_the_workaround() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for day in 0..4_i64 {
            let start = 100_000 + day * 86_400;
            let id = 1_000 + day as u64 * 10;
            events.push(run(id, start, "release publish", 1));
            events.push(run(id + 1, start + 30, "git diff", 0));
            events.push(run(id + 2, start + 90, "twine upload dist/*", 0));
            for (offset, failing) in ["make lint", "pytest -q"].iter().enumerate() {
                let at = start + 5_000 + offset as i64 * 2_000;
                events.push(run(id + 3 + offset as u64 * 2, at, failing, 1));
                events.push(run(id + 4 + offset as u64 * 2, at + 20, "git diff", 0));
            }
        }
        events.sort_by_key(|event| event.time_ms);
        let insights = detector.process(&events)?;
        let pairs: BTreeSet<(String, String)> = insights
            .iter()
            .map(|insight| {
                let text = |key: &str| {
                    insight
                        .evidence
                        .fields
                        .iter()
                        .find(|field| field.key == key)
                        .map(|field| format!("{:?}", field.value))
                };
                (text("failed_command").unwrap_or_default(), text("workaround_command").unwrap_or_default())
            })
            .collect();
        assert_eq!(pairs.len(), 1, "{insights:#?}");
        assert!(insights.iter().all(|insight| insight.message.contains("`twine upload dist/*`")), "{insights:#?}");
        Ok(())
    }
}
