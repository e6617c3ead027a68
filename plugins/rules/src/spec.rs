//! The pattern file as written: serde types that mirror the TOML one to one, with the position
//! of every value kept (`Spanned`) so validation can name the line. Unknown keys are errors.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// One pattern file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    pub id: Spanned<String>,
    pub title: Spanned<String>,
    pub description: Spanned<String>,
    pub severity: Spanned<String>,
    pub message: Spanned<String>,
    pub recommendation: Spanned<String>,
    pub confidence: Spanned<ConfidenceSpec>,
    /// The fields naming one finding; by default the match's `group_by`.
    #[serde(default)]
    pub key: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub escalate: Option<Spanned<EscalateSpec>>,
    #[serde(rename = "match")]
    pub matcher: Spanned<MatchSpec>,
}

/// How sure a finding is: `base`, plus `per_extra` for every matching event beyond the
/// minimum, plus `per_repeat` for every earlier report of the same finding, at most `max`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfidenceSpec {
    #[serde(default)]
    pub base: Option<Spanned<f64>>,
    /// `"two_proportion"`: a statistical test instead of base and steps (share matches).
    #[serde(default)]
    pub test: Option<Spanned<String>>,
    #[serde(default)]
    pub per_extra: Option<Spanned<f64>>,
    #[serde(default)]
    pub per_repeat: Option<Spanned<f64>>,
    #[serde(default)]
    pub max: Option<Spanned<f64>>,
}

/// A finding reported `after` times, or (metric) whose value is `ratio` times its baseline or
/// more, takes `severity`; exactly one of `after` and `ratio`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateSpec {
    #[serde(default)]
    pub after: Option<Spanned<i64>>,
    #[serde(default)]
    pub ratio: Option<Spanned<f64>>,
    pub severity: Spanned<String>,
}

/// `[match]`: one table for every kind; validation says which keys a kind takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchSpec {
    pub kind: Spanned<String>,
    #[serde(default)]
    pub group_by: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub within: Option<Spanned<String>>,
    #[serde(rename = "where", default)]
    pub filter: Option<Spanned<FilterSpec>>,
    #[serde(default)]
    pub at_least: Option<Spanned<i64>>,
    #[serde(default)]
    pub distinct: Option<Spanned<String>>,
    #[serde(default)]
    pub above_usual: Option<Spanned<f64>>,
    #[serde(default)]
    pub usual_after: Option<Spanned<String>>,
    #[serde(default)]
    pub steps: Option<Spanned<Vec<Spanned<StepSpec>>>>,
    #[serde(default)]
    pub until: Option<Spanned<FilterSpec>>,
    #[serde(default)]
    pub value: Option<Spanned<String>>,
    #[serde(default)]
    pub above: Option<Spanned<f64>>,
    #[serde(default)]
    pub below: Option<Spanned<f64>>,
    #[serde(default)]
    pub warmup: Option<Spanned<i64>>,
    /// Judge the median of the key's last `recent` values rather than each value alone.
    #[serde(default)]
    pub recent: Option<Spanned<i64>>,
    /// `"mean"` (a running mean, the default) or `"median"` (median and MAD of earlier values).
    #[serde(default)]
    pub baseline: Option<Spanned<String>>,
    /// With a median baseline: the robust z-score must pass this too.
    #[serde(default)]
    pub z_above: Option<Spanned<f64>>,
    /// A share match: the events of `where` that count toward the share.
    #[serde(default)]
    pub part: Option<Spanned<FilterSpec>>,
    #[serde(default)]
    pub min_share: Option<Spanned<f64>>,
    /// A share match: how many times the other keys' share together the key's must be.
    #[serde(default)]
    pub above_others: Option<Spanned<f64>>,
}

/// One step of a sequence or absence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    #[serde(rename = "where", default)]
    pub filter: Option<Spanned<FilterSpec>>,
    /// Fields equal to the previous step's.
    #[serde(default)]
    pub same: Option<Spanned<Vec<String>>>,
    /// Fields different from the previous step's.
    #[serde(default)]
    pub differs: Option<Spanned<Vec<String>>>,
    /// Fields that repeat the previous step's value and add to it (`bd sync` → `bd sync --force`).
    #[serde(default)]
    pub extends: Option<Spanned<Vec<String>>>,
    /// Longest gap after the previous step.
    #[serde(default)]
    pub within: Option<Spanned<String>>,
    /// This step must not happen between the steps around it.
    #[serde(default)]
    pub absent: Option<Spanned<bool>>,
}

/// `where = { … }`: every condition given must hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterSpec {
    #[serde(default)]
    pub kind: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub outcome: Option<Spanned<OneOrMany>>,
    #[serde(default)]
    pub thread: Option<Spanned<bool>>,
    #[serde(default)]
    pub source: Option<Spanned<ConditionSpec>>,
    #[serde(default)]
    pub subject: Option<Spanned<ConditionSpec>>,
    #[serde(default)]
    pub actor: Option<Spanned<ConditionSpec>>,
    #[serde(default)]
    pub fields: BTreeMap<String, Spanned<ConditionSpec>>,
    /// At least one of these tables must hold.
    #[serde(default)]
    pub any: Option<Spanned<Vec<Spanned<FilterSpec>>>>,
    /// This table must not hold.
    #[serde(default)]
    pub not: Option<Box<Spanned<FilterSpec>>>,
}

/// A text or a list of texts.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

/// A literal in a condition: compared as text, so `exit_code = 1` and `"1"` are the same.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
}

impl Scalar {
    pub fn as_text(&self) -> String {
        match self {
            Scalar::Text(text) => text.clone(),
            Scalar::Integer(integer) => integer.to_string(),
            Scalar::Float(float) => float.to_string(),
            Scalar::Boolean(flag) => flag.to_string(),
        }
    }
}

/// A condition on one value: a bare literal means `equals`; a table names one test.
#[derive(Debug, Clone)]
pub enum ConditionSpec {
    Bare(Scalar),
    Table(ConditionTable),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionTable {
    #[serde(default)]
    pub equals: Option<Scalar>,
    #[serde(default)]
    pub glob: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
    #[serde(default)]
    pub one_of: Option<Vec<Scalar>>,
    #[serde(default)]
    pub present: Option<bool>,
    /// A number no greater than this.
    #[serde(default)]
    pub at_most: Option<f64>,
    /// A number no less than this.
    #[serde(default)]
    pub at_least: Option<f64>,
}

impl<'de> Deserialize<'de> for ConditionSpec {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ConditionSpec;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a value to equal, or a table with one of equals, glob, regex, one_of, present, at_most, at_least",
                )
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<ConditionSpec, E> {
                Ok(ConditionSpec::Bare(Scalar::Text(text.to_owned())))
            }
            fn visit_i64<E: serde::de::Error>(self, integer: i64) -> Result<ConditionSpec, E> {
                Ok(ConditionSpec::Bare(Scalar::Integer(integer)))
            }
            fn visit_f64<E: serde::de::Error>(self, float: f64) -> Result<ConditionSpec, E> {
                Ok(ConditionSpec::Bare(Scalar::Float(float)))
            }
            fn visit_bool<E: serde::de::Error>(self, flag: bool) -> Result<ConditionSpec, E> {
                Ok(ConditionSpec::Bare(Scalar::Boolean(flag)))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<ConditionSpec, A::Error> {
                ConditionTable::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(ConditionSpec::Table)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
