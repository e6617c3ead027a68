//! One integration test binary, one module per area (wasmtime's `tests/all` layout).

mod cli_run;
mod hostile;
mod plugin_cases;
mod conformance;
mod ingest_exec;
mod ingest_sources;
mod ingest_resume;
mod ingest_follow;
mod plugin_new;
mod polyglot;
