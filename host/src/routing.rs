//! Which findings go where: a TOML file of rules by pattern, severity and confidence, each
//! naming sinks (the terminal, a JSON Lines file, beads). A key this file does not know is an
//! error, not a surprise.
//!
//! ```toml
//! # .devloop-host/routing.toml
//! [[rule]]
//! sinks = ["terminal"]            # every new or materially changed finding
//!
//! [[rule]]
//! min_severity = "warning"
//! min_confidence = 0.7
//! sinks = ["beads", "jsonl"]
//!
//! [jsonl]
//! path = ".devloop-host/findings.jsonl"
//!
//! [beads]
//! parent = "proj-a1b2"            # filed issues are `discovered-from` it
//! labels = ["ux"]
//! ```
//!
//! A finding goes to every sink of every rule it matches. Without a file, every new or
//! materially changed finding goes to the terminal.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::model::{Insight, Severity};

/// The file's name in the state folder.
pub const ROUTING_FILE: &str = "routing.toml";

/// Where a finding can be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// A notice on stderr.
    Terminal,
    /// One JSON object per line, appended to `[jsonl] path`.
    Jsonl,
    /// A beads issue, filed once per finding through the `bd` CLI.
    Beads,
}

/// The routing file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// The rules, in any order.
    #[serde(rename = "rule", default = "default_rules")]
    pub rules: Vec<Rule>,
    /// Settings of the JSON Lines sink; required when a rule names it.
    pub jsonl: Option<JsonlSettings>,
    /// Settings of the beads sink.
    #[serde(default)]
    pub beads: BeadsSettings,
}

/// A finding matching every condition given goes to `sinks`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Pattern ids (any of them); empty or absent matches every pattern.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// At least this severe: `info`, `warning` or `error`.
    pub min_severity: Option<Severity>,
    /// At least this confident, 0.0–1.0.
    pub min_confidence: Option<f32>,
    pub sinks: Vec<SinkKind>,
}

/// Where the JSON Lines sink appends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlSettings {
    /// Relative paths are relative to the project (the working folder).
    pub path: PathBuf,
}

/// How findings become beads issues.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BeadsSettings {
    /// The `bd` program (default: `bd` on PATH; the `BD_BIN` environment variable overrides both).
    pub bin: Option<PathBuf>,
    /// The issue filed issues are `discovered-from`.
    pub parent: Option<String>,
    /// The issue type: task, bug, feature, chore…
    #[serde(default = "default_issue_type", rename = "type")]
    pub issue_type: String,
    /// Labels besides `devloop-host` and the pattern id.
    #[serde(default)]
    pub labels: Vec<String>,
    /// Priority (0 highest … 4) of each severity.
    #[serde(default)]
    pub priority: Priorities,
}

impl Default for BeadsSettings {
    fn default() -> Self {
        BeadsSettings {
            bin: None,
            parent: None,
            issue_type: default_issue_type(),
            labels: Vec::new(),
            priority: Priorities::default(),
        }
    }
}

/// Beads priority per severity; devloop's own bridge uses error 1, warning 2, info 3.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Priorities {
    #[serde(default = "default_error_priority")]
    pub error: u8,
    #[serde(default = "default_warning_priority")]
    pub warning: u8,
    #[serde(default = "default_info_priority")]
    pub info: u8,
}

impl Default for Priorities {
    fn default() -> Self {
        Priorities {
            error: default_error_priority(),
            warning: default_warning_priority(),
            info: default_info_priority(),
        }
    }
}

impl Priorities {
    pub fn of(&self, severity: Severity) -> u8 {
        match severity {
            Severity::Error => self.error,
            Severity::Warning => self.warning,
            Severity::Info => self.info,
        }
    }
}

fn default_rules() -> Vec<Rule> {
    vec![Rule { patterns: Vec::new(), min_severity: None, min_confidence: None, sinks: vec![SinkKind::Terminal] }]
}

fn default_issue_type() -> String {
    "task".to_owned()
}

fn default_error_priority() -> u8 {
    1
}

fn default_warning_priority() -> u8 {
    2
}

fn default_info_priority() -> u8 {
    3
}

impl Default for RoutingConfig {
    fn default() -> Self {
        RoutingConfig { rules: default_rules(), jsonl: None, beads: BeadsSettings::default() }
    }
}

/// A routing file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("cannot read routing config {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}; see `devloop-host insights --help` for the keys")]
    Invalid { path: PathBuf, line: usize, message: String },
}

impl RoutingConfig {
    /// The config at `path`, or the default when there is no file.
    pub fn load_or_default(path: &Path) -> Result<RoutingConfig, RoutingError> {
        match std::fs::read_to_string(path) {
            Ok(text) => RoutingConfig::parse(&text, path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(RoutingConfig::default()),
            Err(source) => Err(RoutingError::Read { path: path.to_owned(), source }),
        }
    }

    /// Parses and checks a routing file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RoutingConfig, RoutingError> {
        let invalid = |line: usize, message: String| RoutingError::Invalid { path: path.to_owned(), line, message };
        let config: RoutingConfig = toml::from_str(text).map_err(|error| {
            let line = error.span().map_or(1, |span| text[..span.start.min(text.len())].matches('\n').count() + 1);
            invalid(line, error.message().trim().replace('\n', " "))
        })?;
        config.check(text, path)?;
        Ok(config)
    }

