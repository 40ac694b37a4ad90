//! The memory server's protocol: named shared memory segments on the board's DDR.
//!
//! A segment has a name (`/counter`), an owner (its creator's user), permission
//! bits and a size; its bytes live in the DDR, where every cluster's programs
//! reach them through the server: a read returns the bytes written before it, by
//! anyone. libnanvix maps a segment as a copy in the program's memory, which it
//! writes back at `msync` and at unmap: writes are seen by others from those points
//! (`libnanvix::shm`). The server acts for the caller's user (`Identities`): read
//! permission to read, write permission to write or resize, the owner (or root) to
//! unlink; each user's segments hold at most its quota of bytes.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::{String, ToString};
use nanvix_rpc::transport::{CallError, Client, ServerCallError};
use nanvix_rpc::{Operation, Protocol, RpcError};
use nanvix_sys::Errno;
use serde::{Deserialize, Serialize};

/// The port the memory server serves on, on its node.
pub const MEMORY_PORT: u32 = 8;

/// The memory server's portal ports for callers' bytes (one caller each at a time).
pub const MEMORY_BULK_PORTS: core::ops::Range<u32> = 24..28;

/// The first port a client tries for the inbox its replies come to.
pub const FIRST_REPLY_PORT: u32 = 24;

/// The most bytes one `Read` returns or one `Write` takes.
pub const TRANSFER_MAX: usize = 256 << 10;

/// The largest segment.
pub const SEGMENT_BYTES_MAX: u64 = 64 << 20;

/// The memory server's requests, one variant per operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryRequest {
    /// Makes segment `name`, empty, the caller's, with permission bits `mode`.
    Create { name: String, mode: u16 },
    /// What segment `name` is, if the caller may read it (and, with `write`, write
    /// it).
    Open { name: String, write: bool },
    /// Sets segment `name`'s size (`ftruncate`: new bytes read zeros).
    Resize { name: String, size: u64 },
    /// Reads up to `length` bytes of segment `name` at `offset` (bytes beside).
    Read {
        name: String,
        offset: u64,
        length: u32,
    },
    /// Writes the bytes beside the request to segment `name` at `offset`.
    Write { name: String, offset: u64 },
    /// Removes segment `name`.
    Unlink { name: String },
    /// Ends the server (the system's own programs only: those of its cluster).
    Stop,
}

/// What a segment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentStat {
    /// Bytes.
    pub size: u64,
    /// Its creator's user.
    pub owner: u32,
    /// Permission bits.
    pub mode: u16,
}

/// The memory server's replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryReply {
    /// Done.
    Done,
    /// The segment opened.
    Segment(SegmentStat),
    /// `count` bytes read (beside the reply).
    Read { count: u32 },
    /// `count` bytes written.
    Written { count: u32 },
    /// The server stopped.
    Stopped,
    /// The request was refused.
    Refused(MemoryError),
}

/// Why the memory server refused a request (each maps to a POSIX errno).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MemoryError {
    /// No such segment.
    NotFound,
    /// A segment of that name exists.
    Exists,
    /// The caller may not.
    Denied,
    /// A name not of the form `/NAME`, or bytes past the segment's end.
    Invalid,
    /// The DDR the server keeps has no room.
    NoSpace,
    /// The user's segments would hold more than its quota.
    OverQuota,
    /// Past the largest segment.
    TooLarge,
}

impl MemoryError {
    /// The POSIX errno it stands for.
    pub fn errno(self) -> Errno {
        match self {
            MemoryError::NotFound => Errno::NoEntry,
            MemoryError::Exists => Errno::Exists,
            MemoryError::Denied => Errno::Access,
            MemoryError::Invalid => Errno::Invalid,
            MemoryError::NoSpace | MemoryError::OverQuota => Errno::NoMemory,
            MemoryError::TooLarge => Errno::FileTooLarge,
        }
    }
}

impl core::fmt::Display for MemoryError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            MemoryError::NotFound => "no such segment",
            MemoryError::Exists => "the segment exists",
            MemoryError::Denied => "permission denied",
            MemoryError::Invalid => "invalid name or range",
            MemoryError::NoSpace => "no room in the server's DDR",
            MemoryError::OverQuota => "the user's quota of shared memory is used up",
            MemoryError::TooLarge => "past the largest segment",
        })
    }
}

