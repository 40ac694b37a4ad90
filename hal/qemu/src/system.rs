//! The microkernel on this machine: the boot bundle QEMU loaded beside the kernel
//! (its first PVH module) names the board, the cluster and its programs; the kernel
//! heap and the cluster's SRAM take fixed ranges of RAM; the other cores come up;
//! then the microkernel boots over [`QemuPlatform`] and never returns (its master
//! loop ends in a power-off, which ends QEMU).

use crate::cores::CORES;
use crate::platform::{MappedDdr, MappedDisk, QemuPlatform, send_report};
use crate::{machine, pci, say, smp, user};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use linked_list_allocator::LockedHeap;
use nanvix_board::Board;
use nanvix_board_protocol::{BootBundle, ClusterReport};
use nanvix_hal::Cores;
use nanvix_microkernel::{Kernel, ProgramToLoad};
use nanvix_noc_memory::layout::ROM_BYTES;
use nanvix_noc_memory::{DataGeometry, Layout, NocMemory, decode_rom};

/// The kernel heap: RAM from 16 MiB (past the kernel image, its stacks, page
/// tables and its section for ring 3) to 32 MiB.
const HEAP_BASE: usize = 16 << 20;
const HEAP_BYTES: usize = 16 << 20;
/// The cluster's SRAM: RAM from 32 MiB on, as much as the board says. The runner
/// gives the VM enough RAM for it and the bundle above it.
pub const SRAM_BASE: usize = 32 << 20;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// The boot bundle (its ELFs borrow from the module's memory, which stays).
static BUNDLE: spin::Once<BootBundle<'static>> = spin::Once::new();
/// The kernel: in the region ring 3 may read, as its gate (a field) must be, and
/// zeroed there (`.sbss.user`: no bytes in the image; the boot code zeroes it).
#[unsafe(link_section = ".sbss.user")]
static KERNEL: spin::Once<Kernel<QemuPlatform>> = spin::Once::new();

/// The first module in the `hvm_start_info` at `info`: its bytes, if QEMU loaded
/// one (`-initrd`).
fn first_module(info: usize) -> Option<&'static [u8]> {
    if info == 0 {
        return None;
    }
    // SAFETY: QEMU's PVH loader put an `hvm_start_info` at `info` (identity-mapped):
    // the module count is a u32 at 12, the module list's address a u64 at 16; each
    // entry starts with the module's address and size (u64 each).
    let (count, list) = unsafe {
        (
            core::ptr::read_volatile((info + 12) as *const u32),
            core::ptr::read_volatile((info + 16) as *const u64),
        )
    };
    if count == 0 || list == 0 {
        return None;
    }
    // SAFETY: as above; the list lies below 4 GiB (identity-mapped).
    let (address, size) = unsafe {
        (
            core::ptr::read_volatile(list as usize as *const u64),
            core::ptr::read_volatile((list as usize + 8) as *const u64),
        )
    };
    if address == 0 || address.checked_add(size).is_none_or(|end| end > 1 << 32) {
        return None;
    }
    // SAFETY: QEMU loaded the module's `size` bytes at `address`, below 4 GiB
    // (checked), in RAM nothing else of this kernel uses (checked against the heap
    // and SRAM by the caller before anything is written there); nothing writes it.
    Some(unsafe { core::slice::from_raw_parts(address as usize as *const u8, size as usize) })
}

