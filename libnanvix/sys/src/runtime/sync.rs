//! The unsafe half of the sync module: a kernel mutex guarding data in the program.

use super::kcall;
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use nanvix_abi::{Errno, Kcall};

/// A mutex of the kernel's sync module guarding a `T`: `lock` gives a guard that
/// derefs to the data and unlocks when dropped. Waiters are served first come,
/// first served; a waiting thread gives its core to another.
pub struct Mutex<T> {
    id: usize,
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through a guard, and the kernel gives the mutex
// to one thread at a time (lock/unlock order accesses: the kernel's table lock is a
// barrier on both sides).
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: as above; the mutex is a kernel id and owned data.
unsafe impl<T: Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new mutex around `data` (`EAGAIN` when the cluster has no room for it).
    pub fn new(data: T) -> Result<Self, Errno> {
        let id = kcall(Kcall::MutexCreate, [0; 5])?;
        Ok(Mutex {
            id,
            data: UnsafeCell::new(data),
        })
    }

    /// Waits for the mutex and returns a guard of the data.
    pub fn lock(&self) -> Result<MutexGuard<'_, T>, Errno> {
        kcall(Kcall::MutexLock, [self.id, 0, 0, 0, 0])?;
        Ok(MutexGuard { mutex: self })
    }

    /// The kernel id (for `Condvar::wait`).
    pub(crate) fn id(&self) -> usize {
        self.id
    }
}

impl<T> Drop for Mutex<T> {
    fn drop(&mut self) {
        // Nobody holds or waits for it: we own it exclusively.
        let _ = kcall(Kcall::SyncDestroy, [self.id, 0, 0, 0, 0]);
    }
}

/// Access to a [`Mutex`]'s data while it is held.
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

impl<T> MutexGuard<'_, T> {
    /// The mutex this guard holds.
    pub(crate) fn mutex_id(&self) -> usize {
        self.mutex.id()
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the mutex.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as above, and the guard is borrowed mutably.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // Cannot fail: this thread holds the mutex.
        let _ = kcall(Kcall::MutexUnlock, [self.mutex.id, 0, 0, 0, 0]);
    }
}
