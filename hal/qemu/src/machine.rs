//! The machine's ports: I/O port reads and writes, QEMU's exit device, the time
//! stamp counter.

/// The exit device's port (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`).
const EXIT_PORT: u16 = 0xf4;
/// The value that ends QEMU with status 33.
pub const PASS: u32 = 0x10;
/// The value that ends QEMU with status 35.
pub const FAIL: u32 = 0x11;

/// Writes `value` to I/O port `port`.
pub fn out_byte(port: u16, value: u8) {
    // SAFETY: a port write touches no memory; the ports used are the serial
    // console's, the exit device's, fw_cfg's and the legacy interrupt controllers',
    // which QEMU's machine has.
    unsafe {
        core::arch::asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack))
    };
}

/// Writes the 16-bit `value` to I/O port `port`.
pub fn out_word(port: u16, value: u16) {
    // SAFETY: as in `out_byte`.
    unsafe {
        core::arch::asm!("out dx, ax", in("dx") port, in("ax") value, options(nomem, nostack))
    };
}

/// Reads I/O port `port`.
pub fn in_byte(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as in `out_byte`: a port read touches no memory.
    unsafe {
        core::arch::asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack))
    };
    value
}

/// The legacy interrupt controllers' (8259) data ports.
const PIC_PRIMARY_DATA: u16 = 0x21;
const PIC_SECONDARY_DATA: u16 = 0xa1;

/// Masks every line of the legacy interrupt controllers: the firmware leaves the
/// timer's IRQ 0 at vector 8, which a core with interrupts on (parked) would take
/// for a double fault. The local APICs deliver what the kernel uses.
pub fn mask_legacy_interrupts() {
    out_byte(PIC_PRIMARY_DATA, 0xff);
    out_byte(PIC_SECONDARY_DATA, 0xff);
}

/// The time stamp counter.
pub fn cycles() -> u64 {
    // SAFETY: `rdtsc` reads the counter and has no other effect.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Ends QEMU with `value` ([`PASS`] or [`FAIL`]).
pub fn exit(value: u32) -> ! {
    // SAFETY: a port write to the exit device, which ends the machine.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") EXIT_PORT, in("eax") value, options(nomem, nostack))
    };
    halt()
}

/// Ends QEMU with [`PASS`] when `passed`, else [`FAIL`].
pub fn exit_passed(passed: bool) -> ! {
    exit(if passed { PASS } else { FAIL })
}

/// Stops the calling core for good.
pub fn halt() -> ! {
    loop {
        // SAFETY: `cli; hlt` stops the core until a non-maskable interrupt; nothing
        // else runs on it after.
        unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
    }
}
