//! Running one [`Pattern`] over events: the state of its kind of match, the reports per
//! finding (for confidence and escalation), and the insight each match becomes.

mod absence;
mod count;
mod metric;
mod sequence;
mod share;

use std::collections::BTreeMap;

use devloop_plugin_sdk::{Event, Insight, insight_key, stable_hash, state};
use serde::{Deserialize, Serialize};

use crate::compile::{Escalate, KeyPart, Matcher, Pattern};
use crate::filter::Captured;
use crate::template::{Facts, Shares};

/// What a person reads in an insight: its message, severity, confidence (to 3 decimals) and
/// how many events back it.
fn said(insight: &Insight) -> u64 {
    let confidence = (f64::from(insight.confidence) * 1000.0).round() as i64;
    stable_hash(&[
        insight.message.as_bytes(),
        format!("{:?}", insight.severity).as_bytes(),
        &confidence.to_le_bytes(),
        &(insight.evidence.event_ids.len() as u64).to_le_bytes(),
    ])
}

/// A completed match, before it becomes an insight.
#[derive(Debug)]
pub(crate) struct Found {
    pub events: Vec<Captured>,
    pub steps: Vec<Option<Captured>>,
    pub count: usize,
    /// Matching events beyond the minimum.
    pub extra: usize,
    pub distinct: Vec<String>,
    pub metric: Option<(f64, f64)>,
    pub shares: Option<Shares>,
    /// When the pattern was complete, if not at its last event (an absence's deadline).
    pub time_ms: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
enum MatchState {
    Count(count::State),
    Sequence(sequence::State),
    Absence(absence::State),
    Metric(metric::State),
    Share(share::State),
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    reports: BTreeMap<String, u32>,
    /// What a share finding last said, by key: it is sent again only when that changed.
    #[serde(default)]
    last_said: BTreeMap<String, u64>,
    matcher: MatchState,
}

/// What [`Engine::snapshot`] writes: the state and the match rules it belongs to.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    pattern: String,
    match_hash: u64,
    state: State,
}

/// One pattern and its state.
#[derive(Debug)]
pub struct Engine {
    pattern: Pattern,
    state: State,
}

impl Engine {
    pub fn new(pattern: Pattern) -> Engine {
        let matcher = match pattern.matcher {
            Matcher::Count(_) => MatchState::Count(count::State::default()),
            Matcher::Sequence(_) => MatchState::Sequence(sequence::State::default()),
            Matcher::Absence(_) => MatchState::Absence(absence::State::default()),
            Matcher::Metric(_) => MatchState::Metric(metric::State::default()),
            Matcher::Share(_) => MatchState::Share(share::State::default()),
        };
        Engine { pattern, state: State { reports: BTreeMap::new(), last_said: BTreeMap::new(), matcher } }
    }

    pub fn pattern(&self) -> &Pattern {
        &self.pattern
    }

