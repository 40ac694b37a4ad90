//! Ring 3 as the HAL's [`UserMode`], on every core: a GDT with user segments and a
//! TSS per core (whose RSP0, set at each enter, takes exceptions from ring 3), the
//! `syscall` MSRs per core, entering a program and coming back (enters nest: each
//! keeps the outer one's kernel stack and RSP0), the calls a program makes (write a
//! line, exit, return, run a nested program), and the kernel's side of a
//! program's fault: the program is killed with a report and the kernel goes on.
//!
//! For now a "program" is a function of the kernel image run at CPL 3 on a stack of
//! its own (the boot map lets ring 3 reach the first 4 GiB); loading program ELFs
//! into their own address spaces comes with the rest of the HAL backend.

use crate::cores::{CONTEXTS, CORES, PHYSICAL_MAX};
use crate::say;
use core::sync::atomic::{AtomicUsize, Ordering};
use nanvix_hal::{Cores, UserMode};

/// GDT selectors: kernel code and data, then (for `sysret`) a 32-bit user code
/// placeholder, user data, user 64-bit code, then each core's TSS (two slots each).
const KERNEL_CODE: u64 = 0x08;
const USER_BASE: u64 = 0x18;
/// The first TSS's slot in the GDT.
const FIRST_TSS_SLOT: usize = 6;
/// The GDT's slots.
const GDT_SLOTS: usize = FIRST_TSS_SLOT + 2 * PHYSICAL_MAX;
/// The `syscall` MSRs: STAR (segments), LSTAR (entry), FMASK (flags cleared); and
/// the GS bases (the user's, and the kernel's that `swapgs` brings in).
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_FMASK: u32 = 0xc000_0084;
const MSR_GS_BASE: u32 = 0xc000_0101;
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
/// Flags a `syscall` clears: trap, interrupts, direction.
const SYSCALL_CLEARS: u64 = 0x700;
/// What `enter` returns for a program killed by a fault (ORed with the vector).
pub const KILLED: u64 = 1 << 63;

/// The calls a program makes (`rax`). Writing a line and running a nested
/// program are the checks' alone (installed by [`allow_check_calls`]): in the
/// kernel, a program calls the kernel through the gate, or ends.
pub const CALL_WRITE: u64 = 1;
pub const CALL_EXIT: u64 = 2;
/// The return stub's call: the program's entry returned (`rdi`).
pub const CALL_RETURN: u64 = 3;
/// Runs [`inner_program`] nested, on this core, and answers its value.
pub const CALL_NEST: u64 = 4;
/// A kcall through the gate (`gate_kcall`): number and five arguments.
pub const CALL_KCALL: u64 = 5;
/// The longest line a program writes at once.
const WRITE_MAX: u64 = 4096;

/// The task state segment (104 bytes, no I/O map).
#[repr(C, packed)]
struct TaskState {
    reserved: u32,
    stacks: [u64; 3],
    reserved_again: u64,
    interrupt_stacks: [u64; 7],
    reserved_more: u64,
    reserved_last: u16,
    io_map: u16,
}

/// What the boot code's enter, return and syscall paths keep per core.
#[repr(C)]
struct PerCore {
    /// The kernel stack of the innermost enter.
    kernel_stack: u64,
    /// The user stack pointer, for a moment at a syscall.
    user_stack: u64,
}

/// Each core's TSS.
static mut TASK_STATES: [TaskState; PHYSICAL_MAX] = [const {
    TaskState {
        reserved: 0,
        stacks: [0; 3],
        reserved_again: 0,
        interrupt_stacks: [0; 7],
        reserved_more: 0,
        reserved_last: 0,
        io_map: 0,
    }
}; PHYSICAL_MAX];

/// Each core's enter state.
static mut PER_CORE: [PerCore; PHYSICAL_MAX] = [const {
    PerCore {
        kernel_stack: 0,
        user_stack: 0,
    }
}; PHYSICAL_MAX];

