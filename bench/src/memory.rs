//! Memory the baselines work on: page-aligned heap buffers and memfd-backed shared mappings.

use crate::BenchError;
use crate::error::last_errno;
use std::alloc::Layout;
use std::ptr::NonNull;

/// The alignment of every buffer: a page, so no buffer shares a cache line or a page.
const BUFFER_ALIGNMENT: usize = 4096;

/// A zeroed, page-aligned heap buffer of a fixed size.
///
/// Threads may share it and reach it through [`AlignedBuffer::as_pointer`]; the protocol
/// that does so must keep their accesses apart.
pub(crate) struct AlignedBuffer {
    pointer: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the buffer owns its allocation (like a Box<[u8]>); moving it to another thread
// moves that ownership.
unsafe impl Send for AlignedBuffer {}

// SAFETY: through a shared reference the buffer only hands out raw pointers and shared
// slices; writing through the raw pointers is up to the callers' protocol (see
// `as_pointer`).
unsafe impl Sync for AlignedBuffer {}

impl AlignedBuffer {
    /// A zeroed buffer of `bytes` (more than zero) bytes.
    pub(crate) fn zeroed(bytes: usize) -> Result<Self, BenchError> {
        if bytes == 0 {
            return Err(BenchError::InvalidOptions(
                "a buffer needs at least one byte".to_string(),
            ));
        }
        let layout = Layout::from_size_align(bytes, BUFFER_ALIGNMENT)
            .map_err(|_| BenchError::OutOfMemory { bytes })?;
        // SAFETY: the layout has a nonzero size (checked above).
        let pointer = unsafe { std::alloc::alloc_zeroed(layout) };
        let pointer = NonNull::new(pointer).ok_or(BenchError::OutOfMemory { bytes })?;
        Ok(Self { pointer, layout })
    }

    /// A buffer of `bytes` bytes holding [`pattern`].
    pub(crate) fn with_pattern(bytes: usize) -> Result<Self, BenchError> {
        let mut buffer = Self::zeroed(bytes)?;
        for (index, byte) in buffer.as_mut_slice().iter_mut().enumerate() {
            *byte = pattern(index);
        }
        Ok(buffer)
    }

    /// The size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.layout.size()
    }

    /// The first byte. Writing through it while another thread reads or writes the same
    /// bytes, or while a slice of the buffer is alive, is a data race: callers order their
    /// accesses with atomics.
    pub(crate) fn as_pointer(&self) -> *mut u8 {
        self.pointer.as_ptr()
    }

    /// The contents.
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: the allocation holds `len` initialized (zeroed, then written) bytes and
        // lives as long as `self`.
        unsafe { std::slice::from_raw_parts(self.pointer.as_ptr(), self.len()) }
    }

    /// The contents, mutably.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.pointer.as_ptr(), self.len()) }
    }
}

impl Drop for AlignedBuffer {
    fn drop(&mut self) {
        // SAFETY: `pointer` came from `alloc_zeroed` with this very layout and is freed once.
        unsafe { std::alloc::dealloc(self.pointer.as_ptr(), self.layout) };
    }
}

/// The byte at `index` of a source buffer: a pattern a copy can be checked against.
pub(crate) fn pattern(index: usize) -> u8 {
    (index.wrapping_mul(31).wrapping_add(7) % 251) as u8
}

/// A zeroed `MAP_SHARED` mapping of a `memfd_create` file: forked children share it.
pub(crate) struct SharedMapping {
    address: NonNull<u8>,
    bytes: usize,
}

impl SharedMapping {
    /// A shared mapping of `bytes` (more than zero) zeroed bytes, page-aligned.
    pub(crate) fn new(bytes: usize) -> Result<Self, BenchError> {
        if bytes == 0 {
            return Err(BenchError::InvalidOptions(
                "a mapping needs at least one byte".to_string(),
            ));
        }
        let length = libc::off_t::try_from(bytes).map_err(|_| BenchError::OutOfMemory { bytes })?;
        // SAFETY: the name is a NUL-terminated constant; the flags are valid.
        let descriptor = unsafe { libc::memfd_create(c"nanvix-bench".as_ptr(), libc::MFD_CLOEXEC) };
        if descriptor < 0 {
            return Err(BenchError::Syscall {
                call: "memfd_create",
                errno: last_errno(),
            });
        }
        let mapped = map_descriptor(descriptor, length, bytes);
        // SAFETY: `descriptor` is the file just created, closed once; the mapping (if any)
        // keeps the file alive.
        unsafe { libc::close(descriptor) };
        let address = mapped?;
        Ok(Self { address, bytes })
    }

    /// The first byte of the mapping.
    pub(crate) fn as_pointer(&self) -> *mut u8 {
        self.address.as_ptr()
    }
}

/// Sizes the memfd `descriptor` to `length` and maps it shared, readable and writable.
fn map_descriptor(
    descriptor: libc::c_int,
    length: libc::off_t,
    bytes: usize,
) -> Result<NonNull<u8>, BenchError> {
    // SAFETY: `descriptor` is an open memfd; ftruncate only resizes it.
    if unsafe { libc::ftruncate(descriptor, length) } != 0 {
        return Err(BenchError::Syscall {
            call: "ftruncate",
            errno: last_errno(),
        });
    }
    // SAFETY: a fresh mapping at an address the kernel picks, of a file at least `bytes`
    // long; nothing else is touched.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            descriptor,
            0,
        )
    };
    if address == libc::MAP_FAILED {
        return Err(BenchError::Syscall {
            call: "mmap",
            errno: last_errno(),
        });
    }
    NonNull::new(address.cast::<u8>()).ok_or(BenchError::Syscall {
        call: "mmap",
        errno: libc::ENOMEM,
    })
}

impl Drop for SharedMapping {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `new` with this length and is unmapped once; the
        // references handed out borrow `self`, so none outlives it.
        unsafe { libc::munmap(self.address.as_ptr().cast(), self.bytes) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_aligned_and_hold_the_pattern() {
        let buffer = AlignedBuffer::with_pattern(5000).expect("allocates");
        assert_eq!(buffer.as_pointer() as usize % BUFFER_ALIGNMENT, 0);
        assert_eq!(buffer.len(), 5000);
        assert!(
            buffer
                .as_slice()
                .iter()
                .enumerate()
                .all(|(index, byte)| *byte == pattern(index))
        );
        assert!(AlignedBuffer::zeroed(0).is_err());
    }

    #[test]
    fn shared_mappings_are_zeroed_and_writable() {
        let mapping = SharedMapping::new(8192).expect("maps");
        // SAFETY: the mapping is 8192 bytes long and only this test touches it.
        let contents = unsafe { std::slice::from_raw_parts_mut(mapping.as_pointer(), 8192) };
        assert!(contents.iter().all(|byte| *byte == 0));
        contents[8191] = 1;
        assert_eq!(contents[8191], 1);
    }
}
