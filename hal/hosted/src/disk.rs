//! The hosted disk: a disk image file the runner opens and hands the cluster,
//! behind a volatile write cache in the cluster process. A write waits in the
//! cache until a flush (`pwritev` of every cached block, a run of consecutive
//! blocks at once, then `fdatasync`), so a cluster process that dies loses its
//! unflushed writes, as a machine losing power does; a cache grown past its bound
//! writes its lowest-numbered blocks back early (1 MiB of them), so unflushed writes
//! also reach the file out of order. A read copies from a read-only mapping of the
//! file (the host's page cache) and lays the cached blocks over. The cache's blocks
//! live in one slab of memory (16 MiB, populated when the cluster boots, as a
//! disk's cache memory exists from power-on): writes reuse it instead of
//! allocating, and faulting in, fresh memory block by block.

use nanvix_abi::DISK_BLOCK_BYTES;
use nanvix_hal::{Disk, DiskError};
use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

/// Blocks the cache holds (16 MiB): past it, it writes some back.
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
    /// The file mapped read-only, whole, if the host could: reads copy from it
    /// (the host's page cache, the pages `pwritev` writes) instead of `pread`ing.
    view: Option<FileView>,
}

/// A read-only shared mapping of the disk file.
struct FileView {
    base: *const u8,
    length: usize,
}

// SAFETY: the mapping is read-only and stays mapped until the view drops; reads
// copy from it with raw pointers and hand out no reference that outlives them.
unsafe impl Send for FileView {}
// SAFETY: as above.
unsafe impl Sync for FileView {}

impl FileView {
    /// Maps `length` bytes of `file`, read-only; `None` if the host will not.
    fn map(file: &File, length: u64) -> Option<FileView> {
        let length = usize::try_from(length).ok().filter(|length| *length > 0)?;
        // SAFETY: a new read-only shared mapping of an open file, at an address the
        // kernel picks: nothing else is there.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        (base != libc::MAP_FAILED).then_some(FileView {
            base: base as *const u8,
            length,
        })
    }

    /// Copies the bytes at `offset` into `buffer`, if inside the file.
    fn read(&self, offset: u64, buffer: &mut [u8]) -> bool {
        let fits = usize::try_from(offset)
            .ok()
            .and_then(|offset| offset.checked_add(buffer.len()))
            .is_some_and(|end| end <= self.length);
        if fits {
            // SAFETY: `offset + buffer.len()` lies within the mapping (checked); the
            // buffer is ours and not in it. The runner keeps the file at its size
            // for the run (a file cut short under a running board faults the
            // cluster, which the runner reports).
            unsafe {
                std::ptr::copy_nonoverlapping(
                    self.base.add(offset as usize),
                    buffer.as_mut_ptr(),
                    buffer.len(),
                )
            };
        }
        fits
    }
}

impl Drop for FileView {
    fn drop(&mut self) {
        // SAFETY: the mapping this view made, unmapped once.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.length) };
    }
}

/// The written blocks not yet in the file: each in a slot of the slab.
struct Cache {
    /// The slab: [`CACHE_BLOCKS_MAX`] slots of a block.
    slab: Vec<u8>,
    /// Cached block number to its slot.
    blocks: BTreeMap<u64, usize>,
    /// Slots not in use.
    free: Vec<usize>,
}

impl Cache {
    /// An empty cache. Its slab is in memory from the start, as a disk's cache
    /// memory is from power-on (the host populates it at once, where it can,
    /// rather than faulting it in page by page under the first writes).
    fn new() -> Cache {
        let slab = vec![0u8; CACHE_BLOCKS_MAX * DISK_BLOCK_BYTES];
        let page = 4096;
        let start = slab.as_ptr().align_offset(page);
        let length = (slab.len() - start) / page * page;
        // SAFETY: the page-aligned range lies in `slab`, which this cache owns;
        // `MADV_POPULATE_WRITE` only makes the host back its pages now (their
        // contents stay zeros); a host without it refuses, and nothing changes.
        unsafe {
            libc::madvise(
                slab.as_ptr().add(start) as *mut libc::c_void,
                length,
                libc::MADV_POPULATE_WRITE,
            );
        }
        Cache {
            slab,
            blocks: BTreeMap::new(),
            free: (0..CACHE_BLOCKS_MAX).rev().collect(),
        }
    }

    /// The bytes of slot `slot`.
    fn slot(&self, slot: usize) -> &[u8] {
        let at = slot * DISK_BLOCK_BYTES;
        &self.slab[at..at + DISK_BLOCK_BYTES]
    }

    /// The bytes of slot `slot`, to write.
    fn slot_mut(&mut self, slot: usize) -> &mut [u8] {
        let at = slot * DISK_BLOCK_BYTES;
        &mut self.slab[at..at + DISK_BLOCK_BYTES]
    }

