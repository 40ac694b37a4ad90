//! The disk attached to the caller's cluster: whole blocks read and written through
//! its volatile write cache, and a flush that makes every write before it durable.

use crate::runtime::kcall;
pub use nanvix_abi::DISK_BLOCK_BYTES;
use nanvix_abi::{Errno, Kcall};

/// Blocks of the disk (`ENOENT`: no disk on this cluster).
pub fn blocks() -> Result<u64, Errno> {
    kcall(Kcall::DiskInfo, [0; 5]).map(|blocks| blocks as u64)
}

/// The whole blocks `bytes` bytes make (`EINVAL` otherwise).
fn whole_blocks(bytes: usize) -> Result<usize, Errno> {
    if bytes.is_multiple_of(DISK_BLOCK_BYTES) {
        Ok(bytes / DISK_BLOCK_BYTES)
    } else {
        Err(Errno::Invalid)
    }
}

/// Reads the blocks from `block` on into `buffer` (whole blocks).
pub fn read(block: u64, buffer: &mut [u8]) -> Result<(), Errno> {
    let blocks = whole_blocks(buffer.len())?;
    let block = usize::try_from(block).map_err(|_| Errno::Invalid)?;
    kcall(
        Kcall::DiskRead,
        [block, buffer.as_mut_ptr() as usize, blocks, 0, 0],
    )
    .map(drop)
}

/// Writes `data` (whole blocks) to the blocks from `block` on; durable after the
/// next [`flush`].
pub fn write(block: u64, data: &[u8]) -> Result<(), Errno> {
    let blocks = whole_blocks(data.len())?;
    let block = usize::try_from(block).map_err(|_| Errno::Invalid)?;
    kcall(
        Kcall::DiskWrite,
        [block, data.as_ptr() as usize, blocks, 0, 0],
    )
    .map(drop)
}

/// Makes every write before it durable.
pub fn flush() -> Result<(), Errno> {
    kcall(Kcall::DiskFlush, [0; 5]).map(drop)
}
