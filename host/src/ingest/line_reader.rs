//! Complete lines from a file, from any offset, without ever consuming a line that is still
//! being written: bytes after the last newline stay unread until their newline arrives.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

const READ_CHUNK: usize = 1 << 20;

pub struct LineReader {
    file: File,
    buffer: Vec<u8>,
    /// Index in `buffer` of the first byte not yet returned.
    start: usize,
    /// File offset of `buffer[0]`.
    buffer_offset: u64,
}

/// One complete line, without its newline (nor a `\r` before it).
pub struct Line<'reader> {
    /// File offset of the line's first byte.
    pub start: u64,
    /// File offset just after its newline.
    pub end: u64,
    pub bytes: &'reader [u8],
}

impl LineReader {
    pub fn open(path: &Path, offset: u64) -> std::io::Result<LineReader> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(offset))?;
        Ok(LineReader { file, buffer: Vec::new(), start: 0, buffer_offset: offset })
    }

    pub fn file(&self) -> &File {
        &self.file
    }

    /// Offset just after the last line returned.
    pub fn position(&self) -> u64 {
        self.buffer_offset + self.start as u64
    }

    /// The next complete line, or `None` when only a partial line (or nothing) is left for now.
    /// Reading again later picks up what was appended since.
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        let mut searched = self.start;
        loop {
            if let Some(found) = memchr::memchr(b'\n', &self.buffer[searched..]) {
                let newline = searched + found;
                let line_start = self.start;
                self.start = newline + 1;
                let mut bytes = &self.buffer[line_start..newline];
                if let Some(stripped) = bytes.strip_suffix(b"\r") {
                    bytes = stripped;
                }
                return Ok(Some(Line {
                    start: self.buffer_offset + line_start as u64,
                    end: self.buffer_offset + self.start as u64,
                    bytes,
                }));
            }
            searched = self.buffer.len();
            if self.start > 0 {
                self.buffer.drain(..self.start);
                self.buffer_offset += self.start as u64;
                searched -= self.start;
                self.start = 0;
            }
            let length = self.buffer.len();
            self.buffer.reserve(READ_CHUNK);
            // Into the buffer's spare room, without zeroing it first; bytes read before an error
            // stay in the buffer, where the file's position already counts them.
            (&mut self.file).take(READ_CHUNK as u64).read_to_end(&mut self.buffer)?;
            if self.buffer.len() == length {
                return Ok(None);
            }
        }
    }

    /// Bytes after the last complete line: a record still being written.
    pub fn has_partial_line(&self) -> bool {
        self.start < self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_partial_last_line_is_waited_for() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("log");
        std::fs::write(&path, "one\r\ntwo\nthr")?;
        let mut reader = LineReader::open(&path, 0)?;
        let mut lines = Vec::new();
        while let Some(line) = reader.next_line()? {
            lines.push((line.start, String::from_utf8_lossy(line.bytes).into_owned()));
        }
        assert_eq!(lines, [(0, "one".to_owned()), (5, "two".to_owned())]);
        assert!(reader.has_partial_line());
        assert_eq!(reader.position(), 9);

        std::fs::OpenOptions::new().append(true).open(&path)?.write_all(b"ee\n")?;
        let line = reader.next_line()?.expect("the line is complete now");
        assert_eq!((line.start, line.end, line.bytes), (9, 15, &b"three"[..]));
        assert!(reader.next_line()?.is_none());
        Ok(())
    }
}
