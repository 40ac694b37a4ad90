//! Cores as threads: one host thread per execution context, parked on a private
//! futex when idle, created the first time its context is started.
//!
//! The kernel runs each of its threads on a context of its own and decides itself
//! which of them hold the cluster's user cores (FIFO); a context that waits for a
//! core, or blocks, parks here without burning the host CPU.

use crate::futex::{self, Scope};
use nanvix_abi::FaultKind;
use nanvix_hal::{
    AdaptiveSpin, CoreEntry, CoreError, CoreId, Cores, Fault, FaultAccess, FaultHook, FaultOutcome,
    InterruptHook, InterruptOutcome,
};
use parking_lot::Mutex;
use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Longest a parked core sleeps before it returns (a spurious wake-up its caller
/// tolerates); wake-ups are never lost, so this only bounds the damage of a bug.
const PARK_LIMIT: Duration = Duration::from_secs(1);

/// A parking context's spin yields the host CPU every this many rounds (about a
/// microsecond and a half): a thread woken meanwhile on the same CPU, often the one
/// the spinner waits for, runs at once instead of after the spin.
const YIELD_ROUNDS: u32 = 64;

/// The signal that interrupts a core's thread.
const INTERRUPT_SIGNAL: i32 = libc::SIGURG;

/// Bytes of the alternate stack a context's interrupt handler runs on (not the
/// program's stack).
const INTERRUPT_STACK_BYTES: usize = 64 * 1024;

/// The kernel's interrupt hook (an `InterruptHook`; 0 until set).
static INTERRUPT_HOOK: AtomicUsize = AtomicUsize::new(0);

/// Runs the interrupt hook on the interrupted thread's core.
extern "C" fn on_interrupt(_: libc::c_int, _: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let core = CURRENT_CORE.with(Cell::get);
    let hook = INTERRUPT_HOOK.load(Ordering::Acquire);
    if hook == 0 || core == usize::MAX || context.is_null() {
        return;
    }
    // SAFETY: errno is this thread's; the hook may make system calls, and the code
    // it interrupted may be about to read errno.
    let saved = unsafe { *libc::__errno_location() };
    // SAFETY: the value was stored from an `InterruptHook` by `set_interrupt_hook`.
    let hook: InterruptHook = unsafe { std::mem::transmute::<usize, InterruptHook>(hook) };
    let outcome = hook(core);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
    if let InterruptOutcome::EndThread(value) = outcome {
        // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
        let registers = unsafe { &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
        end_user_mode(registers, value);
    }
}

/// Rewrites an interrupted or faulting context so that returning from the signal
/// handler ends the innermost user mode of this thread with `value` (`sigreturn`
/// restores the signal mask of before the signal); false outside user mode.
fn end_user_mode(registers: &mut [libc::greg_t; 23], value: u64) -> bool {
    let Some((stack, resume)) = crate::user_mode::resume_point() else {
        return false;
    };
    registers[libc::REG_RSP as usize] = stack as i64;
    registers[libc::REG_RIP as usize] = resume as i64;
    registers[libc::REG_RAX as usize] = value as i64;
    true
}

/// The time of `clock` in nanoseconds (0 if it cannot be read).
fn clock_nanoseconds(clock: libc::clockid_t) -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write; `clock` is a constant of Linux.
    if unsafe { libc::clock_gettime(clock, &mut time) } != 0 {
        return 0;
    }
    time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
}

/// How many host CPUs this process may run on.
/// The host's online CPUs (read once: glibc reads a file for it).
fn online_cpus() -> usize {
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(online).unwrap_or(1).max(1)
}

fn host_cpus() -> usize {
    // SAFETY: an all-zero cpu_set_t is a valid empty set for the kernel to fill.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is this thread; the set is valid and of the size given.
    if unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) } != 0
    {
        return 1;
    }
    // SAFETY: CPU_COUNT only reads the set.
    unsafe { libc::CPU_COUNT(&set) as usize }
}

/// The kernel's fault hook (a `FaultHook`; 0 until set).
static FAULT_HOOK: AtomicUsize = AtomicUsize::new(0);

/// The signals a program's fault raises.
const FAULT_SIGNALS: [i32; 4] = [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE];

