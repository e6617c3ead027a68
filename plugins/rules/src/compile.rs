//! From a pattern file as written ([`crate::spec`]) to a [`Pattern`] ready to run, checking
//! everything that can be checked before an event arrives: every problem is reported with its
//! line, all at once.

use std::ops::Range;

use devloop_plugin_sdk::{Severity, Status, stable_hash, two_proportion_confidence};
use toml::Spanned;

use crate::duration;
use crate::error::{Errors, PatternError};
use crate::filter::{Captured, Condition, FieldRef, Filter, Glob};
use crate::spec::{ConditionSpec, FilterSpec, MatchSpec, PatternSpec, StepSpec};
use crate::template::{Builtin, Placeholder, Shares, Template};

/// A pattern, checked and ready to run.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    /// When a finding takes another severity than `severity`.
    pub escalate: Option<Escalate>,
    pub message: Template,
    pub recommendation: Template,
    pub confidence: Confidence,
    /// The fields that make one match's key (events with different values never meet).
    pub group_by: Vec<FieldRef>,
    /// The fields that name one finding.
    pub key: Vec<KeyPart>,
    /// The fields kept of every matched event.
    pub captured: Vec<FieldRef>,
    pub matcher: Matcher,
    /// The event kinds the pattern can use, as the host filters them (`cli.*`); empty: all.
    pub kinds: Vec<String>,
    /// Identifies the match rules: state carries over a reload only when this is unchanged.
    pub match_hash: u64,
    /// The thresholds the file writes in `[match]`, with its values: the pattern's settings.
    pub settings: Vec<(String, toml::Value)>,
}

/// A part of a finding's name: a field of a named step (`failed.subject`) or of the last
/// matched event, or a fixed text (`'duration'`) that sets the pattern's findings apart from
/// another pattern's findings about the same thing.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    Field { step: Option<usize>, field: FieldRef },
    Text(String),
}

impl KeyPart {
    /// The name as written, for evidence; a fixed text has none.
    pub fn name(&self, steps: &[String]) -> Option<String> {
        match self {
            KeyPart::Field { step, field } => Some(match step.and_then(|step| steps.get(step)) {
                Some(step) => format!("{step}.{}", field.name()),
                None => field.name().to_owned(),
            }),
            KeyPart::Text(_) => None,
        }
    }

    fn field(&self) -> Option<&FieldRef> {
        match self {
            KeyPart::Field { field, .. } => Some(field),
            KeyPart::Text(_) => None,
        }
    }
}

/// How sure a finding is.
#[derive(Debug, Clone, PartialEq)]
pub struct Confidence {
    pub base: f64,
    pub per_extra: f64,
    pub per_repeat: f64,
    pub max: f64,
    /// `test = "two_proportion"` (share): one minus the p-value of "the key's share is higher
    /// than the other keys'", instead of base and steps.
    pub two_proportion: bool,
}

impl Confidence {
    /// `extra`: matching events beyond the minimum; `repeats`: reports of this finding so far,
    /// this one included.
    pub fn of(&self, extra: usize, repeats: u32, shares: Option<Shares>) -> f64 {
        if let (true, Some(shares)) = (self.two_proportion, shares) {
            let confidence =
                two_proportion_confidence(shares.part, shares.total, shares.others_part, shares.others_total);
            return confidence.min(self.max);
        }
        let value = self.base + self.per_extra * extra as f64 + self.per_repeat * f64::from(repeats.saturating_sub(1));
        value.min(self.max)
    }
}

#[derive(Debug, Clone)]
pub enum Matcher {
    Count(CountMatch),
    Sequence(SequenceMatch),
    /// Boxed: two steps make it several times the size of the others.
    Absence(Box<AbsenceMatch>),
    Metric(MetricMatch),
    Share(ShareMatch),
}

/// A key whose share of `part` among its events (of `where`) stands out: at least `at_least`
/// part events, a share of at least `min_share`, and `above_others` times the share of all
/// other keys together.
#[derive(Debug, Clone)]
pub struct ShareMatch {
    pub filter: Filter,
    pub part: Filter,
    pub at_least: u64,
    pub min_share: f64,
    pub above_others: Option<f64>,
}

/// At least `at_least` matching events (or distinct values) per key within `within_ms`.
#[derive(Debug, Clone)]
pub struct CountMatch {
    pub filter: Filter,
    pub at_least: usize,
    pub within_ms: i64,
    pub distinct: Option<FieldRef>,
    /// Only when the count is also this many times the key's usual count per window, judged
    /// once the key has this much history.
    pub above_usual: Option<(f64, i64)>,
}

