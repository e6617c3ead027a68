//! The full run as a user starts it: `devloop-host run --from-start` in a process of its own,
//! timed from its start to its exit, beside jq, which is a process too.
//!
//! [`super::full_run`] times the run inside this process, after its detectors are loaded, and
//! its repetitions find the memory of the earlier ones warm. What only a new process pays (its
//! start, loading the compiled detectors, the allocator's and the kernel's first touch of its
//! memory) is left out there, and it was not small: the kernel zeroing transparent huge pages
//! took a single run of the bench folder from 0.8 s to 2 s while the in-process figure read
//! 1.2 s (see `main.rs`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::{BenchConfig, BenchError};
use crate::detectors;

/// One run of the process: how long it took, how many findings it printed, and the most
/// memory it held (where the system tells a parent that of one child).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessRun {
    pub time: Duration,
    pub findings: usize,
    pub peak_rss_kib: Option<u64>,
}

/// `command` (this binary) as `run --from-start` over a folder with the same detectors the
/// in-process runs load, a fresh state folder each time, no pattern files, no routing file and
/// no user-level plugins: set up once, run as often as it is measured.
pub struct OwnRun {
    program: PathBuf,
    run: Command,
    state: PathBuf,
}

impl OwnRun {
    /// Writes what every run of it reads (the bundled detectors as files, an empty pattern
    /// folder) under `config.work`; its state goes in the folder `name` there.
    pub fn new(config: &BenchConfig, program: &Path, name: &str) -> Result<OwnRun, BenchError> {
        let state = config.work.join(name);
        let no_patterns = config.work.join("no-patterns");
        std::fs::create_dir_all(&no_patterns)?;
        let plugins = match &config.plugins {
            Some(folder) => folder.clone(),
            None => bundled_folder(&config.work)?,
        };
        let mut run = Command::new(program);
        run.args(["-q", "run", "--from-start", "--format", "json"])
            .arg("--devloop-dir")
            .arg(&config.dirs.project)
            .arg("--state-dir")
            .arg(&state)
            .arg("--plugins")
            .arg(&plugins)
            .arg("--patterns")
            .arg(&no_patterns)
            .arg("--batch-size")
            .arg(config.batch_size.to_string())
            .env_remove("DEVLOOP_HOST_ROUTING")
            .env_remove("DEVLOOP_HOST_STATUS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        match &config.dirs.home {
            Some(home) => run.arg("--home-devloop-dir").arg(home),
            None => run.env("DEVLOOP_HOME_DIR", config.work.join("no-home-devloop")),
        };
        if let Some(cache) = &config.cache_dir {
            run.arg("--cache-dir").arg(cache);
        }
        Ok(OwnRun { program: program.to_owned(), run, state })
    }

    /// One run into a fresh state folder, timed from its start to its exit.
    pub fn run(&mut self) -> Result<ProcessRun, BenchError> {
        if self.state.exists() {
            std::fs::remove_dir_all(&self.state)?;
        }
        let started = Instant::now();
        let mut child = self.run.spawn()?;
        let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = std::thread::spawn(move || {
            let mut text = Vec::new();
            stderr_pipe.read_to_end(&mut text).map(|_| text)
        });
        let mut stdout = Vec::new();
        child.stdout.take().expect("stdout is piped").read_to_end(&mut stdout)?;
        let (status, peak_rss_kib) = wait_with_peak_rss(child)?;
        let time = started.elapsed();
        let stderr = stderr.join().expect("reading a pipe does not panic")?;
        if !status.success() {
            let stderr = String::from_utf8_lossy(&stderr);
            return Err(BenchError::Process {
                command: self.program.clone(),
                reason: format!("{status}: {}", stderr.lines().last().unwrap_or_default()),
            });
        }
        let findings = stdout.split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).count();
        Ok(ProcessRun { time, findings, peak_rss_kib })
    }
}

/// Waits for `child` and reads its peak resident set from what the kernel kept of it
/// (`ru_maxrss`, KiB on Linux): the standard library's wait drops that.
#[cfg(target_os = "linux")]
#[expect(unsafe_code, reason = "wait4(2) is how a parent learns one child's resource use")]
fn wait_with_peak_rss(child: Child) -> std::io::Result<(ExitStatus, Option<u64>)> {
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::pid_t::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: rusage is integers and timevals only, for which all zeros is a value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to locals of this frame, alive for the call; the child is
        // this process's and reaped here, so `child` is not waited for again.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
    Ok((ExitStatus::from_raw(status), u64::try_from(usage.ru_maxrss).ok()))
}

/// Elsewhere the figure is left out.
#[cfg(not(target_os = "linux"))]
fn wait_with_peak_rss(mut child: Child) -> std::io::Result<(ExitStatus, Option<u64>)> {
    Ok((child.wait()?, None))
}

/// A folder holding the detectors compiled into this binary as files, for `run --plugins`:
/// exactly the set the in-process runs load (the compiled-component cache is keyed by their
/// content, so they load from it as the bundled ones do).
fn bundled_folder(work: &Path) -> Result<PathBuf, BenchError> {
    let folder = work.join("bundled-plugins");
    std::fs::create_dir_all(&folder)?;
    for (name, wasm) in detectors::bundled_detectors() {
        std::fs::write(folder.join(format!("{}.wasm", name.replace('-', "_"))), wasm)?;
    }
    Ok(folder)
}
