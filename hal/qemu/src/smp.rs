//! The other cores: their count from QEMU's firmware configuration device, each
//! started with INIT-SIPI-SIPI through the local APIC into the real-mode trampoline
//! at 0x8000, which takes it to long mode on the boot core's page tables; each says
//! it is online and serves start requests ([`crate::cores`]), parked (`hlt` with
//! interrupts on) until an inter-processor interrupt; and the boot core's park
//! until its local APIC timer fires.

use crate::machine::{cycles, in_byte, out_word};
use crate::say;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// QEMU's fw_cfg selector port, and its data port.
const FW_CFG_SELECTOR: u16 = 0x510;
const FW_CFG_DATA: u16 = 0x511;
/// The fw_cfg item: the number of CPUs (16 bits).
const FW_CFG_CPU_COUNT: u16 = 0x05;
/// The local APIC's registers (identity-mapped).
const LOCAL_APIC: usize = 0xfee0_0000;
const APIC_ID: usize = 0x20;
const APIC_SPURIOUS: usize = 0xf0;
const APIC_COMMAND_LOW: usize = 0x300;
const APIC_COMMAND_HIGH: usize = 0x310;
/// INIT, asserted, to every core but this one.
const COMMAND_INIT: u32 = 0x000c_4500;
/// STARTUP to every core but this one, at page 8 (0x8000).
const COMMAND_STARTUP: u32 = 0x000c_4608;
/// The command register's delivery-pending bit.
const DELIVERY_PENDING: u32 = 1 << 12;
/// Where the trampoline runs.
const TRAMPOLINE: usize = 0x8000;
/// Most application processors (the boot code's stacks).
pub const APPLICATION_PROCESSORS_MAX: usize = 63;
/// How long the boot core waits after INIT, and for the cores to come, in counter
/// cycles.
const INIT_WAIT_CYCLES: u64 = 10_000_000;
const ONLINE_WAIT_CYCLES: u64 = 4_000_000_000;

/// Application processors that said they are online.
static ONLINE: AtomicUsize = AtomicUsize::new(0);
/// The local APIC's end-of-interrupt, timer and its configuration registers.
const APIC_TIMER: usize = 0x320;
const APIC_TIMER_INITIAL: usize = 0x380;
const APIC_TIMER_DIVIDE: usize = 0x3e0;
const APIC_END_OF_INTERRUPT: usize = 0xb0;
/// The timer's periodic mode bit.
const TIMER_PERIODIC: u32 = 1 << 17;
/// Fixed delivery to one core by its APIC id (in the high word).
const COMMAND_FIXED: u32 = 0x0000_4000;

unsafe extern "C" {
    static ap_trampoline: u8;
    static ap_trampoline_end: u8;
    static ap_trampoline_cr3: u8;
    fn park_core();
}

/// Parks the calling core until an interrupt (a wake-up IPI or its timer): one
/// `hlt` with interrupts on.
pub fn park() {
    // SAFETY: park_core enables interrupts for one `hlt` only; the gates it may take
    // (wake-up, timer) only acknowledge the local APIC and return.
    unsafe { park_core() }
}

/// Enables the calling core's local APIC (spurious vector 0xff, software enable).
fn enable_local_apic() {
    apic_write(APIC_SPURIOUS, apic_read(APIC_SPURIOUS) | 0x1ff);
}

fn apic_read(register: usize) -> u32 {
    // SAFETY: the local APIC's registers are identity-mapped MMIO; a 32-bit read of
    // one has no effect but the read.
    unsafe { core::ptr::read_volatile((LOCAL_APIC + register) as *const u32) }
}

fn apic_write(register: usize, value: u32) {
    // SAFETY: as in `apic_read`; the registers written are the spurious vector and
    // the interrupt command, which start cores.
    unsafe { core::ptr::write_volatile((LOCAL_APIC + register) as *mut u32, value) }
}

/// The CPUs QEMU's machine has (1 if fw_cfg says nothing).
fn cpu_count() -> usize {
    out_word(FW_CFG_SELECTOR, FW_CFG_CPU_COUNT);
    let low = in_byte(FW_CFG_DATA) as usize;
    let high = in_byte(FW_CFG_DATA) as usize;
    (low | high << 8).max(1)
}

/// Spins for `count` counter cycles.
fn spin_for(count: u64) {
    let start = cycles();
    while cycles().wrapping_sub(start) < count {
        core::hint::spin_loop();
    }
}