/// Steps in order per key within `within_ms`, cancelled by `until`.
#[derive(Debug, Clone)]
pub struct SequenceMatch {
    pub steps: Vec<Step>,
    pub within_ms: i64,
    pub until: Option<Filter>,
}

/// `first` not followed by `then` within `within_ms`.
#[derive(Debug, Clone)]
pub struct AbsenceMatch {
    pub first: Step,
    pub then: Step,
    pub within_ms: i64,
}

/// A value over (or under) a multiple of the key's own usual value.
#[derive(Debug, Clone)]
pub struct MetricMatch {
    pub filter: Filter,
    pub value: FieldRef,
    pub above: Option<f64>,
    pub below: Option<f64>,
    pub warmup: u32,
    /// How many of the key's latest values are judged together (their median); 1: each alone.
    pub recent: usize,
    pub baseline: Baseline,
}

/// When a finding takes the escalated severity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Escalate {
    /// From this many reports of one finding on.
    After(u32, Severity),
    /// While a metric's value is at least this many times its baseline.
    Ratio(f64, Severity),
}

/// What a metric's value is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Baseline {
    /// A running mean of every value.
    Mean,
    /// The median of up to 200 earlier values, frozen while the key is out of its usual range;
    /// with `z_above`, the robust z-score (from the median absolute deviation) must pass it too.
    Median { z_above: Option<f64> },
}

#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub filter: Filter,
    pub same: Vec<FieldRef>,
    pub differs: Vec<FieldRef>,
    pub extends: Vec<FieldRef>,
    pub within_ms: Option<i64>,
    pub absent: bool,
}

impl Step {
    /// Whether `event` is this step, after `previous` (the step before it, if any).
    pub fn matches(&self, event: &devloop_plugin_sdk::Event, previous: Option<&Captured>) -> bool {
        if !self.filter.matches(event) {
            return false;
        }
        let Some(previous) = previous else { return true };
        if self.within_ms.is_some_and(|within| event.time_ms - previous.time_ms > within) {
            return false;
        }
        let value = |field: &FieldRef| field.text(event);
        self.same.iter().all(|field| matches!((value(field), previous.get(field.name())), (Some(a), Some(b)) if a == b))
            && self.differs.iter().all(|field| value(field).as_deref() != previous.get(field.name()))
            && self.extends.iter().all(|field| match (value(field), previous.get(field.name())) {
                (Some(now), Some(before)) => {
                    now.len() > before.len() && now.starts_with(before) && now[before.len()..].starts_with(' ')
                }
                _ => false,
            })
    }
}

const SEVERITIES: &str = "info, warning or error";

fn severity(name: &str) -> Option<Severity> {
    match name {
        "info" => Some(Severity::Info),
        "warning" => Some(Severity::Warning),
        "error" => Some(Severity::Error),
        _ => None,
    }
}

/// The keys each kind of match takes, for the "does not apply" message.
const KEYS: &[(&str, &[&str])] = &[
    ("count", &["group_by", "within", "where", "at_least", "distinct", "above_usual", "usual_after"]),
    ("sequence", &["group_by", "within", "steps", "until"]),
    ("absence", &["group_by", "within", "steps"]),
    ("metric", &["group_by", "where", "value", "above", "below", "warmup", "recent", "baseline", "z_above"]),
    ("share", &["group_by", "where", "part", "at_least", "min_share", "above_others"]),
];

impl Pattern {
    /// Reads and checks a pattern file's text; `origin` (a path) names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Pattern, Vec<PatternError>> {
        let spec: PatternSpec = toml::from_str(text).map_err(|error| {
            let mut errors = Errors::new(origin, text);
            errors.at(error.span().unwrap_or(0..0), error.message().trim().to_owned());
            errors.found
        })?;
        let mut errors = Errors::new(origin, text);
        let pattern = compile(spec, text, &mut errors);
        match pattern {
            Some(pattern) if errors.found.is_empty() => Ok(pattern),
            _ => Err(errors.found),
        }
    }

    /// Every step's name, in order (sequences and absences).
    pub fn step_names(&self) -> Vec<&str> {
        match &self.matcher {
            Matcher::Sequence(sequence) => sequence.steps.iter().map(|step| step.name.as_str()).collect(),
            Matcher::Absence(absence) => vec![absence.first.name.as_str(), absence.then.name.as_str()],
            Matcher::Count(_) | Matcher::Metric(_) | Matcher::Share(_) => Vec::new(),
        }
    }

    pub fn kind_name(&self) -> &'static str {
        match self.matcher {
            Matcher::Count(_) => "count",
            Matcher::Sequence(_) => "sequence",
            Matcher::Absence(_) => "absence",
            Matcher::Metric(_) => "metric",
            Matcher::Share(_) => "share",
        }
    }
}

