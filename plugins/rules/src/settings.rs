//! A pattern's thresholds as settings: the values a file writes in `[match]` (`within`,
//! `at_least`, `above`…) can be changed per project (`[detectors.ID]` in the config file) or
//! per run (`--set ID.NAME=VALUE`) like any detector's, without editing the file.
//!
//! A setting replaces the value in the file's `[match]` table and the file is checked again,
//! so an override is held to the same rules as the file (`at_least = 0` is refused with the
//! same words). State carries over a settings change, as it does for a compiled detector.

use thiserror::Error;

use crate::compile::Pattern;

/// The `[match]` keys that are thresholds; those a file writes are its settings.
pub const THRESHOLDS: &[&str] = &[
    "within",
    "at_least",
    "above_usual",
    "usual_after",
    "above",
    "below",
    "warmup",
    "recent",
    "z_above",
    "min_share",
    "above_others",
];

/// Why settings cannot apply to a pattern.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SettingsError {
    #[error(
        "pattern `{pattern}` has no setting `{name}`; its settings are the thresholds its `[match]` writes: {known}"
    )]
    Unknown { pattern: String, name: String, known: String },
    #[error("the settings do not read as TOML: {0}")]
    Syntax(String),
    #[error("{0}")]
    Invalid(String),
}

/// The thresholds `table` (a pattern file's `[match]`) writes, with their values.
pub(crate) fn declared(table: &toml::Table) -> Vec<(String, toml::Value)> {
    THRESHOLDS.iter().filter_map(|name| table.get(*name).map(|value| ((*name).to_owned(), value.clone()))).collect()
}

impl Pattern {
    /// Reads a pattern file's text (as [`Pattern::parse`]) and applies `overrides` (a TOML
    /// table of settings) to its `[match]`.
    pub fn parse_with(text: &str, origin: &str, overrides: &toml::Table) -> Result<Pattern, SettingsError> {
        let file = Pattern::parse(text, origin).map_err(|errors| SettingsError::Invalid(joined(&errors)))?;
        if overrides.is_empty() {
            return Ok(file);
        }
        let mut table: toml::Table =
            text.parse().map_err(|error: toml::de::Error| SettingsError::Syntax(error.to_string()))?;
        let matcher = table
            .get_mut("match")
            .and_then(toml::Value::as_table_mut)
            .ok_or_else(|| SettingsError::Invalid(format!("{origin}: the pattern has no `[match]` table")))?;
        for (name, value) in overrides {
            if !file.settings.iter().any(|(declared, _)| declared == name) {
                let known: Vec<&str> = file.settings.iter().map(|(name, _)| name.as_str()).collect();
                return Err(SettingsError::Unknown {
                    pattern: file.id,
                    name: name.clone(),
                    known: if known.is_empty() { "none".to_owned() } else { known.join(", ") },
                });
            }
            matcher.insert(name.clone(), value.clone());
        }
        let rewritten = toml::to_string(&table).map_err(|error| SettingsError::Syntax(error.to_string()))?;
        let mut pattern = Pattern::parse(&rewritten, origin).map_err(|errors| {
            SettingsError::Invalid(errors.iter().map(|error| error.message.as_str()).collect::<Vec<_>>().join("; "))
        })?;
        pattern.match_hash = file.match_hash;
        pattern.settings = file.settings;
        Ok(pattern)
    }
}

fn joined(errors: &[crate::PatternError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Reads settings as the host hands them: a TOML table, or nothing.
pub fn overrides(text: &str) -> Result<toml::Table, SettingsError> {
    text.parse().map_err(|error: toml::de::Error| SettingsError::Syntax(error.message().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNT: &str = "id = \"init_rerun\"\ntitle = \"t\"\ndescription = \"d\"\nseverity = \"info\"\nmessage = \"m\"\n\
                         recommendation = \"r\"\nconfidence = { base = 0.5 }\n\n[match]\nkind = \"count\"\n\
                         within = \"1d\"\nat_least = 2\nwhere = { kind = \"cli.command\" }\n";

    fn table(text: &str) -> toml::Table {
        overrides(text).expect("valid TOML")
    }

    #[test]
    fn a_file_declares_the_thresholds_it_writes() -> Result<(), Vec<crate::PatternError>> {
        let pattern = Pattern::parse(COUNT, "init.toml")?;
        let names: Vec<&str> = pattern.settings.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["within", "at_least"]);
        Ok(())
    }

    #[test]
    fn a_setting_replaces_the_files_value_and_keeps_its_state() -> Result<(), SettingsError> {
        let file = Pattern::parse_with(COUNT, "init.toml", &toml::Table::new())?;
        let changed = Pattern::parse_with(COUNT, "init.toml", &table("at_least = 3\nwithin = \"2h\""))?;
        let crate::Matcher::Count(count) = &changed.matcher else { panic!("a count match") };
        assert_eq!((count.at_least, count.within_ms), (3, 7_200_000));
        assert_eq!(changed.match_hash, file.match_hash, "a settings change keeps the pattern's state");
        Ok(())
    }

    #[test]
    fn a_bad_or_unknown_setting_is_refused_with_the_files_words() {
        let unknown = Pattern::parse_with(COUNT, "init.toml", &table("above = 2.0"));
        assert_eq!(
            unknown.map(|_| ()),
            Err(SettingsError::Unknown {
                pattern: "init_rerun".to_owned(),
                name: "above".to_owned(),
                known: "within, at_least".to_owned()
            })
        );
        let zero = Pattern::parse_with(COUNT, "init.toml", &table("at_least = 0"));
        assert_eq!(zero.map(|_| ()), Err(SettingsError::Invalid("`at_least` must be 1 or more".to_owned())));
    }
}
