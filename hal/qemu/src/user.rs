//! Ring 3: the GDT with user segments and a TSS (whose RSP0 stack takes exceptions
//! from ring 3), the `syscall` MSRs, entering a program and coming back, the calls
//! a program makes (write a line, exit), and the kernel's side of a program's
//! fault: the program is killed with a report and the kernel goes on.
//!
//! For now a "program" is a function of the kernel image run at CPL 3 on a stack of
//! its own (the boot map lets ring 3 reach the first 4 GiB); loading program ELFs
//! into their own address spaces comes with the HAL backend.

use crate::say;

/// GDT selectors: kernel code and data, then (for `sysret`) a 32-bit user code
/// placeholder, user data, user 64-bit code, and the TSS.
const KERNEL_CODE: u64 = 0x08;
const USER_BASE: u64 = 0x18;
const TSS_SELECTOR: u16 = 0x30;
/// The `syscall` MSRs: STAR (segments), LSTAR (entry), FMASK (flags cleared).
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_FMASK: u32 = 0xc000_0084;
/// Flags a `syscall` clears: trap, interrupts, direction.
const SYSCALL_CLEARS: u64 = 0x700;
/// What `enter_user` returns for a program killed by a fault (ORed with the
/// vector).
pub const KILLED: u64 = 1 << 63;

/// The calls a program makes (`rax`).
pub const CALL_WRITE: u64 = 1;
pub const CALL_EXIT: u64 = 2;
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

static mut TASK_STATE: TaskState = TaskState {
    reserved: 0,
    stacks: [0; 3],
    reserved_again: 0,
    interrupt_stacks: [0; 7],
    reserved_more: 0,
    reserved_last: 0,
    io_map: 104,
};

/// The GDT (the TSS's two slots filled at install).
static mut TABLE: [u64; 8] = [
    0,
    0x00af_9a00_0000_ffff, // 0x08: kernel code, 64-bit
    0x00cf_9200_0000_ffff, // 0x10: kernel data
    0x00cf_fa00_0000_ffff, // 0x18: user code, 32-bit (sysret's base)
    0x00cf_f200_0000_ffff, // 0x20: user data
    0x00af_fa00_0000_ffff, // 0x28: user code, 64-bit
    0,                     // 0x30: the TSS, low
    0,                     // 0x38: the TSS, high
];

/// The stack exceptions from ring 3 run on (TSS.RSP0).
static mut FAULT_STACK: [u8; 16384] = [0; 16384];

/// The stack a program runs on (of 16-byte words: aligned as the ABI wants).
static mut PROGRAM_STACK: [u128; 1024] = [0; 1024];

