//! Cores: identity, start, park and unpark, cycle counter, and user-mode entry.

use core::sync::atomic::{AtomicU32, Ordering};

/// Index of a core in its cluster; core 0 is the master core.
pub type CoreId = usize;

/// Code a core runs when started: a plain function of one word.
pub type CoreEntry = fn(usize);

/// Why a core could not be started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CoreError {
    /// No such core in this cluster.
    NoSuchCore,
    /// The core is the master core, which runs the kernel and is never started.
    MasterCore,
    /// The core is already running something.
    Busy,
    /// The platform could not create the execution context (hosted: no thread).
    Exhausted,
}

impl CoreError {
    /// What went wrong, in words.
    pub fn text(&self) -> &'static str {
        match self {
            CoreError::NoSuchCore => "no such core",
            CoreError::MasterCore => "the master core runs the kernel",
            CoreError::Busy => "the core is busy",
            CoreError::Exhausted => "no execution context could be created",
        }
    }
}

/// The cores of one cluster.
pub trait Cores: Send + Sync {
    /// Number of cores, the master included.
    fn count(&self) -> usize;

    /// The core executing the caller.
    fn current(&self) -> CoreId;

    /// Starts `entry(argument)` on an idle user core. When `entry` returns, the core
    /// is idle again and parks without burning the host CPU.
    fn start(&self, core: CoreId, entry: CoreEntry, argument: usize) -> Result<(), CoreError>;

    /// Parks the calling core until [`Cores::unpark`] names it. A pending unpark makes
    /// the next park return at once (a permit, as in `std::thread::park`); spurious
    /// returns are allowed, so callers re-check their condition. Spins for a bounded
    /// budget before sleeping.
    fn park(&self);

    /// Wakes `core` from [`Cores::park`] (or makes its next park return at once).
    fn unpark(&self, core: CoreId);

    /// A monotonic cycle counter of this core (hosted: the TSC).
    fn cycles(&self) -> u64;

    /// CPU time the calling core's current thread has used, in nanoseconds (hosted:
    /// the host thread's `CLOCK_THREAD_CPUTIME_ID`). The default says 0: a backend
    /// that cannot tell.
    fn thread_cpu_nanoseconds(&self) -> u64 {
        0
    }

    /// A monotonic clock in nanoseconds (hosted: `CLOCK_MONOTONIC`); 0 where the
    /// backend has none.
    fn monotonic_nanoseconds(&self) -> u64 {
        0
    }

    /// The wall clock: nanoseconds since the Unix epoch (hosted: `CLOCK_REALTIME`);
    /// 0 where the backend has none.
    fn wall_clock_nanoseconds(&self) -> u64 {
        0
    }

    /// Whether a short spin can pay before a wait: false where this cluster has a
    /// single CPU to run on (the spinner would hold the CPU its waker needs).
    fn spinning_pays(&self) -> bool {
        true
    }

    /// How many processors the clusters of the whole board run on together: the
    /// host's online CPUs on the hosted platform (where every cluster is a process
    /// of one host). Past that many busy clusters, a core that spins while it waits
    /// for another cluster holds a processor the other cluster needs. The default
    /// says every core is a processor of its own.
    fn machine_processors(&self) -> usize {
        usize::MAX
    }

    /// Parks like [`Cores::park`], for at most about `nanoseconds`.
    fn park_timeout(&self, nanoseconds: u64) {
        let _ = nanoseconds;
        self.park();
    }

    /// Sets the hook an interrupted core runs (once, at boot): `hook(core)` runs on
    /// the interrupted core, between two instructions of whatever it ran. A backend
    /// without interrupts keeps the default, which never runs a hook (and so never
    /// preempts).
    fn set_interrupt_hook(&self, hook: InterruptHook) {
        let _ = hook;
    }

    /// Sets the hook a core runs when the code it runs faults (once, at boot). The
    /// default never runs one: every fault is fatal to the cluster.
    fn set_fault_hook(&self, hook: FaultHook) {
        let _ = hook;
    }

