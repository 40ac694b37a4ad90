//! The thread kcalls: create (remote), exit, join and yield (local), and the life of
//! a thread's context.

use super::Kernel;
use crate::paging::Access;
use core::sync::atomic::Ordering;
use nanvix_abi::{Errno, THREAD_STACK_MIN};
use nanvix_hal::{CoreId, Cores, Platform};

/// Where a thread is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ThreadState {
    /// Started: waiting for a core, running, or blocked.
    Live,
    /// Ended with this value, not yet joined.
    Ended(i32),
}

/// A thread of the cluster, by the context it runs on.
pub(super) struct ThreadRecord {
    /// Its id (unique in the cluster while the record exists).
    pub(super) id: usize,
    /// Its program's index.
    pub(super) program: usize,
    /// Whether it is its program's main thread.
    pub(super) main: bool,
    pub(super) entry: usize,
    pub(super) argument: usize,
    pub(super) stack_top: usize,
    pub(super) state: ThreadState,
    /// The context waiting in `thread_join` for it.
    pub(super) joiner: Option<CoreId>,
}

impl ThreadRecord {
    /// The record of thread `id`, the main thread of the program at `program`
    /// (the program's own entry and stack: none of the thread's).
    pub(super) fn main(id: usize, program: usize) -> ThreadRecord {
        ThreadRecord {
            id,
            program,
            main: true,
            entry: 0,
            argument: 0,
            stack_top: 0,
            state: ThreadState::Live,
            joiner: None,
        }
    }
}

/// How many times `thread_create` looks again for a context when the free ones
/// are still finishing their joined threads, parking as a program's start does in
/// between: 10 ms at most (a context finishes within microseconds unless its core
/// is busy).
const FINISHING_RETRIES: u32 = 200;

impl<P: Platform> Kernel<P> {
    /// `thread_create`: checks, records and starts a thread of the program running
    /// on `caller`'s context. Waits only when the free contexts are still finishing
    /// their joined threads (at most [`FINISHING_RETRIES`] short parks).
    pub(super) fn thread_create(
        &self,
        caller: CoreId,
        entry: usize,
        argument: usize,
        stack: usize,
        stack_size: usize,
    ) -> Result<usize, Errno> {
        let index = self
            .contexts
            .get(caller)
            .map(|state| &state.running)
            .map(|slot| slot.load(Ordering::Acquire))
            .filter(|slot| *slot != 0)
            .ok_or(Errno::Permission)?
            - 1;
        let space = self.space(index);
        let image = space.regions()[0];
        if entry < image.base || entry >= image.base + image.size {
            return Err(Errno::Invalid);
        }
        if stack_size < THREAD_STACK_MIN {
            return Err(Errno::Invalid);
        }
        space.check(stack, stack_size, Access::Write)?;
        let stack_top = (stack + stack_size) & !15;
        let id = self.next_thread_id.fetch_add(1, Ordering::Relaxed);
        let cores = self.platform.cores();
        // A context whose thread was joined may still be finishing it on its core
        // (its HAL start says Busy a moment longer): when only such contexts are
        // free, look again shortly, a bounded number of times.
        for attempt in 0..=FINISHING_RETRIES {
            let mut finishing = false;
            match self.start_thread_on_free_context(
                (index, id),
                (entry, argument, stack_top),
                &mut finishing,
            ) {
                Some(result) => return result,
                None if finishing && attempt < FINISHING_RETRIES => {
                    cores.park_timeout(super::programs::START_RETRY_NANOSECONDS);
                }
                None => break,
            }
        }
        Err(Errno::Again)
    }

    /// Records thread `id` of program `index` on the first free context and starts
    /// it there: `Some` with the outcome, or `None` when no free context took it
    /// (`finishing` set when a free one was still finishing its last thread).
    fn start_thread_on_free_context(
        &self,
        (index, id): (usize, usize),
        (entry, argument, stack_top): (usize, usize, usize),
        finishing: &mut bool,
    ) -> Option<Result<usize, Errno>> {
        let cores = self.platform.cores();
        let contexts = self.contexts.len();
        for context in 1..contexts {
            {
                let mut threads = self.threads.lock();
                if threads[context].is_some() {
                    continue;
                }
                threads[context] = Some(ThreadRecord {
                    id,
                    program: index,
                    main: false,
                    entry,
                    argument,
                    stack_top,
                    state: ThreadState::Live,
                    joiner: None,
                });
            }
            // Nothing meant for the context's last thread reaches this one.
            let state = &self.contexts[context];
            state.wakeup.store(false, Ordering::Relaxed);
            state.handed.store(false, Ordering::Relaxed);
            state.running.store(index + 1, Ordering::Release);
            state.thread_id.store(id, Ordering::Release);
            match cores.start(context, run_thread::<P>, self as *const Self as usize) {
                Ok(()) => return Some(Ok(id)),
                Err(error) => {
                    // The context is still finishing its last thread (or cannot be
                    // made): take the record back and try another.
                    state.running.store(0, Ordering::Release);
                    state.thread_id.store(0, Ordering::Release);
                    self.threads.lock()[context] = None;
                    match error {
                        nanvix_hal::CoreError::Exhausted => return Some(Err(Errno::Again)),
                        nanvix_hal::CoreError::Busy => *finishing = true,
                        _ => {}
                    }
                }
            }
        }
        None
    }

