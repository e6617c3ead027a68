//! `failure_workaround`: a command fails and, within minutes, the same person gets the job done
//! with a *different* command instead — and the same pair recurs. That is a missing feature
//! or a broken path people have learned to route around (`release publish` fails, `twine
//! upload dist/*` succeeds).
//!
//! A failure opens an *episode* for its person (the user when there is one, else the thread)
//! that lasts `window_seconds`; every different command that succeeds during it is a follower
//! of that failure, counted once per episode — not only the first, so a `git diff` people run
//! after any failure cannot hide the real workaround behind it. A workaround stands in for the
//! failed command: if that command succeeds before the episode ends, the person fixed the cause
//! and re-ran it (a retry, an edit–test loop), and what they ran in between was part of the
//! fixing, so the episode counts for no pair. Its followers become occasions when it ends. A pair is reported once it
//! happened on `min_occasions` occasions, follows at least `min_share` of the failed command's
//! failures, and is `min_lift` times likelier after that failure than its base rate: how
//! often it follows the *other* commands' failures, or how common it is among all successful
//! commands, whichever is higher; and `min_lift` times likelier after a failed run than after a
//! successful run, both of the failed command (once its successes since it first failed can
//! tell: one followed by that command, or enough without it) and
//! of the other commands that failed, taken together, once it followed them `min_occasions`
//! times (one command's lucky streak says little) — so `status` or `git diff`, which people run after any failure about as
//! often as after success, is never "the workaround", even where it comes between a failure and
//! the real workaround. Successes are followed the same way (once per success, within
//! `window_seconds`, same person) for commands that have failed at least once, the only ones a
//! workaround can be judged for.
//!
//! Per event the detector looks at the person's open episodes only (bounded: at most
//! `MAX_OPEN` per person, each at most `window_seconds` old): amortized O(log n). Judging a
//! pair reads sums over every command, kept as the counts change (`Counts`). A pair keeps
//! the gaps of its last `KEPT_GAPS` occasions for its median gap, not every gap it ever had.
//!
//! The state is bounded by the commands of the last `forget_after_days`: a command not run for
//! that long is forgotten — its own counts, its pairs, and what it added to every total and to
//! the other commands' counts (so the base rates stay those of the commands still known), and
//! its counts start again from zero if it comes back. A sweep once a day of event time, its
//! time saved in the state, drops what was forgotten and the success episodes people left open
//! past their window, so a run in pieces stores what one run does. The reported pairs' last
//! reports are kept, so a finding is re-sent only when it changed.

mod counts;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use counts::Counts;
use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state::Saved;
use devloop_plugin_sdk::text::command_key;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "failure_workaround";

/// Open failure episodes kept per person; the oldest gives way first.
const MAX_OPEN: usize = 16;

/// Failure episodes of other commands needed before their followers are a base rate.
const MIN_OTHER_EPISODES: u64 = 3;