unsafe extern "C" {
    fn enter_user(rip: usize, rsp: usize) -> u64;
    fn return_from_user(value: u64) -> !;
    fn syscall_entry();
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

/// Installs the GDT with user segments and the TSS, and the `syscall` MSRs (on the
/// boot core).
pub fn install() {
    // SAFETY: only the boot core calls this, once, before any program runs and
    // before the tables are loaded; nothing else references them meanwhile.
    unsafe {
        let stack = core::ptr::addr_of_mut!(FAULT_STACK) as usize + 16384;
        (*core::ptr::addr_of_mut!(TASK_STATE)).stacks = [stack as u64, 0, 0];
        let base = core::ptr::addr_of!(TASK_STATE) as u64;
        let limit = (core::mem::size_of::<TaskState>() - 1) as u64;
        let table = &mut *core::ptr::addr_of_mut!(TABLE);
        // A 64-bit available TSS (type 0x9), present.
        table[6] = limit & 0xffff
            | (base & 0xff_ffff) << 16
            | 0x89 << 40
            | (limit >> 16 & 0xf) << 48
            | (base >> 24 & 0xff) << 56;
        table[7] = base >> 32;
        #[repr(C, packed)]
        struct Pointer {
            limit: u16,
            base: u64,
        }
        let pointer = Pointer {
            limit: (core::mem::size_of::<[u64; 8]>() - 1) as u16,
            base: core::ptr::addr_of!(TABLE) as u64,
        };
        // The new table's 0x08 and 0x10 are the boot table's: CS and the data
        // segments stay as they are.
        core::arch::asm!("lgdt [{}]", in(reg) &pointer, options(readonly, nostack));
        core::arch::asm!("ltr {0:x}", in(reg) TSS_SELECTOR, options(nomem, nostack));
    }
    write_msr(MSR_STAR, USER_BASE << 48 | KERNEL_CODE << 32);
    write_msr(MSR_LSTAR, syscall_entry as *const () as u64);
    write_msr(MSR_FMASK, SYSCALL_CLEARS);
}

/// Runs `program` in ring 3 on the program stack until it exits (its value) or is
/// killed by a fault ([`KILLED`] ORed with the vector).
pub fn run(program: extern "C" fn() -> !) -> u64 {
    // As after a call: the stack 8 bytes below a 16-byte boundary (the return
    // address's place), as a function's first instruction expects.
    let stack = core::ptr::addr_of_mut!(PROGRAM_STACK) as usize + 16384 - 8;
    // SAFETY: `program` is code of this image, which the boot map lets ring 3
    // execute; the stack is the program stack, which nothing else uses while it
    // runs; enter_user comes back only through return_from_user.
    unsafe { enter_user(program as *const () as usize, stack) }
}

/// A program's call, from syscall_entry: write a line, or exit.
#[unsafe(no_mangle)]
extern "C" fn syscall_dispatch(first: u64, second: u64, _third: u64, number: u64) -> u64 {
    match number {
        CALL_WRITE => {
            let length = second.min(WRITE_MAX);
            if first.checked_add(length).is_none_or(|end| end > 1 << 32) {
                return u64::MAX;
            }
            // SAFETY: the range lies in the first 4 GiB, which the boot map maps for
            // every ring (checked above); the bytes are only read.
            let bytes = unsafe { core::slice::from_raw_parts(first as *const u8, length as usize) };
            match core::str::from_utf8(bytes) {
                Ok(text) => {
                    say!("{text}");
                    length
                }
                Err(_) => u64::MAX,
            }
        }
        CALL_EXIT => {
            // SAFETY: a program's exit: back to `run`'s caller with the value.
            unsafe { return_from_user(first) }
        }
        _ => u64::MAX,
    }
}

/// The kernel's side of a fault in ring 3: the report is made; the program ends.
pub fn kill(vector: u64) -> ! {
    // SAFETY: called on the fault stack for a fault whose frame says ring 3, so a
    // program is running and enter_user's caller waits.
    unsafe { return_from_user(KILLED | vector) }
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

/// A program: says hello with its privilege level, and exits with 0xc0ffee.
pub extern "C" fn hello_program() -> ! {
    let code_segment: u16;
    // SAFETY: reading CS has no effect.
    unsafe { core::arch::asm!("mov {0:x}, cs", out(reg) code_segment, options(nomem, nostack)) };
    let mut line = [0u8; 64];
    let text = b"program: hello from ring 3, CPL ";
    line[..text.len()].copy_from_slice(text);
    line[text.len()] = b'0' + (code_segment & 3) as u8;
    call(CALL_WRITE, line.as_ptr() as u64, text.len() as u64 + 1);
    call(CALL_EXIT, 0xc0ffee, 0);
    unreachable()
}

/// A program that reads where nothing is mapped.
pub extern "C" fn wild_program() -> ! {
    // SAFETY: the address is unmapped: the read faults, and the kernel kills the
    // program before the read returns.
    let value = unsafe { core::ptr::read_volatile(crate::WILD_ADDRESS as *const u64) };
    call(CALL_EXIT, value, 0);
    unreachable()
}

/// A program that executes a privileged instruction.
pub extern "C" fn privileged_program() -> ! {
    // SAFETY: `cli` in ring 3 raises #GP: the kernel kills the program.
    unsafe { core::arch::asm!("cli", options(nomem, nostack)) };
    call(CALL_EXIT, 0, 0);
    unreachable()
}

/// After a program's exit call, which does not return.
fn unreachable() -> ! {
    loop {
        core::hint::spin_loop();
    }
}