/// Sends an interrupt command and waits until it is delivered.
fn command(value: u32) {
    command_to(0, value);
}

/// Sends an interrupt command to the core of APIC id `id` (ignored by shorthands).
fn command_to(id: u32, value: u32) {
    apic_write(APIC_COMMAND_HIGH, id << 24);
    apic_write(APIC_COMMAND_LOW, value);
    while apic_read(APIC_COMMAND_LOW) & DELIVERY_PENDING != 0 {
        core::hint::spin_loop();
    }
}

/// Starts every application processor and waits (bounded) until each says it is
/// online: (online, expected).
pub fn start_application_processors() -> (usize, usize) {
    let expected = (cpu_count() - 1).min(APPLICATION_PROCESSORS_MAX);
    if expected == 0 {
        return (0, 0);
    }
    // SAFETY: the trampoline's bytes are the boot code's (read-only data); 0x8000
    // is free low memory (identity-mapped, below the kernel at 1 MiB) that nothing
    // else uses; the page-table root patched in is this core's, which maps the
    // kernel for every core.
    unsafe {
        let start = core::ptr::addr_of!(ap_trampoline);
        let length = core::ptr::addr_of!(ap_trampoline_end) as usize - start as usize;
        core::ptr::copy_nonoverlapping(start, TRAMPOLINE as *mut u8, length);
        let root: u64;
        core::arch::asm!("mov {}, cr3", out(reg) root, options(nomem, nostack));
        let at = core::ptr::addr_of!(ap_trampoline_cr3) as usize - start as usize;
        core::ptr::write_volatile((TRAMPOLINE + at) as *mut u32, root as u32);
    }
    enable_local_apic();
    command(COMMAND_INIT);
    spin_for(INIT_WAIT_CYCLES);
    command(COMMAND_STARTUP);
    spin_for(INIT_WAIT_CYCLES / 50);
    command(COMMAND_STARTUP);
    let started = cycles();
    while ONLINE.load(Ordering::Acquire) < expected
        && cycles().wrapping_sub(started) < ONLINE_WAIT_CYCLES
    {
        core::hint::spin_loop();
    }
    (ONLINE.load(Ordering::Acquire), expected)
}

/// An application processor's Rust entry (`index` from 0), from the boot code's
/// ap_entry64 on its own stack: it becomes core `index + 1`.
#[unsafe(no_mangle)]
extern "C" fn ap_main(index: u32) -> ! {
    crate::exceptions::load();
    enable_local_apic();
    let core = index as usize + 1;
    crate::cores::CORES.register(core);
    crate::user::load(core);
    say!(
        "nanvix-qemu: application processor {} online as core {}, APIC id {}",
        index,
        core,
        local_apic_id()
    );
    ONLINE.fetch_add(1, Ordering::Release);
    // Runs the contexts started (in `smp` mode none is), halted meanwhile.
    crate::cores::CORES.schedule(core)
}

/// The calling core's local APIC id.
pub fn local_apic_id() -> u32 {
    apic_read(APIC_ID) >> 24
}

/// Sends the wake-up IPI to the core of local APIC id `id`.
pub fn wake(id: u32) {
    command_to(
        id,
        COMMAND_FIXED | u32::from(crate::exceptions::WAKEUP_VECTOR),
    );
}

/// Parks the calling core with its local APIC timer armed for `count` timer ticks
/// (one-shot, undivided): the timer's interrupt ends the park. The counter cycles
/// it took.
pub fn sleep(count: u32) -> u64 {
    enable_local_apic();
    apic_write(APIC_TIMER_DIVIDE, 0xb);
    apic_write(APIC_TIMER, u32::from(crate::exceptions::TIMER_VECTOR));
    let started = cycles();
    apic_write(APIC_TIMER_INITIAL, count);
    park();
    cycles().wrapping_sub(started)
}

/// Arms the calling core's local APIC timer to raise the kick vector once, after
/// `count` timer ticks (one-shot, undivided): a time slice's end.
pub fn arm_slice(count: u32) {
    enable_local_apic();
    apic_write(APIC_TIMER_DIVIDE, 0xb);
    apic_write(APIC_TIMER, u32::from(crate::exceptions::KICK_VECTOR));
    apic_write(APIC_TIMER_INITIAL, count);
}

