//! The machine's cores as the HAL's [`Cores`]: core 0 is the boot (master) core;
//! each application processor, once online, serves start requests: it parks until
//! [`Cores::start`] hands it an entry, runs it, and parks again. Parking is a spin
//! for a budget on the core's permit, then `hlt` with interrupts on until an
//! unpark's IPI (a permit set before the park makes it return at once; a park may
//! also end for nothing, as the trait allows).

use crate::machine::cycles;
use crate::smp;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicUsize, Ordering};
use nanvix_hal::{
    CoreEntry, CoreError, CoreId, Cores, FaultHook, InterruptHook, InterruptOutcome, UserMode,
};

/// The most cores (the boot core and the boot code's application processor stacks).
pub const CORES_MAX: usize = smp::APPLICATION_PROCESSORS_MAX + 1;
/// Rounds a parking core checks its permit before it halts.
const SPIN_ROUNDS: u32 = 2_000;

/// A core's states.
const ABSENT: u8 = 0;
const IDLE: u8 = 1;
/// A start request is being written (the entry and argument).
const CLAIMED: u8 = 2;
const STARTING: u8 = 3;
const RUNNING: u8 = 4;

/// One core's slot.
struct Slot {
    state: AtomicU8,
    apic_id: AtomicU32,
    permit: AtomicBool,
    /// The entry (a `fn(usize)` as an address) and its argument.
    entry: AtomicUsize,
    argument: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU8::new(ABSENT),
            apic_id: AtomicU32::new(0),
            permit: AtomicBool::new(false),
            entry: AtomicUsize::new(0),
            argument: AtomicUsize::new(0),
        }
    }
}

/// The cores.
pub struct QemuCores {
    slots: [Slot; CORES_MAX],
    count: AtomicUsize,
    /// The interrupt hook (an `InterruptHook` as an address; 0: none).
    hook: AtomicUsize,
}

/// The machine's cores.
pub static CORES: QemuCores = QemuCores {
    slots: [const { Slot::new() }; CORES_MAX],
    count: AtomicUsize::new(0),
    hook: AtomicUsize::new(0),
};

/// `Cores::interrupt`'s IPI, on the interrupted core (from the boot code's
/// interrupt_request, registers and SSE state saved; `code_segment` the interrupted
/// CS): acknowledges, runs the hook, and ends the interrupted program when the hook
/// says so and a program (ring 3) was interrupted; otherwise returns to it.
#[unsafe(no_mangle)]
extern "C" fn interrupted(code_segment: u64) {
    smp::end_of_interrupt();
    let address = CORES.hook.load(Ordering::Acquire);
    if address == 0 {
        return;
    }
    // SAFETY: `set_interrupt_hook` stores only an `InterruptHook` as this address.
    let hook: InterruptHook = unsafe { core::mem::transmute::<usize, InterruptHook>(address) };
    match hook(CORES.current()) {
        InterruptOutcome::EndThread(value) if code_segment & 3 == 3 => {
            crate::user::USER_MODE.leave(value)
        }
        _ => {}
    }
}

impl QemuCores {
    /// Sends `core` a TLB shootdown (`paging`).
    pub fn shoot_down(&self, core: CoreId) {
        if let Some(slot) = self.slots.get(core).filter(|_| core < self.count()) {
            smp::shoot_down(slot.apic_id.load(Ordering::Relaxed));
        }
    }

    /// Records the calling core as core `core` (0: the boot core, running; others
    /// idle, serving starts).
    pub fn register(&self, core: CoreId) {
        let Some(slot) = self.slots.get(core) else {
            return;
        };
        slot.apic_id.store(smp::local_apic_id(), Ordering::Relaxed);
        let state = if core == 0 { RUNNING } else { IDLE };
        slot.state.store(state, Ordering::Release);
        self.count.fetch_max(core + 1, Ordering::AcqRel);
    }
}

