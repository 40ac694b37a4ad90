//! The MMU's window: x86-64 page tables for the 64 MiB at [`WINDOW_BASE`], where the
//! kernel maps the cluster's SRAM frames with rights in 4 KiB pages (the HAL's
//! `ClusterMemory::map` and `unmap`). Every core runs on the one set of boot page
//! tables, so a change that takes a translation away (an unmap, a map over a mapped
//! page) is followed by a TLB shootdown: each other online core gets an IPI whose
//! handler reloads CR3, and the changer waits for every acknowledgement.

use crate::cores::CORES;
use crate::lock::KernelLock;
use core::sync::atomic::{AtomicU64, Ordering};
use nanvix_hal::MmuError;

/// The window's first address: 128 GiB, past the boot map's 4 GiB (one boot page
/// directory pointer table slot, its own page directory).
pub const WINDOW_BASE: usize = 0x20_0000_0000;
/// The window's bytes (the ABI's figure).
pub const WINDOW_BYTES: usize = nanvix_abi::MEMORY_WINDOW_BYTES;
/// Bytes of a page.
const PAGE_BYTES: usize = 4096;
/// Page tables of the window: one per 2 MiB.
const TABLES: usize = WINDOW_BYTES / (2 << 20);
/// Entry bits: present, writable, user, no-execute.
const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const NO_EXECUTE: u64 = 1 << 63;
/// An entry's physical address bits.
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// A page-aligned table of 512 entries.
#[repr(C, align(4096))]
struct Table([AtomicU64; 512]);

/// The window's page directory and its page tables.
static DIRECTORY: Table = Table([const { AtomicU64::new(0) }; 512]);
static TABLES_OF_WINDOW: [Table; TABLES] =
    [const { Table([const { AtomicU64::new(0) }; 512]) }; TABLES];

/// Shootdown acknowledgements so far (the boot code's shootdown handler counts).
#[unsafe(no_mangle)]
static shootdowns_done: AtomicU64 = AtomicU64::new(0);

/// Held by a core changing the window: one change (and its shootdown) at a time.
/// A core waiting for it halts with interrupts on, so it acknowledges the holder's
/// shootdown meanwhile.
static CHANGING: lock_api::Mutex<KernelLock, ()> =
    lock_api::Mutex::const_new(<KernelLock as lock_api::RawMutex>::INIT, ());

/// Hooks the window's page directory into the boot page tables (on the boot core,
/// before any other core runs): every page of the window is absent until mapped.
pub fn install() {
    for (entry, table) in DIRECTORY.0.iter().zip(&TABLES_OF_WINDOW) {
        entry.store(
            table as *const Table as u64 | PRESENT | WRITABLE | USER,
            Ordering::Relaxed,
        );
    }
    // SAFETY: the window's slot of the boot page directory pointer table is unused
    // (the boot map fills the first four).
    unsafe {
        core::ptr::write_volatile(
            pointer_table().add(WINDOW_BASE >> 30),
            &DIRECTORY as *const Table as u64 | PRESENT | WRITABLE | USER,
        );
    }
    flush_local();
}

unsafe extern "C" {
    /// The boot map's page directories: 2048 entries of 2 MiB, the first 4 GiB.
    static boot_pd: [AtomicU64; 2048];
    /// The section ring 3 may reach of the kernel (linker script).
    static __user_start: u8;
    static __user_end: u8;
}

/// A 2 MiB page of the boot map: present, writable, large (kernel only).
const KERNEL_LARGE_PAGE: u64 = 0x83;
/// The same, for programs too.
const USER_LARGE_PAGE: u64 = KERNEL_LARGE_PAGE | USER;
/// Bytes of a large page.
const LARGE_PAGE_BYTES: usize = 2 << 20;

/// The kernel's section for ring 3: its first address and its end.
pub fn user_section() -> (usize, usize) {
    (
        (&raw const __user_start) as usize,
        (&raw const __user_end) as usize,
    )
}

