//! Mailboxes: 128-byte messages from any cluster to a port of a node, queued per
//! mailbox with a bound per sender, so backpressure reaches a flooding sender
//! without stopping the others.

use super::ids::{IdTable, Owned};
use super::{DirectReceive, Kernel, Message};
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use nanvix_abi::{
    CommCounters, Errno, KERNEL_PROGRAM, MAILBOX_ANY_SOURCE, MAILBOX_CLOSED_TAG, MAILBOX_NONBLOCK,
    MAILBOX_PORTS, MAILBOX_TAG, MAILBOXES_MAX, MessageHeader, NOC_PAYLOAD_MAX, mailbox_peer_of,
};
use nanvix_hal::{ControlNoc, CoreId, Cores, NocError, Platform, ReceiveDecision};

/// Messages one mailbox queues from one source node; more wait in their NoC channel.
pub const MAILBOX_SOURCE_CAPACITY: usize = 16;
/// Messages the cluster keeps for ports nobody created yet; more wait in their NoC
/// channels until a mailbox takes these.
pub const MAILBOX_EARLY_CAPACITY: usize = 64;

/// A created mailbox: where it listens and what waits in it.
struct Inbox {
    owner: usize,
    node: u32,
    port: u32,
    queue: VecDeque<Message>,
    /// The core of the thread reading it, while one does.
    reader: Option<CoreId>,
    /// Whether that reader is parked (and counted in the kernel's parked receivers).
    parked: bool,
    counters: CommCounters,
    /// A read started by `mailbox_aread`, until `mailbox_wait` collects it.
    started: Option<StartedRead>,
    /// The nodes whose messages reached it: when it closes, their clusters hear of
    /// it (their programs may wait for an answer from it).
    writers: Vec<u32>,
    /// The opened mailbox whose peer the parked reader waits on (a peer source),
    /// and that peer's node: a notice that the peer closed wakes it.
    watching: Option<Peer>,
}

/// A peer source's opened mailbox and the node it writes to.
type Peer = (usize, u32);

/// A created mailbox that closed (unlinked, or its program ended): where it was,
/// and the nodes whose messages had reached it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Closed {
    pub node: u32,
    pub port: u32,
    pub writers: Vec<u32>,
}

/// A read started by `mailbox_aread`: where its message goes, and how it ended.
#[derive(Clone, Copy, Debug)]
struct StartedRead {
    filter: Option<u32>,
    header: usize,
    buffer: usize,
    capacity: usize,
    /// When it started (cycles), for the counters.
    at: u64,
    outcome: Option<Result<usize, Errno>>,
}

/// A write started by `mailbox_awrite`.
#[derive(Clone, Debug)]
enum StartedWrite {
    /// Not sent yet: the channel was full. The master tries again on its passes.
    Waiting(Vec<u8>),
    /// A core is trying to send it now.
    Sending,
    /// Sent (or failed).
    Done(Result<usize, Errno>),
}

impl Inbox {
    /// Counts `source` among the nodes whose messages reached it.
    fn note_writer(&mut self, source: u32) {
        if !self.writers.contains(&source) {
            self.writers.push(source);
        }
    }

    /// What its closing leaves behind.
    fn closed(&self) -> Closed {
        Closed {
            node: self.node,
            port: self.port,
            writers: self.writers.clone(),
        }
    }

    fn queued_from(&self, node: u32) -> usize {
        self.queue
            .iter()
            .filter(|message| message.header.source_node == node)
            .count()
    }

    /// The position of the oldest message `filter` accepts.
    fn oldest(&self, filter: Option<u32>) -> Option<usize> {
        self.queue
            .iter()
            .position(|message| filter.is_none_or(|node| message.header.source_node == node))
    }
}

/// An entry of the mailbox table.
enum Entry {
    /// Created by its owner: it reads it.
    Inbox(Inbox),
    /// Opened by its owner: it writes to (node, port).
    Outbox {
        owner: usize,
        node: u32,
        port: u32,
        counters: CommCounters,
        started: Option<StartedWrite>,
        /// Whether the mailbox it writes to closed after its last write: a read
        /// waiting on this peer fails with `ECONNRESET`.
        peer_closed: bool,
    },
}

impl Owned for Entry {
    fn owner(&self) -> usize {
        match self {
            Entry::Inbox(inbox) => inbox.owner,
            Entry::Outbox { owner, .. } => *owner,
        }
    }
}

/// What a delivery asks of the kernel besides the decision: a parked reader to wake.
pub(super) struct Delivery {
    pub decision: ReceiveDecision,
    pub wake: Option<CoreId>,
}

/// What `mailbox_wait` found.
enum Collected {
    /// The started read or write ended so.
    Ended(Result<usize, Errno>),
    /// The started read waits for its message.
    Reading,
    /// The started write was not sent yet.
    Unsent,
    /// Another core is sending the started write right now.
    Sending,
}

/// How a mailbox read got its message.
enum Taken {
    /// Straight from the NoC into the reader's buffers: this many bytes.
    Direct(usize),
    /// From the mailbox's queue.
    Queued(Message),
}

/// The cluster's mailboxes, by id.
#[derive(Default)]
pub(super) struct MailboxTable {
    entries: IdTable<Entry>,
    /// Messages for (node, port)s without a mailbox yet, in arrival order.
    early: Vec<(u32, u32, Message)>,
}

impl MailboxTable {
    fn insert(&mut self, entry: Entry) -> Result<usize, Errno> {
        self.entries.insert(entry, MAILBOXES_MAX)
    }

    /// Creates `owner`'s mailbox of `port` on `node`; messages that came for it
    /// first move in, in order.
    pub fn create(&mut self, owner: usize, node: u32, port: usize) -> Result<usize, Errno> {
        let port = u32::try_from(port)
            .ok()
            .filter(|port| (*port as usize) < MAILBOX_PORTS)
            .ok_or(Errno::Invalid)?;
        if self.bound(node, port).is_some() {
            return Err(Errno::Busy);
        }
        let id = self.insert(Entry::Inbox(Inbox {
            owner,
            node,
            port,
            queue: VecDeque::new(),
            reader: None,
            parked: false,
            counters: CommCounters::default(),
            started: None,
            writers: Vec::new(),
            watching: None,
        }))?;
        if let Some(Some(Entry::Inbox(inbox))) = self.entries.get_mut(id) {
            for (to_node, to_port, message) in core::mem::take(&mut self.early) {
                if to_node == node && to_port == port {
                    inbox.note_writer(message.header.source_node);
                    inbox.queue.push_back(message);
                } else {
                    self.early.push((to_node, to_port, message));
                }
            }
        }
        Ok(id)
    }

    /// Opens (node, port) for `owner` to write to.
    pub fn open(&mut self, owner: usize, node: u32, port: usize) -> Result<usize, Errno> {
        let port = u32::try_from(port)
            .ok()
            .filter(|port| (*port as usize) < MAILBOX_PORTS)
            .ok_or(Errno::Invalid)?;
        self.insert(Entry::Outbox {
            owner,
            node,
            port,
            counters: CommCounters::default(),
            started: None,
            peer_closed: false,
        })
    }

