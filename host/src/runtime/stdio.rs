//! A plugin's stdout and stderr, forwarded line by line into the host's log with its id.
//!
//! Guest output never reaches the host's stdout (which carries results), a chatty plugin
//! cannot fill memory (a line is cut at [`MAX_LINE`] bytes) nor the log (each line counts
//! against its log budget, see [`LogMeter`]), and its text cannot drive a terminal.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

use super::budget::LogMeter;
use crate::escape;

const MAX_LINE: usize = 4096;

#[derive(Clone)]
pub(crate) struct LogPipe {
    plugin: Arc<str>,
    stream: &'static str,
    pending: Arc<Mutex<Vec<u8>>>,
    meter: Arc<LogMeter>,
}

impl LogPipe {
    pub(crate) fn new(plugin: Arc<str>, stream: &'static str, meter: Arc<LogMeter>) -> Self {
        LogPipe { plugin, stream, pending: Arc::default(), meter }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let Ok(mut pending) = self.pending.lock() else { return };
        for &byte in bytes {
            if byte == b'\n' {
                self.emit(&pending);
                pending.clear();
            } else if pending.len() < MAX_LINE {
                pending.push(byte);
            }
        }
    }

    fn emit(&self, line: &[u8]) {
        if line.iter().all(u8::is_ascii_whitespace) || !self.meter.admit() {
            return;
        }
        let line = escape::terminal_line(&String::from_utf8_lossy(line));
        tracing::info!(plugin = %self.plugin, stream = self.stream, "{line}");
    }
}

impl IsTerminal for LogPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogPipe {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for LogPipe {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        self.write_bytes(bytes);
        Poll::Ready(Ok(bytes.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
