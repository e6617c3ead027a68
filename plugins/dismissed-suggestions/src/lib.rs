//! `dismissed_suggestions`: an agent whose results users dismiss, thumb down or rate low far
//! more often than they do for the other agents.
//!
//! Every agent gets some negative feedback; what matters is one agent standing out. Each
//! feedback record (`feedback.*`, subject = the agent rated) counts toward that agent's total,
//! and dismissals, thumbs-down and ratings of `max_low_rating` or less count as negative. An
//! agent is reported when it has `min_negative` negative records, a negative share of at least
//! `min_share`, and at least `min_ratio` times the share of all other agents together. The
//! confidence is one minus the p-value of a two-proportion test of "this agent's share is
//! higher than the others'". Every threshold is there so that one dismissal among many
//! thumbs-up stays quiet.
//!
//! devloop-host writes its own dismissals into devloop's feedback log (so devloop sees them);
//! those records (`event_type` `devloop-host:<pattern>:dismissed`, context source
//! `devloop-host`) are about devloop-host's findings, not a devloop agent, and are skipped.
//! Totals over all agents are kept as they grow, so judging an agent is O(log n) per event.

use std::collections::BTreeMap;

use devloop_plugin_sdk::prelude::*;
use serde::{Deserialize, Serialize};

pub const PATTERN: &str = "dismissed_suggestions";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Tally {
    total: u64,
    dismissed: u64,
    thumbs_down: u64,
    low_ratings: u64,
    comments: Examples<String>,
    events: Vec<(u64, i64)>,
}

impl Tally {
    fn negative(&self) -> u64 {
        self.dismissed + self.thumbs_down + self.low_ratings
    }
}

pub struct DismissedSuggestions {
    min_negative: u64,
    min_share: f64,
    min_ratio: f64,
    max_low_rating: i64,
    agents: BTreeMap<String, Tally>,
    /// Feedback and negative feedback over all agents.
    all_total: u64,
    all_negative: u64,
    reported: LastReported<String>,
}

