//! Portals: bulk transfers (up to 16 MiB each) that the receiver allows one at a
//! time, naming the sender's node and bounding the size.
//!
//! The receiver creates an [`Inportal`] on a port of its node, allows a sender
//! (`allow`), then reads the transfer; the sender opens an [`Outportal`] to
//! (node, port) and writes, which waits for the allow (or, non-blocking, is
//! refused with `EACCES` and writes nothing).

use crate::noc::Pending;
use crate::runtime::kcall;
use core::marker::PhantomData;
use nanvix_abi::{COMM_PORTAL, CommCounters, Errno, Kcall, MessageHeader, PORTAL_NONBLOCK};

pub use crate::noc::StartedRead;
pub use nanvix_abi::{PORTAL_PORTS, PORTAL_TRANSFER_MAX, PORTALS_MAX};

/// A portal this program created: it allows senders and reads their transfers.
#[derive(Debug, PartialEq, Eq)]
pub struct Inportal {
    id: usize,
}

impl Inportal {
    /// Creates the portal of `port` on this program's node.
    pub fn create(port: u32) -> Result<Inportal, Errno> {
        let id = kcall(Kcall::PortalCreate, [port as usize, 0, 0, 0, 0])?;
        Ok(Inportal { id })
    }

    /// The kernel's id of this portal.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Allows node `node` one transfer of at most `size` bytes.
    pub fn allow(&self, node: u32, size: usize) -> Result<(), Errno> {
        kcall(Kcall::PortalAllow, [self.id, node as usize, size, 0, 0]).map(|_| ())
    }

    /// Receives the allowed transfer into `buffer`, blocking until it is complete.
    /// Returns its header (the stamped source) and length.
    pub fn read(&self, buffer: &mut [u8]) -> Result<(MessageHeader, usize), Errno> {
        let mut header = MessageHeader::default();
        let length = kcall(
            Kcall::PortalRead,
            [
                self.id,
                &raw mut header as usize,
                buffer.as_mut_ptr() as usize,
                buffer.len(),
                0,
            ],
        )?;
        Ok((header, length))
    }

    /// Starts reading the allowed transfer into `buffer` and returns at once;
    /// the kernel fills `buffer` in the background, and [`StartedRead::wait`]
    /// says how the transfer ended.
    pub fn read_start<'a>(&'a self, buffer: &'a mut [u8]) -> Result<StartedRead<'a>, Errno> {
        StartedRead::start(self.id, Kcall::PortalWait, |header| {
            kcall(
                Kcall::PortalAread,
                [
                    self.id,
                    header,
                    buffer.as_mut_ptr() as usize,
                    buffer.len(),
                    0,
                ],
            )
        })
    }

    /// Its counters: transfers read, bytes, cycles waited.
    pub fn counters(&self) -> Result<CommCounters, Errno> {
        crate::noc::counters(COMM_PORTAL, self.id)
    }

    /// Removes the portal and frees its port (refused while an allow waits).
    pub fn unlink(self) -> Result<(), Errno> {
        kcall(Kcall::PortalUnlink, [self.id, 0, 0, 0, 0]).map(|_| ())
    }
}

/// A portal this program opened: it writes transfers to a (node, port).
#[derive(Debug, PartialEq, Eq)]
pub struct Outportal {
    id: usize,
}

impl Outportal {
    /// Opens the portal of `port` on node `node`.
    pub fn open(node: u32, port: u32) -> Result<Outportal, Errno> {
        let id = kcall(Kcall::PortalOpen, [node as usize, port as usize, 0, 0, 0])?;
        Ok(Outportal { id })
    }

    /// The kernel's id of this portal.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Writes `bytes` as one transfer, waiting for the receiver's allow.
    pub fn write(&self, bytes: &[u8]) -> Result<(), Errno> {
        write(self.id, bytes, 0)
    }

    /// Writes `bytes` as one transfer if the receiver allowed it already; else
    /// `EACCES`, and nothing is written.
    pub fn try_write(&self, bytes: &[u8]) -> Result<(), Errno> {
        write(self.id, bytes, PORTAL_NONBLOCK)
    }

    /// Starts a write of `bytes` and returns at once; the kernel sends the
    /// transfer in the background as soon as the receiver allows it, and `bytes`
    /// stays borrowed until [`StartedWrite::wait`] says it ended.
    pub fn write_start<'a>(&'a self, bytes: &'a [u8]) -> Result<StartedWrite<'a>, Errno> {
        kcall(
            Kcall::PortalAwrite,
            [self.id, bytes.as_ptr() as usize, bytes.len(), 0, 0],
        )?;
        Ok(StartedWrite {
            pending: Pending::new(self.id, Kcall::PortalWait),
            _bytes: PhantomData,
        })
    }

    /// Its counters: transfers written, bytes, cycles waited for allows.
    pub fn counters(&self) -> Result<CommCounters, Errno> {
        crate::noc::counters(COMM_PORTAL, self.id)
    }

    /// Closes the portal.
    pub fn close(self) -> Result<(), Errno> {
        kcall(Kcall::PortalClose, [self.id, 0, 0, 0, 0]).map(|_| ())
    }
}

/// `portal_write` on a raw id with raw flags.
pub fn write(id: usize, bytes: &[u8], flags: usize) -> Result<(), Errno> {
    kcall(
        Kcall::PortalWrite,
        [id, bytes.as_ptr() as usize, bytes.len(), flags, 0],
    )
    .map(|_| ())
}

