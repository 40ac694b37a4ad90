//! The hosted disk: a disk image file the runner opens and hands the cluster,
//! behind a volatile write cache in the cluster process. A write waits in the cache
//! until a flush (`pwrite` of every cached block, then `fdatasync`), so a cluster
//! process that dies loses its unflushed writes, as a machine losing power does;
//! a cache grown past its bound writes its lowest-numbered block back early, so
//! unflushed writes also reach the file out of order.

use nanvix_abi::DISK_BLOCK_BYTES;
use nanvix_hal::{Disk, DiskError};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Blocks the cache holds before it writes one back (16 MiB).
const CACHE_BLOCKS_MAX: usize = 4096;

/// The most blocks a flush writes with one `pwrite` (1 MiB).
const FLUSH_RUN_BLOCKS: usize = 256;

/// A disk image file behind a volatile write cache.
pub struct HostedDisk {
    file: File,
    blocks: u64,
    cache: Mutex<BTreeMap<u64, Box<[u8; DISK_BLOCK_BYTES]>>>,
}

impl HostedDisk {
    /// The disk in `file`, of `blocks` blocks.
    pub fn new(file: File, blocks: u64) -> HostedDisk {
        HostedDisk {
            file,
            blocks,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The blocks `buffer` covers from `block` on, if whole and on the disk.
    fn span(&self, block: u64, buffer: usize) -> Result<u64, DiskError> {
        if !buffer.is_multiple_of(DISK_BLOCK_BYTES) {
            return Err(DiskError::OutOfRange);
        }
        let count = (buffer / DISK_BLOCK_BYTES) as u64;
        match block.checked_add(count) {
            Some(end) if end <= self.blocks => Ok(count),
            _ => Err(DiskError::OutOfRange),
        }
    }

    fn write_back(&self, block: u64, data: &[u8]) -> Result<(), DiskError> {
        self.file
            .write_all_at(data, block * DISK_BLOCK_BYTES as u64)
            .map_err(|_| DiskError::Io)
    }
}

impl Disk for HostedDisk {
    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn read(&self, block: u64, buffer: &mut [u8]) -> Result<(), DiskError> {
        self.span(block, buffer.len())?;
        let cache = self.cache.lock();
        // The file's blocks in one read, then the cached ones over them.
        self.file
            .read_exact_at(buffer, block * DISK_BLOCK_BYTES as u64)
            .map_err(|_| DiskError::Io)?;
        let count = (buffer.len() / DISK_BLOCK_BYTES) as u64;
        for (number, cached) in cache.range(block..block + count) {
            let at = (number - block) as usize * DISK_BLOCK_BYTES;
            buffer[at..at + DISK_BLOCK_BYTES].copy_from_slice(&cached[..]);
        }
        Ok(())
    }

    fn write(&self, block: u64, data: &[u8]) -> Result<(), DiskError> {
        self.span(block, data.len())?;
        let mut cache = self.cache.lock();
        for (index, chunk) in data.chunks(DISK_BLOCK_BYTES).enumerate() {
            // A block cached already takes the bytes in place; a new one is a copy
            // (not zeroed first).
            match cache.get_mut(&(block + index as u64)) {
                Some(cached) => cached.copy_from_slice(chunk),
                None => {
                    let copy: Box<[u8; DISK_BLOCK_BYTES]> = Box::<[u8]>::from(chunk)
                        .try_into()
                        .map_err(|_| DiskError::OutOfRange)?;
                    cache.insert(block + index as u64, copy);
                }
            }
        }
        while cache.len() > CACHE_BLOCKS_MAX {
            let Some((number, evicted)) = cache.pop_first() else {
                break;
            };
            self.write_back(number, &evicted[..])?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), DiskError> {
        let mut cache = self.cache.lock();
        // Runs of consecutive blocks (up to `FLUSH_RUN_BLOCKS`), one write each,
        // gathered in one buffer.
        let mut run: Vec<u8> =
            Vec::with_capacity(cache.len().min(FLUSH_RUN_BLOCKS) * DISK_BLOCK_BYTES);
        let mut start = 0;
        for (number, cached) in cache.iter() {
            let blocks = (run.len() / DISK_BLOCK_BYTES) as u64;
            if !run.is_empty() && (start + blocks != *number || blocks as usize == FLUSH_RUN_BLOCKS)
            {
                self.write_back(start, &run)?;
                run.clear();
            }
            if run.is_empty() {
                start = *number;
            }
            run.extend_from_slice(&cached[..]);
        }
        if !run.is_empty() {
            self.write_back(start, &run)?;
        }
        cache.clear();
        self.file.sync_data().map_err(|_| DiskError::Io)
    }
}
