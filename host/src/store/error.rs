use std::path::PathBuf;

/// What can go wrong with the insight store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the state folder {path}")]
    CreateDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the insight store {path}; check that the folder is writable")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "the insight store {path} has schema version {found}, newer than the {known} this devloop-host knows; upgrade devloop-host"
    )]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("cannot migrate the insight store {path} to schema version {version}")]
    Migrate {
        path: PathBuf,
        version: usize,
        #[source]
        source: rusqlite::Error,
    },
    #[error("insight store query failed")]
    Sql(#[from] rusqlite::Error),
    #[error(
        "a stored insight of finding {fingerprint} is unreadable; `insights show` it or delete the store to start over"
    )]
    Corrupt {
        fingerprint: String,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "the stored position of detector {plugin} is unreadable; delete the store's `plugin_behind` row to replay it"
    )]
    Position {
        plugin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no finding `{0}`; `devloop-host insights list --status all` shows every known fingerprint")]
    UnknownFingerprint(String),
    #[error("`{prefix}` matches {count} findings; type more of the fingerprint")]
    AmbiguousFingerprint { prefix: String, count: usize },
}
