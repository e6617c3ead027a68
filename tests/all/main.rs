//! One integration test binary, one module per area (wasmtime's `tests/all` layout).

mod beads_filing;
mod beads_stand_in;
mod cli_run;
mod hostile;
mod plugin_cases;
mod scenario;
mod conformance;
mod hotswap;
mod plugins_cli;
mod insights_cli;
mod insights_feedback;
mod insights_formats;
mod insights_support;
mod ingest_exec;
mod ingest_sources;
mod ingest_resume;
mod ingest_follow;
mod plugin_new;
mod polyglot;
