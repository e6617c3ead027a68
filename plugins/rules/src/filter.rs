//! Which events a pattern looks at: compiled `where` tables, the fields they name, and the
//! small part of an event a pattern keeps in its state.

use std::borrow::Cow;
use std::collections::BTreeMap;

use devloop_plugin_sdk::{Event, FieldValue, Status};
use serde::{Deserialize, Serialize};

/// A field of an event, by the name a pattern file uses for it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum FieldRef {
    Kind,
    Source,
    Subject,
    Actor,
    Thread,
    /// The thread if there is one, else the actor: who did it.
    Who,
    Outcome,
    ExitCode,
    DurationMs,
    /// Any other field the source recorded.
    Field(String),
}

/// The names with a meaning of their own; every other name is a recorded field.
pub const BUILT_IN_FIELDS: &[&str] =
    &["kind", "source", "subject", "actor", "thread", "who", "outcome", "exit_code", "duration_ms"];

impl FieldRef {
    pub fn parse(name: &str) -> Option<FieldRef> {
        let valid =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
        if !valid {
            return None;
        }
        Some(match name {
            "kind" => FieldRef::Kind,
            "source" => FieldRef::Source,
            "subject" => FieldRef::Subject,
            "actor" => FieldRef::Actor,
            "thread" => FieldRef::Thread,
            "who" => FieldRef::Who,
            "outcome" => FieldRef::Outcome,
            "exit_code" => FieldRef::ExitCode,
            "duration_ms" => FieldRef::DurationMs,
            other => FieldRef::Field(other.to_owned()),
        })
    }

    pub fn name(&self) -> &str {
        match self {
            FieldRef::Kind => "kind",
            FieldRef::Source => "source",
            FieldRef::Subject => "subject",
            FieldRef::Actor => "actor",
            FieldRef::Thread => "thread",
            FieldRef::Who => "who",
            FieldRef::Outcome => "outcome",
            FieldRef::ExitCode => "exit_code",
            FieldRef::DurationMs => "duration_ms",
            FieldRef::Field(name) => name,
        }
    }

    /// The field's value as text, `None` when the event does not have it.
    pub fn text<'a>(&self, event: &'a Event) -> Option<Cow<'a, str>> {
        match self {
            FieldRef::Kind => Some(Cow::Borrowed(event.kind.as_ref())),
            FieldRef::Source => Some(Cow::Borrowed(event.source.as_ref())),
            FieldRef::Subject => event.subject.as_deref().map(Cow::Borrowed),
            FieldRef::Actor => event.actor.as_deref().map(Cow::Borrowed),
            FieldRef::Thread => event.thread_id.as_deref().map(Cow::Borrowed),
            FieldRef::Who => event.thread_id.as_deref().or(event.actor.as_deref()).map(Cow::Borrowed),
            FieldRef::Outcome => Some(Cow::Borrowed(status_name(event.outcome.status))),
            FieldRef::ExitCode => event.outcome.exit_code.map(|code| Cow::Owned(code.to_string())),
            FieldRef::DurationMs => event.duration_ms.map(|ms| Cow::Owned(ms.to_string())),
            FieldRef::Field(name) => event.field(name).map(value_text),
        }
    }

    /// The field's value as a number, for metrics.
    pub fn number(&self, event: &Event) -> Option<f64> {
        match self {
            FieldRef::ExitCode => event.outcome.exit_code.map(f64::from),
            FieldRef::DurationMs => event.duration_ms.map(|ms| ms as f64),
            FieldRef::Field(name) => event.number(name),
            other => other.text(event).and_then(|text| text.parse().ok()),
        }
    }
}

pub fn status_name(status: Status) -> &'static str {
    match status {
        Status::Success => "success",
        Status::Failure => "failure",
        Status::Unknown => "unknown",
    }
}