fn span<T>(value: &Spanned<T>) -> Range<usize> {
    value.span()
}

fn compile(spec: PatternSpec, text: &str, errors: &mut Errors<'_>) -> Option<Pattern> {
    let id = spec.id.get_ref();
    let valid_id = id.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid_id {
        errors.at(
            span(&spec.id),
            format!("id `{id}` must be lowercase letters, digits, `_` or `-`, starting with a letter"),
        );
    }
    for (name, value) in [("title", &spec.title), ("description", &spec.description)] {
        if value.get_ref().trim().is_empty() {
            errors.at(span(value), format!("`{name}` is empty; say what the pattern finds"));
        }
    }
    let base_severity = severity(spec.severity.get_ref()).unwrap_or_else(|| {
        errors.at(span(&spec.severity), format!("severity `{}` is not {SEVERITIES}", spec.severity.get_ref()));
        Severity::Info
    });
    let escalate = spec.escalate.as_ref().and_then(|spanned| {
        let escalate = spanned.get_ref();
        let to = severity(escalate.severity.get_ref());
        if to.is_none() {
            errors.at(
                span(&escalate.severity),
                format!("severity `{}` is not {SEVERITIES}", escalate.severity.get_ref()),
            );
        }
        match (&escalate.after, &escalate.ratio) {
            (Some(after), None) => {
                if *after.get_ref() < 2 {
                    errors.at(span(after), "`after` must be at least 2 (reports of one finding)");
                }
                Some(Escalate::After(u32::try_from(*after.get_ref()).ok()?, to?))
            }
            (None, Some(ratio)) => {
                if spec.matcher.get_ref().kind.get_ref() != "metric" {
                    errors.at(span(ratio), "`ratio` only applies to a `metric` match (its value over its baseline)");
                }
                if ratio.get_ref().is_nan() || *ratio.get_ref() <= 0.0 {
                    errors.at(span(ratio), "`ratio` must be more than 0");
                }
                Some(Escalate::Ratio(*ratio.get_ref(), to?))
            }
            _ => {
                errors.at(span(spanned), "`escalate` needs exactly one of `after` (reports) and `ratio` (metric)");
                None
            }
        }
    });
    let confidence = confidence(&spec.confidence, errors);

    let matcher_spec = spec.matcher.into_inner();
    let kind = matcher_spec.kind.get_ref().clone();
    let Some((_, allowed)) = KEYS.iter().find(|(name, _)| *name == kind) else {
        errors.at(
            span(&matcher_spec.kind),
            format!("match kind `{kind}` is not count, sequence, absence, metric or share"),
        );
        return None;
    };
    for (key, key_span) in present_keys(&matcher_spec) {
        if !allowed.contains(&key) {
            errors.at(key_span, format!("`{key}` does not apply to a {kind} match; it takes {}", allowed.join(", ")));
        }
    }
    let group_by = fields(matcher_spec.group_by.as_ref(), errors);
    let step_names: Vec<String> = matcher_spec
        .steps
        .as_ref()
        .map(|steps| {
            steps
                .get_ref()
                .iter()
                .enumerate()
                .map(|(index, step)| match &step.get_ref().name {
                    Some(name) => name.get_ref().clone(),
                    None => format!("step{}", index + 1),
                })
                .collect()
        })
        .unwrap_or_default();
    let step_index = |name: &str| step_names.iter().position(|step| step == name);
    let template = |value: &Spanned<String>, errors: &mut Errors<'_>| {
        Template::parse(value.get_ref(), &step_index).map_err(|message| errors.at(span(value), message)).ok()
    };
    let message = template(&spec.message, errors);
    let recommendation = template(&spec.recommendation, errors);
    let key: Vec<KeyPart> = match &spec.key {
        Some(names) => names
            .get_ref()
            .iter()
            .filter_map(|name| {
                if let Some(text) = name.strip_prefix('\'').and_then(|rest| rest.strip_suffix('\'')) {
                    return Some(KeyPart::Text(text.to_owned()));
                }
                let (step, field) = match name.split_once('.') {
                    Some((step, field)) => match step_index(step) {
                        Some(index) => (Some(index), field),
                        None => {
                            errors.at(
                                span(names),
                                format!("key `{name}` names step `{step}`, which this pattern has not"),
                            );
                            return None;
                        }
                    },
                    None => (None, name.as_str()),
                };
                match FieldRef::parse(field) {
                    Some(field) => Some(KeyPart::Field { step, field }),
                    None => {
                        errors.at(span(names), format!("`{name}` is not a field name"));
                        None
                    }
                }
            })
            .collect(),
        None => group_by.iter().map(|field| KeyPart::Field { step: None, field: field.clone() }).collect(),
    };
    let matcher = compile_matcher(&kind, matcher_spec, errors)?;
    let (message, recommendation) = (message?, recommendation?);
    for template in [&message, &recommendation] {
        for placeholder in template.placeholders() {
            let only = match placeholder {
                Placeholder::Builtin(Builtin::Distinct) => {
                    (!matches!(&matcher, Matcher::Count(count) if count.distinct.is_some()))
                        .then_some("a count with `distinct`")
                }
                Placeholder::Builtin(Builtin::Value | Builtin::Baseline | Builtin::Ratio) => {
                    (!matches!(matcher, Matcher::Metric(_))).then_some("a metric match")
                }
                Placeholder::Builtin(Builtin::Total | Builtin::Share | Builtin::OthersShare) => {
                    (!matches!(matcher, Matcher::Share(_))).then_some("a share match")
                }
                _ => None,
            };
            if let Some(only) = only {
                let value = if std::ptr::eq(template, &message) { &spec.message } else { &spec.recommendation };
                errors.at(span(value), format!("a placeholder in this text is only filled in {only}"));
            }
        }
    }

    let named = named_fields(&group_by, &key, &matcher);
    for (template, value) in [(&message, &spec.message), (&recommendation, &spec.recommendation)] {
        for placeholder in template.placeholders() {
            if let Placeholder::Field { step: None, field: FieldRef::Field(name) } = placeholder
                && !named.iter().any(|field| field.name() == name)
            {
                errors.at(
                    span(value),
                    format!(
                        "`{{{name}}}` is not a placeholder, and this pattern names no field `{name}`; \
                         write `{{fields.{name}}}` for a field the source records"
                    ),
                );
            }
        }
    }

    let mut captured = vec![FieldRef::Subject, FieldRef::Actor, FieldRef::Who];
    let mut capture = |field: &FieldRef| {
        if !captured.contains(field) {
            captured.push(field.clone());
        }
    };
    group_by.iter().for_each(&mut capture);
    key.iter().filter_map(KeyPart::field).for_each(&mut capture);
    for template in [&message, &recommendation] {
        for placeholder in template.placeholders() {
            if let Placeholder::Field { field, .. } | Placeholder::Recorded(field) = placeholder {
                capture(field);
            }
        }
    }
    match &matcher {
        Matcher::Sequence(SequenceMatch { steps, .. }) => steps
            .iter()
            .flat_map(|step| step.same.iter().chain(&step.differs).chain(&step.extends))
            .for_each(&mut capture),
        Matcher::Absence(absence) => {
            let then = &absence.then;
            then.same.iter().chain(&then.differs).chain(&then.extends).for_each(&mut capture)
        }
        Matcher::Count(count) => count.distinct.iter().for_each(&mut capture),
        Matcher::Metric(_) | Matcher::Share(_) => {}
    }
    if confidence.two_proportion && !matches!(matcher, Matcher::Share(_)) {
        errors.at(span(&spec.confidence), "confidence `test` only applies to a share match");
    }

    let table: toml::Table = text.parse().ok()?;
    let match_hash = {
        let part = |name: &str| table.get(name).map(ToString::to_string).unwrap_or_default();
        stable_hash(&[part("match").as_bytes(), part("key").as_bytes()])
    };
    let settings =
        table.get("match").and_then(toml::Value::as_table).map(crate::settings::declared).unwrap_or_default();
    let kinds = wanted_kinds(&matcher);
    Some(Pattern {
        id: id.clone(),
        title: spec.title.into_inner(),
        description: spec.description.into_inner(),
        severity: base_severity,
        escalate,
        message,
        recommendation,
        confidence,
        group_by,
        key,
        captured,
        matcher,
        kinds,
        match_hash,
        settings,
    })
}

