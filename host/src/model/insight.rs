use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Field;

/// How urgently a maintainer should look at an insight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Severity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "info" => Ok(Severity::Info),
            "warning" => Ok(Severity::Warning),
            "error" => Ok(Severity::Error),
            other => Err(format!("unknown severity `{other}`: use info, warning or error")),
        }
    }
}

/// What an insight rests on.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Evidence {
    pub event_ids: Vec<u64>,
    pub fields: Vec<Field>,
}

/// Identifies one finding across runs: the same problem detected again has the same
/// fingerprint, whatever its current counts or message say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Derived from the pattern id and the detector's stable key only.
    pub fn of(pattern: &str, key: &str) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(pattern.as_bytes());
        hasher.update([0]);
        hasher.update(key.as_bytes());
        let digest = hasher.finalize();
        Fingerprint(digest[..8].iter().map(|byte| format!("{byte:02x}")).collect())
    }

    /// A fingerprint the user typed or a store returned.
    pub fn from_string(text: impl Into<String>) -> Self {
        Fingerprint(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A problem a detector found, tagged with the detector that found it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Insight {
    /// The id of the detector plugin that reported it.
    pub detector: String,
    pub pattern: String,
    pub key: String,
    pub severity: Severity,
    pub confidence: f32,
    pub message: String,
    pub recommendation: String,
    pub evidence: Evidence,
    pub affected_threads: Vec<String>,
    /// Event time at which the pattern was complete, ms since the epoch.
    pub time_ms: i64,
}

impl Insight {
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.pattern, &self.key)
    }

    /// The insight as the JSON object `run --format json` prints, one per line.
    ///
    /// `evidence.event_ids` are numbers, which JavaScript and `jq` read exactly only up to
    /// 2^53; `evidence.event_id_strings` holds the same ids as decimal strings, exact for any id.
    pub fn to_json(&self) -> serde_json::Value {
        let evidence_fields: serde_json::Map<String, serde_json::Value> =
            self.evidence.fields.iter().map(|field| (field.key.to_string(), field.value.to_json())).collect();
        serde_json::json!({
            "fingerprint": self.fingerprint(),
            "pattern": self.pattern,
            "severity": self.severity,
            "confidence": (f64::from(self.confidence) * 1000.0).round() / 1000.0,
            "message": self.message,
            "recommendation": self.recommendation,
            "evidence": {
                "event_ids": self.evidence.event_ids,
                "event_id_strings": self.evidence.event_ids.iter().map(u64::to_string).collect::<Vec<_>>(),
                "fields": evidence_fields,
            },
            "affected_threads": self.affected_threads,
            "detector": self.detector,
            "key": self.key,
            "time": chrono::DateTime::from_timestamp_millis(self.time_ms)
                .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_pattern_and_key_only() {
        let first = Fingerprint::of("command_repetition", "bd ready|dev");
        assert_eq!(first, Fingerprint::of("command_repetition", "bd ready|dev"));
        assert_ne!(first, Fingerprint::of("command_rerun", "bd ready|dev"));
        assert_ne!(first, Fingerprint::of("command_repetition", "bd ready|ops"));
        assert_eq!(first.as_str().len(), 16);
    }
}
