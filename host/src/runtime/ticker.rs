//! The clock of call deadlines. wasmtime interrupts a call once the engine's epoch passes the
//! deadline its store was given, and the epoch moves only when a thread increments it. A thread
//! that ticked forever would wake every [`EPOCH_TICK`] even while `run --follow` waits for a log
//! line for hours, so the ticker counts the guest calls in progress: it ticks only while that
//! count is above zero and otherwise waits on a condition variable that the first call to start
//! signals. A deadline is counted from the start of its call (its store's deadline is set then,
//! and the ticker wakes then), so it means what it meant with an always-running ticker.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use super::limits::EPOCH_TICK;

/// The ticker thread; dropping it stops the thread.
pub(crate) struct EpochTicker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// What instances hold to say that one of their calls is in progress.
#[derive(Clone)]
pub(crate) struct CallClock(Arc<Shared>);

/// A guest call in progress: the ticker ticks while one exists.
pub(crate) struct CallInProgress<'clock>(&'clock Shared);

#[derive(Default)]
struct Shared {
    state: Mutex<TickerState>,
    call_started: Condvar,
}

#[derive(Default)]
struct TickerState {
    calls_in_progress: usize,
    stopping: bool,
}

impl Shared {
    /// The counts are plain integers, consistent whatever a panicking holder was doing.
    fn lock(&self) -> MutexGuard<'_, TickerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EpochTicker {
    /// Starts the thread; `tick` moves the epoch on (`Engine::increment_epoch`).
    pub(crate) fn spawn(tick: impl Fn() + Send + 'static) -> std::io::Result<EpochTicker> {
        let shared = Arc::new(Shared::default());
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new().name("epoch-ticker".into()).spawn(move || run(&shared, tick))?
        };
        Ok(EpochTicker { shared, thread: Some(thread) })
    }

    pub(crate) fn clock(&self) -> CallClock {
        CallClock(self.shared.clone())
    }
}

/// Waits while no call is in progress; otherwise ticks every [`EPOCH_TICK`]. A tick is taken
/// under the lock and only while a call is in progress, so once the last call has ended no
/// tick happens until the next one starts.
fn run(shared: &Shared, tick: impl Fn()) {
    let mut state = shared.lock();
    loop {
        while state.calls_in_progress == 0 && !state.stopping {
            state = shared.call_started.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.stopping {
            return;
        }
        drop(state);
        std::thread::sleep(EPOCH_TICK);
        state = shared.lock();
        if state.calls_in_progress > 0 {
            tick();
        }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.call_started.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl CallClock {
    /// Marks a guest call as in progress until the returned guard is dropped.
    pub(crate) fn call(&self) -> CallInProgress<'_> {
        let mut state = self.0.lock();
        state.calls_in_progress += 1;
        if state.calls_in_progress == 1 {
            self.0.call_started.notify_all();
        }
        CallInProgress(&self.0)
    }
}

impl Drop for CallInProgress<'_> {
    fn drop(&mut self) {
        self.0.lock().calls_in_progress -= 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Long enough that an always-running ticker would have ticked many times over, and no
    /// timing condition: a ticker that waits while idle never ticks, however slow the machine.
    const IDLE: Duration = Duration::from_millis(200);

    #[test]
    fn the_ticker_ticks_only_while_a_call_is_in_progress() {
        let in_call = Arc::new(AtomicBool::new(false));
        let (ticks, ticked) = mpsc::channel();
        let ticker = {
            let in_call = in_call.clone();
            EpochTicker::spawn(move || {
                let _ = ticks.send(in_call.load(Ordering::SeqCst));
            })
            .expect("a thread starts")
        };
        let clock = ticker.clock();
        assert_eq!(ticked.recv_timeout(IDLE), Err(mpsc::RecvTimeoutError::Timeout), "no tick before any call");

        for _ in 0..2 {
            in_call.store(true, Ordering::SeqCst);
            let call = clock.call();
            for _ in 0..3 {
                assert_eq!(ticked.recv_timeout(Duration::from_secs(30)), Ok(true), "ticks during a call");
            }
            drop(call);
            in_call.store(false, Ordering::SeqCst);
            // Ticks taken before the call ended may still be queued; none may come after.
            while let Ok(during) = ticked.try_recv() {
                assert!(during, "a tick outside a call");
            }
            assert_eq!(ticked.recv_timeout(IDLE), Err(mpsc::RecvTimeoutError::Timeout), "no tick once it ended");
        }
    }

    #[test]
    fn overlapping_calls_keep_it_ticking_until_the_last_ends() {
        let (ticks, ticked) = mpsc::channel();
        let ticker = EpochTicker::spawn(move || {
            let _ = ticks.send(());
        })
        .expect("a thread starts");
        let clock = ticker.clock();
        let first = clock.call();
        let second = clock.call();
        drop(first);
        assert_eq!(ticked.recv_timeout(Duration::from_secs(30)), Ok(()), "the second call is still in progress");
        drop(second);
        while ticked.try_recv().is_ok() {}
        assert_eq!(ticked.recv_timeout(IDLE), Err(mpsc::RecvTimeoutError::Timeout));
        drop(ticker);
        assert_eq!(ticked.recv(), Err(mpsc::RecvError), "the thread ended with the ticker");
    }
}