/// Every field the pattern names outside its texts: a bare `{name}` in a text must be one.
fn named_fields(group_by: &[FieldRef], key: &[KeyPart], matcher: &Matcher) -> Vec<FieldRef> {
    let mut named: Vec<FieldRef> =
        group_by.iter().cloned().chain(key.iter().filter_map(KeyPart::field).cloned()).collect();
    let filter_fields = |filter: &Filter| filter.conditions.iter().map(|(field, _)| field.clone()).collect::<Vec<_>>();
    let step_fields = |step: &Step| {
        let mut fields = filter_fields(&step.filter);
        fields.extend(step.same.iter().chain(&step.differs).chain(&step.extends).cloned());
        fields
    };
    match matcher {
        Matcher::Count(count) => {
            named.extend(filter_fields(&count.filter));
            named.extend(count.distinct.clone());
        }
        Matcher::Metric(metric) => {
            named.extend(filter_fields(&metric.filter));
            named.push(metric.value.clone());
        }
        Matcher::Share(share) => {
            named.extend(filter_fields(&share.filter));
            named.extend(filter_fields(&share.part));
        }
        Matcher::Sequence(sequence) => {
            named.extend(sequence.steps.iter().flat_map(step_fields));
            named.extend(sequence.until.iter().flat_map(filter_fields));
        }
        Matcher::Absence(absence) => {
            named.extend(step_fields(&absence.first));
            named.extend(step_fields(&absence.then));
        }
    }
    named
}