/// The GDT's segment descriptors, from slot 1 (slot 0 is the null descriptor).
const SEGMENTS: [u64; 5] = [
    0x00af_9a00_0000_ffff, // 0x08: kernel code, 64-bit
    0x00cf_9200_0000_ffff, // 0x10: kernel data
    0x00cf_fa00_0000_ffff, // 0x18: user code, 32-bit (sysret's base)
    0x00cf_f200_0000_ffff, // 0x20: user data
    0x00af_fa00_0000_ffff, // 0x28: user code, 64-bit
];

/// The GDT: zeros (in bss) until install fills the segments and the TSS slots.
static mut TABLE: [u64; GDT_SLOTS] = [0; GDT_SLOTS];

unsafe extern "C" {
    fn enter_user(
        rip: usize,
        argument: usize,
        rsp: usize,
        per_core: *mut PerCore,
        rsp0: *mut u64,
    ) -> u64;
    fn return_from_user(value: u64, per_core: *mut PerCore, rsp0: *mut u64) -> !;
    fn syscall_entry();
    fn gate_kcall(
        number: usize,
        first: usize,
        second: usize,
        third: usize,
        fourth: usize,
        fifth: usize,
    ) -> isize;
}

/// Writes model-specific register `register`.
fn write_msr(register: u32, value: u64) {
    // SAFETY: the registers written are the syscall MSRs, set once at install; the
    // entry they name is the boot code's syscall_entry.
    unsafe {
        core::arch::asm!(
            "wrmsr",
            in("ecx") register,
            in("eax") value as u32,
            in("edx") (value >> 32) as u32,
            options(nomem, nostack)
        )
    };
}

/// Fills the GDT's segments and its TSS slots for every core (on the boot core, once, before any
/// core loads the table), then loads ring 3's state on the boot core.
pub fn install() {
    // SAFETY: only the boot core calls this, once, before any core loads the table
    // or runs a program; nothing else references the tables meanwhile.
    unsafe {
        let table = &mut *core::ptr::addr_of_mut!(TABLE);
        table[1..=SEGMENTS.len()].copy_from_slice(&SEGMENTS);
        let task_states = &mut *core::ptr::addr_of_mut!(TASK_STATES);
        for (core, task_state) in task_states.iter_mut().enumerate() {
            // Interrupts run on the core's own interrupt stack (IST 1).
            let stack = (&raw mut INTERRUPT_STACKS)
                .cast::<Stack>()
                .wrapping_add(core);
            task_state.interrupt_stacks = [stack_top(stack) as u64, 0, 0, 0, 0, 0, 0];
            // No I/O permission map: its offset is the TSS's size (set here, not in
            // the initialiser, so that the table starts as zeros, in bss).
            task_state.io_map = core::mem::size_of::<TaskState>() as u16;
        }
        for core in 0..PHYSICAL_MAX {
            let base = core::ptr::addr_of!(TASK_STATES[core]) as u64;
            let limit = (core::mem::size_of::<TaskState>() - 1) as u64;
            // A 64-bit available TSS (type 0x9), present.
            table[FIRST_TSS_SLOT + 2 * core] = limit & 0xffff
                | (base & 0xff_ffff) << 16
                | 0x89 << 40
                | (limit >> 16 & 0xf) << 48
                | (base >> 24 & 0xff) << 56;
            table[FIRST_TSS_SLOT + 2 * core + 1] = base >> 32;
        }
    }
    load(0);
}

