//! Shared memory across clusters on the memory server: `shm_open`, `ftruncate`,
//! `mmap`, `msync`, `munmap`, `shm_unlink`.
//!
//! A segment ([`Shm`]) has a name (`/NAME`), an owner, permission bits and a size;
//! its bytes are the server's (in the board's DDR). [`Shm::map`] copies them into
//! the program's memory ([`Mapping`], read and written as a slice); what the
//! program writes there reaches the segment at [`Mapping::sync`] (`msync`) and when
//! the mapping is dropped (`munmap`), and what others wrote before a `map` is what
//! it sees: writes are visible at those points, not before. Errors are errnos:
//! `EACCES` (no permission), `ENOENT`, `EEXIST`, `ENOMEM` (no room, or past the
//! user's quota). The server is at the node the `memory-server=NODE` argument
//! names, else on the system's node.

use crate::posix::system_node;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use nanvix_memory_api::{MemoryCallError, MemoryClient, TRANSFER_MAX};
use nanvix_rpc::transport::CallError;
use nanvix_sys::{Errno, process};

/// The node the memory server serves at.
pub fn memory_server_node() -> u32 {
    process::argument("memory-server")
        .and_then(|node| node.parse().ok())
        .unwrap_or_else(system_node)
}

fn memory_errno(error: MemoryCallError) -> Errno {
    match error {
        MemoryCallError::Refused(error) => error.errno(),
        MemoryCallError::Call(CallError::Mailbox(errno)) => errno,
        MemoryCallError::Call(CallError::Rpc(_)) => Errno::InputOutput,
    }
}

/// Runs `call` on a client of the memory server.
fn with_memory<T>(
    call: impl FnOnce(&mut MemoryClient) -> Result<T, MemoryCallError>,
) -> Result<T, Errno> {
    let mut client = MemoryClient::connect(memory_server_node())?;
    let result = call(&mut client).map_err(memory_errno);
    let _ = client.close();
    result
}

/// An open shared memory segment.
#[derive(Debug)]
pub struct Shm {
    name: String,
    writable: bool,
}

impl Shm {
    /// Makes segment `name` (`/NAME`), empty, the caller's, with permission bits
    /// `mode`, and opens it for reading and writing (`shm_open` with `O_CREAT |
    /// O_EXCL | O_RDWR`).
    pub fn create(name: &str, mode: u16) -> Result<Shm, Errno> {
        with_memory(|memory| memory.create(name, mode))?;
        Shm::open(name, true)
    }

    /// Opens segment `name` for reading, and with `writable` for writing.
    pub fn open(name: &str, writable: bool) -> Result<Shm, Errno> {
        with_memory(|memory| memory.open(name, writable))?;
        Ok(Shm {
            name: name.to_string(),
            writable,
        })
    }

    /// Its size now.
    pub fn len(&self) -> Result<u64, Errno> {
        with_memory(|memory| memory.open(&self.name, false)).map(|stat| stat.size)
    }

    /// Whether it holds no bytes now.
    pub fn is_empty(&self) -> Result<bool, Errno> {
        self.len().map(|size| size == 0)
    }

    /// Sets its size (`ftruncate`): new bytes are zeros.
    pub fn set_len(&self, size: u64) -> Result<(), Errno> {
        with_memory(|memory| memory.resize(&self.name, size))
    }

    /// Maps it whole (`mmap`): a copy of its bytes now, in the program's memory
    /// (`ENOMEM` if the heap cannot hold it).
    pub fn map(&self) -> Result<Mapping, Errno> {
        let size = usize::try_from(self.len()?).map_err(|_| Errno::NoMemory)?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(size).map_err(|_| Errno::NoMemory)?;
        bytes.resize(size, 0);
        let mut done = 0;
        while done < size {
            let piece = (size - done).min(TRANSFER_MAX);
            let count = with_memory(|memory| {
                memory.read(&self.name, done as u64, &mut bytes[done..done + piece])
            })?;
            if count == 0 {
                // It shrank meanwhile: the rest reads zeros.
                break;
            }
            done += count;
        }
        Ok(Mapping {
            name: self.name.clone(),
            writable: self.writable,
            bytes,
        })
    }
}

/// A segment mapped into the program's memory: a copy, written back at
/// [`sync`](Self::sync) and when dropped.
#[derive(Debug)]
pub struct Mapping {
    name: String,
    writable: bool,
    bytes: Vec<u8>,
}

impl Mapping {
    /// Writes the mapping back to the segment (`msync`); for a read-only mapping,
    /// nothing.
    pub fn sync(&self) -> Result<(), Errno> {
        if !self.writable {
            return Ok(());
        }
        let mut done = 0;
        while done < self.bytes.len() {
            let piece = (self.bytes.len() - done).min(TRANSFER_MAX);
            with_memory(|memory| {
                memory.write(&self.name, done as u64, &self.bytes[done..done + piece])
            })?;
            done += piece;
        }
        Ok(())
    }

    /// Writes it back and lets it go (`munmap`), saying whether the write-back
    /// worked (dropping it does the same, silently).
    pub fn unmap(mut self) -> Result<(), Errno> {
        let synced = self.sync();
        self.writable = false;
        synced
    }
}

impl core::ops::Deref for Mapping {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl core::ops::DerefMut for Mapping {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        let _ = self.sync();
    }
}

/// Removes segment `name` (its owner or root); mappings of it stay, their
/// write-backs refused.
pub fn shm_unlink(name: &str) -> Result<(), Errno> {
    with_memory(|memory| memory.unlink(name))
}
