//! The vfs server's protocol: files and directories on the board's disk.
//!
//! A caller opens a file by its absolute path and gets a descriptor of its own
//! (keyed by its node, program id, boot epoch and run); reads and writes move
//! their bytes beside the messages, over portals (`call_receiving`,
//! `call_sending`); each operation is one journal transaction (or one a chunk for a
//! long write), seen by every caller when it returns and durable once a `Sync` or
//! `SyncFile` after it returns. The server acts for the caller's user, checking
//! permissions as POSIX does. Paths must fit the request's message (about 100
//! bytes).

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use nanvix_rpc::transport::{CallError, Client, ServerCallError};
use nanvix_rpc::{Operation, Protocol, RpcError};
use nanvix_sys::Errno;
use serde::{Deserialize, Serialize};

/// The port the vfs server serves on, on its node.
pub const VFS_PORT: u32 = 7;

/// The vfs server's portal ports for callers' bytes (one caller each at a time).
pub const VFS_BULK_PORTS: core::ops::Range<u32> = 28..32;

/// The first port a client tries for the inbox its replies come to.
pub const FIRST_REPLY_PORT: u32 = 16;

/// `Open` flag: read.
pub const OPEN_READ: u32 = 1;
/// `Open` flag: write.
pub const OPEN_WRITE: u32 = 2;
/// `Open` flag: create the file if it does not exist.
pub const OPEN_CREATE: u32 = 4;
/// `Open` flag: with `OPEN_CREATE`, fail if it exists.
pub const OPEN_EXCLUSIVE: u32 = 8;
/// `Open` flag: cut the file to 0 bytes.
pub const OPEN_TRUNCATE: u32 = 16;
/// `Open` flag: every write goes to the end.
pub const OPEN_APPEND: u32 = 32;
/// Every `Open` flag.
pub const OPEN_FLAGS: u32 = 63;

/// `Seek` from the start of the file.
pub const SEEK_SET: u8 = 0;
/// `Seek` from the position.
pub const SEEK_CURRENT: u8 = 1;
/// `Seek` from the end of the file.
pub const SEEK_END: u8 = 2;

/// The most bytes one `Read` returns or one `Write` should send: a read asking for
/// more returns at most this many (as a POSIX read may), and the server's heap
/// need not hold a whole large file's bytes at once.
pub const TRANSFER_MAX: usize = 256 << 10;

/// Longest path a request may name, in bytes (POSIX's `PATH_MAX`): past it,
/// `NameTooLong`. A request with paths too long for one message travels beside it
/// (`nanvix_rpc::CARRIED_MAX`, which holds two of these).
pub const PATH_MAX: usize = 4096;

/// Most files one caller program holds open.
pub const OPEN_MAX: usize = 32;

/// The vfs server's requests, one variant per operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VfsRequest {
    /// Opens the file at `path` with `flags` (`OPEN_*`); a created file gets `mode`.
    Open { path: String, flags: u32, mode: u16 },
    /// Closes `descriptor`.
    Close { descriptor: u32 },
    /// Reads up to `length` bytes at the descriptor's position (bytes beside).
    Read { descriptor: u32, length: u32 },
    /// Writes the bytes beside the request at the descriptor's position.
    Write { descriptor: u32 },
    /// Sets the descriptor's position to `offset` from the start, the position or
    /// the end (`whence`: [`SEEK_SET`], [`SEEK_CURRENT`], [`SEEK_END`]).
    Seek {
        descriptor: u32,
        offset: i64,
        whence: u8,
    },
    /// What the file at `path` is.
    Stat { path: String },
    /// What the file `descriptor` is open on is.
    StatFile { descriptor: u32 },
    /// Makes the directory `path`.
    MakeDirectory { path: String, mode: u16 },
    /// Removes the file `path`.
    Unlink { path: String },
    /// Removes the empty directory `path`.
    RemoveDirectory { path: String },
    /// Renames `from` to `to`.
    Rename { from: String, to: String },
    /// The entries of the directory `path` (bytes beside: [`decode_listing`]).
    List { path: String },
    /// Sets the descriptor's file's size.
    Truncate { descriptor: u32, size: u64 },
    /// Sets the permission bits of `path` (its owner or root).
    ChangeMode { path: String, mode: u16 },
    /// Makes every operation so far durable (`sync`).
    Sync,
    /// Makes every operation so far on the file `descriptor` is open on durable
    /// (`fsync`; the server makes all of them durable).
    SyncFile { descriptor: u32 },
    /// Ends the server (the system's own programs only: those of its cluster).
    Stop,
}

