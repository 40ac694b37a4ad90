//! The NoC over the shared memory: one single-producer ring per sender-receiver
//! pair, for control messages and for data chunks, and the sync words.
//!
//! The sender writes a slot and then its sequence number (`position + 1`, release);
//! the receiver polls the sequence number of the next slot it expects, reads the
//! message and publishes its tail counter. Slots live in the sender's region
//! (read-only to everyone else), the tail in the receiver's region, so neither side
//! can write the other's state. The sender keeps the last tail it knows in its own
//! memory: every control message acknowledges its sender's tail of the ring coming
//! the other way, so a sender that gets answers learns of its room from them, and
//! reads the receiver's tail only when the ring still looks full. A message then
//! costs about one cache-line transfer each way, as in the spin round trip baseline.
//!
//! A receiver about to sleep counts itself in its region's "sleeping" word and waits
//! on the next slot of every incoming channel at once (hosted: `futex_waitv`); a
//! sender that publishes while that count is nonzero rings the slot's word. How a
//! platform sleeps and rings is its [`Doorbell`] (the hosted board: futexes, or
//! polling; qemu-x86_64: polling, as Debian ships no ivshmem doorbell server). A
//! sender whose ring is full spins briefly, then polls in bounded sleeps. Every sleep
//! is bounded, so a dead peer never holds anyone forever.

use crate::layout::{DATA_PAYLOAD, SLOT_BYTES, SLOT_PAYLOAD, data_slot, slot};
use crate::memory::{NocMemory, Place, Registers};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use lock_api::Mutex;
use nanvix_abi::{MessageHeader, NOC_PAYLOAD_MAX};
use nanvix_board::Board;
use nanvix_hal::{
    Arrival, ClusterState, ControlNoc, DataArrival, DataNoc, NocError, ReceiveDecision, Source,
    SyncSignals,
};

/// Iterations a sender spins (with a spin hint) for room in a full channel before it
/// waits for it. Kept short: a board may have far more cores than its host has
/// CPUs, and pure spinning collapses once runnable threads outnumber them.
pub const SPIN_BUDGET: u32 = 2_000;

/// How a platform's clusters notify each other across the NoC memory.
pub trait Doorbell: Send + Sync {
    /// The lock senders take turns under.
    type Lock: lock_api::RawMutex + Send + Sync;

    /// Rings `word` (wakes whoever sleeps on it; nothing where doorbells are polled).
    fn ring(&self, word: &AtomicU32);

    /// Sleeps until `word` differs from `value`, a ring, or about `limit` (a polled
    /// doorbell sleeps at most its poll interval: nobody will ring).
    fn sleep_on(&self, word: &AtomicU32, value: u32, limit: Duration);

    /// The calling core's wait for arrivals: sleeps until one of `words` differs
    /// from the value beside it, the core is unparked, or about `limit`; not at all
    /// if the core was unparked already or `idle` says there is something now
    /// (checked after the core counted itself sleeping).
    fn wait_for_arrivals(
        &self,
        words: &[(&AtomicU32, u32)],
        idle: &dyn Fn() -> bool,
        limit: Duration,
    );

    /// Lets other cores go on a moment (another core's receive is under way).
    fn yield_now(&self);

    /// A slot from `source` was discarded on receipt (forged node, stale epoch or bad
    /// length) on the `kind` NoC: the platform may log it. The default says nothing.
    fn discarded(&self, kind: &str, source: usize) {
        let _ = (kind, source);
    }
}

/// Longest a receiver sleeps before it re-checks everything.
const TRAFFIC_WAIT: Duration = Duration::from_secs(1);
/// How long a sender whose ring is full sleeps between looks at the receiver's tail.
const ROOM_POLL: Duration = Duration::from_micros(200);
/// Longest a data sender sleeps for room: its receiver wakes it, so this only bounds
/// the wait when the receiver died.
const DATA_ROOM_WAIT: Duration = Duration::from_millis(20);

/// Where one ring (a control or data channel) lives in the NoC memory, placed once:
/// the hot paths use it for every message.
#[derive(Clone, Copy, Debug)]
struct Ring {
    /// The sender's head counter (in the sender's region).
    head: Place,
    /// Slot 0 (the ring's slots were placed whole).
    slots: Place,
    /// Bytes per slot.
    slot_bytes: usize,
    /// Slots minus one (the depth is a power of two).
    mask: u32,
    /// The receiver's tail counter (in the receiver's region).
    tail: Place,
    /// The sender's "waiting for room" flag (data rings; a control ring's sender
    /// polls instead, and this is its head).
    writer_waiting: Place,
}

