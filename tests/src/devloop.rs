//! Logs written by the real devloop 0.10.3 (its own writer classes, in the project's Python
//! venv), for tests that read them back.

use std::ffi::{OsStr, OsString};
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
    run_script_with(name, arguments);
}

fn run_script_with(name: &str, arguments: impl IntoIterator<Item = impl AsRef<OsStr>>) {
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

/// A scenario of the independent generator (`tests/devloop/independent/generate.py`, weeks of
/// two people written through devloop's own classes) and the moments, drawn by the generator
/// from its seed, at which incremental runs read it (`tests/devloop/incremental_scenario.py`
/// says how the files devloop rewrites in place are replayed).
pub struct GrowingScenario {
    root: PathBuf,
    cuts: usize,
}

impl GrowingScenario {
    /// Writes the scenario of `seed` over `days` days, with `cuts` moments, under `root`
    /// (complete: `root/project/.devloop` and `root/home/.devloop`).
    pub fn generate(root: &Path, seed: u64, days: u32, cuts: usize) -> GrowingScenario {
        let arguments: [OsString; 8] = [
            "generate".into(),
            root.into(),
            "--seed".into(),
            seed.to_string().into(),
            "--days".into(),
            days.to_string().into(),
            "--cuts".into(),
            cuts.to_string().into(),
        ];
        run_script_with("incremental_scenario.py", arguments);
        GrowingScenario { root: root.to_owned(), cuts }
    }

    /// How many moments the folder is read at before it is complete.
    pub fn cuts(&self) -> usize {
        self.cuts
    }

    /// Brings `target/project/.devloop` and `target/home/.devloop` to what devloop had written
    /// by cut `cut`, or everything with `None`.
    pub fn grow(&self, target: &Path, cut: Option<usize>) {
        let cut = cut.map_or_else(|| "end".to_owned(), |index| index.to_string());
        run_script_with(
            "incremental_scenario.py",
            [OsStr::new("grow"), self.root.as_os_str(), target.as_os_str(), cut.as_ref()],
        );
    }
}