/// Stops the calling core's local APIC timer.
pub fn disarm() {
    apic_write(APIC_TIMER_INITIAL, 0);
}

/// Counter cycles in [`CALIBRATION_NANOSECONDS`] (0: not calibrated yet).
static CYCLES_PER_CALIBRATION: AtomicU64 = AtomicU64::new(0);
/// How long [`calibrate`] sleeps: the local APIC timer counts nanoseconds (QEMU's
/// APIC bus runs at 1 GHz; undivided).
const CALIBRATION_NANOSECONDS: u32 = 10_000_000;

/// Measures the cycle counter's rate against the local APIC timer (on the boot
/// core, before the other cores run anything that could wake it early).
pub fn calibrate() {
    let cycles = sleep(CALIBRATION_NANOSECONDS).max(1);
    CYCLES_PER_CALIBRATION.store(cycles, Ordering::Release);
}

/// `cycles` of the counter in nanoseconds (0 before [`calibrate`]).
pub fn nanoseconds(cycles: u64) -> u64 {
    let per = CYCLES_PER_CALIBRATION.load(Ordering::Acquire);
    if per == 0 {
        return 0;
    }
    (u128::from(cycles) * u128::from(CALIBRATION_NANOSECONDS) / u128::from(per)) as u64
}

/// Ticks the boot core took.
static TICKS: AtomicUsize = AtomicUsize::new(0);

/// The tick interrupt's Rust part (from the boot code's tick_interrupt, registers
/// and SSE state saved; `_code_segment` the interrupted CS): counts and
/// acknowledges.
#[unsafe(no_mangle)]
extern "C" fn tick(_code_segment: u64) {
    TICKS.fetch_add(1, Ordering::Relaxed);
    end_of_interrupt();
}

/// The ticks so far.
pub fn ticks() -> usize {
    TICKS.load(Ordering::Relaxed)
}

/// Starts (with `Some(count)`: every `count` timer ticks, undivided) or stops the
/// calling core's periodic tick.
pub fn periodic_tick(count: Option<u32>) {
    enable_local_apic();
    apic_write(APIC_TIMER_DIVIDE, 0xb);
    match count {
        Some(count) => {
            apic_write(
                APIC_TIMER,
                u32::from(crate::exceptions::TICK_VECTOR) | TIMER_PERIODIC,
            );
            apic_write(APIC_TIMER_INITIAL, count);
        }
        None => apic_write(APIC_TIMER_INITIAL, 0),
    }
}

/// Runs `work` with interrupts on (the tick comes in the middle of it), then off
/// again.
pub fn with_interrupts<T>(work: impl FnOnce() -> T) -> T {
    // SAFETY: every gate from vector 32 runs on the core's interrupt stack and
    // preserves what it interrupts (the tick saves every call-clobbered register and
    // the SSE state; the others touch no register but their own saved ones).
    unsafe { core::arch::asm!("sti", options(nomem, nostack)) };
    let value = work();
    // SAFETY: turns interrupts off again, as the kernel runs.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
    value
}

/// Lets the calling core take the interrupts waiting for it (kernel code runs with
/// interrupts off): one instruction with them on.
pub fn take_interrupts() {
    // SAFETY: every gate preserves what it interrupts (see `with_interrupts`), and
    // a handler that interrupts kernel code never switches contexts.
    unsafe { core::arch::asm!("sti", "nop", "cli", options(nomem, nostack)) };
}

/// Acknowledges the interrupt in service on the calling core.
pub fn end_of_interrupt() {
    apic_write(APIC_END_OF_INTERRUPT, 0);
}

/// Sends `Cores::interrupt`'s IPI to the core of local APIC id `id`.
pub fn interrupt(id: u32) {
    command_to(
        id,
        COMMAND_FIXED | u32::from(crate::exceptions::INTERRUPT_VECTOR),
    );
}

/// Sends a kick (a runnable context waits for a core) to the core of local APIC
/// id `id`.
pub fn kick(id: u32) {
    command_to(
        id,
        COMMAND_FIXED | u32::from(crate::exceptions::KICK_VECTOR),
    );
}

/// Sends a TLB shootdown's IPI to the core of local APIC id `id`.
pub fn shoot_down(id: u32) {
    command_to(
        id,
        COMMAND_FIXED | u32::from(crate::exceptions::SHOOTDOWN_VECTOR),
    );
}
