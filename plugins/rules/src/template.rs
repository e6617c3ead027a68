//! Message and recommendation templates: text with `{placeholders}` filled from the match.
//! `{{` and `}}` are literal braces.

use crate::duration;
use crate::filter::{Captured, FieldRef};

/// Values every match has, and those only some kinds of match have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// The subject of the last matched event (for CLI events, the command line).
    Command,
    /// The actor of the last matched event.
    Agent,
    /// The thread, else the actor, of the last matched event.
    Who,
    /// Matching events (count: in the window; distinct: distinct values; sequence: steps).
    Count,
    /// From the first to the last matched event, for people (`3m 20s`).
    Span,
    /// The agent threads involved, comma-separated.
    Threads,
    /// The finding's key fields, ` / `-separated.
    Key,
    /// The match's `within`, for people.
    Within,
    /// How many times this finding has been reported, this time included.
    Repeats,
    /// The distinct values counted (count with `distinct`).
    Distinct,
    /// The observed value (metric).
    Value,
    /// The key's usual value (metric).
    Baseline,
    /// Value over baseline (metric).
    Ratio,
    /// The key's events (share).
    Total,
    /// The share of the key's events that are part, as a whole percentage (share).
    Share,
    /// The share of all other keys' events together, as a whole percentage (share).
    OthersShare,
}

impl Builtin {
    pub const ALL: &'static [(&'static str, Builtin)] = &[
        ("command", Builtin::Command),
        ("agent", Builtin::Agent),
        ("who", Builtin::Who),
        ("count", Builtin::Count),
        ("span", Builtin::Span),
        ("threads", Builtin::Threads),
        ("key", Builtin::Key),
        ("within", Builtin::Within),
        ("repeats", Builtin::Repeats),
        ("distinct", Builtin::Distinct),
        ("value", Builtin::Value),
        ("baseline", Builtin::Baseline),
        ("ratio", Builtin::Ratio),
        ("total", Builtin::Total),
        ("share", Builtin::Share),
        ("others_share", Builtin::OthersShare),
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub enum Placeholder {
    Builtin(Builtin),
    /// A captured field: of a named step, or of the last matched event.
    Field {
        step: Option<usize>,
        field: FieldRef,
    },
    /// `{fields.NAME}`: a recorded field of the last matched event, named explicitly.
    Recorded(FieldRef),
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Placeholder(Placeholder),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

/// Everything a placeholder can be filled from.
#[derive(Debug, Default)]
pub struct Facts {
    /// The matched events in order; the last is "the" event.
    pub events: Vec<Captured>,
    /// The event each step matched, by step index (sequences and absences).
    pub steps: Vec<Option<Captured>>,
    pub count: usize,
    pub key: String,
    pub within_ms: i64,
    pub repeats: u32,
    pub distinct: Vec<String>,
    pub metric: Option<(f64, f64)>,
    pub shares: Option<Shares>,
}

/// A share match's counts: the key's part of its total, and all other keys' together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shares {
    pub part: u64,
    pub total: u64,
    pub others_part: u64,
    pub others_total: u64,
}

impl Shares {
    pub fn share(&self) -> f64 {
        self.part as f64 / self.total.max(1) as f64
    }

    pub fn others_share(&self) -> f64 {
        if self.others_total == 0 { 0.0 } else { self.others_part as f64 / self.others_total as f64 }
    }
}

/// A share as a whole percentage, rounded half away from zero (`12.5` → `13%`).
fn percent(share: f64) -> String {
    format!("{}%", (share * 100.0).round() as i64)
}

impl Facts {
    pub fn span_ms(&self) -> i64 {
        match (self.events.first(), self.events.last()) {
            (Some(first), Some(last)) => last.time_ms - first.time_ms,
            _ => 0,
        }
    }

    pub fn threads(&self) -> Vec<String> {
        let mut threads: Vec<String> = Vec::new();
        for thread in self.events.iter().filter_map(|event| event.thread.clone()) {
            if !threads.contains(&thread) {
                threads.push(thread);
            }
        }
        threads
    }

    fn last(&self, field: &str) -> String {
        self.events.last().and_then(|event| event.get(field)).unwrap_or("").to_owned()
    }
}

impl Template {
    /// Parses `text`; `step_index` resolves `{step.field}` names. Errors name the placeholder.
    pub fn parse(text: &str, step_index: &dyn Fn(&str) -> Option<usize>) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err("a lone `}`; write `}}` for a literal brace".to_owned()),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some(c) => name.push(c),
                            None => return Err(format!("`{{{name}` is not closed with `}}`")),
                        }
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Placeholder(placeholder(name.trim(), step_index)?));
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The builtins and fields the template uses.
    pub fn placeholders(&self) -> impl Iterator<Item = &Placeholder> {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder(placeholder) => Some(placeholder),
            Part::Text(_) => None,
        })
    }

    pub fn render(&self, facts: &Facts) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Placeholder(placeholder) => out.push_str(&fill(placeholder, facts)),
            }
        }
        out
    }
}

