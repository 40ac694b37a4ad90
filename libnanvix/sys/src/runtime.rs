//! The runtime: start-up, the raw kcall, the allocator, panics and memory routines.
//!
//! This is the one module of libnanvix with `unsafe` code: it keeps the start block
//! the kernel handed over, calls through the gate, and supplies what a freestanding
//! program needs (memcpy and friends, what its panic handler and global allocator
//! do, the defmt global logger in [`logger`]).

use core::sync::atomic::{AtomicPtr, Ordering};
use nanvix_abi::{ABI_VERSION, Errno, GATE_MAGIC, Kcall, StartInfo};

#[cfg(not(test))]
mod logger;
pub mod pages;
pub mod sync;
pub mod threads;

static START_INFO: AtomicPtr<StartInfo> = AtomicPtr::new(core::ptr::null_mut());

/// The `.note.nanvix` note: marks the ELF as a Nanvix program of this ABI version.
#[unsafe(link_section = ".note.nanvix")]
#[used]
static NANVIX_NOTE: [u8; 24] = {
    let mut note = [0u8; 24];
    note[0] = 7; // name size: "Nanvix\0"
    note[4] = 4; // descriptor size
    note[8] = nanvix_abi::NOTE_TYPE_ABI as u8;
    let name = b"Nanvix\0";
    let mut index = 0;
    while index < name.len() {
        note[12 + index] = name[index];
        index += 1;
    }
    let version = ABI_VERSION.to_le_bytes();
    note[20] = version[0];
    note[21] = version[1];
    note[22] = version[2];
    note[23] = version[3];
    note
};

/// Starts the program: keeps the start block, sets up the heap, runs `main`.
///
/// # Safety
/// `info` must be the start block the kernel passed to `_start`.
pub unsafe fn start(info: *const StartInfo, main: fn() -> i32) -> i32 {
    START_INFO.store(info.cast_mut(), Ordering::Release);
    // SAFETY: the kernel passes a valid start block that lives as long as the program.
    let info = unsafe { &*info };
    // SAFETY: the gate pointer of a valid start block is valid for the program's life.
    let gate = unsafe { &*info.gate };
    if gate.magic != GATE_MAGIC || gate.version != ABI_VERSION {
        return 127;
    }
    // SAFETY: the heap range belongs to this program alone, and this runs once.
    unsafe {
        HEAP.lock().init(info.heap_base as *mut u8, info.heap_size);
    }
    main()
}

/// The start block, or `None` before start-up (or in host unit tests).
pub fn start_info() -> Option<&'static StartInfo> {
    let pointer = START_INFO.load(Ordering::Acquire);
    // SAFETY: set once at start-up to the kernel's start block, valid for the
    // program's whole life.
    unsafe { pointer.as_ref() }
}

/// Calls the kernel. Returns `Err(Errno::NoSystemCall)` when not started by a kernel.
pub fn kcall(call: Kcall, arguments: [usize; 5]) -> Result<usize, Errno> {
    kcall_number(call as usize, arguments)
}

/// Calls the kernel by raw number (tests of the kcall layer use numbers that are not
/// kcalls). Arguments are not checked here: the kernel checks them all.
pub fn kcall_number(number: usize, arguments: [usize; 5]) -> Result<usize, Errno> {
    let Some(info) = start_info() else {
        return Err(Errno::NoSystemCall);
    };
    // SAFETY: a started program's gate is valid for its whole life; the kcall entry
    // checks every argument itself.
    let result = unsafe {
        ((*info.gate).kcall)(
            number,
            arguments[0],
            arguments[1],
            arguments[2],
            arguments[3],
            arguments[4],
        )
    };
    Errno::check(result)
}

/// The program's heap (the start block's heap range, set up at start).
static HEAP: linked_list_allocator::LockedHeap = linked_list_allocator::LockedHeap::empty();

/// The global allocator [`entry!`](crate::entry) installs in a program: its heap.
///
/// The program crate, not libnanvix, holds the `#[global_allocator]` and
/// `#[panic_handler]` items, so a library that uses libnanvix can run its unit tests
/// on the host, with std's.
pub struct Heap;

// SAFETY: every call goes to the locked heap, a sound allocator, with the caller's
// own promises.
unsafe impl core::alloc::GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's promises are `GlobalAlloc::alloc`'s.
        unsafe { core::alloc::GlobalAlloc::alloc(&HEAP, layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: core::alloc::Layout) {
        // SAFETY: the caller's promises are `GlobalAlloc::dealloc`'s.
        unsafe { core::alloc::GlobalAlloc::dealloc(&HEAP, pointer, layout) }
    }
}

/// What a program's panic handler ([`entry!`](crate::entry) installs it) does:
/// prints where and why, reports the panic with a backtrace, and ends the thread.
pub fn panic(information: &core::panic::PanicInfo<'_>) -> ! {
    match information.location() {
        Some(location) => crate::eprintln!("panic at {location}: {}", information.message()),
        None => crate::eprintln!("panic: {}", information.message()),
    }
    let (frame_pointer, instruction): (usize, usize);
    // SAFETY: reads this function's frame pointer and an address inside it; no
    // memory is touched (programs are built with frame pointers).
    unsafe {
        core::arch::asm!(
            "mov {frame}, rbp",
            "lea {here}, [rip]",
            frame = out(reg) frame_pointer,
            here = out(reg) instruction,
            options(nomem, nostack, preserves_flags),
        );
    }
    let _ = kcall(Kcall::PanicReport, [frame_pointer, instruction, 0, 0, 0]);
    // The panicking thread ends alone (its joiner sees EIO); on the main thread,
    // that ends the program.
    crate::thread::exit(101)
}

// memcpy, memmove, memset, memcmp, bcmp: a freestanding program has no libc; the
// routines live in `nanvix-freestanding` (shared with the bare-metal kernel).
#[cfg(not(test))]
use nanvix_freestanding as _;

/// Makes the calling thread fault on purpose: a store to `address` (give one no
/// program memory is at). For tests of fault reports: the kernel ends the thread,
/// reports it, and the rest of the program goes on.
#[inline(never)]
pub fn fault_on_purpose(address: usize) -> ! {
    // SAFETY: not safe at all, on purpose: the store faults (the caller names an
    // address outside the program's memory) and the kernel ends this thread there.
    unsafe { core::ptr::write_volatile(address as *mut u64, 0xdead) };
    loop {
        core::hint::spin_loop();
    }
}

/// Argument `position` of the start block, if it is there and is UTF-8.
pub fn argument(position: usize) -> Option<&'static str> {
    let info = start_info()?;
    if position >= info.argument_count {
        return None;
    }
    // SAFETY: the kernel wrote `argument_count` slices, each pointing at text in the
    // start block, which lives as long as the program.
    let bytes = unsafe {
        let slice = *info.arguments.add(position);
        core::slice::from_raw_parts(slice.pointer, slice.length)
    };
    core::str::from_utf8(bytes).ok()
}
