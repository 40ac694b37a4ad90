//! The kernel's lock on this machine: spins for a budget, then waits between looks
//! (the master halts on its timer; another core lets a waiting context run, or
//! takes its interrupts: a waiter never holds up a TLB shootdown).

use core::sync::atomic::{AtomicBool, Ordering};

/// Rounds a core spins on a held lock before it halts between looks.
const SPIN_ROUNDS: u32 = 1_000;
/// How long a core halts between looks at a held lock, in nanoseconds.
const HALT_NANOSECONDS: u32 = 20_000;

/// A lock word for `lock_api`.
pub struct KernelLock {
    locked: AtomicBool,
}

// SAFETY: `lock` and `try_lock` take the word with an acquiring compare-exchange
// from false, so at most one holder at a time; `unlock` releases it.
unsafe impl lock_api::RawMutex for KernelLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: KernelLock = KernelLock {
        locked: AtomicBool::new(false),
    };
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        let mut rounds = 0;
        while !self.try_lock() {
            if rounds < SPIN_ROUNDS {
                rounds += 1;
                core::hint::spin_loop();
            } else {
                crate::cores::CORES.wait_for_lock(HALT_NANOSECONDS);
            }
        }
    }

    fn try_lock(&self) -> bool {
        !self.locked.load(Ordering::Relaxed)
            && self
                .locked
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
    }

    unsafe fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }
}
