//! The table of every device: the one source of truth for ids, names and who may
//! read or write each (the devices section of the kcall page is generated from it).

/// Who may use one direction of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceAccess {
    /// Every program.
    Everyone,
    /// Only the program the manifest gives the console input.
    ConsoleHolder,
    /// No program (`EACCES`).
    Nobody,
}

impl DeviceAccess {
    /// As written in the docs.
    pub const fn name(self) -> &'static str {
        match self {
            DeviceAccess::Everyone => "every program",
            DeviceAccess::ConsoleHolder => "the console input's holder",
            DeviceAccess::Nobody => "nobody",
        }
    }
}

/// One device, described.
#[derive(Clone, Copy, Debug)]
pub struct DeviceDescription {
    /// The device.
    pub device: Device,
    /// Name as written in docs.
    pub name: &'static str,
    /// Who may read it, and what a read gives.
    pub read: (DeviceAccess, &'static str),
    /// Who may write it, and what a write does.
    pub write: (DeviceAccess, &'static str),
}

macro_rules! devices {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $id:literal, $name:literal,
        read: $read:ident $read_does:literal,
        write: $write:ident $write_does:literal;
    )*) => {
        /// Every device, by id (the first argument of `device_read` and
        /// `device_write`).
        #[repr(usize)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Device {
            $($(#[doc = $doc])* $variant = $id,)*
        }

        impl Device {
            /// The device with this id, if any.
            pub const fn from_id(id: usize) -> Option<Device> {
                match id {
                    $($id => Some(Device::$variant),)*
                    _ => None,
                }
            }

            /// Its description.
            pub fn description(self) -> &'static DeviceDescription {
                &DEVICES[self as usize]
            }

            /// Who may read the device (its description's, without the text: the
            /// kernel keeps no descriptions).
            pub const fn read_access(self) -> DeviceAccess {
                match self {
                    $(Device::$variant => DeviceAccess::$read,)*
                }
            }

            /// Who may write the device (as [`Device::read_access`]).
            pub const fn write_access(self) -> DeviceAccess {
                match self {
                    $(Device::$variant => DeviceAccess::$write,)*
                }
            }
        }

        /// Every device with its description, in id order.
        pub const DEVICES: &[DeviceDescription] = &[
            $(DeviceDescription {
                device: Device::$variant,
                name: $name,
                read: (DeviceAccess::$read, $read_does),
                write: (DeviceAccess::$write, $write_does),
            },)*
        ];
    };
}

devices! {
    /// The cluster console.
    Console = 0, "console",
        read: ConsoleHolder "the terminal's bytes, waiting for some (0 when the input ended)",
        write: Everyone "bytes to the console, line-buffered per program";
    /// The wall clock.
    WallClock = 1, "wall-clock",
        read: Everyone "8 bytes: nanoseconds since the Unix epoch (little-endian u64)",
        write: Nobody "(refused)";
    /// The calling core's cycle counter.
    Cycles = 2, "cycles",
        read: Everyone "8 bytes: the counter (little-endian u64)",
        write: Nobody "(refused)";
    /// The timer: a monotonic clock, and sleeping for a time.
    Timer = 3, "timer",
        read: Everyone "8 bytes: monotonic nanoseconds (little-endian u64)",
        write: Everyone "8 bytes: sleep that many nanoseconds, without a core";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positions_and_decode_back() {
        for (position, description) in DEVICES.iter().enumerate() {
            assert_eq!(description.device as usize, position);
            assert_eq!(Device::from_id(position), Some(description.device));
            assert_eq!(description.device.description().name, description.name);
            assert_eq!(description.device.read_access(), description.read.0);
            assert_eq!(description.device.write_access(), description.write.0);
        }
        assert_eq!(Device::from_id(DEVICES.len()), None);
    }
}
