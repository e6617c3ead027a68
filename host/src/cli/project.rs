//! The folders every command finds a project by: devloop's logs, and devloop-host's state
//! folder beside them.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use devloop_host::config::StateDir;
use devloop_host::ingest::DevloopDirs;

/// Where devloop writes its logs, and where devloop-host keeps its state for the project.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// The project's devloop folder.
    #[arg(long, global = true, env = "DEVLOOP_DIR", default_value = ".devloop")]
    pub devloop_dir: PathBuf,
    /// devloop's home folder, where it logs CLI actions and Amp threads [default: ~/.devloop].
    #[arg(long, global = true, env = "DEVLOOP_HOME_DIR")]
    pub home_devloop_dir: Option<PathBuf>,
    /// devloop-host's folder for this project: read positions, detector state, findings,
    /// config.toml and plugins [default: .devloop-host beside the devloop folder].
    #[arg(long, global = true, env = "DEVLOOP_HOST_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

/// `~/.devloop`, where devloop writes cli-actions.jsonl and amp-thread-log.jsonl by default.
pub fn default_home_devloop_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".devloop"))
}

impl ProjectArgs {
    /// The project's state folder.
    pub fn state(&self) -> StateDir {
        match &self.state_dir {
            Some(path) => StateDir::at(path.clone()),
            None => StateDir::beside(&self.devloop_dir),
        }
    }

    /// The log folders, checked: at least one must exist. `home` is the config file's
    /// `[sources] home_devloop_dir`, which the command line overrides.
    pub fn devloop_dirs(&self, home: Option<PathBuf>) -> anyhow::Result<DevloopDirs> {
        let dirs = DevloopDirs {
            project: self.devloop_dir.clone(),
            home: self.home_devloop_dir.clone().or(home).or_else(default_home_devloop_dir),
        };
        if dirs.existing().is_empty() {
            bail!(
                "devloop folder {} not found; pass --devloop-dir (or set DEVLOOP_DIR) to the project's .devloop folder",
                self.devloop_dir.display()
            );
        }
        if !dirs.project.is_dir() {
            tracing::warn!(
                "devloop folder {} not found; reading only {}",
                dirs.project.display(),
                dirs.existing()[0].display()
            );
        }
        Ok(dirs)
    }
}
