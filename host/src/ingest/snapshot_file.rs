//! A file devloop rewrites whole instead of appending to (`feedback/performance.json`, the
//! context tier files): a snapshot to diff, not a log to follow.
//!
//! Such a file is read whole, so it is read only once per rewrite (its length and
//! modification time tell one) and only up to [`MAX_SNAPSHOT_BYTES`]: devloop's are a few
//! hundred KiB at most, and anything much larger is not devloop's. The cap holds while the
//! file is read, not only when its length is looked at: a file that grows in between is cut
//! off and reported, never read whole.

use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use super::MalformedRecord;

/// The most bytes of a snapshot read.
pub const MAX_SNAPSHOT_BYTES: u64 = 16 << 20;

/// What is known of a snapshot file between reads.
#[derive(Default)]
pub(super) struct SnapshotFile {
    /// Length and modification time of the content last read.
    last_read: Option<(u64, SystemTime)>,
}

/// One rewrite of a snapshot file.
pub(super) struct Rewrite {
    pub bytes: Vec<u8>,
    /// When the file was last modified, in milliseconds since the Unix epoch.
    pub modified_ms: i64,
}

impl SnapshotFile {
    /// Forgets the last read: the next [`SnapshotFile::read_if_rewritten`] reads the file again.
    pub(super) fn forget(&mut self) {
        self.last_read = None;
    }

    /// The file's content if it was rewritten since the last read; `None` when it was not,
    /// when there is no such file, or when it is over [`MAX_SNAPSHOT_BYTES`] (counted in
    /// `malformed`, as its line 1).
    pub(super) fn read_if_rewritten(
        &mut self,
        path: &Path,
        malformed: &mut Vec<MalformedRecord>,
    ) -> std::io::Result<Option<Rewrite>> {
        let Ok(metadata) = std::fs::metadata(path) else { return Ok(None) };
        if !metadata.is_file() {
            return Ok(None);
        }
        let seen = (metadata.len(), metadata.modified()?);
        if self.last_read == Some(seen) {
            return Ok(None);
        }
        self.last_read = Some(seen);
        let too_large = |length: String| MalformedRecord {
            file: path.to_path_buf(),
            line: 1,
            reason: format!("{length} bytes, more than the {MAX_SNAPSHOT_BYTES} a snapshot may have; not read"),
        };
        if seen.0 > MAX_SNAPSHOT_BYTES {
            malformed.push(too_large(seen.0.to_string()));
            return Ok(None);
        }
        let mut bytes = Vec::new();
        std::fs::File::open(path)?.take(MAX_SNAPSHOT_BYTES + 1).read_to_end(&mut bytes)?;
        if bytes.len() as u64 > MAX_SNAPSHOT_BYTES {
            malformed.push(too_large("grew while read to over".to_owned()));
            return Ok(None);
        }
        let modified_ms = seen
            .1
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX));
        Ok(Some(Rewrite { bytes, modified_ms }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_read_once_per_rewrite_and_not_when_too_large() -> std::io::Result<()> {
        let folder = tempfile::tempdir()?;
        let path = folder.path().join("performance.json");
        let (mut file, mut malformed) = (SnapshotFile::default(), Vec::new());
        assert!(file.read_if_rewritten(&path, &mut malformed)?.is_none(), "no file yet");
        std::fs::write(&path, b"{}")?;
        assert_eq!(file.read_if_rewritten(&path, &mut malformed)?.map(|read| read.bytes), Some(b"{}".to_vec()));
        assert!(file.read_if_rewritten(&path, &mut malformed)?.is_none(), "not rewritten since");
        file.forget();
        assert!(file.read_if_rewritten(&path, &mut malformed)?.is_some(), "read again once forgotten");
        std::fs::File::options().write(true).open(&path)?.set_len(MAX_SNAPSHOT_BYTES + 1)?;
        assert!(file.read_if_rewritten(&path, &mut malformed)?.is_none());
        assert_eq!(malformed.len(), 1);
        assert_eq!((malformed[0].file.as_path(), malformed[0].line), (path.as_path(), 1));
        assert!(file.read_if_rewritten(&path, &mut malformed)?.is_none() && malformed.len() == 1, "reported once");
        assert!(file.read_if_rewritten(folder.path(), &mut malformed)?.is_none(), "a folder is no snapshot");
        Ok(())
    }
}