/// A fault on a core's thread: the kernel's hook decides; a fault a pager resolved
/// runs the instruction again (the handler returns), a program's fault ends the
/// faulting thread's user mode (the context is rewritten so that `sigreturn`
/// resumes in `UserMode::enter`'s epilogue with the hook's value), anything else
/// is fatal to the cluster (the default action, at the same instruction). The
/// hook may wait here, on the alternate stack, for the pager.
extern "C" fn on_fault(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    let core = CURRENT_CORE.with(Cell::get);
    let hook = FAULT_HOOK.load(Ordering::Acquire);
    let fatal = || {
        // SAFETY: restoring the default action; returning re-runs the faulting
        // instruction, which then ends the process as an unhandled fault would.
        unsafe { libc::signal(signal, libc::SIG_DFL) };
    };
    if hook == 0 || core == usize::MAX || info.is_null() || context.is_null() {
        return fatal();
    }
    // SAFETY: the kernel passes a valid ucontext_t to an SA_SIGINFO handler.
    let registers = unsafe { &mut (*context.cast::<libc::ucontext_t>()).uc_mcontext.gregs };
    let error = registers[libc::REG_ERR as usize] as u64;
    let memory = signal == libc::SIGSEGV || signal == libc::SIGBUS;
    // SAFETY: `info` is the valid siginfo of this signal.
    let touched = unsafe { (*info).si_addr() as usize };
    let fault = Fault {
        address: if memory { touched } else { 0 },
        access: match (memory, error & 0x10 != 0, error & 0x2 != 0) {
            (false, _, _) => FaultAccess::None,
            (true, true, _) => FaultAccess::Execute,
            (true, false, true) => FaultAccess::Write,
            (true, false, false) => FaultAccess::Read,
        },
        instruction: registers[libc::REG_RIP as usize] as usize,
        frame_pointer: registers[libc::REG_RBP as usize] as usize,
        kind: match signal {
            libc::SIGSEGV => FaultKind::InvalidMemoryAccess,
            libc::SIGBUS => FaultKind::BusError,
            libc::SIGILL => FaultKind::IllegalInstruction,
            _ => FaultKind::Arithmetic,
        },
        status: 128 + signal,
    };
    // SAFETY: the value was stored from a `FaultHook` by `set_fault_hook`.
    let hook: FaultHook = unsafe { std::mem::transmute::<usize, FaultHook>(hook) };
    match hook(core, &fault) {
        // Returning runs the instruction again, now that the page is there.
        FaultOutcome::Retry => {}
        FaultOutcome::EndThread(value) if end_user_mode(registers, value) => {}
        _ => fatal(),
    }
}

/// Gives the calling thread an alternate stack for the interrupt handler.
fn interrupt_stack() {
    let stack = Box::leak(vec![0u8; INTERRUPT_STACK_BYTES].into_boxed_slice());
    let alternate = libc::stack_t {
        ss_sp: stack.as_mut_ptr().cast(),
        ss_flags: 0,
        ss_size: stack.len(),
    };
    // SAFETY: the stack is leaked memory of the given size, owned by this thread for
    // its whole life.
    unsafe { libc::sigaltstack(&alternate, std::ptr::null_mut()) };
}

