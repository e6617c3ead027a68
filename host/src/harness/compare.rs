//! Comparing expected findings with actual ones as a subset, and saying where they differ in
//! words a person can act on.

use std::fmt;

use serde_json::Value;

/// Numbers closer than this are equal (confidences are rounded to 3 decimals on output).
const TOLERANCE: f64 = 1e-3;

/// One place where a case's expectation and the plugin's findings disagree.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// A value at `path` differs.
    Value { path: String, expected: Value, actual: Option<Value> },
    /// An expected finding was not reported.
    Missing { index: usize, expected: Value },
    /// A finding was reported that the case does not expect.
    Unexpected { index: usize, actual: Value },
    /// The case has no `expected.json` yet.
    NoExpectation,
}

fn summary(finding: &Value) -> String {
    let text = |key: &str| finding.get(key).and_then(Value::as_str).unwrap_or("?").to_owned();
    format!("{} [{}] {}", text("pattern"), text("key").replace('\u{1f}', " | "), text("message"))
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 200 { format!("{}…", text.chars().take(200).collect::<String>()) } else { text }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Value { path, expected, actual: Some(actual) } => {
                write!(f, "{path}:\n    expected {}\n    actual   {}", short(expected), short(actual))
            }
            Difference::Value { path, expected, actual: None } => {
                write!(f, "{path}:\n    expected {}\n    actual   (missing)", short(expected))
            }
            Difference::Missing { index, expected } => {
                write!(f, "finding #{index} missing: expected {}", summary(expected))
            }
            Difference::Unexpected { index, actual } => {
                write!(f, "finding #{index} unexpected: {}", summary(actual))
            }
            Difference::NoExpectation => {
                write!(f, "no expected.json: write one, or run with --bless and review what it writes")
            }
        }
    }
}

fn equal_scalars(expected: &Value, actual: &Value) -> bool {
    match (expected.as_f64(), actual.as_f64()) {
        (Some(expected), Some(actual)) => (expected - actual).abs() <= TOLERANCE,
        _ => expected == actual,
    }
}

fn compare_value(path: &str, expected: &Value, actual: &Value, out: &mut Vec<Difference>) {
    match (expected, actual) {
        (Value::Object(expected_map), Value::Object(actual_map)) => {
            for (key, expected_value) in expected_map {
                let child = format!("{path}.{key}");
                match actual_map.get(key) {
                    Some(actual_value) => compare_value(&child, expected_value, actual_value, out),
                    None => out.push(Difference::Value { path: child, expected: expected_value.clone(), actual: None }),
                }
            }
        }
        (Value::Array(expected_items), Value::Array(actual_items)) if expected_items.len() == actual_items.len() => {
            for (index, (expected_item, actual_item)) in expected_items.iter().zip(actual_items).enumerate() {
                compare_value(&format!("{path}[{index}]"), expected_item, actual_item, out);
            }
        }
        _ if equal_scalars(expected, actual) => {}
        _ => out.push(Difference::Value {
            path: path.to_owned(),
            expected: expected.clone(),
            actual: Some(actual.clone()),
        }),
    }
}

/// Compares findings position by position (both in pattern/key order). Objects are compared
/// as subsets (keys the expectation leaves out are not checked), arrays element by element,
/// numbers within a tolerance.
pub fn compare(expected: &[Value], actual: &[Value]) -> Vec<Difference> {
    let mut differences = Vec::new();
    for (index, expected_finding) in expected.iter().enumerate() {
        match actual.get(index) {
            Some(actual_finding) => {
                let label = format!("finding #{index} ({})", summary(actual_finding));
                compare_value(&label, expected_finding, actual_finding, &mut differences);
            }
            None => differences.push(Difference::Missing { index, expected: expected_finding.clone() }),
        }
    }
    for (index, actual_finding) in actual.iter().enumerate().skip(expected.len()) {
        differences.push(Difference::Unexpected { index, actual: actual_finding.clone() });
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn finding(command: &str, confidence: f64) -> Value {
        json!({"pattern": "command_repetition", "key": format!("{command}\u{1f}dev"), "message": "m",
               "confidence": confidence, "evidence": {"event_ids": [1, 2, 3], "fields": {"command": command, "runs": 3}}})
    }

    #[test]
    fn a_subset_expectation_ignores_fields_it_does_not_name() {
        let expected = vec![json!({"pattern": "command_repetition", "evidence": {"fields": {"command": "bd ready"}}})];
        assert!(compare(&expected, &[finding("bd ready", 0.6)]).is_empty());
    }

    #[test]
    fn numbers_compare_within_tolerance_and_values_report_their_path() {
        assert!(compare(&[finding("bd ready", 0.6)], &[finding("bd ready", 0.6004)]).is_empty());
        let differences = compare(&[finding("bd ready", 0.6)], &[finding("bd sync", 0.6)]);
        let text: Vec<String> = differences.iter().map(ToString::to_string).collect();
        assert!(
            text.iter().any(|line| line.contains(".evidence.fields.command:")
                && line.contains("\"bd ready\"")
                && line.contains("\"bd sync\"")),
            "{text:#?}"
        );
    }

    #[test]
    fn missing_and_unexpected_findings_are_named() {
        let missing = compare(&[finding("bd ready", 0.6)], &[]);
        assert!(matches!(missing[..], [Difference::Missing { index: 0, .. }]));
        assert!(missing[0].to_string().contains("command_repetition [bd ready | dev]"));
        let unexpected = compare(&[], &[finding("status", 0.6)]);
        assert!(unexpected[0].to_string().starts_with("finding #0 unexpected: command_repetition"));
    }

    #[test]
    fn arrays_must_match_in_length_and_order() {
        let mut other = finding("bd ready", 0.6);
        other["evidence"]["event_ids"] = json!([1, 3, 2]);
        let differences = compare(&[finding("bd ready", 0.6)], &[other.clone()]);
        let paths: Vec<String> = differences
            .iter()
            .map(|difference| match difference {
                Difference::Value { path, .. } => {
                    path.rsplit_once('.').map_or(path.clone(), |(_, last)| last.to_owned())
                }
                other => panic!("expected value differences, got {other:?}"),
            })
            .collect();
        assert_eq!(paths, vec!["event_ids[1]", "event_ids[2]"], "out of order: both positions named");
        other["evidence"]["event_ids"] = json!([1, 2]);
        assert_eq!(compare(&[finding("bd ready", 0.6)], &[other]).len(), 1, "a shorter array is one difference");
    }
}