impl Ring {
    fn control(memory: &NocMemory, source: usize, destination: usize) -> Ring {
        let layout = memory.layout();
        Ring {
            head: memory.place(layout.head(source, destination), 4),
            slots: memory.place(
                layout.slot(source, destination, 0),
                layout.depth * SLOT_BYTES,
            ),
            slot_bytes: SLOT_BYTES,
            mask: layout.depth as u32 - 1,
            tail: memory.place(layout.tail(source, destination), 4),
            writer_waiting: memory.place(layout.head(source, destination), 4),
        }
    }

    fn data(memory: &NocMemory, source: usize, destination: usize) -> Ring {
        let layout = memory.layout();
        Ring {
            head: memory.place(layout.data_head(source, destination), 4),
            slots: memory.place(
                layout.data_slot(source, destination, 0),
                layout.data.depth * layout.data.slot_bytes(),
            ),
            slot_bytes: layout.data.slot_bytes(),
            mask: layout.data.depth as u32 - 1,
            tail: memory.place(layout.data_tail(source, destination), 4),
            writer_waiting: memory.place(layout.data_writer_waiting(source, destination), 4),
        }
    }

    /// The slot of `position`.
    #[inline]
    fn slot(&self, position: u32) -> Place {
        // SAFETY: `position & mask` is below the depth, and the ring's slots were
        // placed whole (depth times slot bytes); slots are line-aligned.
        unsafe {
            self.slots
                .add((position & self.mask) as usize * self.slot_bytes)
        }
    }

    fn depth(&self) -> u32 {
        self.mask + 1
    }

    /// The sequence-number word of the slot of `position`.
    #[inline]
    fn sequence(self, memory: &NocMemory, position: u32) -> &AtomicU32 {
        &self.slot(position).line(memory)[slot::SEQUENCE / 4]
    }

    /// Whether the slot of `tail` (the next one its receiver expects) holds its
    /// message: its sequence number is `tail + 1`.
    #[inline]
    fn holds(&self, memory: &NocMemory, tail: u32) -> bool {
        self.sequence(memory, tail).load(Ordering::Acquire) == tail.wrapping_add(1)
    }
}

/// What a sender keeps about one outgoing ring.
struct Outgoing<L: lock_api::RawMutex> {
    /// Held while a message is written and published: senders take turns.
    send_lock: Mutex<L, ()>,
    ring: Ring,
    /// The receiver's "sleeping" count.
    sleeping: Place,
    /// A tail the receiver had reached (read from its tail word, or acknowledged in
    /// a control message it sent us): the ring has room below `known_tail + depth`.
    /// Every value stored here was the receiver's tail at some point, so an older one
    /// (stored late by a racing core) only makes the ring look fuller.
    known_tail: AtomicU32,
}

/// What the receiving core keeps about one incoming ring.
struct Incoming {
    ring: Ring,
    /// Our tail counter: we are its only writer, so this is what the memory holds.
    tail: u32,
    /// The sender's nodes (first, count) and state registers, to check its stamps.
    sender_nodes: (u32, u32),
    sender: Registers,
}

impl Incoming {
    /// Moves past the slot just taken or discarded, and publishes the new tail.
    #[inline]
    fn advance<'memory>(
        &mut self,
        memory: &'memory NocMemory,
        order: Ordering,
    ) -> &'memory AtomicU32 {
        self.tail = self.tail.wrapping_add(1);
        let tail_word = self.ring.tail.word(memory);
        tail_word.store(self.tail, order);
        tail_word
    }
}

/// The incoming rings of one kind: their places (read without a lock, so a core
/// that finds nothing waiting never writes a shared line) and their receiving state
/// (taken by one core at a time, without waiting).
struct Incomings {
    rings: Box<[Ring]>,
    /// The source offered first next time (written under the lock, read without it).
    next: AtomicUsize,
    /// Incoming rings by source cluster. Only ever tried (a core that finds it
    /// taken goes on: the holder offers every waiting message), so `spin`'s lock
    /// serves, and its release is a plain store where parking_lot's is a
    /// read-modify-write on every receive.
    receiving: spin::Mutex<Box<[Incoming]>>,
}

