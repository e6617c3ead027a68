//! What a running host tells `devloop-host plugins list`, a separate process: one JSON file,
//! replaced atomically so a reader never sees half of it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::dispatch::{Pipeline, PluginStatus};

/// A plugin file that could not be loaded and runs no earlier version either.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedFile {
    pub file: PathBuf,
    pub reason: String,
}

/// The status file's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusFile {
    /// The process id of the host that wrote it.
    pub pid: u32,
    /// When it was written, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
    pub events_processed: u64,
    pub plugins: Vec<PluginStatus>,
    pub rejected: Vec<RejectedFile>,
}

#[derive(Debug, Error)]
pub enum StatusFileError {
    #[error("cannot write the plugin status file {path}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the plugin status file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the plugin status file {path} is not valid ({source}); delete it, the next run writes a new one")]
    Parse {
        path: String,
        #[source]
        source: serde_json::Error,
    },
}

impl StatusFile {
    /// The pipeline's current status.
    pub fn of(pipeline: &Pipeline<'_>) -> Self {
        StatusFile {
            pid: std::process::id(),
            updated_ms: chrono::Utc::now().timestamp_millis(),
            events_processed: pipeline.events_processed() as u64,
            plugins: pipeline.statuses(),
            rejected: pipeline
                .rejected_files()
                .into_iter()
                .map(|(file, reason)| RejectedFile { file, reason })
                .collect(),
        }
    }

    /// Replaces `path` with this status.
    pub fn write(&self, path: &Path) -> Result<(), StatusFileError> {
        let error = |source| StatusFileError::Write { path: path.display().to_string(), source };
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|source| error(source.into()))?;
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&temporary, json).map_err(error)?;
        std::fs::rename(&temporary, path).map_err(error)
    }

    /// Reads `path`; `None` when no host has written it yet.
    pub fn read(path: &Path) -> Result<Option<Self>, StatusFileError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StatusFileError::Read { path: path.display().to_string(), source }),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| StatusFileError::Parse { path: path.display().to_string(), source })
    }
}