thread_local! {
    /// The core the current thread is; `usize::MAX` for threads that are no core.
    static CURRENT_CORE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// A word on a cache line of its own.
#[repr(align(64))]
#[derive(Default)]
pub struct Padded<T>(pub T);

/// What a started core runs: an entry and its argument.
type Work = (CoreEntry, usize);

/// The cores of a hosted cluster.
pub struct HostedCores {
    permits: Box<[Padded<AtomicU32>]>,
    /// How long each context spins before it sleeps in a park.
    spins: Box<[Padded<AdaptiveSpin>]>,
    work: Box<[Mutex<Option<Work>>]>,
    busy: Box<[AtomicBool]>,
    /// Whether each context's host thread exists yet.
    spawned: Box<[AtomicBool]>,
    /// Each context's host thread (`pthread_t`; 0 until it runs).
    threads: Box<[AtomicU64]>,
    /// Whether the cluster may run on more than one host CPU (else waits never spin:
    /// the spinner would hold the CPU its waker needs).
    spinning: bool,
    /// The host's online CPUs: what every cluster of the board shares.
    machine_processors: usize,
    /// The cores themselves, for the threads spawned later.
    this: std::sync::Weak<HostedCores>,
}

impl HostedCores {
    /// Makes the calling thread context 0 (the master) and prepares `count - 1`
    /// more contexts, whose host threads start the first time each is started.
    pub fn boot(count: usize) -> std::io::Result<Arc<HostedCores>> {
        let cores = Arc::new_cyclic(|this| HostedCores {
            permits: (0..count).map(|_| Padded::default()).collect(),
            spins: (0..count).map(|_| Padded::default()).collect(),
            work: (0..count).map(|_| Mutex::new(None)).collect(),
            busy: (0..count).map(|_| AtomicBool::new(false)).collect(),
            spawned: (0..count).map(|core| AtomicBool::new(core == 0)).collect(),
            threads: (0..count).map(|_| AtomicU64::new(0)).collect(),
            spinning: host_cpus() > 1,
            machine_processors: online_cpus(),
            this: this.clone(),
        });
        CURRENT_CORE.with(|current| current.set(0));
        // SAFETY: pthread_self has no preconditions.
        cores.threads[0].store(unsafe { libc::pthread_self() }, Ordering::Release);
        Ok(cores)
    }

    /// Creates the host thread of context `core` unless it exists.
    fn spawn(&self, core: CoreId) -> Result<(), CoreError> {
        if self.spawned[core].swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let shared = self.this.upgrade().ok_or(CoreError::Exhausted)?;
        let spawned = std::thread::Builder::new()
            .name(format!("core{core}"))
            .spawn(move || shared.run_core(core));
        if spawned.is_err() {
            self.spawned[core].store(false, Ordering::Release);
            return Err(CoreError::Exhausted);
        }
        Ok(())
    }

    fn run_core(&self, core: CoreId) {
        CURRENT_CORE.with(|current| current.set(core));
        interrupt_stack();
        // SAFETY: pthread_self has no preconditions.
        self.threads[core].store(unsafe { libc::pthread_self() }, Ordering::Release);
        loop {
            let work = self.work[core].lock().take();
            match work {
                Some((entry, argument)) => {
                    entry(argument);
                    // A context that just ended a thread is the first one the kernel
                    // hands the next thread: the park's spin watches for it.
                    self.busy[core].store(false, Ordering::Release);
                }
                None => self.park(),
            }
        }
    }

    /// The park permit word of `core` (for waits on several words at once).
    pub fn permit(&self, core: CoreId) -> &AtomicU32 {
        &self.permits[core].0
    }
}

impl Cores for HostedCores {
    #[inline]
    fn count(&self) -> usize {
        self.permits.len()
    }

    // Inlined into the kernel's kcall path (a call through the GOT otherwise).
    #[inline]
    fn current(&self) -> CoreId {
        CURRENT_CORE.with(Cell::get)
    }

    fn start(&self, core: CoreId, entry: CoreEntry, argument: usize) -> Result<(), CoreError> {
        if core >= self.count() {
            return Err(CoreError::NoSuchCore);
        }
        if core == 0 {
            return Err(CoreError::MasterCore);
        }
        if self.busy[core]
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(CoreError::Busy);
        }
        *self.work[core].lock() = Some((entry, argument));
        if let Err(error) = self.spawn(core) {
            self.work[core].lock().take();
            self.busy[core].store(false, Ordering::Release);
            return Err(error);
        }
        self.unpark(core);
        Ok(())
    }

    fn park(&self) {
        let core = self.current();
        let Some(permit) = self.permits.get(core) else {
            std::thread::sleep(Duration::from_millis(1));
            return;
        };
        let spin = &self.spins[core].0;
        let budget = if self.spinning { spin.rounds() } else { 1 };
        for round in 0..budget {
            if permit.0.swap(0, Ordering::AcqRel) == 1 {
                return;
            }
            if round % YIELD_ROUNDS == YIELD_ROUNDS - 1 {
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            }
            std::hint::spin_loop();
        }
        let parked = clock_nanoseconds(libc::CLOCK_MONOTONIC);
        futex::wait(&permit.0, 0, Scope::Private, PARK_LIMIT);
        permit.0.store(0, Ordering::Release);
        spin.parked(clock_nanoseconds(libc::CLOCK_MONOTONIC).saturating_sub(parked));
    }

    fn unpark(&self, core: CoreId) {
        if let Some(permit) = self.permits.get(core)
            && permit.0.swap(1, Ordering::AcqRel) == 0
        {
            futex::wake(&permit.0, Scope::Private, 1);
        }
    }

    #[inline]
    fn cycles(&self) -> u64 {
        // SAFETY: RDTSC has no preconditions on x86_64 user mode.
        unsafe { core::arch::x86_64::_rdtsc() }
    }

    #[inline]
    fn machine_processors(&self) -> usize {
        self.machine_processors
    }

    fn spinning_pays(&self) -> bool {
        self.spinning
    }

    fn monotonic_nanoseconds(&self) -> u64 {
        clock_nanoseconds(libc::CLOCK_MONOTONIC)
    }

    fn wall_clock_nanoseconds(&self) -> u64 {
        clock_nanoseconds(libc::CLOCK_REALTIME)
    }

    fn thread_cpu_nanoseconds(&self) -> u64 {
        clock_nanoseconds(libc::CLOCK_THREAD_CPUTIME_ID)
    }

    fn park_timeout(&self, nanoseconds: u64) {
        let core = self.current();
        let Some(permit) = self.permits.get(core) else {
            std::thread::sleep(Duration::from_nanos(nanoseconds).min(PARK_LIMIT));
            return;
        };
        if permit.0.swap(0, Ordering::AcqRel) == 1 {
            return;
        }
        let limit = Duration::from_nanos(nanoseconds).min(PARK_LIMIT);
        futex::wait(&permit.0, 0, Scope::Private, limit);
        permit.0.store(0, Ordering::Release);
    }

    fn set_interrupt_hook(&self, hook: InterruptHook) {
        INTERRUPT_HOOK.store(hook as usize, Ordering::Release);
        // SAFETY: a zeroed sigaction with our handler, an empty mask, and flags for
        // the alternate stack and restarted system calls; installed once per process.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_interrupt
                as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(INTERRUPT_SIGNAL, &action, std::ptr::null_mut());
        }
    }

    fn set_fault_hook(&self, hook: FaultHook) {
        FAULT_HOOK.store(hook as usize, Ordering::Release);
        for signal in FAULT_SIGNALS {
            // SAFETY: a zeroed sigaction with our SA_SIGINFO handler on the alternate
            // stack (every context thread has one); installed once per process.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_fault
                    as extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void)
                    as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, std::ptr::null_mut());
            }
        }
    }

    fn interrupt(&self, core: CoreId) {
        let Some(thread) = self
            .threads
            .get(core)
            .map(|thread| thread.load(Ordering::Acquire))
        else {
            return;
        };
        if thread != 0 {
            // SAFETY: `thread` is the pthread_t of a context thread, which never exits
            // while the process lives.
            unsafe { libc::pthread_kill(thread, INTERRUPT_SIGNAL) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static RAN: AtomicUsize = AtomicUsize::new(0);

    fn bump(value: usize) {
        RAN.fetch_add(value, Ordering::SeqCst);
    }

    #[test]
    fn start_runs_work_on_user_cores_and_refuses_bad_cores() {
        let handle = std::thread::spawn(|| {
            let cores = HostedCores::boot(3).unwrap();
            assert_eq!(cores.current(), 0);
            assert_eq!(cores.start(0, bump, 1), Err(CoreError::MasterCore));
            assert_eq!(cores.start(3, bump, 1), Err(CoreError::NoSuchCore));
            cores.start(1, bump, 10).unwrap();
            cores.start(2, bump, 100).unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while RAN.load(Ordering::SeqCst) != 110 {
                assert!(std::time::Instant::now() < deadline, "cores did not run");
                std::thread::sleep(Duration::from_millis(1));
            }
            // An unpark before a park makes the park return at once.
            cores.unpark(0);
            cores.park();
        });
        handle.join().unwrap();
    }
}