/// Takes ring 3 out of the boot map but for the cluster's SRAM (`sram_base`, its
/// `sram_bytes`, whole 2 MiB pages) and the kernel's user section (read-only):
/// a program's stray pointer into the kernel, the firmware's memory or a device
/// faults. On the boot core, before any other core runs.
pub fn protect_for_programs(sram_base: usize, sram_bytes: usize) {
    let (user_start, user_end) = user_section();
    let sram = sram_base..sram_base + sram_bytes;
    let user = user_start..user_end;
    // SAFETY: the boot map's directories (the boot code's .bss), which only this
    // boot core changes, before any other core runs; the kernel's own accesses do
    // not depend on the user bit.
    let directories: &[AtomicU64; 2048] = unsafe { &boot_pd };
    for (index, entry) in directories.iter().enumerate() {
        let start = index * LARGE_PAGE_BYTES;
        let page = start..start + LARGE_PAGE_BYTES;
        let overlaps =
            |range: &core::ops::Range<usize>| range.start < page.end && page.start < range.end;
        let flags = if overlaps(&sram) {
            USER_LARGE_PAGE
        } else if overlaps(&user) {
            // Read-only for programs (the kernel writes it: CR0.WP is off).
            USER_LARGE_PAGE & !WRITABLE
        } else {
            KERNEL_LARGE_PAGE
        };
        entry.store(start as u64 | flags, Ordering::Relaxed);
    }
    flush_local();
}

/// Page directories for device memory past the boot map's 4 GiB (a BAR the
/// firmware placed high), one per GiB: 8 GiB of it at most.
static HIGH_DIRECTORIES: [Table; 8] = [const { Table([const { AtomicU64::new(0) }; 512]) }; 8];
/// High directories handed out so far.
static HIGH_USED: AtomicU64 = AtomicU64::new(0);

/// The boot map's page directory pointer table (entry 0 of the level-4 table CR3
/// names), through the identity map.
pub fn pointer_table() -> *mut u64 {
    let root: u64;
    // SAFETY: reading CR3 has no effect.
    unsafe { core::arch::asm!("mov {}, cr3", out(reg) root, options(nomem, nostack)) };
    let level_4 = (root & ADDRESS_MASK) as *const u64;
    // SAFETY: CR3 names the boot map's level-4 table (identity-mapped, the boot
    // code's .bss), whose entry 0 names the boot page directory pointer table.
    unsafe { (core::ptr::read_volatile(level_4) & ADDRESS_MASK) as *mut u64 }
}

/// Makes device memory `[base, base + size)` reachable by the kernel at its own
/// address: below 4 GiB the boot map has it; above, its GiBs get page directories of
/// 2 MiB pages (kernel only). At boot, on the boot core, before other cores run.
pub fn map_device(base: u64, size: u64) -> Result<usize, MmuError> {
    let end = base.checked_add(size).ok_or(MmuError::Refused)?;
    if end <= 1 << 32 {
        return Ok(base as usize);
    }
    const GIB: u64 = 1 << 30;
    if end > 512 * GIB || !base.is_multiple_of(LARGE_PAGE_BYTES as u64) {
        return Err(MmuError::Refused);
    }
    let pointers = pointer_table();
    for gib in base / GIB..end.div_ceil(GIB) {
        // SAFETY: `gib` is below 512 (checked): an entry of the pointer table.
        let entry = unsafe { pointers.add(gib as usize) };
        // SAFETY: as above; only this boot core writes the table now.
        if unsafe { core::ptr::read_volatile(entry) } & PRESENT != 0 {
            continue;
        }
        let used = HIGH_USED.fetch_add(1, Ordering::AcqRel) as usize;
        let Some(directory) = HIGH_DIRECTORIES.get(used) else {
            return Err(MmuError::Refused);
        };
        for (index, large) in directory.0.iter().enumerate() {
            let address = gib * GIB + (index * LARGE_PAGE_BYTES) as u64;
            large.store(address | KERNEL_LARGE_PAGE, Ordering::Relaxed);
        }
        // SAFETY: as above: the directory is static and filled.
        unsafe {
            core::ptr::write_volatile(entry, directory as *const Table as u64 | PRESENT | WRITABLE);
        }
    }
    flush_local();
    Ok(base as usize)
}

