//! The control NoC: small messages whose source the hardware stamps.

use nanvix_abi::MessageHeader;

/// Who sends: a node of the local cluster, and a program id and run stamped by the
/// kernel. The hardware checks that the node is the sender's own and adds the boot
/// epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Source {
    /// One of the local cluster's NoC nodes.
    pub node: u32,
    /// Program id on the local cluster.
    pub program: u32,
    /// The run the sending program belongs to: how many programs the board had
    /// started on the cluster in this boot epoch when it started (see
    /// `MessageHeader::source_run`).
    pub run: u32,
}

/// Why a control-NoC operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NocError {
    /// No cluster owns the destination node.
    NoSuchNode,
    /// The source node is not one of the local cluster's nodes.
    NotLocalNode,
    /// The payload is longer than [`nanvix_abi::NOC_PAYLOAD_MAX`].
    TooLong,
    /// The channel to the destination is full; try again later.
    Full,
    /// The destination cluster is dead.
    DestinationDead,
}

/// What the receiver decides about a message offered by [`ControlNoc::receive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiveDecision {
    /// Consume it.
    Take,
    /// Leave it in its channel (the receiver has no room now): backpressure.
    Keep,
}

/// A message offered to the receiver: its stamped header, its destination and payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arrival<'a> {
    /// Source (node, program, epoch) as the hardware stamped it, and the length.
    pub header: MessageHeader,
    /// The node it is addressed to (one of the receiving cluster's).
    pub destination_node: u32,
    /// The program id it is addressed to.
    pub destination_program: u32,
    /// The payload.
    pub payload: &'a [u8],
}

/// The control NoC of one cluster.
pub trait ControlNoc: Send + Sync {
    /// Sends one message without waiting. [`NocError::Full`] means the channel to
    /// `destination_node` has no free slot; nothing was sent.
    fn try_send(
        &self,
        source: Source,
        destination_node: u32,
        destination_program: u32,
        payload: &[u8],
    ) -> Result<(), NocError>;

    /// Blocks (spin budget, then park) until the channel to `destination_node` may
    /// have room, the destination died, or a bounded time passed.
    fn wait_for_room(&self, destination_node: u32);

    /// Offers waiting messages, oldest first per channel and channels in turn, to
    /// `decide`; returns how many were taken. Messages from a dead incarnation of their
    /// sender, or sent to a dead incarnation of this cluster, are discarded unoffered.
    fn receive(&self, decide: &mut dyn FnMut(&Arrival<'_>) -> ReceiveDecision) -> usize;

    /// Whether a message may be waiting: a cheap look that writes nothing, for
    /// polling loops; `false` means `receive` would offer nothing right now. The
    /// default always says it may.
    fn may_be_ready(&self) -> bool {
        true
    }

    /// Blocks (spin budget, then park) until a message may have arrived, a cluster
    /// changed state, or the calling core was unparked.
    fn wait_for_traffic(&self);

    /// As [`wait_for_traffic`](Self::wait_for_traffic), but a change of another
    /// cluster's state does not end the wait (an idle cluster waits for a request,
    /// not for the board's every change; the wait is bounded all the same). The
    /// default waits for both.
    fn wait_for_messages(&self) {
        self.wait_for_traffic();
    }

    /// Waits until every `receive` under way on another core when this was called
    /// has ended: the messages it took were decided.
    fn wait_for_receivers(&self);
}

/// One chunk of a bulk transfer offered to the receiver by [`DataNoc::receive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataArrival<'a> {
    /// Source (node, program, epoch) as the hardware stamped it; `length` is the
    /// chunk's length.
    pub header: MessageHeader,
    /// Index of the sending cluster (the channel it came on).
    pub source_cluster: usize,
    /// The node it is addressed to.
    pub destination_node: u32,
    /// The program id it is addressed to.
    pub destination_program: u32,
    /// Length of the whole transfer the chunk belongs to.
    pub total: u32,
    /// Offset of this chunk in its transfer.
    pub offset: u32,
    /// The chunk's bytes (valid only during the offer).
    pub data: &'a [u8],
}

/// The data NoC of one cluster: bulk transfers cut into chunks, with the same
/// stamping, epochs and backpressure as the control NoC.
pub trait DataNoc: Send + Sync {
    /// Largest chunk one write carries.
    fn chunk_bytes(&self) -> usize;

    /// Writes one chunk (at most [`DataNoc::chunk_bytes`]) of a transfer of `total`
    /// bytes, at `offset`, without waiting; [`NocError::Full`] when no slot is free.
    fn try_write(
        &self,
        source: Source,
        destination_node: u32,
        destination_program: u32,
        total: u32,
        offset: u32,
        chunk: &[u8],
    ) -> Result<(), NocError>;

    /// Blocks (spin budget, then bounded sleeps) until the data channel to
    /// `destination_node` may have room, or its destination died.
    fn wait_for_write_room(&self, destination_node: u32);

    /// Offers the oldest chunk of each incoming data channel in turn to `decide`;
    /// a kept chunk stays at the head of its channel. Returns how many were taken.
    fn receive_chunks(&self, decide: &mut dyn FnMut(&DataArrival<'_>) -> ReceiveDecision) -> usize;
}

/// Sync signals: the control NoC's smallest message, a count a sender raises at a
/// receiver (barriers and wake-ups across clusters are built on them).
pub trait SyncSignals: Send + Sync {
    /// Raises by one the count of signals from this cluster at the cluster owning
    /// `destination_node`; never blocks. Waiting receivers are woken.
    fn signal(&self, destination_node: u32) -> Result<(), NocError>;

    /// Signals cluster `source` sent to this cluster in its current boot epoch (a
    /// dead incarnation's signals are never credited to the next; 0 for an unknown
    /// cluster).
    fn signals_from(&self, source: usize) -> u32;
}
