//! The hosted disk: a disk image file the runner opens and hands the cluster,
//! behind a volatile write cache in the cluster process. A write waits in the cache
//! until a flush (`pwritev` of every cached block, a run of consecutive blocks at
//! once, then `fdatasync`), so a cluster process that dies loses its unflushed
//! writes, as a machine losing power does; a cache grown past its bound writes its
//! lowest-numbered blocks back early (1 MiB of them), so unflushed writes also reach
//! the file out of order.

use nanvix_abi::DISK_BLOCK_BYTES;
use nanvix_hal::{Disk, DiskError};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

/// Blocks the cache holds before it writes some back (16 MiB).
const CACHE_BLOCKS_MAX: usize = 4096;

/// The most blocks a flush writes with one `pwritev` (1 MiB).
const FLUSH_RUN_BLOCKS: usize = 256;
/// Blocks a full cache writes back at once, the lowest-numbered (1 MiB).
const EVICT_BLOCKS: usize = 256;

/// A disk image file behind a volatile write cache.
pub struct HostedDisk {
    file: File,
    blocks: u64,
    cache: Mutex<Cache>,
}

/// A cached block's bytes.
type CachedBlock = Box<[u8; DISK_BLOCK_BYTES]>;

/// The written blocks not yet in the file, and spare block buffers: written back
/// blocks' buffers are kept (up to the cache's bound) for the next writes, so a
/// stream of writes does not take fresh memory, and its page faults, each time.
#[derive(Default)]
struct Cache {
    blocks: BTreeMap<u64, CachedBlock>,
    spare: Vec<CachedBlock>,
}

impl Cache {
    /// Keeps the buffers of `blocks`, written back, as spares.
    fn keep_spares(&mut self, blocks: Vec<(u64, CachedBlock)>) {
        let room = CACHE_BLOCKS_MAX.saturating_sub(self.spare.len());
        self.spare
            .extend(blocks.into_iter().take(room).map(|(_, data)| data));
    }
}

impl HostedDisk {
    /// The disk in `file`, of `blocks` blocks.
    pub fn new(file: File, blocks: u64) -> HostedDisk {
        HostedDisk {
            file,
            blocks,
            cache: Mutex::new(Cache::default()),
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

    /// Writes `blocks` (in block order) to the file: each run of consecutive
    /// blocks (up to [`FLUSH_RUN_BLOCKS`]) with one `pwritev` from the cached blocks.
    fn write_back_runs(&self, blocks: &[(u64, CachedBlock)]) -> Result<(), DiskError> {
        let mut at = 0;
        while at < blocks.len() {
            let start = blocks[at].0;
            let mut count = 1;
            while at + count < blocks.len()
                && count < FLUSH_RUN_BLOCKS
                && blocks[at + count].0 == start + count as u64
            {
                count += 1;
            }
            self.write_run(start, &blocks[at..at + count])?;
            at += count;
        }
        Ok(())
    }

    /// Writes the consecutive `blocks` from block `start` on with one `pwritev` (the
    /// rest of a short write one block at a time).
    fn write_run(&self, start: u64, blocks: &[(u64, CachedBlock)]) -> Result<(), DiskError> {
        let base = start * DISK_BLOCK_BYTES as u64;
        let vectors: Vec<libc::iovec> = blocks
            .iter()
            .map(|(_, data)| libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: DISK_BLOCK_BYTES,
            })
            .collect();
        // SAFETY: each vector names a whole cached block, borrowed for the call;
        // `pwritev` only reads them, and the count is at most `FLUSH_RUN_BLOCKS`
        // (below `IOV_MAX`).
        let written = unsafe {
            libc::pwritev(
                self.file.as_raw_fd(),
                vectors.as_ptr(),
                vectors.len() as libc::c_int,
                base as libc::off_t,
            )
        };
        let written = usize::try_from(written).map_err(|_| DiskError::Io)?;
        for (index, (_, data)) in blocks.iter().enumerate() {
            let at = index * DISK_BLOCK_BYTES;
            if written >= at + DISK_BLOCK_BYTES {
                continue;
            }
            let from = written.saturating_sub(at);
            self.file
                .write_all_at(&data[from..], base + (at + from) as u64)
                .map_err(|_| DiskError::Io)?;
        }
        Ok(())
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
        for (number, cached) in cache.blocks.range(block..block + count) {
            let at = (number - block) as usize * DISK_BLOCK_BYTES;
            buffer[at..at + DISK_BLOCK_BYTES].copy_from_slice(&cached[..]);
        }
        Ok(())
    }

    fn write(&self, block: u64, data: &[u8]) -> Result<(), DiskError> {
        self.span(block, data.len())?;
        let mut cache = self.cache.lock();
        for (index, chunk) in data.chunks(DISK_BLOCK_BYTES).enumerate() {
            // A block cached already takes the bytes in place; a new one goes to a
            // spare buffer, or a new one (a copy: not zeroed first).
            let number = block + index as u64;
            if let Some(cached) = cache.blocks.get_mut(&number) {
                cached.copy_from_slice(chunk);
                continue;
            }
            let copy = match cache.spare.pop() {
                Some(mut spare) => {
                    spare.copy_from_slice(chunk);
                    spare
                }
                None => Box::<[u8]>::from(chunk)
                    .try_into()
                    .map_err(|_| DiskError::OutOfRange)?,
            };
            cache.blocks.insert(number, copy);
        }
        if cache.blocks.len() > CACHE_BLOCKS_MAX {
            // The lowest-numbered blocks go back early, a batch at once.
            let mut evicted = Vec::with_capacity(EVICT_BLOCKS);
            while cache.blocks.len() > CACHE_BLOCKS_MAX - EVICT_BLOCKS {
                match cache.blocks.pop_first() {
                    Some(block) => evicted.push(block),
                    None => break,
                }
            }
            self.write_back_runs(&evicted)?;
            cache.keep_spares(evicted);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), DiskError> {
        let mut cache = self.cache.lock();
        let blocks: Vec<(u64, CachedBlock)> =
            core::mem::take(&mut cache.blocks).into_iter().collect();
        self.write_back_runs(&blocks)?;
        cache.keep_spares(blocks);
        self.file.sync_data().map_err(|_| DiskError::Io)
    }
}