/// Turns on no-execute pages on the calling core (EFER.NXE).
pub fn enable_no_execute() {
    const EFER: u32 = 0xc000_0080;
    const NO_EXECUTE_ENABLE: u64 = 1 << 11;
    let (low, high): (u32, u32);
    // SAFETY: reading EFER has no effect.
    unsafe {
        core::arch::asm!("rdmsr", in("ecx") EFER, out("eax") low, out("edx") high, options(nomem, nostack));
    }
    let value = (u64::from(high) << 32 | u64::from(low)) | NO_EXECUTE_ENABLE;
    // SAFETY: setting NXE only makes the no-execute bit of page entries meaningful
    // (no entry had it set before).
    unsafe {
        core::arch::asm!("wrmsr", in("ecx") EFER, in("eax") value as u32, in("edx") (value >> 32) as u32, options(nomem, nostack));
    }
}

/// Drops every translation of the calling core.
fn flush_local() {
    // SAFETY: reloading CR3 with its own value only empties the TLB.
    unsafe {
        core::arch::asm!("mov {0}, cr3", "mov cr3, {0}", out(reg) _, options(nostack));
    }
}

/// The page entry of the window's `page`-th page.
fn entry(page: usize) -> &'static AtomicU64 {
    &TABLES_OF_WINDOW[page / 512].0[page % 512]
}

/// The window's pages of `[virtual_address, virtual_address + bytes)`, if the range
/// is page-aligned and inside the window.
fn pages(virtual_address: usize, bytes: usize) -> Result<core::ops::Range<usize>, MmuError> {
    let offset = virtual_address
        .checked_sub(WINDOW_BASE)
        .ok_or(MmuError::Refused)?;
    let end = offset.checked_add(bytes).ok_or(MmuError::Refused)?;
    if !offset.is_multiple_of(PAGE_BYTES) || !bytes.is_multiple_of(PAGE_BYTES) || end > WINDOW_BYTES
    {
        return Err(MmuError::Refused);
    }
    Ok(offset / PAGE_BYTES..end / PAGE_BYTES)
}

/// Maps the window's pages at `virtual_address` onto the physical frames from
/// `physical` on, with the rights asked.
pub fn map(
    virtual_address: usize,
    physical: u64,
    bytes: usize,
    writable: bool,
    executable: bool,
) -> Result<(), MmuError> {
    let pages = pages(virtual_address, bytes)?;
    let mut rights = PRESENT | USER;
    if writable {
        rights |= WRITABLE;
    }
    if !executable {
        rights |= NO_EXECUTE;
    }
    let _changing = CHANGING.lock();
    let mut replaced = false;
    for (index, page) in pages.enumerate() {
        let frame = physical + (index * PAGE_BYTES) as u64;
        let old = entry(page).swap(frame | rights, Ordering::AcqRel);
        replaced |= old & PRESENT != 0;
    }
    if replaced {
        shoot_down();
    }
    Ok(())
}

/// Unmaps the window's pages at `virtual_address`: accesses fault again, on every
/// core, once this returns.
pub fn unmap(virtual_address: usize, bytes: usize) -> Result<(), MmuError> {
    let pages = pages(virtual_address, bytes)?;
    let _changing = CHANGING.lock();
    let mut removed = false;
    for page in pages {
        removed |= entry(page).swap(0, Ordering::AcqRel) & PRESENT != 0;
    }
    if removed {
        shoot_down();
    }
    Ok(())
}

/// Empties the TLB of this core and of every other online core, and waits until
/// each did.
fn shoot_down() {
    flush_local();
    let me = CORES.physical();
    let before = shootdowns_done.load(Ordering::Acquire);
    let mut sent = 0;
    for physical in 0..CORES.physical_count() {
        if physical != me {
            CORES.shoot_down(physical);
            sent += 1;
        }
    }
    // Each core acknowledges with interrupts on: a core in kernel code (interrupts
    // off) takes it at its next park, lock halt or return to its program.
    while shootdowns_done.load(Ordering::Acquire) < before + sent {
        core::hint::spin_loop();
    }
}
