//! Block devices: fixed-size blocks read and written by number, and a flush that
//! makes every write before it durable.

use alloc::vec;
use alloc::vec::Vec;

/// Bytes in a block.
pub const BLOCK_SIZE: usize = 4096;

/// One block's bytes.
pub type Block = [u8; BLOCK_SIZE];

/// Why a device operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The block number is past the device's end.
    OutOfRange,
    /// The device is gone (a simulated crash happened): nothing more reaches it.
    Crashed,
    /// The medium failed to read or write.
    Io,
}

impl core::fmt::Display for DeviceError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            DeviceError::OutOfRange => "block number past the device's end",
            DeviceError::Crashed => "the device crashed",
            DeviceError::Io => "input/output error",
        })
    }
}

/// A block device. A write may sit in a volatile cache until the next `flush`:
/// only then is it durable, and writes not yet flushed may reach the medium in any
/// order, or not at all, if the machine crashes.
pub trait BlockDevice {
    /// Blocks on the device.
    fn block_count(&self) -> u64;
    /// Reads block `number` (the last write to it, flushed or not).
    fn read(&mut self, number: u64, block: &mut Block) -> Result<(), DeviceError>;
    /// Writes block `number`.
    fn write(&mut self, number: u64, block: &Block) -> Result<(), DeviceError>;
    /// Makes every write before it durable.
    fn flush(&mut self) -> Result<(), DeviceError>;
    /// Reads the blocks from `first` on into `buffer` (whole blocks): one block at a
    /// time unless the device does better.
    fn read_run(&mut self, first: u64, buffer: &mut [u8]) -> Result<(), DeviceError> {
        let mut block = [0; BLOCK_SIZE];
        for (index, piece) in buffer.chunks_exact_mut(BLOCK_SIZE).enumerate() {
            self.read(first + index as u64, &mut block)?;
            piece.copy_from_slice(&block);
        }
        Ok(())
    }
    /// Writes `data` (whole blocks) to the blocks from `first` on, in order: one
    /// block at a time unless the device does better.
    fn write_run(&mut self, first: u64, data: &[u8]) -> Result<(), DeviceError> {
        let mut block = [0; BLOCK_SIZE];
        for (index, piece) in data.chunks_exact(BLOCK_SIZE).enumerate() {
            block.copy_from_slice(piece);
            self.write(first + index as u64, &block)?;
        }
        Ok(())
    }
}

/// A device in memory: every write durable at once (tests, tools, and the
/// durable medium under a [`CrashingDisk`](crate::CrashingDisk)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryDisk {
    blocks: Vec<Block>,
}

impl MemoryDisk {
    /// A zeroed device of `count` blocks.
    pub fn new(count: usize) -> MemoryDisk {
        MemoryDisk {
            blocks: vec![[0; BLOCK_SIZE]; count],
        }
    }

    /// A device holding `bytes` (a disk image), zero-padded to whole blocks.
    pub fn from_bytes(bytes: &[u8]) -> MemoryDisk {
        let mut disk = MemoryDisk::new(bytes.len().div_ceil(BLOCK_SIZE));
        for (block, chunk) in disk.blocks.iter_mut().zip(bytes.chunks(BLOCK_SIZE)) {
            block[..chunk.len()].copy_from_slice(chunk);
        }
        disk
    }

    /// The device's bytes (a disk image).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.blocks.iter().flatten().copied().collect()
    }

    /// Block `number`, if on the device.
    pub fn block(&self, number: u64) -> Option<&Block> {
        self.blocks.get(usize::try_from(number).ok()?)
    }

    /// Block `number` to change in place (tests corrupt devices with it).
    pub fn block_mut(&mut self, number: u64) -> Option<&mut Block> {
        self.blocks.get_mut(usize::try_from(number).ok()?)
    }
}

impl BlockDevice for MemoryDisk {
    fn block_count(&self) -> u64 {
        self.blocks.len() as u64
    }

    fn read(&mut self, number: u64, block: &mut Block) -> Result<(), DeviceError> {
        block.copy_from_slice(self.block(number).ok_or(DeviceError::OutOfRange)?);
        Ok(())
    }

    fn write(&mut self, number: u64, block: &Block) -> Result<(), DeviceError> {
        self.block_mut(number)
            .ok_or(DeviceError::OutOfRange)?
            .copy_from_slice(block);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
}
