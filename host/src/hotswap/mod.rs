//! Replacing detector plugins while the host runs.
//!
//! Dropping a `.wasm` into the plugins folder must never stop the event stream, so the work
//! is split by cost:
//!
//! - [`PluginWatcher`] watches the folder and, on a worker thread, waits until a changed file
//!   is complete, then reads, compiles (through the compiled-component cache), checks the
//!   contract version and starts the new version. Events keep flowing to the old version
//!   meanwhile. What it produces is a [`crate::dispatch::PluginChange`].
//! - [`crate::dispatch::Pipeline::apply`] switches to the new version between two batches,
//!   handing the old version's state over with snapshot → restore.
//! - [`folder`] is how `devloop-host plugins` adds, removes and reloads plugins: by changing
//!   the folder, which a running host watches.
//! - [`HotSwap`] bundles the two for a long-running host: between two batches it applies
//!   what is ready and keeps the status file current.
//! - [`StatusFile`] is what a running host tells `devloop-host plugins list`, a separate
//!   process, about each plugin.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use std::path::Path;
//! use std::sync::Arc;
//! use devloop_host::dispatch::Pipeline;
//! use devloop_host::hotswap::HotSwap;
//! use devloop_host::runtime::{Runtime, RuntimeConfig};
//!
//! # fn main() -> anyhow::Result<()> {
//! let runtime = Arc::new(Runtime::new(RuntimeConfig::default())?);
//! let plugins = Path::new(".devloop-host/plugins");
//! // Watch before loading, so a file that changes meanwhile is not missed.
//! let mut hot_swap = HotSwap::start(runtime.clone(), plugins, BTreeMap::new(), Path::new(".devloop-host/status.json"))?;
//! let mut pipeline = Pipeline::new(&runtime, 1024);
//! pipeline.load_dir(plugins, &BTreeMap::new())?;
//! # let batches: Vec<Vec<devloop_host::model::Event>> = Vec::new();
//! for batch in batches {
//!     hot_swap.between_batches(&mut pipeline);
//!     pipeline.feed(&batch);
//! }
//! # Ok(())
//! # }
//! ```

pub mod folder;
mod live;
mod status;
mod watch;

pub use live::HotSwap;
pub use status::{RejectedFile, StatusFile, StatusFileError};
pub use watch::{PluginWatcher, WatchError, WatchOptions};