/// Gaps kept per pair: its median gap is that of its last this many occasions (every one's,
/// for a pair seen fewer times), so a pair worked around daily for years stays a few hundred
/// bytes and its report sorts no more than these.
const KEPT_GAPS: usize = 100;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Episode {
    /// The grouping key of the failed command, and the command as logged.
    key: String,
    command: String,
    id: u64,
    time_ms: i64,
    error: Option<String>,
    /// Commands already counted as followers of this episode, and of its latest failed run.
    followers: BTreeSet<String>,
    #[serde(default)]
    run_followers: BTreeSet<String>,
    /// The followers' commands as logged, ids, times and gaps after the failure, counted when
    /// the episode ends
    /// without the failed command succeeding.
    #[serde(default)]
    pending: Vec<(String, u64, i64, i64)>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Pair {
    /// The commands as first logged.
    failed: String,
    workaround: String,
    occasions: u64,
    /// The gaps of its last `KEPT_GAPS` occasions, oldest first (a snapshot from before they
    /// were bounded holds every gap; the next occasion trims it).
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
    forget_ms: i64,
    /// Open failure episodes per person, oldest first.
    open: BTreeMap<String, VecDeque<Episode>>,
    /// Failure episodes per command, and of all commands.
    failures: BTreeMap<String, u64>,
    episodes: u64,
    /// Episodes (of any failed command) each command followed, and of which command.
    after_failures: BTreeMap<String, u64>,
    after_failures_of: PairMap<(String, String), u64>,
    /// Successful runs per command, and of all commands.
    successes_of: BTreeMap<String, u64>,
    successes: u64,
    pairs: PairMap<(String, String), Pair>,
    reported: LastReported<(String, String)>,
    /// Open success episodes per person (of commands that have failed before), oldest first.
    open_successes: BTreeMap<String, VecDeque<Episode>>,
    /// Success episodes per command (counted once it has failed), and the pairs that followed.
    tracked_successes: Counts,
    after_successes: PairMap<(String, String), u64>,
    /// Failed runs per command (several in one episode), and the pairs that followed them.
    failed_runs: Counts,
    after_failed_runs: PairMap<(String, String), u64>,
    /// Per follower: the failed runs and the tracked successes it followed, over all commands.
    followed_failed_runs: BTreeMap<String, u64>,
    followed_successes: BTreeMap<String, u64>,
    /// When each command was last run, and when what was forgotten was last swept away.
    last_run: BTreeMap<String, i64>,
    swept_ms: i64,
}

impl Default for FailureWorkaround {
    fn default() -> Self {
        FailureWorkaround {
            window_ms: 600_000,
            min_occasions: 3,
            min_share: 0.5,
            min_lift: 3.0,
            forget_ms: 30 * DAY_MS,
            open: BTreeMap::new(),
            failures: BTreeMap::new(),
            episodes: 0,
            after_failures: BTreeMap::new(),
            after_failures_of: PairMap::default(),
            successes_of: BTreeMap::new(),
            successes: 0,
            pairs: PairMap::default(),
            reported: LastReported::new(),
            open_successes: BTreeMap::new(),
            tracked_successes: Counts::default(),
            after_successes: PairMap::default(),
            failed_runs: Counts::default(),
            after_failed_runs: PairMap::default(),
            followed_failed_runs: BTreeMap::new(),
            followed_successes: BTreeMap::new(),
            last_run: BTreeMap::new(),
            swept_ms: 0,
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

    /// How much likelier `workaround` follows a failed run of `failed` than a successful one,
    /// run by run. `None` while the successes say nothing: `failed` has not succeeded since it
    /// first failed, or too few times for `min_lift` (the rate after successes starts from
    /// one success followed as often as a failure, so `min_lift − 1` successes without the
    /// workaround are the fewest a workaround could pass with) and none of them was followed
    /// by `workaround` (which speaks against it however few they are).
    fn lift_over_own_successes(&self, key: &(String, String)) -> Option<(f64, f64)> {
        let successes = Some(self.tracked_successes.get(&key.0)).filter(|successes| *successes > 0)?;
        let after_successes = self.after_successes.get(key).copied().unwrap_or(0);
        if after_successes == 0 && ((successes + 1) as f64) < self.min_lift {
            return None;
        }
        let failed_runs = self.failed_runs.get(&key.0);
        let after_failed = self.after_failed_runs.get(key).copied().unwrap_or(0);
        Some(follow_lift(after_failed, failed_runs, after_successes, successes))
    }

    /// The same over every *other* command that failed: whether `workaround` follows their
    /// failed runs more than their successful runs, or is what people run after a command
    /// whatever its outcome (`git diff`) — a short lucky streak of one command cannot tell that,
    /// the other commands can. `None` until it followed other commands `min_occasions` times.
    fn lift_over_other_commands(&self, key: &(String, String)) -> Option<(f64, f64)> {
        let successes = self.tracked_successes.total() - self.tracked_successes.get(&key.0);
        let failed_runs = self.failed_runs.total() - self.failed_runs.get(&key.0);
        let after_failed = self.followed_failed_runs.get(&key.1).copied().unwrap_or(0)
            - self.after_failed_runs.get(key).copied().unwrap_or(0);
        let after_successes = self.followed_successes.get(&key.1).copied().unwrap_or(0)
            - self.after_successes.get(key).copied().unwrap_or(0);
        (successes > 0 && after_failed + after_successes >= self.min_occasions)
            .then(|| follow_lift(after_failed, failed_runs, after_successes, successes))
    }

    /// Counts `key`'s success as a follower of the person's open success episodes, and opens
    /// one for it when it is a command that has failed before.
    fn follow_successes(&mut self, who: &str, key: &str, event: &Event) {
        let window_ms = self.window_ms;
        let mut emptied = false;
        if let Some(open) = self.open_successes.get_mut(who) {
            while open.front().is_some_and(|episode| event.time_ms - episode.time_ms > window_ms) {
                open.pop_front();
            }
            open.retain(|episode| episode.key != key);
            for episode in open.iter_mut() {
                if !episode.followers.contains(key) {
                    episode.followers.insert(key.to_owned());
                    *self.after_successes.entry((episode.key.clone(), key.to_owned())).or_default() += 1;
                    *slot(&mut self.followed_successes, key) += 1;
                }
            }
            emptied = open.is_empty();
        }
        if self.failures.contains_key(key) {
            let open = slot(&mut self.open_successes, who);
            if open.len() == MAX_OPEN {
                open.pop_front();
            }
            self.tracked_successes.add_one(key);
            open.push_back(Episode {
                key: key.to_owned(),
                command: String::new(),
                id: event.id,
                time_ms: event.time_ms,
                error: None,
                followers: BTreeSet::new(),
                run_followers: BTreeSet::new(),
                pending: Vec::new(),
            });
        } else if emptied {
            self.open_successes.remove(who);
        }
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
        let after_own_successes = self.lift_over_own_successes(key);
        let after_other_commands = self.lift_over_other_commands(key);
        if [after_own_successes, after_other_commands].iter().flatten().any(|(_, lift)| *lift < self.min_lift) {
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
        if let Some((after_success, _)) = after_own_successes {
            insight = insight.evidence("after_own_successes", (after_success * 1000.0).round() / 1000.0);
        }
        if let Some((after_success, _)) = after_other_commands {
            insight = insight.evidence("after_other_commands_successes", (after_success * 1000.0).round() / 1000.0);
        }
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

    fn failed(&mut self, who: &str, key: &str, event: &Event, out: &mut Vec<Insight>) {
        // A failure ends the command's success episode: what follows now follows the failure.
        if let Some(successes) = self.open_successes.get_mut(who) {
            successes.retain(|episode| episode.key != key);
        }
        let open = slot(&mut self.open, who);
        self.failed_runs.add_one(key);
        if let Some(episode) = open.iter_mut().find(|episode| episode.key == key) {
            // The same failure again inside its episode: one episode, now reaching further.
            episode.time_ms = event.time_ms;
            episode.run_followers.clear();
            return;
        }
        let evicted = if open.len() == MAX_OPEN { open.pop_front() } else { None };
        open.push_back(Episode {
            key: key.to_owned(),
            command: event.subject_or_empty().trim().to_owned(),
            id: event.id,
            time_ms: event.time_ms,
            error: event.text("error_message").filter(|error| !error.is_empty()).map(str::to_owned),
            followers: BTreeSet::new(),
            run_followers: BTreeSet::new(),
            pending: Vec::new(),
        });
        *slot(&mut self.failures, key) += 1;
        self.episodes += 1;
        if let Some(episode) = evicted {
            self.commit(who, episode, out);
        }
    }

    fn succeeded(&mut self, who: &str, key: &str, event: &Event) {
        self.successes += 1;
        *slot(&mut self.successes_of, key) += 1;
        self.follow_successes(who, key, event);
        let Some(open) = self.open.get_mut(who) else { return };
        // The failed command succeeding closes its episode: the cause was fixed and the command
        // re-run, so what came between was part of fixing it, not a way around it.
        open.retain(|episode| episode.key != key);
        for episode in open.iter_mut() {
            if !episode.run_followers.contains(key) {
                episode.run_followers.insert(key.to_owned());
                *self.after_failed_runs.entry((episode.key.clone(), key.to_owned())).or_default() += 1;
                *slot(&mut self.followed_failed_runs, key) += 1;
            }
            if !episode.followers.contains(key) {
                episode.followers.insert(key.to_owned());
                *slot(&mut self.after_failures, key) += 1;
                *self.after_failures_of.entry((episode.key.clone(), key.to_owned())).or_default() += 1;
                let gap_ms = event.time_ms - episode.time_ms;
                episode.pending.push((event.subject_or_empty().trim().to_owned(), event.id, event.time_ms, gap_ms));
            }
        }
        if open.is_empty() {
            self.open.remove(who);
        }
    }

    /// Once a day of event time, forgets the commands not run within the horizon: their own
    /// counts and pairs, and what they added to the totals and to the commands still known, so
    /// every count and base rate reads as if they had never run. Success episodes older than
    /// the window (left open by a person who ran nothing since) go too; the person's next run
    /// would have dropped them. Memory only, never a finding, and a run in pieces sweeps where
    /// one run does.
    fn forget(&mut self, now_ms: i64) {
        if now_ms - self.swept_ms < DAY_MS {
            return;
        }
        self.swept_ms = now_ms;
        let window_ms = self.window_ms;
        for open in self.open_successes.values_mut() {
            open.retain(|episode| now_ms - episode.time_ms <= window_ms);
        }
        self.open_successes.retain(|_, open| !open.is_empty());
        let forget_ms = self.forget_ms;
        let forgotten: BTreeSet<String> = (self.last_run.iter())
            .filter(|(_, last_ms)| now_ms - **last_ms > forget_ms)
            .map(|(command, _)| command.clone())
            .collect();
        if forgotten.is_empty() {
            return;
        }
        for command in &forgotten {
            self.last_run.remove(command);
            self.episodes -= self.failures.remove(command).unwrap_or(0);
            self.successes -= self.successes_of.remove(command).unwrap_or(0);
            for table in [&mut self.after_failures, &mut self.followed_failed_runs, &mut self.followed_successes] {
                table.remove(command);
            }
            self.tracked_successes.remove(command);
            self.failed_runs.remove(command);
        }
        for (pairs, followed) in [
            (&mut self.after_failures_of, &mut self.after_failures),
            (&mut self.after_successes, &mut self.followed_successes),
            (&mut self.after_failed_runs, &mut self.followed_failed_runs),
        ] {
            pairs.retain(|(failed, follower), count| {
                if forgotten.contains(follower) {
                    return false;
                }
                if !forgotten.contains(failed) {
                    return true;
                }
                if let Some(total) = followed.get_mut(follower) {
                    // A snapshot from before these were kept per pair holds totals with no
                    // pairs behind them.
                    *total = total.saturating_sub(*count);
                }
                false
            });
        }
        self.pairs.retain(|(failed, workaround), _| !forgotten.contains(failed) && !forgotten.contains(workaround));
    }

    /// Ends every episode `window_seconds` old by `now_ms`: its followers are occasions of
    /// their pairs.
    fn expire(&mut self, now_ms: i64, out: &mut Vec<Insight>) {
        let window_ms = self.window_ms;
        let mut ended = Vec::new();
        for (who, open) in self.open.iter_mut() {
            while open.front().is_some_and(|episode| now_ms - episode.time_ms > window_ms) {
                ended.extend(open.pop_front().map(|episode| (who.clone(), episode)));
            }
        }
        if !ended.is_empty() {
            self.open.retain(|_, open| !open.is_empty());
        }
        for (who, episode) in ended {
            self.commit(&who, episode, out);
        }
    }

    /// Counts an ended episode's followers as occasions of their pairs, and reports them.
    fn commit(&mut self, who: &str, episode: Episode, out: &mut Vec<Insight>) {
        let ended_ms = episode.time_ms + self.window_ms;
        for (command, id, time_ms, gap_ms) in episode.pending {
            let pair_key = (episode.key.clone(), command_key(&command).into_owned());
            let pair = self.pairs.entry(pair_key.clone()).or_insert_with(|| Pair {
                failed: episode.command.clone(),
                workaround: command.clone(),
                ..Pair::default()
            });
            pair.occasions += 1;
            pair.gaps_ms.push(gap_ms);
            let excess = pair.gaps_ms.len().saturating_sub(KEPT_GAPS);
            pair.gaps_ms.drain(..excess);
            if !pair.people.iter().any(|person| person == who) && pair.people.len() < 5 {
                pair.people.push(who.to_owned());
            }
            if let Some(error) = episode.error.clone()
                && pair.errors.len() < 3
                && !pair.errors.contains(&error)
            {
                pair.errors.push(error);
            }
            if pair.events.len() < 10 {
                pair.events.push((episode.id, time_ms - gap_ms));
                pair.events.push((id, time_ms));
            }
            self.report(&pair_key, ended_ms, out);
        }
    }
}

impl FailureWorkaround {
    /// Reads a format-1 or format-2 snapshot. Format 1 had no success episodes: everything else
    /// is read, and successes are followed from now on. Neither said when a command last ran,
    /// so every command counts as run at the newest time the snapshot holds; nor which failed
    /// command each follower's episodes were of, so those counts leave a follower's total only
    /// once it is forgotten itself.
    fn migrate(&mut self, saved: Saved) -> Result<(), String> {
        let read: Result<(), String> = match saved.format {
            1 => devloop_plugin_sdk::keep_state!(@read self, saved, 1;
                open, failures, episodes, after_failures, successes_of, successes, pairs, reported),
            2 => devloop_plugin_sdk::keep_state!(@read self, saved, 2;
                open, failures, episodes, after_failures, successes_of, successes, pairs, reported, open_successes,
                tracked_successes, after_successes, failed_runs, after_failed_runs, followed_failed_runs,
                followed_successes),
            _ => Err(saved.unconvertible()),
        };
        read?;
        let newest_ms = (self.open.values().chain(self.open_successes.values()).flatten())
            .flat_map(|episode| {
                let followed = episode.pending.iter().map(|(_, _, time_ms, _)| *time_ms);
                followed.chain([episode.time_ms])
            })
            .chain(self.pairs.values().flat_map(|pair| pair.events.iter().map(|(_, time_ms)| *time_ms)))
            .max()
            .unwrap_or(0);
        let commands = (self.failures.keys().chain(self.successes_of.keys()).chain(self.after_failures.keys()))
            .chain(self.pairs.keys().flat_map(|(failed, workaround)| [failed, workaround]));
        self.last_run = commands.map(|command| (command.clone(), newest_ms)).collect();
        self.after_failures_of = PairMap::default();
        self.swept_ms = newest_ms;
        Ok(())
    }
}

/// How much likelier a follower comes after a failed run than after a successful one, with the
/// rate after successes: that rate starts from one success followed as often as a failure, so
/// it takes a few successes without the follower to tell the two apart.
fn follow_lift(after_failed: u64, failed_runs: u64, after_successes: u64, successes: u64) -> (f64, f64) {
    let after_failed = after_failed as f64 / failed_runs.max(1) as f64;
    let after_success = (after_successes as f64 + after_failed) / (successes + 1) as f64;
    (after_success, after_failed / after_success.max(1e-3))
}

/// The value kept under `key`, inserted as the default the first time: the key is allocated only
/// then, where `entry` would take an owned key for every lookup.
fn slot<'m, V: Default>(map: &'m mut BTreeMap<String, V>, key: &str) -> &'m mut V {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), V::default());
    }
    map.get_mut(key).expect("inserted if missing")
}

/// The person: the user name when there is one (a workaround is often typed outside the agent
/// thread that ran the failing command), else the thread.
fn person<'e>(event: &'e Event) -> &'e str {
    event.actor.as_deref().or(event.thread_id.as_deref()).unwrap_or_default()
}