    /// Takes the lowest-numbered cached blocks out while more than `keep` are
    /// cached (all of them with `keep` 0): (block, slot) pairs in block order.
    fn take_lowest(&mut self, keep: usize) -> Vec<(u64, usize)> {
        let mut taken = Vec::with_capacity(self.blocks.len().saturating_sub(keep));
        while self.blocks.len() > keep {
            match self.blocks.pop_first() {
                Some(pair) => taken.push(pair),
                None => break,
            }
        }
        taken
    }
}

impl HostedDisk {
    /// The disk in `file`, of `blocks` blocks.
    pub fn new(file: File, blocks: u64) -> HostedDisk {
        let view = FileView::map(&file, blocks * DISK_BLOCK_BYTES as u64);
        HostedDisk {
            file,
            blocks,
            cache: Mutex::new(Cache::new()),
            view,
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

    /// Writes the `taken` blocks (in block order) to the file, each run of
    /// consecutive blocks (up to [`FLUSH_RUN_BLOCKS`]) with one `pwritev` from their
    /// slots, and frees the slots.
    fn write_back(&self, cache: &mut Cache, taken: &[(u64, usize)]) -> Result<(), DiskError> {
        let mut at = 0;
        while at < taken.len() {
            let start = taken[at].0;
            let mut count = 1;
            while at + count < taken.len()
                && count < FLUSH_RUN_BLOCKS
                && taken[at + count].0 == start + count as u64
            {
                count += 1;
            }
            self.write_run(cache, start, &taken[at..at + count])?;
            at += count;
        }
        cache.free.extend(taken.iter().map(|(_, slot)| *slot));
        Ok(())
    }

    /// Writes the consecutive blocks `run` (from block `start` on) with one
    /// `pwritev` (the rest of a short write one block at a time).
    fn write_run(&self, cache: &Cache, start: u64, run: &[(u64, usize)]) -> Result<(), DiskError> {
        let base = start * DISK_BLOCK_BYTES as u64;
        let vectors: Vec<libc::iovec> = run
            .iter()
            .map(|(_, slot)| libc::iovec {
                iov_base: cache.slot(*slot).as_ptr() as *mut libc::c_void,
                iov_len: DISK_BLOCK_BYTES,
            })
            .collect();
        // SAFETY: each vector names a whole slot of the slab, borrowed (with the
        // cache) for the call; `pwritev` only reads them, and the count is at most
        // `FLUSH_RUN_BLOCKS` (below `IOV_MAX`).
        let written = unsafe {
            libc::pwritev(
                self.file.as_raw_fd(),
                vectors.as_ptr(),
                vectors.len() as libc::c_int,
                base as libc::off_t,
            )
        };
        let written = usize::try_from(written).map_err(|_| DiskError::Io)?;
        for (index, (_, slot)) in run.iter().enumerate() {
            let at = index * DISK_BLOCK_BYTES;
            if written >= at + DISK_BLOCK_BYTES {
                continue;
            }
            let from = written.saturating_sub(at);
            self.file
                .write_all_at(&cache.slot(*slot)[from..], base + (at + from) as u64)
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
        // The file's blocks in one copy (from its mapping, else one `pread`), then
        // the cached ones over them.
        let offset = block * DISK_BLOCK_BYTES as u64;
        let copied = self
            .view
            .as_ref()
            .is_some_and(|view| view.read(offset, buffer));
        if !copied {
            self.file
                .read_exact_at(buffer, offset)
                .map_err(|_| DiskError::Io)?;
        }
        let count = (buffer.len() / DISK_BLOCK_BYTES) as u64;
        for (number, slot) in cache.blocks.range(block..block + count) {
            let at = (number - block) as usize * DISK_BLOCK_BYTES;
            buffer[at..at + DISK_BLOCK_BYTES].copy_from_slice(cache.slot(*slot));
        }
        Ok(())
    }

    fn write(&self, block: u64, data: &[u8]) -> Result<(), DiskError> {
        self.span(block, data.len())?;
        let mut cache = self.cache.lock();
        for (index, chunk) in data.chunks(DISK_BLOCK_BYTES).enumerate() {
            // A block cached already takes the bytes in its slot; a new one takes a
            // free slot, the lowest-numbered blocks going back first if none is.
            let number = block + index as u64;
            let slot = match cache.blocks.get(&number) {
                Some(slot) => *slot,
                None => {
                    if cache.free.is_empty() {
                        let evicted = cache.take_lowest(CACHE_BLOCKS_MAX - EVICT_BLOCKS);
                        self.write_back(&mut cache, &evicted)?;
                    }
                    let slot = cache.free.pop().ok_or(DiskError::Io)?;
                    cache.blocks.insert(number, slot);
                    slot
                }
            };
            cache.slot_mut(slot).copy_from_slice(chunk);
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), DiskError> {
        let mut cache = self.cache.lock();
        let taken = cache.take_lowest(0);
        self.write_back(&mut cache, &taken)?;
        self.file.sync_data().map_err(|_| DiskError::Io)
    }
}