impl VfsRequest {
    /// The paths the request names.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        let (first, second) = match self {
            VfsRequest::Open { path, .. }
            | VfsRequest::Stat { path }
            | VfsRequest::MakeDirectory { path, .. }
            | VfsRequest::Unlink { path }
            | VfsRequest::RemoveDirectory { path }
            | VfsRequest::List { path }
            | VfsRequest::ChangeMode { path, .. } => (Some(path.as_str()), None),
            VfsRequest::Rename { from, to } => (Some(from.as_str()), Some(to.as_str())),
            _ => (None, None),
        };
        first.into_iter().chain(second)
    }
}

/// What `Stat` tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// Inode number.
    pub inode: u32,
    /// Type and permission bits (`0o100000` a file, `0o040000` a directory).
    pub mode: u16,
    /// Names it has.
    pub links: u16,
    /// Owner.
    pub user: u32,
    /// Group.
    pub group: u32,
    /// Bytes.
    pub size: u64,
    /// Last change of its contents, nanoseconds since the Unix epoch.
    pub modified: u64,
}

/// The vfs server's replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VfsReply {
    /// The file is open as `descriptor`.
    Opened { descriptor: u32 },
    /// Done.
    Done,
    /// `count` bytes read (beside the reply).
    Read { count: u32 },
    /// `count` bytes written.
    Written { count: u32 },
    /// The descriptor's position now.
    Position { offset: u64 },
    /// What the file is.
    Stat(FileStat),
    /// `count` entries (beside the reply).
    Listing { count: u32 },
    /// The server stopped.
    Stopped,
    /// The request was refused.
    Refused(VfsError),
}

/// Why the vfs server refused a request (each maps to a POSIX errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum VfsError {
    /// No such file or directory.
    NotFound,
    /// It exists.
    Exists,
    /// A component of the path is not a directory.
    NotDirectory,
    /// A directory where a file was expected.
    IsDirectory,
    /// The directory is not empty.
    NotEmpty,
    /// A name is too long.
    NameTooLong,
    /// A relative path, a bad name or flag, or a directory moved under itself.
    Invalid,
    /// The disk is full.
    NoSpace,
    /// Past the largest file.
    TooLarge,
    /// The caller may not.
    Denied,
    /// No such open descriptor of the caller, or not open for that.
    BadDescriptor,
    /// The caller holds [`OPEN_MAX`] files open.
    TooManyOpen,
    /// The disk failed, or contradicts itself.
    Io,
}

impl VfsError {
    /// The POSIX errno it stands for.
    pub fn errno(self) -> Errno {
        match self {
            VfsError::NotFound => Errno::NoEntry,
            VfsError::Exists => Errno::Exists,
            VfsError::NotDirectory => Errno::NotDirectory,
            VfsError::IsDirectory => Errno::IsDirectory,
            VfsError::NotEmpty => Errno::NotEmpty,
            VfsError::NameTooLong => Errno::NameTooLong,
            VfsError::Invalid => Errno::Invalid,
            VfsError::NoSpace => Errno::NoSpace,
            VfsError::TooLarge => Errno::FileTooLarge,
            VfsError::Denied => Errno::Access,
            VfsError::BadDescriptor => Errno::BadDescriptor,
            VfsError::TooManyOpen => Errno::TooManyOpen,
            VfsError::Io => Errno::InputOutput,
        }
    }
}

impl core::fmt::Display for VfsError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            VfsError::NotFound => "no such file or directory",
            VfsError::Exists => "file exists",
            VfsError::NotDirectory => "not a directory",
            VfsError::IsDirectory => "is a directory",
            VfsError::NotEmpty => "directory not empty",
            VfsError::NameTooLong => "file name too long",
            VfsError::Invalid => "invalid argument",
            VfsError::NoSpace => "no space left on device",
            VfsError::TooLarge => "file too large",
            VfsError::Denied => "permission denied",
            VfsError::BadDescriptor => "bad file descriptor",
            VfsError::TooManyOpen => "too many open files",
            VfsError::Io => "input/output error",
        })
    }
}

/// A directory's entries, as `List` sends them beside its reply: (name, inode,
/// whether a directory).
pub type Listing = Vec<(String, u32, bool)>;

