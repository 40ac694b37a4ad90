//! The cluster memory allocator: pieces of the SRAM arena for images, stacks, heaps.

use core::alloc::Layout;
use core::ptr::NonNull;
use linked_list_allocator::Heap;

/// A piece of the cluster's SRAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub base: usize,
    /// Size in bytes.
    pub size: usize,
}

impl Region {
    /// Whether `[address, address + length)` lies inside the region.
    pub fn contains(&self, address: usize, length: usize) -> bool {
        address >= self.base
            && address
                .checked_add(length)
                .is_some_and(|end| end <= self.base + self.size)
    }
}

/// Out of cluster memory: the request did not fit the SRAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    /// Bytes asked for.
    pub requested: usize,
}

/// First-fit allocator over the SRAM arena. Allocation past the arena fails with
/// [`OutOfMemory`]; it never aborts.
pub struct FrameAllocator {
    heap: Heap,
}

// SAFETY: the heap only manages addresses of the arena, which belongs to the kernel
// for the life of the cluster; callers serialise access with a kernel lock.
unsafe impl Send for FrameAllocator {}

impl FrameAllocator {
    /// An allocator over `[base, base + size)`.
    ///
    /// # Safety
    /// The range must be valid, writable memory owned by the kernel and used for
    /// nothing else for the allocator's whole life.
    pub unsafe fn new(base: usize, size: usize) -> FrameAllocator {
        // SAFETY: forwarded from the caller's contract.
        let heap = unsafe { Heap::new(base as *mut u8, size) };
        FrameAllocator { heap }
    }

    /// Allocates `size` bytes aligned to `alignment` (a power of two).
    pub fn allocate(&mut self, size: usize, alignment: usize) -> Result<Region, OutOfMemory> {
        let layout = Layout::from_size_align(size.max(1), alignment)
            .map_err(|_| OutOfMemory { requested: size })?;
        self.heap
            .allocate_first_fit(layout)
            .map(|pointer| Region {
                base: pointer.as_ptr() as usize,
                size,
            })
            .map_err(|_| OutOfMemory { requested: size })
    }

    /// Returns a region obtained from [`FrameAllocator::allocate`] with `alignment`.
    pub fn free(&mut self, region: Region, alignment: usize) {
        if let (Some(pointer), Ok(layout)) = (
            NonNull::new(region.base as *mut u8),
            Layout::from_size_align(region.size.max(1), alignment),
        ) {
            // SAFETY: the region came from this allocator with this layout.
            unsafe { self.heap.deallocate(pointer, layout) };
        }
    }

    /// Bytes still free.
    pub fn free_bytes(&self) -> usize {
        self.heap.free()
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn allocation_past_the_arena_fails_and_frees_return_memory() {
        let mut arena = std::vec![0u8; 1 << 20];
        let base = arena.as_mut_ptr() as usize;
        // SAFETY: the vector outlives the allocator and is used for nothing else.
        let mut allocator = unsafe { FrameAllocator::new(base, arena.len()) };
        let first = allocator.allocate(512 << 10, 4096).unwrap();
        assert!(first.base.is_multiple_of(4096) && first.base >= base);
        assert_eq!(
            allocator.allocate(1 << 20, 4096),
            Err(OutOfMemory { requested: 1 << 20 })
        );
        allocator.free(first, 4096);
        assert!(allocator.allocate(768 << 10, 16).is_ok());
    }
}
