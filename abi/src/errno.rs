//! Error numbers returned by kcalls, encoded as `-errno` in the result word.

/// Why a kcall failed. Values follow Linux's numbering so tools can name them.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Errno {
    /// The caller may not do this.
    Permission = 1,
    /// No such object.
    NoEntry = 2,
    /// No such thread (or process).
    NoSuchThread = 3,
    /// An input/output error in the hardware layer.
    InputOutput = 5,
    /// Not a program the loader can run (not an ELF of this platform's kind).
    ExecFormat = 8,
    /// No open object of the caller has this id (a mailbox or portal id, or a
    /// descriptor).
    BadDescriptor = 9,
    /// Not a child of the caller (libnanvix's `waitpid` on another's process).
    NoChild = 10,
    /// Try again: a queue is full or a limit is reached.
    Again = 11,
    /// Out of memory.
    NoMemory = 12,
    /// Access denied.
    Access = 13,
    /// A pointer argument does not lie in the caller's memory.
    Fault = 14,
    /// The object is busy.
    Busy = 16,
    /// It exists already (a name linked twice).
    Exists = 17,
    /// A component of a path is not a directory.
    NotDirectory = 20,
    /// It is a directory (where a file is wanted).
    IsDirectory = 21,
    /// Too many files open.
    TooManyOpen = 24,
    /// Past the largest file.
    FileTooLarge = 27,
    /// No space left on the device.
    NoSpace = 28,
    /// Waiting would never end (a thread joining itself).
    Deadlock = 35,
    /// An argument is out of range.
    Invalid = 22,
    /// A name or path is too long.
    NameTooLong = 36,
    /// A directory that holds entries.
    NotEmpty = 39,
    /// No such kcall.
    NoSystemCall = 38,
    /// A message is larger than allowed.
    MessageSize = 90,
    /// The mailbox a read waits on an answer from was closed (its program ended, or
    /// it was unlinked) after the last write to it: no answer will come from it.
    ConnectionReset = 104,
    /// The destination is powered off or dead.
    HostDown = 112,
}

impl Errno {
    /// Every error, for tables and round-trip tests.
    pub const ALL: [Errno; 26] = [
        Errno::Permission,
        Errno::NoEntry,
        Errno::NoSuchThread,
        Errno::InputOutput,
        Errno::ExecFormat,
        Errno::BadDescriptor,
        Errno::NoChild,
        Errno::Again,
        Errno::NoMemory,
        Errno::Access,
        Errno::Fault,
        Errno::Busy,
        Errno::Exists,
        Errno::NotDirectory,
        Errno::IsDirectory,
        Errno::TooManyOpen,
        Errno::FileTooLarge,
        Errno::NoSpace,
        Errno::Deadlock,
        Errno::Invalid,
        Errno::NameTooLong,
        Errno::NotEmpty,
        Errno::NoSystemCall,
        Errno::MessageSize,
        Errno::ConnectionReset,
        Errno::HostDown,
    ];

    /// The error for a positive errno value, if it is one of ours.
    pub fn from_raw(value: i32) -> Option<Errno> {
        Self::ALL.into_iter().find(|errno| *errno as i32 == value)
    }

    /// The conventional symbolic name (`EINVAL`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Errno::Permission => "EPERM",
            Errno::NoEntry => "ENOENT",
            Errno::NoSuchThread => "ESRCH",
            Errno::InputOutput => "EIO",
            Errno::ExecFormat => "ENOEXEC",
            Errno::BadDescriptor => "EBADF",
            Errno::NoChild => "ECHILD",
            Errno::Again => "EAGAIN",
            Errno::NoMemory => "ENOMEM",
            Errno::Access => "EACCES",
            Errno::Fault => "EFAULT",
            Errno::Busy => "EBUSY",
            Errno::Exists => "EEXIST",
            Errno::NotDirectory => "ENOTDIR",
            Errno::IsDirectory => "EISDIR",
            Errno::TooManyOpen => "EMFILE",
            Errno::FileTooLarge => "EFBIG",
            Errno::NoSpace => "ENOSPC",
            Errno::NameTooLong => "ENAMETOOLONG",
            Errno::NotEmpty => "ENOTEMPTY",
            Errno::Deadlock => "EDEADLK",
            Errno::Invalid => "EINVAL",
            Errno::NoSystemCall => "ENOSYS",
            Errno::MessageSize => "EMSGSIZE",
            Errno::ConnectionReset => "ECONNRESET",
            Errno::HostDown => "EHOSTDOWN",
        }
    }

    /// Encodes the error as a kcall result (`-errno`).
    pub const fn to_result(self) -> isize {
        -(self as i32 as isize)
    }

    /// Decodes a kcall result: `Ok(value)` when `result >= 0`. An unknown negative
    /// value decodes as [`Errno::InputOutput`] rather than being lost.
    pub fn check(result: isize) -> Result<usize, Errno> {
        if result >= 0 {
            Ok(result as usize)
        } else {
            let raw = result.unsigned_abs().min(i32::MAX as usize) as i32;
            Err(Errno::from_raw(raw).unwrap_or(Errno::InputOutput))
        }
    }
}

impl core::fmt::Display for Errno {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Errno;

    #[test]
    fn every_errno_round_trips_through_a_result() {
        for errno in Errno::ALL {
            assert_eq!(Errno::check(errno.to_result()), Err(errno));
        }
        assert_eq!(Errno::check(7), Ok(7));
        assert_eq!(Errno::check(-9999), Err(Errno::InputOutput));
        assert_eq!(Errno::check(isize::MIN), Err(Errno::InputOutput));
    }
}