    /// Where `owner`'s opened mailbox `id` leads.
    pub fn destination(&self, owner: usize, id: usize) -> Result<(u32, u32), Errno> {
        match self.entries.owned(owner, id)? {
            Entry::Outbox { node, port, .. } => Ok((*node, *port)),
            Entry::Inbox(_) => Err(Errno::BadDescriptor),
        }
    }

    /// Where `owner`'s opened mailbox `id` leads, counting a write of `bytes`
    /// (taken back with [`count_write`](Self::count_write) if it fails), and
    /// whether a started write of it has not gone out yet (it goes first).
    pub fn destination_for_write(
        &mut self,
        owner: usize,
        id: usize,
        bytes: usize,
    ) -> Result<(u32, u32, bool), Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Outbox {
                node,
                port,
                counters,
                started,
                peer_closed,
                ..
            } => {
                // This write is the last: answers to it may come.
                *peer_closed = false;
                counters.operations += 1;
                counters.bytes += bytes as u64;
                let unsent = matches!(
                    started,
                    Some(StartedWrite::Waiting(_) | StartedWrite::Sending)
                );
                Ok((*node, *port, unsent))
            }
            Entry::Inbox(_) => Err(Errno::BadDescriptor),
        }
    }

    /// Whether `owner`'s mailbox `id` has a started write not gone out yet.
    fn write_unsent(&self, owner: usize, id: usize) -> bool {
        matches!(
            self.entries.owned(owner, id),
            Ok(Entry::Outbox {
                started: Some(StartedWrite::Waiting(_) | StartedWrite::Sending),
                ..
            })
        )
    }

    /// Adds `wait_cycles` to the write counters of opened mailbox `id`, and takes
    /// back a write of `failed_bytes` that did not happen.
    pub fn count_write(
        &mut self,
        owner: usize,
        id: usize,
        wait_cycles: u64,
        failed_bytes: Option<usize>,
    ) {
        if let Ok(Entry::Outbox { counters, .. }) = self.entries.owned_mut(owner, id) {
            counters.wait_cycles += wait_cycles;
            if let Some(bytes) = failed_bytes {
                counters.operations -= 1;
                counters.bytes -= bytes as u64;
            }
        }
    }

    /// The counters of `owner`'s mailbox `id` (either end).
    pub fn counters(&self, owner: usize, id: usize) -> Result<CommCounters, Errno> {
        match self.entries.owned(owner, id)? {
            Entry::Inbox(inbox) => Ok(CommCounters {
                queued: inbox.queue.len() as u64,
                ..inbox.counters
            }),
            Entry::Outbox { counters, .. } => Ok(*counters),
        }
    }

    fn inbox(&mut self, owner: usize, id: usize) -> Result<&mut Inbox, Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Inbox(inbox) => Ok(inbox),
            Entry::Outbox { .. } => Err(Errno::BadDescriptor),
        }
    }

    /// Closes `owner`'s opened mailbox `id`.
    pub fn close(&mut self, owner: usize, id: usize) -> Result<(), Errno> {
        self.destination(owner, id)?;
        if matches!(
            self.entries[id],
            Some(Entry::Outbox {
                started: Some(StartedWrite::Waiting(_)),
                ..
            })
        ) {
            return Err(Errno::Busy);
        }
        self.entries[id] = None;
        Ok(())
    }

    /// Removes `owner`'s created mailbox `id`, unless messages wait in it or a
    /// thread reads it; returns what its closing leaves behind.
    pub fn unlink(&mut self, owner: usize, id: usize) -> Result<Closed, Errno> {
        let inbox = self.inbox(owner, id)?;
        if !inbox.queue.is_empty() || inbox.reader.is_some() || inbox.started.is_some() {
            return Err(Errno::Busy);
        }
        let closed = inbox.closed();
        self.entries[id] = None;
        Ok(closed)
    }

    /// The node `owner`'s opened mailbox `outbox` writes to (a peer source's
    /// filter); `EBADF` when it opened no mailbox with that id.
    pub fn peer_node(&self, owner: usize, outbox: usize) -> Result<u32, Errno> {
        self.destination(owner, outbox).map(|(node, _)| node)
    }

    /// Whether the mailbox `owner`'s opened mailbox `outbox` writes to closed after
    /// its last write.
    pub fn peer_closed(&self, owner: usize, outbox: usize) -> bool {
        matches!(
            self.entries.owned(owner, outbox),
            Ok(Entry::Outbox {
                peer_closed: true,
                ..
            })
        )
    }

    /// The mailbox (node, port) closed: marks every opened mailbox writing to it,
    /// and returns the parked readers waiting on one of them as their peer, unmarked
    /// (each looks again).
    pub fn peer_mailbox_closed(&mut self, node: u32, port: u32) -> Vec<CoreId> {
        let mut marked = Vec::new();
        for (id, entry) in self.entries.iter_mut().enumerate() {
            if let Some(Entry::Outbox {
                node: to_node,
                port: to_port,
                peer_closed,
                ..
            }) = entry
                && (*to_node, *to_port) == (node, port)
            {
                *peer_closed = true;
                marked.push(id);
            }
        }
        let mut woken = Vec::new();
        for entry in self.entries.iter_mut().flatten() {
            if let Entry::Inbox(inbox) = entry
                && let Some((outbox, _)) = inbox.watching
                && marked.contains(&outbox)
                && let Some(core) = inbox.reader
                && core::mem::replace(&mut inbox.parked, false)
            {
                woken.push(core);
            }
        }
        woken
    }

    /// Makes `core` the reader of `owner`'s mailbox `id`.
    /// Returns the mailbox's (node, port).
    pub fn begin_read(
        &mut self,
        owner: usize,
        id: usize,
        core: CoreId,
    ) -> Result<(u32, u32), Errno> {
        let inbox = self.inbox(owner, id)?;
        if inbox.reader.is_some() || inbox.started.is_some() {
            return Err(Errno::Busy);
        }
        inbox.reader = Some(core);
        Ok((inbox.node, inbox.port))
    }

    /// Takes the oldest message `filter` accepts from mailbox `id` when one is
    /// queued (as [`take`](Self::take)); otherwise makes `core` its reader and
    /// returns the mailbox's (node, port). One look under the lock for both.
    pub fn take_or_begin_read(
        &mut self,
        owner: usize,
        id: usize,
        filter: Option<u32>,
        capacity: usize,
        core: CoreId,
    ) -> Result<Result<Message, (u32, u32)>, Errno> {
        let inbox = self.inbox(owner, id)?;
        if inbox.reader.is_some() || inbox.started.is_some() {
            return Err(Errno::Busy);
        }
        if let Some(message) = self.take(owner, id, filter, capacity)? {
            let inbox = self.inbox(owner, id)?;
            inbox.counters.operations += 1;
            inbox.counters.bytes += message.payload.len() as u64;
            return Ok(Ok(message));
        }
        self.begin_read(owner, id, core).map(Err)
    }

    /// Ends the read of (node, port)'s mailbox that took a message of `bytes`
    /// straight from the NoC after `wait_cycles`, counting it.
    pub fn end_direct_read(
        &mut self,
        (node, port): (u32, u32),
        source: u32,
        bytes: usize,
        wait_cycles: u64,
    ) {
        if let Some(id) = self.bound(node, port)
            && let Some(Some(Entry::Inbox(inbox))) = self.entries.get_mut(id)
        {
            inbox.note_writer(source);
            inbox.reader = None;
            inbox.parked = false;
            inbox.counters.operations += 1;
            inbox.counters.bytes += bytes as u64;
            inbox.counters.wait_cycles += wait_cycles;
        }
    }

    /// Whether (node, port)'s mailbox exists and queues no message `filter`
    /// accepts (a new one may then skip the queue).
    pub fn nothing_before(&self, node: u32, port: u32, filter: Option<u32>) -> bool {
        self.bound(node, port).is_some_and(|id| {
            matches!(&self.entries[id], Some(Entry::Inbox(inbox)) if inbox.oldest(filter).is_none())
        })
    }

    /// Ends the read of mailbox `id` (if it still exists), counting what it moved:
    /// `Some((bytes, wait cycles))` when it took a message.
    pub fn end_read(&mut self, owner: usize, id: usize, moved: Option<(usize, u64)>) {
        if let Ok(inbox) = self.inbox(owner, id) {
            inbox.reader = None;
            inbox.parked = false;
            if let Some((bytes, wait_cycles)) = moved {
                inbox.counters.operations += 1;
                inbox.counters.bytes += bytes as u64;
                inbox.counters.wait_cycles += wait_cycles;
            }
        }
    }

    /// Takes the oldest message `filter` accepts from mailbox `id`, if one is there
    /// and fits `capacity` (one that does not stays queued: `EMSGSIZE`).
    pub fn take(
        &mut self,
        owner: usize,
        id: usize,
        filter: Option<u32>,
        capacity: usize,
    ) -> Result<Option<Message>, Errno> {
        let inbox = self.inbox(owner, id)?;
        let Some(position) = inbox.oldest(filter) else {
            return Ok(None);
        };
        if inbox.queue[position].payload.len() > capacity {
            return Err(Errno::MessageSize);
        }
        Ok(inbox.queue.remove(position))
    }

    /// Whether the started read of mailbox `id` ended (or is gone).
    fn started_read_ended(&mut self, owner: usize, id: usize) -> bool {
        !matches!(
            self.inbox(owner, id).map(|inbox| inbox.started),
            Ok(Some(StartedRead { outcome: None, .. }))
        )
    }

    /// Marks the reader of mailbox `id` parked, unless a message `filter` accepts
    /// is there already, or the peer it waits on (`watching`: an opened mailbox and
    /// its node) closed; returns whether it parked.
    pub fn park_reader(
        &mut self,
        owner: usize,
        id: usize,
        filter: Option<u32>,
        watching: Option<Peer>,
    ) -> bool {
        if watching.is_some_and(|(outbox, _)| self.peer_closed(owner, outbox)) {
            return false;
        }
        match self.inbox(owner, id) {
            Ok(inbox) if inbox.oldest(filter).is_none() => {
                inbox.parked = true;
                inbox.watching = watching;
                true
            }
            _ => false,
        }
    }

    /// Clears the parked mark of mailbox `id`'s reader; returns whether it was still
    /// set (nobody woke the reader: it must count itself out).
    pub fn unpark_reader(&mut self, owner: usize, id: usize) -> bool {
        match self.inbox(owner, id) {
            Ok(inbox) => core::mem::replace(&mut inbox.parked, false),
            Err(_) => false,
        }
    }

    fn bound(&self, node: u32, port: u32) -> Option<usize> {
        self.entries.iter().position(|entry| {
            matches!(entry, Some(Entry::Inbox(inbox)) if inbox.node == node && inbox.port == port)
        })
    }

    /// Drops the messages kept for ports no mailbox has yet (a warm cluster between
    /// two programs: the next one starts clean); how many.
    pub fn drop_early(&mut self) -> usize {
        let dropped = self.early.len();
        self.early.clear();
        dropped
    }

    /// Queues a message that arrived for (node, port): in its mailbox, or with the
    /// early ones when none exists yet. A full queue (for this sender) keeps it in
    /// its channel.
    pub fn deliver(
        &mut self,
        node: u32,
        port: u32,
        header: &MessageHeader,
        payload: &[u8],
    ) -> Delivery {
        let keep = Delivery {
            decision: ReceiveDecision::Keep,
            wake: None,
        };
        let message = || Message {
            header: *header,
            payload: payload.to_vec(),
        };
        let Some(id) = self.bound(node, port) else {
            if self.early.len() >= MAILBOX_EARLY_CAPACITY {
                return keep;
            }
            self.early.push((node, port, message()));
            return Delivery {
                decision: ReceiveDecision::Take,
                wake: None,
            };
        };
        let Some(Some(Entry::Inbox(inbox))) = self.entries.get_mut(id) else {
            return keep;
        };
        if inbox.queued_from(header.source_node) >= MAILBOX_SOURCE_CAPACITY {
            return keep;
        }
        inbox.queue.push_back(message());
        inbox.note_writer(header.source_node);
        let wake = if core::mem::replace(&mut inbox.parked, false) {
            inbox.reader
        } else {
            None
        };
        Delivery {
            decision: ReceiveDecision::Take,
            wake,
        }
    }

    /// Starts a read of `owner`'s mailbox `id`: takes a queued message `filter`
    /// accepts at once (returned, counted, the read done: its outcome is the
    /// caller's to write), or records the read for routing to complete. Returns
    /// the mailbox's (node, port) with the message.
    pub fn start_read(
        &mut self,
        owner: usize,
        id: usize,
        read: (Option<u32>, usize, usize, usize),
        at: u64,
    ) -> Result<Option<Message>, Errno> {
        let (filter, header, buffer, capacity) = read;
        let inbox = self.inbox(owner, id)?;
        if inbox.reader.is_some() || inbox.started.is_some() {
            return Err(Errno::Busy);
        }
        let taken = self.take(owner, id, filter, capacity)?;
        let inbox = self.inbox(owner, id)?;
        inbox.started = Some(StartedRead {
            filter,
            header,
            buffer,
            capacity,
            at,
            outcome: taken.as_ref().map(|message| Ok(message.payload.len())),
        });
        if let Some(message) = &taken {
            inbox.counters.operations += 1;
            inbox.counters.bytes += message.payload.len() as u64;
        }
        Ok(taken)
    }

    /// The started read of (node, port) a message from `source` completes: the
    /// owner and the read, when one waits and nothing it accepts is queued.
    fn started_read_for(&self, node: u32, port: u32, source: u32) -> Option<(usize, StartedRead)> {
        let id = self.bound(node, port)?;
        match &self.entries[id] {
            Some(Entry::Inbox(inbox)) => match inbox.started {
                Some(read)
                    if read.outcome.is_none()
                        && read.filter.is_none_or(|node| node == source)
                        && inbox.oldest(read.filter).is_none() =>
                {
                    Some((inbox.owner, read))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Ends the started read of (node, port) with `outcome` (and counts a
    /// message it took at cycle `now`); returns a parked waiter to wake.
    fn finish_started_read(
        &mut self,
        (node, port): (u32, u32),
        source: u32,
        outcome: Result<usize, Errno>,
        now: u64,
    ) -> Option<CoreId> {
        let id = self.bound(node, port)?;
        let Some(Entry::Inbox(inbox)) = &mut self.entries[id] else {
            return None;
        };
        if outcome.is_ok() {
            inbox.note_writer(source);
        }
        let read = inbox.started.as_mut()?;
        read.outcome = Some(outcome);
        if let Ok(bytes) = outcome {
            inbox.counters.operations += 1;
            inbox.counters.bytes += bytes as u64;
            inbox.counters.wait_cycles += now.wrapping_sub(read.at);
        }
        if core::mem::replace(&mut inbox.parked, false) {
            inbox.reader
        } else {
            None
        }
    }

    /// Collects what was started on `owner`'s mailbox `id`, if it ended: a read's
    /// outcome, or a write's (a waiting write is returned for sending).
    fn collect(&mut self, owner: usize, id: usize) -> Result<Collected, Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Inbox(inbox) => match inbox.started {
                None => Err(Errno::Invalid),
                Some(StartedRead {
                    outcome: Some(outcome),
                    ..
                }) => {
                    inbox.started = None;
                    Ok(Collected::Ended(outcome))
                }
                Some(_) => Ok(Collected::Reading),
            },
            Entry::Outbox { started, .. } => match started {
                None => Err(Errno::Invalid),
                Some(StartedWrite::Done(outcome)) => {
                    let outcome = *outcome;
                    *started = None;
                    Ok(Collected::Ended(outcome))
                }
                Some(StartedWrite::Waiting(_)) => Ok(Collected::Unsent),
                Some(StartedWrite::Sending) => Ok(Collected::Sending),
            },
        }
    }

    /// Records a started write of `owner`'s opened mailbox `id`.
    fn start_write(&mut self, owner: usize, id: usize, write: StartedWrite) -> Result<(), Errno> {
        match self.entries.owned_mut(owner, id)? {
            Entry::Outbox { started, .. } => {
                if started.is_some() {
                    return Err(Errno::Busy);
                }
                *started = Some(write);
                Ok(())
            }
            Entry::Inbox(_) => Err(Errno::BadDescriptor),
        }
    }

    /// Whether `owner`'s opened mailbox `id` has a started write not waited for.
    fn write_started(&self, owner: usize, id: usize) -> Result<bool, Errno> {
        match self.entries.owned(owner, id)? {
            Entry::Outbox { started, .. } => Ok(started.is_some()),
            Entry::Inbox(_) => Err(Errno::BadDescriptor),
        }
    }

    /// Makes `core` the waiter of mailbox `id`'s started read and marks it parked,
    /// unless the read ended already or another thread waits; returns whether it
    /// parked.
    fn park_started_reader(
        &mut self,
        owner: usize,
        id: usize,
        core: CoreId,
    ) -> Result<bool, Errno> {
        let inbox = self.inbox(owner, id)?;
        if inbox.reader.is_some_and(|reader| reader != core) {
            return Err(Errno::Busy);
        }
        match inbox.started {
            Some(StartedRead { outcome: None, .. }) => {
                inbox.reader = Some(core);
                inbox.parked = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Every parked reader, unmarked (a cluster died: a restricted read must look).
    pub fn parked_readers(&mut self) -> Vec<CoreId> {
        let mut woken = Vec::new();
        for entry in self.entries.iter_mut().flatten() {
            if let Entry::Inbox(inbox) = entry
                && let Some(core) = inbox.reader
                && core::mem::replace(&mut inbox.parked, false)
            {
                woken.push(core);
            }
        }
        woken
    }

    /// Removes every mailbox of ended program `owner`; returns how many messages
    /// waited in its inboxes (lost with it), how many started reads and unsent
    /// started writes were going (no longer), and the inboxes that closed.
    pub fn remove_owner(&mut self, owner: usize) -> (usize, usize, usize, Vec<Closed>) {
        let (mut lost, mut reads, mut writes) = (0, 0, 0);
        let mut closed = Vec::new();
        for entry in self.entries.remove_owner(owner) {
            match entry {
                Entry::Inbox(inbox) => {
                    closed.push(inbox.closed());
                    lost += inbox.queue.len();
                    reads += usize::from(matches!(
                        inbox.started,
                        Some(StartedRead { outcome: None, .. })
                    ));
                }
                Entry::Outbox { started, .. } => {
                    writes += usize::from(matches!(
                        started,
                        Some(StartedWrite::Waiting(_) | StartedWrite::Sending)
                    ));
                }
            }
        }
        (lost, reads, writes, closed)
    }

    /// Every started write not sent yet: (owner, id).
    pub fn waiting_writes(&self) -> Vec<(usize, usize)> {
        self.waiting_write_ids().collect()
    }

    /// Whether a started write has not been sent yet (no list built).
    pub fn any_waiting_write(&self) -> bool {
        self.waiting_write_ids().next().is_some()
    }

    fn waiting_write_ids(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(id, entry)| match entry {
                Some(Entry::Outbox {
                    owner,
                    started: Some(StartedWrite::Waiting(_)),
                    ..
                }) => Some((*owner, id)),
                _ => None,
            })
    }

    /// Takes the unsent started write of `owner`'s mailbox `id` for one try: its
    /// destination and payload (it is marked as being sent meanwhile).
    fn take_waiting_write(&mut self, owner: usize, id: usize) -> Option<(u32, u32, Vec<u8>)> {
        let Ok(Entry::Outbox {
            node,
            port,
            started,
            ..
        }) = self.entries.owned_mut(owner, id)
        else {
            return None;
        };
        match started.take() {
            Some(StartedWrite::Waiting(payload)) => {
                *started = Some(StartedWrite::Sending);
                Some((*node, *port, payload))
            }
            other => {
                *started = other;
                None
            }
        }
    }

    /// Ends a try of a started write: `outcome` once it went out (or failed), else
    /// it waits again with `payload`. Returns whether it ended here (`false` too
    /// when the mailbox is gone: its owner's end counted it).
    fn end_try(
        &mut self,
        owner: usize,
        id: usize,
        outcome: Option<Result<usize, Errno>>,
        payload: Vec<u8>,
    ) -> bool {
        let Ok(Entry::Outbox { started, .. }) = self.entries.owned_mut(owner, id) else {
            return false;
        };
        match outcome {
            Some(outcome) => {
                *started = Some(StartedWrite::Done(outcome));
                true
            }
            None => {
                *started = Some(StartedWrite::Waiting(payload));
                false
            }
        }
    }
}

impl<P: Platform> Kernel<P> {
    /// The mailbox of `port` on program `index`'s node.
    pub(super) fn mailbox_create(&self, index: usize, port: usize) -> Result<usize, Errno> {
        let node = self.info(index).node;
        self.mailboxes.lock().create(index, node, port)
    }

    /// Opens mailbox (node, port) for program `index`.
    pub(super) fn mailbox_open(
        &self,
        index: usize,
        node: usize,
        port: usize,
    ) -> Result<usize, Errno> {
        let (node, _) = self.check_destination(node, 0)?;
        self.mailboxes.lock().open(index, node, port)
    }

    /// Sends `length` bytes at `address` to opened mailbox `id`.
    pub(super) fn mailbox_write(
        &self,
        index: usize,
        id: usize,
        address: usize,
        length: usize,
        flags: usize,
    ) -> Result<usize, Errno> {
        if flags & !MAILBOX_NONBLOCK != 0 {
            return Err(Errno::Invalid);
        }
        let mut buffer = [0u8; NOC_PAYLOAD_MAX];
        let payload = self.copy_message(index, address, length, &mut buffer)?;
        let (node, port, unsent) = self
            .mailboxes
            .lock()
            .destination_for_write(index, id, length)?;
        let blocking = flags & MAILBOX_NONBLOCK == 0;
        if unsent {
            // A started write of this mailbox that has not gone out goes first:
            // the messages of one mailbox keep their order.
            while self.mailboxes.lock().write_unsent(index, id) {
                let tried = self.send_started_write(index, id, blocking);
                if !blocking && self.mailboxes.lock().write_unsent(index, id) {
                    self.mailboxes
                        .lock()
                        .count_write(index, id, 0, Some(length));
                    return Err(Errno::Again);
                }
                if !tried {
                    core::hint::spin_loop();
                }
            }
        }
        let (sent, waited) =
            self.send_tagged_with(index, node, MAILBOX_TAG + port, payload, blocking);
        if sent.is_err() || waited != 0 {
            let failed = sent.is_err().then_some(length);
            self.mailboxes.lock().count_write(index, id, waited, failed);
        }
        sent.map(|_| 0)
    }

    /// Receives the oldest message of mailbox `id` that `source` accepts.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mailbox_read(
        &self,
        index: usize,
        core: CoreId,
        id: usize,
        source: usize,
        header_address: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<usize, Errno> {
        let (filter, watching) = self.read_source(index, source)?;
        let (space, header, buffer) =
            self.receive_space(index, header_address, buffer, capacity)?;
        let queued = self.mailbox_queued.load(Ordering::Acquire);
        let taken = self
            .mailboxes
            .lock()
            .take_or_begin_read(index, id, filter, capacity, core)?;
        let (node, port) = match taken {
            Ok(message) => {
                self.room_freed();
                return space.write_message_into(
                    (&header, &buffer),
                    &message.header,
                    &message.payload,
                );
            }
            Err(place) => place,
        };
        let started = self.platform.cores().cycles();
        let mut direct = DirectReceive {
            index,
            mailbox: Some((node, port, filter)),
            at: started,
            space,
            header,
            buffer,
            delivered: None,
        };
        let result = self.mailbox_wait(index, core, (id, watching), &mut direct, queued);
        // A direct delivery ended the read (and counted it) where it was routed.
        if !matches!(result, Ok(Taken::Direct(_))) {
            let moved = result.as_ref().ok().map(|taken| {
                let bytes = match taken {
                    Taken::Direct(length) => *length,
                    Taken::Queued(message) => message.payload.len(),
                };
                (bytes, self.platform.cores().cycles().wrapping_sub(started))
            });
            self.mailboxes.lock().end_read(index, id, moved);
        }
        let length = match result? {
            Taken::Direct(length) => length,
            Taken::Queued(message) => {
                self.room_freed();
                direct.space.write_message_into(
                    (&direct.header, &direct.buffer),
                    &message.header,
                    &message.payload,
                )?
            }
        };
        Ok(length)
    }

    /// What a `mailbox_read`'s `source` restricts it to: the node (as
    /// [`source_filter`](Self::source_filter)), and for a peer source the opened
    /// mailbox it names and that mailbox's node (`EBADF` when program `index`
    /// opened none with that id).
    fn read_source(
        &self,
        index: usize,
        source: usize,
    ) -> Result<(Option<u32>, Option<Peer>), Errno> {
        if let Some(outbox) = mailbox_peer_of(source) {
            let node = self.mailboxes.lock().peer_node(index, outbox)?;
            return Ok((Some(node), Some((outbox, node))));
        }
        Ok((self.source_filter(source)?, None))
    }

    /// The node a read's `source` restricts it to: none for MAILBOX_ANY_SOURCE,
    /// else a node of the board (`EINVAL` otherwise).
    fn source_filter(&self, source: usize) -> Result<Option<u32>, Errno> {
        if source == MAILBOX_ANY_SOURCE {
            return Ok(None);
        }
        let (node, _) = self.check_destination(source, 0)?;
        Ok(Some(node))
    }

    /// Starts a read of mailbox `id` (`mailbox_aread`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mailbox_aread(
        &self,
        index: usize,
        id: usize,
        source: usize,
        header_address: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<usize, Errno> {
        let filter = self.source_filter(source)?;
        let (space, header_range, buffer_range) =
            self.receive_space(index, header_address, buffer, capacity)?;
        let at = self.platform.cores().cycles();
        let taken = self.mailboxes.lock().start_read(
            index,
            id,
            (filter, header_address, buffer, capacity),
            at,
        )?;
        if let Some(message) = taken {
            self.room_freed();
            let written = space.write_message_into(
                (&header_range, &buffer_range),
                &message.header,
                &message.payload,
            );
            if let Err(errno) = written {
                // Keep the error for the wait (the message is gone: the caller's
                // own memory refused it after the check).
                let mut mailboxes = self.mailboxes.lock();
                if let Ok(inbox) = mailboxes.inbox(index, id)
                    && let Some(read) = inbox.started.as_mut()
                {
                    read.outcome = Some(Err(errno));
                }
            }
        } else {
            // Routing completes it: the master watches the NoC while reads wait.
            self.started_reads.fetch_add(1, Ordering::SeqCst);
            self.platform.cores().unpark(0);
        }
        Ok(0)
    }

    /// Copies a message of `length` bytes (1 to 128: `EINVAL`, `EMSGSIZE`) at
    /// `address` of program `index` into `buffer`; returns the copy.
    fn copy_message<'b>(
        &self,
        index: usize,
        address: usize,
        length: usize,
        buffer: &'b mut [u8; NOC_PAYLOAD_MAX],
    ) -> Result<&'b [u8], Errno> {
        if length == 0 {
            return Err(Errno::Invalid);
        }
        if length > NOC_PAYLOAD_MAX {
            return Err(Errno::MessageSize);
        }
        let payload = &mut buffer[..length];
        self.space(index).read_into(address, payload)?;
        Ok(payload)
    }

    /// Starts a write to mailbox `id` (`mailbox_awrite`).
    pub(super) fn mailbox_awrite(
        &self,
        index: usize,
        id: usize,
        address: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        let mut buffer = [0u8; NOC_PAYLOAD_MAX];
        let payload = self.copy_message(index, address, length, &mut buffer)?;
        if self.mailboxes.lock().write_started(index, id)? {
            return Err(Errno::Busy);
        }
        let (node, port, _) = self
            .mailboxes
            .lock()
            .destination_for_write(index, id, length)?;
        let (sent, _) = self.send_tagged_with(index, node, MAILBOX_TAG + port, payload, false);
        let started = match sent {
            Ok(_) => StartedWrite::Done(Ok(0)),
            Err(Errno::Again) => StartedWrite::Waiting(payload.to_vec()),
            Err(errno) => {
                self.mailboxes
                    .lock()
                    .count_write(index, id, 0, Some(length));
                return Err(errno);
            }
        };
        let waiting = matches!(started, StartedWrite::Waiting(_));
        self.mailboxes.lock().start_write(index, id, started)?;
        if waiting {
            // The master tries again on its passes, as room comes.
            self.started_writes.fetch_add(1, Ordering::SeqCst);
            self.platform.cores().unpark(0);
        }
        Ok(0)
    }

    /// The master's pass over started writes not sent yet: one try each; returns
    /// whether one still waits for room (nobody rings the master for that).
    pub(super) fn progress_mailbox_writes(&self) -> bool {
        let writes = self.mailboxes.lock().waiting_writes();
        for (owner, id) in writes {
            self.send_started_write(owner, id, false);
        }
        self.mailboxes.lock().any_waiting_write()
    }

    /// One try at the started write of `owner`'s mailbox `id` that has not gone
    /// out (waiting for room when `blocking`); returns `false` when there was none
    /// to try (none, or another core is trying it).
    fn send_started_write(&self, owner: usize, id: usize, blocking: bool) -> bool {
        let Some((node, port, payload)) = self.mailboxes.lock().take_waiting_write(owner, id)
        else {
            return false;
        };
        let length = payload.len();
        let (sent, waited) =
            self.send_tagged_with(owner, node, MAILBOX_TAG + port, &payload, blocking);
        let outcome = match sent {
            Err(Errno::Again) => None,
            other => Some(other.map(|_| 0)),
        };
        let failed = matches!(outcome, Some(Err(_))).then_some(length);
        let mut mailboxes = self.mailboxes.lock();
        if mailboxes.end_try(owner, id, outcome, payload) {
            self.write_progress.fetch_add(1, Ordering::Relaxed);
            self.started_writes.fetch_sub(1, Ordering::SeqCst);
            mailboxes.count_write(owner, id, waited, failed);
        }
        true
    }

    /// Waits until what was started on mailbox `id` ended (`mailbox_wait`).
    pub(super) fn mailbox_collect(
        &self,
        index: usize,
        core: CoreId,
        id: usize,
    ) -> Result<usize, Errno> {
        loop {
            let collected = self.mailboxes.lock().collect(index, id)?;
            match collected {
                Collected::Ended(outcome) => {
                    self.mailboxes.lock().end_read(index, id, None);
                    return outcome;
                }
                Collected::Sending => {
                    // The master is trying it: look again in a moment.
                    core::hint::spin_loop();
                    continue;
                }
                Collected::Unsent => {
                    // It goes out from here, waiting for room.
                    self.send_started_write(index, id, true);
                    continue;
                }
                Collected::Reading => {}
            }
            // Poll the NoC from here: routing completes the read.
            self.pollers.fetch_add(1, Ordering::SeqCst);
            for _ in 0..self.receive_spin_budget(core) {
                self.route(None);
                if self.mailboxes.lock().started_read_ended(index, id) {
                    break;
                }
                core::hint::spin_loop();
            }
            self.stop_polling();
            if self.mailboxes.lock().park_started_reader(index, id, core)? {
                self.park_receiver(core, || {
                    let mut mailboxes = self.mailboxes.lock();
                    let still_marked = mailboxes.unpark_reader(index, id);
                    if let Ok(inbox) = mailboxes.inbox(index, id) {
                        inbox.reader = None;
                    }
                    still_marked
                })?;
            }
        }
    }

    /// A message left a queue: if routing left messages in their channels for want
    /// of room, the master routes them now.
    fn room_freed(&self) {
        if self.backlogged.load(Ordering::Relaxed) && self.backlogged.swap(false, Ordering::SeqCst)
        {
            self.platform.cores().unpark(0);
        }
    }

    /// Waits until mailbox `id` holds a message `direct`'s filter accepts: takes
    /// a queued one, or polls the NoC from this core, where the reader's next
    /// message goes straight to its buffers; then parks until routing wakes it.
    /// With `watching` (a peer source: an opened mailbox and its node), it fails
    /// with `ECONNRESET` once that mailbox's peer closed and nothing is queued.
    fn mailbox_wait(
        &self,
        index: usize,
        core: CoreId,
        (id, watching): (usize, Option<Peer>),
        direct: &mut DirectReceive<'_, P::RawMutex>,
        mut queued: u64,
    ) -> Result<Taken, Errno> {
        let filter = direct.mailbox.and_then(|(_, _, filter)| filter);
        let capacity = direct.buffer.length();
        // The caller looked in the queue just before (`queued` was the count of
        // queued messages then); later rounds look again first.
        let mut first = true;
        loop {
            if !core::mem::replace(&mut first, false) {
                queued = self.mailbox_queued.load(Ordering::Acquire);
                if let Some(message) = self.mailboxes.lock().take(index, id, filter, capacity)? {
                    return Ok(Taken::Queued(message));
                }
            }
            let ended = match filter.map(|node| self.check_senders_alive(&[node])) {
                Some(Err(errno)) => Some(errno),
                _ => watching
                    .filter(|(outbox, _)| self.mailboxes.lock().peer_closed(index, *outbox))
                    .map(|_| Errno::ConnectionReset),
            };
            if let Some(errno) = ended {
                // What the sender sent before its end may have been queued since the
                // caller looked (the first round skips the look): it comes first.
                if let Some(message) = self.mailboxes.lock().take(index, id, filter, capacity)? {
                    return Ok(Taken::Queued(message));
                }
                return Err(errno);
            }
            self.pollers.fetch_add(1, Ordering::SeqCst);
            let mut found = None;
            for _ in 0..self.receive_spin_budget(core) {
                self.route(Some(direct));
                if let Some(length) = direct.delivered {
                    found = Some(Ok(Some(Taken::Direct(length))));
                    break;
                }
                let now = self.mailbox_queued.load(Ordering::Acquire);
                if now != queued {
                    queued = now;
                    match self.mailboxes.lock().take(index, id, filter, capacity) {
                        Ok(None) => {}
                        other => {
                            found = Some(other.map(|taken| taken.map(Taken::Queued)));
                            break;
                        }
                    }
                }
                core::hint::spin_loop();
            }
            self.stop_polling();
            if let Some(taken) = found
                && let Some(taken) = taken?
            {
                return Ok(taken);
            }
            if self
                .mailboxes
                .lock()
                .park_reader(index, id, filter, watching)
            {
                self.park_receiver(core, || self.mailboxes.lock().unpark_reader(index, id))?;
            }
        }
    }

    /// Closes program `index`'s opened mailbox `id`.
    pub(super) fn mailbox_close(&self, index: usize, id: usize) -> Result<usize, Errno> {
        self.mailboxes.lock().close(index, id).map(|()| 0)
    }

    /// Removes program `index`'s created mailbox `id`.
    /// Messages that reached the cluster count as waiting in it: before the check,
    /// this core routes, waits for the passes under way, and routes again (a
    /// message another pass had already passed by is taken by the second round).
    pub(super) fn mailbox_unlink(&self, index: usize, id: usize) -> Result<usize, Errno> {
        for _ in 0..2 {
            self.route(None);
            // Passes under way on other cores deliver all they took first.
            self.platform.noc().wait_for_receivers();
        }
        let closed = self.mailboxes.lock().unlink(index, id)?;
        self.announce_closed(alloc::vec![closed]);
        Ok(0)
    }

    /// Mailboxes of this cluster closed: every cluster whose messages reached one of
    /// them gets a notice (at most one per cluster and mailbox; sent by the master
    /// later when its channel is full), this one too. The notice travels the
    /// channel the mailbox's program sent its answers on, behind them: a reader
    /// takes an answer sent before the close, then fails.
    pub(super) fn announce_closed(&self, closed: Vec<Closed>) {
        for mailbox in closed {
            let mut told = Vec::new();
            for writer in mailbox.writers {
                let Some(cluster) = self.board.cluster_of_node(writer) else {
                    continue;
                };
                let cluster = cluster.index as usize;
                if told.contains(&cluster) {
                    continue;
                }
                told.push(cluster);
                if !self.send_closed_notice(writer, mailbox.node, mailbox.port) {
                    self.closed_notices
                        .lock()
                        .push((writer, mailbox.node, mailbox.port));
                    self.started_writes.fetch_add(1, Ordering::SeqCst);
                    self.platform.cores().unpark(0);
                }
            }
        }
    }

    /// Tells node `to`'s cluster that mailbox (node, port) of this cluster closed;
    /// returns `false` when the channel is full (nothing sent). A dead or unknown
    /// destination counts as told: nothing there waits.
    fn send_closed_notice(&self, to: u32, node: u32, port: u32) -> bool {
        let payload = super::two_words(node, port);
        let source = self.kernel_source(node);
        self.platform
            .noc()
            .try_send(source, to, MAILBOX_CLOSED_TAG, &payload)
            != Err(NocError::Full)
    }

    /// The master's pass over closed-mailbox notices that found their channel full:
    /// one try each; returns whether one still waits for room.
    pub(super) fn progress_closed_notices(&self) -> bool {
        let pending = core::mem::take(&mut *self.closed_notices.lock());
        if pending.is_empty() {
            return false;
        }
        let mut kept = Vec::new();
        for (to, node, port) in pending {
            if self.send_closed_notice(to, node, port) {
                self.started_writes.fetch_sub(1, Ordering::SeqCst);
                self.write_progress.fetch_add(1, Ordering::Relaxed);
            } else {
                kept.push((to, node, port));
            }
        }
        let waiting = !kept.is_empty();
        self.closed_notices.lock().extend(kept);
        waiting
    }

    /// Marks this cluster's opened mailboxes to (node, port) as closed at their peer
    /// and wakes the readers parked on them.
    fn peer_mailbox_closed(&self, node: u32, port: u32) {
        let woken = self.mailboxes.lock().peer_mailbox_closed(node, port);
        for core in woken {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
    }

    /// Routes a notice that mailbox (node, port) of the sending cluster closed. Only
    /// a kernel sends one (`KERNEL_PROGRAM`, a tag no program may use), and only for
    /// a node of its own cluster; anything else is counted undeliverable.
    pub(super) fn route_mailbox_closed(
        &self,
        header: &MessageHeader,
        payload: &[u8],
    ) -> ReceiveDecision {
        let words = super::read_two_words(payload);
        let sender = self.board.cluster_of_node(header.source_node);
        match words {
            Some((node, port))
                if header.source_program == KERNEL_PROGRAM
                    && sender.is_some_and(|cluster| cluster.owns_node(node)) =>
            {
                self.peer_mailbox_closed(node, port);
            }
            _ => {
                self.undeliverable.fetch_add(1, Ordering::Relaxed);
            }
        }
        ReceiveDecision::Take
    }

    /// Wakes every parked mailbox reader (a cluster died: each looks again).
    pub(super) fn wake_mailbox_readers(&self) {
        let woken = self.mailboxes.lock().parked_readers();
        for core in woken {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
    }

    /// Routes one mailbox message (destination tag `tag`) that arrived for `node`:
    /// straight to the buffers of `direct` when it reads that mailbox, accepts the
    /// source and nothing it accepts is queued before; else into the table.
    pub(super) fn route_to_mailbox(
        &self,
        node: u32,
        tag: u32,
        header: &MessageHeader,
        payload: &[u8],
        direct: Option<&mut DirectReceive<'_, P::RawMutex>>,
    ) -> ReceiveDecision {
        let port = tag - MAILBOX_TAG;
        if port as usize >= MAILBOX_PORTS {
            self.undeliverable.fetch_add(1, Ordering::Relaxed);
            return ReceiveDecision::Take;
        }
        let mut mailboxes = self.mailboxes.lock();
        if let Some((owner, read)) = mailboxes.started_read_for(node, port, header.source_node) {
            let space = self.space(owner);
            let written = if payload.len() > read.capacity {
                Err(Errno::MessageSize)
            } else {
                space
                    .write_value(read.header, header)
                    .and_then(|()| space.write(read.buffer, payload))
                    .map(|()| payload.len())
            };
            let now = self.platform.cores().cycles();
            let wake =
                mailboxes.finish_started_read((node, port), header.source_node, written, now);
            self.started_reads.fetch_sub(1, Ordering::SeqCst);
            if let Some(core) = wake {
                self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
                self.platform.cores().unpark(core);
            }
            if written.is_ok() {
                return ReceiveDecision::Take;
            }
            // It did not fit, or its buffers are gone: the message stays queued.
        }
        if let Some(direct) = direct
            && let Some((to_node, to_port, filter)) = direct.mailbox
            && (to_node, to_port) == (node, port)
            && direct.delivered.is_none()
            && filter.is_none_or(|source| source == header.source_node)
            && mailboxes.nothing_before(node, port, filter)
            && direct.deliver(header, payload)
        {
            let waited = self.platform.cores().cycles().wrapping_sub(direct.at);
            mailboxes.end_direct_read((node, port), header.source_node, payload.len(), waited);
            return ReceiveDecision::Take;
        }
        let delivery = mailboxes.deliver(node, port, header, payload);
        drop(mailboxes);
        if delivery.decision == ReceiveDecision::Keep {
            self.backlogged.store(true, Ordering::SeqCst);
        } else {
            self.mailbox_queued.fetch_add(1, Ordering::Release);
        }
        if let Some(core) = delivery.wake {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            self.platform.cores().unpark(core);
        }
        delivery.decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(source_node: u32) -> MessageHeader {
        MessageHeader {
            source_node,
            source_program: 0,
            source_epoch: 1,
            source_run: 1,
            length: 1,
        }
    }

    #[test]
    fn ports_are_checked_and_bound_once() {
        let mut table = MailboxTable::default();
        assert_eq!(table.create(0, 4, MAILBOX_PORTS), Err(Errno::Invalid));
        let id = table.create(0, 4, 3).unwrap();
        assert_eq!(table.create(1, 4, 3), Err(Errno::Busy));
        assert!(
            table.create(1, 5, 3).is_ok(),
            "another node's port 3 is free"
        );
        assert_eq!(
            table.unlink(1, id),
            Err(Errno::BadDescriptor),
            "not its owner"
        );
        table.unlink(0, id).unwrap();
        assert_eq!(table.unlink(0, id), Err(Errno::BadDescriptor));
        assert!(table.create(0, 4, 3).is_ok(), "the port is free again");
    }

    #[test]
    fn early_messages_wait_for_their_mailbox_in_order() {
        let mut table = MailboxTable::default();
        for byte in 0..3u8 {
            let delivery = table.deliver(4, 7, &header(9), &[byte]);
            assert_eq!(delivery.decision, ReceiveDecision::Take);
        }
        table.deliver(4, 8, &header(9), &[99]);
        let id = table.create(0, 4, 7).unwrap();
        for byte in 0..3u8 {
            let message = table.take(0, id, None, 128).unwrap().unwrap();
            assert_eq!(message.payload, [byte]);
        }
        assert!(table.take(0, id, None, 128).unwrap().is_none());
        assert_eq!(table.early.len(), 1, "port 8's message still waits");
    }

    #[test]
    fn a_flooding_sender_is_held_back_alone() {
        let mut table = MailboxTable::default();
        let id = table.create(0, 4, 0).unwrap();
        for _ in 0..MAILBOX_SOURCE_CAPACITY {
            assert_eq!(
                table.deliver(4, 0, &header(9), &[1]).decision,
                ReceiveDecision::Take
            );
        }
        assert_eq!(
            table.deliver(4, 0, &header(9), &[1]).decision,
            ReceiveDecision::Keep
        );
        assert_eq!(
            table.deliver(4, 0, &header(10), &[2]).decision,
            ReceiveDecision::Take
        );
        assert_eq!(table.unlink(0, id), Err(Errno::Busy), "messages wait in it");
    }

    #[test]
    fn a_restricted_take_skips_other_sources_and_keeps_their_order() {
        let mut table = MailboxTable::default();
        let id = table.create(0, 4, 0).unwrap();
        table.deliver(4, 0, &header(9), &[1]);
        table.deliver(4, 0, &header(10), &[2]);
        table.deliver(4, 0, &header(9), &[3]);
        let message = table.take(0, id, Some(10), 128).unwrap().unwrap();
        assert_eq!(message.payload, [2]);
        assert!(table.take(0, id, Some(11), 128).unwrap().is_none());
        assert_eq!(table.take(0, id, None, 0), Err(Errno::MessageSize));
        assert_eq!(table.take(0, id, None, 128).unwrap().unwrap().payload, [1]);
        assert_eq!(table.take(0, id, None, 128).unwrap().unwrap().payload, [3]);
    }

    #[test]
    fn ids_name_one_kind_and_one_owner() {
        let mut table = MailboxTable::default();
        let inbox = table.create(0, 4, 0).unwrap();
        let outbox = table.open(0, 8, 1).unwrap();
        assert_eq!(table.destination(0, outbox), Ok((8, 1)));
        assert_eq!(table.destination(0, inbox), Err(Errno::BadDescriptor));
        assert_eq!(table.close(0, inbox), Err(Errno::BadDescriptor));
        assert_eq!(table.destination(1, outbox), Err(Errno::BadDescriptor));
        assert_eq!(table.open(0, 8, MAILBOX_PORTS), Err(Errno::Invalid));
        table.close(0, outbox).unwrap();
        assert_eq!(table.close(0, outbox), Err(Errno::BadDescriptor));
        let closed = Closed {
            node: 4,
            port: 0,
            writers: Vec::new(),
        };
        assert_eq!(table.remove_owner(0), (0, 0, 0, alloc::vec![closed]));
        assert!(
            table.create(1, 4, 0).is_ok(),
            "the ended owner's port is free"
        );
    }

    #[test]
    fn a_closed_mailbox_names_the_nodes_that_wrote_to_it() {
        let mut table = MailboxTable::default();
        let id = table.create(0, 4, 0).unwrap();
        for source in [9, 10, 9] {
            table.deliver(4, 0, &header(source), &[1]);
        }
        table.deliver(4, 1, &header(11), &[2]);
        table.create(0, 4, 1).unwrap();
        while table.take(0, id, None, 128).unwrap().is_some() {}
        assert_eq!(
            table.unlink(0, id),
            Ok(Closed {
                node: 4,
                port: 0,
                writers: alloc::vec![9, 10],
            })
        );
        let (lost, _, _, closed) = table.remove_owner(0);
        assert_eq!(lost, 1, "the early message moved into port 1's mailbox");
        assert_eq!(
            closed,
            alloc::vec![Closed {
                node: 4,
                port: 1,
                writers: alloc::vec![11],
            }]
        );
    }

    #[test]
    fn a_peer_closing_ends_the_reads_waiting_on_it_until_the_next_write() {
        let mut table = MailboxTable::default();
        let outbox = table.open(0, 8, 1).unwrap();
        let other = table.open(0, 8, 2).unwrap();
        let inbox = table.create(0, 4, 2).unwrap();
        let watching = Some((outbox, 8));
        table.begin_read(0, inbox, 3).unwrap();
        assert!(table.park_reader(0, inbox, Some(8), watching));
        assert!(
            table.peer_mailbox_closed(8, 3).is_empty(),
            "another port closed"
        );
        assert!(!table.peer_closed(0, outbox));
        assert_eq!(table.peer_mailbox_closed(8, 1), alloc::vec![3]);
        assert!(table.peer_closed(0, outbox));
        assert!(!table.peer_closed(0, other), "it writes elsewhere");
        assert!(
            !table.park_reader(0, inbox, Some(8), watching),
            "a reader does not park on a closed peer"
        );
        assert!(
            table.park_reader(0, inbox, Some(8), Some((other, 8))),
            "a read watching another peer parks"
        );
        table.destination_for_write(0, outbox, 1).unwrap();
        assert!(!table.peer_closed(0, outbox), "a new write waits anew");
        assert_eq!(table.peer_node(0, outbox), Ok(8));
        assert_eq!(table.peer_node(0, inbox), Err(Errno::BadDescriptor));
        assert_eq!(table.peer_node(1, outbox), Err(Errno::BadDescriptor));
    }

    #[test]
    fn a_program_holds_at_most_its_share() {
        let mut table = MailboxTable::default();
        for port in 0..MAILBOXES_MAX {
            table.open(0, 4, port % MAILBOX_PORTS).unwrap();
        }
        assert_eq!(table.open(0, 4, 0), Err(Errno::Again));
        assert!(table.open(1, 4, 0).is_ok());
    }
}
