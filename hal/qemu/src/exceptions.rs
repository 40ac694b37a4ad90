//! The CPU's exceptions and the wake-up interrupts: an IDT whose 32 exception gates
//! go to the boot code's stubs, a program's fault handed to the HAL's fault hook
//! (retried, or the program ended) and the report of an exception (vector, error
//! code, where, the faulting address), which ends the machine with failure (or the
//! program, for a fault in ring 3 without a hook), and the gates of the wake-up IPI and the local
//! APIC timer, which only end a parked core's `hlt`. The kernel runs with
//! interrupts off but inside `park_core`.

use crate::cores::CORES;
use core::sync::atomic::{AtomicUsize, Ordering};
use nanvix_abi::FaultKind;
use nanvix_hal::{Cores, Fault, FaultAccess, FaultHook, FaultOutcome, UserMode};

/// One IDT gate (16 bytes).
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    stack_table: u8,
    attributes: u8,
    offset_middle: u16,
    offset_high: u32,
    reserved: u32,
}

/// The kernel's code segment (the boot GDT's 0x08).
const KERNEL_CODE: u16 = 0x08;
/// Present, ring 0, 64-bit interrupt gate.
const INTERRUPT_GATE: u8 = 0x8e;
/// Exceptions: the first 32 vectors.
const EXCEPTIONS: usize = 32;
/// The vector of the wake-up inter-processor interrupt.
pub const WAKEUP_VECTOR: u8 = 0x40;
/// The vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 0x41;
/// The vector of the periodic tick (the local APIC timer in periodic mode).
pub const TICK_VECTOR: u8 = 0x42;
/// The vector of `Cores::interrupt`'s IPI.
pub const INTERRUPT_VECTOR: u8 = 0x43;
/// The vector of a TLB shootdown's IPI (`paging`).
pub const SHOOTDOWN_VECTOR: u8 = 0x44;
/// The vector of a kick (`cores`: a runnable context waits for a core).
pub const KICK_VECTOR: u8 = 0x45;
/// The local APICs' spurious vector (their spurious-interrupt register's).
pub const SPURIOUS_VECTOR: u8 = 0xff;
/// Gates: every vector.
const GATES: usize = 256;

/// The table `lidt` points at (written once, before it is loaded).
static mut TABLE: [Gate; GATES] = [Gate {
    offset_low: 0,
    selector: 0,
    stack_table: 0,
    attributes: 0,
    offset_middle: 0,
    offset_high: 0,
    reserved: 0,
}; GATES];

unsafe extern "C" {
    /// The boot code's stub addresses, by vector.
    static exception_stubs: [u64; EXCEPTIONS];
    fn wakeup_interrupt();
    fn spurious_interrupt();
    fn tick_interrupt();
    fn interrupt_request();
    fn shootdown_interrupt();
    fn kick_request();
}

/// The interrupt stack table entry interrupts (vectors from 32) run on: each core's
/// TSS names its own stack there (`user::install`), so an interrupt that comes in
/// kernel code leaves the interrupted function's red zone alone (the prebuilt `core`
/// keeps one).
const INTERRUPT_STACK: u8 = 1;

/// A gate to `handler`.
fn gate(handler: u64) -> Gate {
    Gate {
        offset_low: handler as u16,
        selector: KERNEL_CODE,
        stack_table: 0,
        attributes: INTERRUPT_GATE,
        offset_middle: (handler >> 16) as u16,
        offset_high: (handler >> 32) as u32,
        reserved: 0,
    }
}

/// Fills the IDT with the stubs and loads it (on the calling core).
pub fn install() {
    // SAFETY: the stub table is the boot code's, 32 addresses, never written.
    let stubs = unsafe { &*core::ptr::addr_of!(exception_stubs) };
    // SAFETY: only the boot core calls this, once, before any core loads the
    // table; nothing else holds a reference to it.
    let table = unsafe { &mut *core::ptr::addr_of_mut!(TABLE) };
    for (entry, stub) in table.iter_mut().zip(stubs) {
        *entry = gate(*stub);
    }
    // Every other vector only acknowledges, as a wake-up does; the spurious one
    // (which the local APIC does not count as in service) only returns.
    let on_interrupt_stack = |handler: u64| Gate {
        stack_table: INTERRUPT_STACK,
        ..gate(handler)
    };
    let wakeup = on_interrupt_stack(wakeup_interrupt as *const () as u64);
    for entry in table.iter_mut().skip(EXCEPTIONS) {
        *entry = wakeup;
    }
    table[TICK_VECTOR as usize] = on_interrupt_stack(tick_interrupt as *const () as u64);
    table[INTERRUPT_VECTOR as usize] = on_interrupt_stack(interrupt_request as *const () as u64);
    table[SHOOTDOWN_VECTOR as usize] = on_interrupt_stack(shootdown_interrupt as *const () as u64);
    table[KICK_VECTOR as usize] = on_interrupt_stack(kick_request as *const () as u64);
    table[SPURIOUS_VECTOR as usize] = on_interrupt_stack(spurious_interrupt as *const () as u64);
    load();
}