fn placeholder(name: &str, step_index: &dyn Fn(&str) -> Option<usize>) -> Result<Placeholder, String> {
    if let Some((_, builtin)) = Builtin::ALL.iter().find(|(builtin, _)| *builtin == name) {
        return Ok(Placeholder::Builtin(*builtin));
    }
    let (step, field) = match name.split_once('.') {
        Some(("fields", field)) => {
            let field = FieldRef::parse(field).ok_or_else(|| format!("`{{{name}}}` is not a placeholder"))?;
            return Ok(Placeholder::Recorded(field));
        }
        Some((step, field)) => {
            let index = step_index(step)
                .ok_or_else(|| format!("`{{{name}}}` names step `{step}`, which this pattern has not"))?;
            (Some(index), field)
        }
        None => (None, name),
    };
    let field = FieldRef::parse(field).ok_or_else(|| format!("`{{{name}}}` is not a placeholder"))?;
    Ok(Placeholder::Field { step, field })
}

fn fill(placeholder: &Placeholder, facts: &Facts) -> String {
    let number = |value: f64| if value.fract() == 0.0 { format!("{value:.0}") } else { format!("{value:.2}") };
    match placeholder {
        Placeholder::Builtin(builtin) => match builtin {
            Builtin::Command => facts.last("subject"),
            Builtin::Agent => facts.last("actor"),
            Builtin::Who => facts.last("who"),
            Builtin::Count => facts.count.to_string(),
            Builtin::Span => duration::human(facts.span_ms()),
            Builtin::Threads => facts.threads().join(", "),
            Builtin::Key => facts.key.clone(),
            Builtin::Within => duration::human(facts.within_ms),
            Builtin::Repeats => facts.repeats.to_string(),
            Builtin::Distinct => facts.distinct.join(", "),
            Builtin::Value => facts.metric.map(|(value, _)| number(value)).unwrap_or_default(),
            Builtin::Baseline => facts.metric.map(|(_, baseline)| number(baseline)).unwrap_or_default(),
            Builtin::Ratio => facts
                .metric
                .map(
                    |(value, baseline)| {
                        if baseline == 0.0 { String::new() } else { format!("{:.1}", value / baseline) }
                    },
                )
                .unwrap_or_default(),
            Builtin::Total => facts.shares.map(|shares| shares.total.to_string()).unwrap_or_default(),
            Builtin::Share => facts.shares.map(|shares| percent(shares.share())).unwrap_or_default(),
            Builtin::OthersShare => facts.shares.map(|shares| percent(shares.others_share())).unwrap_or_default(),
        },
        Placeholder::Field { step: Some(index), field } => facts
            .steps
            .get(*index)
            .and_then(Option::as_ref)
            .and_then(|event| event.get(field.name()))
            .unwrap_or("")
            .to_owned(),
        Placeholder::Field { step: None, field } | Placeholder::Recorded(field) => facts.last(field.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(name: &str) -> Option<usize> {
        ["failed", "retried"].iter().position(|step| *step == name)
    }

    fn captured(id: u64, time_ms: i64, subject: &str) -> Captured {
        Captured {
            id,
            time_ms,
            thread: Some(format!("T-{id}")),
            values: [("subject".to_owned(), subject.to_owned())].into(),
        }
    }

    #[test]
    fn placeholders_fill_from_the_match() -> Result<(), String> {
        let template =
            Template::parse("`{failed.subject}` then `{command}` in {span} ({threads}) {{literal}}", &steps)?;
        let facts = Facts {
            events: vec![captured(1, 0, "bd sync"), captured(2, 95_000, "bd sync --no-daemon")],
            steps: vec![Some(captured(1, 0, "bd sync")), Some(captured(2, 95_000, "bd sync --no-daemon"))],
            ..Facts::default()
        };
        assert_eq!(template.render(&facts), "`bd sync` then `bd sync --no-daemon` in 1m 35s (T-1, T-2) {literal}");
        Ok(())
    }

    #[test]
    fn typos_in_placeholders_are_errors() {
        assert!(Template::parse("{faild.subject}", &steps).expect_err("an unknown step").contains("faild"));
        assert!(Template::parse("{count", &steps).expect_err("an open brace").contains("not closed"));
        assert!(Template::parse("a } b", &steps).is_err());
        assert!(Template::parse("{bad name}", &steps).is_err());
    }
}