/// Loads ring 3's state on the calling core, core `core`: the GDT, its TSS, its
/// GS bases and the `syscall` MSRs.
pub fn load(core: usize) {
    let core = core.min(PHYSICAL_MAX - 1);
    #[repr(C, packed)]
    struct Pointer {
        limit: u16,
        base: u64,
    }
    let pointer = Pointer {
        limit: (core::mem::size_of::<[u64; GDT_SLOTS]>() - 1) as u16,
        base: core::ptr::addr_of!(TABLE) as u64,
    };
    let selector = ((FIRST_TSS_SLOT + 2 * core) * 8) as u16;
    // SAFETY: the table is filled (install ran first on the boot core) and static;
    // its 0x08 and 0x10 are the boot tables', so CS and the data segments stay as
    // they are; each core loads its own TSS (a busy TSS cannot be loaded twice).
    unsafe {
        core::arch::asm!("lgdt [{}]", in(reg) &pointer, options(readonly, nostack));
        core::arch::asm!("ltr {0:x}", in(reg) selector, options(nomem, nostack));
    }
    write_msr(MSR_GS_BASE, 0);
    write_msr(
        MSR_KERNEL_GS_BASE,
        (&raw const PER_CORE).cast::<PerCore>().wrapping_add(core) as u64,
    );
    write_msr(MSR_STAR, USER_BASE << 48 | KERNEL_CODE << 32);
    write_msr(MSR_LSTAR, syscall_entry as *const () as u64);
    write_msr(MSR_FMASK, SYSCALL_CLEARS);
    crate::paging::enable_no_execute();
}

/// A physical core's user-mode state: the innermost enter's kernel stack and the
/// TSS's RSP0 (a context that switches out keeps its own, [`set_core_state`] puts
/// them back on whichever core it resumes).
#[derive(Clone, Copy)]
pub struct CoreState {
    kernel_stack: u64,
    rsp0: u64,
}

/// Physical core `core`'s user-mode state.
pub fn core_state(core: usize) -> CoreState {
    let core = core.min(PHYSICAL_MAX - 1);
    // SAFETY: the calling context runs on `core`; only it reads or writes that
    // core's entries meanwhile (interrupts are off in kernel code).
    unsafe {
        CoreState {
            kernel_stack: core::ptr::read(core::ptr::addr_of!(PER_CORE[core].kernel_stack)),
            rsp0: core::ptr::read_unaligned(core::ptr::addr_of!(TASK_STATES[core].stacks[0])),
        }
    }
}

/// Puts `state` back as physical core `core`'s user-mode state.
pub fn set_core_state(core: usize, state: CoreState) {
    let core = core.min(PHYSICAL_MAX - 1);
    // SAFETY: as in `core_state`.
    unsafe {
        core::ptr::write(
            core::ptr::addr_of_mut!(PER_CORE[core].kernel_stack),
            state.kernel_stack,
        );
        core::ptr::write_unaligned(
            core::ptr::addr_of_mut!(TASK_STATES[core].stacks[0]),
            state.rsp0,
        );
    }
}

/// Ring 3 as the HAL's [`UserMode`].
pub struct QemuUserMode;

/// The machine's user mode.
pub static USER_MODE: QemuUserMode = QemuUserMode;

impl UserMode for QemuUserMode {
    unsafe fn enter(&self, entry: usize, argument: usize, stack_top: usize) -> u64 {
        let core = CORES.physical().min(PHYSICAL_MAX - 1);
        // SAFETY: the caller vouches for `entry` and the stack (the trait's
        // contract); the per-core state and TSS are this core's, used only by it.
        unsafe {
            enter_user(
                entry,
                argument,
                stack_top,
                core::ptr::addr_of_mut!(PER_CORE[core]),
                core::ptr::addr_of_mut!(TASK_STATES[core].stacks[0]),
            )
        }
    }

    fn leave(&self, value: u64) -> ! {
        let core = CORES.physical().min(PHYSICAL_MAX - 1);
        // SAFETY: called from kernel code on behalf of a program this context
        // entered (a call, or a fault in ring 3): the innermost enter's frame is on
        // its stack below nothing that needs dropping (the trait's contract), and
        // this core's per-core state names it (a context's switch carries it).
        unsafe {
            return_from_user(
                value,
                core::ptr::addr_of_mut!(PER_CORE[core]),
                core::ptr::addr_of_mut!(TASK_STATES[core].stacks[0]),
            )
        }
    }
}

