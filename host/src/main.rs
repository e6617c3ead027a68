use std::process::ExitCode;

use clap::Parser;

mod cli;

/// mimalloc rather than the system allocator: every event owns its strings, and glibc's
/// `malloc`/`free` (with its consolidation of freed chunks) was about a quarter of ingest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli::init_logging(cli.verbose, cli.quiet);
    match cli.command.run() {
        Ok(code) => code,
        Err(error) if cli::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            if cli::is_usage_error(&error) { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}
