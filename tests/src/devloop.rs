//! Logs written by the real devloop 0.10.3 (its own writer classes, in the project's Python
//! venv), for tests that read them back.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python of the venv `scripts/python-env` creates (`$DEVLOOP_HOST_VENV`).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("DEVLOOP_HOST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").expect("HOME is set");
        PathBuf::from(home).join(".cache/devloop-host/venv")
    });
    venv.join("bin").join("python")
}

/// `tests/devloop/<script>`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("devloop").join(name)
}

/// Runs a script of `tests/devloop` with devloop's Python; panics with its output if it fails.
pub fn run_script(name: &str, arguments: &[&Path]) {
    let python = python();
    assert!(python.exists(), "{} is missing: run scripts/python-env (scripts/test does)", python.display());
    let output = Command::new(&python)
        .arg(script(name))
        .args(arguments)
        .env("TZ", "UTC")
        .output()
        .unwrap_or_else(|error| panic!("cannot run {}: {error}", python.display()));
    assert!(
        output.status.success(),
        "{name} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A project `.devloop` folder and a home `.devloop` folder in a scratch directory.
pub struct DevloopFolders {
    pub root: tempfile::TempDir,
    pub project: PathBuf,
    pub home: PathBuf,
}

impl DevloopFolders {
    pub fn new() -> std::io::Result<DevloopFolders> {
        let root = tempfile::tempdir()?;
        let project = root.path().join("proj").join(".devloop");
        let home = root.path().join("home").join(".devloop");
        Ok(DevloopFolders { root, project, home })
    }

    /// The library's view of these folders.
    pub fn dirs(&self) -> devloop_host::ingest::DevloopDirs {
        devloop_host::ingest::DevloopDirs { project: self.project.clone(), home: Some(self.home.clone()) }
    }
}