    /// Interrupts `core` soon: it runs the interrupt hook (hosted: a signal to its
    /// thread; bare metal: an inter-processor interrupt). The default does nothing.
    fn interrupt(&self, core: CoreId) {
        let _ = core;
    }
}

/// What an interrupt hook decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterruptOutcome {
    /// Go on with whatever the core ran.
    Resume,
    /// End the interrupted program code's user mode with this value (its
    /// `UserMode::enter` returns it); where the core runs no program code (the
    /// kernel), the same as `Resume`.
    EndThread(u64),
}

/// What an interrupted core runs: a plain function of the core's id.
pub type InterruptHook = fn(CoreId) -> InterruptOutcome;

/// How a faulting access touched memory (its discriminant is the code reports
/// carry).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAccess {
    /// A load.
    Read = 0,
    /// A store.
    Write = 1,
    /// An instruction fetch.
    Execute = 2,
    /// Not a memory access (an illegal instruction, a division by zero).
    None = 3,
}

impl FaultAccess {
    /// Every access, in code order.
    pub const ALL: [FaultAccess; 4] = [
        FaultAccess::Read,
        FaultAccess::Write,
        FaultAccess::Execute,
        FaultAccess::None,
    ];

    /// The access with this code, if any.
    pub fn from_code(code: u32) -> Option<FaultAccess> {
        FaultAccess::ALL
            .into_iter()
            .find(|access| *access as u32 == code)
    }

    /// The access in a word, lowercase, as fault reports give it.
    pub const fn text(self) -> &'static str {
        match self {
            FaultAccess::Read => "read",
            FaultAccess::Write => "write",
            FaultAccess::Execute => "execute",
            FaultAccess::None => "none",
        }
    }
}

/// What the hardware says about a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The address touched (0 when not a memory access).
    pub address: usize,
    /// How it was touched.
    pub access: FaultAccess,
    /// The faulting instruction's address.
    pub instruction: usize,
    /// The frame pointer at the fault (the start of a backtrace).
    pub frame_pointer: usize,
    /// What it is.
    pub kind: nanvix_abi::FaultKind,
    /// The exit status a shell would show for it (128 + the signal on Linux).
    pub status: i32,
}

/// What a fault hook decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOutcome {
    /// Run the faulting instruction again (a pager mapped the page meanwhile).
    Retry,
    /// End the faulting thread's user mode with this value (its `UserMode::enter`
    /// returns it).
    EndThread(u64),
    /// Not a program's fault: the platform treats it as fatal to the cluster.
    Fatal,
}

/// What a faulting core runs, on the faulting core (it may wait there, without
/// holding anything the kernel shares, for a pager).
pub type FaultHook = fn(CoreId, &Fault) -> FaultOutcome;

/// How long a waiter spins before it parks, following how long its waits last:
/// a wait that ended within [`SHORT_WAIT_NANOSECONDS`](Self::SHORT_WAIT_NANOSECONDS)
/// of parking doubles the budget (next time the spin catches it), a longer one
/// halves it (the spin only held a processor that the thread it waited for, or
/// another, needed). On a host with fewer processors than the board has cores a
/// fixed long spin makes every parked hand-off wait for the spinners' time slices;
/// a fixed short one makes a fork-join loop park on each join.
#[derive(Debug)]
pub struct AdaptiveSpin(AtomicU32);

impl AdaptiveSpin {
    /// The fewest rounds: short waits that follow long ones are still noticed.
    pub const MIN_ROUNDS: u32 = 32;
    /// The most rounds (tens of microseconds on a host).
    pub const MAX_ROUNDS: u32 = 2_000;
    /// Parks up to this long count as short: a spin would have paid.
    pub const SHORT_WAIT_NANOSECONDS: u64 = 20_000;

