//! One integration test binary, one module per area (wasmtime's `tests/all` layout).

mod cli_run;
mod hostile;
mod conformance;
mod plugin_new;
mod polyglot;
