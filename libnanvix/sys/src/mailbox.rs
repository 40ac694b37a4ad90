//! Mailboxes: messages of up to 128 bytes from any cluster to a port of a node.
//!
//! The receiver creates an [`Inbox`] on a port of its own node; senders open an
//! [`Outbox`] to (node, port). Each message arrives once, in the order its sender
//! sent it, with the source the hardware stamped; a full mailbox holds its writers
//! back instead of dropping anything.

use crate::noc::Pending;
use crate::runtime::kcall;
use core::marker::PhantomData;
use nanvix_abi::{
    COMM_MAILBOX, CommCounters, Errno, Kcall, MAILBOX_ANY_SOURCE, MAILBOX_NONBLOCK, MessageHeader,
    mailbox_peer_source,
};

pub use crate::noc::StartedRead;
pub use nanvix_abi::{MAILBOX_PORTS, MAILBOXES_MAX, NOC_PAYLOAD_MAX};

/// A mailbox this program created: it reads what arrives at its port.
#[derive(Debug, PartialEq, Eq)]
pub struct Inbox {
    id: usize,
}

impl Inbox {
    /// Creates the mailbox of `port` on this program's node.
    pub fn create(port: u32) -> Result<Inbox, Errno> {
        let id = kcall(Kcall::MailboxCreate, [port as usize, 0, 0, 0, 0])?;
        Ok(Inbox { id })
    }

    /// The kernel's id of this mailbox.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Receives the oldest message into `buffer`, blocking until one arrives.
    /// Returns its header (the stamped source) and length.
    pub fn read(&self, buffer: &mut [u8]) -> Result<(MessageHeader, usize), Errno> {
        read(self.id, MAILBOX_ANY_SOURCE, buffer)
    }

    /// Receives the oldest message sent from NoC node `node`, blocking until one
    /// arrives; messages of other senders stay queued, in order.
    pub fn read_from(&self, node: u32, buffer: &mut [u8]) -> Result<(MessageHeader, usize), Errno> {
        read(self.id, node as usize, buffer)
    }

    /// Receives the oldest message from the node `outbox` writes to, blocking until
    /// one arrives, like [`read_from`](Self::read_from); but once the mailbox
    /// `outbox` writes to was closed after `outbox`'s last write (its program ended,
    /// or it was unlinked), it fails with `ECONNRESET`: the answer an RPC caller
    /// waits for will not come.
    pub fn read_from_peer(
        &self,
        outbox: &Outbox,
        buffer: &mut [u8],
    ) -> Result<(MessageHeader, usize), Errno> {
        read(self.id, mailbox_peer_source(outbox.id), buffer)
    }

    /// Starts a read into `buffer` and returns at once; the kernel fills `buffer`
    /// when the message comes, and [`StartedRead::wait`] says how it ended.
    pub fn read_start<'a>(&'a self, buffer: &'a mut [u8]) -> Result<StartedRead<'a>, Errno> {
        start_read(self.id, MAILBOX_ANY_SOURCE, buffer)
    }

    /// [`read_start`](Self::read_start), restricted to messages from `node`.
    pub fn read_from_start<'a>(
        &'a self,
        node: u32,
        buffer: &'a mut [u8],
    ) -> Result<StartedRead<'a>, Errno> {
        start_read(self.id, node as usize, buffer)
    }

    /// Its counters: reads, bytes, cycles waited, messages queued now.
    pub fn counters(&self) -> Result<CommCounters, Errno> {
        crate::noc::counters(COMM_MAILBOX, self.id)
    }

    /// Removes the mailbox and frees its port (refused, `EBUSY`, while messages
    /// wait in it: it stays).
    pub fn unlink(self) -> Result<(), Errno> {
        unlink(self.id)
    }
}

/// A mailbox this program opened: it writes to a (node, port).
#[derive(Debug, PartialEq, Eq)]
pub struct Outbox {
    id: usize,
}

impl Outbox {
    /// Opens the mailbox of `port` on NoC node `node` (which need not exist yet).
    pub fn open(node: u32, port: u32) -> Result<Outbox, Errno> {
        let id = kcall(Kcall::MailboxOpen, [node as usize, port as usize, 0, 0, 0])?;
        Ok(Outbox { id })
    }

