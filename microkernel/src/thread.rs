//! Threads and the cluster's user cores: which thread holds which core.
//!
//! Every kernel thread runs on an execution context of its own (the HAL's cores:
//! hosted, a host thread each). The cluster's user cores are tokens: a thread runs
//! program code only while it holds one. Cores go to threads in FIFO order; a thread
//! that blocks (a join) gives its core to the next thread waiting, and takes one
//! again, in turn, when it resumes; a thread that yields goes to the back of the
//! queue. So a cluster runs more threads than it has cores, none of them spinning
//! on a core it cannot use.

use crate::sync::take_first;
use alloc::vec::Vec;
use lock_api::{Mutex, RawMutex};
use nanvix_hal::{CoreId, Cores};

/// Which context holds which user core, and who waits for one.
struct Assignment {
    /// Free user cores, in the order they were freed.
    free: Vec<CoreId>,
    /// Contexts waiting for a core, in arrival order.
    waiting: Vec<CoreId>,
    /// The user core each context holds (0: none).
    held: Vec<CoreId>,
    /// When (cycle counter) each context was given its core, or last asked to
    /// give it up.
    since: Vec<u64>,
}

/// The user cores of a cluster, handed to contexts in FIFO order.
pub struct CoreTokens<R: RawMutex> {
    assignment: Mutex<R, Assignment>,
}

impl<R: RawMutex> CoreTokens<R> {
    /// User cores `1..=user_cores` for `contexts` contexts.
    pub fn new(user_cores: usize, contexts: usize) -> Self {
        CoreTokens {
            assignment: Mutex::new(Assignment {
                free: (1..=user_cores).collect(),
                waiting: Vec::new(),
                held: alloc::vec![0; contexts],
                since: alloc::vec![0; contexts],
            }),
        }
    }

    /// The user core `context` holds (0: none).
    pub fn held_by(&self, context: CoreId) -> CoreId {
        self.assignment.lock().held[context]
    }

    /// Takes a user core for `context`, waiting (parked) behind the contexts that
    /// asked before it. Returns the core.
    pub fn acquire(&self, cores: &impl Cores, context: CoreId) -> CoreId {
        {
            let mut assignment = self.assignment.lock();
            if assignment.held[context] != 0 {
                return assignment.held[context];
            }
            if assignment.waiting.is_empty()
                && let Some(core) = take_first(&mut assignment.free)
            {
                assignment.held[context] = core;
                assignment.since[context] = cores.cycles();
                return core;
            }
            assignment.waiting.push(context);
        }
        // Someone now waits for a core: the master (core 0) keeps the time slices.
        cores.unpark(0);
        loop {
            let core = self.held_by(context);
            if core != 0 {
                return core;
            }
            cores.park();
        }
    }

    /// Gives `context`'s core to the first context waiting (waking it), or frees it.
    pub fn release(&self, cores: &impl Cores, context: CoreId) {
        let woken = {
            let mut assignment = self.assignment.lock();
            let core = core::mem::take(&mut assignment.held[context]);
            if core == 0 {
                return;
            }
            match take_first(&mut assignment.waiting) {
                Some(next) => {
                    assignment.held[next] = core;
                    assignment.since[next] = cores.cycles();
                    Some(next)
                }
                None => {
                    assignment.free.push(core);
                    None
                }
            }
        };
        if let Some(next) = woken {
            cores.unpark(next);
        }
    }

    /// Whether a context waits for a core.
    pub fn contended(&self) -> bool {
        !self.assignment.lock().waiting.is_empty()
    }

    /// The contexts to preempt at cycle `now`: while contexts wait, those that held
    /// their core for `slice` cycles or more (the longest first, at most one per
    /// waiter). Each one's clock restarts, so it is asked once per slice.
    pub fn overdue(&self, now: u64, slice: u64) -> Vec<CoreId> {
        let mut assignment = self.assignment.lock();
        let waiting = assignment.waiting.len();
        if waiting == 0 {
            return Vec::new();
        }
        // Oldest first, each put in place by binary search (at most a context per
        // core: no sort's code).
        let mut holders: Vec<(u64, CoreId)> = Vec::new();
        for context in 0..assignment.held.len() {
            let since = assignment.since[context];
            if assignment.held[context] != 0 && now.wrapping_sub(since) >= slice {
                let at = holders.partition_point(|holder| *holder < (since, context));
                holders.insert(at, (since, context));
            }
        }
        holders.truncate(waiting);
        for (_, context) in &holders {
            assignment.since[*context] = now;
        }
        holders.into_iter().map(|(_, context)| context).collect()
    }

