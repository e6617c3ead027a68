use std::collections::BTreeMap;

use crate::{ConfigKey, Field, Value};

/// A detector's settings: the declared defaults with the user's values on top.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    values: BTreeMap<String, Value>,
}

impl Settings {
    /// Rejects settings the detector did not declare, so a typo is an error, not a surprise.
    pub fn new(declared: &[ConfigKey], overrides: Vec<Field>) -> Result<Self, String> {
        let mut values: BTreeMap<String, Value> =
            declared.iter().map(|key| (key.name.clone(), key.default_value.clone())).collect();
        for field in overrides {
            if !values.contains_key(&field.key) {
                let known: Vec<&str> = declared.iter().map(|key| key.name.as_str()).collect();
                return Err(format!("unknown setting `{}`; this detector accepts: {}", field.key, known.join(", ")));
            }
            values.insert(field.key, field.value);
        }
        Ok(Settings { values })
    }

    fn get(&self, name: &str) -> Result<&Value, String> {
        self.values.get(name).ok_or_else(|| format!("setting `{name}` is not declared"))
    }

    /// A whole-number setting (a float with no fraction is accepted too).
    pub fn integer(&self, name: &str) -> Result<i64, String> {
        match self.get(name)? {
            Value::Integer(integer) => Ok(*integer),
            Value::Float(float) if float.fract() == 0.0 => Ok(*float as i64),
            other => Err(format!("setting `{name}` must be a whole number, not {other:?}")),
        }
    }

    /// A whole-number setting that must be at least `minimum`.
    pub fn integer_at_least(&self, name: &str, minimum: i64) -> Result<i64, String> {
        let value = self.integer(name)?;
        if value < minimum {
            return Err(format!("setting `{name}` must be at least {minimum}, not {value}"));
        }
        Ok(value)
    }

    /// A number setting.
    pub fn float(&self, name: &str) -> Result<f64, String> {
        match self.get(name)? {
            Value::Float(float) => Ok(*float),
            Value::Integer(integer) => Ok(*integer as f64),
            other => Err(format!("setting `{name}` must be a number, not {other:?}")),
        }
    }

    /// A yes/no setting.
    pub fn boolean(&self, name: &str) -> Result<bool, String> {
        match self.get(name)? {
            Value::Boolean(flag) => Ok(*flag),
            other => Err(format!("setting `{name}` must be true or false, not {other:?}")),
        }
    }

    /// A text setting.
    pub fn text(&self, name: &str) -> Result<String, String> {
        match self.get(name)? {
            Value::Text(text) => Ok(text.clone()),
            other => Err(format!("setting `{name}` must be text, not {other:?}")),
        }
    }

    /// A list-of-text setting (a single text counts as a one-item list).
    pub fn texts(&self, name: &str) -> Result<Vec<String>, String> {
        match self.get(name)? {
            Value::Texts(texts) => Ok(texts.clone()),
            Value::Text(text) => Ok(vec![text.clone()]),
            other => Err(format!("setting `{name}` must be a list of text, not {other:?}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Vec<ConfigKey> {
        vec![ConfigKey {
            name: "min_repeats".into(),
            default_value: Value::Integer(3),
            description: "runs that make a burst".into(),
        }]
    }

    #[test]
    fn defaults_apply_and_overrides_win() -> Result<(), String> {
        assert_eq!(Settings::new(&declared(), vec![])?.integer("min_repeats")?, 3);
        let overridden = vec![Field { key: "min_repeats".into(), value: Value::Integer(5) }];
        assert_eq!(Settings::new(&declared(), overridden)?.integer("min_repeats")?, 5);
        Ok(())
    }

    #[test]
    fn unknown_setting_is_an_error_naming_the_known_ones() {
        let typo = vec![Field { key: "min_repeat".into(), value: Value::Integer(5) }];
        let error = Settings::new(&declared(), typo).expect_err("a typo must be rejected");
        assert!(error.contains("min_repeat") && error.contains("min_repeats"), "{error}");
    }

    #[test]
    fn wrong_type_is_an_error() -> Result<(), String> {
        let text = vec![Field { key: "min_repeats".into(), value: Value::Text("x".into()) }];
        assert!(Settings::new(&declared(), text)?.integer("min_repeats").is_err());
        Ok(())
    }
}
