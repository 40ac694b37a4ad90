//! Remote kcalls: per-core request slots the master serves in arrival order.
//!
//! A user core that makes a remote kcall fills its own slot (number, arguments),
//! takes a ticket and writes it, with its core number, into the arrival ring; then
//! it spins on its slot for a budget and parks. The master serves tickets strictly
//! in order, so calls are served in arrival order and no core starves (the
//! original scanned per-core slots from core 0 and starved the high cores). Each
//! core has at most one call in flight, so a ring of one entry per core never
//! overflows. The master never blocks in a call: a call that may wait is split into
//! a remote part that never waits and a local wait (DESIGN.md section 5).
//!
//! Wake-ups use sequentially consistent accesses on both sides (Dekker): a caller
//! publishes its ticket and then reads whether the master sleeps; the master says it
//! sleeps and then looks for a ticket. Likewise a caller says it parks and then reads
//! its slot's state; the master completes the slot and then reads whether its
//! caller parks.

use alloc::boxed::Box;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use nanvix_hal::{CoreId, Cores};

/// A slot holds no call.
const IDLE: u32 = 0;
/// A slot holds a call the master has not completed.
const PENDING: u32 = 1;
/// The master completed the call; its result is in the slot.
const DONE: u32 = 2;

/// Bits of an arrival-ring entry that hold the core; the ticket number (plus one)
/// is above them.
const CORE_BITS: u32 = 16;

/// One core's request, on cache lines of its own.
#[repr(align(128))]
struct Slot {
    state: AtomicU32,
    /// Whether the caller parked (the master must unpark it).
    parked: AtomicBool,
    number: AtomicUsize,
    arguments: [AtomicUsize; 5],
    result: AtomicUsize,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: AtomicU32::new(IDLE),
            parked: AtomicBool::new(false),
            number: AtomicUsize::new(0),
            arguments: Default::default(),
            result: AtomicUsize::new(0),
        }
    }
}

/// A ticket counter on a line of its own.
#[repr(align(128))]
struct Counter(AtomicU64);

/// The remote-call board of one cluster.
pub struct RemoteCalls {
    slots: Box<[Slot]>,
    /// Arrival ring: entry `ticket % cores` holds `(ticket + 1) << CORE_BITS | core`.
    arrivals: Box<[AtomicU64]>,
    /// The next ticket to hand out.
    next_ticket: Counter,
    /// The next ticket to serve (only the master moves it).
    next_served: Counter,
    /// Whether the master is about to sleep or sleeps (callers then wake it).
    master_sleeping: AtomicBool,
}

/// A remote call as the master sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoteCall {
    /// The calling core.
    pub core: CoreId,
    /// The kcall number.
    pub number: usize,
    /// Its arguments.
    pub arguments: [usize; 5],
}

impl RemoteCalls {
    /// A board for a cluster of `cores` cores (core 0 is the master).
    pub fn new(cores: usize) -> RemoteCalls {
        assert!(
            cores < 1 << CORE_BITS,
            "too many cores for the arrival ring"
        );
        RemoteCalls {
            slots: (0..cores).map(|_| Slot::new()).collect(),
            arrivals: (0..cores.max(1)).map(|_| AtomicU64::new(0)).collect(),
            next_ticket: Counter(AtomicU64::new(0)),
            next_served: Counter(AtomicU64::new(0)),
            master_sleeping: AtomicBool::new(false),
        }
    }

    /// Makes a remote call from `core` (not the master) and waits for its result:
    /// spins `spin_budget` rounds, then parks until the master completes it.
    pub fn call(
        &self,
        cores: &impl Cores,
        core: CoreId,
        number: usize,
        arguments: [usize; 5],
        spin_budget: u32,
    ) -> isize {
        let slot = &self.slots[core];
        slot.number.store(number, Ordering::Relaxed);
        for (word, value) in slot.arguments.iter().zip(arguments) {
            word.store(value, Ordering::Relaxed);
        }
        slot.parked.store(false, Ordering::Relaxed);
        slot.state.store(PENDING, Ordering::Relaxed);
        let ticket = self.next_ticket.0.fetch_add(1, Ordering::Relaxed);
        let entry = ((ticket + 1) << CORE_BITS) | core as u64;
        self.arrivals[(ticket % self.arrivals.len() as u64) as usize]
            .store(entry, Ordering::SeqCst);
        if self.master_sleeping.load(Ordering::SeqCst) {
            cores.unpark(0);
        }
        for _ in 0..spin_budget {
            if slot.state.load(Ordering::Acquire) == DONE {
                return self.take_result(slot);
            }
            core::hint::spin_loop();
        }
        slot.parked.store(true, Ordering::SeqCst);
        while slot.state.load(Ordering::SeqCst) != DONE {
            cores.park();
        }
        slot.parked.store(false, Ordering::Relaxed);
        self.take_result(slot)
    }

