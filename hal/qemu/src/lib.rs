//! The qemu-x86_64 platform: booted by QEMU's PVH loader into long mode, it
//! takes the CPU's exceptions, brings up the other cores (the HAL's `Cores`), runs
//! programs in ring 3 on each (the HAL's `UserMode`), speaks on the serial console
//! and ends QEMU through its exit device.
//!
//! Two executables link it: `nanvix-qemu-kernel` (`src/main.rs`) boots the
//! microkernel over this HAL ([`system`]); `nanvix-qemu-checks`
//! (`src/bin/nanvix-qemu-checks.rs`) runs the platform's checks ([`checks`]), which
//! the kernel leaves out so that its footprint is the kernel's alone. QEMU runs
//! either with `-kernel` and passes `-append` as the PVH command line, whose
//! `mode=` word picks what it does (the table in `docs/src/bare-metal.md`). QEMU's
//! exit status is `(value << 1) | 1`: [`machine::PASS`] gives 33, [`machine::FAIL`]
//! 35.
#![no_std]

extern crate alloc;

pub mod checks;
pub mod clock;
pub mod console;
pub mod cores;
pub mod exceptions;
pub mod lock;
pub mod machine;
pub mod paging;
pub mod pci;
pub mod platform;
pub mod smp;
pub mod system;
pub mod user;

// memcpy and friends: no libc here.
use nanvix_freestanding as _;

core::arch::global_asm!(include_str!("boot.s"), options(att_syntax));
core::arch::global_asm!(include_str!("user.s"), options(att_syntax));

/// The magic at the start of PVH's `hvm_start_info`.
const START_INFO_MAGIC: u32 = 0x336e_c578;
/// The longest command line read.
const COMMAND_LINE_MAX: usize = 1024;
/// An address the boot map leaves unmapped (past the first 4 GiB).
pub(crate) const WILD_ADDRESS: u64 = 0x10_0000_0000;

/// The PVH command line in the `hvm_start_info` at physical address `info` (the
/// first 4 GiB are identity-mapped); empty without one.
pub fn command_line(info: usize) -> &'static str {
    if info == 0 {
        return "";
    }
    // SAFETY: QEMU's PVH loader put an `hvm_start_info` at `info`, in memory the
    // boot code identity-mapped; its magic is a u32 at 0 and the command line's
    // physical address a u64 at 24.
    let (magic, address) = unsafe {
        (
            core::ptr::read_volatile(info as *const u32),
            core::ptr::read_volatile((info + 24) as *const u64),
        )
    };
    if magic != START_INFO_MAGIC || address == 0 {
        return "";
    }
    let start = address as usize as *const u8;
    let mut length = 0;
    // SAFETY: the command line is a NUL-terminated string QEMU wrote below 4 GiB
    // (identity-mapped); the scan stops at its NUL or COMMAND_LINE_MAX.
    while length < COMMAND_LINE_MAX && unsafe { *start.add(length) } != 0 {
        length += 1;
    }
    // SAFETY: `length` bytes at `start` were read above and stay as they are (nothing
    // writes the loader's memory).
    let bytes = unsafe { core::slice::from_raw_parts(start, length) };
    core::str::from_utf8(bytes).unwrap_or("")
}

/// The value of `key=` among the command line's words.
pub fn argument<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_ascii_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

/// What both executables do first, on the boot core, from their `kmain` (the boot
/// code's call, `info` the `hvm_start_info`'s address): masks the legacy
/// interrupts, installs the exception table and ring 3's state, registers the boot
/// core and says so; the PVH command line.
pub fn start(info: usize) -> &'static str {
    machine::mask_legacy_interrupts();
    exceptions::install();
    user::install();
    cores::CORES.register(0);
    let line = command_line(info);
    say!("nanvix-qemu: booted in long mode, command line `{}`", line);
    line
}

/// Stack words a panic looks through for the kernel's return addresses.
const PANIC_STACK_WORDS: usize = 256;
/// Return addresses a panic names at most.
const PANIC_ADDRESSES: usize = 8;

/// A panic (a bug: the kernel refuses bad input with errors) names the words on
/// the stack that point into the kernel's code, innermost first: its callers'
/// return addresses, which `addr2line -f -e nanvix-qemu-kernel` turns into
/// function names (a word that merely looks like one may be among them); then it
/// ends the machine. The panic's message and source location are left out: reading
/// them keeps every panic site's location and message pieces in the image (6 KB).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    unsafe extern "C" {
        static __text_start: u8;
        static __text_end: u8;
    }
    let text = (&raw const __text_start) as u64..(&raw const __text_end) as u64;
    let mut addresses = [0u64; PANIC_ADDRESSES];
    let mut found = 0;
    let mut word = core::ptr::addr_of!(addresses)
        .cast::<u64>()
        .wrapping_add(PANIC_ADDRESSES);
    for _ in 0..PANIC_STACK_WORDS {
        if found == PANIC_ADDRESSES {
            break;
        }
        // SAFETY: the words above a live local lie on this core's stack, which
        // spans more than PANIC_STACK_WORDS words above any frame of the kernel's
        // (the smallest stack is 16 KiB); they are only read.
        let value = unsafe { core::ptr::read_volatile(word) };
        if text.contains(&value) {
            addresses[found] = value;
            found += 1;
        }
        word = word.wrapping_add(1);
    }
    let [first, second, third, fourth, fifth, sixth, seventh, eighth] = addresses;
    say!(
        "nanvix-qemu: panic; kernel addresses on the stack: {:#x} {:#x} {:#x} {:#x} {:#x} {:#x} {:#x} {:#x}",
        first,
        second,
        third,
        fourth,
        fifth,
        sixth,
        seventh,
        eighth
    );
    machine::exit(machine::FAIL)
}

/// Never called (panic=abort), but the prebuilt libcore references it.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// Never called, as above (referenced by the prebuilt liballoc).
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    machine::halt()
}