impl Detector for FailureWorkaround {
    fn info() -> DetectorInfo {
        DetectorInfo::new("failure-workaround", env!("CARGO_PKG_VERSION"))
            .fields(["error_message"])
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
                 other commands' failures, or among all successful commands), and after a failed run of the \
                 command than after a successful one. Default 3: commands people run after anything \
                 (`status`, `git diff`) stay near 1.",
            )
            .setting(
                "forget_after_days",
                30_i64,
                "Days after which a command not run is forgotten, with its pairs and its part of every base \
                 rate (its counts start again if it comes back). Default 30: a month is far longer than the \
                 10-minute window, a failure not seen for a month is fixed or no longer run, and the state \
                 stays bounded by the commands of the last month.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        self.min_occasions = settings.integer_at_least("min_occasions", 1)? as u64;
        self.min_share = settings.float("min_share")?;
        self.min_lift = settings.float("min_lift")?;
        self.forget_ms = (settings.integer_at_least("forget_after_days", 1)? * DAY_MS).max(self.window_ms);
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        self.expire(event.time_ms, out);
        self.forget(event.time_ms);
        let key = command_key(event.subject_or_empty());
        if key.is_empty() {
            return Ok(());
        }
        if event.failed() || event.succeeded() {
            *slot(&mut self.last_run, &key) = event.time_ms;
        }
        let who = person(event);
        if event.failed() {
            self.failed(who, &key, event, out);
        } else if event.succeeded() {
            self.succeeded(who, &key, event);
        }
        Ok(())
    }

