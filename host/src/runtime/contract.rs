//! The WIT contract versions this host speaks, one bindings module per version.
//!
//! A released `wit/since_vX.Y.Z/` folder never changes, so each gets its own `bindgen!` here and
//! the runtime converts the host's own event model into that version's types. A new version is
//! a new module plus conversions; older plugins keep working.

use std::fmt;

/// A detector API version a plugin was built against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiVersion {
    /// Events as a list of records; `process` and `tick` apart.
    V0_1_0,
    /// Events as columns over a string table; `process` folds the tick in; declared fields.
    V0_2_0,
}

/// Every version this host speaks, oldest first.
pub const SUPPORTED_API_VERSIONS: &[ApiVersion] = &[ApiVersion::V0_1_0, ApiVersion::V0_2_0];

impl ApiVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V0_1_0 => "0.1.0",
            ApiVersion::V0_2_0 => "0.2.0",
        }
    }

    /// The version a component's export name (`devloop:detector/detector@0.1.0`) names.
    pub fn from_export_name(name: &str) -> Option<Result<ApiVersion, String>> {
        let version = name.strip_prefix("devloop:detector/detector@")?;
        Some(
            SUPPORTED_API_VERSIONS
                .iter()
                .copied()
                .find(|supported| supported.as_str() == version)
                .ok_or_else(|| version.to_owned()),
        )
    }

    /// The name of the interface a component of this version exports.
    pub fn export_name(self) -> String {
        format!("devloop:detector/detector@{}", self.as_str())
    }

    pub fn supported_list() -> String {
        SUPPORTED_API_VERSIONS.iter().map(|version| version.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The conversions every version shares: values, fields and insights have kept their shape.
macro_rules! shared_conversions {
    () => {
        impl From<&model::Value> for wit::Value {
            fn from(value: &model::Value) -> Self {
                match value {
                    model::Value::Text(text) => wit::Value::Text(text.clone()),
                    model::Value::Integer(integer) => wit::Value::Integer(*integer),
                    model::Value::Float(float) => wit::Value::Float(*float),
                    model::Value::Boolean(flag) => wit::Value::Boolean(*flag),
                    model::Value::Texts(texts) => wit::Value::Texts(texts.clone()),
                    model::Value::Json(json) => wit::Value::Json(json.clone()),
                }
            }
        }

        impl From<wit::Value> for model::Value {
            fn from(value: wit::Value) -> Self {
                match value {
                    wit::Value::Text(text) => model::Value::Text(text),
                    wit::Value::Integer(integer) => model::Value::Integer(integer),
                    wit::Value::Float(float) => model::Value::Float(float),
                    wit::Value::Boolean(flag) => model::Value::Boolean(flag),
                    wit::Value::Texts(texts) => model::Value::Texts(texts),
                    wit::Value::Json(json) => model::Value::Json(json),
                }
            }
        }

        impl From<&model::Field> for wit::Field {
            fn from(field: &model::Field) -> Self {
                wit::Field { key: field.key.to_string(), value: (&field.value).into() }
            }
        }

        impl From<wit::Field> for model::Field {
            fn from(field: wit::Field) -> Self {
                model::Field { key: field.key.into(), value: field.value.into() }
            }
        }

        /// Converts an insight into the host's model, tagged with the detector that reported it.
        pub fn insight_into_model(insight: wit::Insight, detector: &str) -> model::Insight {
            model::Insight {
                detector: detector.to_owned(),
                pattern: insight.pattern,
                key: insight.key,
                severity: match insight.severity {
                    wit::Severity::Info => model::Severity::Info,
                    wit::Severity::Warning => model::Severity::Warning,
                    wit::Severity::Error => model::Severity::Error,
                },
                confidence: if insight.confidence.is_finite() { insight.confidence.clamp(0.0, 1.0) } else { 0.0 },
                message: insight.message,
                recommendation: insight.recommendation,
                evidence: model::Evidence {
                    event_ids: insight.evidence.event_ids,
                    fields: insight.evidence.fields.into_iter().map(Into::into).collect(),
                },
                affected_threads: insight.affected_threads,
                time_ms: insight.time_ms,
            }
        }

        /// The approximate size of an insight in bytes, to bound what a plugin may return.
        pub fn insight_size(insight: &wit::Insight) -> usize {
            fn value_size(value: &wit::Value) -> usize {
                match value {
                    wit::Value::Text(text) | wit::Value::Json(text) => text.len(),
                    wit::Value::Texts(texts) => texts.iter().map(String::len).sum(),
                    _ => 8,
                }
            }
            insight.pattern.len()
                + insight.key.len()
                + insight.message.len()
                + insight.recommendation.len()
                + insight.evidence.event_ids.len() * 8
                + insight.evidence.fields.iter().map(|field| field.key.len() + value_size(&field.value)).sum::<usize>()
                + insight.affected_threads.iter().map(String::len).sum::<usize>()
        }
    };
}

/// Bindings for `wit/since_v0.1.0`, and conversions from and into the host's model.
pub mod v0_1_0 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.1.0",
        world: "detector-plugin",
    });

    pub use devloop::detector::types as wit;

    use crate::model;

    shared_conversions!();

    impl From<&model::Event> for wit::Event {
        fn from(event: &model::Event) -> Self {
            wit::Event {
                id: event.id,
                time_ms: event.time_ms,
                source: event.source.as_str().to_owned(),
                kind: event.kind.to_string(),
                actor: event.actor.as_deref().map(str::to_owned),
                thread_id: event.thread_id.as_deref().map(str::to_owned),
                subject: event.subject.clone(),
                outcome: wit::Outcome {
                    status: match event.outcome.status {
                        model::Status::Success => wit::Status::Success,
                        model::Status::Failure => wit::Status::Failure,
                        model::Status::Unknown => wit::Status::Unknown,
                    },
                    exit_code: event.outcome.exit_code,
                },
                duration_ms: event.duration_ms,
                fields: event.fields.iter().map(Into::into).collect(),
            }
        }
    }
}

/// Bindings for `wit/since_v0.2.0`, and conversions from and into the host's model. The batch
/// itself is lowered from [`super::columns`], never through the generated `Batch`, which would
/// own (and so copy) the shared string table for every plugin.
pub mod v0_2_0 {
    wasmtime::component::bindgen!({
        path: "../wit/since_v0.2.0",
        world: "detector-plugin",
    });

    pub use devloop::detector::types as wit;

    use crate::model;

    shared_conversions!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_map_to_versions() {
        assert_eq!(ApiVersion::from_export_name("devloop:detector/detector@0.1.0"), Some(Ok(ApiVersion::V0_1_0)));
        assert_eq!(ApiVersion::from_export_name("devloop:detector/detector@0.2.0"), Some(Ok(ApiVersion::V0_2_0)));
        assert_eq!(ApiVersion::from_export_name("devloop:detector/detector@9.0.0"), Some(Err("9.0.0".to_owned())));
        assert_eq!(ApiVersion::from_export_name("wasi:cli/run@0.2.0"), None);
        for version in SUPPORTED_API_VERSIONS {
            assert_eq!(ApiVersion::from_export_name(&version.export_name()), Some(Ok(*version)));
        }
    }
}
