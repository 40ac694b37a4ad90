//! Devices: uniform reads and writes, checked against the caller's rights (the
//! table is `nanvix_abi::DEVICES`).

use crate::runtime::kcall;
pub use nanvix_abi::Device;
use nanvix_abi::{Errno, Kcall};

/// Reads `device` into `buffer`; returns the bytes read.
pub fn read(device: Device, buffer: &mut [u8]) -> Result<usize, Errno> {
    kcall(
        Kcall::DeviceRead,
        [
            device as usize,
            buffer.as_mut_ptr() as usize,
            buffer.len(),
            0,
            0,
        ],
    )
}

/// Writes `bytes` to `device`; returns the bytes taken.
pub fn write(device: Device, bytes: &[u8]) -> Result<usize, Errno> {
    kcall(
        Kcall::DeviceWrite,
        [device as usize, bytes.as_ptr() as usize, bytes.len(), 0, 0],
    )
}

/// Reads a clock-like device's 8 bytes.
pub(crate) fn read_u64(device: Device) -> Result<u64, Errno> {
    let mut bytes = [0u8; 8];
    read(device, &mut bytes)?;
    Ok(u64::from_le_bytes(bytes))
}