/// Runs `program(argument)` in ring 3 on the stack whose top is `stack_top`: what it
/// returned or exited with, or [`KILLED`] ORed with the vector of its fault.
pub fn run(program: extern "C" fn(usize) -> i32, argument: usize, stack_top: usize) -> u64 {
    // SAFETY: `program` is code of this image, which the boot map lets ring 3
    // execute, and the callers give each program a stack of its own.
    unsafe { USER_MODE.enter(program as *const () as usize, argument, stack_top) }
}

/// The kernel's kcall handler (a [`KcallHandler`] as an address; 0: none, and a
/// kcall answers `u64::MAX`).
static KCALL_HANDLER: AtomicUsize = AtomicUsize::new(0);

/// What runs a kcall: its number and five arguments; its result.
pub type KcallHandler = fn(usize, [usize; 5]) -> isize;

/// Sets the kcall handler (at boot, before any program runs).
pub fn set_kcall_handler(handler: KcallHandler) {
    KCALL_HANDLER.store(handler as usize, Ordering::Release);
}

/// The gate's kcall entry for programs: a C function that executes `syscall`.
pub fn gate_entry() -> nanvix_abi::KcallEntry {
    gate_kcall
}

/// The handler of the checks' calls (write, nest), which only the checks install:
/// in the kernel those calls are refused, and their code is left out.
static CHECK_CALLS: AtomicUsize = AtomicUsize::new(0);

/// A handler of the checks' calls: `(number, first argument, second argument)`.
type CheckCalls = fn(u64, u64, u64) -> u64;

/// Lets programs make the checks' calls: writing a line (in the first 4 GiB,
/// which the checks' boot map leaves open to ring 3) and running a nested program.
pub fn allow_check_calls() {
    CHECK_CALLS.store(check_call as CheckCalls as usize, Ordering::Release);
}

/// The checks' calls.
fn check_call(number: u64, first: u64, second: u64) -> u64 {
    match number {
        CALL_WRITE => {
            let length = second.min(WRITE_MAX);
            if first.checked_add(length).is_none_or(|end| end > 1 << 32) {
                return u64::MAX;
            }
            // SAFETY: the range lies in the first 4 GiB, which the checks' boot map
            // maps for every ring (checked above); the bytes are only read.
            let bytes = unsafe { core::slice::from_raw_parts(first as *const u8, length as usize) };
            match core::str::from_utf8(bytes) {
                Ok(text) => {
                    say!("{}", text);
                    length
                }
                Err(_) => u64::MAX,
            }
        }
        CALL_NEST => {
            let stack = stack_top(
                (&raw mut NESTED_STACKS)
                    .cast::<Stack>()
                    .wrapping_add(CORES.current().min(CONTEXTS - 1)),
            );
            run(inner_program, first as usize, stack)
        }
        _ => u64::MAX,
    }
}

/// A program's call, from syscall_entry: a kcall, exit or return, or one of the
/// checks' calls where they are allowed.
#[unsafe(no_mangle)]
extern "C" fn syscall_dispatch(
    first: u64,
    second: u64,
    third: u64,
    fourth: u64,
    fifth: u64,
    sixth: u64,
    number: u64,
) -> u64 {
    match number {
        CALL_KCALL => {
            let address = KCALL_HANDLER.load(Ordering::Acquire);
            if address == 0 {
                return u64::MAX;
            }
            // SAFETY: `set_kcall_handler` stores only a `KcallHandler` here.
            let handler = unsafe { core::mem::transmute::<usize, KcallHandler>(address) };
            let arguments = [second, third, fourth, fifth, sixth].map(|value| value as usize);
            handler(first as usize, arguments) as u64
        }
        CALL_EXIT | CALL_RETURN => USER_MODE.leave(first),
        _ => match CHECK_CALLS.load(Ordering::Acquire) {
            0 => u64::MAX,
            address => {
                // SAFETY: `allow_check_calls` stores only a `CheckCalls` here.
                let handler = unsafe { core::mem::transmute::<usize, CheckCalls>(address) };
                handler(number, first, second)
            }
        },
    }
}

/// A user stack (of 16-byte words: aligned as the ABI wants).
pub type Stack = [u128; 1024];

