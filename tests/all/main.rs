//! One integration test binary, one module per area (wasmtime's `tests/all` layout).
//!
//! It belongs to the `devloop-host` package (see `host/Cargo.toml`) so that cargo builds the real
//! binary before it and says where it is.

mod beads_filing;
mod beads_stand_in;
mod bench;
mod cli_project;
mod cli_run;
mod conformance;
mod contract_v02;
mod detector_state;
mod exec_transparent;
mod hostile;
mod hostile_text;
mod hotswap;
mod incremental_runs;
mod independent_evaluation;
mod ingest_exec;
mod ingest_follow;
mod ingest_hazards;
mod ingest_resume;
mod ingest_sources;
mod insights_cli;
mod insights_feedback;
mod insights_formats;
mod insights_support;
mod lagging;
mod occurrences;
mod patterns;
mod plugin_cases;
mod plugin_new;
mod plugins_cli;
mod polyglot;
mod run_durability;
mod scenario;

/// The `devloop-host` binary cargo built for these tests.
fn binary() -> std::path::PathBuf {
    env!("CARGO_BIN_EXE_devloop-host").into()
}
