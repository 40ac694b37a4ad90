//! Access to program memory through checked ranges: the kernel's one raw-pointer door.

use crate::memory::Region;
use crate::paging::{Access, PageTable};
use lock_api::{Mutex, RawMutex};
use nanvix_abi::Errno;

/// A program's memory as the kcall layer sees it: its image, stack, heap and start
/// block (mapped for its whole life), and the pages of the MMU window it holds with
/// the right to the access (held in place, under the page tables' lock, while the
/// kernel copies).
pub struct UserSpace<'a, R: RawMutex> {
    regions: &'a [Region; 4],
    program: usize,
    pages: &'a Mutex<R, PageTable>,
}

impl<R: RawMutex> Clone for UserSpace<'_, R> {
    fn clone(&self) -> Self {
        UserSpace { ..*self }
    }
}

impl<'a, R: RawMutex> UserSpace<'a, R> {
    /// The memory of program `program`: `regions`, and its pages in `pages`.
    pub fn new(regions: &'a [Region; 4], program: usize, pages: &'a Mutex<R, PageTable>) -> Self {
        UserSpace {
            regions,
            program,
            pages,
        }
    }

    /// Its image, stack, heap and start block.
    pub fn regions(&self) -> &[Region; 4] {
        self.regions
    }

    /// Runs `f` if `[address, address + length)` is the program's memory for
    /// `access`, with any window pages of the range held in place while it runs;
    /// [`Errno::Fault`] otherwise.
    fn with_range<T>(
        &self,
        address: usize,
        length: usize,
        access: Access,
        f: impl FnOnce() -> T,
    ) -> Result<T, Errno> {
        if check(self.regions, address, length).is_ok() {
            return Ok(f());
        }
        let pages = self.pages.lock();
        if !pages.holds(address, length, access, self.program) {
            return Err(Errno::Fault);
        }
        Ok(f())
    }

    /// Fails with [`Errno::Fault`] unless the range is the program's for `access`.
    pub fn check(&self, address: usize, length: usize, access: Access) -> Result<(), Errno> {
        self.with_range(address, length, access, || ())
    }

    /// Copies `length` bytes at `address` of the program into a new buffer.
    pub fn read(&self, address: usize, length: usize) -> Result<alloc::vec::Vec<u8>, Errno> {
        let mut buffer = alloc::vec![0u8; length];
        self.read_into(address, &mut buffer)?;
        Ok(buffer)
    }

    /// Copies `into.len()` bytes at `address` of the program into `into`.
    pub fn read_into(&self, address: usize, into: &mut [u8]) -> Result<(), Errno> {
        self.with_bytes(address, into.len(), |bytes| into.copy_from_slice(bytes))
    }

    /// Hands `f` the program bytes `[address, address + length)` for a copy (the
    /// bytes are program memory, which another thread of the program may be
    /// writing: `f` must only copy them).
    pub fn with_bytes<T>(
        &self,
        address: usize,
        length: usize,
        f: impl FnOnce(&[u8]) -> T,
    ) -> Result<T, Errno> {
        self.with_range(address, length, Access::Read, || {
            if length == 0 {
                return f(&[]);
            }
            // SAFETY: the range is the program's readable memory (checked by
            // `with_range`): its regions are mapped for its whole life, and its window
            // pages stay mapped while the page tables' lock is held around this call.
            // The slice lives only for the call of `f`, which copies it, so a
            // concurrent write by the program can only change the bytes copied.
            let bytes = unsafe { core::slice::from_raw_parts(address as *const u8, length) };
            f(bytes)
        })
    }