/// Whether the record is one devloop-host wrote about its own finding.
fn written_by_devloop_host(event: &Event) -> bool {
    event.text("event_type").is_some_and(|kind| kind.starts_with("devloop-host:"))
        || event.text("context").is_some_and(|context| context.contains(r#""source": "devloop-host""#))
}

impl Default for DismissedSuggestions {
    fn default() -> Self {
        DismissedSuggestions {
            min_negative: 5,
            min_share: 0.4,
            min_ratio: 2.0,
            max_low_rating: 2,
            agents: BTreeMap::new(),
            all_total: 0,
            all_negative: 0,
            reported: LastReported::new(),
        }
    }
}

impl DismissedSuggestions {
    fn judge(&mut self, agent: String, out: &mut Vec<Insight>) {
        let tally = &self.agents[&agent];
        let others_negative = self.all_negative - tally.negative();
        let others_total = self.all_total - tally.total;
        let share = tally.negative() as f64 / tally.total.max(1) as f64;
        let others_share = if others_total == 0 { 0.0 } else { others_negative as f64 / others_total as f64 };
        if tally.negative() < self.min_negative
            || share < self.min_share
            || others_total == 0
            || share < self.min_ratio * others_share
        {
            return;
        }
        let confidence = two_proportion_confidence(tally.negative(), tally.total, others_negative, others_total);
        let percent = |share: f64| (share * 100.0).round();
        let mut insight = Insight::new(PATTERN, insight_key(&[&agent]))
            .severity(if share >= 0.6 { Severity::Error } else { Severity::Warning })
            .confidence(confidence.min(0.99))
            .message(format!(
                "Users dismissed or rated down {negative} of {total} `{agent}` results ({share}%), against {others}% for the other agents",
                negative = tally.negative(),
                total = tally.total,
                share = percent(share),
                others = percent(others_share),
            ))
            .recommendation(format!(
                "Review what `{agent}` reports that users reject (see the comments in the evidence): tighten its \
                 rules or thresholds, drop the noisy findings, or let users mute a rule, so its output is worth reading again."
            ))
            .evidence("agent", agent.as_str())
            .evidence("negative", tally.negative())
            .evidence("total", tally.total)
            .evidence("dismissed", tally.dismissed)
            .evidence("thumbs_down", tally.thumbs_down)
            .evidence("low_ratings", tally.low_ratings)
            .evidence("negative_share", (share * 1000.0).round() / 1000.0)
            .evidence("others_negative_share", (others_share * 1000.0).round() / 1000.0);
        if !tally.comments.items().is_empty() {
            insight = insight.evidence("comments", tally.comments.items().to_vec());
        }
        for (id, time) in &tally.events {
            insight = insight.event_id(*id, *time);
        }
        if self.reported.changed(agent, &insight) {
            out.push(insight);
        }
    }
}

impl Detector for DismissedSuggestions {
    fn info() -> DetectorInfo {
        DetectorInfo::new("dismissed-suggestions", env!("CARGO_PKG_VERSION"))
            .fields(["value", "comment", "context", "event_type"])
            .pattern(PATTERN)
            .kinds(["feedback.*"])
            .setting(
                "min_negative",
                5_i64,
                "Dismissals, thumbs-down and low ratings an agent needs before it can be reported. Default 5: a \
                 few rejections happen to every agent; five is a pattern worth reading.",
            )
            .setting(
                "min_share",
                0.4,
                "Share of the agent's feedback that must be negative. Default 0.4: an agent mostly thumbed up \
                 with a few dismissals is doing its job.",
            )
            .setting(
                "min_ratio",
                2.0,
                "How many times the other agents' negative share the agent's must be. Default 2: the agent \
                 stands out, rather than users being strict with every agent.",
            )
            .setting(
                "max_low_rating",
                2_i64,
                "Ratings (1-5) at or below this count as negative. Default 2: 3 is neutral on a 5-point scale.",
            )
    }

    fn configure(&mut self, settings: &Settings) -> Result<(), String> {
        self.min_negative = settings.integer_at_least("min_negative", 1)? as u64;
        self.min_share = settings.float("min_share")?;
        self.min_ratio = settings.float("min_ratio")?;
        self.max_low_rating = settings.integer("max_low_rating")?;
        Ok(())
    }

    fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
        let Some(agent) = event.subject.as_deref().filter(|agent| !agent.is_empty()).map(str::to_owned) else {
            return Ok(());
        };
        if written_by_devloop_host(event) {
            return Ok(());
        }
        let tally = self.agents.entry(agent.clone()).or_default();
        let negative = match event.kind.as_ref() {
            "feedback.dismiss" => {
                tally.dismissed += 1;
                true
            }
            "feedback.thumbs_down" => {
                tally.thumbs_down += 1;
                true
            }
            "feedback.rating" => {
                let low = event.number("value").is_some_and(|rating| rating <= self.max_low_rating as f64);
                tally.low_ratings += u64::from(low);
                low
            }
            "feedback.thumbs_up" | "feedback.comment" => false,
            _ => return Ok(()),
        };
        tally.total += 1;
        self.all_total += 1;
        self.all_negative += u64::from(negative);
        if negative {
            if let Some(comment) = event.text("comment").filter(|comment| !comment.is_empty()) {
                tally.comments.push(comment.to_owned());
            }
            if tally.events.len() < 20 {
                tally.events.push((event.id, event.time_ms));
            }
        }
        // Every count in a finding may have moved: this agent's, and the other agents' share
        // that the findings already reported are compared with.
        let earlier: Vec<String> = self.reported.keys().filter(|reported| **reported != agent).cloned().collect();
        self.judge(agent, out);
        for reported in earlier {
            self.judge(reported, out);
        }
        Ok(())
    }

    keep_state!(format = 1; agents, all_total, all_negative, reported);
}

export_detector!(DismissedSuggestions);

#[cfg(test)]
mod tests {
    use super::*;

    fn feedback(id: u64, kind: &str, agent: &str) -> Event<'static> {
        Event::at(id, id as i64 * 60_000, format!("feedback.{kind}")).source("feedback").subject(agent.to_owned())
    }

    fn noise(events: &mut Vec<Event>, from: u64, count: u64) {
        let agents = ["linter", "formatter", "test-runner"];
        for index in 0..count {
            let kind = if index % 9 == 0 { "dismiss" } else { "thumbs_up" };
            events.push(feedback(from + index, kind, agents[index as usize % 3]));
        }
    }

    #[test]
    fn an_agent_dismissed_far_more_than_others_is_reported() -> Result<(), String> {
        let mut detector = DismissedSuggestions::default();
        let mut events = Vec::new();
        noise(&mut events, 0, 90);
        for index in 0..10 {
            let kind = if index % 3 == 0 { "thumbs_up" } else { "dismiss" };
            events.push(feedback(1_000 + index, kind, "security-scanner").with("comment", "false positive"));
        }
        events.push(feedback(2_000, "rating", "security-scanner").with("value", 1_i64));
        let insights = detector.process(&events)?;
        assert!(!insights.is_empty());
        let last = insights.last().expect("reported");
        assert!(last.message.contains("`security-scanner`"), "{}", last.message);
        assert!(last.confidence > 0.95, "{}", last.confidence);
        assert!(insights.iter().all(|insight| insight.key == "security-scanner"));
        assert!(
            insights.windows(2).all(|pair| pair[0].message != pair[1].message),
            "an update is sent only when the finding changed: {insights:#?}"
        );
        assert!(last.message.starts_with("Users dismissed or rated down 7 of 11"), "{}", last.message);
        Ok(())
    }

    #[test]
    fn devloop_hosts_own_dismissals_are_not_an_agents() -> Result<(), String> {
        let mut detector = DismissedSuggestions::default();
        let mut events = Vec::new();
        noise(&mut events, 0, 90);
        events.extend((0..8).map(|index| {
            feedback(1_000 + index, "dismiss", "command-repetition")
                .with("event_type", "devloop-host:command_repetition:dismissed")
                .with("context", r#"{"source": "devloop-host", "pattern": "command_repetition"}"#)
        }));
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }

    #[test]
    fn evenly_spread_negative_feedback_stays_quiet() -> Result<(), String> {
        let mut detector = DismissedSuggestions::default();
        let mut events = Vec::new();
        noise(&mut events, 0, 300);
        events.extend((0..5).map(|index| feedback(500 + index, "rating", "linter").with("value", 4_i64)));
        assert!(detector.process(&events)?.is_empty());
        Ok(())
    }
}
