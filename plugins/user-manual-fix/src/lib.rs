//! `user_manual_fix`: an agent changes a file and, minutes later, the user edits the same file
//! by hand — again and again for the same agent. The agent's change was wrong or incomplete
//! and the user is finishing (or undoing) its work.
//!
//! Agent changes come from the audit log (`audit.file_modified`, `audit.fix_applied`,
//! `audit.file_created`, with every path in `files`); hand edits are the filesystem watcher's
//! `file.modified` events. An agent change starts a sequence keyed by the file (the
//! back-reference: *the same file*); a hand edit of that file between `min_delay_seconds`
//! (earlier is the watcher seeing the agent's own write) and `window_seconds` later completes
//! it; another agent change to the file restarts it. An agent is reported when at least
//! `min_occasions` of its changes were followed so, making at least `min_share` of its changes
//! — users edit files they are working on anyway, so one follow-up proves nothing. Confidence
//! is one minus the p-value of "this agent's follow-up share is above the other agents'".
//!
//! The Amp thread log says it outright: a `user_manual_actions` item with action `manual_fix`
//! (`thread.user_action`) after an agent action in the same thread (`thread.agent_action`; the
//! item's `related_agent_actions` name which, else the latest before it) is a manual fix of
//! that agent's work. An agent is also reported when at least `min_occasions` threads had one,
//! making at least `min_share` of the threads it acted in; the finding names the threads.
//! Hand edits of other files, or of the same file after `window_seconds`, are not fixes.
//! An agent's median gap is that of its last `KEPT_GAPS` follow-ups, not of every one it ever
//! had.
//!
//! The state is bounded by the agents and threads of the last `forget_after_days`: an agent not
//! seen for that long is forgotten (its counts start again from zero if it comes back), an
//! agent's threads not seen for that long drop out of its distinct counts, and at most
//! [`RecentSet::CAP`] of them are kept. A sweep once a day of event time, its time saved in
//! the state, drops what was forgotten, so a run in pieces stores what one run does. The
//! reported agents' last reports are kept, so a finding is re-sent only when it changed.

mod seen;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use devloop_plugin_sdk::prelude::*;
use devloop_plugin_sdk::state::Saved;
use serde::{Deserialize, Serialize};

use seen::ThreadList;

pub const PATTERN: &str = "user_manual_fix";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Change {
    agent: String,
    id: u64,
    time_ms: i64,
    path: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct AgentAction {
    index: i64,
    agent: String,
    id: u64,
    time_ms: i64,
}

/// Agent actions remembered per thread, for the manual fixes that refer to them.
const MAX_ACTIONS_PER_THREAD: usize = 32;

/// Gaps kept per agent: its median gap is that of its last this many follow-ups (every one's,
/// for fewer), so an agent followed up daily for years stays small and a report sorts no more.
const KEPT_GAPS: usize = 100;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    changes: u64,
    followed: u64,
    /// Threads the agent acted in, and those where the user then fixed its work by hand.
    acted_threads: RecentSet,
    fixed_threads: RecentSet,
    manual_fixes: Vec<String>,
    files: Examples<String>,
    /// The gaps of its last `KEPT_GAPS` follow-ups, oldest first (a snapshot from before they
    /// were bounded holds every gap; the next follow-up trims it).
    gaps_ms: Vec<i64>,
    events: Vec<(u64, i64)>,
    /// The threads of its changes' hand edits, in the order they were first seen.
    threads: ThreadList,
    last_ms: i64,
}

impl Tally {
    /// The agent's tally, started again from zero if it was not seen within the horizon.
    fn seen(&mut self, now_ms: i64, forget_ms: i64) -> &mut Self {
        if now_ms - self.last_ms > forget_ms {
            *self = Tally::default();
        }
        self.last_ms = now_ms;
        self
    }

    fn forget(&mut self, now_ms: i64, forget_ms: i64) {
        self.acted_threads.forget(now_ms, forget_ms);
        self.fixed_threads.forget(now_ms, forget_ms);
        self.threads.forget(now_ms, forget_ms);
    }
}