/// Each core's program stack, and the stack of a program it runs nested.
static mut PROGRAM_STACKS: [Stack; CONTEXTS] = [[0; 1024]; CONTEXTS];
static mut NESTED_STACKS: [Stack; CONTEXTS] = [[0; 1024]; CONTEXTS];
/// Each core's interrupt stack (its TSS's IST 1).
static mut INTERRUPT_STACKS: [Stack; PHYSICAL_MAX] = [[0; 1024]; PHYSICAL_MAX];

/// The top of `stack`, for [`run`].
pub fn stack_top(stack: *mut Stack) -> usize {
    stack as usize + core::mem::size_of::<Stack>()
}

/// The program stack of the calling core.
pub fn program_stack() -> usize {
    stack_top(
        (&raw mut PROGRAM_STACKS)
            .cast::<Stack>()
            .wrapping_add(CORES.current().min(CONTEXTS - 1)),
    )
}

/// Writes `text` and then `number` in decimal, as one line.
fn write_with_number(text: &[u8], number: usize) {
    let mut line = [0u8; 96];
    let mut length = text.len().min(64);
    line[..length].copy_from_slice(&text[..length]);
    let mut digits = [0u8; 20];
    let mut count = 0;
    let mut rest = number;
    loop {
        digits[count] = b'0' + (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for digit in digits[..count].iter().rev() {
        line[length] = *digit;
        length += 1;
    }
    call(CALL_WRITE, line.as_ptr() as u64, length as u64);
}

/// A program: says hello with its privilege level and returns 0xc0ffee.
pub extern "C" fn hello_program(_: usize) -> i32 {
    let code_segment: u16;
    // SAFETY: reading CS has no effect.
    unsafe { core::arch::asm!("mov {0:x}, cs", out(reg) code_segment, options(nomem, nostack)) };
    write_with_number(
        b"program: hello from ring 3, CPL ",
        usize::from(code_segment & 3),
    );
    0xc0ffee
}

/// A program that exits through the exit call with its argument.
pub extern "C" fn exit_program(argument: usize) -> i32 {
    call(CALL_EXIT, argument as u64, 0);
    unreachable()
}

/// A program that says which core it runs on (its argument) and returns it.
pub extern "C" fn core_program(argument: usize) -> i32 {
    write_with_number(b"program: running in ring 3 on core ", argument);
    argument as i32
}

/// A program that runs [`inner_program`] nested (through the kernel) and returns
/// its value plus one.
pub extern "C" fn outer_program(argument: usize) -> i32 {
    let inner = call(CALL_NEST, argument as u64, 0);
    write_with_number(b"program: the nested program answered ", inner as usize);
    (inner + 1) as i32
}

/// The nested program: returns its argument times two.
pub extern "C" fn inner_program(argument: usize) -> i32 {
    write_with_number(b"program: nested, argument ", argument);
    (argument * 2) as i32
}

/// A program that never ends by itself (an interrupt's hook ends it).
pub extern "C" fn spinning_program(_: usize) -> i32 {
    loop {
        core::hint::spin_loop();
    }
}

/// A program that reads where nothing is mapped.
pub extern "C" fn wild_program(_: usize) -> i32 {
    // SAFETY: the address is unmapped: the read faults, and the kernel kills the
    // program before the read returns.
    let value = unsafe { core::ptr::read_volatile(crate::WILD_ADDRESS as *const u64) };
    value as i32
}

/// A program that executes a privileged instruction.
pub extern "C" fn privileged_program(_: usize) -> i32 {
    // SAFETY: `cli` in ring 3 raises #GP: the kernel kills the program.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
    0
}

/// After a program's exit call, which does not return.
fn unreachable() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// A program's call.
fn call(number: u64, first: u64, second: u64) -> u64 {
    let value: u64;
    // SAFETY: `syscall` enters the kernel's syscall_entry, which preserves every
    // register but rax (the value), rcx and r11.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => value,
            in("rdi") first,
            in("rsi") second,
            in("rdx") 0,
            out("rcx") _,
            out("r11") _,
            options(nostack)
        )
    };
    value
}