    /// Gives `context`'s core to the first context waiting, if any, and queues for
    /// one again behind it; keeps the core when nobody waits. Returns the core held
    /// afterwards.
    pub fn yield_core(&self, cores: &impl Cores, context: CoreId) -> CoreId {
        {
            let assignment = self.assignment.lock();
            if assignment.waiting.is_empty() {
                return assignment.held[context];
            }
        }
        self.release(cores, context);
        self.acquire(cores, context)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::test_cores::{SpinLock, TestCores, become_core};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::vec::Vec;

    fn cores(contexts: usize) -> TestCores {
        TestCores::new(contexts)
    }

    #[test]
    fn cores_go_first_come_first_served_and_pass_on_release() {
        let cores = cores(6);
        let tokens: CoreTokens<SpinLock> = CoreTokens::new(2, 6);
        assert_eq!(tokens.acquire(&cores, 1), 1);
        assert_eq!(tokens.acquire(&cores, 2), 2);
        // Contexts 3 and 4 queue (simulated: they enqueue, then we release for them).
        {
            let mut assignment = tokens.assignment.lock();
            assignment.waiting.push(3);
            assignment.waiting.push(4);
        }
        tokens.release(&cores, 2);
        assert_eq!(tokens.held_by(3), 2, "the first waiter gets the core");
        assert_eq!(tokens.held_by(4), 0);
        tokens.release(&cores, 1);
        assert_eq!(tokens.held_by(4), 1);
        tokens.release(&cores, 3);
        tokens.release(&cores, 4);
        assert_eq!(
            tokens.acquire(&cores, 5),
            2,
            "freed cores are reused in order"
        );
        // Releasing what one does not hold changes nothing.
        tokens.release(&cores, 1);
        assert_eq!(tokens.held_by(5), 2);
    }

    #[test]
    fn only_holders_past_their_slice_are_preempted_and_only_while_others_wait() {
        let cores = cores(6);
        let tokens: CoreTokens<SpinLock> = CoreTokens::new(2, 6);
        tokens.acquire(&cores, 1);
        tokens.acquire(&cores, 2);
        {
            let mut assignment = tokens.assignment.lock();
            assignment.since[1] = 100;
            assignment.since[2] = 500;
        }
        assert!(tokens.overdue(10_000, 1_000).is_empty(), "nobody waits");
        tokens.assignment.lock().waiting.push(3);
        assert_eq!(
            tokens.overdue(1_150, 1_000),
            [1],
            "only 1 is past its slice"
        );
        assert!(
            tokens.overdue(1_160, 1_000).is_empty(),
            "asked once per slice"
        );
        tokens.assignment.lock().waiting.push(4);
        assert_eq!(
            tokens.overdue(5_000, 1_000),
            [2, 1],
            "the longest holder first"
        );
    }

    #[test]
    fn more_threads_than_cores_all_run_and_never_share_a_core() {
        const CONTEXTS: usize = 9;
        const USER_CORES: usize = 3;
        let cores = Arc::new(cores(CONTEXTS));
        let tokens: Arc<CoreTokens<SpinLock>> = Arc::new(CoreTokens::new(USER_CORES, CONTEXTS));
        let on_core: Arc<Vec<AtomicUsize>> =
            Arc::new((0..=USER_CORES).map(|_| AtomicUsize::new(0)).collect());
        let threads: Vec<_> = (1..CONTEXTS)
            .map(|context| {
                let (cores, tokens, on_core) = (cores.clone(), tokens.clone(), on_core.clone());
                std::thread::spawn(move || {
                    become_core(context);
                    for round in 0..200 {
                        let core = tokens.acquire(&*cores, context);
                        assert_eq!(on_core[core].swap(context, Ordering::SeqCst), 0);
                        std::thread::yield_now();
                        assert_eq!(on_core[core].swap(0, Ordering::SeqCst), context);
                        if round % 2 == 0 {
                            tokens.release(&*cores, context);
                        } else {
                            let again = tokens.yield_core(&*cores, context);
                            assert_ne!(again, 0);
                            tokens.release(&*cores, context);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(tokens.assignment.lock().free.len(), USER_CORES);
    }
}