impl Incomings {
    /// The first source from `start` on (round the ring of sources) whose next slot,
    /// as the tail the receiver published says, holds its message. A stale tail only
    /// ever says yes for nothing, and the caller then finds nothing under the lock.
    #[inline]
    fn first_ready(&self, memory: &NocMemory, start: usize) -> Option<usize> {
        let ready =
            |ring: &Ring| ring.holds(memory, ring.tail.word(memory).load(Ordering::Relaxed));
        let (before, after) = self.rings.split_at(start.min(self.rings.len()));
        after
            .iter()
            .position(ready)
            .map(|index| start + index)
            .or_else(|| before.iter().position(ready))
    }

    fn may_be_ready(&self, memory: &NocMemory) -> bool {
        self.first_ready(memory, 0).is_some()
    }
}

/// What a sender stamps into a slot's header.
struct Stamps {
    destination_node: u32,
    destination_program: u32,
    source: Source,
    destination_epoch: u32,
    /// A data chunk's transfer length and offset in it.
    chunk: Option<(u32, u32)>,
}

/// The header stamps of the slot whose first line is `line`.
fn header_of(line: &[AtomicU32; 16]) -> MessageHeader {
    let field = |offset: usize| line[offset / 4].load(Ordering::Relaxed);
    MessageHeader {
        source_node: field(slot::SOURCE_NODE),
        source_program: field(slot::SOURCE_PROGRAM),
        source_epoch: field(slot::SOURCE_EPOCH),
        source_run: field(slot::SOURCE_RUN),
        length: field(slot::LENGTH),
    }
}

/// The NoC (control, data, syncs) of one cluster over the shared memory.
pub struct SharedNoc<D: Doorbell> {
    memory: Arc<NocMemory>,
    local: usize,
    /// Our nodes: the first and how many.
    local_nodes: (u32, u32),
    epoch: u32,
    doorbell: D,
    /// The cluster owning each NoC node (by node number).
    node_clusters: Box<[Option<usize>]>,
    /// Every cluster's state registers (by cluster).
    registers: Box<[Registers]>,
    outgoing: Box<[Outgoing<D::Lock>]>,
    data_outgoing: Box<[Outgoing<D::Lock>]>,
    receiving: Incomings,
    data_receiving: Incomings,
    /// Messages discarded on receipt (stale epoch, forged node, bad length).
    pub discarded: AtomicU64,
}

impl<D: Doorbell> SharedNoc<D> {
    /// The NoC of cluster `local` in boot epoch `epoch`, ringing with `doorbell`.
    pub fn new(
        memory: Arc<NocMemory>,
        board: &Board,
        local: usize,
        epoch: u32,
        doorbell: D,
    ) -> Self {
        let layout = memory.layout();
        let nodes_of = |cluster: usize| {
            let cluster = &board.clusters[cluster];
            (cluster.first_node, cluster.node_count)
        };
        let registers: Box<[Registers]> = (0..layout.clusters)
            .map(|cluster| memory.registers_of(cluster))
            .collect();
        let outgoing_of = |ring: fn(&NocMemory, usize, usize) -> Ring| -> Box<[Outgoing<D::Lock>]> {
            (0..layout.clusters)
                .map(|destination| {
                    let ring = ring(&memory, local, destination);
                    Outgoing {
                        send_lock: Mutex::new(()),
                        ring,
                        sleeping: memory.place(layout.sleeping(destination), 4),
                        known_tail: AtomicU32::new(ring.tail.word(&memory).load(Ordering::Acquire)),
                    }
                })
                .collect()
        };
        let receiving_of = |ring: fn(&NocMemory, usize, usize) -> Ring| {
            let rings: Box<[Ring]> = (0..layout.clusters)
                .map(|source| ring(&memory, source, local))
                .collect();
            let channels = rings
                .iter()
                .enumerate()
                .map(|(source, ring)| Incoming {
                    ring: *ring,
                    tail: ring.tail.word(&memory).load(Ordering::Acquire),
                    sender_nodes: nodes_of(source),
                    sender: registers[source],
                })
                .collect();
            Incomings {
                rings,
                next: AtomicUsize::new(0),
                receiving: spin::Mutex::new(channels),
            }
        };
        let (outgoing, data_outgoing) = (outgoing_of(Ring::control), outgoing_of(Ring::data));
        let (receiving, data_receiving) = (receiving_of(Ring::control), receiving_of(Ring::data));
        let nodes = board
            .clusters
            .iter()
            .map(|cluster| (cluster.first_node + cluster.node_count) as usize)
            .max()
            .unwrap_or(0);
        let mut node_clusters = alloc::vec![None; nodes].into_boxed_slice();
        for (index, cluster) in board.clusters.iter().enumerate() {
            for node in cluster.first_node..cluster.first_node + cluster.node_count {
                node_clusters[node as usize] = Some(index);
            }
        }
        SharedNoc {
            local_nodes: nodes_of(local),
            memory,
            local,
            epoch,
            doorbell,
            node_clusters,
            registers,
            outgoing,
            data_outgoing,
            receiving,
            data_receiving,
            discarded: AtomicU64::new(0),
        }
    }

