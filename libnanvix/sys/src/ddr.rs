//! The board's DDR, for programs of DDR-attached I/O clusters: bytes by offset,
//! shared by every such cluster, kept as long as the board runs.

use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall};

/// Bytes of the DDR (`ENOENT`: this cluster is not attached to it).
pub fn size() -> Result<u64, Errno> {
    kcall(Kcall::DdrInfo, [0; 5]).map(|bytes| bytes as u64)
}

/// Reads the DDR's bytes from `offset` on into `buffer`.
pub fn read(offset: u64, buffer: &mut [u8]) -> Result<(), Errno> {
    let offset = usize::try_from(offset).map_err(|_| Errno::Invalid)?;
    kcall(
        Kcall::DdrRead,
        [offset, buffer.as_mut_ptr() as usize, buffer.len(), 0, 0],
    )
    .map(drop)
}

/// Writes `data` to the DDR from `offset` on.
pub fn write(offset: u64, data: &[u8]) -> Result<(), Errno> {
    let offset = usize::try_from(offset).map_err(|_| Errno::Invalid)?;
    kcall(
        Kcall::DdrWrite,
        [offset, data.as_ptr() as usize, data.len(), 0, 0],
    )
    .map(drop)
}