/// Loads the (filled) IDT on the calling core.
pub fn load() {
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer {
        limit: (core::mem::size_of::<[Gate; GATES]>() - 1) as u16,
        base: core::ptr::addr_of!(TABLE) as u64,
    };
    // SAFETY: `lidt` reads the 10-byte pointer, which names the table (static, so
    // it outlives every core's use of it); the table's gates name the stubs.
    unsafe { core::arch::asm!("lidt [{}]", in(reg) &pointer, options(nostack, readonly)) };
}

/// The exception's name.
fn name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error",
        1 => "debug",
        2 => "non-maskable interrupt",
        3 => "breakpoint",
        4 => "overflow",
        5 => "bound range",
        6 => "invalid opcode",
        7 => "device not available",
        8 => "double fault",
        10 => "invalid TSS",
        11 => "segment not present",
        12 => "stack fault",
        13 => "general protection",
        14 => "page fault",
        16 => "x87 floating point",
        17 => "alignment check",
        18 => "machine check",
        19 => "SIMD floating point",
        _ => "reserved",
    }
}

/// The fault hook `Cores::set_fault_hook` gave (a `FaultHook` as an address; 0:
/// none).
pub static FAULT_HOOK: AtomicUsize = AtomicUsize::new(0);

/// A program's fault as the HAL tells it: what, where, how, and the status a shell
/// would show (128 + the signal Linux would send).
fn describe(vector: u64, error: u64, rip: u64, frame_pointer: u64, address: u64) -> Fault {
    let (kind, signal) = match vector {
        0 => (FaultKind::Arithmetic, 8),
        6 => (FaultKind::IllegalInstruction, 4),
        17 => (FaultKind::BusError, 7),
        _ => (FaultKind::InvalidMemoryAccess, 11),
    };
    let access = match vector {
        14 if error & 0x10 != 0 => FaultAccess::Execute,
        14 if error & 0x2 != 0 => FaultAccess::Write,
        14 => FaultAccess::Read,
        _ => FaultAccess::None,
    };
    Fault {
        address: if vector == 14 { address as usize } else { 0 },
        access,
        instruction: rip as usize,
        frame_pointer: frame_pointer as usize,
        kind,
        status: 128 + signal,
    }
}

/// The boot code's exception_common calls this (registers saved). A program's
/// fault goes to the fault hook, if any: `Retry` returns (the instruction runs
/// again), `EndThread` ends the program with the value, `Fatal` ends the machine;
/// without a hook the program is killed with [`crate::user::KILLED`] and the
/// vector. A fault in the kernel is reported and ends the machine.
#[unsafe(no_mangle)]
extern "C" fn exception(vector: u64, error: u64, frame: *const u64, frame_pointer: u64) {
    // SAFETY: `frame` is the CPU's interrupt frame on the current stack: rip, then
    // cs.
    let (rip, cs) = unsafe { (*frame, *frame.add(1)) };
    let cr2 = page_fault_address();
    let address = Address(vector, cr2);
    if cs & 3 == 3 {
        let hook = FAULT_HOOK.load(Ordering::Acquire);
        let outcome = if hook == 0 {
            FaultOutcome::EndThread(crate::user::KILLED | vector)
        } else {
            // SAFETY: `set_fault_hook` stores only a `FaultHook` as this address.
            let hook: FaultHook = unsafe { core::mem::transmute::<usize, FaultHook>(hook) };
            hook(
                CORES.current(),
                &describe(vector, error, rip, frame_pointer, cr2),
            )
        };
        match outcome {
            FaultOutcome::Retry => return,
            FaultOutcome::EndThread(value) => {
                // A program's fault: it is killed, the kernel goes on (a hook
                // reports it as it sees fit).
                if hook == 0 {
                    crate::say!(
                        "nanvix-qemu: program killed: vector {} ({}), error {:#x}, at rip {:#x}{}",
                        vector,
                        name(vector),
                        error,
                        rip,
                        address
                    );
                }
                crate::user::USER_MODE.leave(value)
            }
            FaultOutcome::Fatal => {}
        }
    }
    crate::say!(
        "nanvix-qemu: fault: vector {} ({}), error {:#x}, at rip {:#x} (cs {:#x}){}",
        vector,
        name(vector),
        error,
        rip,
        cs,
        address
    );
    crate::machine::exit(crate::machine::FAIL)
}

/// The address a page fault was for (CR2).
fn page_fault_address() -> u64 {
    let address: u64;
    // SAFETY: reading CR2 has no effect.
    unsafe { core::arch::asm!("mov {}, cr2", out(reg) address, options(nomem, nostack)) };
    address
}

/// A report's address part: `, address 0x...` for a page fault (vector 14), nothing
/// for the others (CR2 then holds an earlier fault's).
struct Address(u64, u64);

impl ufmt::uDisplay for Address {
    fn fmt<W: ufmt::uWrite + ?Sized>(
        &self,
        formatter: &mut ufmt::Formatter<'_, W>,
    ) -> Result<(), W::Error> {
        if self.0 == 14 {
            ufmt::uwrite!(formatter, ", address {:#x}", self.1)
        } else {
            Ok(())
        }
    }
}
