//! Control-NoC messages between programs: up to 128 bytes, true source attached.

use crate::runtime::kcall;
use alloc::boxed::Box;
use core::marker::PhantomData;
use nanvix_abi::{CommCounters, Errno, Kcall, MessageHeader};

pub use nanvix_abi::NOC_PAYLOAD_MAX;

/// Sends `payload` to program `program` on NoC node `node`. Blocks while the channel
/// is full.
pub fn send(node: u32, program: u32, payload: &[u8]) -> Result<(), Errno> {
    kcall(
        Kcall::NocSend,
        [
            node as usize,
            program as usize,
            payload.as_ptr() as usize,
            payload.len(),
            0,
        ],
    )
    .map(|_| ())
}

/// Receives the next message for this program into `buffer`, blocking until one
/// arrives. Returns its header (with the hardware-stamped source) and length.
pub fn receive(buffer: &mut [u8]) -> Result<(MessageHeader, usize), Errno> {
    let mut header = MessageHeader::default();
    let length = kcall(
        Kcall::NocReceive,
        [
            &raw mut header as usize,
            buffer.as_mut_ptr() as usize,
            buffer.len(),
            0,
            0,
        ],
    )?;
    Ok((header, length))
}

/// The counters of this program's communication object `id` of `kind`
/// (`COMM_MAILBOX`, `COMM_PORTAL` or `COMM_SYNC`): the `comm_counters` kcall.
pub fn counters(kind: usize, id: usize) -> Result<CommCounters, Errno> {
    let mut counters = CommCounters::default();
    kcall(
        Kcall::CommCounters,
        [
            kind,
            id,
            &raw mut counters as usize,
            core::mem::size_of::<CommCounters>(),
            0,
        ],
    )?;
    Ok(counters)
}

/// A read or write started on a mailbox or portal, until its wait: the object's
/// id and the kcall that waits for it (`mailbox_wait` or `portal_wait`). Dropping
/// one not waited for waits, so the kernel never writes to memory given back.
#[derive(Debug)]
pub(crate) struct Pending {
    id: usize,
    wait: Kcall,
    done: bool,
}

impl Pending {
    pub(crate) fn new(id: usize, wait: Kcall) -> Pending {
        Pending {
            id,
            wait,
            done: false,
        }
    }

    /// Waits until the started operation ended; returns how.
    pub(crate) fn wait(&mut self) -> Result<usize, Errno> {
        self.done = true;
        kcall(self.wait, [self.id, 0, 0, 0, 0])
    }

    /// Waits for the started operation unless it was collected already.
    pub(crate) fn finish(&mut self) {
        if !self.done {
            let _ = self.wait();
        }
    }

    /// How the started operation ended, without waiting: `None` while it goes on.
    /// Only portals' transfers can be polled (`EINVAL` for a mailbox's, or once
    /// it was collected).
    pub(crate) fn poll(&mut self) -> Option<Result<usize, Errno>> {
        if self.done || self.wait != Kcall::PortalWait {
            return Some(Err(Errno::Invalid));
        }
        match kcall(self.wait, [self.id, nanvix_abi::PORTAL_WAIT_POLL, 0, 0, 0]) {
            Err(Errno::Again) => None,
            ended => {
                self.done = true;
                Some(ended)
            }
        }
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.wait();
        }
    }
}

/// A read started with `Inbox::read_start` or `Inportal::read_start`: the kernel
/// writes into its buffer (and header) until [`wait`](Self::wait) returns;
/// dropping it waits too.
#[derive(Debug)]
pub struct StartedRead<'a> {
    // Declared first, so that a drop waits before the header is freed.
    pending: Pending,
    header: Box<MessageHeader>,
    _buffer: PhantomData<&'a mut [u8]>,
}

impl StartedRead<'_> {
    /// Starts a read with `start`, given the header's address, and records it for
    /// the wait kcall `wait`.
    pub(crate) fn start<'a>(
        id: usize,
        wait: Kcall,
        start: impl FnOnce(usize) -> Result<usize, Errno>,
    ) -> Result<StartedRead<'a>, Errno> {
        let mut header = Box::new(MessageHeader::default());
        start(&raw mut *header as usize)?;
        Ok(StartedRead {
            pending: Pending::new(id, wait),
            header,
            _buffer: PhantomData,
        })
    }

    /// Waits until the read ended; returns the header (the stamped source) and the
    /// length of what arrived.
    pub fn wait(mut self) -> Result<(MessageHeader, usize), Errno> {
        let length = self.pending.wait()?;
        Ok((*self.header, length))
    }

    /// A portal's started read, without waiting: `None` while the transfer goes
    /// on; else how it ended, as [`wait`](Self::wait) says (once: a later poll is
    /// `EINVAL`). A mailbox's started read cannot be polled (`EINVAL`).
    pub fn poll(&mut self) -> Option<Result<(MessageHeader, usize), Errno>> {
        self.pending
            .poll()
            .map(|ended| ended.map(|length| (*self.header, length)))
    }
}
