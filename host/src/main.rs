use std::process::ExitCode;

use clap::Parser;

mod cli;

/// mimalloc rather than the system allocator: every event owns its strings, and glibc's
/// `malloc`/`free` (with its consolidation of freed chunks) was about a quarter of ingest.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for this process. mimalloc advises them for its arenas
/// (and with the kernel's `always` setting every large mapping gets them), and a run frees and
/// touches memory again batch after batch: each first touch of a 2 MiB page had the kernel
/// zero all of it. On `devloop-host bench`'s folder a full `run --from-start` spent 1.3-1.7 s
/// in the kernel of 1.9-2.4 s, against 0.15 s of 0.8 s without (and a third less peak memory).
/// Not for `exec`: the setting passes to the processes this one starts, and `exec` must leave
/// the command it wraps as it would run without it.
#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "prctl(2) is how a process turns transparent huge pages off for itself")]
fn without_transparent_huge_pages() {
    let disable: libc::c_ulong = 1;
    // SAFETY: PR_SET_THP_DISABLE reads its integer arguments and no memory of this process. A
    // kernel without it refuses, and the process runs as before.
    let _ = unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, disable, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong)
    };
}

/// Other systems have no transparent huge pages to turn off.
#[cfg(not(target_os = "linux"))]
fn without_transparent_huge_pages() {}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if !cli.command.wraps_a_command() {
        without_transparent_huge_pages();
    }
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
