//! The machine's cores as the HAL's [`Cores`]: execution contexts, the kernel's
//! unit (it runs each of its threads on a context of its own and decides itself
//! which hold the cluster's user cores), switched on the physical cores.
//!
//! Context 0 is the boot (master) core's own flow and never leaves it. Contexts 1
//! to [`CONTEXTS`]` - 1` are kernel threads of their own (a 64 KiB stack each) that
//! the application processors run: each runs a scheduler that takes the next
//! runnable context from one queue, switches to it (`switch_context`: the
//! callee-saved registers, MXCSR and the x87 control word), and finalizes it when
//! it switches back (parked, or its entry returned). A park is a spin for a budget
//! on the context's permit, then (context 0) one `hlt` with interrupts on until an
//! IPI, or (another context) a switch back to the scheduler, which requeues it at
//! its unpark (or its timed park's deadline). A core with nothing to run halts
//! until a wake-up IPI or its timer (the nearest deadline). A park may end for
//! nothing, as the trait allows. Without application processors there is one
//! context, the master's.

use crate::machine::cycles;
use crate::smp;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use nanvix_hal::{
    CoreEntry, CoreError, CoreId, Cores, FaultHook, InterruptHook, InterruptOutcome, UserMode,
};

/// The most physical cores (the boot core and the boot code's application
/// processor stacks).
pub const PHYSICAL_MAX: usize = smp::APPLICATION_PROCESSORS_MAX + 1;
/// Execution contexts: the master's and one per thread a cluster may have.
pub const CONTEXTS: usize = nanvix_abi::THREADS_MAX + 1;
/// Rounds a parking context checks its permit before it halts or switches.
const SPIN_ROUNDS: u32 = 2_000;
/// Longest a core with nothing to run halts before it looks again, in nanoseconds
/// (deadlines and wake-ups end it sooner; this bounds the damage of a lost one).
const IDLE_HALT_NANOSECONDS: u64 = 100_000_000;
/// A context's time slice on an application processor while others wait to run,
/// in nanoseconds (the kernel keeps its own, longer, slices for user cores).
const SLICE_NANOSECONDS: u32 = 10_000_000;
/// Longest a park lasts (it may end for nothing: callers look again).
const PARK_LIMIT_NANOSECONDS: u64 = 1_000_000_000;
/// No context (a physical core in its scheduler).
const NONE: usize = usize::MAX;

/// A context's states.
const ABSENT: u8 = 0;
const IDLE: u8 = 1;
/// A start request is being written (the entry and argument).
const CLAIMED: u8 = 2;
const RUNNABLE: u8 = 3;
const RUNNING: u8 = 4;
/// Switching back to its scheduler to park, then parked.
const PARKING: u8 = 5;
const PARKED: u8 = 6;
/// Its entry returned: switching back to its scheduler for good.
const ENDING: u8 = 7;
/// Switching back to its scheduler to let a runnable context have its core: it
/// is runnable again behind the others.
const YIELDING: u8 = 8;

/// One context.
struct Context {
    state: AtomicU8,
    permit: AtomicBool,
    /// The entry (a `fn(usize)` as an address) and its argument.
    entry: AtomicUsize,
    argument: AtomicUsize,
    /// Its stack pointer while switched out.
    saved_stack: AtomicU64,
    /// The physical core it runs on (while running).
    physical: AtomicUsize,
    /// When its timed park ends, in monotonic nanoseconds (0: not timed).
    deadline: AtomicU64,
}

impl Context {
    const fn new() -> Context {
        Context {
            state: AtomicU8::new(ABSENT),
            permit: AtomicBool::new(false),
            entry: AtomicUsize::new(0),
            argument: AtomicUsize::new(0),
            saved_stack: AtomicU64::new(0),
            physical: AtomicUsize::new(0),
            deadline: AtomicU64::new(0),
        }
    }
}