/// Encodes a listing (the server).
pub fn encode_listing(listing: &Listing) -> Vec<u8> {
    postcard::to_allocvec(listing).unwrap_or_default()
}

/// Decodes a listing (the client); `None` if it does not decode.
pub fn decode_listing(bytes: &[u8]) -> Option<Listing> {
    postcard::from_bytes(bytes).ok()
}

/// The vfs server's protocol.
pub struct VfsProtocol;

impl Protocol for VfsProtocol {
    const NAME: &'static str = "vfs";
    const SUMMARY: &'static str = "Files and directories of the board's disk (`servers/vfs`, program \
        `vfs-server`, on the cluster the disk is attached to, port 7 `VFS_PORT`; callers' bytes on \
        portal ports 28 to 31). Paths are absolute; a caller's descriptors are its own (keyed by its \
        node, program id, boot epoch and run: the next process of a warm cluster does not inherit \
        them; at most 32 open); a `Read` returns at most 256 KiB (`TRANSFER_MAX`); `Read` and `List` send their bytes beside the reply and `Write` takes its \
        bytes beside the request (`call_receiving`, `call_sending`). An operation that returned is \
        seen by every caller at once, and is durable once a `Sync` or `SyncFile` that came after \
        it returns, or the server stops (at the latest, the server syncs at the first request \
        five seconds after its last sync); a crash before keeps a prefix of the operations, each \
        whole. Callers act as their users: the server takes the sender's node, boot epoch and \
        run from the message's header and asks the process server once per run (`UserOf`); the \
        programs of I/O clusters and the program the manifest booted a compute cluster with are \
        root (user 0), who may do anything; each user is the one member of its own group. Paths \
        are searched with execute permission on each directory; `Open` checks read and write \
        permission on the file (a created one is the caller's, with `mode`); creating, removing \
        and renaming need write and execute permission on the directory, and in a sticky \
        directory (mode 0o1000, like `/tmp`) only the entry's owner, the directory's or root \
        removes or renames an entry; `List` needs read permission. A sender the process server \
        does not know is refused everything (`Denied`). A refusal is \
        `VfsReply::Refused(VfsError)` and changes nothing.";
    const TABLE: &'static [Operation] = &[
        Operation {
            request: "Open { path, flags, mode }",
            reply: "Opened { descriptor }",
            summary: "opens `path` (OPEN_READ, OPEN_WRITE, OPEN_CREATE, OPEN_EXCLUSIVE, OPEN_TRUNCATE, OPEN_APPEND); a created file gets `mode`",
            errors: &[
                (
                    "Denied",
                    "no search permission on a directory of the path, no read or write permission on the file as asked, or no write permission on the directory to create it in",
                ),
                ("NotFound", "no such file, and no OPEN_CREATE"),
                ("Exists", "OPEN_CREATE with OPEN_EXCLUSIVE, and it exists"),
                ("NotDirectory", "a component of the path is not a directory"),
                ("IsDirectory", "it is a directory"),
                (
                    "NameTooLong",
                    "a name is over 58 bytes, or a path over PATH_MAX (4096 bytes)",
                ),
                (
                    "Invalid",
                    "a relative path, unknown flags, or neither read nor write",
                ),
                ("NoSpace", "no free inode or block for a new file"),
                ("TooManyOpen", "the caller holds 32 files open"),
            ],
        },
        Operation {
            request: "Close { descriptor }",
            reply: "Done",
            summary: "closes `descriptor`",
            errors: &[("BadDescriptor", "no such open descriptor of the caller")],
        },
        Operation {
            request: "Read { descriptor, length }",
            reply: "Read { count }",
            summary: "reads up to `length` bytes at the position (fewer at the end), beside the reply; the position moves on",
            errors: &[
                ("BadDescriptor", "not open for reading"),
                ("Io", "the disk failed"),
            ],
        },
        Operation {
            request: "Write { descriptor }",
            reply: "Written { count }",
            summary: "writes the bytes beside the request at the position (the end with OPEN_APPEND); the position moves on",
            errors: &[
                ("BadDescriptor", "not open for writing"),
                ("NoSpace", "the disk is full (what went before stays)"),
                ("TooLarge", "past the largest file"),
            ],
        },
        Operation {
            request: "Seek { descriptor, offset, whence }",
            reply: "Position { offset }",
            summary: "sets the position to `offset` from the start (SEEK_SET, 0), the position (SEEK_CURRENT, 1) or the end (SEEK_END, 2); past the end is allowed (a write there leaves a hole that reads zeros)",
            errors: &[
                ("BadDescriptor", "no such open descriptor of the caller"),
                (
                    "Invalid",
                    "an unknown `whence`, or a position before the start",
                ),
            ],
        },
        Operation {
            request: "Stat { path }",
            reply: "Stat(FileStat)",
            summary: "what `path` is",
            errors: &[
                ("Denied", "no search permission on a directory of the path"),
                ("NotFound", "no such file"),
                ("NotDirectory", "a component of the path is not a directory"),
                ("Invalid", "a relative path"),
            ],
        },
        Operation {
            request: "StatFile { descriptor }",
            reply: "Stat(FileStat)",
            summary: "what the file `descriptor` is open on is (`fstat`)",
            errors: &[("BadDescriptor", "no such open descriptor of the caller")],
        },
        Operation {
            request: "MakeDirectory { path, mode }",
            reply: "Done",
            summary: "makes the directory `path`",
            errors: &[
                ("Denied", "no write and search permission on the parent"),
                ("Exists", "it exists"),
                ("NotFound", "its parent does not exist"),
                ("NoSpace", "no free inode or block"),
            ],
        },
        Operation {
            request: "Unlink { path }",
            reply: "Done",
            summary: "removes the name `path` of a file; a file still open stays, read and written through its descriptors, until the last is closed (or the server next mounts the disk)",
            errors: &[
                (
                    "Denied",
                    "no write and search permission on the directory, or another user's entry of a sticky directory",
                ),
                ("NotFound", "no such file"),
                ("IsDirectory", "it is a directory"),
            ],
        },
        Operation {
            request: "RemoveDirectory { path }",
            reply: "Done",
            summary: "removes the empty directory `path`",
            errors: &[
                (
                    "Denied",
                    "no write and search permission on the parent, or another user's entry of a sticky directory",
                ),
                ("NotFound", "no such directory"),
                ("NotEmpty", "it holds entries"),
                ("NotDirectory", "it is a file"),
            ],
        },
        Operation {
            request: "Rename { from, to }",
            reply: "Done",
            summary: "renames `from` to `to`, replacing a file (or an empty directory) there",
            errors: &[
                (
                    "Denied",
                    "no write and search permission on either directory, or another user's entry of a sticky directory",
                ),
                ("NotFound", "no `from`"),
                ("Invalid", "a directory moved under itself"),
                ("NotEmpty", "`to` is a directory with entries"),
            ],
        },
        Operation {
            request: "List { path }",
            reply: "Listing { count }",
            summary: "the entries of the directory `path` (`.` and `..` first), beside the reply",
            errors: &[
                (
                    "Denied",
                    "no read permission on the directory (or search on the way)",
                ),
                ("NotFound", "no such directory"),
                ("NotDirectory", "it is a file"),
            ],
        },
        Operation {
            request: "Truncate { descriptor, size }",
            reply: "Done",
            summary: "sets the file's size (blocks past it freed; a growth reads zeros)",
            errors: &[("BadDescriptor", "not open for writing")],
        },
        Operation {
            request: "ChangeMode { path, mode }",
            reply: "Done",
            summary: "sets the permission bits of `path` (the low 12 bits of `mode`: set-user, set-group and sticky, then owner, group and others' read, write and execute)",
            errors: &[
                ("NotFound", "no such file"),
                ("Denied", "the caller is neither its owner nor root"),
            ],
        },
        Operation {
            request: "Sync",
            reply: "Done",
            summary: "makes every operation that returned so far durable: one flush of the disk",
            errors: &[("Io", "the disk failed")],
        },
        Operation {
            request: "SyncFile { descriptor }",
            reply: "Done",
            summary: "makes every operation on the file that returned so far durable (the server makes them all durable, as `Sync`)",
            errors: &[
                ("BadDescriptor", "no such open descriptor of the caller"),
                ("Io", "the disk failed"),
            ],
        },
        Operation {
            request: "Stop",
            reply: "Stopped",
            summary: "ends the server (its disk's journal checkpointed)",
            errors: &[("Denied", "the caller is not on the server's cluster")],
        },
    ];
    type Request = VfsRequest;
    type Reply = VfsReply;
}

/// Why a vfs call failed: the server refused it, or the call itself failed.
pub type VfsCallError = ServerCallError<VfsError>;

/// A typed client of the vfs server on `node`.
pub struct VfsClient {
    client: Client<VfsProtocol>,
}

impl VfsClient {
    /// A client of the vfs server on `node` (at [`VFS_PORT`]).
    pub fn connect(node: u32) -> Result<VfsClient, Errno> {
        Ok(VfsClient {
            client: Client::connect(node, VFS_PORT, FIRST_REPLY_PORT)?,
        })
    }

