//! Cluster memory: the SRAM arena, exactly as large as the board says.

/// The cluster's SRAM, as one contiguous range of addresses in the kernel's view.
///
/// The kernel's memory module hands out pieces of it (program images, stacks,
/// heaps); the HAL only owns the range. The MMU is here too: a virtual window in
/// which the kernel maps SRAM frames with rights (its page tables decide, the MMU
/// makes it so); an access to an unmapped page of the window is a fault.
pub trait ClusterMemory: Send + Sync {
    /// First byte of the arena; aligned to at least 64 KiB.
    fn base(&self) -> usize;
    /// Size in bytes: the board's SRAM size for this cluster.
    fn size(&self) -> usize;
    /// The MMU's virtual window: first address (64 KiB-aligned) and size in bytes.
    /// `(0, 0)` where the backend has no MMU.
    fn window(&self) -> (usize, usize) {
        (0, 0)
    }

    /// Maps `bytes` of SRAM from `frame` (an offset into the arena) at `virtual`
    /// (in the window), readable, and writable and executable as asked. Page-aligned
    /// ranges only; the kernel's page tables checked everything else.
    fn map(
        &self,
        virtual_address: usize,
        frame: usize,
        bytes: usize,
        writable: bool,
        executable: bool,
    ) -> Result<(), MmuError> {
        let _ = (virtual_address, frame, bytes, writable, executable);
        Err(MmuError::Unsupported)
    }

    /// Unmaps `bytes` at `virtual_address`: accesses fault again.
    fn unmap(&self, virtual_address: usize, bytes: usize) -> Result<(), MmuError> {
        let _ = (virtual_address, bytes);
        Err(MmuError::Unsupported)
    }

    /// Zeroes `bytes` of the arena from `address` (a range the kernel owns, that no
    /// thread uses). The default writes zeros; a backend may do better for large
    /// ranges (hosted: gives the pages back to the host, which reads them as zeros).
    fn zero(&self, address: usize, bytes: usize) {
        if !self.contains(address, bytes) {
            return;
        }
        // SAFETY: the range lies in the arena (checked) and the caller owns it with
        // no reference to its bytes alive.
        unsafe { core::ptr::write_bytes(address as *mut u8, 0, bytes) };
    }

    /// Whether `[address, address + length)` lies inside the arena.
    fn contains(&self, address: usize, length: usize) -> bool {
        address >= self.base()
            && address
                .checked_add(length)
                .is_some_and(|end| end <= self.base() + self.size())
    }
}

/// Why the MMU refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmuError {
    /// This backend has no MMU.
    Unsupported,
    /// The hardware (hosted: the host's mmap) refused.
    Refused,
}