/// An agent's tally as format 1 saved it: every thread it was ever seen in, with no times.
#[derive(Deserialize)]
struct TallyFormat1 {
    changes: u64,
    followed: u64,
    acted_threads: BTreeSet<String>,
    fixed_threads: BTreeSet<String>,
    manual_fixes: Vec<String>,
    files: Examples<String>,
    gaps_ms: Vec<i64>,
    events: Vec<(u64, i64)>,
    threads: Vec<String>,
}

/// The state as format 1 saved it: agents and their threads kept forever.
#[derive(Deserialize)]
struct Format1 {
    pending: Sequence<String, Change>,
    agents: BTreeMap<String, TallyFormat1>,
    thread_actions: BTreeMap<String, (i64, VecDeque<AgentAction>)>,
    since_sweep: usize,
    reported: LastReported<String>,
}

pub struct UserManualFix {
    window_ms: i64,
    min_delay_ms: i64,
    min_occasions: u64,
    min_share: f64,
    forget_ms: i64,
    pending: Sequence<String, Change>,
    agents: BTreeMap<String, Tally>,
    /// Recent agent actions per thread, and when each thread was last active.
    thread_actions: BTreeMap<String, (i64, VecDeque<AgentAction>)>,
    since_sweep: usize,
    reported: LastReported<String>,
    /// When what was forgotten was last swept away.
    swept_ms: i64,
}

impl Default for UserManualFix {
    fn default() -> Self {
        UserManualFix {
            window_ms: 900_000,
            min_delay_ms: 10_000,
            min_occasions: 3,
            min_share: 0.4,
            forget_ms: 30 * DAY_MS,
            pending: Sequence::new(900_000),
            agents: BTreeMap::new(),
            thread_actions: BTreeMap::new(),
            since_sweep: 0,
            reported: LastReported::new(),
            swept_ms: 0,
        }
    }
}

/// The last two components of a path, so the audit log's absolute paths and the watcher's
/// project-relative ones meet (`/home/u/proj/src/app.py` and `src/app.py` → `src/app.py`).
fn file_key(path: &str) -> String {
    let parts: Vec<&str> = path.split(['/', '\\']).filter(|part| !part.is_empty() && *part != ".").collect();
    parts[parts.len().saturating_sub(2)..].join("/")
}

impl UserManualFix {
    fn agent_changed(&mut self, event: &Event) {
        let Some(agent) = event.actor.as_deref().filter(|agent| !agent.is_empty()).map(str::to_owned) else { return };
        if event.failed() {
            return;
        }
        let mut paths: Vec<&str> = event.texts("files");
        if paths.is_empty() {
            paths.extend(event.subject.as_deref());
        }
        let tally = self.agents.entry(agent.clone()).or_default().seen(event.time_ms, self.forget_ms);
        for path in paths {
            let key = file_key(path);
            if key.is_empty() {
                continue;
            }
            tally.changes += 1;
            self.pending.cancel(&key);
            self.pending.start(
                key,
                event.time_ms,
                Change { agent: agent.clone(), id: event.id, time_ms: event.time_ms, path: path.to_owned() },
            );
        }
    }

    fn edited_by_hand(&mut self, event: &Event, out: &mut Vec<Insight>) {
        let Some(path) = event.text("absolute_path").or(event.subject.as_deref()) else { return };
        let key = file_key(path);
        let min_delay_ms = self.min_delay_ms;
        let completed =
            self.pending.complete_where(&key, event.time_ms, |change| event.time_ms - change.time_ms >= min_delay_ms);
        for completed in completed {
            let change = completed.start;
            let tally = self.agents.entry(change.agent.clone()).or_default().seen(event.time_ms, self.forget_ms);
            tally.followed += 1;
            tally.files.push(change.path.clone());
            tally.gaps_ms.push(completed.gap_ms);
            let excess = tally.gaps_ms.len().saturating_sub(KEPT_GAPS);
            tally.gaps_ms.drain(..excess);
            if tally.events.len() < 20 {
                tally.events.push((change.id, change.time_ms));
                tally.events.push((event.id, event.time_ms));
            }
            if let Some(thread) = &event.thread_id {
                tally.threads.see(thread, event.time_ms);
            }
            self.report(&change.agent, event.time_ms, out);
        }
    }