    /// The doorbell.
    pub fn doorbell(&self) -> &D {
        &self.doorbell
    }

    /// The NoC memory.
    pub fn memory(&self) -> &NocMemory {
        &self.memory
    }

    /// The tail this cluster knows the receiver of its control ring to
    /// `destination` had reached (the credit its acknowledgements give).
    pub fn known_tail(&self, destination: usize) -> Option<u32> {
        self.outgoing
            .get(destination)
            .map(|outgoing| outgoing.known_tail.load(Ordering::Relaxed))
    }

    /// Rings the doorbell `word`.
    fn ring(&self, word: &AtomicU32) {
        self.doorbell.ring(word);
    }

    /// Sleeps until `word` changes from `value`, a ring, or `limit`.
    fn sleep_on(&self, word: &AtomicU32, value: u32, limit: Duration) {
        self.doorbell.sleep_on(word, value, limit);
    }

    fn destination_cluster(&self, node: u32) -> Result<usize, NocError> {
        self.node_clusters
            .get(node as usize)
            .copied()
            .flatten()
            .ok_or(NocError::NoSuchNode)
    }

    /// Whether an outgoing ring has room, re-reading the receiver's tail only when the
    /// one we know says it is full.
    #[inline]
    fn has_room(&self, outgoing: &Outgoing<D::Lock>) -> bool {
        let head = outgoing
            .ring
            .head
            .word(&self.memory)
            .load(Ordering::Relaxed);
        let depth = outgoing.ring.depth();
        if head.wrapping_sub(outgoing.known_tail.load(Ordering::Acquire)) < depth {
            return true;
        }
        let tail = outgoing
            .ring
            .tail
            .word(&self.memory)
            .load(Ordering::Acquire);
        outgoing.known_tail.store(tail, Ordering::Release);
        head.wrapping_sub(tail) < depth
    }

    /// Takes `acknowledged`, the tail a control message from `source` says it had
    /// reached in our ring to it, as the tail we know, if it is newer than the one we
    /// know and not past our head (a wild value changes nothing).
    #[inline]
    fn take_acknowledgement(&self, source: usize, acknowledged: u32) {
        let Some(outgoing) = self.outgoing.get(source) else {
            return;
        };
        let known = outgoing.known_tail.load(Ordering::Relaxed);
        let head = outgoing
            .ring
            .head
            .word(&self.memory)
            .load(Ordering::Relaxed);
        let newer = acknowledged.wrapping_sub(known);
        if newer != 0 && newer <= head.wrapping_sub(known) {
            outgoing.known_tail.store(acknowledged, Ordering::Release);
        }
    }

    /// Offers the messages of the first incoming ring that holds some, from the one
    /// after last time's on, to `receive_from`, if no other core is receiving; the
    /// next receive starts after it, so every ring gets its turn. With `every`, the
    /// rings after it that hold messages are offered too, each once. Returns how many
    /// were taken. A core that finds another receiving gets 0 and polls again (a
    /// receiver about to sleep checks for waiting messages first).
    #[inline]
    fn round_robin(
        &self,
        incomings: &Incomings,
        every: bool,
        mut receive_from: impl FnMut(usize, &mut Incoming) -> usize,
    ) -> usize {
        let start = incomings.next.load(Ordering::Relaxed);
        let Some(found) = incomings.first_ready(&self.memory, start) else {
            return 0;
        };
        let Some(mut channels) = incomings.receiving.try_lock() else {
            return 0;
        };
        let count = channels.len();
        let after = |index: usize| if index + 1 == count { 0 } else { index + 1 };
        incomings.next.store(after(found), Ordering::Relaxed);
        let Some(incoming) = channels.get_mut(found) else {
            return 0;
        };
        let mut taken = receive_from(found, incoming);
        if every {
            // The rings from `start` to `found` were empty a moment ago: offer the
            // others that hold messages.
            let mut source = after(found);
            while source != start && source != found {
                if let Some(incoming) = channels.get_mut(source)
                    && incoming.ring.holds(&self.memory, incoming.tail)
                {
                    taken += receive_from(source, incoming);
                }
                source = after(source);
            }
        }
        taken
    }

