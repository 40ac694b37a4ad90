//! PCI configuration space (the 0xcf8/0xcfc mechanism) and the ivshmem device:
//! memory QEMU shares between virtual machines, which the firmware maps below
//! 4 GiB (the boot map covers it). The NoC lives there (the board's shared NoC
//! memory), and a check mode exchanges one message through it.

use crate::machine::cycles;

/// The configuration address and data ports.
const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;
/// ivshmem's vendor and device (Red Hat, inter-VM shared memory).
const IVSHMEM_VENDOR: u32 = 0x1af4;
const IVSHMEM_DEVICE: u32 = 0x1110;

/// Writes the 32-bit `value` to I/O port `port`.
fn out_long(port: u16, value: u32) {
    // SAFETY: a port write touches no memory; the ports are the PCI configuration
    // mechanism's.
    unsafe {
        core::arch::asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack))
    };
}

/// Reads the 32-bit I/O port `port`.
fn in_long(port: u16) -> u32 {
    let value: u32;
    // SAFETY: as in `out_long`.
    unsafe {
        core::arch::asm!("in eax, dx", out("eax") value, in("dx") port, options(nomem, nostack))
    };
    value
}

/// Reads the configuration word at `offset` of device `slot` on bus 0.
fn config_read(slot: u32, offset: u32) -> u32 {
    out_long(CONFIG_ADDRESS, 0x8000_0000 | slot << 11 | (offset & 0xfc));
    in_long(CONFIG_DATA)
}

/// The ivshmem device's memory, found by [`shared_memory`]: mapped (below 4 GiB),
/// at least 4 KiB.
#[derive(Clone, Copy)]
pub struct SharedMemory {
    base: *mut u8,
}

/// Writes the configuration word at `offset` of device `slot` on bus 0.
fn config_write(slot: u32, offset: u32, value: u32) {
    out_long(CONFIG_ADDRESS, 0x8000_0000 | slot << 11 | (offset & 0xfc));
    out_long(CONFIG_DATA, value);
}

/// The configuration space's command register (its low half), and its memory
/// decoding bit.
const COMMAND: u32 = 0x04;
const MEMORY_DECODING: u32 = 1 << 1;

/// The PCI slots (bus 0) the runner puts a machine's ivshmem devices at: the
/// board's NoC memory, the cluster's disk, the board's DDR (`addr=` in QEMU's
/// arguments: image-builder's `qemu::IVSHMEM_SLOTS`).
pub const NOC_SLOT: u32 = 0x10;
pub const DISK_SLOT: u32 = 0x11;
pub const DDR_SLOT: u32 = 0x12;
/// The board's staging store (programs staged while the board runs).
pub const STAGING_SLOT: u32 = 0x13;

/// The memory of the ivshmem device at `slot` of bus 0: its BAR 2's address (the
/// firmware placed it, maybe above 4 GiB) and size (probed: the bits the BAR keeps
/// of all ones), if an ivshmem device is there. At boot, before other cores run
/// (the BAR moves for a moment).
pub fn ivshmem_region(slot: u32) -> Option<(u64, u64)> {
    let identity = config_read(slot, 0);
    if identity & 0xffff != IVSHMEM_VENDOR || identity >> 16 != IVSHMEM_DEVICE {
        return None;
    }
    let (low, high) = (config_read(slot, 0x18), config_read(slot, 0x1c));
    // Memory decoding off while the BAR holds all ones (it would map the device at
    // the top of the address space for the moment), then back as it was.
    let command = config_read(slot, COMMAND);
    config_write(slot, COMMAND, command & !MEMORY_DECODING);
    config_write(slot, 0x18, u32::MAX);
    config_write(slot, 0x1c, u32::MAX);
    let mask = u64::from(config_read(slot, 0x1c)) << 32 | u64::from(config_read(slot, 0x18) & !0xf);
    config_write(slot, 0x18, low);
    config_write(slot, 0x1c, high);
    config_write(slot, COMMAND, command);
    let base = u64::from(high) << 32 | u64::from(low & !0xf);
    let size = (!mask).wrapping_add(1);
    (base != 0 && size != 0 && base.checked_add(size).is_some()).then_some((base, size))
}

/// The ivshmem device's shared memory (its BAR 2, 64-bit), if the machine has one.
pub fn shared_memory() -> Option<SharedMemory> {
    let (base, _) = (0..32).find_map(ivshmem_region)?;
    // Below 4 GiB, where the boot map reaches.
    (base < 1 << 32).then_some(SharedMemory {
        base: base as usize as *mut u8,
    })
}

/// Offsets in the shared memory of the message exchange: the flag the sender
/// raises, the receiver's acknowledgement, the message's length and bytes.
const FLAG: usize = 0;
const ACKNOWLEDGED: usize = 4;
const LENGTH: usize = 8;
const MESSAGE: usize = 64;
/// The longest message.
pub const MESSAGE_MAX: usize = 1024;
/// How long either side waits for the other, in counter cycles.
const WAIT_CYCLES: u64 = 20_000_000_000;

impl SharedMemory {
    /// The word at `offset` (4-aligned, below 4 KiB).
    fn read_word(self, offset: usize) -> u32 {
        // SAFETY: the base is the ivshmem BAR (mapped, at least 4 KiB), and the
        // offsets used are below 4 KiB and 4-aligned.
        unsafe { core::ptr::read_volatile(self.base.add(offset) as *const u32) }
    }

    fn write_word(self, offset: usize, value: u32) {
        // SAFETY: as in `read_word`.
        unsafe { core::ptr::write_volatile(self.base.add(offset) as *mut u32, value) }
    }

    /// The byte at `offset` (below 4 KiB).
    fn read_byte(self, offset: usize) -> u8 {
        // SAFETY: as in `read_word`.
        unsafe { core::ptr::read_volatile(self.base.add(offset)) }
    }

    fn write_byte(self, offset: usize, value: u8) {
        // SAFETY: as in `read_word`.
        unsafe { core::ptr::write_volatile(self.base.add(offset), value) }
    }
}

/// Waits (bounded) until the word at `offset` is nonzero.
fn wait_for(memory: SharedMemory, offset: usize) -> bool {
    let started = cycles();
    while memory.read_word(offset) == 0 {
        if cycles().wrapping_sub(started) > WAIT_CYCLES {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Sends `message` to the other machine and waits for its acknowledgement.
pub fn send(memory: SharedMemory, message: &str) -> bool {
    let length = message.len().min(MESSAGE_MAX);
    for (index, byte) in message.bytes().take(length).enumerate() {
        memory.write_byte(MESSAGE + index, byte);
    }
    memory.write_word(LENGTH, length as u32);
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    memory.write_word(FLAG, 1);
    wait_for(memory, ACKNOWLEDGED)
}

/// Waits for the other machine's message, copies it into `into` and acknowledges
/// it: its length, or `None` if none came.
pub fn receive(memory: SharedMemory, into: &mut [u8; MESSAGE_MAX]) -> Option<usize> {
    if !wait_for(memory, FLAG) {
        return None;
    }
    core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
    let length = (memory.read_word(LENGTH) as usize).min(MESSAGE_MAX);
    for (index, byte) in into.iter_mut().take(length).enumerate() {
        *byte = memory.read_byte(MESSAGE + index);
    }
    memory.write_word(ACKNOWLEDGED, 1);
    Some(length)
}
