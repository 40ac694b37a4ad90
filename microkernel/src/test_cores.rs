//! Cores for unit tests: std threads, each told which core it is, parking on a
//! permit with bounded yields (spurious returns allowed, as the HAL says).

extern crate std;

use core::sync::atomic::{AtomicU32, Ordering};
use nanvix_hal::{CoreEntry, CoreError, CoreId, Cores};
use std::vec::Vec;

std::thread_local! {
    static CURRENT: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Makes the calling std thread core `core`.
pub fn become_core(core: CoreId) {
    CURRENT.with(|current| current.set(core));
}

/// `count` cores with a park permit each.
pub struct TestCores {
    permits: Vec<AtomicU32>,
}

impl TestCores {
    pub fn new(count: usize) -> TestCores {
        TestCores {
            permits: (0..count).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

impl Cores for TestCores {
    fn count(&self) -> usize {
        self.permits.len()
    }
    fn current(&self) -> CoreId {
        CURRENT.with(|current| current.get())
    }
    fn start(&self, _: CoreId, _: CoreEntry, _: usize) -> Result<(), CoreError> {
        Err(CoreError::Busy)
    }
    fn park(&self) {
        let permit = &self.permits[self.current()];
        for _ in 0..1000 {
            if permit.swap(0, Ordering::AcqRel) == 1 {
                return;
            }
            std::thread::yield_now();
        }
    }
    fn unpark(&self, core: CoreId) {
        self.permits[core].store(1, Ordering::Release);
    }
    fn cycles(&self) -> u64 {
        0
    }
}

/// A lock for unit tests: spins with yields.
pub struct SpinLock(core::sync::atomic::AtomicBool);

// SAFETY: a test spin lock: acquire with a compare-exchange (Acquire), release
// with a store (Release); only one holder at a time.
unsafe impl lock_api::RawMutex for SpinLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: SpinLock = SpinLock(core::sync::atomic::AtomicBool::new(false));
    type GuardMarker = lock_api::GuardSend;
    fn lock(&self) {
        while !self.try_lock() {
            std::thread::yield_now();
        }
    }
    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}
