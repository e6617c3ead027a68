//! Compiles every detector under `plugins/` for wasm32-wasip2 and embeds the components in the
//! binary, so an installed `devloop-host` runs its detectors in any project with no set-up.
//!
//! It also writes the plugin SDK's sources into `sdk.rs`, as a standalone crate (its manifest
//! without the workspace's inheritance), for `plugins new` to vendor into a Rust scaffold: a
//! detector must build without a clone of this repository.
//!
//! The guests are built by a nested cargo into `<target>/guests`, the folder the integration
//! tests' build script uses too, so each plugin is compiled once for both (a nested cargo must
//! not share the outer one's target folder: it would wait on its lock).

#[path = "build/guests.rs"]
mod guests;

use std::path::{Path, PathBuf};
use std::process::Command;

use guests::TARGET;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir.parent().expect("host/ sits in the workspace").to_owned();
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    let target_dir = guests::target_dir(&out_dir);
    guests::watch();
    write_sdk(&workspace, &out_dir);

    let plugins = guests::detector_crates(&workspace.join("plugins"));
    if !plugins.is_empty() {
        require_target();
        let mut build = guests::cargo(&workspace, &target_dir);
        for plugin in &plugins {
            build.args(["-p", plugin]);
        }
        if !build.status().is_ok_and(|status| status.success()) {
            fail(&format!("building the bundled detector plugins failed: {build:?}"));
        }
    }

    let built = guests::built(&target_dir);
    let mut bundled = String::from(
        "/// Every detector under plugins/, as (crate name, component bytes).\npub const BUNDLED: &[(&str, &[u8])] = &[\n",
    );
    for plugin in &plugins {
        let path = built.join(format!("{}.wasm", plugin.replace('-', "_")));
        bundled.push_str(&format!("    ({plugin:?}, include_bytes!({:?})),\n", path.display().to_string()));
    }
    bundled.push_str("];\n");
    std::fs::write(out_dir.join("bundled.rs"), bundled).expect("write bundled.rs");
}

/// `sdk.rs`: every file of `plugin-sdk/src` and a manifest that stands alone. The sources are
/// named from the package's root, as `watch` names them: the script does not run again when
/// another clone sharing the target folder builds, and an absolute path would name the clone
/// that ran it last, whose files may be gone.
fn write_sdk(workspace: &Path, out_dir: &Path) {
    let sdk = workspace.join("plugin-sdk");
    let read_toml = |path: &Path| -> toml::Table {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| fail(&format!("{}: {error}", path.display())));
        text.parse().unwrap_or_else(|error| fail(&format!("{}: {error}", path.display())))
    };
    let root = read_toml(&workspace.join("Cargo.toml"));
    let mut manifest = read_toml(&sdk.join("Cargo.toml"));
    let inherited = |section: &str, key: &str| {
        root.get("workspace").and_then(|workspace| workspace.get(section)).and_then(|table| table.get(key)).cloned()
    };
    if let Some(toml::Value::Table(package)) = manifest.get_mut("package") {
        for (key, value) in package.iter_mut() {
            if value.get("workspace").is_some() {
                *value =
                    inherited("package", key).unwrap_or_else(|| fail(&format!("workspace.package.{key} is missing")));
            }
        }
        package.insert("publish".into(), false.into());
    }
    if let Some(toml::Value::Table(dependencies)) = manifest.get_mut("dependencies") {
        for (name, value) in dependencies.iter_mut() {
            let Some(toml::Value::Table(own)) = value.get("workspace").is_some().then(|| value.clone()) else {
                continue;
            };
            let mut resolved = match inherited("dependencies", name) {
                Some(toml::Value::String(version)) => toml::Table::from_iter([("version".to_owned(), version.into())]),
                Some(toml::Value::Table(table)) => table,
                _ => fail(&format!("workspace.dependencies.{name} is missing")),
            };
            for (key, extra) in own.into_iter().filter(|(key, _)| key != "workspace") {
                resolved.insert(key, extra);
            }
            *value = toml::Value::Table(resolved);
        }
    }
    manifest.remove("lints");
    let manifest = toml::to_string(&manifest).unwrap_or_else(|error| fail(&error.to_string()));

    let mut files = vec![("Cargo.toml".to_owned(), format!("{manifest:?}"))];
    let mut sources = Vec::new();
    rust_files(&sdk.join("src"), &mut sources);
    sources.sort();
    for source in sources {
        let relative = source.strip_prefix(&sdk).unwrap_or(&source).to_string_lossy().replace('\\', "/");
        let contents =
            format!("include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/../plugin-sdk/\", {relative:?}))");
        files.push((relative, contents));
    }
    let mut text = String::from(
        "/// The plugin SDK as a standalone crate, as (path in the crate's folder, contents).\npub const SDK_FILES: &[(&str, &str)] = &[\n",
    );
    for (path, contents) in files {
        text.push_str(&format!("    ({path:?}, {contents}),\n"));
    }
    text.push_str("];\n");
    std::fs::write(out_dir.join("sdk.rs"), text).expect("write sdk.rs");
}

/// Every `.rs` file under `folder`.
fn rust_files(folder: &Path, found: &mut Vec<PathBuf>) {
    for path in std::fs::read_dir(folder).into_iter().flatten().filter_map(Result::ok).map(|entry| entry.path()) {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

/// The crates under `plugins/` (the Python, JavaScript and C ports have no Cargo.toml and are
/// built by their own toolchains).
/// Stops the build with the command that fixes it when the wasm32-wasip2 standard library is
/// not installed (cargo's own error would be a page about a missing `core`).
fn require_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    let Some(sysroot) = sysroot else { return };
    if !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        fail(&format!(
            "devloop-host embeds its detectors built for {TARGET}, and this Rust toolchain ({}) lacks that \
             target; install it with `rustup target add {TARGET}` and build again",
            sysroot.display()
        ));
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}