/// The memory server's protocol.
pub struct MemoryProtocol;

impl Protocol for MemoryProtocol {
    const NAME: &'static str = "memory";
    const SUMMARY: &'static str = "Named shared memory segments on the board's DDR (`servers/memory`, \
        program `memory-server`, on a DDR-attached I/O cluster, port 8 `MEMORY_PORT`; callers' \
        bytes on portal ports 24 to 27). A segment's bytes are the DDR's: a read returns what \
        was written before it, by any caller. The server acts for the caller's user (the \
        process server names it, as for the vfs server): read permission to open and read, \
        write permission to write and resize, the owner or root to unlink; each user is the one \
        member of its own group. The server's argument `quotas=USER:BYTES,...` bounds the bytes \
        of a user's segments (root and users not named: none); `ddr=OFFSET:BYTES` the part of \
        the DDR it keeps (default: all of it). A `Read` returns at most 256 KiB (`TRANSFER_MAX`). \
        A refusal is `MemoryReply::Refused(MemoryError)` and changes nothing.";
    const TABLE: &'static [Operation] = &[
        Operation {
            request: "Create { name, mode }",
            reply: "Done",
            summary: "makes segment `name` (`/NAME`, at most 64 bytes), empty, the caller's, with permission bits `mode`",
            errors: &[
                ("Exists", "a segment of that name exists"),
                ("Invalid", "a name not of the form `/NAME`"),
            ],
        },
        Operation {
            request: "Open { name, write }",
            reply: "Segment(SegmentStat)",
            summary: "what segment `name` is (size, owner, mode), if the caller may read it, and with `write` write it",
            errors: &[
                ("NotFound", "no such segment"),
                ("Denied", "no read (or write) permission"),
            ],
        },
        Operation {
            request: "Resize { name, size }",
            reply: "Done",
            summary: "sets the segment's size (`ftruncate`): new bytes read zeros, bytes past a smaller size go",
            errors: &[
                ("NotFound", "no such segment"),
                ("Denied", "no write permission"),
                ("TooLarge", "past 64 MiB (`SEGMENT_BYTES_MAX`)"),
                (
                    "OverQuota",
                    "the owner's segments would hold more than its quota",
                ),
                ("NoSpace", "no room left in the server's part of the DDR"),
            ],
        },
        Operation {
            request: "Read { name, offset, length }",
            reply: "Read { count }",
            summary: "up to `length` bytes at `offset` (fewer at the end), beside the reply",
            errors: &[
                ("NotFound", "no such segment"),
                ("Denied", "no read permission"),
            ],
        },
        Operation {
            request: "Write { name, offset }",
            reply: "Written { count }",
            summary: "writes the bytes beside the request at `offset`, inside the segment",
            errors: &[
                ("NotFound", "no such segment"),
                ("Denied", "no write permission"),
                ("Invalid", "bytes past the segment's end"),
            ],
        },
        Operation {
            request: "Unlink { name }",
            reply: "Done",
            summary: "removes segment `name` and frees its bytes",
            errors: &[
                ("NotFound", "no such segment"),
                ("Denied", "the caller is neither its owner nor root"),
            ],
        },
        Operation {
            request: "Stop",
            reply: "Stopped",
            summary: "ends the server",
            errors: &[("Denied", "the caller is not on the server's cluster")],
        },
    ];
    type Request = MemoryRequest;
    type Reply = MemoryReply;
}

/// Why a memory call failed: the server refused it, or the call itself failed.
pub type MemoryCallError = ServerCallError<MemoryError>;

/// A typed client of the memory server on `node`.
pub struct MemoryClient {
    client: Client<MemoryProtocol>,
}

impl MemoryClient {
    /// A client of the memory server on `node` (at [`MEMORY_PORT`]).
    pub fn connect(node: u32) -> Result<MemoryClient, Errno> {
        Ok(MemoryClient {
            client: Client::connect(node, MEMORY_PORT, FIRST_REPLY_PORT)?,
        })
    }