/// One physical core.
struct Physical {
    apic_id: AtomicU32,
    present: AtomicBool,
    /// The context it runs ([`NONE`]: its scheduler; 0, context 0's number, until
    /// the core registers, so that the cores' table starts as zeros, in bss).
    running: AtomicUsize,
    /// Whether it halts with nothing to run.
    halted: AtomicBool,
    /// Its scheduler's stack pointer while a context runs.
    scheduler_stack: AtomicU64,
    /// The cycle counter when its context started running.
    since: AtomicU64,
}

impl Physical {
    const fn new() -> Physical {
        Physical {
            apic_id: AtomicU32::new(0),
            present: AtomicBool::new(false),
            running: AtomicUsize::new(0),
            halted: AtomicBool::new(false),
            scheduler_stack: AtomicU64::new(0),
            since: AtomicU64::new(0),
        }
    }
}

/// The runnable contexts, oldest first.
struct RunQueue {
    items: [u8; CONTEXTS],
    head: usize,
    length: usize,
}

/// The cores.
pub struct QemuCores {
    contexts: [Context; CONTEXTS],
    physicals: [Physical; PHYSICAL_MAX],
    /// The physical core of each local APIC id (plus one; 0: none).
    by_apic_id: [AtomicU8; 256],
    /// Physical cores registered.
    physical_count: AtomicUsize,
    queue: spin::Mutex<RunQueue>,
    /// The interrupt hook (an `InterruptHook` as an address; 0: none).
    hook: AtomicUsize,
}

/// The machine's cores.
pub static CORES: QemuCores = QemuCores {
    contexts: [const { Context::new() }; CONTEXTS],
    physicals: [const { Physical::new() }; PHYSICAL_MAX],
    by_apic_id: [const { AtomicU8::new(0) }; 256],
    physical_count: AtomicUsize::new(0),
    queue: spin::Mutex::new(RunQueue {
        items: [0; CONTEXTS],
        head: 0,
        length: 0,
    }),
    hook: AtomicUsize::new(0),
};

/// A context's stack (of 16-byte words: aligned as the ABI wants).
type ContextStack = [u128; 4096];
/// The stacks of contexts 1 and up.
static mut CONTEXT_STACKS: [ContextStack; CONTEXTS - 1] = [[0; 4096]; CONTEXTS - 1];

unsafe extern "C" {
    /// Saves the callee-saved state on the current stack, its pointer at `save`,
    /// and goes on with the state saved at `resume` (boot code).
    fn switch_context(save: *mut u64, resume: u64);
    /// Where a new context starts: calls `context_main(r12)`.
    fn context_start();
}

/// `Cores::interrupt`'s IPI, on the interrupted core (from the boot code's
/// interrupt_request, registers and SSE state saved; `code_segment` the interrupted
/// CS): acknowledges, runs the hook for the context it interrupted, and ends the
/// interrupted program when the hook says so and a program (ring 3) was
/// interrupted; otherwise returns to it.
#[unsafe(no_mangle)]
extern "C" fn interrupted(code_segment: u64) {
    smp::end_of_interrupt();
    let address = CORES.hook.load(Ordering::Acquire);
    let context = CORES.current();
    if address == 0 || context == NONE {
        return;
    }
    // SAFETY: `set_interrupt_hook` stores only an `InterruptHook` as this address.
    let hook: InterruptHook = unsafe { core::mem::transmute::<usize, InterruptHook>(address) };
    match hook(context) {
        InterruptOutcome::EndThread(value) if code_segment & 3 == 3 => {
            crate::user::USER_MODE.leave(value)
        }
        _ => {}
    }
}

/// A kick (another core's IPI, or this core's slice timer; from the boot code's
/// kick_request, registers and SSE state saved): when it interrupted program code
/// and a context waits to run, the interrupted context lets it have the core (it
/// is runnable again behind it); while contexts wait, the next slice is armed.
#[unsafe(no_mangle)]
extern "C" fn kicked(code_segment: u64) {
    smp::end_of_interrupt();
    let context = CORES.current();
    if context == NONE || context == 0 || !CORES.queued() {
        return;
    }
    if code_segment & 3 == 3 {
        CORES.switch_out(context, YIELDING);
    } else {
        smp::arm_slice(SLICE_NANOSECONDS);
    }
}

