//! Cluster memory: the SRAM arena, exactly as large as the board says.

/// The cluster's SRAM, as one contiguous range of addresses in the kernel's view.
///
/// The kernel's memory module hands out pieces of it (program images, stacks,
/// heaps); the HAL only owns the range. The MMU interface (mappings, rights, faults)
/// is a separate trait that arrives with the memory module.
pub trait ClusterMemory: Send + Sync {
    /// First byte of the arena; aligned to at least 64 KiB.
    fn base(&self) -> usize;
    /// Size in bytes: the board's SRAM size for this cluster.
    fn size(&self) -> usize;
    /// Whether `[address, address + length)` lies inside the arena.
    fn contains(&self, address: usize, length: usize) -> bool {
        address >= self.base()
            && address
                .checked_add(length)
                .is_some_and(|end| end <= self.base() + self.size())
    }
}