fn confidence(spec: &Spanned<crate::spec::ConfidenceSpec>, errors: &mut Errors<'_>) -> Confidence {
    let rule = spec.get_ref();
    let two_proportion = match &rule.test {
        None => false,
        Some(test) if test.get_ref() == "two_proportion" => true,
        Some(test) => {
            errors.at(span(test), format!("confidence test `{}` is not \"two_proportion\"", test.get_ref()));
            false
        }
    };
    if rule.base.is_none() && !two_proportion {
        errors.at(span(spec), "confidence needs `base` (or, for a share match, `test = \"two_proportion\"`)");
    }
    let mut share = |value: Option<&Spanned<f64>>, default: f64, name: &str| {
        let Some(value) = value else { return default };
        if !(0.0..=1.0).contains(value.get_ref()) {
            errors.at(span(value), format!("confidence `{name}` must be between 0 and 1"));
        }
        *value.get_ref()
    };
    let confidence = Confidence {
        base: share(rule.base.as_ref(), 0.5, "base"),
        per_extra: share(rule.per_extra.as_ref(), 0.0, "per_extra"),
        per_repeat: share(rule.per_repeat.as_ref(), 0.0, "per_repeat"),
        max: share(rule.max.as_ref(), 0.95, "max"),
        two_proportion,
    };
    if confidence.max < confidence.base {
        errors.at(span(spec), "confidence `max` is below `base`");
    }
    confidence
}

fn present_keys(spec: &MatchSpec) -> Vec<(&'static str, Range<usize>)> {
    let mut keys = Vec::new();
    let mut note = |name: &'static str, span: Option<Range<usize>>| {
        if let Some(span) = span {
            keys.push((name, span));
        }
    };
    note("group_by", spec.group_by.as_ref().map(span));
    note("within", spec.within.as_ref().map(span));
    note("where", spec.filter.as_ref().map(span));
    note("at_least", spec.at_least.as_ref().map(span));
    note("distinct", spec.distinct.as_ref().map(span));
    note("above_usual", spec.above_usual.as_ref().map(span));
    note("usual_after", spec.usual_after.as_ref().map(span));
    note("steps", spec.steps.as_ref().map(span));
    note("until", spec.until.as_ref().map(span));
    note("value", spec.value.as_ref().map(span));
    note("above", spec.above.as_ref().map(span));
    note("below", spec.below.as_ref().map(span));
    note("warmup", spec.warmup.as_ref().map(span));
    note("recent", spec.recent.as_ref().map(span));
    note("baseline", spec.baseline.as_ref().map(span));
    note("z_above", spec.z_above.as_ref().map(span));
    note("part", spec.part.as_ref().map(span));
    note("min_share", spec.min_share.as_ref().map(span));
    note("above_others", spec.above_others.as_ref().map(span));
    keys
}

fn fields(names: Option<&Spanned<Vec<String>>>, errors: &mut Errors<'_>) -> Vec<FieldRef> {
    let Some(names) = names else { return Vec::new() };
    names
        .get_ref()
        .iter()
        .filter_map(|name| {
            FieldRef::parse(name).or_else(|| {
                errors.at(span(names), format!("`{name}` is not a field name"));
                None
            })
        })
        .collect()
}

fn field(name: &Spanned<String>, errors: &mut Errors<'_>) -> Option<FieldRef> {
    FieldRef::parse(name.get_ref()).or_else(|| {
        errors.at(span(name), format!("`{}` is not a field name", name.get_ref()));
        None
    })
}