/// A write started with [`Outportal::write_start`]; dropping it waits too.
#[derive(Debug)]
pub struct StartedWrite<'a> {
    pending: Pending,
    _bytes: PhantomData<&'a [u8]>,
}

impl StartedWrite<'_> {
    /// Sends the transfer (waiting for the allow and for room); returns its length.
    pub fn wait(mut self) -> Result<usize, Errno> {
        self.pending.wait()
    }

    /// How the transfer ended, without waiting: `None` while it goes on (once
    /// `Some`, a later poll is `EINVAL`).
    pub fn poll(&mut self) -> Option<Result<usize, Errno>> {
        self.pending.poll()
    }
}

/// `portal_wait` on a raw id: how the started read or write ended.
pub fn wait(id: usize) -> Result<usize, Errno> {
    kcall(Kcall::PortalWait, [id, 0, 0, 0, 0])
}

/// `portal_wait` on a raw id with raw flags.
pub fn wait_with(id: usize, flags: usize) -> Result<usize, Errno> {
    kcall(Kcall::PortalWait, [id, flags, 0, 0, 0])
}

/// A write started with bytes it owns, on an outportal of its own: the kernel
/// sends them in the background once the receiver allows; [`poll`](Self::poll)
/// says when it ended. Dropping one waits for its end (then closes its portal);
/// [`abandon`](Self::abandon) leaves one that may never end to the program's end.
#[derive(Debug)]
pub struct OwnedWrite {
    // Declared first: a drop waits before the bytes go.
    pending: Pending,
    portal: usize,
    bytes: alloc::vec::Vec<u8>,
}

impl OwnedWrite {
    /// Opens the portal of `port` on `node` and starts writing `bytes` to it.
    pub fn start(node: u32, port: u32, bytes: alloc::vec::Vec<u8>) -> Result<OwnedWrite, Errno> {
        OwnedWrite::start_on(Outportal::open(node, port)?, bytes)
    }

    /// Starts writing `bytes` to `portal`, opened already (closed once the write is
    /// dropped, or now if it cannot start).
    pub fn start_on(portal: Outportal, bytes: alloc::vec::Vec<u8>) -> Result<OwnedWrite, Errno> {
        let id = portal.id();
        if let Err(errno) = kcall(
            Kcall::PortalAwrite,
            [id, bytes.as_ptr() as usize, bytes.len(), 0, 0],
        ) {
            let _ = portal.close();
            return Err(errno);
        }
        Ok(OwnedWrite {
            pending: Pending::new(id, Kcall::PortalWait),
            portal: id,
            bytes,
        })
    }

    /// Its length.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it writes nothing.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// How the write ended, without waiting: `None` while it goes on.
    pub fn poll(&mut self) -> Option<Result<usize, Errno>> {
        self.pending.poll()
    }

    /// Leaves a write that may never end (its receiver never allows it) to the
    /// kernel until the program ends, without waiting: its bytes and portal stay
    /// taken until then.
    pub fn abandon(self) {
        core::mem::forget(self);
    }
}

impl Drop for OwnedWrite {
    fn drop(&mut self) {
        self.pending.finish();
        let _ = kcall(Kcall::PortalClose, [self.portal, 0, 0, 0, 0]);
    }
}

/// A read started into a buffer it owns, on a portal the caller created: allows
/// `node` a transfer of at most the buffer's length, and the kernel fills the
/// buffer in the background; [`poll`](Self::poll) says when it ended, then
/// [`into_bytes`](Self::into_bytes) gives what arrived. Dropping one waits.
#[derive(Debug)]
pub struct OwnedRead {
    pending: Pending,
    header: alloc::boxed::Box<MessageHeader>,
    buffer: alloc::vec::Vec<u8>,
    length: Option<usize>,
}

impl OwnedRead {
    /// Allows `node` one transfer of up to `capacity` bytes on the created portal
    /// `portal` and starts reading it. `ENOMEM` (and nothing allowed) when the heap
    /// has no room for `capacity` bytes.
    pub fn start(portal: &Inportal, node: u32, capacity: usize) -> Result<OwnedRead, Errno> {
        let mut buffer = alloc::vec::Vec::new();
        buffer
            .try_reserve_exact(capacity)
            .map_err(|_| Errno::NoMemory)?;
        buffer.resize(capacity, 0);
        portal.allow(node, capacity)?;
        let mut header = alloc::boxed::Box::new(MessageHeader::default());
        kcall(
            Kcall::PortalAread,
            [
                portal.id(),
                &raw mut *header as usize,
                buffer.as_mut_ptr() as usize,
                capacity,
                0,
            ],
        )?;
        Ok(OwnedRead {
            pending: Pending::new(portal.id(), Kcall::PortalWait),
            header,
            buffer,
            length: None,
        })
    }

    /// How the read ended, without waiting: `None` while it goes on; else the
    /// stamped source node and the length, or the error.
    pub fn poll(&mut self) -> Option<Result<(u32, usize), Errno>> {
        let ended = self.pending.poll()?;
        Some(ended.map(|length| {
            self.length = Some(length);
            (self.header.source_node, length)
        }))
    }

    /// What arrived (empty unless a poll said it ended well).
    pub fn into_bytes(mut self) -> alloc::vec::Vec<u8> {
        let length = self.length.unwrap_or(0);
        let mut bytes = core::mem::take(&mut self.buffer);
        bytes.truncate(length);
        bytes
    }

    /// Leaves a read that may never end to the program's end, without waiting.
    pub fn abandon(self) {
        core::mem::forget(self);
    }
}
