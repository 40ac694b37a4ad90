//! The device module: `device_read` and `device_write` over the device table of
//! `nanvix_abi::devices`, each direction checked against the caller's rights; and
//! the disk attached to the cluster (`disk_info`, `disk_read`, `disk_write`,
//! `disk_flush`).

use super::Kernel;
use crate::paging::Access;
use nanvix_abi::{DISK_BLOCK_BYTES, Device, DeviceAccess, Errno};
use nanvix_hal::{CoreId, Cores, Ddr, Disk, DiskError, Platform};

/// The most bytes a `disk_read`, `disk_write`, `ddr_read` or `ddr_write` moves at
/// once (a longer call goes in pieces of it: a piece's window pages are held in
/// place while it moves).
const DISK_PIECE_BYTES: usize = 64 * DISK_BLOCK_BYTES;

impl<P: Platform> Kernel<P> {
    /// Whether program `index` may use a direction of a device with `access`.
    fn may(&self, index: usize, access: DeviceAccess) -> bool {
        match access {
            DeviceAccess::Everyone => true,
            DeviceAccess::ConsoleHolder => self.programs.lock()[index].console_input,
            DeviceAccess::Nobody => false,
        }
    }

    /// `device_read`.
    pub(super) fn device_read(
        &self,
        index: usize,
        device: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<usize, Errno> {
        let device = Device::from_id(device).ok_or(Errno::NoEntry)?;
        if !self.may(index, device.read_access()) {
            return Err(Errno::Access);
        }
        let cores = self.platform.cores();
        let value = match device {
            Device::Console => return self.console_read(index, buffer, capacity),
            Device::WallClock => cores.wall_clock_nanoseconds(),
            Device::Cycles => cores.cycles(),
            Device::Timer => cores.monotonic_nanoseconds(),
        };
        if capacity < 8 {
            return Err(Errno::Invalid);
        }
        self.space(index).write(buffer, &value.to_le_bytes())?;
        Ok(8)
    }

    /// `device_write`.
    pub(super) fn device_write(
        &self,
        index: usize,
        context: CoreId,
        device: usize,
        buffer: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        let device = Device::from_id(device).ok_or(Errno::NoEntry)?;
        if !self.may(index, device.write_access()) {
            return Err(Errno::Access);
        }
        match device {
            Device::Console => self.console_write(index, buffer, length),
            Device::Timer => {
                if length != 8 {
                    return Err(Errno::Invalid);
                }
                let mut bytes = [0u8; 8];
                self.space(index).read_into(buffer, &mut bytes)?;
                self.sleep_for(context, u64::from_le_bytes(bytes));
                Ok(8)
            }
            // The table lets nobody write these.
            Device::WallClock | Device::Cycles => Err(Errno::Access),
        }
    }

    /// `disk_info`.
    pub(super) fn disk_info(&self) -> Result<usize, Errno> {
        let disk = self.platform.disk().ok_or(Errno::NoEntry)?;
        Ok(disk.block_count() as usize)
    }

    /// The disk and the byte span of `blocks` blocks from `block`, if on it.
    fn disk_span(&self, block: usize, blocks: usize) -> Result<(&P::Disk, usize), Errno> {
        let disk = self.platform.disk().ok_or(Errno::NoEntry)?;
        let end = block.checked_add(blocks).ok_or(Errno::Invalid)?;
        if end as u64 > disk.block_count() {
            return Err(Errno::Invalid);
        }
        let bytes = blocks.checked_mul(DISK_BLOCK_BYTES).ok_or(Errno::Invalid)?;
        Ok((disk, bytes))
    }

    /// `disk_read`: into the caller's buffer, in pieces.
    pub(super) fn disk_read(
        &self,
        index: usize,
        block: usize,
        buffer: usize,
        blocks: usize,
    ) -> Result<usize, Errno> {
        let (disk, bytes) = self.disk_span(block, blocks)?;
        self.copy_out(index, (buffer, bytes), |done, piece| {
            disk.read((block + done / DISK_BLOCK_BYTES) as u64, piece)
                .map_err(disk_errno)
        })?;
        Ok(blocks)
    }

    /// `disk_write`: from the caller's buffer into the disk's cache, in pieces.
    pub(super) fn disk_write(
        &self,
        index: usize,
        block: usize,
        buffer: usize,
        blocks: usize,
    ) -> Result<usize, Errno> {
        let (disk, bytes) = self.disk_span(block, blocks)?;
        self.copy_in(index, (buffer, bytes), |done, piece| {
            disk.write((block + done / DISK_BLOCK_BYTES) as u64, piece)
                .map_err(disk_errno)
        })?;
        Ok(blocks)
    }

    /// `ddr_info`.
    pub(super) fn ddr_info(&self) -> Result<usize, Errno> {
        let ddr = self.platform.ddr().ok_or(Errno::NoEntry)?;
        usize::try_from(ddr.size()).map_err(|_| Errno::Invalid)
    }

    /// The DDR, if `length` bytes from `offset` lie in it.
    fn ddr_span(&self, offset: usize, length: usize) -> Result<&P::Ddr, Errno> {
        let ddr = self.platform.ddr().ok_or(Errno::NoEntry)?;
        match offset.checked_add(length) {
            Some(end) if end as u64 <= ddr.size() => Ok(ddr),
            _ => Err(Errno::Invalid),
        }
    }

    /// `ddr_read`: into the caller's buffer, in pieces.
    pub(super) fn ddr_read(
        &self,
        index: usize,
        offset: usize,
        buffer: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        let ddr = self.ddr_span(offset, length)?;
        self.copy_out(index, (buffer, length), |done, piece| {
            ddr.read((offset + done) as u64, piece)
                .map_err(|_| Errno::Invalid)
        })?;
        Ok(length)
    }

    /// `ddr_write`: from the caller's buffer, in pieces.
    pub(super) fn ddr_write(
        &self,
        index: usize,
        offset: usize,
        buffer: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        let ddr = self.ddr_span(offset, length)?;
        self.copy_in(index, (buffer, length), |done, piece| {
            ddr.write((offset + done) as u64, piece)
                .map_err(|_| Errno::Invalid)
        })?;
        Ok(length)
    }

    /// Fills the `bytes` bytes of program `index`'s buffer at `buffer` from a device,
    /// `read(offset, piece)` filling each piece (at most [`DISK_PIECE_BYTES`]) of the
    /// program's buffer from `offset` into the transfer, in place (no kernel buffer
    /// between: a piece's window pages are held meanwhile); the whole buffer is
    /// checked the caller's before anything is read.
    fn copy_out(
        &self,
        index: usize,
        (buffer, bytes): (usize, usize),
        mut read: impl FnMut(usize, &mut [u8]) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let space = self.space(index);
        space.check(buffer, bytes, Access::Write)?;
        let mut done = 0;
        while done < bytes {
            let piece = (bytes - done).min(DISK_PIECE_BYTES);
            space.with_bytes_mut(buffer + done, piece, |into| read(done, into))??;
            done += piece;
        }
        Ok(())
    }

    /// Takes the `bytes` bytes of program `index`'s buffer at `buffer` to a device,
    /// `write(offset, piece)` taking each piece (at most [`DISK_PIECE_BYTES`]) from
    /// the program's buffer itself; nothing is written unless the whole buffer is
    /// the caller's.
    fn copy_in(
        &self,
        index: usize,
        (buffer, bytes): (usize, usize),
        mut write: impl FnMut(usize, &[u8]) -> Result<(), Errno>,
    ) -> Result<(), Errno> {
        let space = self.space(index);
        space.check(buffer, bytes, Access::Read)?;
        let mut done = 0;
        while done < bytes {
            let piece = (bytes - done).min(DISK_PIECE_BYTES);
            space.with_bytes(buffer + done, piece, |from| write(done, from))??;
            done += piece;
        }
        Ok(())
    }

    /// `disk_flush`.
    pub(super) fn disk_flush(&self) -> Result<usize, Errno> {
        let disk = self.platform.disk().ok_or(Errno::NoEntry)?;
        disk.flush().map_err(disk_errno)?;
        Ok(0)
    }

    /// Sleeps the thread on `context` for `nanoseconds`, without its core.
    fn sleep_for(&self, context: CoreId, nanoseconds: u64) {
        let cores = self.platform.cores();
        self.wait_without_core_for(
            context,
            nanoseconds,
            || false,
            |left| cores.park_timeout(left),
        );
    }
}

/// The errno of a disk error.
fn disk_errno(error: DiskError) -> Errno {
    match error {
        DiskError::OutOfRange => Errno::Invalid,
        DiskError::Io => Errno::InputOutput,
    }
}
