//! Stopping a run cleanly: a request to stop (SIGINT, SIGTERM, or the output closing) lets the
//! batch in flight finish and the stream checkpoint before it returns.
//!
//! A second signal ends the process at once: the store stays consistent because every
//! checkpoint is one SQLite transaction, so dying between two of them is a crash the next run
//! recovers from like any other.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Why a run stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT (Ctrl-C).
    Interrupt,
    /// SIGTERM.
    Terminate,
    /// Whoever read the output stopped reading (`run | head`).
    OutputClosed,
}

impl StopReason {
    /// The conventional exit code: 130 after Ctrl-C, success otherwise (a service manager's
    /// SIGTERM and a closed pipe are ordinary ways to end a run).
    pub fn exit_code(self) -> u8 {
        match self {
            StopReason::Interrupt => 130,
            StopReason::Terminate | StopReason::OutputClosed => 0,
        }
    }
}

type Waker = Box<dyn Fn() + Send>;

#[derive(Default)]
struct Shared {
    reason: Option<StopReason>,
    wakers: Vec<Waker>,
}

/// A request to stop, shared by whoever may ask for it and the stream that honours it.
#[derive(Clone, Default)]
pub struct Stop {
    shared: Arc<Mutex<Shared>>,
}

impl Stop {
    /// A stop nobody requests until [`Stop::request`] is called.
    pub fn new() -> Stop {
        Stop::default()
    }

    /// A stop requested by the process's first SIGINT or SIGTERM; the second one exits at once.
    pub fn on_signals() -> std::io::Result<Stop> {
        let stop = Stop::new();
        let signals = signals::install()?;
        let requester = stop.clone();
        std::thread::Builder::new().name("stop-signals".to_owned()).spawn(move || {
            while let Some(signal) = signals.next() {
                let (reason, name) = if signal == libc::SIGINT {
                    (StopReason::Interrupt, "SIGINT")
                } else {
                    (StopReason::Terminate, "SIGTERM")
                };
                tracing::info!("{name}: finishing the batch and saving progress (send it again to quit at once)");
                requester.request(reason);
            }
        })?;
        Ok(stop)
    }

    /// Asks the run to stop after the batch in flight; the first reason given is kept.
    pub fn request(&self, reason: StopReason) {
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.reason.get_or_insert(reason);
        for wake in &shared.wakers {
            wake();
        }
    }

    /// Why a stop was requested, if it was.
    pub fn requested(&self) -> Option<StopReason> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner).reason
    }

    /// Calls `wake` whenever a stop is requested (to end a wait for file changes).
    pub fn on_request(&self, wake: impl Fn() + Send + 'static) {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner).wakers.push(Box::new(wake));
    }
}

/// The process-wide signal handlers: the handler only records the signal and writes a byte to
/// a pipe (both async-signal-safe); a thread reads the pipe and does the rest.
mod signals {
    #![expect(unsafe_code, reason = "installing a signal handler and its self-pipe needs libc")]

    use super::{AtomicI32, Ordering};

    /// The first signal received (0 before any).
    static RECEIVED: AtomicI32 = AtomicI32::new(0);
    /// The pipe's write end (-1 before installation).
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);

    extern "C" fn on_signal(signal: libc::c_int) {
        if RECEIVED.swap(signal, Ordering::SeqCst) != 0 {
            // SAFETY: `_exit` is async-signal-safe; the store is consistent between transactions.
            unsafe { libc::_exit(128 + signal) }
        }
        let fd = WAKE_FD.load(Ordering::SeqCst);
        if fd >= 0 {
            let byte = signal as u8;
            // SAFETY: `write` is async-signal-safe; the pipe end is non-blocking and never closed.
            unsafe { libc::write(fd, std::ptr::from_ref(&byte).cast(), 1) };
        }
    }

    /// The read end of the self-pipe.
    pub struct Signals {
        fd: libc::c_int,
    }

    impl Signals {
        /// Blocks until the next signal arrives.
        pub fn next(&self) -> Option<libc::c_int> {
            let mut byte = 0u8;
            loop {
                // SAFETY: reads one byte into a local from a pipe this module owns.
                let read = unsafe { libc::read(self.fd, std::ptr::from_mut(&mut byte).cast(), 1) };
                match read {
                    1 => return Some(libc::c_int::from(byte)),
                    -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                    _ => return None,
                }
            }
        }
    }

    pub fn install() -> std::io::Result<Signals> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let [read_end, write_end] = fds;
        // SAFETY: plain descriptor flag changes on descriptors just created.
        unsafe {
            libc::fcntl(read_end, libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(write_end, libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(write_end, libc::F_SETFL, libc::O_NONBLOCK);
        }
        WAKE_FD.store(write_end, Ordering::SeqCst);
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction with a handler that only touches atomics and the pipe.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(signal, &action, std::ptr::null_mut()) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
        }
        Ok(Signals { fd: read_end })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_is_kept_and_every_waiter_is_woken() {
        let stop = Stop::new();
        let (sender, woken) = std::sync::mpsc::channel();
        stop.on_request(move || {
            let _ = sender.send(());
        });
        assert_eq!(stop.requested(), None);
        stop.request(StopReason::OutputClosed);
        stop.request(StopReason::Interrupt);
        assert_eq!(stop.requested(), Some(StopReason::OutputClosed));
        assert_eq!(woken.try_iter().count(), 2);
    }
}