/// A new context's first Rust code (from `context_start`): runs its entry, then
/// switches back to its scheduler for good.
#[unsafe(no_mangle)]
extern "C" fn context_main(context: usize) -> ! {
    let slot = &CORES.contexts[context];
    let address = slot.entry.load(Ordering::Acquire);
    // SAFETY: `start` stores only a `CoreEntry` (a `fn(usize)`) as this address,
    // before it makes the context runnable (its scheduler read the state after).
    let entry: CoreEntry = unsafe { core::mem::transmute::<usize, CoreEntry>(address) };
    entry(slot.argument.load(Ordering::Relaxed));
    CORES.switch_out(context, ENDING);
    unreachable!("an ended context was resumed")
}

impl QemuCores {
    /// Records the calling core as physical core `physical` (0: the boot core,
    /// which runs context 0).
    pub fn register(&self, physical: usize) {
        let Some(slot) = self.physicals.get(physical) else {
            return;
        };
        let id = smp::local_apic_id();
        slot.apic_id.store(id, Ordering::Relaxed);
        if let Some(entry) = self.by_apic_id.get(id as usize) {
            entry.store(physical as u8 + 1, Ordering::Release);
        }
        if physical == 0 {
            slot.running.store(0, Ordering::Relaxed);
            self.contexts[0].state.store(RUNNING, Ordering::Release);
        } else {
            slot.running.store(NONE, Ordering::Relaxed);
            // The first application processor makes the other contexts real.
            for context in &self.contexts[1..] {
                let _ = context.state.compare_exchange(
                    ABSENT,
                    IDLE,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
        }
        slot.present.store(true, Ordering::Release);
        self.physical_count
            .fetch_max(physical + 1, Ordering::AcqRel);
    }

    /// The physical core running the caller.
    pub fn physical(&self) -> usize {
        let id = smp::local_apic_id() as usize;
        self.by_apic_id
            .get(id)
            .map_or(0, |entry| entry.load(Ordering::Acquire) as usize)
            .saturating_sub(1)
    }

    /// Physical cores registered.
    pub fn physical_count(&self) -> usize {
        self.physical_count.load(Ordering::Acquire)
    }

    /// Sends physical core `physical` a TLB shootdown (`paging`).
    pub fn shoot_down(&self, physical: usize) {
        if let Some(slot) = self
            .physicals
            .get(physical)
            .filter(|slot| slot.present.load(Ordering::Acquire))
        {
            smp::shoot_down(slot.apic_id.load(Ordering::Relaxed));
        }
    }

    /// Queues `context` to run and wakes a halted application processor; when none
    /// is halted, kicks the one whose context has run longest (not the caller's):
    /// if that context runs program code, it lets the queued one have the core (a
    /// context must run kernel code to ask the kernel for a user core at all).
    fn make_runnable(&self, context: usize) {
        {
            let mut queue = self.queue.lock();
            let at = (queue.head + queue.length) % CONTEXTS;
            queue.items[at] = context as u8;
            queue.length += 1;
        }
        let processors = &self.physicals[1..self.physical_count().max(1)];
        if let Some(slot) = processors
            .iter()
            .find(|slot| slot.halted.load(Ordering::SeqCst))
        {
            smp::wake(slot.apic_id.load(Ordering::Relaxed));
            return;
        }
        let me = self.physical();
        let longest = processors
            .iter()
            .enumerate()
            .filter(|(index, slot)| index + 1 != me && slot.running.load(Ordering::Acquire) != NONE)
            .min_by_key(|(_, slot)| slot.since.load(Ordering::Relaxed));
        if let Some((_, slot)) = longest {
            smp::kick(slot.apic_id.load(Ordering::Relaxed));
        }
    }

    /// A kernel lock's waiter, after its spin: on the master's core a halt of
    /// `nanoseconds` (the timer, or an IPI, ends it); on another core, the core for
    /// a context that waits to run, else a spin with a moment for interrupts (its
    /// timer is its slice's; a TLB shootdown must get through). The context's
    /// permit is left alone: an unpark meant for its next park stays.
    pub fn wait_for_lock(&self, nanoseconds: u32) {
        let context = self.current();
        if context == 0 || context == NONE {
            smp::sleep(nanoseconds);
        } else if self.queued() {
            self.switch_out(context, YIELDING);
        } else {
            for _ in 0..SPIN_ROUNDS {
                core::hint::spin_loop();
            }
            smp::take_interrupts();
        }
    }

    /// Whether a context waits to run.
    fn queued(&self) -> bool {
        self.queue.lock().length > 0
    }

    /// The oldest runnable context.
    fn next_runnable(&self) -> Option<usize> {
        let mut queue = self.queue.lock();
        if queue.length == 0 {
            return None;
        }
        let context = queue.items[queue.head] as usize;
        queue.head = (queue.head + 1) % CONTEXTS;
        queue.length -= 1;
        Some(context)
    }

    /// Parked contexts whose deadline passed are runnable again; the nearest
    /// deadline still ahead, in nanoseconds from now.
    fn wake_expired(&self) -> Option<u64> {
        let now = smp::nanoseconds(cycles());
        let mut nearest: Option<u64> = None;
        for (index, context) in self.contexts.iter().enumerate().skip(1) {
            let deadline = context.deadline.load(Ordering::Acquire);
            if deadline == 0 || context.state.load(Ordering::Acquire) != PARKED {
                continue;
            }
            if deadline <= now {
                if context
                    .state
                    .compare_exchange(PARKED, RUNNABLE, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    self.make_runnable(index);
                }
            } else {
                let left = deadline - now;
                nearest = Some(nearest.map_or(left, |nearest| nearest.min(left)));
            }
        }
        nearest
    }

    /// Switches the calling context (not the master's) back to its physical core's
    /// scheduler, leaving it in `state`; returns when the context runs again (on
    /// whichever physical core), with the per-core user-mode state it had.
    fn switch_out(&self, context: usize, state: u8) {
        let physical = self.physical();
        let user_state = crate::user::core_state(physical);
        let slot = &self.contexts[context];
        slot.state.store(state, Ordering::Release);
        let scheduler = self.physicals[physical]
            .scheduler_stack
            .load(Ordering::Acquire);
        // SAFETY: the scheduler's stack pointer was saved by its own switch to this
        // context (it waits there); this context's pointer is saved in its slot,
        // which only its scheduler reads after the switch.
        unsafe { switch_context(slot.saved_stack.as_ptr(), scheduler) };
        crate::user::set_core_state(self.physical(), user_state);
    }

    /// The scheduler of application processor `physical` (registered): runs
    /// runnable contexts, halting when there is none.
    pub fn schedule(&self, physical: usize) -> ! {
        let me = &self.physicals[physical];
        loop {
            let nearest = self.wake_expired();
            let Some(context) = self.next_runnable() else {
                me.halted.store(true, Ordering::SeqCst);
                if self.queue.lock().length == 0 {
                    let limit = nearest
                        .unwrap_or(IDLE_HALT_NANOSECONDS)
                        .min(IDLE_HALT_NANOSECONDS);
                    smp::sleep(limit.max(1) as u32);
                }
                me.halted.store(false, Ordering::SeqCst);
                continue;
            };
            let slot = &self.contexts[context];
            slot.physical.store(physical, Ordering::Relaxed);
            slot.state.store(RUNNING, Ordering::Release);
            me.since.store(cycles(), Ordering::Relaxed);
            me.running.store(context, Ordering::Release);
            // Others wait: this context's turn ends with its slice.
            if self.queued() {
                smp::arm_slice(SLICE_NANOSECONDS);
            } else {
                smp::disarm();
            }
            // SAFETY: the context's stack pointer was saved at its switch out (or
            // prepared by `start`), and nothing else runs it: it left the queue here.
            unsafe {
                switch_context(
                    me.scheduler_stack.as_ptr(),
                    slot.saved_stack.load(Ordering::Acquire),
                )
            };
            me.running.store(NONE, Ordering::Release);
            match slot.state.load(Ordering::Acquire) {
                PARKING => {
                    slot.state.store(PARKED, Ordering::SeqCst);
                    if slot.permit.load(Ordering::SeqCst)
                        && slot
                            .state
                            .compare_exchange(PARKED, RUNNABLE, Ordering::AcqRel, Ordering::Relaxed)
                            .is_ok()
                    {
                        self.make_runnable(context);
                    }
                }
                ENDING => slot.state.store(IDLE, Ordering::Release),
                YIELDING => {
                    slot.state.store(RUNNABLE, Ordering::Release);
                    self.make_runnable(context);
                }
                _ => {}
            }
        }
    }

    /// Parks the calling context until `deadline` (monotonic nanoseconds) at most;
    /// spurious returns allowed.
    fn park_until(&self, deadline: u64) {
        let context = self.current();
        let Some(slot) = self.contexts.get(context) else {
            return;
        };
        for _ in 0..SPIN_ROUNDS {
            if slot.permit.swap(false, Ordering::Acquire) {
                return;
            }
            core::hint::spin_loop();
        }
        if context == 0 {
            // The master's core: one halt, which an IPI or the timer ends.
            if !slot.permit.swap(false, Ordering::Acquire) {
                let left = deadline.saturating_sub(smp::nanoseconds(cycles()));
                smp::sleep(left.clamp(1, u64::from(u32::MAX)) as u32);
                slot.permit.swap(false, Ordering::Acquire);
            }
            return;
        }
        slot.deadline.store(deadline, Ordering::Release);
        self.switch_out(context, PARKING);
        slot.deadline.store(0, Ordering::Release);
        slot.permit.swap(false, Ordering::Acquire);
    }
}

impl Cores for QemuCores {
    fn count(&self) -> usize {
        if self.physical_count() > 1 {
            CONTEXTS
        } else {
            1
        }
    }

    fn current(&self) -> CoreId {
        self.physicals
            .get(self.physical())
            .map_or(0, |slot| slot.running.load(Ordering::Acquire))
    }

    fn start(&self, core: CoreId, entry: CoreEntry, argument: usize) -> Result<(), CoreError> {
        if core == 0 {
            return Err(CoreError::MasterCore);
        }
        if core >= self.count() {
            return Err(CoreError::NoSuchCore);
        }
        let slot = &self.contexts[core];
        slot.state
            .compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .map_err(|_| CoreError::Busy)?;
        slot.entry.store(entry as usize, Ordering::Relaxed);
        slot.argument.store(argument, Ordering::Relaxed);
        slot.permit.store(false, Ordering::Relaxed);
        // A fresh stack: context_start's frame for switch_context (MXCSR and the
        // x87 control word, six callee-saved registers with r12 the context, the
        // return address), placed so that context_start calls with the stack
        // aligned as the ABI wants.
        let stacks = (&raw mut CONTEXT_STACKS).cast::<ContextStack>();
        let top = stacks.wrapping_add(core) as usize;
        let frame = top - 16 - 64;
        let words: [u64; 8] = [
            0x1f80 | 0x037f << 32,
            0,
            0,
            0,
            core as u64,
            0,
            0,
            context_start as *const () as u64,
        ];
        // SAFETY: the frame lies at the top of context `core`'s own stack, which
        // nothing uses while it is claimed (not running, not queued).
        unsafe { core::ptr::write(frame as *mut [u64; 8], words) };
        slot.saved_stack.store(frame as u64, Ordering::Release);
        slot.state.store(RUNNABLE, Ordering::Release);
        self.make_runnable(core);
        Ok(())
    }

    fn park(&self) {
        // Bounded, as on the hosted board: a wake-up lost to a bug costs a second.
        let now = smp::nanoseconds(cycles());
        self.park_until(now.saturating_add(PARK_LIMIT_NANOSECONDS));
    }

    fn park_timeout(&self, nanoseconds: u64) {
        let now = smp::nanoseconds(cycles());
        self.park_until(now.saturating_add(nanoseconds.max(1)));
    }

    fn unpark(&self, core: CoreId) {
        let Some(slot) = self.contexts.get(core) else {
            return;
        };
        slot.permit.store(true, Ordering::SeqCst);
        if core == 0 {
            if self.physical() != 0 {
                smp::wake(self.physicals[0].apic_id.load(Ordering::Relaxed));
            }
            return;
        }
        if slot
            .state
            .compare_exchange(PARKED, RUNNABLE, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.make_runnable(core);
        }
    }

    fn cycles(&self) -> u64 {
        cycles()
    }

    fn monotonic_nanoseconds(&self) -> u64 {
        smp::nanoseconds(cycles())
    }

    fn wall_clock_nanoseconds(&self) -> u64 {
        crate::clock::wall_clock_nanoseconds(smp::nanoseconds(cycles()))
    }

    fn set_fault_hook(&self, hook: FaultHook) {
        crate::exceptions::FAULT_HOOK.store(hook as usize, Ordering::Release);
    }

    fn set_interrupt_hook(&self, hook: InterruptHook) {
        self.hook.store(hook as usize, Ordering::Release);
    }

    fn interrupt(&self, core: CoreId) {
        let Some(slot) = self.contexts.get(core).filter(|_| core < self.count()) else {
            return;
        };
        if core == 0 {
            smp::interrupt(self.physicals[0].apic_id.load(Ordering::Relaxed));
            return;
        }
        // Only a running context can be interrupted (one that is not never runs
        // program code meanwhile); the IPI may find the core running another one,
        // whose hook then runs for nothing.
        if slot.state.load(Ordering::Acquire) == RUNNING {
            let physical = slot.physical.load(Ordering::Relaxed);
            smp::interrupt(self.physicals[physical].apic_id.load(Ordering::Relaxed));
        }
    }
}

/// The core each started entry ran on, plus one, by the argument it was given.
static RAN_ON: [AtomicUsize; CONTEXTS] = [const { AtomicUsize::new(0) }; CONTEXTS];
/// Entries that ended.
static ENDED: AtomicUsize = AtomicUsize::new(0);
/// Holds `hold` on its core while set.
static HOLD: AtomicBool = AtomicBool::new(false);

/// An entry: notes where it ran and wakes the boot core.
fn record(argument: usize) {
    if let Some(slot) = RAN_ON.get(argument) {
        slot.store(CORES.current() + 1, Ordering::Release);
    }
    ENDED.fetch_add(1, Ordering::AcqRel);
    CORES.unpark(0);
}

/// An entry that stays until [`HOLD`] drops.
fn hold(_: usize) {
    while HOLD.load(Ordering::Acquire) {
        CORES.park();
    }
    ENDED.fetch_add(1, Ordering::AcqRel);
    CORES.unpark(0);
}

/// Waits on the boot core until `count` entries ended in all.
fn wait_for_ended(count: usize) {
    nanvix_hal::spin_then_park(&CORES, SPIN_ROUNDS, || {
        ENDED.load(Ordering::Acquire) >= count
    });
}

/// Exercises the HAL contract on the online cores (from the boot core): the master
/// core and a core past the count are refused; every other core runs an entry and
/// knows itself (`current`); a core running an entry is busy, and runs the next
/// after it returns; parks end at unparks. Says each result; whether all held.
pub fn exercise() -> bool {
    let count = CORES.count();
    let mut held = true;
    let mut check = |what: &str, good: bool| {
        crate::say!(
            "nanvix-qemu: cores: {}: {}",
            what,
            if good { "ok" } else { "FAILED" }
        );
        held &= good;
    };
    check(
        "the master core is not started",
        CORES.start(0, record, 0) == Err(CoreError::MasterCore),
    );
    check(
        "a core past the count is no such core",
        CORES.start(count, record, 0) == Err(CoreError::NoSuchCore),
    );
    for core in 1..count {
        let _ = CORES.start(core, record, core);
    }
    wait_for_ended(count - 1);
    let knew = (1..count).all(|core| RAN_ON[core].load(Ordering::Acquire) == core + 1);
    check("every other core ran its entry and knew itself", knew);
    if count > 1 {
        HOLD.store(true, Ordering::Release);
        check("a core starts an entry", CORES.start(1, hold, 0).is_ok());
        check(
            "a core running an entry is busy",
            CORES.start(1, record, 1) == Err(CoreError::Busy),
        );
        HOLD.store(false, Ordering::Release);
        CORES.unpark(1);
        wait_for_ended(count);
        RAN_ON[1].store(0, Ordering::Release);
        check("it starts the next entry once the first returned", {
            // Idle again only once its scheduler marks it: retry a moment.
            let started = cycles();
            let mut result = CORES.start(1, record, 1);
            while result == Err(CoreError::Busy) && cycles().wrapping_sub(started) < 1_000_000_000 {
                core::hint::spin_loop();
                result = CORES.start(1, record, 1);
            }
            result.is_ok()
        });
        wait_for_ended(count + 1);
        check("and it ran there", RAN_ON[1].load(Ordering::Acquire) == 2);
    }
    crate::say!(
        "nanvix-qemu: cores: {} cores, {} contexts, the contract held: {}",
        CORES.physical_count(),
        count,
        held
    );
    held
}

/// What each core's program returned, plus one (0: not yet), by core.
static PROGRAM_RESULTS: [AtomicUsize; CONTEXTS] = [const { AtomicUsize::new(0) }; CONTEXTS];

/// An entry: runs [`crate::user::core_program`] in ring 3 on this core, notes what it
/// returned and wakes the boot core.
fn run_core_program(core: usize) {
    let value = crate::user::run(
        crate::user::core_program,
        core,
        crate::user::program_stack(),
    );
    if let Some(slot) = PROGRAM_RESULTS.get(core) {
        slot.store(value as usize + 1, Ordering::Release);
    }
    ENDED.fetch_add(1, Ordering::AcqRel);
    CORES.unpark(0);
}

/// Runs a program in ring 3 on as many contexts as there are cores at once (the
/// boot core's too) and checks that each returned its context's number.
pub fn run_programs_on_every_core() -> bool {
    let count = CORES.physical_count();
    let before = ENDED.load(Ordering::Acquire);
    for core in 1..count {
        let _ = CORES.start(core, run_core_program, core);
    }
    run_core_program(0);
    wait_for_ended(before + count);
    (0..count).all(|core| PROGRAM_RESULTS[core].load(Ordering::Acquire) == core + 1)
}

/// Interrupts the preemption check's program has taken.
static PREEMPTIONS: AtomicUsize = AtomicUsize::new(0);
/// Set once the preemption check's program ended.
static PREEMPTED: AtomicBool = AtomicBool::new(false);
/// The interrupt the hook ends the program at (the ones before resume it).
const PREEMPTION_ENDS_AT: usize = 4;

/// The preemption check's hook: resumes the interrupted program three times, ends
/// it the fourth.
fn preemption_hook(_: CoreId) -> InterruptOutcome {
    let taken = PREEMPTIONS.fetch_add(1, Ordering::AcqRel) + 1;
    if taken >= PREEMPTION_ENDS_AT {
        InterruptOutcome::EndThread(0xdead)
    } else {
        InterruptOutcome::Resume
    }
}

/// An entry: interrupts the boot core now and then until its program ended.
fn interrupter(_: usize) {
    while !PREEMPTED.load(Ordering::Acquire) {
        let started = cycles();
        while cycles().wrapping_sub(started) < 20_000_000 {
            core::hint::spin_loop();
        }
        CORES.interrupt(0);
    }
}

/// Runs a program that never ends on the boot core while core 1 interrupts it: the
/// hook resumes it three times and ends it the fourth. The program's value and the
/// interrupts taken.
pub fn preempt() -> (u64, usize) {
    CORES.set_interrupt_hook(preemption_hook);
    if CORES.start(1, interrupter, 0).is_err() {
        return (0, 0);
    }
    let value = crate::user::run(
        crate::user::spinning_program,
        0,
        crate::user::program_stack(),
    );
    PREEMPTED.store(true, Ordering::Release);
    (value, PREEMPTIONS.load(Ordering::Acquire))
}
