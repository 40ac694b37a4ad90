//! The qemu-x86_64 platform's kernel, first step: booted by QEMU's PVH loader into
//! long mode, it speaks on the serial console and ends QEMU through its exit device.
//!
//! QEMU runs it with `-kernel` and passes `-append` as the PVH command line;
//! `mode=hello` prints a greeting and the command line and ends with success, any
//! other mode says so and ends with failure, and a panic ends with failure after
//! its message. QEMU's exit status is `(value << 1) | 1`: [`PASS`] gives 33,
//! [`FAIL`] 35 (status 0 cannot be had, so the runner maps 33 to success).
#![no_std]
#![no_main]

use core::fmt::Write;

// memcpy and friends: no libc here.
use nanvix_freestanding as _;

core::arch::global_asm!(include_str!("boot.s"), options(att_syntax));

/// The exit device's port (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
const EXIT_PORT: u16 = 0xf4;
/// The value that ends QEMU with status 33.
pub const PASS: u32 = 0x10;
/// The value that ends QEMU with status 35.
pub const FAIL: u32 = 0x11;
/// The first serial port's data register (a 16550).
const SERIAL_PORT: u16 = 0x3f8;
/// Its line status register; bit 5: the transmitter takes a byte.
const SERIAL_LINE_STATUS: u16 = SERIAL_PORT + 5;
/// The magic at the start of PVH's `hvm_start_info`.
const START_INFO_MAGIC: u32 = 0x336e_c578;
/// The longest command line read.
const COMMAND_LINE_MAX: usize = 1024;

/// Writes `value` to I/O port `port`.
fn out_byte(port: u16, value: u8) {
    // SAFETY: a port write touches no memory; the ports used are the serial
    // console's and the exit device's, which QEMU's machine has.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack))
    };
}

/// Reads I/O port `port`.
fn in_byte(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as in `out_byte`: a port read touches no memory.
    unsafe {
        core::arch::asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack))
    };
    value
}

/// The serial console.
struct Serial;

impl Write for Serial {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for byte in text.bytes() {
            if byte == b'\n' {
                send(b'\r');
            }
            send(byte);
        }
        Ok(())
    }
}

/// Sends one byte once the transmitter takes it.
fn send(byte: u8) {
    while in_byte(SERIAL_LINE_STATUS) & 0x20 == 0 {
        core::hint::spin_loop();
    }
    out_byte(SERIAL_PORT, byte);
}

/// Ends QEMU with `value` ([`PASS`] or [`FAIL`]).
fn exit(value: u32) -> ! {
    // SAFETY: a port write to the exit device, which ends the machine.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") EXIT_PORT, in("eax") value, options(nomem, nostack))
    };
    // Without the exit device: stop here.
    loop {
        // SAFETY: `hlt` waits for an interrupt; interrupts are off, so for ever.
        unsafe { core::arch::asm!("hlt", options(nomem, nostack)) };
    }
}

/// The PVH command line in the `hvm_start_info` at physical address `info` (the
/// first 4 GiB are identity-mapped); empty without one.
fn command_line(info: usize) -> &'static str {
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
fn argument<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_ascii_whitespace()
        .find_map(|word| word.strip_prefix(key)?.strip_prefix('='))
}

/// The Rust entry, from the boot code: `info` is the `hvm_start_info`'s address.
#[unsafe(no_mangle)]
extern "C" fn kmain(info: usize) -> ! {
    let line = command_line(info);
    let _ = writeln!(
        Serial,
        "nanvix-qemu: booted in long mode, command line `{line}`"
    );
    match argument(line, "mode") {
        Some("hello") => {
            let _ = writeln!(Serial, "nanvix-qemu: hello from bare metal");
            exit(PASS)
        }
        other => {
            let _ = writeln!(Serial, "nanvix-qemu: no such mode: {other:?}");
            exit(FAIL)
        }
    }
}

#[panic_handler]
fn panic(information: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(Serial, "nanvix-qemu: panic: {information}");
    exit(FAIL)
}

/// Never called (panic=abort), but the prebuilt libcore references it.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}