    fn pending(&self) -> bool {
        self.receiving.may_be_ready(&self.memory) || self.data_receiving.may_be_ready(&self.memory)
    }

    /// Checks a send of `length` bytes (at most `limit`) from `source` (one of our
    /// nodes) to `destination_node`; returns the destination cluster and the epoch
    /// to stamp.
    #[inline]
    fn check_send(
        &self,
        source: Source,
        destination_node: u32,
        length: usize,
        limit: usize,
    ) -> Result<(usize, u32), NocError> {
        if length > limit {
            return Err(NocError::TooLong);
        }
        let (first_node, node_count) = self.local_nodes;
        if source.node.wrapping_sub(first_node) >= node_count {
            return Err(NocError::NotLocalNode);
        }
        let destination = self.destination_cluster(destination_node)?;
        Ok((destination, self.destination_epoch(destination)?))
    }

    /// The destination's epoch to stamp, or why nothing can be sent to it.
    #[inline]
    fn destination_epoch(&self, destination: usize) -> Result<u32, NocError> {
        let registers = self
            .registers
            .get(destination)
            .ok_or(NocError::NoSuchNode)?;
        match registers.state(&self.memory) {
            ClusterState::Dead { .. } => Err(NocError::DestinationDead),
            ClusterState::On { epoch } => Ok(epoch),
            // Off: the next boot's epoch, so its next incarnation takes the message.
            ClusterState::Off => Ok(registers.epoch(&self.memory).wrapping_add(1)),
        }
    }

    /// Whether a slot's stamps are genuine: the source node belongs to the channel's
    /// sender, the epochs are current, the length fits.
    #[inline]
    fn genuine(
        &self,
        incoming: &Incoming,
        header: &MessageHeader,
        destination_epoch: u32,
        limit: usize,
    ) -> bool {
        let (first_node, node_count) = incoming.sender_nodes;
        header.source_node.wrapping_sub(first_node) < node_count
            && header.source_epoch == incoming.sender.epoch(&self.memory)
            && destination_epoch == self.epoch
            && header.length as usize <= limit
    }

    /// Sends `bytes` (at most `limit`) into the ring of `rings` that leads to the
    /// destination, stamped with `(source, destination node, destination program,
    /// chunk)`: checked, refused when the ring is full, then published.
    #[inline]
    fn enqueue(
        &self,
        rings: &[Outgoing<D::Lock>],
        (source, destination_node, destination_program, chunk): (
            Source,
            u32,
            u32,
            Option<(u32, u32)>,
        ),
        limit: usize,
        payload_offset: usize,
        bytes: &[u8],
    ) -> Result<(), NocError> {
        let (destination, destination_epoch) =
            self.check_send(source, destination_node, bytes.len(), limit)?;
        let outgoing = rings.get(destination).ok_or(NocError::NoSuchNode)?;
        let _serialized = outgoing.send_lock.lock();
        if !self.has_room(outgoing) {
            return Err(NocError::Full);
        }
        let stamps = Stamps {
            destination_node,
            destination_program,
            source,
            destination_epoch,
            chunk,
        };
        self.publish(outgoing, destination, &stamps, payload_offset, bytes);
        Ok(())
    }

    /// Spins briefly for room in the ring of `rings` that leads to the cluster of
    /// `destination_node`; returns the ring (and its cluster) when there still is
    /// none, `None` when there is (or no such node).
    fn spin_for_room(
        &self,
        rings: &[Outgoing<D::Lock>],
        destination_node: u32,
    ) -> Option<(usize, Ring)> {
        let destination = self.destination_cluster(destination_node).ok()?;
        let outgoing = rings.get(destination)?;
        for _ in 0..SPIN_BUDGET {
            if self.has_room(outgoing) {
                return None;
            }
            core::hint::spin_loop();
        }
        Some((destination, outgoing.ring))
    }

