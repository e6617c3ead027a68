//! What both build scripts (the host's, which embeds the bundled detectors, and the tests',
//! which also builds the fixtures) need to build guests the same way: the same nested cargo
//! command into the same `<target>/guests` folder, so each guest is compiled once for both.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "wasm32-wasip2";

/// What the guests are built from, beside a build script's own inputs: their sources, the
/// contract, and the profile, lock file and target flags they are compiled with. Named from
/// the package's root (the workspace is its parent), which cargo resolves in the checkout it
/// builds: an absolute path names the checkout that ran the script last, so of two clones
/// sharing one target folder (the scripts' cache) each saw only the other's changes, and built
/// the other's detectors.
pub fn watch() {
    for watched in ["plugins", "plugin-sdk", "wit", "Cargo.toml", "Cargo.lock", ".cargo/config.toml"] {
        println!("cargo:rerun-if-changed=../{watched}");
    }
}

/// `<target>/guests`, from the build script's `OUT_DIR` (`<target>/<profile>/build/<pkg>/out`).
pub fn target_dir(out_dir: &Path) -> PathBuf {
    out_dir.ancestors().nth(4).expect("OUT_DIR is <target>/<profile>/build/<pkg>/out").join("guests")
}

/// Where the built components land.
pub fn built(target_dir: &Path) -> PathBuf {
    target_dir.join(TARGET).join("plugin")
}

/// A `cargo build` of guests with the plugin profile, free of the outer build's settings.
pub fn cargo(workspace: &Path, target_dir: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(workspace)
        .args(["build", "--quiet", "--profile", "plugin", "--target", TARGET, "--target-dir"])
        .arg(target_dir);
    for variable in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
        // Under `cargo clippy` the guests are built, not linted (they are linted as workspace
        // members), and a lint wrapper would change their fingerprint and rebuild them.
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
    ] {
        command.env_remove(variable);
    }
    command
}

/// The crates under `plugins/` (folders with a manifest), sorted.
pub fn detector_crates(plugins: &Path) -> Vec<String> {
    let mut crates: Vec<String> = std::fs::read_dir(plugins)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().join("Cargo.toml").exists())
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    crates.sort();
    crates
}
