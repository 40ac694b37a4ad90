//! The unsafe half of the memory module: the bytes of a page the kernel mapped.

use super::kcall;
use nanvix_abi::{Errno, Kcall};

/// The rights word of `memory_map`, `memory_grant` and `memory_protect`: bit 1
/// asks for writing (reading is always given).
fn rights(writable: bool) -> usize {
    if writable { 1 << 1 } else { 0 }
}

/// A page of the MMU window the kernel mapped for this program (zeroed at first);
/// unmapped when dropped.
pub struct Page {
    address: usize,
    bytes: usize,
}

impl Page {
    /// Maps a page at `address`: 64 KiB when `large`, else 4 KiB; writable when
    /// `writable`.
    pub fn map(address: usize, large: bool, writable: bool) -> Result<Page, Errno> {
        let rights = rights(writable);
        kcall(
            Kcall::MemoryMap,
            [address, usize::from(large), rights, 0, 0],
        )?;
        Ok(Page {
            address,
            bytes: if large { 64 << 10 } else { 4 << 10 },
        })
    }

    /// Makes the page writable or read-only (its bytes stay): a write to it while
    /// read-only faults to the program's pager (or ends the thread, reported, when
    /// there is none), as a write through [`Page::bytes_mut`] would.
    pub fn protect(&mut self, writable: bool) -> Result<(), Errno> {
        let rights = rights(writable);
        kcall(Kcall::MemoryProtect, [self.address, rights, 0, 0, 0]).map(|_| ())
    }

    /// Its first address.
    pub fn address(&self) -> usize {
        self.address
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the kernel mapped `bytes` readable bytes at `address` for this
        // program until the page is unmapped, which takes `self`.
        unsafe { core::slice::from_raw_parts(self.address as *const u8, self.bytes) }
    }

    /// Its bytes, to write (a page mapped without writing faults on a write).
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and `&mut self` makes this the only view.
        unsafe { core::slice::from_raw_parts_mut(self.address as *mut u8, self.bytes) }
    }

    /// Grants this page to program `program` of this cluster (its id), mapped at
    /// `to_address` of the window, writable when `writable` (and this page is):
    /// both programs then see the same bytes. The grantee may unmap its mapping
    /// but not grant it on; the frame lasts while either mapping does.
    pub fn grant(&self, program: u32, to_address: usize, writable: bool) -> Result<(), Errno> {
        let rights = rights(writable);
        kcall(
            Kcall::MemoryGrant,
            [self.address, program as usize, to_address, rights, 0],
        )
        .map(|_| ())
    }

    /// Unmaps it now.
    pub fn unmap(self) -> Result<(), Errno> {
        let address = self.address;
        core::mem::forget(self);
        kcall(Kcall::MemoryUnmap, [address, 0, 0, 0, 0]).map(|_| ())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = kcall(Kcall::MemoryUnmap, [self.address, 0, 0, 0, 0]);
    }
}

/// Reads a byte at `address` on purpose, whatever is there (for tests of fault
/// reports: an unmapped page of the window faults).
#[inline(never)]
pub fn read_on_purpose(address: usize) -> u8 {
    // SAFETY: not safe, on purpose: the caller names an address that faults, and
    // the kernel ends this thread there.
    unsafe { core::ptr::read_volatile(address as *const u8) }
}

/// Whether `address` lies in the cluster's MMU window.
fn in_window(address: usize) -> Result<(), Errno> {
    let base = kcall(Kcall::MemoryWindow, [0; 5])?;
    if base == 0 || address < base || address - base >= nanvix_abi::MEMORY_WINDOW_BYTES {
        return Err(Errno::Fault);
    }
    Ok(())
}

/// Loads the byte at `address` of the window, whether or not a page is mapped
/// there yet: an unmapped one faults to this program's pager, which maps it (with
/// no pager, or a refusal, the thread ends, reported). EFAULT outside the window.
/// Never inlined, so a fault report names it whatever its caller.
#[inline(never)]
pub fn window_load(address: usize) -> Result<u8, Errno> {
    in_window(address)?;
    // SAFETY: the address is in the window, where the kernel either has a page of
    // this program mapped (a plain load) or takes the fault (the pager maps the
    // page and the load runs again, or the thread ends there): the load never
    // reads memory the program does not hold.
    Ok(unsafe { core::ptr::read_volatile(address as *const u8) })
}

/// Stores `value` at `address` of the window, as [`window_load`] loads.
pub fn window_store(address: usize, value: u8) -> Result<(), Errno> {
    in_window(address)?;
    // SAFETY: as in `window_load`; a store to a page mapped read-only is a fault
    // no pager resolves, and ends the thread.
    unsafe { core::ptr::write_volatile(address as *mut u8, value) };
    Ok(())
}
