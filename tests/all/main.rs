//! One integration test binary, one module per area (wasmtime's `tests/all` layout).

mod beads_filing;
mod beads_stand_in;
mod cli_run;
mod conformance;
mod hostile;
mod hotswap;
mod ingest_exec;
mod ingest_follow;
mod ingest_resume;
mod ingest_sources;
mod insights_cli;
mod insights_feedback;
mod insights_formats;
mod insights_support;
mod patterns;
mod plugin_cases;
mod plugin_new;
mod plugins_cli;
mod polyglot;
mod scenario;
