//! devloop-host finds UX problems in devloop by watching how people and agents use it.
//!
//! The pipeline, in the order data flows through it:
//!
//! 1. [`ingest`] reads devloop's logs into one event-time-ordered stream of [`model::Event`]s,
//!    counting and skipping malformed records.
//! 2. [`dispatch`] feeds the stream in batches to every loaded detector.
//! 3. [`runtime`] runs each detector as a sandboxed WebAssembly component speaking a
//!    versioned WIT contract (`wit/since_v0.1.0`), under a deadline and a memory cap, and
//!    isolates any that fail.
//! 4. Detectors answer with [`model::Insight`]s, identified across runs by a
//!    [`model::Fingerprint`], which [`output`] prints as JSON lines or a table.
//!
//! [`harness`] replays recorded events through one plugin and checks its findings against a
//! test case (`devloop-host plugin test`).
//!
//! Beside the pipeline, [`scaffold`] writes new detector projects for plugin authors.

pub mod dispatch;
pub mod harness;
pub mod ingest;
pub mod model;
pub mod output;
pub mod runtime;
pub mod scaffold;
pub mod state;
pub mod stream;
