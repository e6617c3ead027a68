//! The `devloop-host` command line: one subcommand per job, doc comments as help.

mod beads;
mod bench;
mod exec;
mod insights;
mod patterns;
mod plugin;
mod plugin_new;
mod plugins;
mod run;
mod sources;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// Finds UX problems in devloop by running detector plugins over its logs.
#[derive(Debug, Parser)]
#[command(name = "devloop-host", version, about)]
pub struct Cli {
    /// More log output on stderr (-v: debug, -vv: trace). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Run(run::Run),
    Plugins(plugins::Plugins),
    Insights(insights::Insights),
    Beads(beads::Beads),
    Exec(exec::Exec),
    Sources(sources::Sources),
    Bench(bench::Bench),
    Plugin(plugin::Plugin),
    Patterns(patterns::Patterns),
}

impl Command {
    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Run(command) => command.run(),
            Command::Plugins(command) => command.run(),
            Command::Insights(command) => command.run(),
            Command::Beads(command) => command.run(),
            Command::Exec(command) => command.run(),
            Command::Sources(command) => command.run(),
            Command::Bench(command) => command.run(),
            Command::Plugin(command) => command.run(),
            Command::Patterns(command) => command.run(),
        }
    }
}

/// Logs go to stderr; stdout carries only results.
pub fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn,devloop_host=info",
        (false, 1) => "debug,cranelift_codegen=info,wasmtime=info",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        .init();
}

/// Where built plugins are installed by `scripts/setup`, relative to the project.
pub const DEFAULT_PLUGINS_DIR: &str = ".devloop-host/plugins";

/// Where a host reports the status of the plugins in `plugins` for `plugins list`, unless
/// told otherwise: inside the folder it describes, hidden, and ignored as a plugin.
pub fn default_status_file(plugins: &std::path::Path) -> PathBuf {
    plugins.join(".status.json")
}

/// The cache of compiled components: `$XDG_CACHE_HOME/devloop-host/components`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("devloop-host").join("components"))
}