fn value_text(value: FieldValue<'_>) -> Cow<'_, str> {
    match value {
        FieldValue::Text(text) => Cow::Borrowed(text),
        FieldValue::Integer(integer) => Cow::Owned(integer.to_string()),
        FieldValue::Float(float) => Cow::Owned(float.to_string()),
        FieldValue::Boolean(flag) => Cow::Owned(flag.to_string()),
        FieldValue::Texts(texts) => Cow::Owned(texts.join(", ")),
        FieldValue::Json(json) => Cow::Borrowed(json),
    }
}

/// A shell-style glob: `*` any run of characters, `?` one character. Globs without wildcards
/// or with one trailing `*` (nearly all kind globs) match without allocating.
#[derive(Debug, Clone)]
pub enum Glob {
    Exact(String),
    Prefix(String),
    General(Vec<char>),
}

impl Glob {
    pub fn new(pattern: &str) -> Glob {
        let wild = |c: char| c == '*' || c == '?';
        match pattern.find(wild) {
            None => Glob::Exact(pattern.to_owned()),
            Some(at) if at + 1 == pattern.len() && pattern.ends_with('*') => Glob::Prefix(pattern[..at].to_owned()),
            Some(_) => Glob::General(pattern.chars().collect()),
        }
    }

    /// The glob as written.
    pub fn source(&self) -> String {
        match self {
            Glob::Exact(text) => text.clone(),
            Glob::Prefix(prefix) => format!("{prefix}*"),
            Glob::General(chars) => chars.iter().collect(),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Exact(exact) => text == exact,
            Glob::Prefix(prefix) => text.starts_with(prefix.as_str()),
            Glob::General(pattern) => general_match(pattern, text),
        }
    }
}

fn general_match(pattern: &[char], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('*') => {
                backtrack = Some((p, t));
                p += 1;
            }
            Some('?') => {
                p += 1;
                t += 1;
            }
            Some(c) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star, matched)) => {
                    p = star + 1;
                    t = matched + 1;
                    backtrack = Some((star, matched + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// One test on a field's value.
#[derive(Debug, Clone)]
pub enum Condition {
    Equals(String),
    Glob(Glob),
    Regex(regex::Regex),
    OneOf(Vec<String>),
    Present(bool),
    AtMost(f64),
    AtLeast(f64),
}

impl Condition {
    fn holds(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Condition::Present(wanted), value) => value.is_some() == *wanted,
            (_, None) => false,
            (Condition::Equals(expected), Some(value)) => value == expected,
            (Condition::Glob(glob), Some(value)) => glob.matches(value),
            (Condition::Regex(regex), Some(value)) => regex.is_match(value),
            (Condition::OneOf(options), Some(value)) => options.iter().any(|option| option == value),
            (Condition::AtMost(limit), Some(value)) => value.parse::<f64>().is_ok_and(|number| number <= *limit),
            (Condition::AtLeast(limit), Some(value)) => value.parse::<f64>().is_ok_and(|number| number >= *limit),
        }
    }
}

/// A compiled `where` table: every part must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kinds: Vec<Glob>,
    pub outcomes: Vec<Status>,
    pub thread: Option<bool>,
    pub conditions: Vec<(FieldRef, Condition)>,
    /// At least one must hold (none given: no condition).
    pub any: Vec<Filter>,
    pub not: Option<Box<Filter>>,
}

impl Filter {
    pub fn matches(&self, event: &Event) -> bool {
        (self.kinds.is_empty() || self.kinds.iter().any(|glob| glob.matches(&event.kind)))
            && (self.outcomes.is_empty() || self.outcomes.contains(&event.outcome.status))
            && self.thread.is_none_or(|wanted| event.thread_id.is_some() == wanted)
            && self.conditions.iter().all(|(field, condition)| condition.holds(field.text(event).as_deref()))
            && (self.any.is_empty() || self.any.iter().any(|filter| filter.matches(event)))
            && self.not.as_ref().is_none_or(|filter| !filter.matches(event))
    }
}

/// What a pattern keeps of an event it matched: its id, time, thread, and the fields the
/// pattern's keys, back-references and messages name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Captured {
    pub id: u64,
    pub time_ms: i64,
    pub thread: Option<String>,
    pub values: BTreeMap<String, String>,
}

impl Captured {
    pub fn new(event: &Event, fields: &[FieldRef]) -> Captured {
        let values = fields
            .iter()
            .filter_map(|field| field.text(event).map(|value| (field.name().to_owned(), value.into_owned())))
            .collect();
        Captured { id: event.id, time_ms: event.time_ms, thread: event.thread_id.as_deref().map(str::to_owned), values }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.values.get(field).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        assert!(Glob::new("cli.*").matches("cli.command"));
        assert!(Glob::new("*init*").matches("devloop init --force"));
        assert!(Glob::new("bd sy?c").matches("bd sync"));
        assert!(!Glob::new("cli.*").matches("telemetry.agent_executed"));
        assert!(!Glob::new("bd sync").matches("bd sync --force"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("a*b*").matches("axxbyy") && !Glob::new("a*b?").matches("axxb"));
    }

    #[test]
    fn filters_test_kind_outcome_thread_and_fields() {
        let filter = Filter {
            kinds: vec![Glob::new("cli.*")],
            outcomes: vec![Status::Failure],
            thread: None,
            conditions: vec![(FieldRef::Subject, Condition::Glob(Glob::new("bd *")))],
            ..Filter::default()
        };
        let failing = Event::at(1, 0, "cli.command").subject("bd sync").exit_code(1);
        assert!(filter.matches(&failing));
        assert!(!filter.matches(&Event::at(2, 0, "cli.command").subject("bd sync").exit_code(0)));
        assert!(!filter.matches(&Event::at(3, 0, "cli.command").subject("git status").exit_code(1)));
        assert!(!filter.matches(&Event::at(4, 0, "telemetry.x").subject("bd sync").exit_code(1)));
        let agent = Filter {
            conditions: vec![(FieldRef::Field("agent".into()), Condition::OneOf(vec!["linter".into()]))],
            thread: Some(true),
            ..Filter::default()
        };
        assert!(agent.matches(&Event::at(5, 0, "x").thread("T-1").with("agent", "linter")));
        assert!(!agent.matches(&Event::at(6, 0, "x").with("agent", "linter")), "no thread");
    }
}
