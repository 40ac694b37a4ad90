//! Access to program memory through checked ranges: the kernel's one raw-pointer door.

use crate::memory::Region;
use nanvix_abi::Errno;

/// Copies `length` bytes at `address` of a program into a new buffer, if the range
/// lies in one of `regions`.
pub fn read(
    regions: &[Region],
    address: usize,
    length: usize,
) -> Result<alloc::vec::Vec<u8>, Errno> {
    check(regions, address, length)?;
    let mut buffer = alloc::vec![0u8; length];
    if length > 0 {
        // SAFETY: the range lies inside a region of the program's memory (checked
        // above), which is mapped for the program's whole life.
        unsafe {
            core::ptr::copy_nonoverlapping(address as *const u8, buffer.as_mut_ptr(), length)
        };
    }
    Ok(buffer)
}

/// Copies `into.len()` bytes at `address` of a program into `into`, if the range lies
/// in one of `regions`.
pub fn read_into(regions: &[Region], address: usize, into: &mut [u8]) -> Result<(), Errno> {
    check(regions, address, into.len())?;
    if !into.is_empty() {
        // SAFETY: the range lies inside a region of the program's memory (checked
        // above), which is mapped for the program's whole life.
        unsafe {
            core::ptr::copy_nonoverlapping(address as *const u8, into.as_mut_ptr(), into.len())
        };
    }
    Ok(())
}

/// Hands `f` the program bytes `[address, address + length)`, if the range lies in
/// one of `regions`, for a copy (the bytes are program memory, which another thread
/// of the program may be writing: `f` must only copy them).
pub fn with_bytes<T>(
    regions: &[Region],
    address: usize,
    length: usize,
    f: impl FnOnce(&[u8]) -> T,
) -> Result<T, Errno> {
    check(regions, address, length)?;
    if length == 0 {
        return Ok(f(&[]));
    }
    // SAFETY: the range lies inside a region of the program's memory (checked above),
    // mapped for the program's whole life; the slice lives only for the call of `f`,
    // which copies it, so a concurrent write by the program can only change the bytes
    // copied.
    let bytes = unsafe { core::slice::from_raw_parts(address as *const u8, length) };
    Ok(f(bytes))
}

/// Copies `bytes` to `address` of a program, if the range lies in one of `regions`.
pub fn write(regions: &[Region], address: usize, bytes: &[u8]) -> Result<(), Errno> {
    check(regions, address, bytes.len())?;
    if !bytes.is_empty() {
        // SAFETY: the range lies inside a region of the program's memory (checked
        // above), which is mapped writable for the program's whole life.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), address as *mut u8, bytes.len()) };
    }
    Ok(())
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

/// Writes a plain `repr(C)` value to a program.
pub fn write_value<T: Copy>(regions: &[Region], address: usize, value: &T) -> Result<(), Errno> {
    // SAFETY: `T: Copy` values of the ABI are plain `repr(C)` data; viewing one as
    // bytes for the duration of the copy is sound.
    let bytes = unsafe {
        core::slice::from_raw_parts((value as *const T).cast::<u8>(), core::mem::size_of::<T>())
    };
    write(regions, address, bytes)
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

    #[test]
    fn wild_pointers_are_faults_and_change_nothing() {
        let mut memory = std::vec![7u8; 64];
        let region = Region {
            base: memory.as_mut_ptr() as usize,
            size: 64,
        };
        assert_eq!(read(&[region], region.base + 60, 8), Err(Errno::Fault));
        assert_eq!(read(&[region], 0x10, 1), Err(Errno::Fault));
        assert_eq!(read(&[region], usize::MAX - 2, 8), Err(Errno::Fault));
        assert_eq!(write(&[region], region.base + 63, b"ab"), Err(Errno::Fault));
        assert!(memory.iter().all(|byte| *byte == 7));
        write(&[region], region.base + 2, b"hi").unwrap();
        assert_eq!(read(&[region], region.base + 1, 4).unwrap(), b"\x07hi\x07");
    }
}