    /// A budget that starts at the most.
    pub const fn new() -> AdaptiveSpin {
        AdaptiveSpin(AtomicU32::new(Self::MAX_ROUNDS))
    }

    /// Rounds to spin now.
    pub fn rounds(&self) -> u32 {
        self.0.load(Ordering::Relaxed)
    }

    /// The spin gave out and the waiter parked for `nanoseconds`.
    pub fn parked(&self, nanoseconds: u64) {
        let rounds = self.rounds();
        let next = if nanoseconds <= Self::SHORT_WAIT_NANOSECONDS {
            rounds.saturating_mul(2).min(Self::MAX_ROUNDS)
        } else {
            (rounds / 2).max(Self::MIN_ROUNDS)
        };
        self.0.store(next, Ordering::Relaxed);
    }
}

impl Default for AdaptiveSpin {
    fn default() -> AdaptiveSpin {
        AdaptiveSpin::new()
    }
}

/// Waits until `condition()` holds: checks it `budget` times with a spin hint, then
/// parks between checks. The waker must make the condition true before calling
/// [`Cores::unpark`] on the waiting core.
pub fn spin_then_park<C: Cores + ?Sized>(
    cores: &C,
    budget: u32,
    mut condition: impl FnMut() -> bool,
) {
    for _ in 0..budget {
        if condition() {
            return;
        }
        core::hint::spin_loop();
    }
    while !condition() {
        cores.park();
    }
}

/// Entering user programs and leaving them from inside a kcall.
///
/// Hosted, "user mode" is a call on the program's own stack from which the kernel
/// can unwind at any kcall; on bare metal it is ring 3 entered by `iretq`.
pub trait UserMode: Send + Sync {
    /// Runs `entry(argument)` on the stack whose top is `stack_top` (16-byte aligned)
    /// on the current core, and returns the value the program returned or the value
    /// given to [`UserMode::leave`].
    ///
    /// # Safety
    /// `entry` must be the address of an `extern "C" fn(usize) -> i32` in loaded,
    /// executable program memory, and `stack_top` the top of a writable stack that
    /// nothing else uses while the program runs.
    unsafe fn enter(&self, entry: usize, argument: usize, stack_top: usize) -> u64;

    /// Abandons the program frames on the current core and makes the innermost
    /// [`UserMode::enter`] of this core return `value`. The caller must hold no lock
    /// and own nothing that needs dropping: the frames are not unwound.
    fn leave(&self, value: u64) -> !;
}

#[cfg(test)]
mod tests {
    use super::{AdaptiveSpin, FaultAccess};

    #[test]
    fn the_spin_shrinks_on_long_parks_and_grows_back_on_short_ones() {
        let spin = AdaptiveSpin::new();
        assert_eq!(spin.rounds(), AdaptiveSpin::MAX_ROUNDS);
        let long = AdaptiveSpin::SHORT_WAIT_NANOSECONDS + 1;
        spin.parked(long);
        assert_eq!(spin.rounds(), AdaptiveSpin::MAX_ROUNDS / 2);
        for _ in 0..64 {
            spin.parked(long);
        }
        assert_eq!(spin.rounds(), AdaptiveSpin::MIN_ROUNDS);
        spin.parked(AdaptiveSpin::SHORT_WAIT_NANOSECONDS);
        assert_eq!(spin.rounds(), 2 * AdaptiveSpin::MIN_ROUNDS);
        for _ in 0..64 {
            spin.parked(0);
        }
        assert_eq!(spin.rounds(), AdaptiveSpin::MAX_ROUNDS);
    }

    #[test]
    fn a_fault_access_travels_as_its_code() {
        for access in FaultAccess::ALL {
            assert_eq!(FaultAccess::from_code(access as u32), Some(access));
        }
        assert_eq!(FaultAccess::from_code(4), None);
        assert_eq!(
            FaultAccess::from_code(1).map(FaultAccess::text),
            Some("write")
        );
    }
}
