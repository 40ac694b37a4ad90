//! The device module: `device_read` and `device_write` over the device table of
//! `nanvix_abi::devices`, each direction checked against the caller's rights.

use super::Kernel;
use nanvix_abi::{Device, DeviceAccess, Errno};
use nanvix_hal::{CoreId, Cores, Platform};

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
        if !self.may(index, device.description().read.0) {
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
        if !self.may(index, device.description().write.0) {
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
