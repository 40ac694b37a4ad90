//! The memory kcalls: pages of the MMU window mapped onto SRAM frames for the
//! calling program, through the page tables (which decide) and the HAL's MMU (which
//! makes it so).

use super::Kernel;
use crate::memory::Region;
use crate::paging::{Capability, Mapping, PageSize, PagingError, Rights};
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
        let memory = self.mmu()?;
        let size = match size {
            0 => PageSize::Small,
            1 => PageSize::Large,
            _ => return Err(Errno::Invalid),
        };
        let rights = self.rights(rights)?;
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
        let mut pages = self.pages.lock();
        let removed = pages.unmap(address, index).map_err(errno)?;
        self.release_mapping(removed);
        Ok(0)
    }

    /// `memory_protect`: new rights for the caller's own page at `address` (its
    /// first address); its frame and bytes stay.
    pub(super) fn memory_protect(
        &self,
        index: usize,
        address: usize,
        rights: usize,
    ) -> Result<usize, Errno> {
        let memory = self.mmu()?;
        let rights = self.rights(rights)?;
        let mut pages = self.pages.lock();
        let before = pages.protect(address, index, rights).map_err(errno)?;
        // The same frame mapped again with the new rights (under the tables' lock:
        // no other change of this page comes between).
        let bytes = before.size.bytes();
        if memory
            .map(address, before.frame, bytes, rights.write, rights.execute)
            .is_err()
        {
            let _ = pages.protect(address, index, before.capability.rights);
            return Err(Errno::NoMemory);
        }
        Ok(0)
    }

    /// Takes a removed mapping out of the MMU and, if it was its frame's last,
    /// gives the frame back to SRAM (callers hold the page tables' lock).
    fn release_mapping(&self, (mapping, last): (Mapping, bool)) {
        let memory = self.platform.memory();
        let bytes = mapping.size.bytes();
        // The MMU first: nothing may reach the frame once it is free again.
        let _ = memory.unmap(mapping.virtual_base, bytes);
        if last {
            self.frames.lock().free(
                Region {
                    base: memory.base() + mapping.frame,
                    size: bytes,
                },
                bytes,
            );
        }
    }

    /// Program `index` ended: every page it holds goes (frames it shared with a
    /// grant stay with their other holders).
    pub(super) fn release_pages(&self, index: usize) {
        let mut pages = self.pages.lock();
        for removed in pages.remove_owner(index) {
            self.release_mapping(removed);
        }
    }

    /// `memory_grant`.
    pub(super) fn memory_grant(
        &self,
        index: usize,
        address: usize,
        program: usize,
        to_address: usize,
        rights: usize,
    ) -> Result<usize, Errno> {
        let memory = self.mmu()?;
        let rights = self.rights(rights)?;
        let to = (0..self
            .programs_count
            .load(core::sync::atomic::Ordering::Acquire))
            .find(|position| self.info(*position).id as usize == program)
            .filter(|position| *position != index && self.ending_status(*position).is_none())
            .ok_or(Errno::Invalid)?;
        let mut pages = self.pages.lock();
        let granted = pages
            .grant(address, index, to, to_address, rights)
            .map_err(errno)?;
        let bytes = granted.size.bytes();
        if memory
            .map(
                to_address,
                granted.frame,
                bytes,
                rights.write,
                rights.execute,
            )
            .is_err()
        {
            let _ = pages.unmap(to_address, to);
            return Err(Errno::NoMemory);
        }
        Ok(0)
    }

    /// The cluster memory, if the platform has an MMU (ENOSYS otherwise).
    fn mmu(&self) -> Result<&P::Memory, Errno> {
        let memory = self.platform.memory();
        if memory.window().1 == 0 {
            return Err(Errno::NoSystemCall);
        }
        Ok(memory)
    }

    /// The rights bits of `memory_map` and `memory_grant` (reading always given).
    fn rights(&self, bits: usize) -> Result<Rights, Errno> {
        if bits & !(WRITE | EXECUTE) != 0 {
            return Err(Errno::Invalid);
        }
        Ok(Rights {
            read: true,
            write: bits & WRITE != 0,
            execute: bits & EXECUTE != 0,
        })
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
