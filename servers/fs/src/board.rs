//! The disk attached to the calling program's cluster as a [`BlockDevice`]: reads
//! and writes through the kernel's `disk_*` calls, a flush through `disk_flush`
//! (feature `board`, for programs).

use crate::device::{Block, BlockDevice, DeviceError};
use nanvix_sys::disk;

/// The cluster's disk.
#[derive(Debug)]
pub struct BoardDisk {
    blocks: u64,
}

impl BoardDisk {
    /// The disk attached to this cluster (`ENOENT` if none).
    pub fn open() -> Result<BoardDisk, nanvix_sys::Errno> {
        Ok(BoardDisk {
            blocks: disk::blocks()?,
        })
    }
}

impl BlockDevice for BoardDisk {
    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn read(&mut self, number: u64, block: &mut Block) -> Result<(), DeviceError> {
        disk::read(number, block).map_err(|_| DeviceError::Io)
    }

    fn write(&mut self, number: u64, block: &Block) -> Result<(), DeviceError> {
        disk::write(number, block).map_err(|_| DeviceError::Io)
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        disk::flush().map_err(|_| DeviceError::Io)
    }

    fn read_run(&mut self, first: u64, buffer: &mut [u8]) -> Result<(), DeviceError> {
        disk::read(first, buffer).map_err(|_| DeviceError::Io)
    }

    fn write_run(&mut self, first: u64, data: &[u8]) -> Result<(), DeviceError> {
        disk::write(first, data).map_err(|_| DeviceError::Io)
    }
}