fn within(value: Option<&Spanned<String>>, owner: Range<usize>, kind: &str, errors: &mut Errors<'_>) -> Option<i64> {
    let Some(value) = value else {
        errors.at(owner, format!("a {kind} match needs `within` (a span such as \"10m\")"));
        return None;
    };
    span_ms(value, errors)
}

fn span_ms(value: &Spanned<String>, errors: &mut Errors<'_>) -> Option<i64> {
    match duration::parse(value.get_ref()) {
        Some(ms) if ms > 0 => Some(ms),
        _ => {
            errors.at(
                span(value),
                format!("`{}` is not a span; write a number and a unit: 500ms, 90s, 10m, 2h, 1d", value.get_ref()),
            );
            None
        }
    }
}

fn compile_matcher(kind: &str, spec: MatchSpec, errors: &mut Errors<'_>) -> Option<Matcher> {
    let kind_span = span(&spec.kind);
    let filter = spec.filter.map(|filter| compile_filter(filter, errors)).unwrap_or_default();
    match kind {
        "count" => {
            let within_ms = within(spec.within.as_ref(), kind_span.clone(), kind, errors);
            let at_least = match &spec.at_least {
                Some(value) if *value.get_ref() >= 1 => Some(*value.get_ref() as usize),
                Some(value) => {
                    errors.at(span(value), "`at_least` must be 1 or more");
                    None
                }
                None => {
                    errors.at(kind_span, "a count match needs `at_least` (how many events make a finding)");
                    None
                }
            };
            let distinct = spec.distinct.as_ref().and_then(|name| field(name, errors));
            let usual_after = spec.usual_after.as_ref().and_then(|value| span_ms(value, errors));
            let above_usual = match &spec.above_usual {
                Some(factor) if *factor.get_ref() <= 0.0 => {
                    errors
                        .at(span(factor), "`above_usual` must be a positive factor (3.0: three times the usual count)");
                    None
                }
                Some(factor) => Some((*factor.get_ref(), usual_after.unwrap_or(within_ms? * 5))),
                None => {
                    if let Some(value) = &spec.usual_after {
                        errors.at(span(value), "`usual_after` only applies with `above_usual`");
                    }
                    None
                }
            };
            Some(Matcher::Count(CountMatch {
                filter,
                at_least: at_least?,
                within_ms: within_ms?,
                distinct,
                above_usual,
            }))
        }
        "sequence" | "absence" => {
            let within_ms = within(spec.within.as_ref(), kind_span.clone(), kind, errors);
            let Some(steps_spec) = spec.steps else {
                errors.at(kind_span, format!("a {kind} match needs `[[match.steps]]`"));
                return None;
            };
            let steps_span = span(&steps_spec);
            let steps: Vec<Step> = steps_spec
                .into_inner()
                .into_iter()
                .enumerate()
                .filter_map(|(index, step)| compile_step(index, step, errors))
                .collect();
            let mut names: Vec<&str> = Vec::new();
            for step in &steps {
                if names.contains(&step.name.as_str()) {
                    errors.at(steps_span.clone(), format!("two steps are named `{}`", step.name));
                }
                names.push(&step.name);
            }
            if kind == "absence" {
                if steps.len() != 2 || steps.iter().any(|step| step.absent) {
                    errors.at(
                        steps_span,
                        "an absence match has two steps: the event, then the follow-up that must not be missing",
                    );
                    return None;
                }
                let mut steps = steps.into_iter();
                let (first, then) = (steps.next()?, steps.next()?);
                return Some(Matcher::Absence(Box::new(AbsenceMatch { first, then, within_ms: within_ms? })));
            }
            if steps.iter().filter(|step| !step.absent).count() < 2 {
                errors.at(steps_span.clone(), "a sequence needs at least two steps that happen");
            }
            if steps.first().is_some_and(|step| step.absent) || steps.last().is_some_and(|step| step.absent) {
                errors.at(
                    steps_span,
                    "an `absent` step must sit between two steps that happen (for \"A not followed by B\", use an absence match)",
                );
            }
            let until = spec.until.map(|until| compile_filter(until, errors));
            Some(Matcher::Sequence(SequenceMatch { steps, within_ms: within_ms?, until }))
        }
        "metric" => {
            let Some(value) = spec.value.as_ref() else {
                errors.at(kind_span, "a metric match needs `value` (the field to watch, e.g. \"duration_ms\")");
                return None;
            };
            let value = field(value, errors)?;
            let multiple = |factor: &Option<Spanned<f64>>, errors: &mut Errors<'_>| {
                factor.as_ref().map(|factor| {
                    if *factor.get_ref() <= 0.0 {
                        errors.at(span(factor), "the factor must be positive (3.0: three times the usual value)");
                    }
                    *factor.get_ref()
                })
            };
            let (above, below) = (multiple(&spec.above, errors), multiple(&spec.below, errors));
            if above.is_none() && below.is_none() {
                errors.at(kind_span, "a metric match needs `above` or `below` (a multiple of the key's usual value)");
            }
            let warmup = match &spec.warmup {
                Some(value) if *value.get_ref() < 1 => {
                    errors.at(span(value), "`warmup` must be 1 or more");
                    1
                }
                Some(value) => u32::try_from(*value.get_ref()).unwrap_or(u32::MAX),
                None => 5,
            };
            let recent = match &spec.recent {
                Some(value) if *value.get_ref() < 1 => {
                    errors.at(span(value), "`recent` must be 1 or more (how many latest values are judged together)");
                    1
                }
                Some(value) => usize::try_from(*value.get_ref()).unwrap_or(usize::MAX),
                None => 1,
            };
            let z_above = spec.z_above.as_ref().map(|z| {
                if *z.get_ref() <= 0.0 {
                    errors.at(span(z), "`z_above` must be positive (3.5 is the usual outlier line)");
                }
                *z.get_ref()
            });
            let baseline = match spec.baseline.as_ref().map(|name| (name.get_ref().as_str(), span(name))) {
                None | Some(("mean", _)) => {
                    for (name, value) in
                        [("z_above", spec.z_above.as_ref().map(span)), ("recent", spec.recent.as_ref().map(span))]
                    {
                        if let Some(value) = value {
                            errors.at(value, format!("`{name}` only applies with `baseline = \"median\"`"));
                        }
                    }
                    Baseline::Mean
                }
                Some(("median", _)) => Baseline::Median { z_above },
                Some((other, name_span)) => {
                    errors.at(name_span, format!("baseline `{other}` is not \"mean\" or \"median\""));
                    Baseline::Mean
                }
            };
            Some(Matcher::Metric(MetricMatch { filter, value, above, below, warmup, recent, baseline }))
        }
        "share" => {
            let Some(part) = spec.part else {
                errors.at(
                    kind_span,
                    "a share match needs `part` (a `where` table: which of the events count toward the share)",
                );
                return None;
            };
            let part = compile_filter(part, errors);
            let at_least = match &spec.at_least {
                Some(value) if *value.get_ref() < 1 => {
                    errors.at(span(value), "`at_least` must be 1 or more");
                    1
                }
                Some(value) => u64::try_from(*value.get_ref()).unwrap_or(1),
                None => 1,
            };
            let min_share = match &spec.min_share {
                Some(value) if !(0.0..=1.0).contains(value.get_ref()) => {
                    errors.at(span(value), "`min_share` must be between 0 and 1");
                    0.0
                }
                Some(value) => *value.get_ref(),
                None => 0.0,
            };
            let above_others = spec.above_others.as_ref().map(|factor| {
                if *factor.get_ref() <= 0.0 {
                    errors.at(
                        span(factor),
                        "`above_others` must be a positive factor (2.0: twice the other keys' share)",
                    );
                }
                *factor.get_ref()
            });
            Some(Matcher::Share(ShareMatch { filter, part, at_least, min_share, above_others }))
        }
        _ => None,
    }
}