/// The board and its NoC memory: the ivshmem device's BAR, whose ROM describes
/// the board (the runner wrote it before the machine started), laid out for it
/// with the compact data NoC.
fn attach_noc() -> Result<(Board, NocMemory), String> {
    let (base, size) = device(pci::NOC_SLOT, "the board's NoC memory")?;
    // SAFETY: the ROM is the BAR's first bytes (at most ROM_BYTES of its `size`),
    // mapped at `base` (`device`); the runner wrote it before it started any
    // machine and nothing writes it again.
    let rom = unsafe { core::slice::from_raw_parts(base as *const u8, size.min(ROM_BYTES)) };
    let board = decode_rom(rom).map_err(|error| String::from(error.text()))?;
    let layout = Layout::with_data(
        board.clusters.len(),
        board.channel_depth as usize,
        DataGeometry::COMPACT,
    );
    if size < layout.total_bytes() {
        return Err(nanvix_hal::text!(
            "the NoC memory has {} bytes, the board needs {}",
            size,
            layout.total_bytes()
        ));
    }
    // SAFETY: the BAR is `size` bytes of memory QEMU shares between the board's
    // machines, mapped for the kernel at its address (`device`), page-aligned;
    // everything the machines write there goes through atomics and the channel
    // protocol; it stays for the machine's life (nothing to release).
    let memory = unsafe { NocMemory::from_raw(base as *mut u8, size, layout, None) };
    Ok((board, memory))
}

/// The ivshmem device at `slot` (`what` it is, for the refusal): its memory made
/// reachable at its own address, and its size.
fn device(slot: u32, what: &str) -> Result<(usize, usize), String> {
    let region = pci::ivshmem_region(slot)
        .ok_or_else(|| nanvix_hal::text!("no ivshmem device at PCI slot {:#x} ({})", slot, what))?;
    reach(region, what)
}

/// Device memory `(base, size)` (`what` it is) made reachable at its own address.
fn reach((base, size): (u64, u64), what: &str) -> Result<(usize, usize), String> {
    let address = crate::paging::map_device(base, size)
        .map_err(|_| nanvix_hal::text!("{}: its BAR at {:#x} cannot be mapped", what, base))?;
    Ok((address, size as usize))
}

/// The disk of `blocks` blocks and the DDR of `ddr_bytes` the bundle says this
/// machine has (0: none), from their ivshmem devices.
fn attach_storage(
    blocks: u64,
    ddr_bytes: u64,
) -> Result<(Option<MappedDisk>, Option<MappedDdr>), String> {
    let disk = if blocks == 0 {
        None
    } else {
        let (base, size) = device(pci::DISK_SLOT, "the disk")?;
        if (size as u64) < blocks * nanvix_abi::DISK_BLOCK_BYTES as u64 {
            return Err(nanvix_hal::text!(
                "the disk's device has {} bytes, fewer than {} blocks",
                size,
                blocks
            ));
        }
        // SAFETY: the device's memory is mapped (`device`) for the machine's life,
        // and only the disk reaches it.
        Some(unsafe { MappedDisk::new(base, blocks) })
    };
    let ddr = if ddr_bytes == 0 {
        None
    } else {
        let (base, size) = device(pci::DDR_SLOT, "the DDR")?;
        if (size as u64) < ddr_bytes {
            return Err(nanvix_hal::text!(
                "the DDR's device has {} bytes, fewer than {}",
                size,
                ddr_bytes
            ));
        }
        // SAFETY: as above, for the DDR.
        Some(unsafe { MappedDdr::new(base, ddr_bytes) })
    };
    Ok((disk, ddr))
}

/// Says why the boot stops, as the kernel's console line and on the terminal, and
/// ends the machine with failure.
fn refuse(reason: &str) -> ! {
    say!("nanvix-qemu: cannot boot: {}", reason);
    send_report(&ClusterReport::PowerOff { status: 2 });
    machine::exit(machine::FAIL)
}

/// The ELF of program `name`: the bundle's, or one staged on the board.
fn elf(name: &str) -> Option<&'static [u8]> {
    BUNDLE
        .get()?
        .elf(name)
        .or_else(|| crate::platform::staged(name))
}

/// The image program `name` for `program_spawn` and a power request.
fn library(name: &str) -> Option<Result<&'static [u8], String>> {
    elf(name).map(Ok)
}

/// Every program's kcall (from the gate's `syscall`).
fn kcall(number: usize, arguments: [usize; 5]) -> isize {
    match KERNEL.get() {
        Some(kernel) => kernel.kcall(number, arguments),
        None => nanvix_abi::Errno::NoSystemCall.to_result(),
    }
}

