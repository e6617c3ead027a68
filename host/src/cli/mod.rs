//! The `devloop-host` command line: one subcommand per job, doc comments as help.

mod beads;
mod bench;
mod completions;
mod doctor;
mod exec;
mod init;
mod insights;
mod patterns;
mod plugins;
mod plugins_new;
mod plugins_test;
mod progress;
mod project;
mod run;
mod sources;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use tracing_subscriber::EnvFilter;

/// Finds UX problems in devloop by running detector plugins over its logs.
#[derive(Debug, Parser)]
#[command(
    name = "devloop-host",
    version,
    about,
    after_help = "Examples:
  devloop-host run                   find problems in the project in this folder (reads .devloop/)
  devloop-host insights list         what it found
  devloop-host init                  write .devloop-host/config.toml, every setting commented
  devloop-host doctor                check the setup, say what to fix
  devloop-host plugins list          which detectors run, and from where"
)]
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
    Init(init::Init),
    Doctor(doctor::Doctor),
    #[command(alias = "plugin")]
    Plugins(plugins::Plugins),
    Insights(insights::Insights),
    Beads(beads::Beads),
    Exec(exec::Exec),
    Sources(sources::Sources),
    Bench(bench::Bench),
    Completions(completions::Completions),
    Man(completions::Man),
    Patterns(patterns::Patterns),
}

impl Command {
    /// Whether this is `exec`, which runs a command as if it were not there.
    pub fn wraps_a_command(&self) -> bool {
        matches!(self, Command::Exec(_))
    }

    pub fn run(self) -> anyhow::Result<ExitCode> {
        match self {
            Command::Run(command) => command.run(),
            Command::Init(command) => command.run(),
            Command::Doctor(command) => command.run(),
            Command::Plugins(command) => command.run(),
            Command::Insights(command) => command.run(),
            Command::Beads(command) => command.run(),
            Command::Exec(command) => command.run(),
            Command::Sources(command) => command.run(),
            Command::Bench(command) => command.run(),
            Command::Completions(command) => command.run(),
            Command::Man(command) => command.run(),
            Command::Patterns(command) => command.run(),
        }
    }
}

/// `-q`: nothing on stderr but errors, including the notices of new findings.
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Logs go to stderr; stdout carries only results.
pub fn init_logging(verbose: u8, quiet: bool) {
    QUIET.store(quiet, std::sync::atomic::Ordering::Relaxed);
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

/// The project's config file, or an empty one when it has none.
pub fn load_config(state: &devloop_host::config::StateDir) -> anyhow::Result<devloop_host::config::ConfigFile> {
    Ok(devloop_host::config::ConfigFile::load_or_default(&state.config_file())?)
}

/// Whether an error is a closed stdout (`devloop-host … | head`): the reader has what it
/// wanted, so the command ends quietly and successfully.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|error| error.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Whether an error is the user's to fix in what they wrote (a config file, a setting): exit
/// status 2, as for a mistake on the command line.
pub fn is_usage_error(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.is::<devloop_host::config::ConfigError>() || cause.is::<devloop_host::config::SettingsError>()
    })
}

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

/// How the listing commands (`run`, `plugins list|info`, `patterns list`) print: `insights`
/// has markdown too ([`devloop_host::sinks::render::Format`]).
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ListFormat {
    /// A table for people.
    Table,
    /// One JSON object per line.
    Json,
}