    /// The kernel's id of this mailbox.
    pub fn id(&self) -> usize {
        self.id
    }

    /// Sends `message` (1 to 128 bytes), blocking while the mailbox is full.
    pub fn write(&self, message: &[u8]) -> Result<(), Errno> {
        write(self.id, message)
    }

    /// Sends `message` if there is room now; else `EAGAIN`, and nothing is sent.
    pub fn try_write(&self, message: &[u8]) -> Result<(), Errno> {
        write_with(self.id, message, MAILBOX_NONBLOCK)
    }

    /// Starts a write of `message` (1 to 128 bytes) and returns at once: the
    /// kernel keeps a copy and sends it now if there is room, else at the latest
    /// in [`StartedWrite::wait`].
    pub fn write_start(&self, message: &[u8]) -> Result<StartedWrite<'_>, Errno> {
        kcall(
            Kcall::MailboxAwrite,
            [self.id, message.as_ptr() as usize, message.len(), 0, 0],
        )?;
        Ok(StartedWrite {
            pending: Pending::new(self.id, Kcall::MailboxWait),
            _outbox: PhantomData,
        })
    }

    /// Its counters: writes, bytes, cycles waited for room.
    pub fn counters(&self) -> Result<CommCounters, Errno> {
        crate::noc::counters(COMM_MAILBOX, self.id)
    }

    /// Closes the mailbox; what was written before is still delivered.
    pub fn close(self) -> Result<(), Errno> {
        close(self.id)
    }
}

/// `mailbox_read` on a raw id (tests of the kcall's checks use it).
pub fn read(id: usize, source: usize, buffer: &mut [u8]) -> Result<(MessageHeader, usize), Errno> {
    let mut header = MessageHeader::default();
    let length = kcall(
        Kcall::MailboxRead,
        [
            id,
            source,
            &raw mut header as usize,
            buffer.as_mut_ptr() as usize,
            buffer.len(),
        ],
    )?;
    Ok((header, length))
}

/// `mailbox_write` on a raw id (blocking).
pub fn write(id: usize, message: &[u8]) -> Result<(), Errno> {
    write_with(id, message, 0)
}

/// `mailbox_write` on a raw id with raw flags.
pub fn write_with(id: usize, message: &[u8], flags: usize) -> Result<(), Errno> {
    kcall(
        Kcall::MailboxWrite,
        [id, message.as_ptr() as usize, message.len(), flags, 0],
    )
    .map(|_| ())
}

/// `mailbox_close` on a raw id.
pub fn close(id: usize) -> Result<(), Errno> {
    kcall(Kcall::MailboxClose, [id, 0, 0, 0, 0]).map(|_| ())
}

/// `mailbox_unlink` on a raw id.
pub fn unlink(id: usize) -> Result<(), Errno> {
    kcall(Kcall::MailboxUnlink, [id, 0, 0, 0, 0]).map(|_| ())
}

/// A write started with [`Outbox::write_start`]; dropping it waits too.
#[derive(Debug)]
pub struct StartedWrite<'a> {
    pending: Pending,
    _outbox: PhantomData<&'a Outbox>,
}

impl StartedWrite<'_> {
    /// Waits until the message was sent (it is then on its way, as after
    /// [`Outbox::write`]).
    pub fn wait(mut self) -> Result<(), Errno> {
        self.pending.wait().map(|_| ())
    }
}

/// Starts a read of mailbox `id` from `source` into `buffer`.
fn start_read(id: usize, source: usize, buffer: &mut [u8]) -> Result<StartedRead<'_>, Errno> {
    StartedRead::start(id, Kcall::MailboxWait, |header| {
        kcall(
            Kcall::MailboxAread,
            [
                id,
                source,
                header,
                buffer.as_mut_ptr() as usize,
                buffer.len(),
            ],
        )
    })
}

/// `mailbox_wait` on a raw id: how the started read or write ended.
pub fn wait(id: usize) -> Result<usize, Errno> {
    kcall(Kcall::MailboxWait, [id, 0, 0, 0, 0])
}
