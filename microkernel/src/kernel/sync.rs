//! The sync kcalls: the table decides under its lock, the caller waits without a
//! core, the waker hands over and wakes.

use super::Kernel;
use crate::sync::{Object, Outcome, SEMAPHORE_MAX};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use nanvix_abi::{Errno, Kcall};
use nanvix_hal::{CoreId, Cores, Platform};

impl<P: Platform> Kernel<P> {
    /// Runs sync kcall `kcall` for program `index` on `context`.
    pub(super) fn sync_kcall(
        &self,
        kcall: Kcall,
        index: usize,
        context: CoreId,
        arguments: [usize; 5],
    ) -> Result<usize, Errno> {
        let [first, second, ..] = arguments;
        match kcall {
            Kcall::SemaphoreCreate => {
                let count = u32::try_from(first)
                    .ok()
                    .filter(|count| *count <= SEMAPHORE_MAX)
                    .ok_or(Errno::Invalid)?;
                let waiters = Vec::new();
                self.syncs
                    .lock()
                    .create(index, Object::Semaphore { count, waiters })
            }
            Kcall::MutexCreate => self.syncs.lock().create(
                index,
                Object::Mutex {
                    holder: None,
                    waiters: Vec::new(),
                },
            ),
            Kcall::ConditionCreate => self.syncs.lock().create(
                index,
                Object::Condition {
                    waiters: Vec::new(),
                },
            ),
            Kcall::SemaphoreDown => {
                let outcome = self.syncs.lock().down(first, index, context)?;
                self.wait_for_handover(outcome, context)?;
                Ok(0)
            }
            Kcall::SemaphoreUp => {
                let woken = self.syncs.lock().up(first, index)?;
                self.hand_over(woken);
                Ok(0)
            }
            Kcall::MutexLock => {
                let outcome = self.syncs.lock().lock(first, index, context)?;
                self.wait_for_handover(outcome, context)?;
                Ok(0)
            }
            Kcall::MutexUnlock => {
                let woken = self.syncs.lock().unlock(first, index, context)?;
                self.hand_over(woken);
                Ok(0)
            }
            Kcall::ConditionWait => {
                let woken = self.syncs.lock().wait(first, second, index, context)?;
                self.hand_over(woken);
                // First the signal, then the mutex (handed over by its unlock).
                self.wait_for_handover(Outcome::Wait, context)?;
                let outcome = self.syncs.lock().lock(second, index, context);
                match outcome {
                    Ok(outcome) => self.wait_for_handover(outcome, context)?,
                    // Destroyed meanwhile: nothing to hold. The error says so.
                    Err(errno) => return Err(errno),
                }
                Ok(0)
            }
            Kcall::ConditionSignal => {
                let woken = self.syncs.lock().signal(first, index)?;
                self.hand_over(woken);
                Ok(0)
            }
            Kcall::ConditionBroadcast => {
                let woken = self.syncs.lock().broadcast(first, index)?;
                for context in woken {
                    self.hand_over(Some(context));
                }
                Ok(0)
            }
            Kcall::SyncDestroy => self.syncs.lock().destroy(first, index).map(|()| 0),
            _ => Err(Errno::NoSystemCall),
        }
    }

    /// Waits, without a core, until a waker hands `context` what it queued for.
    fn wait_for_handover(&self, outcome: Outcome, context: CoreId) -> Result<(), Errno> {
        if outcome == Outcome::Done {
            return Ok(());
        }
        let cores = self.platform.cores();
        // Short waits are common (a lock held for a moment): look before giving up
        // the core.
        let spin = if cores.spinning_pays() {
            HANDOVER_SPIN
        } else {
            0
        };
        for _ in 0..spin {
            if self.contexts[context].handed.swap(false, Ordering::Acquire) {
                return Ok(());
            }
            core::hint::spin_loop();
        }
        self.wait_without_core(context, || {
            self.contexts[context].handed.swap(false, Ordering::Acquire)
        })
    }

    /// Tells `woken` (if any) that what it waited for is its own, and wakes it.
    fn hand_over(&self, woken: Option<CoreId>) {
        if let Some(context) = woken {
            self.contexts[context].handed.store(true, Ordering::Release);
            self.platform.cores().unpark(context);
        }
    }
}

/// Rounds a thread polls for a handover before it gives up its core.
const HANDOVER_SPIN: u32 = 200;