    /// Hands `f` the program bytes `[address, address + length)` to fill (a
    /// device's read writes into them; another thread of the program may be reading
    /// or writing them meanwhile: `f` must only store into them).
    pub fn with_bytes_mut<T>(
        &self,
        address: usize,
        length: usize,
        f: impl FnOnce(&mut [u8]) -> T,
    ) -> Result<T, Errno> {
        self.with_range(address, length, Access::Write, || {
            if length == 0 {
                return f(&mut []);
            }
            // SAFETY: the range is the program's writable memory (checked by
            // `with_range`, which holds its window pages in place meanwhile). The
            // slice lives only for the call of `f`, which stores into it, as `write`
            // does: a concurrent access by the program sees the bytes before or after.
            let bytes = unsafe { core::slice::from_raw_parts_mut(address as *mut u8, length) };
            f(bytes)
        })
    }

    /// Copies `bytes` to `address` of the program.
    pub fn write(&self, address: usize, bytes: &[u8]) -> Result<(), Errno> {
        self.with_range(address, bytes.len(), Access::Write, || {
            if !bytes.is_empty() {
                // SAFETY: the range is the program's writable memory (checked by
                // `with_range`, which holds its window pages in place meanwhile).
                unsafe {
                    core::ptr::copy_nonoverlapping(bytes.as_ptr(), address as *mut u8, bytes.len())
                };
            }
        })
    }

    /// Writes a plain `repr(C)` value to the program.
    pub fn write_value<T: Copy>(&self, address: usize, value: &T) -> Result<(), Errno> {
        self.write(address, value_bytes(value))
    }

    /// Checks `[address, address + length)` once for writing: copies into the
    /// returned range check nothing again when it lies in the program's regions.
    pub fn writable(&self, address: usize, length: usize) -> Result<WritableRange, Errno> {
        let in_regions = check(self.regions, address, length).is_ok();
        if !in_regions {
            self.check(address, length, Access::Write)?;
        }
        Ok(WritableRange {
            address,
            length,
            program: self.program,
            in_regions,
        })
    }

    /// Copies `bytes` to the start of `range` (checked by this program's
    /// [`writable`](Self::writable)); `EFAULT` when they are longer than it.
    pub fn write_into(&self, range: &WritableRange, bytes: &[u8]) -> Result<(), Errno> {
        if range.program != self.program || bytes.len() > range.length {
            return Err(Errno::Fault);
        }
        if !range.in_regions {
            // Window pages may have gone since: the checked path again.
            return self.write(range.address, bytes);
        }
        if !bytes.is_empty() {
            // SAFETY: the range lies in this program's regions (checked when it was
            // made, for this program: compared above), which stay mapped for the
            // program's whole life, and `bytes` fits in it.
            unsafe {
                core::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    range.address as *mut u8,
                    bytes.len(),
                )
            };
        }
        Ok(())
    }

    /// Writes a plain `repr(C)` value to the start of `range`.
    pub fn write_value_into<T: Copy>(&self, range: &WritableRange, value: &T) -> Result<(), Errno> {
        self.write_into(range, value_bytes(value))
    }

    /// Writes a received message, its `header` into `header_range` and then its
    /// `payload` into `buffer`; returns the payload's length.
    pub fn write_message_into<T: Copy>(
        &self,
        (header_range, buffer): (&WritableRange, &WritableRange),
        header: &T,
        payload: &[u8],
    ) -> Result<usize, Errno> {
        self.write_value_into(header_range, header)?;
        self.write_into(buffer, payload)?;
        Ok(payload.len())
    }
}

/// A range of program memory checked once for writing ([`UserSpace::writable`]):
/// its program, and whether it lies in the program's regions (mapped for its whole
/// life: copies check nothing again) or in the MMU window (checked again under the
/// page tables' lock at every copy, as a pager may unmap its pages meanwhile).
#[derive(Clone, Copy, Debug)]
pub struct WritableRange {
    address: usize,
    length: usize,
    program: usize,
    in_regions: bool,
}

impl WritableRange {
    /// Its first address.
    pub fn address(&self) -> usize {
        self.address
    }

    /// Its length in bytes.
    pub fn length(&self) -> usize {
        self.length
    }
}