    /// An agent acted in a thread: remembered so a later manual fix can name it.
    fn agent_acted_in_thread(&mut self, event: &Event) {
        let (Some(thread), Some(agent)) = (event.thread_id.as_deref().map(str::to_owned), agent_of(event)) else {
            return;
        };
        self.sweep(event.time_ms);
        let tally = self.agents.entry(agent.clone()).or_default().seen(event.time_ms, self.forget_ms);
        tally.acted_threads.see(&thread, event.time_ms);
        let index = event.number("index").map_or(-1, |index| index as i64);
        let (last_ms, actions) = self.thread_actions.entry(thread).or_default();
        *last_ms = event.time_ms;
        if actions.len() == MAX_ACTIONS_PER_THREAD {
            actions.pop_front();
        }
        actions.push_back(AgentAction { index, agent, id: event.id, time_ms: event.time_ms });
    }

    /// A `manual_fix` in a thread: the agents of the actions it refers to (else the latest one
    /// before it) had their work fixed by hand.
    fn fixed_in_thread(&mut self, event: &Event, out: &mut Vec<Insight>) {
        if event.text("action") != Some("manual_fix") {
            return;
        }
        let Some(thread) = event.thread_id.as_deref().map(str::to_owned) else { return };
        let Some((_, actions)) = self.thread_actions.get(&thread) else { return };
        let related: Vec<i64> = event
            .text("related_agent_actions")
            .map(|list| list.split(|c: char| !c.is_ascii_digit()).filter_map(|number| number.parse().ok()).collect())
            .unwrap_or_default();
        let mut fixed: Vec<AgentAction> = actions
            .iter()
            .filter(|action| action.time_ms <= event.time_ms && related.contains(&action.index))
            .cloned()
            .collect();
        if fixed.is_empty() {
            fixed.extend(actions.iter().rev().find(|action| action.time_ms <= event.time_ms).cloned());
        }
        let mut agents: Vec<String> = fixed.iter().map(|action| action.agent.clone()).collect();
        agents.sort();
        agents.dedup();
        for agent in agents {
            let tally = self.agents.entry(agent.clone()).or_default().seen(event.time_ms, self.forget_ms);
            tally.fixed_threads.see(&thread, event.time_ms);
            if let Some(description) =
                event.subject.as_deref().filter(|description| !description.is_empty()).map(str::to_owned)
                && tally.manual_fixes.len() < 5
                && !tally.manual_fixes.contains(&description)
            {
                tally.manual_fixes.push(description);
            }
            if tally.events.len() < 20 {
                for action in fixed.iter().filter(|action| action.agent == agent) {
                    tally.events.push((action.id, action.time_ms));
                }
                tally.events.push((event.id, event.time_ms));
            }
            self.report(&agent, event.time_ms, out);
        }
    }

    /// Forgets threads quiet for longer than the window, once per as many events as threads.
    fn sweep(&mut self, now_ms: i64) {
        self.since_sweep += 1;
        if self.since_sweep < self.thread_actions.len().max(64) {
            return;
        }
        self.since_sweep = 0;
        let keep_ms = self.window_ms.max(86_400_000);
        self.thread_actions.retain(|_, (last_ms, _)| now_ms - *last_ms <= keep_ms);
    }

    /// Once a day of event time, drops the agents not seen within the horizon (which would start
    /// from zero if seen again) and the threads each agent was last seen in before it: memory
    /// and distinct counts of the horizon only, and a run in pieces sweeps where one run does.
    fn forget(&mut self, now_ms: i64) {
        if now_ms - self.swept_ms < DAY_MS {
            return;
        }
        self.swept_ms = now_ms;
        let forget_ms = self.forget_ms;
        self.agents.retain(|_, tally| now_ms - tally.last_ms <= forget_ms);
        for tally in self.agents.values_mut() {
            tally.forget(now_ms, forget_ms);
        }
    }

