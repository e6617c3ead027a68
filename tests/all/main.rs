//! One integration test binary, one module per area (wasmtime's `tests/all` layout).

mod cli_run;
mod hostile;
mod plugin_cases;
mod scenario;
mod conformance;
mod hotswap;
mod plugins_cli;
mod ingest_exec;
mod ingest_sources;
mod ingest_resume;
mod ingest_follow;
mod scenario;
