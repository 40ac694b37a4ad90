//! Remote memory: a heap larger than the cluster's SRAM, its pages kept by the
//! memory server and paged in on fault by a user-level pager thread.
//!
//! [`RemoteHeap::new`] makes a shared memory segment of the heap's size for this
//! program alone (mode 0600, counted in its user's quota), places the heap at the
//! start of the cluster's MMU window, and starts a pager thread. A load or store
//! of a heap byte ([`RemoteHeap::load`], [`RemoteHeap::store`], and the slice
//! forms) on a page not resident faults to the pager, which maps the page, fills
//! it with the segment's bytes, and lets the access run again. At most
//! `resident_pages` pages are resident (fewer if the cluster's memory runs out
//! first); past that the pager evicts the oldest resident page (first in, first
//! out), writing it back to the segment whole if it was written, and unmapping
//! it. A page paged in by a read is mapped read-only: its first write faults to
//! the pager, which makes it writable and marks it written (dirty); a page paged in
//! by a write is dirty at once. Only this program's threads see the heap; the
//! segment goes with the heap.

use crate::shm::{self, Shm};
use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use nanvix_memory_api::MemoryClient;
use nanvix_sys::memory::{self, Page, Pager};
use nanvix_sys::{Errno, clock, process, thread};

/// Bytes of a heap page.
pub const PAGE_BYTES: usize = 4096;
/// The pager thread's stack.
const PAGER_STACK: usize = 32 * 1024;

/// Counters of a heap's pager.
#[derive(Default)]
struct Counters {
    faults: AtomicU64,
    evictions: AtomicU64,
    /// Evicted pages that were written, and so written back.
    write_backs: AtomicU64,
    /// 0 while the pager starts, 1 once it serves, 2 if it could not start.
    state: AtomicUsize,
}

/// A heap in remote memory (see the module).
pub struct RemoteHeap {
    base: usize,
    bytes: usize,
    name: String,
    counters: Arc<Counters>,
}

impl RemoteHeap {
    /// A heap of `bytes` bytes (whole pages, at most the MMU window), at most
    /// `resident_pages` of its pages in the cluster's memory at once (at least 1).
    /// `ENOMEM` when the memory server has no room or the user's quota is used up;
    /// `EBUSY` when the program has a pager already.
    pub fn new(bytes: usize, resident_pages: usize) -> Result<RemoteHeap, Errno> {
        let base = memory::window()?;
        if base == 0
            || bytes == 0
            || !bytes.is_multiple_of(PAGE_BYTES)
            || bytes > nanvix_sys::abi::MEMORY_WINDOW_BYTES
        {
            return Err(Errno::Invalid);
        }
        let name = format!("/heap-{}-{}", process::node(), clock::cycles());
        let segment = Shm::create(&name, 0o600)?;
        if let Err(errno) = segment.set_len(bytes as u64) {
            let _ = shm::shm_unlink(&name);
            return Err(errno);
        }
        let counters = Arc::new(Counters::default());
        let (pager_counters, pager_name) = (Arc::clone(&counters), name.clone());
        let budget = resident_pages.max(1);
        let started = thread::spawn_with_stack(PAGER_STACK, move || {
            page(base, bytes, budget, &pager_name, &pager_counters)
        });
        if let Err(errno) = started {
            let _ = shm::shm_unlink(&name);
            return Err(errno);
        }
        while counters.state.load(Ordering::Acquire) == 0 {
            let _ = thread::sleep_nanoseconds(100_000);
        }
        if counters.state.load(Ordering::Acquire) != 1 {
            let _ = shm::shm_unlink(&name);
            return Err(Errno::Busy);
        }
        Ok(RemoteHeap {
            base,
            bytes,
            name,
            counters,
        })
    }

    /// Bytes of the heap.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// Whether the heap has no bytes (never: a heap has at least a page).
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    fn address(&self, offset: usize, length: usize) -> Result<usize, Errno> {
        match offset.checked_add(length) {
            Some(end) if end <= self.bytes => Ok(self.base + offset),
            _ => Err(Errno::Invalid),
        }
    }

    /// The byte at `offset`.
    pub fn load(&self, offset: usize) -> Result<u8, Errno> {
        memory::window_load(self.address(offset, 1)?)
    }

    /// Stores `value` at `offset`.
    pub fn store(&self, offset: usize, value: u8) -> Result<(), Errno> {
        memory::window_store(self.address(offset, 1)?, value)
    }

    /// Reads the bytes from `offset` on into `buffer`.
    pub fn read(&self, offset: usize, buffer: &mut [u8]) -> Result<(), Errno> {
        let at = self.address(offset, buffer.len())?;
        for (index, byte) in buffer.iter_mut().enumerate() {
            *byte = memory::window_load(at + index)?;
        }
        Ok(())
    }

