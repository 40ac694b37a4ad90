//! The memory kcalls: pages of the MMU window mapped onto SRAM frames for the
//! calling program, through the page tables (which decide) and the HAL's MMU (which
//! makes it so).

use super::Kernel;
use crate::memory::Region;
use crate::paging::{Capability, PageSize, PagingError, Rights};
use nanvix_abi::Errno;
use nanvix_hal::{ClusterMemory, Platform};

/// Bits of `memory_map`'s rights and `memory_info`'s answer.
const WRITE: usize = 1 << 1;
const EXECUTE: usize = 1 << 2;

fn errno(error: PagingError) -> Errno {
    match error {
        PagingError::Misaligned | PagingError::OutOfRange => Errno::Invalid,
        PagingError::Overlaps => Errno::Busy,
        PagingError::NotMapped => Errno::NoEntry,
        PagingError::NotPermitted | PagingError::RightsExceeded => Errno::Permission,
    }
}

impl<P: Platform> Kernel<P> {
    /// `memory_window`.
    pub(super) fn memory_window(&self) -> Result<usize, Errno> {
        Ok(self.platform.memory().window().0)
    }

    /// `memory_map`.
    pub(super) fn memory_map(
        &self,
        index: usize,
        address: usize,
        size: usize,
        rights: usize,
    ) -> Result<usize, Errno> {
        let memory = self.platform.memory();
        if memory.window().1 == 0 {
            return Err(Errno::NoSystemCall);
        }
        let size = match size {
            0 => PageSize::Small,
            1 => PageSize::Large,
            _ => return Err(Errno::Invalid),
        };
        if rights & !(WRITE | EXECUTE) != 0 {
            return Err(Errno::Invalid);
        }
        let rights = Rights {
            read: true,
            write: rights & WRITE != 0,
            execute: rights & EXECUTE != 0,
        };
        let bytes = size.bytes();
        let mut pages = self.pages.lock();
        // Check the page first, so a refusal takes no frame.
        pages.check_place(address, size).map_err(errno)?;
        let region = self
            .frames
            .lock()
            .allocate(bytes, bytes)
            .map_err(|_| Errno::NoMemory)?;
        let frame = region.base - memory.base();
        let capability = Capability {
            owner: index,
            rights,
            may_unmap: true,
            may_grant: true,
        };
        let undo = |frames: &mut crate::memory::FrameAllocator| frames.free(region, bytes);
        if let Err(error) = pages.map(address, frame, size, capability) {
            undo(&mut self.frames.lock());
            return Err(errno(error));
        }
        // SAFETY: the frame is ours alone, fresh from the allocator.
        unsafe { crate::user_memory::region_bytes(region) }.fill(0);
        if memory
            .map(address, frame, bytes, rights.write, rights.execute)
            .is_err()
        {
            let _ = pages.unmap(address, index);
            undo(&mut self.frames.lock());
            return Err(Errno::NoMemory);
        }
        Ok(0)
    }

    /// `memory_unmap`.
    pub(super) fn memory_unmap(&self, index: usize, address: usize) -> Result<usize, Errno> {
        let memory = self.platform.memory();
        let mut pages = self.pages.lock();
        let mapping = pages.unmap(address, index).map_err(errno)?;
        let bytes = mapping.size.bytes();
        // The MMU first: nothing may reach the frame once it is free again.
        let _ = memory.unmap(address, bytes);
        self.frames.lock().free(
            Region {
                base: memory.base() + mapping.frame,
                size: bytes,
            },
            bytes,
        );
        Ok(0)
    }

    /// `memory_info`.
    pub(super) fn memory_info(&self, index: usize, address: usize) -> Result<usize, Errno> {
        let pages = self.pages.lock();
        let mapping = pages.covering(address).ok_or(Errno::NoEntry)?;
        let capability = mapping.capability;
        if capability.owner != index {
            return Err(Errno::Permission);
        }
        let bit = |set: bool, position: u32| usize::from(set) << position;
        Ok(bit(capability.rights.read, 0)
            | bit(capability.rights.write, 1)
            | bit(capability.rights.execute, 2)
            | bit(mapping.size == PageSize::Large, 3)
            | bit(capability.may_unmap, 4)
            | bit(capability.may_grant, 5))
    }
}