/// An application processor's life once online as core `core` (registered): runs
/// what it is started with, parked in between.
pub fn serve(core: CoreId) -> ! {
    let slot = &CORES.slots[core.min(CORES_MAX - 1)];
    loop {
        while slot.state.load(Ordering::Acquire) != STARTING {
            CORES.park();
        }
        slot.state.store(RUNNING, Ordering::Relaxed);
        let address = slot.entry.load(Ordering::Acquire);
        // SAFETY: `start` stores only a `CoreEntry` (a `fn(usize)`) as this
        // address, before it marks the slot STARTING (read above with Acquire).
        let entry: CoreEntry = unsafe { core::mem::transmute::<usize, CoreEntry>(address) };
        entry(slot.argument.load(Ordering::Relaxed));
        slot.state.store(IDLE, Ordering::Release);
    }
}

impl Cores for QemuCores {
    fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    fn current(&self) -> CoreId {
        let id = smp::local_apic_id();
        self.slots
            .iter()
            .take(self.count())
            .position(|slot| {
                slot.state.load(Ordering::Relaxed) != ABSENT
                    && slot.apic_id.load(Ordering::Relaxed) == id
            })
            .unwrap_or(0)
    }

    fn start(&self, core: CoreId, entry: CoreEntry, argument: usize) -> Result<(), CoreError> {
        if core == 0 {
            return Err(CoreError::MasterCore);
        }
        if core >= self.count() {
            return Err(CoreError::NoSuchCore);
        }
        let slot = &self.slots[core];
        slot.state
            .compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .map_err(|_| CoreError::Busy)?;
        slot.entry.store(entry as usize, Ordering::Relaxed);
        slot.argument.store(argument, Ordering::Relaxed);
        slot.state.store(STARTING, Ordering::Release);
        self.unpark(core);
        Ok(())
    }

    fn park(&self) {
        let slot = &self.slots[self.current()];
        for _ in 0..SPIN_ROUNDS {
            if slot.permit.swap(false, Ordering::Acquire) {
                return;
            }
            core::hint::spin_loop();
        }
        // One halt: the caller re-checks its condition (a park may end for nothing).
        if !slot.permit.swap(false, Ordering::Acquire) {
            smp::park();
            slot.permit.swap(false, Ordering::Acquire);
        }
    }

    fn unpark(&self, core: CoreId) {
        let Some(slot) = self.slots.get(core) else {
            return;
        };
        slot.permit.store(true, Ordering::Release);
        if core != self.current() {
            smp::wake(slot.apic_id.load(Ordering::Relaxed));
        }
    }

    fn cycles(&self) -> u64 {
        cycles()
    }

    fn park_timeout(&self, nanoseconds: u64) {
        let slot = &self.slots[self.current()];
        for _ in 0..SPIN_ROUNDS {
            if slot.permit.swap(false, Ordering::Acquire) {
                return;
            }
            core::hint::spin_loop();
        }
        // One halt, which the local APIC timer ends if nothing else does first.
        if !slot.permit.swap(false, Ordering::Acquire) {
            smp::sleep(nanoseconds.clamp(1, u64::from(u32::MAX)) as u32);
            slot.permit.swap(false, Ordering::Acquire);
        }
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
        if let Some(slot) = self.slots.get(core).filter(|_| core < self.count()) {
            smp::interrupt(slot.apic_id.load(Ordering::Relaxed));
        }
    }
}

/// The core each started entry ran on, plus one, by the argument it was given.
static RAN_ON: [AtomicUsize; CORES_MAX] = [const { AtomicUsize::new(0) }; CORES_MAX];
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
            "nanvix-qemu: cores: {what}: {}",
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
            // Idle again only once `serve` marks it: retry a moment.
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
    crate::say!("nanvix-qemu: cores: {count} cores, the contract held: {held}");
    held
}

/// What each core's program returned, plus one (0: not yet), by core.
static PROGRAM_RESULTS: [AtomicUsize; CORES_MAX] = [const { AtomicUsize::new(0) }; CORES_MAX];

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

/// Runs a program in ring 3 on every core at once (the boot core's too) and checks
/// that each returned its core's number.
pub fn run_programs_on_every_core() -> bool {
    let count = CORES.count();
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
