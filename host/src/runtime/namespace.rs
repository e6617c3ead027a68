//! Who may report what: a detector id names one plugin, and a pattern belongs to the one
//! detector that declares it.
//!
//! A finding's fingerprint is its pattern and key, and a detector's saved state is filed under
//! its id. If two plugins could share either, one could reopen, rewrite or backdate the other's
//! findings, or overwrite its saved state. So a second plugin that claims a loaded id or
//! pattern is refused (with both files named), and a plugin's insights under a pattern it did
//! not declare are rejected (see [`super::Supervisor`]).

use thiserror::Error;

use super::DetectorDescription;

/// A plugin claims what another already holds.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum NamespaceConflict {
    #[error("{file} holds detector `{id}`, which is already loaded from {holder}; remove one of the two files")]
    SameId { file: String, id: String, holder: String },
    #[error(
        "{file} (detector `{id}`) declares pattern `{pattern}`, which detector `{holder_id}` from {holder} already \
         declares; a pattern belongs to one detector: remove one of the two files or rename the pattern"
    )]
    SamePattern { file: String, id: String, pattern: String, holder_id: String, holder: String },
}

/// Checks that the plugin in `file`, described by `description`, claims no id or pattern of
/// the plugins in `loaded` (each its file and description).
pub fn check<'a>(
    file: &str,
    description: &DetectorDescription,
    loaded: impl IntoIterator<Item = (&'a str, &'a DetectorDescription)>,
) -> Result<(), NamespaceConflict> {
    for (holder, other) in loaded {
        if other.id == description.id {
            return Err(NamespaceConflict::SameId {
                file: file.to_owned(),
                id: description.id.clone(),
                holder: holder.to_owned(),
            });
        }
        if let Some(pattern) = description.patterns.iter().find(|pattern| other.patterns.contains(pattern)) {
            return Err(NamespaceConflict::SamePattern {
                file: file.to_owned(),
                id: description.id.clone(),
                pattern: pattern.clone(),
                holder_id: other.id.clone(),
                holder: holder.to_owned(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detector(id: &str, patterns: &[&str]) -> DetectorDescription {
        DetectorDescription {
            id: id.to_owned(),
            version: "1.0.0".to_owned(),
            api_version: "0.1.0".to_owned(),
            patterns: patterns.iter().map(|pattern| (*pattern).to_owned()).collect(),
            kinds: Vec::new(),
            config: Vec::new(),
            language: "rust".to_owned(),
        }
    }

    #[test]
    fn a_second_claim_names_both_files() {
        let loaded = detector("command-repetition", &["command_repetition"]);
        let loaded = [("plugins/a.wasm", &loaded)];
        assert_eq!(check("plugins/b.wasm", &detector("other", &["other"]), loaded), Ok(()));
        let same_id = check("plugins/b.wasm", &detector("command-repetition", &["x"]), loaded);
        assert!(matches!(&same_id, Err(NamespaceConflict::SameId { holder, .. }) if holder == "plugins/a.wasm"));
        let message = check("plugins/b.wasm", &detector("thief", &["command_repetition"]), loaded)
            .err()
            .map(|conflict| conflict.to_string())
            .unwrap_or_default();
        assert!(message.starts_with("plugins/b.wasm (detector `thief`) declares pattern `command_repetition`"));
        assert!(message.contains("`command-repetition` from plugins/a.wasm"), "{message}");
    }
}