    /// Checks what the types alone do not; `text` is the file it was read from (a routing
    /// file, or a config file with a `[routing]` table), to tell the line of a problem.
    pub fn check(&self, text: &str, path: &Path) -> Result<(), RoutingError> {
        let config = self;
        let invalid = |line: usize, message: String| RoutingError::Invalid { path: path.to_owned(), line, message };
        let line_of = |needle: &str| text.lines().position(|line| line.contains(needle)).map_or(1, |index| index + 1);
        for rule in &config.rules {
            if rule.sinks.contains(&SinkKind::Jsonl) && config.jsonl.is_none() {
                return Err(invalid(
                    line_of("jsonl"),
                    "a rule sends findings to `jsonl` but there is no `[jsonl]` table with a `path`".into(),
                ));
            }
            if let Some(confidence) = rule.min_confidence
                && !(0.0..=1.0).contains(&confidence)
            {
                return Err(invalid(
                    line_of("min_confidence"),
                    format!("min_confidence {confidence} is not between 0.0 and 1.0"),
                ));
            }
        }
        for (severity, priority) in [
            ("error", config.beads.priority.error),
            ("warning", config.beads.priority.warning),
            ("info", config.beads.priority.info),
        ] {
            if priority > 4 {
                return Err(invalid(line_of(severity), format!("beads priority {priority} for {severity} is not 0–4")));
            }
        }
        Ok(())
    }

    /// The sinks a finding goes to: those of every rule it matches.
    pub fn sinks_for(&self, insight: &Insight) -> BTreeSet<SinkKind> {
        self.rules.iter().filter(|rule| rule.matches(insight)).flat_map(|rule| rule.sinks.iter().copied()).collect()
    }
}

impl Rule {
    fn matches(&self, insight: &Insight) -> bool {
        (self.patterns.is_empty() || self.patterns.iter().any(|pattern| pattern == &insight.pattern))
            && self.min_severity.is_none_or(|severity| insight.severity >= severity)
            && self.min_confidence.is_none_or(|confidence| insight.confidence >= confidence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Evidence;

    fn insight(pattern: &str, severity: Severity, confidence: f32) -> Insight {
        Insight {
            detector: "d".into(),
            pattern: pattern.into(),
            key: "k".into(),
            severity,
            confidence,
            message: String::new(),
            recommendation: String::new(),
            evidence: Evidence::default(),
            affected_threads: Vec::new(),
            time_ms: 0,
        }
    }

    #[test]
    fn rules_route_by_pattern_severity_and_confidence() -> Result<(), RoutingError> {
        let config = RoutingConfig::parse(
            "[[rule]]\nsinks = [\"terminal\"]\n\n[[rule]]\npatterns = [\"a\"]\nmin_severity = \"warning\"\nmin_confidence = 0.7\nsinks = [\"beads\"]\n",
            Path::new("routing.toml"),
        )?;
        assert_eq!(
            config.sinks_for(&insight("a", Severity::Warning, 0.8)),
            BTreeSet::from([SinkKind::Terminal, SinkKind::Beads])
        );
        assert_eq!(config.sinks_for(&insight("a", Severity::Info, 0.8)), BTreeSet::from([SinkKind::Terminal]));
        assert_eq!(config.sinks_for(&insight("a", Severity::Error, 0.5)), BTreeSet::from([SinkKind::Terminal]));
        assert_eq!(config.sinks_for(&insight("b", Severity::Error, 0.9)), BTreeSet::from([SinkKind::Terminal]));
        assert_eq!(config.beads.issue_type, "task");
        assert_eq!(config.beads.priority.of(Severity::Error), 1);
        Ok(())
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_file_and_line() {
        let error =
            RoutingConfig::parse("[[rule]]\nsinks = [\"terminal\"]\nmin_severty = \"error\"\n", Path::new("r.toml"))
                .expect_err("typo");
        let message = error.to_string();
        assert!(message.starts_with("r.toml:3: unknown field `min_severty`"), "{message}");
        assert!(!message.contains('\n'));

        let error =
            RoutingConfig::parse("[[rule]]\nsinks = [\"email\"]\n", Path::new("r.toml")).expect_err("unknown sink");
        assert!(error.to_string().starts_with("r.toml:2: unknown variant `email`"), "{error}");

        let error = RoutingConfig::parse("[[rule]]\nsinks = [\"jsonl\"]\n", Path::new("r.toml")).expect_err("no path");
        assert!(error.to_string().contains("no `[jsonl]` table"), "{error}");

        let error = RoutingConfig::parse("[beads.priority]\nerror = 7\n", Path::new("r.toml")).expect_err("priority");
        assert!(error.to_string().starts_with("r.toml:2: beads priority 7"), "{error}");
    }

    #[test]
    fn no_file_means_everything_to_the_terminal() -> Result<(), RoutingError> {
        let config = RoutingConfig::load_or_default(Path::new("/nonexistent/routing.toml"))?;
        assert_eq!(config.sinks_for(&insight("x", Severity::Info, 0.0)), BTreeSet::from([SinkKind::Terminal]));
        Ok(())
    }
}
