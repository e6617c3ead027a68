//! One run per store: two runs reading the same logs into the same store would deliver every
//! event twice. A run holds an exclusive lock on a file beside the database for as long as it
//! lives (the operating system releases it when the process dies, however it dies); triage
//! commands take no such lock and only wait, briefly, for SQLite's.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// Held by the one run of a store; dropping it lets the next one in.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot lock {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "another `devloop-host run`{holder} is using the state in {database}; \
         wait for it to finish or stop it (Ctrl-C or SIGTERM saves its progress), then run again"
    )]
    Busy { database: PathBuf, holder: String },
}

/// The lock file of the store at `database`.
pub fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_owned();
    name.push(".lock");
    database.with_file_name(name)
}

impl RunLock {
    /// Takes the lock of the store at `database`, or says which process holds it.
    pub fn acquire(database: &Path) -> Result<RunLock, LockError> {
        let path = lock_path(database);
        let failed = |source| LockError::Io { path: path.clone(), source };
        if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(failed)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { String::new() } else { format!(" (process {holder})") };
                return Err(LockError::Busy { database: database.to_owned(), holder });
            }
            Err(TryLockError::Error(source)) => return Err(failed(source)),
        }
        file.set_len(0).map_err(failed)?;
        file.rewind().map_err(failed)?;
        writeln!(file, "{}", std::process::id()).map_err(failed)?;
        Ok(RunLock { _file: file })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_process_until_it_lets_go() -> Result<(), LockError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = dir.path().join("insights.db");
        let first = RunLock::acquire(&database)?;
        match RunLock::acquire(&database) {
            Err(LockError::Busy { holder, .. }) => assert_eq!(holder, format!(" (process {})", std::process::id())),
            other => panic!("expected a busy lock, got {other:?}"),
        }
        drop(first);
        RunLock::acquire(&database)?;
        Ok(())
    }
}
