//! The one event model every devloop source is normalized into, and the insights detectors
//! return.
//!
//! These are the host's own types, independent of any WIT version: the runtime converts them
//! into the types of whichever contract version a plugin speaks, so ingestion, storage and
//! output never change when a new contract version is added.

mod event;
mod insight;
mod occurrences;

pub use event::{Event, Field, Outcome, Source, Status, Value};
pub use insight::{Evidence, Fingerprint, Insight, Severity};
pub use occurrences::Occurrences;
