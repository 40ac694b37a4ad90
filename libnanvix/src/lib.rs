//! The runtime programs link: kcall stubs, entry, allocator, println!, and POSIX-like calls on the system's servers.
//!
//! Everything of the lower half, `nanvix-sys` (kcall stubs, runtime, entry,
//! allocator, console, NoC, mailboxes, portals, threads, sync, signals, programs),
//! is here by the same paths (`libnanvix::println!`, `libnanvix::mailbox`, ...);
//! [`posix`] adds process, signal, name and descriptor calls with POSIX-like names,
//! made on the system's servers, and [`fs`] files and directories of the vfs
//! server in the shape of `std::fs`.
#![no_std]

extern crate alloc;

pub use nanvix_sys::*;

pub mod fs;
pub mod posix;
pub mod remote;
pub mod shm;
pub mod streams;

/// `nanvix_sys`'s entry, which [`entry!`] wraps.
#[doc(hidden)]
pub use nanvix_sys::entry as sys_entry;

/// Names the program's main function: `libnanvix::entry!(main);` where
/// `fn main() -> i32` returns the exit status. Before `main`, the standard streams
/// go where the spawner redirected them ([`streams`]); the rest is `nanvix_sys`'s
/// entry (the global allocator, the panic handler).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        fn __libnanvix_main() -> i32 {
            $crate::streams::install();
            let status = $main();
            $crate::streams::finish();
            status
        }
        $crate::sys_entry!(__libnanvix_main);
    };
}
