//! The memory module: pages of the cluster's MMU window, mapped onto SRAM for this
//! program.

use crate::runtime::kcall;
pub use crate::runtime::pages::{Page, window_load, window_store};
use core::marker::PhantomData;
pub use nanvix_abi::PageFault;
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

/// Unmaps this program's page at `address` (its first address), such as one
/// another program granted it.
pub fn unmap(address: usize) -> Result<(), Errno> {
    kcall(Kcall::MemoryUnmap, [address, 0, 0, 0, 0]).map(|_| ())
}

/// This program's pager, held by the thread that attached it: the page faults of
/// the program's other threads on the window come to it, one at a time, oldest
/// first. A faulted thread waits until the pager resumes it (after mapping the
/// page) or refuses it (the thread ends, reported, as with no pager). When the
/// attaching thread ends, the program has no pager again.
pub struct Pager {
    /// Pager kcalls work only on the attaching thread: not `Send`.
    _attached_thread: PhantomData<*const ()>,
}

impl Pager {
    /// Makes the calling thread its program's pager (EBUSY: another thread is).
    pub fn attach() -> Result<Pager, Errno> {
        kcall(Kcall::PagerAttach, [0; 5])?;
        Ok(Pager {
            _attached_thread: PhantomData,
        })
    }

    /// Waits, without a core, for the next page fault.
    pub fn next_fault(&self) -> Result<PageFault, Errno> {
        let mut fault = PageFault::default();
        kcall(
            Kcall::PagerWait,
            [
                &raw mut fault as usize,
                core::mem::size_of::<PageFault>(),
                0,
                0,
                0,
            ],
        )?;
        Ok(fault)
    }

    /// Runs the faulted access again (map the page first, or it faults again).
    pub fn resume(&self, fault: &PageFault) -> Result<(), Errno> {
        kcall(Kcall::PagerResume, [fault.thread, 1, 0, 0, 0]).map(|_| ())
    }

    /// Lets the fault stand: the faulted thread ends with a fault report.
    pub fn refuse(&self, fault: &PageFault) -> Result<(), Errno> {
        kcall(Kcall::PagerResume, [fault.thread, 0, 0, 0, 0]).map(|_| ())
    }
}