    fn report(&mut self, agent: &str, time_ms: i64, out: &mut Vec<Insight>) {
        let tally = &self.agents[agent];
        let share = tally.followed as f64 / tally.changes.max(1) as f64;
        let by_edits = tally.followed >= self.min_occasions && share >= self.min_share;
        let thread_share = tally.fixed_threads.len() as f64 / tally.acted_threads.len().max(1) as f64;
        let by_threads = tally.fixed_threads.len() as u64 >= self.min_occasions && thread_share >= self.min_share;
        if !by_edits && !by_threads {
            return;
        }
        let (others_followed, others_changes) = self
            .agents
            .iter()
            .filter(|(name, _)| name.as_str() != agent)
            .fold((0, 0), |(followed, changes), (_, other)| (followed + other.followed, changes + other.changes));
        let chance = if others_changes == 0 { 0.1 } else { (others_followed as f64 / others_changes as f64).max(0.1) };
        let threads: Vec<String> = tally.fixed_threads.names().cloned().collect();
        let (confidence, message, top_share) = if by_edits {
            let files = tally.files.items();
            (
                binomial_confidence(tally.followed, tally.changes, chance),
                format!(
                    "Users edited files by hand minutes after `{agent}` changed them: {followed} of {changes} \
                     changes (e.g. {examples})",
                    followed = tally.followed,
                    changes = tally.changes,
                    examples = files.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
                ),
                share,
            )
        } else {
            (
                binomial_confidence(threads.len() as u64, tally.acted_threads.len() as u64, chance),
                format!(
                    "Users fixed `{agent}`'s work by hand in {fixed} of the {acted} threads it acted in ({list})",
                    fixed = threads.len(),
                    acted = tally.acted_threads.len(),
                    list = threads.iter().take(4).cloned().collect::<Vec<_>>().join(", "),
                ),
                thread_share,
            )
        };
        let median_gap_seconds = if tally.gaps_ms.is_empty() {
            0
        } else {
            let mut gaps = tally.gaps_ms.clone();
            gaps.sort_unstable();
            gaps[gaps.len() / 2] / 1000
        };
        let recommendation = if by_edits {
            format!(
                "Compare what `{agent}` wrote in these files with what users changed right after: its fix is \
                 incomplete or unwanted there. Fix the rule, or make the agent propose the change instead of applying it."
            )
        } else {
            format!(
                "Read what users fixed by hand after `{agent}` in these threads: its work there was \
                 incomplete or wrong. Fix what it missed, or have it say what it left undone."
            )
        };
        // Each way of judging shows its own figures: an agent flagged by its threads has no
        // edited files to show, and zeros would read as evidence against the finding.
        let mut insight = Insight::new(PATTERN, insight_key(&[agent]))
            .severity(if top_share >= 0.6 { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(message)
            .recommendation(recommendation)
            .evidence("agent", agent)
            .evidence("other_agents_share", (chance * 1000.0).round() / 1000.0);
        if by_edits {
            insight = insight
                .evidence("followed_by_manual_edit", tally.followed)
                .evidence("agent_changes", tally.changes)
                .evidence("share", (share * 1000.0).round() / 1000.0)
                .evidence("median_gap_seconds", median_gap_seconds)
                .evidence("files", tally.files.items().to_vec());
        }
        if by_threads {
            insight = insight
                .evidence("threads_with_manual_fix", threads.clone())
                .evidence("threads_agent_acted_in", tally.acted_threads.len())
                .evidence("thread_share", (thread_share * 1000.0).round() / 1000.0);
            if !tally.manual_fixes.is_empty() {
                insight = insight.evidence("manual_fixes", tally.manual_fixes.clone());
            }
        }
        for (id, time) in &tally.events {
            insight = insight.event_id(*id, *time);
        }
        for thread in tally.threads.names().chain(&threads) {
            if !insight.affected_threads.contains(thread) {
                insight = insight.thread(thread.clone());
            }
        }
        let insight = insight.at(time_ms);
        if self.reported.changed(agent.to_owned(), &insight) {
            out.push(insight);
        }
    }
}

/// The agent behind a thread action: the `action` field devloop records (`linter`), else the
/// actor.
fn agent_of(event: &Event) -> Option<String> {
    event.text("action").or(event.actor.as_deref()).filter(|agent| !agent.is_empty()).map(str::to_owned)
}

impl Detector for UserManualFix {
    fn info() -> DetectorInfo {
        DetectorInfo::new("user-manual-fix", env!("CARGO_PKG_VERSION"))
            .fields(["index", "absolute_path", "action", "related_agent_actions", "files"])
            .pattern(PATTERN)
            .kinds([
                "audit.file_modified",
                "audit.fix_applied",
                "audit.file_created",
                "file.modified",
                "thread.agent_action",
                "thread.user_action",
            ])
            .setting(
                "window_seconds",
                900_i64,
                "How long after an agent's change a hand edit of the same file counts. Default 900 (15 min): a \
                 fix of the agent's work comes while it is fresh; hours later the person is just working.",
            )
            .setting(
                "min_delay_seconds",
                10_i64,
                "Edits sooner than this are the watcher seeing the agent's own write. Default 10: the watcher \
                 reports a write within a second or two; a person needs longer to open and fix the file.",
            )
            .setting(
                "min_occasions",
                3_i64,
                "Agent changes followed by a hand edit (or threads with a manual fix) before the agent is \
                 reported. Default 3: people edit files they work on anyway; three follow-ups are a pattern.",
            )
            .setting(
                "min_share",
                0.4,
                "Share of the agent's changes (or of the threads it acted in) followed by a hand fix. Default \
                 0.4: a large part of its work, not the odd file the user was editing anyway.",
            )
            .setting(
                "forget_after_days",
                30_i64,
                "Days after which an agent not seen is forgotten (its counts start again if it comes back) and \
                 an agent's threads not seen drop out of its thread counts. Default 30: a month is far longer \
                 than the 15-minute window, an agent's habit not seen for a month is no longer one, and the \
                 state stays bounded by the agents and threads of the last month (at most 1000 threads per \
                 agent).",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.window_ms = settings.integer_at_least("window_seconds", 1)? * 1000;
        self.pending = Sequence::new(self.window_ms);
        self.min_delay_ms = settings.integer_at_least("min_delay_seconds", 0)? * 1000;
        self.min_occasions = settings.integer_at_least("min_occasions", 1)? as u64;
        self.min_share = settings.float("min_share")?;
        self.forget_ms = (settings.integer_at_least("forget_after_days", 1)? * DAY_MS).max(self.window_ms);
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        self.forget(event.time_ms);
        match event.kind.as_ref() {
            "file.modified" => self.edited_by_hand(event, out),
            "thread.agent_action" => self.agent_acted_in_thread(event),
            "thread.user_action" => self.fixed_in_thread(event, out),
            _ => self.agent_changed(event),
        }
        Ok(())
    }

    keep_state!(format = 2, migrate = UserManualFix::migrate; pending, agents, thread_actions, since_sweep, reported, swept_ms);
}

impl UserManualFix {
    /// Reads a format-1 snapshot: as it did not say when an agent or thread was last seen,
    /// everything counts as seen at the newest time the snapshot holds.
    fn migrate(&mut self, saved: Saved) -> Result<(), String> {
        if saved.format != 1 {
            return Err(saved.unconvertible());
        }
        let state: Format1 = saved.read_any()?;
        let newest_ms = (state.thread_actions.values().map(|(last_ms, _)| *last_ms))
            .chain(state.agents.values().flat_map(|tally| tally.events.iter().map(|(_, time_ms)| *time_ms)))
            .max()
            .unwrap_or(0);
        let agents = state.agents.into_iter().map(|(agent, tally)| {
            let TallyFormat1 {
                changes,
                followed,
                acted_threads,
                fixed_threads,
                manual_fixes,
                files,
                gaps_ms,
                events,
                threads,
            } = tally;
            let tally = Tally {
                changes,
                followed,
                acted_threads: RecentSet::from_names(acted_threads, newest_ms),
                fixed_threads: RecentSet::from_names(fixed_threads, newest_ms),
                manual_fixes,
                files,
                gaps_ms,
                events,
                threads: ThreadList::from_names(threads, newest_ms),
                last_ms: newest_ms,
            };
            (agent, tally)
        });
        self.pending = state.pending;
        self.agents = agents.collect();
        self.thread_actions = state.thread_actions;
        self.since_sweep = state.since_sweep;
        self.reported = state.reported;
        self.swept_ms = newest_ms;
        Ok(())
    }
}

export_detector!(UserManualFix);

#[cfg(test)]
mod tests {
    use devloop_plugin_sdk::state;

    use super::*;

    fn fix(id: u64, seconds: i64, agent: &str, path: &str) -> Event<'static> {
        Event::at(id, seconds * 1000, "audit.fix_applied")
            .source("agent-audit")
            .actor(agent.to_owned())
            .subject(path.to_owned())
            .success(true)
            .with("files", vec![path.to_owned()])
    }

    fn edit(id: u64, seconds: i64, path: &str) -> Event<'static> {
        Event::at(id, seconds * 1000, "file.modified")
            .source("event-store")
            .actor("filesystem")
            .subject(path.to_owned())
            .with("absolute_path", format!("/home/u/proj/{path}"))
    }

    #[test]
    fn hand_edits_after_one_agents_changes_are_reported_naming_agent_and_files() -> Result<(), String> {
        let mut detector = UserManualFix::default();
        let mut events = Vec::new();
        for occasion in 0..4_i64 {
            let at = occasion * 7_200;
            let path = format!("src/module_{occasion}.py");
            events.push(fix(occasion as u64 * 3, at, "import-sorter", &format!("/home/u/proj/{path}")));
            events.push(edit(occasion as u64 * 3 + 1, at + 1, &path));
            events.push(edit(occasion as u64 * 3 + 2, at + 240, &path));
            events.push(fix(100 + occasion as u64, at + 3_000, "formatter", "/home/u/proj/src/other.py"));
        }
        let insights = detector.process(&events)?;
        // One finding, reported when it is first sure and updated as it grows.
        assert!(insights.iter().all(|insight| insight.key == "import-sorter"), "{insights:#?}");
        let current = insights.last().ok_or("a finding")?;
        assert!(current.message.contains("`import-sorter`") && current.message.contains("src/module_0.py"));
        assert!(current.message.contains("4 of 4 changes"), "{}", current.message);
        Ok(())
    }

    #[test]
    fn an_agents_median_gap_is_that_of_its_last_follow_ups() -> Result<(), String> {
        let mut detector = UserManualFix::default();
        let mut events = Vec::new();
        let occasions = KEPT_GAPS as i64 + 50;
        for occasion in 0..occasions {
            // The first 50 hand edits 600 s after the change, the last 100 from 20 s to 119 s.
            let gap = if occasion < 50 { 600 } else { 20 + occasion - 50 };
            let at = occasion * 7_200;
            let path = format!("src/module_{occasion}.py");
            events.push(fix(occasion as u64 * 3, at, "import-sorter", &format!("/home/u/proj/{path}")));
            events.push(edit(occasion as u64 * 3 + 1, at + gap, &path));
            events.push(fix(occasion as u64 * 3 + 2, at + 3_000, "formatter", "/home/u/proj/src/other.py"));
        }
        let insights = detector.process(&events)?;
        let current = insights.last().ok_or("a finding")?;
        assert!(current.message.contains("150 of 150 changes"), "{}", current.message);
        let gap = current.evidence.fields.iter().find(|field| field.key == "median_gap_seconds");
        assert!(
            matches!(gap.map(|field| &field.value), Some(Value::Integer(70))),
            "the middle of 20..=119 s, the 600 s of the first follow-ups slid out: {gap:?}"
        );
        assert_eq!(detector.agents["import-sorter"].gaps_ms.len(), KEPT_GAPS);
        Ok(())
    }

    #[test]
    fn echoes_late_edits_and_other_files_stay_quiet() -> Result<(), String> {
        let mut detector = UserManualFix::default();
        let mut events = Vec::new();
        for occasion in 0..6_i64 {
            let at = occasion * 7_200;
            events.push(fix(occasion as u64 * 4, at, "formatter", "/home/u/proj/src/app.py"));
            events.push(edit(occasion as u64 * 4 + 1, at + 2, "src/app.py"));
            events.push(edit(occasion as u64 * 4 + 2, at + 60, "src/util.py"));
            events.push(edit(occasion as u64 * 4 + 3, at + 3_600, "src/app.py"));
        }
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    fn acted(id: u64, seconds: i64, thread: &str, agent: &str) -> Event<'static> {
        Event::at(id, seconds * 1000, "thread.agent_action")
            .thread(thread.to_owned())
            .with("action", agent)
            .with("index", 0_i64)
    }

    fn fixed_by_hand(id: u64, seconds: i64, thread: &str) -> Event<'static> {
        Event::at(id, seconds * 1000, "thread.user_action")
            .thread(thread.to_owned())
            .subject("reverted the rename")
            .with("action", "manual_fix")
    }