fn compile_step(index: usize, spec: Spanned<StepSpec>, errors: &mut Errors<'_>) -> Option<Step> {
    let spec = spec.into_inner();
    let name = match &spec.name {
        Some(name) => {
            if FieldRef::parse(name.get_ref()).is_none() || name.get_ref().contains('.') {
                errors.at(span(name), format!("step name `{}` must be letters, digits and `_`", name.get_ref()));
            }
            name.get_ref().clone()
        }
        None => format!("step{}", index + 1),
    };
    let within_ms = spec.within.as_ref().and_then(|value| span_ms(value, errors));
    let relation = |names: Option<&Spanned<Vec<String>>>, errors: &mut Errors<'_>| {
        if index == 0
            && let Some(names) = names
        {
            errors.at(span(names), "the first step has no previous step to refer back to");
        }
        fields(names, errors)
    };
    let same = relation(spec.same.as_ref(), errors);
    let differs = relation(spec.differs.as_ref(), errors);
    let extends = relation(spec.extends.as_ref(), errors);
    Some(Step {
        name,
        filter: spec.filter.map(|filter| compile_filter(filter, errors)).unwrap_or_default(),
        same,
        differs,
        extends,
        within_ms,
        absent: spec.absent.is_some_and(|absent| *absent.get_ref()),
    })
}