    /// Writes `data` from `offset` on.
    pub fn write(&self, offset: usize, data: &[u8]) -> Result<(), Errno> {
        let at = self.address(offset, data.len())?;
        for (index, byte) in data.iter().enumerate() {
            memory::window_store(at + index, *byte)?;
        }
        Ok(())
    }

    /// Page faults the pager served so far, and pages it evicted.
    pub fn paging(&self) -> (u64, u64) {
        (
            self.counters.faults.load(Ordering::Relaxed),
            self.counters.evictions.load(Ordering::Relaxed),
        )
    }

    /// Evicted pages the pager wrote back (the written ones: clean pages go
    /// without a write).
    pub fn write_backs(&self) -> u64 {
        self.counters.write_backs.load(Ordering::Relaxed)
    }
}

impl Drop for RemoteHeap {
    /// The segment goes (the pager thread stays, with nothing to page: a later
    /// fault in the window is refused).
    fn drop(&mut self) {
        let _ = shm::shm_unlink(&self.name);
    }
}

/// The pager thread: serves the faults of the heap at `base` (`bytes` long) from
/// segment `name`, with at most `budget` pages resident, evicting first in, first
/// out.
fn page(base: usize, bytes: usize, budget: usize, name: &str, counters: &Counters) {
    let pager = match Pager::attach() {
        Ok(pager) => pager,
        Err(_) => {
            counters.state.store(2, Ordering::Release);
            return;
        }
    };
    let Ok(mut memory) = MemoryClient::connect(shm::memory_server_node()) else {
        counters.state.store(2, Ordering::Release);
        return;
    };
    counters.state.store(1, Ordering::Release);
    // Resident pages, oldest first, each with whether it was written.
    let mut resident: VecDeque<(Page, bool)> = VecDeque::new();
    let heap = Backing {
        base,
        name,
        counters,
    };
    while let Ok(fault) = pager.next_fault() {
        let inside = fault.address >= base && fault.address < base + bytes;
        let address = fault.address & !(PAGE_BYTES - 1);
        let write = fault.access == nanvix_sys::abi::PAGE_FAULT_WRITE;
        let served = inside
            && match resident
                .iter_mut()
                .find(|(page, _)| page.address() == address)
            {
                // The first write to a page paged in by a read: written from now on.
                Some((page, dirty)) => {
                    *dirty = true;
                    page.protect(true).is_ok()
                }
                None => heap.page_in(&mut resident, &mut memory, (address, write), budget),
            };
        counters.faults.fetch_add(1, Ordering::Relaxed);
        let _ = if served {
            pager.resume(&fault)
        } else {
            pager.refuse(&fault)
        };
    }
}

/// Where a heap's pages are kept: its first address, its segment, its counters.
struct Backing<'a> {
    base: usize,
    name: &'a str,
    counters: &'a Counters,
}

impl Backing<'_> {
    /// Evicts the oldest resident page, written back first if it was written;
    /// whether there was one.
    fn evict(&self, resident: &mut VecDeque<(Page, bool)>, memory: &mut MemoryClient) -> bool {
        let Some((victim, dirty)) = resident.pop_front() else {
            return false;
        };
        if dirty {
            let offset = (victim.address() - self.base) as u64;
            let _ = memory.write(self.name, offset, victim.bytes());
            self.counters.write_backs.fetch_add(1, Ordering::Relaxed);
        }
        let _ = victim.unmap();
        self.counters.evictions.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// Pages in the page at `address`, evicting first when `budget` pages are
    /// resident or the cluster's memory is full: read-only and clean after a read
    /// (`write` false), writable and dirty after a write. Whether it is resident.
    fn page_in(
        &self,
        resident: &mut VecDeque<(Page, bool)>,
        memory: &mut MemoryClient,
        (address, write): (usize, bool),
        budget: usize,
    ) -> bool {
        if resident.len() >= budget {
            self.evict(resident, memory);
        }
        // The cluster's memory may run out before the budget: evict until a frame
        // is free (or nothing is left to evict).
        let mapped = loop {
            match Page::map(address, false, true) {
                Ok(page) => break Some(page),
                Err(Errno::NoMemory) if self.evict(resident, memory) => continue,
                Err(_) => break None,
            }
        };
        let Some(mut page) = mapped else {
            return false;
        };
        let offset = (address - self.base) as u64;
        if memory.read(self.name, offset, page.bytes_mut()).is_err()
            || (!write && page.protect(false).is_err())
        {
            return false;
        }
        resident.push_back((page, write));
        true
    }
}