    fn evidence_keys(insight: &Insight) -> Vec<&str> {
        insight.evidence.fields.iter().map(|field| field.key.as_str()).collect()
    }

    #[test]
    fn each_way_of_judging_shows_its_own_evidence_and_advice() -> Result<(), String> {
        let mut by_threads = UserManualFix::default();
        let mut events = Vec::new();
        for thread in 0..3_u64 {
            let name = format!("T-{thread}");
            events.push(acted(thread * 2, thread as i64 * 600, &name, "amp"));
            events.push(fixed_by_hand(thread * 2 + 1, thread as i64 * 600 + 60, &name));
        }
        let insights = by_threads.process(&events)?;
        let current = insights.last().ok_or("a finding")?;
        assert!(current.message.contains("in 3 of the 3 threads"), "{}", current.message);
        let keys = evidence_keys(current);
        for key in ["threads_with_manual_fix", "threads_agent_acted_in", "thread_share", "manual_fixes"] {
            assert!(keys.contains(&key), "{key} in {keys:?}");
        }
        for key in ["files", "share", "agent_changes", "followed_by_manual_edit", "median_gap_seconds"] {
            assert!(!keys.contains(&key), "no edited files to show, yet {key} in {keys:?}");
        }
        assert!(current.recommendation.contains("in these threads"), "{}", current.recommendation);

        let mut by_edits = UserManualFix::default();
        let mut events = Vec::new();
        for occasion in 0..4_i64 {
            let path = format!("src/module_{occasion}.py");
            events.push(fix(occasion as u64 * 2, occasion * 7_200, "import-sorter", &format!("/home/u/proj/{path}")));
            events.push(edit(occasion as u64 * 2 + 1, occasion * 7_200 + 240, &path));
        }
        let insights = by_edits.process(&events)?;
        let current = insights.last().ok_or("a finding")?;
        let keys = evidence_keys(current);
        assert!(keys.contains(&"files") && keys.contains(&"share"), "{keys:?}");
        assert!(!keys.contains(&"threads_with_manual_fix"), "no thread was fixed by hand, yet {keys:?}");
        assert!(current.recommendation.contains("in these files"), "{}", current.recommendation);
        Ok(())
    }

