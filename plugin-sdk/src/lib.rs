//! Write a devloop-host detector in Rust: a struct, an `impl Detector`, one macro.
//!
//! The host hands a detector batches of normalized devloop events in event-time order; the
//! detector answers with insights. Everything about the WebAssembly component model (the
//! generated bindings, lifting and lowering, the exported functions) stays inside this crate.
//!
//! ```
//! use devloop_plugin_sdk::prelude::*;
//!
//! #[derive(Default)]
//! struct FailedCommands;
//!
//! impl Detector for FailedCommands {
//!     fn info() -> DetectorInfo {
//!         DetectorInfo::new("failed-commands", env!("CARGO_PKG_VERSION"))
//!             .pattern("failed_command")
//!             .kinds(["cli.command"])
//!     }
//!
//!     fn on_event(&mut self, event: &Event, out: &mut Vec<Insight>) -> Result<(), String> {
//!         if event.failed() {
//!             out.push(
//!                 Insight::new("failed_command", event.subject_or_empty())
//!                     .message(format!("`{}` failed", event.subject_or_empty()))
//!                     .event(event),
//!             );
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_detector!(FailedCommands);
//! ```
//!
//! The same detector compiles natively too (the export macro only emits the WebAssembly glue on
//! `wasm32`), so its logic can be unit-tested with `cargo test` and benchmarked against the
//! plugin.
//!
//! In a WebAssembly guest the SDK also installs the global allocator (small blocks reused from
//! free lists in front of wasi-libc's `malloc`) and C's `memcmp`, both cheaper there than
//! wasi-libc's; a detector built with the SDK declares no `#[global_allocator]` of its own.
//!
//! Detectors stay thin by building on the primitives of the best detection engines, all in
//! event time and all deterministic (ordered maps, or maps that cannot be read in order; fixed
//! hashes), so a replay gives the same
//! insights, and all serializable, so a detector made of them keeps its state across runs and
//! hot swaps with one [`keep_state!`] line: [`window`] (keyed windowed counts and distinct counts), [`sequence`] ("A then B
//! within T by key", with back-references and cancel-on), [`absence`] ("A not followed by B",
//! fired by event-time timers from [`Detector::on_tick`]), [`baseline`] (EWMA and robust
//! z-scores with warm-up), [`stats`] (confidence as one-sided tests), [`text`] (normalization, shingles, Jaccard, MinHash), [`suppress`]
//! (repeat suppression), [`recent`] (capped, forgettable sets of names), [`keymap`] (state looked up per
//! event, in constant time), [`keys`] (deterministic insight keys) and [`evidence`] (bounded
//! examples).

pub mod absence;
#[cfg(any(target_family = "wasm", test))]
#[allow(unsafe_code, reason = "a global allocator, over raw pointers, for WebAssembly guests")]
mod alloc;
pub mod baseline;
mod build;
#[allow(unsafe_code, reason = "C's memcmp and short copies, over raw pointers, for WebAssembly guests")]
mod bytes;
mod columns;
mod detector;
mod event;
pub mod evidence;
mod export;
mod insight;
pub mod keymap;
pub mod keys;
pub mod log;
pub mod recent;
pub mod sequence;
mod settings;
pub mod state;
pub mod stats;
pub mod suppress;
pub mod text;
pub mod window;

#[doc(hidden)]
#[allow(unsafe_code, reason = "generated component-model glue")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.2.0",
        world: "detector-plugin",
        default_bindings_module: "devloop_plugin_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
    });
}

pub use bindings::devloop::detector::types::{Evidence, Field, Insight, Severity, Value};
pub use bindings::exports::devloop::detector::detector::ConfigKey;
pub use bytes::assign;
pub use columns::FieldRow;
pub use detector::{Detector, DetectorInfo};
pub use event::{Event, FieldValue, Fields, Outcome, Status};
pub use settings::Settings;

pub use absence::Absence;
pub use baseline::{Ewma, RobustBaseline};
pub use evidence::Examples;
pub use keymap::KeyMap;
pub use keys::{insight_key, set_key, stable_hash};
pub use recent::RecentSet;
pub use sequence::Sequence;
pub use stats::{binomial_confidence, normal_cdf, two_proportion_confidence};
pub use suppress::{LastReported, Suppressor};
pub use window::{WindowedCounts, WindowedDistinct};

/// The WIT contract version this SDK builds plugins against.
pub const API_VERSION: &str = "0.2.0";

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::devloop::detector::types::Batch;
    pub use crate::bindings::export_bindings;
    pub use crate::bindings::exports::devloop::detector::detector::{Guest, Info};
    pub use crate::export::Glue;
    pub use serde_json;
}

/// Everything a detector needs, in one import.
pub mod prelude {
    pub use crate::state::PairMap;
    pub use crate::{
        Absence, Ewma, Examples, KeyMap, LastReported, RecentSet, RobustBaseline, Sequence, Suppressor, WindowedCounts,
        WindowedDistinct, binomial_confidence, insight_key, normal_cdf, set_key, stable_hash,
        two_proportion_confidence,
    };
    pub use crate::{
        ConfigKey, Detector, DetectorInfo, Event, Evidence, Field, FieldValue, Insight, Outcome, Settings, Severity,
        Status, Value, export_detector, keep_state,
    };
}