    /// Makes segment `name` with permission bits `mode`.
    pub fn create(&mut self, name: &str, mode: u16) -> Result<(), MemoryCallError> {
        self.done(&MemoryRequest::Create {
            name: name.to_string(),
            mode,
        })
    }

    /// What segment `name` is, if the caller may read it (and write it, with
    /// `write`).
    pub fn open(&mut self, name: &str, write: bool) -> Result<SegmentStat, MemoryCallError> {
        let request = MemoryRequest::Open {
            name: name.to_string(),
            write,
        };
        match self.client.call(&request)? {
            MemoryReply::Segment(stat) => Ok(stat),
            other => Err(unexpected(other)),
        }
    }

    /// Sets segment `name`'s size.
    pub fn resize(&mut self, name: &str, size: u64) -> Result<(), MemoryCallError> {
        self.done(&MemoryRequest::Resize {
            name: name.to_string(),
            size,
        })
    }

    /// Reads into `buffer` the bytes of segment `name` at `offset`; how many.
    pub fn read(
        &mut self,
        name: &str,
        offset: u64,
        buffer: &mut [u8],
    ) -> Result<usize, MemoryCallError> {
        let request = MemoryRequest::Read {
            name: name.to_string(),
            offset,
            length: buffer.len().min(TRANSFER_MAX) as u32,
        };
        match self.client.call_receiving(&request, buffer)? {
            (MemoryReply::Read { count }, arrived) if count as usize == arrived => Ok(arrived),
            (other, _) => Err(unexpected(other)),
        }
    }

    /// Writes `bytes` to segment `name` at `offset`; how many went.
    pub fn write(
        &mut self,
        name: &str,
        offset: u64,
        bytes: &[u8],
    ) -> Result<usize, MemoryCallError> {
        if bytes.is_empty() {
            return Ok(0);
        }
        let request = MemoryRequest::Write {
            name: name.to_string(),
            offset,
        };
        match self.client.call_sending(&request, bytes)? {
            MemoryReply::Written { count } => Ok(count as usize),
            other => Err(unexpected(other)),
        }
    }

    /// Removes segment `name`.
    pub fn unlink(&mut self, name: &str) -> Result<(), MemoryCallError> {
        self.done(&MemoryRequest::Unlink {
            name: name.to_string(),
        })
    }

    /// Asks the server to stop.
    pub fn stop(&mut self) -> Result<(), MemoryCallError> {
        match self.client.call(&MemoryRequest::Stop) {
            Ok(MemoryReply::Stopped) | Err(CallError::Mailbox(Errno::ConnectionReset)) => Ok(()),
            Ok(other) => Err(unexpected(other)),
            Err(error) => Err(error.into()),
        }
    }

    fn done(&mut self, request: &MemoryRequest) -> Result<(), MemoryCallError> {
        match self.client.call(request)? {
            MemoryReply::Done => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Closes the client's reply inbox.
    pub fn close(self) -> Result<(), Errno> {
        self.client.close()
    }
}

fn unexpected(reply: MemoryReply) -> MemoryCallError {
    match reply {
        MemoryReply::Refused(error) => MemoryCallError::Refused(error),
        _ => MemoryCallError::Call(CallError::Rpc(RpcError::BadReply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_the_request_enum() {
        let name = || String::from("/x");
        let examples = [
            MemoryRequest::Create {
                name: name(),
                mode: 0,
            },
            MemoryRequest::Open {
                name: name(),
                write: false,
            },
            MemoryRequest::Resize {
                name: name(),
                size: 0,
            },
            MemoryRequest::Read {
                name: name(),
                offset: 0,
                length: 0,
            },
            MemoryRequest::Write {
                name: name(),
                offset: 0,
            },
            MemoryRequest::Unlink { name: name() },
            MemoryRequest::Stop,
        ];
        let errors = [
            "NotFound",
            "Exists",
            "Denied",
            "Invalid",
            "NoSpace",
            "OverQuota",
            "TooLarge",
        ];
        assert_eq!(
            nanvix_rpc::check_table::<MemoryProtocol>(&examples, &errors),
            Ok(())
        );
    }
}
