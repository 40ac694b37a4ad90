//! The memory module: pages of the cluster's MMU window, mapped onto SRAM for this
//! program.

use crate::runtime::kcall;
pub use crate::runtime::pages::Page;
use nanvix_abi::{Errno, Kcall};

/// The window's first address (`MEMORY_WINDOW_BYTES` long); 0 without an MMU.
pub fn window() -> Result<usize, Errno> {
    kcall(Kcall::MemoryWindow, [0; 5])
}

/// What this program holds at `address`: bits 0-2 read, write, execute; bit 3 a
/// 64 KiB page; bit 4 may unmap; bit 5 may grant.
pub fn info(address: usize) -> Result<usize, Errno> {
    kcall(Kcall::MemoryInfo, [address, 0, 0, 0, 0])
}
