//! Which detectors run, and where each one comes from.
//!
//! The detectors under `plugins/` are compiled into the binary (see `host/build.rs`), so an
//! installed `devloop-host` finds UX problems in any project with nothing set up. A plugin
//! folder overrides them by detector id, never by file name: a detector in the project's
//! `.devloop-host/plugins` replaces a user-level one (`~/.config/devloop-host/plugins`) with the
//! same id, which replaces the bundled one.

use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::runtime::{CompiledPlugin, DetectorDescription, LoadError, Runtime};

include!(concat!(env!("OUT_DIR"), "/bundled.rs"));

/// The bundled crate that runs pattern files rather than detecting anything itself.
const RULES_CRATE: &str = "rules";

/// The bundled rules component, which runs pattern files, with its origin.
pub fn bundled_rules() -> Option<(String, &'static [u8])> {
    BUNDLED
        .iter()
        .find(|(name, _)| *name == RULES_CRATE)
        .map(|(name, wasm)| (format!("{BUNDLED_ORIGIN_PREFIX}{name}"), *wasm))
}

/// How a bundled detector's origin starts (`bundled:<crate>`), where a file's is its path.
pub const BUNDLED_ORIGIN_PREFIX: &str = "bundled:";

/// Where a detector comes from, in order of precedence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Origin {
    /// The project's plugins folder (or the folder `--plugins` names).
    Project,
    /// The user's plugins folder, shared by every project.
    User,
    /// Compiled into this binary.
    Bundled,
    /// A pattern file, run by the bundled rules detector (see [`crate::patterns`]).
    Pattern,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Project => "project",
            Origin::User => "user",
            Origin::Bundled => "bundled",
            Origin::Pattern => "pattern",
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Where to look for detectors.
#[derive(Debug, Clone)]
pub struct Search {
    /// The project's plugins folder; a missing one holds nothing.
    pub project: PathBuf,
    /// The user's plugins folder; a missing one holds nothing.
    pub user: Option<PathBuf>,
    /// Whether the bundled detectors take part.
    pub bundled: bool,
}

impl Search {
    /// Bundled detectors, overridden by the user's folder, overridden by the project's.
    pub fn layered(project: PathBuf, user: Option<PathBuf>) -> Search {
        Search { project, user, bundled: true }
    }

    /// Exactly the detectors in `folder`, which must exist.
    pub fn only(folder: PathBuf) -> Search {
        Search { project: folder, user: None, bundled: false }
    }

    /// Whether this is [`Search::only`]: the folder is all there is, so it must exist.
    pub fn is_exclusive(&self) -> bool {
        !self.bundled && self.user.is_none()
    }
}

/// The user-level plugins folder: `$XDG_CONFIG_HOME/devloop-host/plugins`, else
/// `~/.config/devloop-host/plugins`.
pub fn user_plugins_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("devloop-host").join("plugins"))
}

/// A compiled detector that described itself.
pub struct Found {
    pub compiled: CompiledPlugin,
    pub description: DetectorDescription,
}

/// One detector the search came across.
pub struct Candidate {
    pub origin: Origin,
    /// Its file, or `bundled:<crate>`.
    pub location: String,
    pub found: Result<Found, LoadError>,
    /// Where the detector that replaces it comes from (a higher-precedence one with its id).
    pub overridden_by: Option<String>,
}

impl Candidate {
    /// The detector's id, or for one that does not load, its file name.
    pub fn id(&self) -> String {
        match &self.found {
            Ok(found) => found.description.id.clone(),
            Err(_) => Path::new(&self.location)
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_else(|| self.location.clone()),
        }
    }

    /// Whether it runs: it loads and nothing overrides it.
    pub fn runs(&self) -> bool {
        self.found.is_ok() && self.overridden_by.is_none()
    }
}

#[derive(Debug, Error)]
pub enum DetectorsError {
    #[error("cannot read plugins folder {dir}; create it, or leave out --plugins to run the bundled detectors")]
    Read {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// Every detector the search finds, in precedence order (project, user, bundled), each
/// compiled (through the runtime's cache) and described, with what overrides it.
pub fn discover(runtime: &Runtime, search: &Search) -> Result<Vec<Candidate>, DetectorsError> {
    let mut candidates = Vec::new();
    let folders =
        std::iter::once((Origin::Project, Some(&search.project))).chain([(Origin::User, search.user.as_ref())]);
    for (origin, folder) in folders {
        let Some(folder) = folder else { continue };
        let files = match plugin_files(folder) {
            Ok(files) => files,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound && !search.is_exclusive() => continue,
            Err(source) => return Err(DetectorsError::Read { dir: folder.display().to_string(), source }),
        };
        for file in files {
            let location = file.display().to_string();
            let found = runtime.load_file(&file).and_then(|compiled| describe(runtime, compiled));
            // The rules detector runs pattern files; on its own it detects nothing.
            if found.as_ref().is_ok_and(|found| found.description.id == rules::ENGINE_ID) {
                continue;
            }
            candidates.push(Candidate { origin, location, found, overridden_by: None });
        }
    }
    if search.bundled {
        candidates.extend(bundled(runtime));
    }
    for index in 0..candidates.len() {
        let Ok(found) = &candidates[index].found else { continue };
        let id = &found.description.id;
        let winner = candidates[..index]
            .iter()
            .find(|earlier| earlier.found.as_ref().is_ok_and(|other| &other.description.id == id))
            .map(|earlier| earlier.location.clone());
        candidates[index].overridden_by = winner;
    }
    Ok(candidates)
}

/// The detectors compiled into this binary, as (crate name, component bytes): every bundled
/// crate but the rules one, which runs pattern files.
pub fn bundled_detectors() -> impl Iterator<Item = (&'static str, &'static [u8])> {
    BUNDLED.iter().copied().filter(|(name, _)| *name != RULES_CRATE)
}

/// The detectors compiled into this binary, compiled for `runtime` and described.
pub fn bundled(runtime: &Runtime) -> Vec<Candidate> {
    bundled_detectors()
        .map(|(name, wasm)| {
            let location = format!("{BUNDLED_ORIGIN_PREFIX}{name}");
            let found = runtime.load_bytes(&location, wasm).and_then(|compiled| describe(runtime, compiled));
            Candidate { origin: Origin::Bundled, location, found, overridden_by: None }
        })
        .collect()
}

fn describe(runtime: &Runtime, compiled: CompiledPlugin) -> Result<Found, LoadError> {
    let description = runtime.instantiate(&compiled, &[])?.description().clone();
    Ok(Found { compiled, description })
}

/// The `.wasm` files in a plugins folder, in name order.
pub fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}