    /// The life of a created thread on its context: a core, the program's code, the
    /// end.
    fn thread_body(&self) {
        let cores = self.platform.cores();
        let context = cores.current();
        let start = {
            let threads = self.threads.lock();
            threads[context]
                .as_ref()
                .map(|record| (record.entry, record.argument, record.stack_top))
        };
        let Some((entry, argument, stack_top)) = start else {
            return;
        };
        self.tokens.acquire(cores, context);
        if let Some(status) = self.ending_status_on(context) {
            // Its program began to end before the thread ran.
            self.thread_ended(context, status);
            return;
        }
        // SAFETY: `entry` lies in the program's image (checked at create) and
        // `stack_top` is the 16-aligned top of a stack in the program's memory.
        let value = unsafe { self.enter_user(context, entry, argument, stack_top) };
        self.thread_ended(context, value as u32 as i32);
    }

    /// Records the end of the thread on `context`, wakes its joiner and frees its
    /// core (the record stays until it is joined; if its program is ending, nobody
    /// will join it, and it goes).
    pub(super) fn thread_ended(&self, context: CoreId, value: i32) {
        self.pager_ended(context);
        let ending = self.ending_status_on(context).is_some();
        let joiner = {
            let mut threads = self.threads.lock();
            let joiner = threads[context].as_mut().and_then(|record| {
                record.state = ThreadState::Ended(value);
                record.joiner.take()
            });
            if ending {
                threads[context] = None;
            }
            joiner
        };
        self.contexts[context].running.store(0, Ordering::Release);
        self.tokens.release(self.platform.cores(), context);
        if let Some(joiner) = joiner {
            self.platform.cores().unpark(joiner);
        }
    }

    /// `thread_join`: waits, without a core, for thread `id` of the caller's program.
    pub(super) fn thread_join(
        &self,
        index: usize,
        context: CoreId,
        id: usize,
    ) -> Result<usize, Errno> {
        let find = |threads: &[Option<ThreadRecord>]| {
            threads.iter().position(|record| {
                record
                    .as_ref()
                    .is_some_and(|record| record.id == id && record.program == index)
            })
        };
        {
            let mut threads = self.threads.lock();
            let own = threads[context].as_ref().map(|record| record.id);
            if own == Some(id) {
                return Err(Errno::Deadlock);
            }
            let target = find(&threads).ok_or(Errno::NoSuchThread)?;
            let record = threads[target].as_mut().ok_or(Errno::NoSuchThread)?;
            if record.main || record.joiner.is_some() {
                return Err(Errno::Invalid);
            }
            if let ThreadState::Ended(value) = record.state {
                threads[target] = None;
                return Ok(value as u32 as usize);
            }
            record.joiner = Some(context);
        }
        // A blocked thread gives its core to the next one waiting.
        let mut value = None;
        let waited = self.wait_without_core(context, || {
            let mut threads = self.threads.lock();
            if let Some(target) = find(&threads)
                && let Some(ThreadState::Ended(ended)) =
                    threads[target].as_ref().map(|record| record.state)
            {
                threads[target] = None;
                value = Some(ended);
            }
            value.is_some()
        });
        // Stopped early, the program is ending: its records all go with it.
        waited?;
        Ok(value.unwrap_or_default() as u32 as usize)
    }

    /// `thread_sleep`: waits without a core for a wakeup (a kept one returns at once).
    pub(super) fn thread_sleep(&self, context: CoreId) -> Result<usize, Errno> {
        if self.contexts[context].wakeup.swap(false, Ordering::Acquire) {
            return Ok(0);
        }
        self.wait_without_core(context, || {
            self.contexts[context].wakeup.swap(false, Ordering::Acquire)
        })?;
        Ok(0)
    }

    /// `thread_wakeup`: wakes live thread `id` of program `index`.
    pub(super) fn thread_wakeup(&self, index: usize, id: usize) -> Result<usize, Errno> {
        let context = {
            let threads = self.threads.lock();
            threads
                .iter()
                .position(|record| {
                    record.as_ref().is_some_and(|record| {
                        record.id == id
                            && record.program == index
                            && record.state == ThreadState::Live
                    })
                })
                .ok_or(Errno::NoSuchThread)?
        };
        self.contexts[context].wakeup.store(true, Ordering::Release);
        self.platform.cores().unpark(context);
        Ok(0)
    }

    /// `thread_yield`: lets the first thread waiting for a core have this one.
    pub(super) fn thread_yield(&self, context: CoreId) -> Result<usize, Errno> {
        self.tokens.yield_core(self.platform.cores(), context);
        Ok(0)
    }
}

/// A created thread's context starts here.
fn run_thread<P: Platform>(kernel: usize) {
    // SAFETY: `thread_create` passes the address of the kernel, which programs (and
    // so kcalls) reach only after `boot(&'static self)`: it lives for good.
    let kernel = unsafe { &*(kernel as *const Kernel<P>) };
    kernel.thread_body();
}