    /// Opens `path` with `flags`; its descriptor.
    pub fn open(&mut self, path: &str, flags: u32, mode: u16) -> Result<u32, VfsCallError> {
        let request = VfsRequest::Open {
            path: path.to_string(),
            flags,
            mode,
        };
        match self.call(&request)? {
            VfsReply::Opened { descriptor } => Ok(descriptor),
            other => Err(unexpected(other)),
        }
    }

    /// Closes `descriptor`.
    pub fn close_file(&mut self, descriptor: u32) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::Close { descriptor })
    }

    /// Reads into `buffer` at the position; the bytes read (0 at the end).
    pub fn read(&mut self, descriptor: u32, buffer: &mut [u8]) -> Result<usize, VfsCallError> {
        let request = VfsRequest::Read {
            descriptor,
            length: buffer.len() as u32,
        };
        match self.client.call_receiving(&request, buffer)? {
            (VfsReply::Read { count }, arrived) if count as usize == arrived => Ok(arrived),
            (other, _) => Err(unexpected(other)),
        }
    }

    /// Writes `bytes` at the position; how many went.
    pub fn write(&mut self, descriptor: u32, bytes: &[u8]) -> Result<usize, VfsCallError> {
        if bytes.is_empty() {
            return Ok(0);
        }
        match self
            .client
            .call_sending(&VfsRequest::Write { descriptor }, bytes)?
        {
            VfsReply::Written { count } => Ok(count as usize),
            other => Err(unexpected(other)),
        }
    }

    /// Sets the position, from the start; the position.
    pub fn seek(&mut self, descriptor: u32, offset: u64) -> Result<u64, VfsCallError> {
        let offset = i64::try_from(offset).map_err(|_| VfsCallError::Refused(VfsError::Invalid))?;
        self.seek_from(descriptor, offset, SEEK_SET)
    }

    /// Sets the position to `offset` from where `whence` says; the position.
    pub fn seek_from(
        &mut self,
        descriptor: u32,
        offset: i64,
        whence: u8,
    ) -> Result<u64, VfsCallError> {
        let request = VfsRequest::Seek {
            descriptor,
            offset,
            whence,
        };
        match self.call(&request)? {
            VfsReply::Position { offset } => Ok(offset),
            other => Err(unexpected(other)),
        }
    }

    /// What the file `descriptor` is open on is.
    pub fn stat_file(&mut self, descriptor: u32) -> Result<FileStat, VfsCallError> {
        match self.call(&VfsRequest::StatFile { descriptor })? {
            VfsReply::Stat(stat) => Ok(stat),
            other => Err(unexpected(other)),
        }
    }

    /// What `path` is.
    pub fn stat(&mut self, path: &str) -> Result<FileStat, VfsCallError> {
        match self.call(&VfsRequest::Stat {
            path: path.to_string(),
        })? {
            VfsReply::Stat(stat) => Ok(stat),
            other => Err(unexpected(other)),
        }
    }

    /// Makes the directory `path`.
    pub fn make_directory(&mut self, path: &str, mode: u16) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::MakeDirectory {
            path: path.to_string(),
            mode,
        })
    }

    /// Removes the file `path`.
    pub fn unlink(&mut self, path: &str) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::Unlink {
            path: path.to_string(),
        })
    }

    /// Removes the empty directory `path`.
    pub fn remove_directory(&mut self, path: &str) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::RemoveDirectory {
            path: path.to_string(),
        })
    }

    /// Renames `from` to `to`.
    pub fn rename(&mut self, from: &str, to: &str) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::Rename {
            from: from.to_string(),
            to: to.to_string(),
        })
    }

    /// The entries of the directory `path`, taking up to `capacity` bytes of them.
    pub fn list(&mut self, path: &str, capacity: usize) -> Result<Listing, VfsCallError> {
        let mut buffer = alloc::vec![0u8; capacity];
        let request = VfsRequest::List {
            path: path.to_string(),
        };
        match self.client.call_receiving(&request, &mut buffer)? {
            (VfsReply::Listing { .. }, arrived) => decode_listing(&buffer[..arrived])
                .ok_or(VfsCallError::Call(CallError::Rpc(RpcError::BadReply))),
            (other, _) => Err(unexpected(other)),
        }
    }

    /// Sets the file's size.
    pub fn truncate(&mut self, descriptor: u32, size: u64) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::Truncate { descriptor, size })
    }

    /// Sets the permission bits of `path`.
    pub fn change_mode(&mut self, path: &str, mode: u16) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::ChangeMode {
            path: path.to_string(),
            mode,
        })
    }

    /// Makes every operation so far durable (`sync`).
    pub fn sync(&mut self) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::Sync)
    }

    /// Makes every operation so far on the file `descriptor` is open on durable
    /// (`fsync`).
    pub fn sync_file(&mut self, descriptor: u32) -> Result<(), VfsCallError> {
        self.done(&VfsRequest::SyncFile { descriptor })
    }

    /// Asks the server to stop (it stops without an answer).
    pub fn stop(&mut self) -> Result<(), VfsCallError> {
        match self.call(&VfsRequest::Stop) {
            Ok(VfsReply::Stopped)
            | Err(VfsCallError::Call(CallError::Mailbox(Errno::ConnectionReset))) => Ok(()),
            Ok(other) => Err(unexpected(other)),
            Err(error) => Err(error),
        }
    }

    /// Sends `request` as it is and returns the reply.
    pub fn call(&mut self, request: &VfsRequest) -> Result<VfsReply, VfsCallError> {
        Ok(self.client.call(request)?)
    }

    fn done(&mut self, request: &VfsRequest) -> Result<(), VfsCallError> {
        match self.call(request)? {
            VfsReply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Closes the client.
    pub fn close(self) -> Result<(), Errno> {
        self.client.close()
    }
}

/// A refusal as an error; any other reply than the one asked for is a bad reply.
fn unexpected(reply: VfsReply) -> VfsCallError {
    match reply {
        VfsReply::Refused(error) => VfsCallError::Refused(error),
        _ => VfsCallError::Call(CallError::Rpc(RpcError::BadReply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_enums() {
        let examples = [
            VfsRequest::Open {
                path: String::new(),
                flags: 0,
                mode: 0,
            },
            VfsRequest::Close { descriptor: 0 },
            VfsRequest::Read {
                descriptor: 0,
                length: 0,
            },
            VfsRequest::Write { descriptor: 0 },
            VfsRequest::Seek {
                descriptor: 0,
                offset: 0,
                whence: 0,
            },
            VfsRequest::Stat {
                path: String::new(),
            },
            VfsRequest::StatFile { descriptor: 0 },
            VfsRequest::MakeDirectory {
                path: String::new(),
                mode: 0,
            },
            VfsRequest::Unlink {
                path: String::new(),
            },
            VfsRequest::RemoveDirectory {
                path: String::new(),
            },
            VfsRequest::Rename {
                from: String::new(),
                to: String::new(),
            },
            VfsRequest::List {
                path: String::new(),
            },
            VfsRequest::Truncate {
                descriptor: 0,
                size: 0,
            },
            VfsRequest::ChangeMode {
                path: String::new(),
                mode: 0,
            },
            VfsRequest::Sync,
            VfsRequest::SyncFile { descriptor: 0 },
            VfsRequest::Stop,
        ];
        let errors = [
            "NotFound",
            "Exists",
            "NotDirectory",
            "IsDirectory",
            "NotEmpty",
            "NameTooLong",
            "Invalid",
            "NoSpace",
            "TooLarge",
            "Denied",
            "BadDescriptor",
            "TooManyOpen",
            "Io",
        ];
        assert_eq!(
            nanvix_rpc::check_table::<VfsProtocol>(&examples, &errors),
            Ok(())
        );
    }

    #[test]
    fn a_listing_round_trips() {
        let listing: Listing =
            alloc::vec![(".".to_string(), 1, true), ("file".to_string(), 5, false)];
        assert_eq!(decode_listing(&encode_listing(&listing)), Some(listing));
        assert_eq!(decode_listing(&[0xff, 0xff, 0xff]), None);
    }
}
