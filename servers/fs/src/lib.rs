//! The vfs server's disk, as a `no_std` library the server, `nanvix fsck` and the
//! image builder share: block devices ([`device`]), a write cache that loses or
//! reorders unflushed writes at a simulated crash ([`crash`]), a checksummed redo
//! journal that makes a transaction's writes all or nothing ([`journal`]), and
//! files and directories on it ([`layout`], [`files`]).
//! The on-disk format is written up in `docs/src/file-system.md`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

#[cfg(feature = "board")]
pub mod board;
pub mod crash;
pub mod device;
pub mod files;
pub mod journal;
pub mod layout;

pub use crash::CrashingDisk;
pub use device::{BLOCK_SIZE, Block, BlockDevice, DeviceError, MemoryDisk};
pub use files::{Caller, FileProblem, FileSystem, FsError, Stat};
pub use journal::{Check, Journal, JournalError, Problem, Transaction};
pub use layout::{Entry, Inode, ROOT};