    /// Writes the next slot of an outgoing ring to `destination`: the header `stamps`
    /// (a control slot also acknowledges our tail of the ring from `destination`) and
    /// `bytes` (at `payload_offset`), then publishes it: the sequence number
    /// `head + 1` (ordered before the read of the receiver's sleeping count), the
    /// head, and a doorbell if the receiver sleeps. The caller holds the ring's send
    /// lock, checked it has room and that `bytes` fits a slot.
    #[inline]
    fn publish(
        &self,
        outgoing: &Outgoing<D::Lock>,
        destination: usize,
        stamps: &Stamps,
        payload_offset: usize,
        bytes: &[u8],
    ) {
        let memory = &*self.memory;
        let head_word = outgoing.ring.head.word(memory);
        let head = head_word.load(Ordering::Relaxed);
        let slot = outgoing.ring.slot(head);
        let line = slot.line(memory);
        let store = |field: usize, value: u32| line[field / 4].store(value, Ordering::Relaxed);
        store(slot::DESTINATION_NODE, stamps.destination_node);
        store(slot::DESTINATION_PROGRAM, stamps.destination_program);
        store(slot::SOURCE_NODE, stamps.source.node);
        store(slot::SOURCE_PROGRAM, stamps.source.program);
        store(slot::SOURCE_EPOCH, self.epoch);
        store(slot::SOURCE_RUN, stamps.source.run);
        store(slot::DESTINATION_EPOCH, stamps.destination_epoch);
        store(slot::LENGTH, bytes.len() as u32);
        match stamps.chunk {
            Some((total, offset)) => {
                store(data_slot::TOTAL, total);
                store(data_slot::OFFSET, offset);
            }
            None => {
                if let Some(incoming) = self.receiving.rings.get(destination) {
                    store(
                        slot::ACKNOWLEDGED,
                        incoming.tail.word(memory).load(Ordering::Acquire),
                    );
                }
            }
        }
        // SAFETY: the payload offset of the ring's kind lies inside its slots, with
        // room for a payload of the kind's limit (the caller checked `bytes` fits).
        let payload = unsafe { slot.add(payload_offset) };
        if bytes.len() <= NOC_PAYLOAD_MAX {
            payload.write_small(memory, bytes);
        } else {
            // SAFETY: the slot is in our own (writable) region, free because the
            // receiver's tail passed it, and only we write this channel (the caller
            // holds its lock); the bytes fit the slot's payload (checked by the caller).
            unsafe {
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), payload.address(), bytes.len());
            }
        }
        let sequence = &line[slot::SEQUENCE / 4];
        sequence.store(head.wrapping_add(1), Ordering::SeqCst);
        head_word.store(head.wrapping_add(1), Ordering::Relaxed);
        if outgoing.sleeping.word(memory).load(Ordering::SeqCst) != 0 {
            self.ring(sequence);
        }
    }

    /// Drains the ring `incoming` from `source`, at most one ring's worth (so a fast
    /// sender cannot hold us here): each genuine slot (payload up to `limit`) is
    /// offered to `offer(slot, header line, header)`, and a `Keep` stops; a forged
    /// or stale one is discarded (`kind` names the NoC in the warning). After each
    /// slot the tail moves on (stored with `order`) and `moved` runs with the tail
    /// word. Returns how many slots were taken.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn drain(
        &self,
        kind: &str,
        source: usize,
        incoming: &mut Incoming,
        limit: usize,
        order: Ordering,
        mut offer: impl FnMut(Place, &[AtomicU32; 16], MessageHeader) -> ReceiveDecision,
        mut moved: impl FnMut(&AtomicU32),
    ) -> usize {
        let memory = &*self.memory;
        let mut taken = 0;
        for _ in 0..incoming.ring.depth() {
            let slot = incoming.ring.slot(incoming.tail);
            let line = slot.line(memory);
            if line[slot::SEQUENCE / 4].load(Ordering::Acquire) != incoming.tail.wrapping_add(1) {
                break;
            }
            let header = header_of(line);
            let destination_epoch = line[slot::DESTINATION_EPOCH / 4].load(Ordering::Relaxed);
            if self.genuine(incoming, &header, destination_epoch, limit) {
                if offer(slot, line, header) == ReceiveDecision::Keep {
                    break;
                }
                taken += 1;
            } else {
                self.discarded.fetch_add(1, Ordering::Relaxed);
                self.doorbell.discarded(kind, source);
            }
            moved(incoming.advance(memory, order));
        }
        taken
    }

    /// Offers the head chunk of the data ring from `source`, and the ones after it
    /// while they are taken.
    fn receive_data_from(
        &self,
        source: usize,
        incoming: &mut Incoming,
        decide: &mut dyn FnMut(&DataArrival<'_>) -> ReceiveDecision,
    ) -> usize {
        let writer_waiting = incoming.ring.writer_waiting.word(&self.memory);
        let offer = |slot: Place, line: &[AtomicU32; 16], header: MessageHeader| {
            let field = |offset: usize| line[offset / 4].load(Ordering::Relaxed);
            let length = header.length as usize;
            // SAFETY: the chunk lies in the sender's region, mapped read-only for the
            // process' life, inside the slot (`genuine` checked the length fits); the
            // sender published it (sequence number, release) and will not reuse the
            // slot before we publish our tail, which happens only after `decide`
            // returned (the slice does not outlive the offer).
            let data =
                unsafe { core::slice::from_raw_parts(slot.add(DATA_PAYLOAD).address(), length) };
            decide(&DataArrival {
                header,
                source_cluster: source,
                destination_node: field(slot::DESTINATION_NODE),
                destination_program: field(slot::DESTINATION_PROGRAM),
                total: field(data_slot::TOTAL),
                offset: field(data_slot::OFFSET),
                data,
            })
        };
        let moved = |tail_word: &AtomicU32| {
            if writer_waiting.load(Ordering::SeqCst) != 0 {
                self.ring(tail_word);
            }
        };
        self.drain(
            "data",
            source,
            incoming,
            self.memory.layout().data.chunk_bytes,
            Ordering::SeqCst,
            offer,
            moved,
        )
    }

    /// Drains the control ring from `source`; returns how many messages were taken.
    #[inline]
    fn receive_from(
        &self,
        source: usize,
        incoming: &mut Incoming,
        decide: &mut dyn FnMut(&Arrival<'_>) -> ReceiveDecision,
    ) -> usize {
        let offer = |slot: Place, line: &[AtomicU32; 16], header: MessageHeader| {
            let field = |offset: usize| line[offset / 4].load(Ordering::Relaxed);
            self.take_acknowledgement(source, field(slot::ACKNOWLEDGED));
            let mut payload = [0u8; NOC_PAYLOAD_MAX];
            let payload = &mut payload[..header.length as usize];
            // The sender published the slot (sequence number, release) before we read
            // it and will not reuse it before we publish our tail.
            // SAFETY: the payload offset lies inside the slot, with room for a payload.
            unsafe { slot.add(SLOT_PAYLOAD) }.read_small(&self.memory, payload);
            decide(&Arrival {
                header,
                destination_node: field(slot::DESTINATION_NODE),
                destination_program: field(slot::DESTINATION_PROGRAM),
                payload,
            })
        };
        self.drain(
            "control",
            source,
            incoming,
            NOC_PAYLOAD_MAX,
            Ordering::Release,
            offer,
            |_| {},
        )
    }
}

impl<D: Doorbell> ControlNoc for SharedNoc<D> {
    fn try_send(
        &self,
        source: Source,
        destination_node: u32,
        destination_program: u32,
        payload: &[u8],
    ) -> Result<(), NocError> {
        let stamps = (source, destination_node, destination_program, None);
        self.enqueue(
            &self.outgoing,
            stamps,
            NOC_PAYLOAD_MAX,
            SLOT_PAYLOAD,
            payload,
        )
    }

    fn wait_for_room(&self, destination_node: u32) {
        let Some((destination, ring)) = self.spin_for_room(&self.outgoing, destination_node) else {
            return;
        };
        let tail_word = ring.tail.word(&self.memory);
        let tail = tail_word.load(Ordering::Acquire);
        if !self.has_room(&self.outgoing[destination]) {
            self.sleep_on(tail_word, tail, ROOM_POLL);
        }
    }

    fn receive(&self, decide: &mut dyn FnMut(&Arrival<'_>) -> ReceiveDecision) -> usize {
        self.round_robin(&self.receiving, false, |source, incoming| {
            self.receive_from(source, incoming, decide)
        })
    }

    fn may_be_ready(&self) -> bool {
        self.receiving.may_be_ready(&self.memory)
    }

    fn wait_for_receivers(&self) {
        // A receive drains under this lock: once we had it, every pass that held
        // it before has ended.
        while self.receiving.receiving.try_lock().is_none() {
            self.doorbell.yield_now();
        }
    }

    fn wait_for_traffic(&self) {
        self.wait_for_arrivals(true);
    }

    fn wait_for_messages(&self) {
        self.wait_for_arrivals(false);
    }
}

impl<D: Doorbell> SharedNoc<D> {
    /// Sleeps until a message (or sync signal) may have arrived, the calling core
    /// was unparked, or, with `board_changes`, the board's state generation moved;
    /// at most `TRAFFIC_WAIT`.
    fn wait_for_arrivals(&self, board_changes: bool) {
        // No spinning here: the kernel's fast path is a receiving core polling the
        // channels itself; this is the slow path of a core that has nothing to do.
        if self.pending() {
            return;
        }
        let layout = self.memory.layout();
        let sleeping = self.memory.word(layout.sleeping(self.local));
        sleeping.fetch_add(1, Ordering::SeqCst);
        let generation = self.memory.generation();
        let mut words = Vec::with_capacity(3 * layout.clusters + 1);
        if board_changes {
            words.push((generation, generation.load(Ordering::SeqCst)));
        }
        for source in 0..layout.clusters {
            for ring in [
                &self.receiving.rings[source],
                &self.data_receiving.rings[source],
            ] {
                // The sequence-number word of the next slot expected in the ring.
                let tail = ring.tail.word(&self.memory).load(Ordering::Relaxed);
                let word = ring.sequence(&self.memory, tail);
                words.push((word, word.load(Ordering::SeqCst)));
            }
            // The low half (little-endian: first) of the sync word counts signals.
            let sync = self.memory.word(layout.sync(source, self.local));
            words.push((sync, sync.load(Ordering::SeqCst)));
        }
        self.doorbell
            .wait_for_arrivals(&words, &|| !self.pending(), TRAFFIC_WAIT);
        sleeping.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<D: Doorbell> DataNoc for SharedNoc<D> {
    fn chunk_bytes(&self) -> usize {
        self.memory.layout().data.chunk_bytes
    }

    fn try_write(
        &self,
        source: Source,
        destination_node: u32,
        destination_program: u32,
        total: u32,
        offset: u32,
        chunk: &[u8],
    ) -> Result<(), NocError> {
        let stamps = (
            source,
            destination_node,
            destination_program,
            Some((total, offset)),
        );
        self.enqueue(
            &self.data_outgoing,
            stamps,
            self.memory.layout().data.chunk_bytes,
            DATA_PAYLOAD,
            chunk,
        )
    }

    fn wait_for_write_room(&self, destination_node: u32) {
        let Some((destination, ring)) = self.spin_for_room(&self.data_outgoing, destination_node)
        else {
            return;
        };
        let waiting = ring.writer_waiting.word(&self.memory);
        let tail_word = ring.tail.word(&self.memory);
        waiting.store(1, Ordering::SeqCst);
        let tail = tail_word.load(Ordering::SeqCst);
        if !self.has_room(&self.data_outgoing[destination])
            && !matches!(
                self.memory.cluster_state(destination),
                ClusterState::Dead { .. }
            )
        {
            self.sleep_on(tail_word, tail, DATA_ROOM_WAIT);
        }
        waiting.store(0, Ordering::SeqCst);
    }

    fn receive_chunks(&self, decide: &mut dyn FnMut(&DataArrival<'_>) -> ReceiveDecision) -> usize {
        self.round_robin(&self.data_receiving, true, |source, incoming| {
            self.receive_data_from(source, incoming, decide)
        })
    }
}

impl<D: Doorbell> SyncSignals for SharedNoc<D> {
    fn signal(&self, destination_node: u32) -> Result<(), NocError> {
        let destination = self.destination_cluster(destination_node)?;
        self.destination_epoch(destination)?;
        let layout = self.memory.layout();
        let word = self.memory.word64(layout.sync(self.local, destination));
        let _serialized = self.outgoing[destination].send_lock.lock();
        let current = word.load(Ordering::Relaxed);
        let count = if (current >> 32) as u32 == self.epoch {
            current as u32
        } else {
            0
        };
        word.store(
            ((self.epoch as u64) << 32) | count.wrapping_add(1) as u64,
            Ordering::SeqCst,
        );
        if self
            .memory
            .word(layout.sleeping(destination))
            .load(Ordering::SeqCst)
            != 0
        {
            self.ring(self.memory.word(layout.sync(self.local, destination)));
        }
        Ok(())
    }

    fn signals_from(&self, source: usize) -> u32 {
        let layout = self.memory.layout();
        if source >= layout.clusters {
            return 0;
        }
        let value = self
            .memory
            .word64(layout.sync(source, self.local))
            .load(Ordering::Acquire);
        if (value >> 32) as u32 == self.registers[source].epoch(&self.memory) {
            value as u32
        } else {
            0
        }
    }
}
