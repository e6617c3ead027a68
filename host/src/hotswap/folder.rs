//! The plugins folder as `devloop-host plugins` reads and changes it.
//!
//! The folder is the only channel between the CLI and a running host: installing copies a
//! checked file in with a rename (so the host's watcher never sees half of it), removing
//! deletes it, and reloading touches it. The host notices each and swaps between batches.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use thiserror::Error;

use crate::detectors::plugin_files;
use crate::runtime::{ApiVersion, DetectorDescription, LoadError, Runtime, namespace};

/// A detector file in the folder, and what this process found in it.
pub struct InstalledPlugin {
    pub file: PathBuf,
    pub found: Result<Detector, LoadError>,
}

/// A file that loads and describes itself.
pub struct Detector {
    pub description: DetectorDescription,
    pub api_version: ApiVersion,
    /// The first 16 hex digits of the file's sha256.
    pub content_hash: String,
}

impl InstalledPlugin {
    /// The detector's id, or the file's name when it does not load.
    pub fn id(&self) -> String {
        match &self.found {
            Ok(detector) => detector.description.id.clone(),
            Err(_) => self.file.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Error)]
pub enum FolderError {
    #[error("cannot read plugins folder {dir}; create it or pass --plugins")]
    Read {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file} was not installed: {source}")]
    Invalid {
        file: String,
        #[source]
        source: LoadError,
    },
    #[error("cannot install {file} into {dir}")]
    Install {
        file: String,
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{target} already holds detector `{holds}`; remove it first or rename the detector")]
    Occupied { target: String, holds: String },
    #[error("no plugin `{id}` in {dir}; `devloop-host plugins list` shows what is installed")]
    NotFound { id: String, dir: String },
    #[error("cannot change {file}")]
    Change {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

/// Loads `file` far enough to describe it: compiled (through the cache), checked, started.
pub fn describe(runtime: &Runtime, file: &Path) -> Result<Detector, LoadError> {
    let compiled = runtime.load_file(file)?;
    let instance = runtime.instantiate(&compiled, &[])?;
    Ok(Detector {
        description: instance.description().clone(),
        api_version: compiled.api_version,
        content_hash: compiled.content_hash,
    })
}

/// Every `.wasm` in `dir`, described.
pub fn inventory(runtime: &Runtime, dir: &Path) -> Result<Vec<InstalledPlugin>, FolderError> {
    let files = plugin_files(dir).map_err(|source| FolderError::Read { dir: dir.display().to_string(), source })?;
    Ok(files.into_iter().map(|file| InstalledPlugin { found: describe(runtime, &file), file }).collect())
}

/// The installed plugins whose detector id (or, for a broken file, file name) is `id`.
pub fn find(runtime: &Runtime, dir: &Path, id: &str) -> Result<Vec<InstalledPlugin>, FolderError> {
    let matching: Vec<InstalledPlugin> =
        inventory(runtime, dir)?.into_iter().filter(|plugin| plugin.id() == id).collect();
    if matching.is_empty() {
        return Err(FolderError::NotFound { id: id.to_owned(), dir: dir.display().to_string() });
    }
    Ok(matching)
}

/// Checks `file` and copies it into `dir`, replacing the file that holds the same detector
/// (an upgrade) or as `<id>.wasm`. Returns where it went and what it holds.
pub fn install(runtime: &Runtime, dir: &Path, file: &Path) -> Result<(PathBuf, Detector), FolderError> {
    let detector =
        describe(runtime, file).map_err(|source| FolderError::Invalid { file: file.display().to_string(), source })?;
    let id = &detector.description.id;
    let installed = inventory(runtime, dir)?;
    // The file holding the same detector is the older version this one replaces.
    let others: Vec<(String, &DetectorDescription)> = installed
        .iter()
        .filter_map(|plugin| {
            let found = plugin.found.as_ref().ok().filter(|found| &found.description.id != id)?;
            Some((plugin.file.display().to_string(), &found.description))
        })
        .collect();
    let others = others.iter().map(|(other, description)| (other.as_str(), *description));
    namespace::check(&file.display().to_string(), &detector.description, others).map_err(|conflict| {
        FolderError::Invalid { file: file.display().to_string(), source: LoadError::Conflict(Box::new(conflict)) }
    })?;
    let target =
        match installed.iter().find(|plugin| plugin.found.as_ref().is_ok_and(|found| &found.description.id == id)) {
            Some(existing) => existing.file.clone(),
            None => {
                let target = dir.join(format!("{id}.wasm"));
                if let Some(other) = installed.iter().find(|plugin| plugin.file == target && plugin.found.is_ok()) {
                    return Err(FolderError::Occupied { target: target.display().to_string(), holds: other.id() });
                }
                target
            }
        };
    let install_error =
        |source| FolderError::Install { file: file.display().to_string(), dir: dir.display().to_string(), source };
    let name = target.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = dir.join(format!(".{name}.partial"));
    std::fs::copy(file, &temporary).map_err(install_error)?;
    std::fs::rename(&temporary, &target).map_err(install_error)?;
    Ok((target, detector))
}

/// Deletes `file`.
pub fn remove(file: &Path) -> Result<(), FolderError> {
    std::fs::remove_file(file).map_err(|source| FolderError::Change { file: file.display().to_string(), source })
}

/// Marks `file` changed without changing its bytes, so a running host loads it again.
pub fn touch(file: &Path) -> Result<(), FolderError> {
    let change_error = |source| FolderError::Change { file: file.display().to_string(), source };
    let handle = std::fs::File::options().append(true).open(file).map_err(change_error)?;
    handle.set_modified(SystemTime::now()).map_err(change_error)
}