    fn take_result(&self, slot: &Slot) -> isize {
        let result = slot.result.load(Ordering::Relaxed) as isize;
        slot.state.store(IDLE, Ordering::Relaxed);
        result
    }

    /// The oldest call not yet served, if it has arrived (master only).
    fn next_arrival(&self) -> Option<RemoteCall> {
        let ticket = self.next_served.0.load(Ordering::Relaxed);
        let entry =
            self.arrivals[(ticket % self.arrivals.len() as u64) as usize].load(Ordering::Acquire);
        if entry >> CORE_BITS != ticket + 1 {
            return None;
        }
        let core = (entry & ((1 << CORE_BITS) - 1)) as CoreId;
        let slot = &self.slots[core];
        Some(RemoteCall {
            core,
            number: slot.number.load(Ordering::Relaxed),
            arguments: core::array::from_fn(|index| slot.arguments[index].load(Ordering::Relaxed)),
        })
    }

    /// Whether a call waits to be served.
    pub fn pending(&self) -> bool {
        self.next_arrival().is_some()
    }

    /// Serves every call that has arrived, in arrival order, with `handler` (master
    /// only; the handler must not block). Returns how many were served.
    pub fn serve(
        &self,
        cores: &impl Cores,
        mut handler: impl FnMut(&RemoteCall) -> isize,
    ) -> usize {
        let mut served = 0;
        while let Some(call) = self.next_arrival() {
            let result = handler(&call);
            let slot = &self.slots[call.core];
            slot.result.store(result as usize, Ordering::Relaxed);
            self.next_served.0.fetch_add(1, Ordering::Relaxed);
            slot.state.store(DONE, Ordering::SeqCst);
            if slot.parked.load(Ordering::SeqCst) {
                cores.unpark(call.core);
            }
            served += 1;
        }
        served
    }

    /// Tells callers the master is about to sleep; returns false (and stays awake)
    /// if a call is already waiting. Pair with [`RemoteCalls::awake`].
    pub fn may_sleep(&self) -> bool {
        self.master_sleeping.store(true, Ordering::SeqCst);
        if self.pending() {
            self.master_sleeping.store(false, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// The master is awake again.
    pub fn awake(&self) {
        self.master_sleeping.store(false, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::test_cores::{TestCores, become_core};
    use std::sync::Arc;
    use std::vec::Vec;

    #[test]
    fn calls_are_served_in_arrival_order_with_their_arguments() {
        let cores = TestCores::new(4);
        let board = RemoteCalls::new(4);
        // Three calls arrive (from cores 3, 1, 2) before the master looks.
        for core in [3, 1, 2] {
            let slot = &board.slots[core];
            slot.number.store(100 + core, Ordering::Relaxed);
            slot.arguments[0].store(core * 10, Ordering::Relaxed);
            slot.state.store(PENDING, Ordering::Relaxed);
            let ticket = board.next_ticket.0.fetch_add(1, Ordering::Relaxed);
            board.arrivals[(ticket % 4) as usize]
                .store(((ticket + 1) << CORE_BITS) | core as u64, Ordering::SeqCst);
        }
        assert!(board.pending());
        let mut seen = Vec::new();
        let served = board.serve(&cores, |call| {
            seen.push((call.core, call.number, call.arguments[0]));
            call.core as isize
        });
        assert_eq!(served, 3);
        assert_eq!(seen, [(3, 103, 30), (1, 101, 10), (2, 102, 20)]);
        assert!(!board.pending());
        for core in [1, 2, 3] {
            assert_eq!(board.slots[core].state.load(Ordering::Relaxed), DONE);
            assert_eq!(board.take_result(&board.slots[core]), core as isize);
        }
    }

    #[test]
    fn every_core_gets_every_call_served_under_contention() {
        const CORES: usize = 5;
        const CALLS: usize = 2_000;
        let cores = Arc::new(TestCores::new(CORES));
        let board = Arc::new(RemoteCalls::new(CORES));
        let done = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (1..CORES)
            .map(|core| {
                let (cores, board, done) = (cores.clone(), board.clone(), done.clone());
                std::thread::spawn(move || {
                    become_core(core);
                    for call in 0..CALLS {
                        let result = board.call(&*cores, core, 7, [core, call, 0, 0, 0], 50);
                        assert_eq!(result, (core * 1_000_000 + call) as isize);
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // The master: serves, and sleeps (boundedly) like the kernel's when idle.
        let mut order = Vec::new();
        while done.load(Ordering::SeqCst) < CORES - 1 {
            let served = board.serve(&*cores, |call| {
                order.push(call.core);
                (call.arguments[0] * 1_000_000 + call.arguments[1]) as isize
            });
            if served == 0 && board.may_sleep() {
                cores.park();
                board.awake();
            }
        }
        for caller in callers {
            caller.join().unwrap();
        }
        assert_eq!(order.len(), (CORES - 1) * CALLS);
        for core in 1..CORES {
            assert_eq!(
                order.iter().filter(|served| **served == core).count(),
                CALLS
            );
        }
    }
}