    /// Twenty weeks: every day a new agent, and ten new threads where the linter acts, one in
    /// three fixed by hand, and five new files it changes and a user edits after it.
    fn day_of_work(day: i64, id: &mut u64) -> Vec<Event<'static>> {
        let mut events = Vec::new();
        let mut next = || {
            *id += 1;
            *id
        };
        for hour in 0..10_i64 {
            let start = day * 86_400 + 8 * 3_600 + hour * 3_600;
            let thread = format!("T-{day}-{hour}");
            events.push(acted(next(), start, &thread, "linter"));
            events.push(acted(next(), start + 5, &thread, &format!("agent-{day}")));
            if hour % 3 == 0 {
                events.push(fixed_by_hand(next(), start + 60, &thread));
            }
            if hour % 2 == 0 {
                let path = format!("src/day_{day}/module_{hour}.py");
                events.push(fix(next(), start + 120, "linter", &format!("/home/u/proj/{path}")));
                events.push(edit(next(), start + 300, &path).thread(thread.clone()));
            }
        }
        events
    }

    fn tracked_threads(detector: &UserManualFix) -> usize {
        let tallies = detector.agents.values();
        tallies.map(|tally| tally.acted_threads.len() + tally.fixed_threads.len() + tally.threads.names().count()).sum()
    }

    #[test]
    fn state_stays_bounded_by_the_agents_and_threads_of_the_horizon() -> Result<(), String> {
        let mut detector = UserManualFix::default();
        let (mut id, mut sizes) = (0, Vec::new());
        for day in 0..140_i64 {
            detector.process(&day_of_work(day, &mut id))?;
            if day % 28 == 27 {
                let snapshot = detector.snapshot().ok_or("user-manual-fix keeps state")?;
                // What was last reported is kept per agent ever reported (one hash each), so
                // an unchanged finding is never re-sent: the rest is what must stop growing.
                let mut opened = Saved::open(&snapshot)?;
                opened.state.as_object_mut().ok_or("an object")?.remove("reported").ok_or("kept")?;
                let bytes = state::save(&opened.state).ok_or("serializable")?.len();
                sizes.push((detector.agents.len(), tracked_threads(&detector), bytes));
            }
        }
        // From the second month on, the last 30 days' agents (one a day, and the linter) and
        // their threads.
        let (agents, threads, bytes) = sizes[1];
        assert!(agents <= 32, "{sizes:?}");
        for (later_agents, later_threads, later_bytes) in &sizes[2..] {
            assert!(*later_agents <= agents, "agents stop growing: {sizes:?}");
            assert!(*later_threads <= threads, "threads stop growing: {sizes:?}");
            // Later ids, times and day numbers take more digits, and the last day's threads'
            // actions are swept every so many events; nothing else grows.
            assert!(*later_bytes <= bytes + bytes / 8, "the snapshot stops growing: {sizes:?}");
        }
        let linter = &detector.agents["linter"];
        assert_eq!(linter.changes, 140 * 5, "the agent seen every day is never forgotten");
        assert!(linter.acted_threads.len() <= 31 * 10, "{}", linter.acted_threads.len());
        Ok(())
    }

    #[test]
    fn a_format_1_snapshot_is_read_with_everything_seen_at_its_newest_time() -> Result<(), String> {
        let mut detector = UserManualFix::default();
        let mut id = 0;
        let events: Vec<Event> = (0..3).flat_map(|day| day_of_work(day, &mut id)).collect();
        detector.process(&events)?;
        // Format 1 was today's layout with plain lists of threads, and no times.
        let mut opened = Saved::open(&detector.snapshot().ok_or("user-manual-fix keeps state")?)?;
        assert_eq!(opened.format, 2);
        let state = opened.state.as_object_mut().ok_or("an object")?;
        state.remove("swept_ms").ok_or("kept")?;
        for (agent, tally) in state.get_mut("agents").and_then(|agents| agents.as_object_mut()).ok_or("agents")? {
            let tally = tally.as_object_mut().ok_or("a tally")?;
            tally.remove("last_ms").ok_or("kept")?;
            let before = &detector.agents[agent];
            for (field, names) in [
                ("acted_threads", before.acted_threads.names().collect::<Vec<_>>()),
                ("fixed_threads", before.fixed_threads.names().collect()),
                ("threads", before.threads.names().collect()),
            ] {
                *tally.get_mut(field).ok_or("kept")? = state::load(&state::save(&names).ok_or("serializable")?)?;
            }
        }
        let saved = state::save_versioned(1, &opened.state).ok_or("serializable")?;
        let mut migrated = UserManualFix::default();
        migrated.restore(&saved)?;
        let newest_ms = events.iter().map(|event| event.time_ms).max().ok_or("events")?;
        assert_eq!(migrated.swept_ms, newest_ms);
        let (linter, before) = (&migrated.agents["linter"], &detector.agents["linter"]);
        assert_eq!((linter.changes, linter.followed, linter.last_ms), (before.changes, before.followed, newest_ms));
        assert!(linter.acted_threads.names().eq(before.acted_threads.names()));
        assert!(linter.threads.names().eq(before.threads.names()), "first-seen order kept");
        assert_eq!(migrated.agents.len(), detector.agents.len());
        // It goes on as the detector that saw the events would.
        let more = day_of_work(3, &mut id);
        let (after, expected) = (migrated.process(&more)?, detector.process(&more)?);
        assert_eq!(format!("{after:?}"), format!("{expected:?}"));
        Ok(())
    }

    #[test]
    fn file_keys_meet_across_absolute_and_relative_paths() {
        assert_eq!(file_key("/home/u/proj/src/app.py"), "src/app.py");
        assert_eq!(file_key("./src/app.py"), "src/app.py");
        assert_eq!(file_key("app.py"), "app.py");
    }
}
