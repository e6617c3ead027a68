//! Passing the signals that end a command (SIGINT, SIGTERM, SIGHUP) from `exec` to its child,
//! so the wrapper outlives the child, logs the status the child really ended with, and then
//! ends the way the child did.
//!
//! A signal the kernel sent (Ctrl-C or a hang-up on the terminal) already went to the whole
//! foreground process group, the child included, so it is not sent a second time; a signal
//! another process sent to `exec` alone (`kill`, a supervisor, `timeout`) is passed on. One
//! that another process sends to the whole group (`kill -INT -PGID`) cannot be told from it
//! (both say SI_USER), so the child can get that one twice, unless the two arrive together.
#![expect(
    unsafe_code,
    reason = "signal handlers and kill(2) need libc; the handler only touches atomics and calls kill, which is async-signal-safe"
)]

use std::ffi::OsString;
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals passed on to the child.
pub const FORWARDED: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The running child's pid; 0 before it starts and once it has been waited for.
static CHILD: AtomicI32 = AtomicI32::new(0);
/// A signal that arrived before the child had a pid, passed on once it has one.
static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(signal: libc::c_int, info: *mut libc::siginfo_t, _context: *mut libc::c_void) {
    // si_code > 0 (SI_KERNEL): the kernel sent it, to the child's process group too.
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler.
    if !info.is_null() && unsafe { (*info).si_code } > 0 {
        return;
    }
    let child = CHILD.load(Ordering::SeqCst);
    if child > 0 {
        // SAFETY: kill(2) is async-signal-safe; the pid is a child not yet reaped (see `wait`).
        unsafe { libc::kill(child, signal) };
    } else {
        PENDING.store(signal, Ordering::SeqCst);
    }
}

/// Catches [`FORWARDED`] in this process from now on (the child gets default dispositions
/// back when it executes).
pub fn install() -> std::io::Result<()> {
    for signal in FORWARDED {
        // SAFETY: a zeroed sigaction is valid; the handler has the SA_SIGINFO signature.
        let result = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if result != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Starts `program` with `arguments`, passes signals on to it until it ends, and returns how
/// it ended.
pub fn run(program: &OsString, arguments: &[OsString]) -> std::io::Result<ExitStatus> {
    let mut child = Command::new(program).args(arguments).spawn()?;
    let pid = i32::try_from(child.id()).map_err(std::io::Error::other)?;
    CHILD.store(pid, Ordering::SeqCst);
    let pending = PENDING.swap(0, Ordering::SeqCst);
    if pending != 0 {
        // SAFETY: the child has not been waited for, so the pid is still its own.
        unsafe { libc::kill(pid, pending) };
    }
    wait(&mut child, pid)
}

/// Waits for the child to end but leaves it unreaped until its pid is no longer a target, so
/// a late signal can never reach a process that reused the pid.
fn wait(child: &mut Child, pid: i32) -> std::io::Result<ExitStatus> {
    loop {
        // SAFETY: a zeroed siginfo_t is valid; waitid only writes into it.
        let result = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOWAIT)
        };
        if result == 0 {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            CHILD.store(0, Ordering::SeqCst);
            return Err(error);
        }
    }
    CHILD.store(0, Ordering::SeqCst);
    child.wait()
}

/// Ends this process by `signal` with its default action, as the child ended; returns only if
/// that did not end it.
pub fn die_by(signal: libc::c_int) {
    // SAFETY: restoring the default disposition and raising a signal have no preconditions.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        libc::raise(signal);
    }
}
