//! A disk attached to a cluster: fixed-size blocks behind a volatile write cache.

/// Why a disk operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskError {
    /// The blocks run past the disk's end, or the buffer is not whole blocks.
    OutOfRange,
    /// The medium failed.
    Io,
}

/// A disk of `nanvix_abi::DISK_BLOCK_BYTES`-byte blocks. A write may wait in a
/// volatile cache until a flush: if the cluster dies first it may be lost, and
/// writes not yet flushed may reach the medium in any order. A clean power-off
/// flushes (the kernel does before it powers off).
pub trait Disk: Send + Sync {
    /// Blocks of the disk.
    fn block_count(&self) -> u64;
    /// Reads the blocks from `block` on into `buffer` (whole blocks).
    fn read(&self, block: u64, buffer: &mut [u8]) -> Result<(), DiskError>;
    /// Writes `data` (whole blocks) to the blocks from `block` on.
    fn write(&self, block: u64, data: &[u8]) -> Result<(), DiskError>;
    /// Makes every write before it durable.
    fn flush(&self) -> Result<(), DiskError>;
}
