//! The hosted DDR: a shared memory file the runner makes for the board (sparse:
//! pages come as they are written) and hands every DDR-attached cluster, each of
//! which maps it whole.

use nanvix_hal::{Ddr, DdrError};
use std::os::fd::{AsRawFd, OwnedFd};

/// The board's DDR as this cluster maps it.
pub struct HostedDdr {
    base: *mut u8,
    size: u64,
    /// The mapping's file, kept open while mapped.
    _file: OwnedFd,
}

// SAFETY: the mapping is shared memory the cluster never unmaps; every access goes
// through `read`/`write`, which copy bytes with raw pointers and form no Rust
// reference to the region, so threads (and other clusters) may call them at once.
unsafe impl Send for HostedDdr {}
// SAFETY: as above.
unsafe impl Sync for HostedDdr {}

impl HostedDdr {
    /// Maps the DDR file `file` of `size` bytes.
    pub fn map(file: OwnedFd, size: u64) -> std::io::Result<HostedDdr> {
        let length = usize::try_from(size).map_err(|_| std::io::ErrorKind::InvalidInput)?;
        // SAFETY: a new shared mapping of a file we own, at an address the kernel
        // picks: nothing else is there.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                length,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_NORESERVE,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(HostedDdr {
            base: base.cast(),
            size,
            _file: file,
        })
    }

    /// The start of `length` bytes at `offset`, if inside the DDR.
    fn place(&self, offset: u64, length: usize) -> Result<*mut u8, DdrError> {
        match offset.checked_add(length as u64) {
            // SAFETY: `offset + length` is within the mapping, so the result is too.
            Some(end) if end <= self.size => Ok(unsafe { self.base.add(offset as usize) }),
            _ => Err(DdrError::OutOfRange),
        }
    }
}

impl Ddr for HostedDdr {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(&self, offset: u64, buffer: &mut [u8]) -> Result<(), DdrError> {
        let from = self.place(offset, buffer.len())?;
        // SAFETY: `from` starts `buffer.len()` mapped bytes (checked by `place`); the
        // buffer is ours and cannot overlap the mapping. Another cluster may write
        // the same bytes meanwhile: the copy then sees a mix, as a DMA read would.
        unsafe { std::ptr::copy_nonoverlapping(from, buffer.as_mut_ptr(), buffer.len()) };
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DdrError> {
        let to = self.place(offset, data.len())?;
        // SAFETY: as in `read`, the other way.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), to, data.len()) };
        Ok(())
    }
}
