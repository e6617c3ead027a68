//! Shared helpers for the integration tests: where the plugins built from source are, and a
//! scratch project to run the real binary in.

use std::path::Path;

use devloop_host::model::Event;
use devloop_host::runtime::{FieldSelection, Supervisor, WitEvents};

pub mod devloop;
pub mod follow;

include!(concat!(env!("OUT_DIR"), "/artifacts.rs"));

/// The built component of the plugin crate `name` (e.g. `command-repetition`).
pub fn plugin(name: &str) -> &'static Path {
    let (_, path) =
        PLUGINS.iter().find(|(crate_name, _)| *crate_name == name).unwrap_or_else(|| panic!("no plugin crate {name}"));
    Path::new(path)
}

/// `events` as the batch a run with `supervisor`'s plugin alone gives it: carrying the fields
/// it reads.
pub fn batch_for(supervisor: &Supervisor, events: &[Event]) -> WitEvents {
    WitEvents::new(events, &FieldSelection::union([supervisor.reads()]))
}

/// The hostile fixture built with `feature`.
pub fn hostile(feature: &str) -> &'static Path {
    let (_, path) =
        HOSTILE.iter().find(|(name, _)| *name == feature).unwrap_or_else(|| panic!("no hostile fixture {feature}"));
    Path::new(path)
}

/// A build of the hot-swap ledger fixture: `v1`, `v2`, `stateless` or `broken-restore`.
pub fn ledger(variant: &str) -> &'static Path {
    let (_, path) =
        LEDGER.iter().find(|(name, _)| *name == variant).unwrap_or_else(|| panic!("no ledger build {variant}"));
    Path::new(path)
}

/// command-repetition's classic burst rule, which the Python, JavaScript and C ports implement.
pub fn classic_repetition() -> &'static Path {
    Path::new(CLASSIC_REPETITION)
}

pub mod polyglot;
