//! Detector settings from the config file and `--set`, checked against what each detector
//! declares before anything is read: a typo in a detector id or a setting name, or a value of
//! the wrong type, is an error naming what exists, never a detector run with its defaults.

use std::collections::BTreeMap;

use thiserror::Error;

use crate::model::{Field, Value};
use crate::runtime::DetectorDescription;

/// One setting as the user gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Given {
    pub detector: String,
    pub name: String,
    pub value: GivenValue,
    /// Where it was given, for errors: `FILE:LINE`, or the `--set` argument.
    pub place: String,
}

/// A value as written: typed by TOML, or text from the command line that the setting's
/// declared type reads.
#[derive(Debug, Clone, PartialEq)]
pub enum GivenValue {
    Toml(toml::Value),
    Text(String),
}

impl std::fmt::Display for GivenValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GivenValue::Toml(value) => write!(f, "{value}"),
            GivenValue::Text(text) => f.write_str(text),
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SettingsError {
    #[error("`--set {0}`: write DETECTOR.NAME=VALUE, e.g. `--set command-repetition.min_repeats=4`")]
    Syntax(String),
    #[error("{place}: there is no detector `{detector}`; the detectors are: {known}")]
    UnknownDetector { place: String, detector: String, known: String },
    #[error("{place}: detector `{detector}` has no setting `{name}`; its settings are: {known}")]
    UnknownSetting { place: String, detector: String, name: String, known: String },
    #[error("{place}: `{detector}.{name}` takes {expected}, not `{got}`")]
    BadValue { place: String, detector: String, name: String, expected: &'static str, got: String },
    #[error("detector `{detector}` refused its settings: {reason}")]
    Refused { detector: String, reason: String },
}

/// Reads `DETECTOR.NAME=VALUE` from the command line.
pub fn parse_set(argument: &str) -> Result<Given, SettingsError> {
    let syntax = || SettingsError::Syntax(argument.to_owned());
    let (target, value) = argument.split_once('=').ok_or_else(syntax)?;
    let (detector, name) = target.split_once('.').ok_or_else(syntax)?;
    if detector.is_empty() || name.is_empty() {
        return Err(syntax());
    }
    Ok(Given {
        detector: detector.to_owned(),
        name: name.to_owned(),
        value: GivenValue::Text(value.to_owned()),
        place: format!("--set {argument}"),
    })
}

/// Checks every setting against the detectors that run and types it by the setting's default.
/// A setting given twice keeps the later one (the command line comes after the config file).
pub fn resolve(
    given: &[Given],
    detectors: &[&DetectorDescription],
) -> Result<BTreeMap<String, Vec<Field>>, SettingsError> {
    let mut settings: BTreeMap<String, Vec<Field>> = BTreeMap::new();
    for setting in given {
        let Some(detector) = detectors.iter().find(|detector| detector.id == setting.detector) else {
            let mut known: Vec<&str> = detectors.iter().map(|detector| detector.id.as_str()).collect();
            known.sort_unstable();
            return Err(SettingsError::UnknownDetector {
                place: setting.place.clone(),
                detector: setting.detector.clone(),
                known: list(&known),
            });
        };
        let Some((_, default, _)) = detector.config.iter().find(|(name, _, _)| *name == setting.name) else {
            let known: Vec<&str> = detector.config.iter().map(|(name, _, _)| name.as_str()).collect();
            return Err(SettingsError::UnknownSetting {
                place: setting.place.clone(),
                detector: setting.detector.clone(),
                name: setting.name.clone(),
                known: list(&known),
            });
        };
        let value = typed(default, &setting.value).ok_or_else(|| SettingsError::BadValue {
            place: setting.place.clone(),
            detector: setting.detector.clone(),
            name: setting.name.clone(),
            expected: type_name(default),
            got: setting.value.to_string(),
        })?;
        let fields = settings.entry(setting.detector.clone()).or_default();
        fields.retain(|field| field.key != setting.name);
        fields.push(Field::new(setting.name.clone(), value));
    }
    Ok(settings)
}

fn list(names: &[&str]) -> String {
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

fn type_name(default: &Value) -> &'static str {
    match default {
        Value::Boolean(_) => "true or false",
        Value::Integer(_) => "a whole number",
        Value::Float(_) => "a number",
        Value::Text(_) => "text",
        Value::Texts(_) => "a list of texts (comma-separated after --set)",
        Value::Json(_) => "JSON",
    }
}

/// `given` read as the type of `default`, if it is one.
fn typed(default: &Value, given: &GivenValue) -> Option<Value> {
    use GivenValue::{Text, Toml};
    match (default, given) {
        (Value::Boolean(_), Text(text)) => text.parse().ok().map(Value::Boolean),
        (Value::Boolean(_), Toml(toml::Value::Boolean(flag))) => Some(Value::Boolean(*flag)),
        (Value::Integer(_), Text(text)) => text.parse().ok().map(Value::Integer),
        (Value::Integer(_), Toml(toml::Value::Integer(integer))) => Some(Value::Integer(*integer)),
        (Value::Float(_), Text(text)) => text.parse::<f64>().ok().filter(|float| float.is_finite()).map(Value::Float),
        (Value::Float(_), Toml(toml::Value::Float(float))) => Some(Value::Float(*float)),
        (Value::Float(_), Toml(toml::Value::Integer(integer))) => Some(Value::Float(*integer as f64)),
        (Value::Text(_), Text(text)) => Some(Value::Text(text.clone())),
        (Value::Text(_), Toml(toml::Value::String(text))) => Some(Value::Text(text.clone())),
        (Value::Texts(_), Text(text)) => Some(Value::Texts(
            text.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned).collect(),
        )),
        (Value::Texts(_), Toml(toml::Value::Array(items))) => {
            items.iter().map(|item| item.as_str().map(str::to_owned)).collect::<Option<Vec<_>>>().map(Value::Texts)
        }
        (Value::Json(_), Text(text)) => {
            serde_json::from_str::<serde_json::Value>(text).ok().map(|_| Value::Json(text.clone()))
        }
        (Value::Json(_), Toml(value)) => serde_json::to_string(value).ok().map(Value::Json),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repetition() -> DetectorDescription {
        DetectorDescription {
            id: "command-repetition".into(),
            version: "1.0.0".into(),
            api_version: "0.1.0".into(),
            patterns: vec!["command_repetition".into()],
            kinds: Vec::new(),
            config: vec![
                ("min_repeats".into(), Value::Integer(3), "runs that make a burst".into()),
                ("ratio".into(), Value::Float(0.5), "a share".into()),
                ("ignore".into(), Value::Texts(Vec::new()), "commands to ignore".into()),
            ],
            language: "rust".into(),
        }
    }

    fn set(argument: &str) -> Given {
        parse_set(argument).expect("well-formed")
    }

    #[test]
    fn command_line_values_take_the_declared_type_and_the_later_one_wins() -> Result<(), SettingsError> {
        let detector = repetition();
        let given = [
            set("command-repetition.min_repeats=4"),
            set("command-repetition.ratio=1"),
            set("command-repetition.ignore=ls, pwd"),
            set("command-repetition.min_repeats=5"),
        ];
        let settings = resolve(&given, &[&detector])?;
        assert_eq!(
            settings["command-repetition"],
            [
                Field::new("ratio", Value::Float(1.0)),
                Field::new("ignore", Value::Texts(vec!["ls".into(), "pwd".into()])),
                Field::new("min_repeats", Value::Integer(5)),
            ]
        );
        Ok(())
    }

    #[test]
    fn typos_and_bad_values_name_what_exists() {
        let detector = repetition();
        let error = resolve(&[set("command-repetiton.min_repeats=4")], &[&detector]).expect_err("unknown detector");
        assert_eq!(
            error.to_string(),
            "--set command-repetiton.min_repeats=4: there is no detector `command-repetiton`; the detectors are: command-repetition"
        );
        let error = resolve(&[set("command-repetition.min_repeat=4")], &[&detector]).expect_err("unknown setting");
        assert!(error.to_string().ends_with("its settings are: min_repeats, ratio, ignore"), "{error}");
        let error = resolve(&[set("command-repetition.min_repeats=four")], &[&detector]).expect_err("bad value");
        assert!(
            error.to_string().ends_with("`command-repetition.min_repeats` takes a whole number, not `four`"),
            "{error}"
        );
        let given = Given {
            detector: "command-repetition".into(),
            name: "min_repeats".into(),
            value: GivenValue::Toml(toml::Value::String("4".into())),
            place: "config.toml:3".into(),
        };
        let error = resolve(&[given], &[&detector]).expect_err("a string is not an integer");
        assert!(error.to_string().starts_with("config.toml:3: "), "{error}");
        assert_eq!(parse_set("min_repeats=4"), Err(SettingsError::Syntax("min_repeats=4".into())));
    }
}