/// Boots the microkernel with the bundle of the `hvm_start_info` at `info`.
pub fn boot(info: usize) -> ! {
    let Some(bytes) = first_module(info) else {
        refuse("no boot bundle (QEMU's -initrd)")
    };
    let start = bytes.as_ptr() as usize;
    if crate::paging::user_section().1 > HEAP_BASE {
        refuse("the kernel image reaches into its heap (hal/qemu's memory plan)");
    }
    if start < SRAM_BASE {
        refuse("the boot bundle lies below the SRAM (give the machine more RAM)");
    }
    // SAFETY: the heap's range is RAM (the runner gives the machine more than the
    // SRAM's end) that nothing else uses: the kernel image and its zeroed data end
    // below 16 MiB (checked), the SRAM starts at 32 MiB and the bundle above it
    // (checked).
    unsafe { HEAP.lock().init(HEAP_BASE as *mut u8, HEAP_BYTES) };
    let bundle = match BootBundle::decode(bytes) {
        Ok(bundle) => BUNDLE.call_once(|| bundle),
        Err(error) => refuse(&nanvix_hal::text!("{}", error)),
    };
    crate::paging::install();
    // The devices first, while this core runs alone: sizing a BAR moves it for a
    // moment, which QEMU must not see another core's access race with. The board
    // is the one the NoC memory's ROM describes.
    let (board, noc_memory) = match attach_noc() {
        Ok((board, memory)) => (board, Arc::new(memory)),
        Err(reason) => refuse(&reason),
    };
    let local = bundle.cluster as usize;
    let Some(cluster) = board.clusters.get(local) else {
        refuse("the bundle's cluster is not on the board")
    };
    let sram_end = SRAM_BASE + cluster.sram_bytes as usize;
    if start < sram_end {
        refuse("the boot bundle overlaps the SRAM (give the machine more RAM)");
    }
    crate::paging::protect_for_programs(SRAM_BASE, cluster.sram_bytes as usize);
    let storage = match attach_storage(bundle.disk_blocks, bundle.ddr_bytes) {
        Ok(storage) => storage,
        Err(reason) => refuse(&reason),
    };
    // The board's staging store, if the runner gave the machine one.
    if let Some(region) = pci::ivshmem_region(pci::STAGING_SLOT) {
        match reach(region, "the staging store") {
            // SAFETY: the device's memory is mapped (`device`) for the machine's
            // life; only the runner writes it.
            Ok((base, size)) => unsafe { crate::platform::attach_staging_store(base, size) },
            Err(reason) => refuse(&reason),
        }
    }
    smp::calibrate();
    crate::clock::start(CORES.monotonic_nanoseconds());
    let (online, expected) = smp::start_application_processors();
    if online != expected || CORES.physical_count() < cluster.cores as usize {
        refuse(&nanvix_hal::text!(
            "{} of the board's {} cores came up (QEMU's -smp)",
            CORES.physical_count(),
            cluster.cores
        ));
    }
    user::set_kcall_handler(kcall);
    let names = bundle.library.iter().map(|program| program.name).collect();
    let platform = QemuPlatform::new(
        &board,
        noc_memory,
        (local, bundle.epoch),
        SRAM_BASE,
        (names, bundle.warm),
        storage,
    );
    let board = Arc::new(board);
    let kernel = KERNEL.call_once(|| Kernel::new(platform, board, user::gate_entry()));
    let programs: Vec<ProgramToLoad<'_>> = bundle
        .programs
        .iter()
        .map(|program| ProgramToLoad {
            name: program.name,
            elf: elf(program.name)
                .ok_or("neither the boot bundle nor the staging store has an ELF of that name"),
            arguments: &program.arguments,
            heap_bytes: program.heap_bytes as usize,
            stack_bytes: program.stack_bytes as usize,
            console_input: program.console_input,
        })
        .collect();
    kernel.boot(&programs, library)
}
