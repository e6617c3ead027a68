//! Running detector plugins: sandboxed wasmtime components with limits that are enforced,
//! failures that are contained, and compiled code that is cached.
//!
//! - [`Runtime`] owns the engine (with epoch interruption driven by a ticker thread that ticks
//!   only while a call is in progress), the linker that grants plugins only the structured log
//!   and a WASI with nothing in it, and the on-disk cache of compiled components.
//! - [`CompiledPlugin`] is a component read from disk, compiled, and checked against the contract
//!   versions this host speaks, *before* anything is instantiated.
//! - [`PluginInstance`] is one live instance in its own store: every call runs under an epoch
//!   deadline and a memory cap, and returns `Result<Result<T, String>, PluginFailure>`: the
//!   outer error is the sandbox stopping the plugin, the inner one the plugin's own answer.
//! - [`Supervisor`] keeps a plugin going across failures: it recreates a failed instance with
//!   backoff and quarantines a plugin that keeps failing, so one bad detector never stops the
//!   others. It also holds the plugin to its [`Budget`] over the run and to the patterns it
//!   declared ([`namespace`]).

mod budget;
mod cache;
mod columns;
mod contract;
mod engine;
mod instance;
mod limits;
pub mod namespace;
mod stdio;
mod supervisor;
mod ticker;

pub use budget::{Budget, BudgetError, LogCounts, thread_cpu_time};
pub use columns::FieldSelection;
pub use contract::{ApiVersion, SUPPORTED_API_VERSIONS};
pub use engine::{CompiledPlugin, Runtime, RuntimeConfig};
pub use instance::{DetectorDescription, PluginInstance, WitEvents};
pub use limits::{Limits, PluginFailure};
pub use supervisor::{BatchOutcome, PluginHealth, Supervisor};

use thiserror::Error;

/// Why a plugin could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(
        "{path} is a core WebAssembly module, not a component; build detectors with \
         `cargo build --target wasm32-wasip2` (or componentize-py / jco for Python and JS)"
    )]
    CoreModule { path: String },
    #[error("{path} is not a valid WebAssembly component: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path} is not a devloop detector: it exports {exports}, not `devloop:detector/detector@<version>`")]
    NotADetector { path: String, exports: String },
    #[error(
        "{path} is built for detector API {found}; this devloop-host speaks {supported}. \
         Rebuild the plugin against a supported devloop-plugin-sdk (or WIT folder), or upgrade devloop-host"
    )]
    UnsupportedApi { path: String, found: String, supported: String },
    #[error("{path} cannot be linked: {reason}. A detector may import only `devloop:detector/log` and WASI")]
    Link { path: String, reason: String },
    #[error("{path} failed to start: {failure}")]
    Start { path: String, failure: PluginFailure },
    #[error("{path}: the detector rejected its settings: {reason}")]
    Configure { path: String, reason: String },
    #[error(transparent)]
    Conflict(Box<namespace::NamespaceConflict>),
}