/// The bytes of a plain `repr(C)` value.
fn value_bytes<T: Copy>(value: &T) -> &[u8] {
    // SAFETY: `T: Copy` values of the ABI are plain `repr(C)` data; viewing one as
    // bytes for as long as the borrow of `value` is sound.
    unsafe {
        core::slice::from_raw_parts((value as *const T).cast::<u8>(), core::mem::size_of::<T>())
    }
}

/// Fails with [`Errno::Fault`] unless `[address, address + length)` lies in a region.
pub fn check(regions: &[Region], address: usize, length: usize) -> Result<(), Errno> {
    if length == 0
        || regions
            .iter()
            .any(|region| region.contains(address, length))
    {
        Ok(())
    } else {
        Err(Errno::Fault)
    }
}

/// Gives mutable access to a region of kernel-owned cluster memory (used to place a
/// program before it runs).
///
/// # Safety
/// `region` must come from the frame allocator over the mapped SRAM arena, and no
/// other reference to its bytes may exist while the returned slice is used (the
/// program that will own it has not started).
pub unsafe fn region_bytes<'a>(region: Region) -> &'a mut [u8] {
    // SAFETY: forwarded from the caller's contract.
    unsafe { core::slice::from_raw_parts_mut(region.base as *mut u8, region.size) }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    const WINDOW: usize = 0x1000_0000;

    type Pages = Mutex<crate::test_cores::SpinLock, PageTable>;

    /// A program's memory of 64 bytes (all 7) in one region, and an empty window.
    fn sixty_four_bytes() -> (std::vec::Vec<u8>, Region, Pages) {
        let mut memory = std::vec![7u8; 64];
        let region = Region {
            base: memory.as_mut_ptr() as usize,
            size: 64,
        };
        (
            memory,
            region,
            Mutex::new(PageTable::new(WINDOW, 1 << 20, 1 << 20)),
        )
    }

    #[test]
    fn wild_pointers_are_faults_and_change_nothing() {
        let (memory, region, pages) = sixty_four_bytes();
        let regions = [region; 4];
        let space = UserSpace::new(&regions, 1, &pages);
        assert_eq!(space.read(region.base + 60, 8), Err(Errno::Fault));
        assert_eq!(space.read(0x10, 1), Err(Errno::Fault));
        assert_eq!(space.read(usize::MAX - 2, 8), Err(Errno::Fault));
        assert_eq!(space.write(region.base + 63, b"ab"), Err(Errno::Fault));
        assert!(memory.iter().all(|byte| *byte == 7));
        space.write(region.base + 2, b"hi").unwrap();
        assert_eq!(space.read(region.base + 1, 4).unwrap(), b"\x07hi\x07");
    }

    #[test]
    fn a_range_checked_once_takes_what_fits_and_only_from_its_program() {
        let (memory, region, pages) = sixty_four_bytes();
        let regions = [region; 4];
        let space = UserSpace::new(&regions, 1, &pages);
        assert_eq!(
            space.writable(region.base + 60, 8).err(),
            Some(Errno::Fault)
        );
        assert_eq!(space.writable(0x10, 1).err(), Some(Errno::Fault));
        let range = space.writable(region.base + 8, 4).unwrap();
        assert_eq!((range.address(), range.length()), (region.base + 8, 4));
        assert_eq!(space.write_into(&range, b"12345"), Err(Errno::Fault));
        let other = UserSpace::new(&regions, 2, &pages);
        assert_eq!(other.write_into(&range, b"12"), Err(Errno::Fault));
        assert!(
            memory.iter().all(|byte| *byte == 7),
            "refused writes changed nothing"
        );
        space.write_into(&range, b"1234").unwrap();
        space.write_value_into(&range, &0x4142u16).unwrap();
        assert_eq!(&memory[8..12], b"BA34");
        // A range in the window is checked again at each copy: no page, no copy.
        let window = space.writable(WINDOW, 4);
        assert_eq!(window.err(), Some(Errno::Fault));
    }
}