fn compile_filter(spec: Spanned<FilterSpec>, errors: &mut Errors<'_>) -> Filter {
    let spec = spec.into_inner();
    let mut filter = Filter::default();
    if let Some(kinds) = spec.kind {
        filter.kinds = kinds.into_inner().into_vec().iter().map(|kind| Glob::new(kind)).collect();
    }
    if let Some(outcomes) = &spec.outcome {
        for outcome in outcomes.get_ref().clone().into_vec() {
            match outcome.as_str() {
                "success" => filter.outcomes.push(Status::Success),
                "failure" => filter.outcomes.push(Status::Failure),
                "unknown" => filter.outcomes.push(Status::Unknown),
                other => errors.at(span(outcomes), format!("outcome `{other}` is not success, failure or unknown")),
            }
        }
    }
    filter.thread = spec.thread.map(Spanned::into_inner);
    let named = [(FieldRef::Source, spec.source), (FieldRef::Subject, spec.subject), (FieldRef::Actor, spec.actor)];
    for (field, condition) in named {
        if let Some(condition) = condition
            && let Some(condition) = compile_condition(condition, errors)
        {
            filter.conditions.push((field, condition));
        }
    }
    for (name, condition) in spec.fields {
        let Some(field) = FieldRef::parse(&name) else {
            errors.at(span(&condition), format!("`{name}` is not a field name"));
            continue;
        };
        if let Some(condition) = compile_condition(condition, errors) {
            filter.conditions.push((field, condition));
        }
    }
    if let Some(any) = spec.any {
        filter.any = any.into_inner().into_iter().map(|table| compile_filter(table, errors)).collect();
    }
    filter.not = spec.not.map(|table| Box::new(compile_filter(*table, errors)));
    filter
}

fn compile_condition(spec: Spanned<ConditionSpec>, errors: &mut Errors<'_>) -> Option<Condition> {
    let condition_span = span(&spec);
    let table = match spec.into_inner() {
        ConditionSpec::Bare(value) => return Some(Condition::Equals(value.as_text())),
        ConditionSpec::Table(table) => table,
    };
    let mut tests = Vec::new();
    if let Some(value) = table.equals {
        tests.push(Condition::Equals(value.as_text()));
    }
    if let Some(glob) = table.glob {
        tests.push(Condition::Glob(Glob::new(&glob)));
    }
    if let Some(regex) = table.regex {
        match regex::Regex::new(&regex) {
            Ok(regex) => tests.push(Condition::Regex(regex)),
            Err(error) => {
                let reason = error.to_string().lines().last().unwrap_or_default().trim().to_owned();
                errors.at(condition_span.clone(), format!("regex `{regex}` does not compile: {reason}"));
                return None;
            }
        }
    }
    if let Some(options) = table.one_of {
        tests.push(Condition::OneOf(options.iter().map(crate::spec::Scalar::as_text).collect()));
    }
    if let Some(present) = table.present {
        tests.push(Condition::Present(present));
    }
    if let Some(limit) = table.at_most {
        tests.push(Condition::AtMost(limit));
    }
    if let Some(limit) = table.at_least {
        tests.push(Condition::AtLeast(limit));
    }
    if tests.len() != 1 {
        errors.at(
            condition_span,
            "a condition table takes exactly one of equals, glob, regex, one_of, present, at_most, at_least",
        );
        return None;
    }
    tests.pop()
}

/// The kinds to ask the host for: each kind glob up to its first wildcard (the host matches
/// a trailing `*` as a prefix); the pattern's own filters do the exact matching.
fn wanted_kinds(matcher: &Matcher) -> Vec<String> {
    let filters: Vec<&Filter> = match matcher {
        Matcher::Count(count) => vec![&count.filter],
        Matcher::Metric(metric) => vec![&metric.filter],
        Matcher::Share(share) => vec![&share.filter],
        Matcher::Absence(absence) => vec![&absence.first.filter, &absence.then.filter],
        Matcher::Sequence(sequence) => {
            sequence.steps.iter().map(|step| &step.filter).chain(sequence.until.as_ref()).collect()
        }
    };
    let mut kinds = Vec::new();
    for filter in filters {
        if filter.kinds.is_empty() {
            return Vec::new();
        }
        for glob in &filter.kinds {
            let text: String = glob.source();
            let kind = match text.find(['*', '?']) {
                Some(wild) => format!("{}*", &text[..wild]),
                None => text,
            };
            if kind == "*" {
                return Vec::new();
            }
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
    }
    kinds
}
