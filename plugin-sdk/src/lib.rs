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

mod detector;
mod event;
mod export;
mod insight;
pub mod log;
mod settings;
pub mod state;

#[doc(hidden)]
#[allow(unsafe_code, reason = "generated component-model glue")]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit/since_v0.1.0",
        world: "detector-plugin",
        default_bindings_module: "devloop_plugin_sdk::bindings",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
    });
}

pub use bindings::devloop::detector::types::{
    Event, Evidence, Field, Insight, Outcome, Severity, Status, Value,
};
pub use bindings::exports::devloop::detector::detector::ConfigKey;
pub use detector::{Detector, DetectorInfo};
pub use settings::Settings;

/// The WIT contract version this SDK builds plugins against.
pub const API_VERSION: &str = "0.1.0";

#[doc(hidden)]
pub mod __private {
    pub use crate::export::Glue;
    pub use crate::bindings::export_bindings;
    pub use crate::bindings::exports::devloop::detector::detector::{Guest, Info};
}

/// Everything a detector needs, in one import.
pub mod prelude {
    pub use crate::{
        ConfigKey, Detector, DetectorInfo, Event, Evidence, Field, Insight, Outcome, Settings,
        Severity, Status, Value, export_detector,
    };
}