    pub fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) {
        let pattern = &self.pattern;
        let group = || {
            let values: Vec<String> = pattern
                .group_by
                .iter()
                .map(|field| field.text(event).map(|value| value.into_owned()).unwrap_or_default())
                .collect();
            insight_key(&values)
        };
        let capture = || Captured::new(event, &pattern.captured);
        let found: Vec<Found> = match (&pattern.matcher, &mut self.state.matcher) {
            (Matcher::Count(rule), MatchState::Count(state)) => {
                if !rule.filter.matches(event) {
                    return;
                }
                state.on_event(rule, group(), capture()).into_iter().collect()
            }
            (Matcher::Sequence(rule), MatchState::Sequence(state)) => {
                state.on_event(rule, group(), event, capture).into_iter().collect()
            }
            (Matcher::Absence(rule), MatchState::Absence(state)) => {
                let fired = state.fire(rule, event.time_ms);
                state.on_event(rule, group(), event, capture);
                fired
            }
            (Matcher::Metric(rule), MatchState::Metric(state)) => {
                let Some(value) = rule.filter.matches(event).then(|| rule.value.number(event)).flatten() else {
                    return;
                };
                state.on_event(rule, group(), value, capture()).into_iter().collect()
            }
            (Matcher::Share(rule), MatchState::Share(state)) => {
                let group = group();
                if !rule.filter.matches(event) || group.is_empty() {
                    return;
                }
                state.on_event(rule, group, rule.part.matches(event), capture())
            }
            _ => return,
        };
        for found in found {
            out.extend(self.insight(found));
        }
    }

    /// Event time has reached `now_ms`: absence timers fire, expired windows are dropped.
    pub fn on_tick(&mut self, now_ms: i64, out: &mut Vec<Insight>) {
        let found = match (&self.pattern.matcher, &mut self.state.matcher) {
            (Matcher::Absence(rule), MatchState::Absence(state)) => state.fire(rule, now_ms),
            (Matcher::Count(rule), MatchState::Count(state)) => {
                state.evict(rule, now_ms);
                Vec::new()
            }
            (Matcher::Sequence(rule), MatchState::Sequence(state)) => {
                state.evict(rule, now_ms);
                Vec::new()
            }
            _ => Vec::new(),
        };
        for found in found {
            out.extend(self.insight(found));
        }
    }

    /// The insight `found` becomes; `None` for a share finding that says what it said last.
    fn insight(&mut self, found: Found) -> Option<Insight> {
        let pattern = &self.pattern;
        let last = found.events.last().cloned().unwrap_or(Captured {
            id: 0,
            time_ms: 0,
            thread: None,
            values: BTreeMap::new(),
        });
        let key_values: Vec<String> = pattern
            .key
            .iter()
            .map(|part| match part {
                KeyPart::Field { step, field } => {
                    let event = match step {
                        Some(step) => found.steps.get(*step).and_then(Option::as_ref).unwrap_or(&last),
                        None => &last,
                    };
                    event.get(field.name()).unwrap_or("").to_owned()
                }
                KeyPart::Text(text) => text.clone(),
            })
            .collect();
        let key = insight_key(&key_values);
        let repeats = self.state.reports.get(&key).copied().unwrap_or(0) + 1;
        let within_ms = match &pattern.matcher {
            Matcher::Count(rule) => rule.within_ms,
            Matcher::Sequence(rule) => rule.within_ms,
            Matcher::Absence(rule) => rule.within_ms,
            Matcher::Metric(_) | Matcher::Share(_) => 0,
        };
        let facts = Facts {
            events: found.events,
            steps: found.steps,
            count: found.count,
            key: key_values.iter().filter(|value| !value.is_empty()).cloned().collect::<Vec<_>>().join(" / "),
            within_ms,
            repeats,
            distinct: found.distinct,
            metric: found.metric,
            shares: found.shares,
        };
        let severity = match pattern.escalate {
            Some(Escalate::After(after, severity)) if repeats >= after => severity,
            Some(Escalate::Ratio(ratio, severity))
                if facts.metric.is_some_and(|(value, baseline)| baseline > 0.0 && value / baseline >= ratio) =>
            {
                severity
            }
            _ => pattern.severity,
        };
        let mut insight = Insight::new(pattern.id.clone(), key.clone())
            .severity(severity)
            .confidence(pattern.confidence.of(found.extra, repeats, found.shares))
            .message(pattern.message.render(&facts))
            .recommendation(pattern.recommendation.render(&facts))
            .evidence("count", facts.count)
            .evidence("span_seconds", facts.span_ms() as f64 / 1000.0)
            .evidence("repeats", u64::from(repeats));
        let step_names: Vec<String> = pattern.step_names().into_iter().map(str::to_owned).collect();
        for (part, value) in pattern.key.iter().zip(&key_values) {
            if let Some(name) = part.name(&step_names) {
                insight = insight.evidence(name, value.as_str());
            }
        }
        if !facts.distinct.is_empty() {
            insight = insight.evidence("distinct", facts.distinct.clone());
        }
        if let Some((value, baseline)) = facts.metric {
            insight = insight.evidence("value", value).evidence("baseline", baseline);
        }
        if let Some(shares) = facts.shares {
            let rounded = |share: f64| (share * 1000.0).round() / 1000.0;
            insight = insight
                .evidence("total", shares.total)
                .evidence("share", rounded(shares.share()))
                .evidence("others_share", rounded(shares.others_share()));
        }
        for event in &facts.events {
            insight = insight.event_id(event.id, event.time_ms);
        }
        for thread in facts.threads() {
            insight = insight.thread(thread.to_owned());
        }
        if let Some(time_ms) = found.time_ms {
            insight = insight.at(time_ms);
        }
        if matches!(pattern.matcher, Matcher::Share(_)) {
            let said = said(&insight);
            if self.state.last_said.get(&key) == Some(&said) {
                return None;
            }
            self.state.last_said.insert(key.clone(), said);
        }
        self.state.reports.insert(key, repeats);
        Some(insight)
    }

    /// The state, tagged with the match rules it belongs to.
    pub fn snapshot(&self) -> Option<Vec<u8>> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            pattern: &'a str,
            match_hash: u64,
            state: &'a State,
        }
        state::save(&Borrowed { pattern: &self.pattern.id, match_hash: self.pattern.match_hash, state: &self.state })
    }

    /// Takes state from a snapshot of the same match rules; anything else is refused with the
    /// reason, and the pattern starts fresh.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), String> {
        let snapshot: Snapshot = state::load(bytes)?;
        if snapshot.match_hash != self.pattern.match_hash {
            return Err(format!(
                "the saved state belongs to a different `[match]` of pattern `{}`; starting fresh",
                snapshot.pattern
            ));
        }
        let same_kind = matches!(
            (&self.pattern.matcher, &snapshot.state.matcher),
            (Matcher::Count(_), MatchState::Count(_))
                | (Matcher::Sequence(_), MatchState::Sequence(_))
                | (Matcher::Absence(_), MatchState::Absence(_))
                | (Matcher::Metric(_), MatchState::Metric(_))
                | (Matcher::Share(_), MatchState::Share(_))
        );
        if !same_kind {
            return Err("the saved state is of another kind of match; starting fresh".to_owned());
        }
        self.state = snapshot.state;
        Ok(())
    }
}
