//! devloop-host finds UX problems in devloop by watching how people and agents use it.
//!
//! The pipeline, in the order data flows through it:
//!
//! 1. [`ingest`] reads devloop's logs into one event-time-ordered stream of [`model::Event`]s,
//!    counting and skipping malformed records.
//! 2. [`dispatch`] feeds the stream in batches to every loaded detector.
//! 3. [`runtime`] runs each detector as a sandboxed WebAssembly component speaking a
//!    versioned WIT contract (`wit/since_v0.2.0`, batches in columns; `wit/since_v0.1.0` for
//!    the ports still built against it), under a deadline and a memory cap, and isolates any
//!    that fail.
//! 4. Detectors answer with [`model::Insight`]s, identified across runs by a
//!    [`model::Fingerprint`], which [`output`] prints as JSON lines or a table.
//! 5. [`store`] keeps one row per finding across runs with its triage status, and [`sinks`]
//!    send new and materially changed findings where the [`routing`] rules say: the terminal,
//!    a JSON Lines file, beads issues (filed exactly once), and dismissals back to devloop.
//!
//! [`stream`] is that pipeline as `devloop-host run` drives it: it commits where every log
//! stands, each detector's state and the findings they produced in one transaction of the
//! store, runs the sinks after the commit, and stops cleanly on a signal.
//!
//! [`harness`] replays recorded events through one plugin and checks its findings against a
//! test case (`devloop-host plugins test`).
//! [`hotswap`] replaces detectors while the host runs: a new `.wasm` in the plugins folder is
//! compiled in the background and takes over between two batches.
//!
//! [`detectors`] says which detectors run: those compiled into the binary, unless the project's
//! or the user's plugin folder holds one with the same id. [`config`] is where a project's
//! files live (one state folder beside its devloop folder) and its settings file.
//! [`patterns`] runs pattern files — detectors written as data — through the bundled rules
//! detector, each as a plugin of its own.
//! [`bench`](mod@bench) measures the pipeline on a large folder it writes in devloop's formats.
//!
//! [`escape`] makes text from logs and plugins fit for where it goes (a terminal, Markdown, a
//! `bd` argument, JSON), for the sinks and for what the runtime logs of a plugin alike.
//!
//! Beside the pipeline, [`scaffold`] writes new detector projects for plugin authors.

pub mod bench;
pub mod config;
pub mod detectors;
pub mod dispatch;
pub mod escape;
pub mod harness;
pub mod hotswap;
pub mod ingest;
pub mod model;
pub mod output;
pub mod patterns;
pub mod routing;
pub mod runtime;
pub mod scaffold;
pub mod sinks;
pub mod store;
pub mod stream;
