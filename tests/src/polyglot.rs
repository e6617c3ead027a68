//! Detectors in other languages, built from source by `scripts/build-plugin` at test time.
//!
//! Their toolchains (componentize-py, jco, clang + wit-bindgen) are not Rust crates, so the
//! tests crate's build.rs cannot build them; the script caches each build by the hash of its
//! sources, so a warm run costs a hash per detector. `scripts/polyglot-env` installs the
//! toolchains (`scripts/test` runs it first).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

/// The project's root folder.
pub fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the workspace")
}

/// Where the project's scripts keep their caches (scripts/env.sh's `DEVLOOP_HOST_CACHE_ROOT`).
pub fn cache_root() -> PathBuf {
    std::env::var_os("DEVLOOP_HOST_CACHE_ROOT").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").expect("HOME is set");
        PathBuf::from(home).join(".cache").join("devloop-host")
    })
}

type Build = Arc<OnceLock<Result<PathBuf, String>>>;

/// Builds the detector in folder `dir` once per test process (tests asking for the same one
/// wait for the first build) and returns the component's path.
pub fn build(dir: &Path) -> Result<PathBuf, String> {
    static BUILDS: OnceLock<Mutex<HashMap<PathBuf, Build>>> = OnceLock::new();
    let slot = {
        let mut builds = BUILDS.get_or_init(Default::default).lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        builds.entry(dir.to_owned()).or_default().clone()
    };
    slot.get_or_init(|| run_build_script(dir)).clone()
}

fn run_build_script(dir: &Path) -> Result<PathBuf, String> {
    let script = workspace().join("scripts").join("build-plugin");
    let output =
        Command::new(&script).arg(dir).output().map_err(|error| format!("cannot run {}: {error}", script.display()))?;
    if !output.status.success() {
        return Err(format!(
            "scripts/build-plugin {} failed ({}):\n{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    Ok(PathBuf::from(path))
}

/// The example detector `plugins/<name>/`, built.
pub fn example(name: &str) -> Result<PathBuf, String> {
    build(&workspace().join("plugins").join(name))
}