    fn on_tick(&mut self, now_ms: i64, out: &mut Vec<Insight>) -> Result<(), String> {
        self.expire(now_ms, out);
        Ok(())
    }

    keep_state!(
        format = 3, migrate = Self::migrate;
        open, failures, episodes, after_failures, after_failures_of, successes_of, successes, pairs, reported,
        open_successes, tracked_successes, after_successes, failed_runs, after_failed_runs, followed_failed_runs,
        followed_successes, last_run, swept_ms
    );
}

export_detector!(FailureWorkaround);

#[cfg(test)]
mod tests {
    use devloop_plugin_sdk::state;

    use super::*;

    fn run(id: u64, seconds: i64, command: &str, exit_code: i32) -> Event<'static> {
        Event::at(id, seconds * 1000, "cli.command").subject(command.to_owned()).actor("dev").exit_code(exit_code)
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

    /// A day of work: `status` now and then, the release worked around every day, and three
    /// commands of the day's own (a new vocabulary daily) failing and worked around.
    fn day_of_work(day: i64, id: &mut u64) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        let mut next = || {
            *id += 1;
            *id
        };
        for hour in 0..6_i64 {
            let start = day * 86_400 + (8 + hour) * 3_600;
            events.push(run(next(), start, "status", 0));
            if hour == 0 {
                events.push(run(next(), start + 60, "release publish", 1).with("error_message", "403"));
                events.push(run(next(), start + 120, "twine upload dist/*", 0));
            }
            if hour < 3 {
                let task = format!("task-{day}-{hour}");
                events.push(run(next(), start + 1_200, &format!("{task} build"), 1));
                events.push(run(next(), start + 1_260, &format!("{task} fix"), 0));
                events.push(run(next(), start + 2_400, &format!("{task} build"), 0));
            }
        }
        events
    }

    fn tracked_keys(detector: &FailureWorkaround) -> usize {
        let per_command = [
            &detector.failures,
            &detector.after_failures,
            &detector.successes_of,
            &detector.followed_failed_runs,
            &detector.followed_successes,
        ];
        let per_pair = [&detector.after_failures_of, &detector.after_successes, &detector.after_failed_runs];
        per_command.iter().map(|table| table.len()).sum::<usize>()
            + per_pair.iter().map(|table| table.len()).sum::<usize>()
            + detector.tracked_successes.len()
            + detector.failed_runs.len()
            + detector.pairs.len()
            + detector.last_run.len()
    }

    #[test]
    fn state_stays_bounded_by_the_commands_of_the_horizon() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let (mut id, mut sizes) = (0, Vec::new());
        let mut insights = Vec::new();
        for day in 0..140_i64 {
            insights.extend(detector.process(&day_of_work(day, &mut id))?);
            if day % 28 == 27 {
                // What was last reported is kept per pair ever reported (one hash each), so an
                // unchanged finding is never re-sent: the rest is what must stop growing.
                let mut opened = Saved::open(&detector.snapshot().ok_or("failure-workaround keeps state")?)?;
                opened.state.as_object_mut().ok_or("an object")?.remove("reported").ok_or("kept")?;
                let bytes = state::save(&opened.state).ok_or("serializable")?.len();
                sizes.push((detector.last_run.len(), tracked_keys(&detector), bytes));
            }
        }
        // From the second month on, the last 30 days' commands (six a day, and three everyday).
        let (commands, keys, bytes) = sizes[1];
        assert!(commands <= 31 * 6 + 3, "{sizes:?}");
        for (later_commands, later_keys, later_bytes) in &sizes[2..] {
            assert!(*later_commands <= commands && *later_keys <= keys, "keys stop growing: {sizes:?}");
            // Later ids, times and day numbers take more digits; nothing else grows.
            assert!(*later_bytes <= bytes + bytes / 10, "the snapshot stops growing: {sizes:?}");
        }
        let release = &detector.pairs[&("release publish".to_owned(), "twine upload dist/*".to_owned())];
        assert_eq!(release.occasions, 140, "the pair seen every day is never forgotten");
        assert!(insights.iter().any(|insight| insight.key == "release publish\u{1f}twine upload dist/*"));
        // The totals are those of the commands still known.
        assert_eq!(detector.episodes, detector.failures.values().sum::<u64>());
        assert_eq!(detector.successes, detector.successes_of.values().sum::<u64>());
        for (follower, total) in &detector.after_failures {
            let of_pairs: u64 =
                detector.after_failures_of.iter().filter(|((_, then), _)| then == follower).map(|(_, n)| n).sum();
            assert_eq!(*total, of_pairs, "{follower}");
        }
        Ok(())
    }

    #[test]
    fn a_format_2_snapshot_goes_on_from_where_it_was() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let mut id = 0;
        let events: Vec<Event> = (0..3).flat_map(|day| day_of_work(day, &mut id)).collect();
        detector.process(&events)?;
        // Format 2 was today's layout without the follows per pair and the last runs.
        let mut opened = Saved::open(&detector.snapshot().ok_or("failure-workaround keeps state")?)?;
        assert_eq!(opened.format, 3);
        let saved_state = opened.state.as_object_mut().ok_or("an object")?;
        for field in ["after_failures_of", "last_run", "swept_ms"] {
            saved_state.remove(field).ok_or("kept")?;
        }
        let saved = state::save_versioned(2, &opened.state).ok_or("serializable")?;
        let mut migrated = FailureWorkaround::default();
        migrated.restore(&saved)?;
        // The newest time it holds (no episode is open at the end of a day): the last pair's
        // follow, the day's last task's fix.
        let newest_ms = (2 * 86_400 + 10 * 3_600 + 1_260) * 1000;
        assert_eq!(migrated.swept_ms, newest_ms);
        assert_eq!(migrated.last_run.len(), detector.last_run.len());
        assert!(migrated.last_run.values().all(|last_ms| *last_ms == newest_ms));
        assert_eq!((migrated.episodes, migrated.successes), (detector.episodes, detector.successes));
        // It goes on as the detector that saw the events would.
        let more = day_of_work(3, &mut id);
        let (after, expected) = (migrated.process(&more)?, detector.process(&more)?);
        assert_eq!(format!("{after:?}"), format!("{expected:?}"));
        Ok(())
    }

    #[test]
    fn a_pair_keeps_the_gaps_of_its_last_occasions_for_its_median() -> Result<(), String> {
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 3_000);
        let occasions = KEPT_GAPS as i64 + 50;
        for round in 0..occasions {
            // The first 50 occasions 200 s after the failure, the last 100 from 10 s to 109 s.
            let gap = if round < 50 { 200 } else { 10 + round - 50 };
            let start = 100_000 + round * 7_200;
            events.push(run(round as u64 * 2, start, "release publish", 1).with("error_message", "403"));
            events.push(run(round as u64 * 2 + 1, start + gap, "twine upload dist/*", 0));
        }
        events.sort_by_key(|event| event.time_ms);
        let insights = detector.process(&events)?;
        let last = insights.last().ok_or("reported")?;
        let field = |name: &str| last.evidence.fields.iter().find(|field| field.key == name).map(|field| &field.value);
        assert!(matches!(field("occasions"), Some(Value::Integer(150))), "{:?}", field("occasions"));
        assert!(
            matches!(field("median_gap_seconds"), Some(Value::Float(seconds)) if *seconds == 60.0),
            "the middle of 10..=109 s, the 200 s of the first occasions slid out: {:?}",
            field("median_gap_seconds")
        );
        let pair = &detector.pairs[&("release publish".to_owned(), "twine upload dist/*".to_owned())];
        assert_eq!(pair.gaps_ms.len(), KEPT_GAPS);
        Ok(())
    }

    #[test]
    fn a_command_run_after_the_same_commands_successes_as_often_is_no_workaround() -> Result<(), String> {
        // `git diff` after every `make test`, red or green: it follows the failures, but not
        // because of them.
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for round in 0..6_u64 {
            let start = 100_000 + round as i64 * 7_200;
            events.push(run(round * 4, start, "make test", 1).with("error_message", "2 failed"));
            events.push(run(round * 4 + 1, start + 30, "git diff", 0));
            events.push(run(round * 4 + 2, start + 3_600, "make test", 0));
            events.push(run(round * 4 + 3, start + 3_630, "git diff", 0));
        }
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn a_lucky_streak_of_one_command_is_judged_by_what_the_follower_does_after_others() -> Result<(), String> {
        // `git diff` after a quarter of `pytest`'s runs, red or green; `make test`'s first
        // failures happen to be followed by it and its successes happen not to be.
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for round in 0..8_u64 {
            let start = 100_000 + round as i64 * 7_200;
            events.push(run(round * 8, start, "pytest", 1).with("error_message", "1 failed"));
            events.push(run(round * 8 + 2, start + 900, "pytest", 0));
            if round % 4 == 0 {
                events.push(run(round * 8 + 1, start + 30, "git diff", 0));
                events.push(run(round * 8 + 3, start + 930, "git diff", 0));
            }
        }
        for round in 0..4_u64 {
            let start = 200_000 + round as i64 * 7_200;
            events.push(run(round * 8 + 4, start, "make test", 1).with("error_message", "2 failed"));
            events.push(run(round * 8 + 5, start + 30, "git diff", 0));
            events.push(run(round * 8 + 6, start + 3_600, "make test", 0));
        }
        events.sort_by_key(|event| event.time_ms);
        let found = detector.process(&events)?;
        assert!(found.is_empty(), "{found:#?}");
        Ok(())
    }

    #[test]
    fn what_comes_between_a_failure_and_its_successful_rerun_is_no_workaround() -> Result<(), String> {
        // `make test` fails, `git diff`, then `make test` passes: the diff helped fix it.
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for day in 0..5_u64 {
            let start = 100_000 + day as i64 * 86_400;
            events.push(run(day * 3, start, "make test", 1).with("error_message", "1 failed"));
            events.push(run(day * 3 + 1, start + 40, "git diff", 0));
            events.push(run(day * 3 + 2, start + 300, "make test", 0));
        }
        let mut insights = detector.process(&events)?;
        detector.on_tick(1_000_000 * 1000, &mut insights)?;
        assert!(insights.is_empty(), "{insights:#?}");
        Ok(())
    }

    #[test]
    fn one_success_of_the_failed_command_without_the_workaround_does_not_hide_it() -> Result<(), String> {
        // `cargo run --bin seed-db` fails and `psql -f scripts/seed.sql` does the job, four days
        // of five; on the other day it worked, and nothing followed it.
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for day in 0..5_u64 {
            let start = 100_000 + day as i64 * 86_400;
            if day == 1 {
                events.push(run(day * 2, start, "cargo run --bin seed-db", 0));
                continue;
            }
            events
                .push(run(day * 2, start, "cargo run --bin seed-db", 2).with("error_message", "missing DATABASE_URL"));
            events.push(run(day * 2 + 1, start + 150, "psql -f scripts/seed.sql", 0));
        }
        let mut insights = detector.process(&events)?;
        detector.on_tick(1_000_000 * 1000, &mut insights)?;
        assert!(insights.last().is_some_and(|insight| insight.message.contains("4 of 4 failures")), "{insights:#?}");
        Ok(())
    }

    #[test]
    fn one_success_of_the_failed_command_followed_by_the_same_command_speaks_against_it() -> Result<(), String> {
        // `cargo doc` after `cargo build` whatever its outcome: on the one day the build worked,
        // the docs were built after it too.
        let mut detector = FailureWorkaround::default();
        let mut events = Vec::new();
        background(&mut events, 0, 60);
        for day in 0..5_u64 {
            let start = 100_000 + day as i64 * 86_400;
            let exit_code = if day == 1 { 0 } else { 101 };
            events.push(run(day * 2, start, "cargo build", exit_code).with("error_message", "linker not found"));
            events.push(run(day * 2 + 1, start + 150, "cargo doc", 0));
        }
        let mut insights = detector.process(&events)?;
        detector.on_tick(1_000_000 * 1000, &mut insights)?;
        assert!(insights.is_empty(), "{insights:#?}");
        Ok(())
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
        let mut insights = detector.process(&events)?;
        assert!(insights.is_empty(), "the last episode is still open: {insights:#?}");
        detector.on_tick(400_000 * 1000, &mut insights)?;
        assert_eq!(insights.len(), 1, "{insights:#?}");
        let insight = &insights[0];
        assert!(insight.message.contains("3 of 3 failures"), "{}", insight.message);
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
