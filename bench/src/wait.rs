//! Bounded waits for a peer: spinning on a cache line, or sleeping on a futex.
//!
//! Every wait gives up after [`PEER_TIMEOUT`] or as soon as the peer raises the shared
//! abort flag, so a broken peer cannot hang a run. Nothing here allocates: a forked child
//! uses these waits too.

use crate::BenchError;
use crate::error::last_errno;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long one side waits for its peer before giving up.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// Spins between two looks at the clock and the abort flag.
const SPINS_PER_CHECK: u32 = 1024;

/// Fruitless spins after which a spinning side also yields the CPU at every check, so a
/// peer sharing its CPU gets to run. A peer that runs answers long before this.
const SPINS_BEFORE_YIELD: u32 = 2 * SPINS_PER_CHECK;

/// How long one futex sleep lasts at most before the clock and the abort flag are checked.
const FUTEX_SLICE: libc::timespec = libc::timespec {
    tv_sec: 0,
    tv_nsec: 100_000_000,
};

/// Why a wait ended without its condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitFailure {
    /// [`PEER_TIMEOUT`] passed.
    TimedOut,
    /// The peer raised the abort flag.
    PeerGaveUp,
    /// A futex call failed with this errno.
    Futex(i32),
}

impl WaitFailure {
    /// The error of a wait for `waiting_for` that the `peer` should have ended.
    pub(crate) fn into_error(self, peer: &'static str, waiting_for: &'static str) -> BenchError {
        match self {
            Self::TimedOut => BenchError::Timeout {
                waiting_for,
                seconds: PEER_TIMEOUT.as_secs(),
            },
            Self::PeerGaveUp => BenchError::PeerGaveUp { peer },
            Self::Futex(errno) => BenchError::Syscall {
                call: "futex(FUTEX_WAIT_PRIVATE)",
                errno,
            },
        }
    }
}

/// A deadline set on first need, so that waits satisfied quickly never read the clock.
struct LazyDeadline(Option<Instant>);

impl LazyDeadline {
    /// Whether the deadline, set [`PEER_TIMEOUT`] after the first call, has passed.
    fn passed(&mut self) -> bool {
        let now = Instant::now();
        match self.0 {
            Some(deadline) => now >= deadline,
            None => {
                self.0 = Some(now + PEER_TIMEOUT);
                false
            }
        }
    }
}

/// Spins (with [`std::hint::spin_loop`]) until `ready()` holds.
///
/// Every [`SPINS_PER_CHECK`] spins, gives up if `abort` is nonzero or [`PEER_TIMEOUT`]
/// passed, and after [`SPINS_BEFORE_YIELD`] spins also yields the CPU.
#[inline(always)]
pub(crate) fn spin_until(
    mut ready: impl FnMut() -> bool,
    abort: &AtomicU64,
) -> Result<(), WaitFailure> {
    let mut spins: u32 = 0;
    let mut deadline = LazyDeadline(None);
    while !ready() {
        std::hint::spin_loop();
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(SPINS_PER_CHECK) {
            if abort.load(Ordering::Acquire) != 0 {
                return Err(WaitFailure::PeerGaveUp);
            }
            if deadline.passed() {
                return Err(WaitFailure::TimedOut);
            }
            if spins >= SPINS_BEFORE_YIELD {
                std::thread::yield_now();
            }
        }
    }
    Ok(())
}

/// Sleeps on the futex `word` until it holds `expected` (no spinning: one look, then
/// `FUTEX_WAIT` on the value seen).
///
/// Gives up when `abort` is nonzero or [`PEER_TIMEOUT`] passed; each sleep lasts at most
/// 100 ms so both are noticed.
pub(crate) fn futex_wait_for(
    word: &AtomicU32,
    expected: u32,
    abort: &AtomicU32,
) -> Result<(), WaitFailure> {
    let mut deadline = LazyDeadline(None);
    let mut first = true;
    loop {
        let current = word.load(Ordering::Acquire);
        if current == expected {
            return Ok(());
        }
        if abort.load(Ordering::Acquire) != 0 {
            return Err(WaitFailure::PeerGaveUp);
        }
        if !first && deadline.passed() {
            return Err(WaitFailure::TimedOut);
        }
        first = false;
        futex_wait(word, current)?;
    }
}

/// One `FUTEX_WAIT_PRIVATE` on `word` while it holds `current`, for at most 100 ms.
///
/// Waking up, finding another value (`EAGAIN`), an interruption and a timeout all count as
/// success: the caller looks again.
fn futex_wait(word: &AtomicU32, current: u32) -> Result<(), WaitFailure> {
    // SAFETY: `word` is a live, aligned 32-bit atomic for the whole call; the timeout points
    // to a constant; the unused second address and value are null and zero.
    let result = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            current,
            &FUTEX_SLICE as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        )
    };
    if result == 0 {
        return Ok(());
    }
    match last_errno() {
        libc::EAGAIN | libc::EINTR | libc::ETIMEDOUT => Ok(()),
        errno => Err(WaitFailure::Futex(errno)),
    }
}

/// `FUTEX_WAKE_PRIVATE`: wakes the waiters of `word` (there is at most one); returns the
/// errno on failure.
pub(crate) fn futex_wake(word: &AtomicU32) -> Result<(), i32> {
    // SAFETY: `word` is a live, aligned 32-bit atomic; FUTEX_WAKE reads no other argument.
    let result = unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            i32::MAX,
        )
    };
    if result < 0 {
        Err(last_errno())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spinning_stops_when_the_peer_gives_up() {
        let abort = AtomicU64::new(1);
        assert_eq!(spin_until(|| false, &abort), Err(WaitFailure::PeerGaveUp));
        assert_eq!(spin_until(|| true, &abort), Ok(()));
    }

    #[test]
    fn futex_waits_stop_when_the_peer_gives_up() {
        let word = AtomicU32::new(0);
        let abort = AtomicU32::new(1);
        assert_eq!(
            futex_wait_for(&word, 1, &abort),
            Err(WaitFailure::PeerGaveUp)
        );
        assert_eq!(futex_wait_for(&word, 0, &abort), Ok(()));
        assert_eq!(futex_wake(&word), Ok(()));
    }

    #[test]
    fn a_futex_wait_is_woken_by_the_peer() {
        let word = AtomicU32::new(0);
        let abort = AtomicU32::new(0);
        std::thread::scope(|scope| {
            scope.spawn(|| {
                std::thread::sleep(Duration::from_millis(5));
                word.store(7, Ordering::Release);
                futex_wake(&word)
            });
            assert_eq!(futex_wait_for(&word, 7, &abort), Ok(()));
        });
    }
}
