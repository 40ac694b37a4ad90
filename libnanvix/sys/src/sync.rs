//! Semaphores, mutexes and condition variables of the kernel's sync module.
//!
//! Each is a kernel object of the calling program; a thread that waits on one gives
//! its core to the next thread waiting for a core. Waiters are served first come,
//! first served, and what they wait for is handed to them directly.

use crate::runtime::kcall;
pub use crate::runtime::sync::{Mutex, MutexGuard};
use nanvix_abi::{Errno, Kcall};

/// A counting semaphore.
pub struct Semaphore {
    id: usize,
}

impl Semaphore {
    /// A semaphore with `value` units.
    pub fn new(value: u32) -> Result<Semaphore, Errno> {
        kcall(Kcall::SemaphoreCreate, [value as usize, 0, 0, 0, 0]).map(|id| Semaphore { id })
    }

    /// Takes a unit, waiting until one is there.
    pub fn down(&self) -> Result<(), Errno> {
        kcall(Kcall::SemaphoreDown, [self.id, 0, 0, 0, 0]).map(|_| ())
    }

    /// Gives a unit back (to the first waiter, if any).
    pub fn up(&self) -> Result<(), Errno> {
        kcall(Kcall::SemaphoreUp, [self.id, 0, 0, 0, 0]).map(|_| ())
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        let _ = kcall(Kcall::SyncDestroy, [self.id, 0, 0, 0, 0]);
    }
}

/// A condition variable, used with a [`Mutex`].
pub struct Condvar {
    id: usize,
}

impl Condvar {
    /// A new condition variable.
    pub fn new() -> Result<Condvar, Errno> {
        kcall(Kcall::ConditionCreate, [0; 5]).map(|id| Condvar { id })
    }

    /// Releases the guard's mutex, waits for a signal, takes the mutex again.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> Result<MutexGuard<'a, T>, Errno> {
        kcall(Kcall::ConditionWait, [self.id, guard.mutex_id(), 0, 0, 0])?;
        Ok(guard)
    }

    /// Wakes the first waiter, if any.
    pub fn notify_one(&self) -> Result<(), Errno> {
        kcall(Kcall::ConditionSignal, [self.id, 0, 0, 0, 0]).map(|_| ())
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) -> Result<(), Errno> {
        kcall(Kcall::ConditionBroadcast, [self.id, 0, 0, 0, 0]).map(|_| ())
    }
}

impl Drop for Condvar {
    fn drop(&mut self) {
        let _ = kcall(Kcall::SyncDestroy, [self.id, 0, 0, 0, 0]);
    }
}
