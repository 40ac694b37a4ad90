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