/// A program that executes an invalid instruction.
pub extern "C" fn invalid_program(_: usize) -> i32 {
    // SAFETY: `ud2` raises #UD: the kernel (its fault hook) decides what follows.
    unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    0
}

/// The page directory the fault-hook check's pager maps the wild address with.
#[repr(C, align(4096))]
struct PageDirectory([u64; 512]);
static mut PAGER_DIRECTORY: PageDirectory = PageDirectory([0; 512]);
/// The 2 MiB of RAM (at 32 MiB, which nothing else uses) the pager maps there, and
/// the word it finds written first.
const PAGER_FRAME: u64 = 32 << 20;
const PAGER_VALUE: u64 = 0x1234_5678;
/// Present, writable, user, a 2 MiB page.
const LARGE_PAGE: u64 = 0x87;
/// Present, writable, user: a table.
const TABLE_ENTRY: u64 = 0x7;
/// Faults the check's hook saw.
static FAULTS_SEEN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Maps the 2 MiB page of the wild address (past the boot map's 4 GiB) onto
/// [`PAGER_FRAME`], as a pager would: a page directory in the boot page directory
/// pointer table's slot for 64 GiB.
fn map_wild_page() {
    // SAFETY: the frame lies in RAM the kernel does not use (identity-mapped); the
    // page directory is this check's own; the table written is the boot map's page
    // directory pointer table (its slot for 64 GiB, unused), found from CR3 through
    // the identity map; `invlpg` only drops a translation.
    unsafe {
        core::ptr::write_volatile(PAGER_FRAME as *mut u64, PAGER_VALUE);
        let directory = (&raw mut PAGER_DIRECTORY).cast::<u64>();
        core::ptr::write_volatile(directory, PAGER_FRAME | LARGE_PAGE);
        let slot = (crate::WILD_ADDRESS >> 30) as usize;
        core::ptr::write_volatile(
            crate::paging::pointer_table().add(slot),
            (&raw const PAGER_DIRECTORY) as u64 | TABLE_ENTRY,
        );
        core::arch::asm!("invlpg [{}]", in(reg) crate::WILD_ADDRESS, options(nostack));
    }
}

/// The check's fault hook: a read of the wild address is paged in and retried; an
/// invalid instruction is fatal; anything else ends the program with 0xbad.
fn pager_hook(_: nanvix_hal::CoreId, fault: &nanvix_hal::Fault) -> nanvix_hal::FaultOutcome {
    use nanvix_hal::{FaultAccess, FaultOutcome};
    FAULTS_SEEN.fetch_add(1, core::sync::atomic::Ordering::AcqRel);
    let wild = crate::WILD_ADDRESS as usize;
    match fault.kind {
        nanvix_abi::FaultKind::InvalidMemoryAccess
            if fault.access == FaultAccess::Read
                && (wild..wild + (2 << 20)).contains(&fault.address) =>
        {
            map_wild_page();
            FaultOutcome::Retry
        }
        nanvix_abi::FaultKind::IllegalInstruction => FaultOutcome::Fatal,
        _ => FaultOutcome::EndThread(0xbad),
    }
}

/// Sets the check's fault hook, then runs a program that reads the wild address
/// (paged in and retried: it returns the word found there) and one that executes
/// `cli` (ended with 0xbad): the two values and the faults the hook saw.
pub fn fault_hook_check() -> (u64, u64, usize) {
    CORES.set_fault_hook(pager_hook);
    let stack = program_stack();
    let paged = run(wild_program, 0, stack);
    let ended = run(privileged_program, 0, stack);
    (
        paged,
        ended,
        FAULTS_SEEN.load(core::sync::atomic::Ordering::Acquire),
    )
}

/// Sets the check's fault hook and runs a program whose invalid instruction the
/// hook finds fatal: the machine ends (this does not return).
pub fn fatal_fault_check() -> u64 {
    CORES.set_fault_hook(pager_hook);
    run(invalid_program, 0, program_stack())
}
