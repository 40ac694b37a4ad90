//! The asymmetric microkernel that runs on every cluster.
//!
//! One instance runs on each cluster. Its master core (core 0) runs the kernel's
//! own loop: it routes control-NoC traffic to programs and notices when programs
//! end. The other cores run program threads, which enter the kernel only through the
//! gate's kcall entry (`nanvix_abi::Gate`).
//!
//! Principles, in the spirit of Hubris' kernel:
//! 1. **Policy-free.** The kernel loads what the boot spec lists and reports what
//!    happens; supervision and restart belong to user-level servers.
//! 2. **Checked input.** Every kcall argument is checked before anything runs, and a
//!    failing call changes nothing. A program ELF is checked whole before a byte of
//!    it is placed.
//! 3. **Generic over the platform.** Nothing here knows it runs on Linux or on bare
//!    metal: all hardware access goes through `nanvix_hal::Platform`.
//! 4. **`unsafe` stays narrow:** only [`user_memory`] touches program memory through
//!    raw addresses, after the range was checked.
#![no_std]

extern crate alloc;

pub mod kernel;
pub mod loader;
pub mod memory;
pub mod paging;
pub mod remote;
pub mod sync;
#[cfg(test)]
mod test_cores;
pub mod thread;
pub mod user_memory;

pub use kernel::{Kernel, ProgramLibrary, ProgramToLoad};
