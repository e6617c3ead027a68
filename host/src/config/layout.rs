//! devloop-host's own files for a project, all in one state folder beside devloop's
//! (`.devloop-host/` next to `.devloop/`), so every command finds them from the devloop folder
//! alone, whichever folder it runs in.

use std::path::{Path, PathBuf};

use crate::routing::ROUTING_FILE;
use crate::store::DATABASE_FILE;

/// The state folder's name, beside the project's `.devloop`.
pub const STATE_DIR_NAME: &str = ".devloop-host";

/// A project's state folder and the files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    path: PathBuf,
}

impl StateDir {
    /// The state folder of the project whose devloop folder is `devloop_dir`.
    pub fn beside(devloop_dir: &Path) -> StateDir {
        let project_root = devloop_dir.parent().unwrap_or(Path::new(""));
        StateDir { path: project_root.join(STATE_DIR_NAME) }
    }

    /// A state folder somewhere else (`--state-dir`).
    pub fn at(path: PathBuf) -> StateDir {
        StateDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The project folder: the one holding the state folder.
    pub fn project(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new(""))
    }

    /// The project's state: the findings and their triage status, where each log was read up
    /// to, and each detector's saved state.
    pub fn insights_db(&self) -> PathBuf {
        self.path.join(DATABASE_FILE)
    }

    /// The project's detector plugins, which override bundled and user-level ones by id.
    pub fn plugins(&self) -> PathBuf {
        self.path.join("plugins")
    }

    /// Settings: detectors, limits, sources and routing.
    pub fn config_file(&self) -> PathBuf {
        self.path.join(super::CONFIG_FILE)
    }

    /// The routing rules' own file, read when the config has no `[routing]` table.
    pub fn routing_file(&self) -> PathBuf {
        self.path.join(ROUTING_FILE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_folder_sits_beside_the_devloop_folder() {
        assert_eq!(StateDir::beside(Path::new(".devloop")).path(), Path::new(".devloop-host"));
        assert_eq!(
            StateDir::beside(Path::new("/work/app/.devloop")).insights_db(),
            Path::new("/work/app/.devloop-host/insights.db")
        );
        assert_eq!(
            StateDir::beside(Path::new("elsewhere/.devloop")).plugins(),
            Path::new("elsewhere/.devloop-host/plugins")
        );
    }
}
