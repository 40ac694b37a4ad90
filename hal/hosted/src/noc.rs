//! The hosted control NoC: one single-producer ring per sender-receiver pair.
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
//! on the next slot of every incoming channel at once (`futex_waitv`); a sender that
//! publishes while that count is nonzero wakes the slot's word. A sender whose ring
//! is full spins briefly, then polls in bounded sleeps (a doorbell that works by
//! bounded polling, as the bare-metal backend needs). Every sleep is bounded, so a
//! dead peer never holds anyone forever.

use crate::SPIN_BUDGET;
use crate::cores::HostedCores;
use crate::futex::{self, Scope};
use crate::hardware::{NocMemory, Place, Registers};
use crate::layout::{
    DATA_CHUNK_BYTES, DATA_DEPTH, DATA_PAYLOAD, DATA_SLOT_BYTES, SLOT_BYTES, SLOT_PAYLOAD,
    data_slot, slot,
};
use nanvix_abi::{MessageHeader, NOC_PAYLOAD_MAX};
use nanvix_board::Board;
use nanvix_hal::{
    Arrival, ClusterState, ControlNoc, Cores, DataArrival, DataNoc, NocError, ReceiveDecision,
    Source, SyncSignals,
};
use parking_lot::Mutex;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Longest a receiver sleeps before it re-checks everything.
const TRAFFIC_WAIT: Duration = Duration::from_secs(1);
/// How long a sender whose ring is full sleeps between looks at the receiver's tail.
const ROOM_POLL: Duration = Duration::from_micros(200);
/// Longest a data sender sleeps for room: its receiver wakes it, so this only bounds
/// the wait when the receiver died.
const DATA_ROOM_WAIT: Duration = Duration::from_millis(20);

/// How clusters notify each other across the NoC.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Doorbells {
    /// Futex wakes on shared words (the default on the hosted board).
    #[default]
    Futex,
    /// No cross-cluster wakes at all: sleepers poll in bounded intervals, as the
    /// bare-metal backend must where no doorbell device exists.
    Polling,
}

/// How long a sleeper waits between polls when doorbells are polled.
const POLL_INTERVAL: Duration = Duration::from_micros(50);

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
                DATA_DEPTH * DATA_SLOT_BYTES,
            ),
            slot_bytes: DATA_SLOT_BYTES,
            mask: DATA_DEPTH as u32 - 1,
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
struct Outgoing {
    /// Held while a message is written and published: senders take turns.
    send_lock: Mutex<()>,
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

/// The control NoC of one hosted cluster.
pub struct HostedNoc {
    memory: Arc<NocMemory>,
    local: usize,
    /// Our nodes: the first and how many.
    local_nodes: (u32, u32),
    epoch: u32,
    cores: Arc<HostedCores>,
    /// The cluster owning each NoC node (by node number).
    node_clusters: Box<[Option<usize>]>,
    /// Every cluster's state registers (by cluster).
    registers: Box<[Registers]>,
    outgoing: Box<[Outgoing]>,
    data_outgoing: Box<[Outgoing]>,
    receiving: Incomings,
    data_receiving: Incomings,
    doorbells: Doorbells,
    /// Messages discarded on receipt (stale epoch, forged node, bad length).
    pub discarded: AtomicU64,
}

impl HostedNoc {
    /// The NoC of cluster `local` in boot epoch `epoch`.
    pub fn new(
        memory: Arc<NocMemory>,
        board: Arc<Board>,
        local: usize,
        epoch: u32,
        cores: Arc<HostedCores>,
    ) -> Self {
        let layout = memory.layout();
        let nodes_of = |cluster: usize| {
            let cluster = &board.clusters[cluster];
            (cluster.first_node, cluster.node_count)
        };
        let registers: Box<[Registers]> = (0..layout.clusters)
            .map(|cluster| memory.registers_of(cluster))
            .collect();
        let outgoing_of = |ring: fn(&NocMemory, usize, usize) -> Ring| -> Box<[Outgoing]> {
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
        let mut node_clusters = vec![None; nodes].into_boxed_slice();
        for (index, cluster) in board.clusters.iter().enumerate() {
            for node in cluster.first_node..cluster.first_node + cluster.node_count {
                node_clusters[node as usize] = Some(index);
            }
        }
        HostedNoc {
            local_nodes: nodes_of(local),
            memory,
            local,
            epoch,
            cores,
            node_clusters,
            registers,
            outgoing,
            data_outgoing,
            receiving,
            data_receiving,
            doorbells: Doorbells::Futex,
            discarded: AtomicU64::new(0),
        }
    }

    /// The same NoC with `doorbells` as its notification mechanism.
    pub fn with_doorbells(mut self, doorbells: Doorbells) -> Self {
        self.doorbells = doorbells;
        self
    }

    /// Rings the doorbell `word` (a futex wake) unless doorbells are polled.
    fn ring(&self, word: &AtomicU32) {
        if self.doorbells == Doorbells::Futex {
            futex::wake(word, Scope::Shared, i32::MAX);
        }
    }

    /// Sleeps until `word` changes from `value`, a wake, or `limit`; with polled
    /// doorbells, sleeps one poll interval (nobody will ring).
    fn sleep_on(&self, word: &AtomicU32, value: u32, limit: Duration) {
        let limit = match self.doorbells {
            Doorbells::Futex => limit,
            Doorbells::Polling => limit.min(POLL_INTERVAL),
        };
        futex::wait(word, value, Scope::Shared, limit);
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
    fn has_room(&self, outgoing: &Outgoing) -> bool {
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
        rings: &[Outgoing],
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
    fn spin_for_room(&self, rings: &[Outgoing], destination_node: u32) -> Option<(usize, Ring)> {
        let destination = self.destination_cluster(destination_node).ok()?;
        let outgoing = rings.get(destination)?;
        for _ in 0..SPIN_BUDGET {
            if self.has_room(outgoing) {
                return None;
            }
            std::hint::spin_loop();
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
        outgoing: &Outgoing,
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
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), payload.address(), bytes.len());
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
                crate::hal_warn!(
                    "{=str} NoC: discarded a slot from cluster {=usize} (forged node, stale epoch or bad length)",
                    kind,
                    source
                );
                let _ = (kind, source);
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
                unsafe { std::slice::from_raw_parts(slot.add(DATA_PAYLOAD).address(), length) };
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
            DATA_CHUNK_BYTES,
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

impl ControlNoc for HostedNoc {
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
            std::thread::yield_now();
        }
    }

    fn wait_for_traffic(&self) {
        self.wait_for_arrivals(true);
    }

    fn wait_for_messages(&self) {
        self.wait_for_arrivals(false);
    }
}

impl HostedNoc {
    /// Sleeps until a message (or sync signal) may have arrived, the calling core
    /// was unparked, or, with `board_changes`, the board's state generation moved;
    /// at most `TRAFFIC_WAIT`.
    fn wait_for_arrivals(&self, board_changes: bool) {
        // No spinning here: the kernel's fast path is a receiving core polling the
        // channels itself; this is the slow path of a core that has nothing to do.
        let core = self.cores.current();
        let permit = self.cores.permit(core);
        if permit.swap(0, Ordering::AcqRel) == 1 || self.pending() {
            return;
        }
        let layout = self.memory.layout();
        let sleeping = self.memory.word(layout.sleeping(self.local));
        sleeping.fetch_add(1, Ordering::SeqCst);
        let generation = self.memory.generation();
        let mut words = Vec::with_capacity(3 * layout.clusters + 2);
        if board_changes {
            words.push((generation, generation.load(Ordering::SeqCst), Scope::Shared));
        }
        words.push((permit, 0, Scope::Private));
        for source in 0..layout.clusters {
            for ring in [
                &self.receiving.rings[source],
                &self.data_receiving.rings[source],
            ] {
                // The sequence-number word of the next slot expected in the ring.
                let tail = ring.tail.word(&self.memory).load(Ordering::Relaxed);
                let word = ring.sequence(&self.memory, tail);
                words.push((word, word.load(Ordering::SeqCst), Scope::Shared));
            }
            // The low half (little-endian: first) of the sync word counts signals.
            let sync = self.memory.word(layout.sync(source, self.local));
            words.push((sync, sync.load(Ordering::SeqCst), Scope::Shared));
        }
        if !self.pending() && permit.load(Ordering::SeqCst) == 0 {
            match self.doorbells {
                Doorbells::Futex => futex::wait_any(&words, TRAFFIC_WAIT),
                // Only this cluster's own cores wake the park word; poll the rest.
                Doorbells::Polling => futex::wait(permit, 0, Scope::Private, POLL_INTERVAL),
            }
        }
        sleeping.fetch_sub(1, Ordering::SeqCst);
        permit.store(0, Ordering::Release);
    }
}

impl DataNoc for HostedNoc {
    fn chunk_bytes(&self) -> usize {
        DATA_CHUNK_BYTES
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
            DATA_CHUNK_BYTES,
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

impl SyncSignals for HostedNoc {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hardware::BoardHardware;
    use crate::layout::state;

    fn tiny_board() -> Board {
        let file: nanvix_board::BoardFile =
            toml::from_str(include_str!("../../../boards/tiny.toml")).unwrap();
        Board::from_file("tiny", &file).unwrap()
    }

    /// The hardware plus the NoCs of clusters 1 (cc0, node 4) and 2 (cc1, node 5).
    fn two_clusters() -> (BoardHardware, HostedNoc, HostedNoc) {
        let board = tiny_board();
        let hardware = BoardHardware::create(&board).unwrap();
        let board = Arc::new(board);
        let attach = |index: usize| {
            let (_, memory) = NocMemory::attach(hardware.fd(), index).unwrap();
            hardware.set_state(index, ClusterState::On { epoch: 1 });
            let cores = HostedCores::boot(2).unwrap();
            HostedNoc::new(Arc::new(memory), Arc::clone(&board), index, 1, cores)
        };
        let (first, second) = (attach(1), attach(2));
        (hardware, first, second)
    }

    fn drain(noc: &HostedNoc) -> Vec<(MessageHeader, u32, u32, Vec<u8>)> {
        let mut received = Vec::new();
        noc.receive(&mut |arrival| {
            received.push((
                arrival.header,
                arrival.destination_node,
                arrival.destination_program,
                arrival.payload.to_vec(),
            ));
            ReceiveDecision::Take
        });
        received
    }

    const CC0: Source = Source {
        node: 4,
        program: 0,
        run: 1,
    };

    #[test]
    fn a_message_arrives_with_the_source_the_hardware_stamped() {
        let (_hardware, cc0, cc1) = two_clusters();
        cc0.try_send(
            Source {
                node: 4,
                program: 3,
                run: 7,
            },
            5,
            1,
            b"ping",
        )
        .unwrap();
        let received = drain(&cc1);
        let expected = MessageHeader {
            source_node: 4,
            source_program: 3,
            source_epoch: 1,
            source_run: 7,
            length: 4,
        };
        assert_eq!(received, vec![(expected, 5, 1, b"ping".to_vec())]);
        assert!(drain(&cc1).is_empty(), "delivered exactly once");
    }

    #[test]
    fn payloads_of_every_length_arrive_intact() {
        let (_hardware, cc0, cc1) = two_clusters();
        // Lengths around every 8-byte word boundary, with leftovers of old payloads in
        // the slots (the ring wraps several times).
        for length in 0..=NOC_PAYLOAD_MAX {
            let payload: Vec<u8> = (0..length).map(|byte| (byte * 7 + length) as u8).collect();
            cc0.try_send(CC0, 5, 0, &payload).unwrap();
            let received = drain(&cc1);
            assert_eq!(received.len(), 1, "length {length}");
            assert_eq!(received[0].3, payload, "length {length}");
            assert_eq!(received[0].0.length as usize, length);
        }
    }

    #[test]
    fn bad_sends_are_refused_and_send_nothing() {
        let (hardware, cc0, cc1) = two_clusters();
        assert_eq!(
            cc0.try_send(
                Source {
                    node: 0,
                    program: 0,
                    run: 1,
                },
                5,
                0,
                b"x"
            ),
            Err(NocError::NotLocalNode)
        );
        assert_eq!(cc0.try_send(CC0, 99, 0, b"x"), Err(NocError::NoSuchNode));
        assert_eq!(
            cc0.try_send(CC0, 5, 0, &[0; NOC_PAYLOAD_MAX + 1]),
            Err(NocError::TooLong)
        );
        hardware.set_state(2, ClusterState::Dead { epoch: 1 });
        assert_eq!(
            cc0.try_send(CC0, 5, 0, b"x"),
            Err(NocError::DestinationDead)
        );
        hardware.set_state(2, ClusterState::On { epoch: 1 });
        assert!(drain(&cc1).is_empty());
    }

    #[test]
    fn a_full_channel_refuses_until_the_receiver_takes_and_keep_leaves_messages_queued() {
        let (_hardware, cc0, cc1) = two_clusters();
        for round in 0..8u8 {
            cc0.try_send(CC0, 5, 0, &[round]).unwrap();
        }
        assert_eq!(cc0.try_send(CC0, 5, 0, b"overflow"), Err(NocError::Full));
        let mut seen = 0;
        cc1.receive(&mut |_| {
            seen += 1;
            ReceiveDecision::Keep
        });
        assert_eq!(seen, 1);
        assert_eq!(
            cc0.try_send(CC0, 5, 0, b"overflow"),
            Err(NocError::Full),
            "kept messages hold their slots"
        );
        let received = drain(&cc1);
        assert_eq!(
            received
                .iter()
                .map(|message| message.3[0])
                .collect::<Vec<_>>(),
            (0..8).collect::<Vec<_>>()
        );
        cc0.try_send(CC0, 5, 0, b"room again").unwrap();
    }

    #[test]
    fn an_answer_acknowledges_the_slots_its_sender_took() {
        let (_hardware, cc0, cc1) = two_clusters();
        let known = |noc: &HostedNoc, destination: usize| {
            noc.outgoing[destination].known_tail.load(Ordering::Relaxed)
        };
        for round in 0..8u8 {
            cc0.try_send(CC0, 5, 0, &[round]).unwrap();
        }
        assert_eq!(drain(&cc1).len(), 8);
        assert_eq!(known(&cc0, 2), 0, "cc0 has not looked at cc1's tail");
        // cc1's answer carries its tail of cc0's ring: cc0 learns of the room from it.
        let cc1_source = Source {
            node: 5,
            program: 0,
            run: 1,
        };
        cc1.try_send(cc1_source, 4, 0, b"answer").unwrap();
        assert_eq!(drain(&cc0).len(), 1);
        assert_eq!(known(&cc0, 2), 8);
        // A wild acknowledgement (past what cc0 ever sent) changes nothing, nor does
        // one older than what cc0 knows.
        for wild in [1000, 3] {
            let layout = cc1.memory.layout();
            let head = cc1.memory.word(layout.head(2, 1));
            let position = head.load(Ordering::Relaxed);
            cc1.try_send(cc1_source, 4, 0, b"wild").unwrap();
            cc1.memory
                .word(layout.slot(2, 1, position) + slot::ACKNOWLEDGED)
                .store(wild, Ordering::SeqCst);
            assert_eq!(drain(&cc0).len(), 1);
            assert_eq!(known(&cc0, 2), 8, "acknowledgement {wild} was taken");
        }
    }

    #[test]
    fn receives_take_the_rings_in_turn() {
        let (hardware, cc0, cc1) = two_clusters();
        let (_, memory) = NocMemory::attach(hardware.fd(), 0).unwrap();
        hardware.set_state(0, ClusterState::On { epoch: 1 });
        let io0 = HostedNoc::new(
            Arc::new(memory),
            Arc::new(tiny_board()),
            0,
            1,
            HostedCores::boot(1).unwrap(),
        );
        let io0_source = Source {
            node: 0,
            program: 0,
            run: 1,
        };
        for round in 0..3u8 {
            io0.try_send(io0_source, 5, 0, &[round]).unwrap();
            cc0.try_send(CC0, 5, 0, &[10 + round]).unwrap();
        }
        // Each receive takes what one ring holds; the next starts after that ring.
        let sources = |received: Vec<(MessageHeader, u32, u32, Vec<u8>)>| {
            received
                .iter()
                .map(|message| (message.0.source_node, message.3[0]))
                .collect::<Vec<_>>()
        };
        assert_eq!(sources(drain(&cc1)), [(0, 0), (0, 1), (0, 2)]);
        io0.try_send(io0_source, 5, 0, &[3]).unwrap();
        assert_eq!(sources(drain(&cc1)), [(4, 10), (4, 11), (4, 12)]);
        assert_eq!(sources(drain(&cc1)), [(0, 3)]);
        assert!(drain(&cc1).is_empty());
    }

    #[test]
    fn forged_and_stale_messages_are_discarded() {
        let (hardware, cc0, cc1) = two_clusters();
        // cc0 writes a slot of its own channel claiming io0's node, bypassing try_send.
        let layout = cc0.memory.layout();
        let offset = layout.slot(1, 2, 0);
        for (field, value) in [
            (slot::SOURCE_NODE, 0),
            (slot::SOURCE_EPOCH, 1),
            (slot::DESTINATION_EPOCH, 1),
            (slot::SEQUENCE, 1),
        ] {
            cc0.memory
                .word(offset + field)
                .store(value, Ordering::SeqCst);
        }
        cc0.memory
            .word(layout.head(1, 2))
            .store(1, Ordering::SeqCst);
        assert!(drain(&cc1).is_empty());
        assert_eq!(cc1.discarded.load(Ordering::Relaxed), 1);
        // A message from cc0's epoch 1 is not credited to its next incarnation.
        cc0.try_send(CC0, 5, 0, b"old").unwrap();
        hardware.set_state(1, ClusterState::On { epoch: 2 });
        assert!(drain(&cc1).is_empty());
        assert_eq!(cc1.discarded.load(Ordering::Relaxed), 2);
        assert_eq!(
            cc1.memory
                .word(layout.cluster_state(1))
                .load(Ordering::Relaxed),
            state::ON
        );
    }

    /// The permissions column of /proc/self/maps for the mapping holding `address`.
    fn rights_of(address: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let line = maps
            .lines()
            .find(|line| {
                let range = line.split(' ').next().unwrap();
                let (start, end) = range.split_once('-').unwrap();
                (usize::from_str_radix(start, 16).unwrap()..usize::from_str_radix(end, 16).unwrap())
                    .contains(&address)
            })
            .unwrap();
        line.split_whitespace().nth(1).unwrap().to_string()
    }

    #[test]
    fn a_cluster_cannot_write_another_clusters_region() {
        let (_hardware, cc0, _cc1) = two_clusters();
        let layout = cc0.memory.layout();
        // cc1's region (its channels and tails) is read-only in cc0's view: a stray
        // write would fault instead of forging. cc0's own region is writable.
        assert!(rights_of(cc0.memory.address(layout.region(2), 1) as usize).starts_with("r--"));
        assert!(rights_of(cc0.memory.address(layout.region(0), 1) as usize).starts_with("r--"));
        assert!(rights_of(cc0.memory.address(layout.registers(), 1) as usize).starts_with("r--"));
        assert!(rights_of(cc0.memory.address(layout.region(1), 1) as usize).starts_with("rw-"));
    }

    #[test]
    fn data_chunks_arrive_stamped_in_order_with_backpressure_and_keep() {
        let (hardware, cc0, cc1) = two_clusters();
        let chunk = vec![7u8; DATA_CHUNK_BYTES];
        assert_eq!(
            cc0.try_write(CC0, 5, 2, 0, 0, &vec![0u8; DATA_CHUNK_BYTES + 1]),
            Err(NocError::TooLong)
        );
        // A transfer of DATA_DEPTH whole chunks and a short last one.
        let whole = (DATA_DEPTH * DATA_CHUNK_BYTES) as u32;
        let total = whole + 4464;
        for position in 0..DATA_DEPTH {
            let offset = (position * DATA_CHUNK_BYTES) as u32;
            cc0.try_write(CC0, 5, 2, total, offset, &chunk).unwrap();
        }
        assert_eq!(
            cc0.try_write(CC0, 5, 2, total, whole, &chunk[..4464]),
            Err(NocError::Full)
        );
        let mut kept = 0;
        cc1.receive_chunks(&mut |_| {
            kept += 1;
            ReceiveDecision::Keep
        });
        assert_eq!(kept, 1, "a kept chunk stops its channel");
        let mut offsets = Vec::new();
        cc1.receive_chunks(&mut |arrival| {
            assert_eq!(
                (arrival.header.source_node, arrival.destination_program),
                (4, 2)
            );
            assert_eq!(
                (arrival.total, arrival.data.len()),
                (total, DATA_CHUNK_BYTES)
            );
            assert!(arrival.data.iter().all(|byte| *byte == 7));
            offsets.push(arrival.offset);
            ReceiveDecision::Take
        });
        let expected: Vec<u32> = (0..DATA_DEPTH)
            .map(|position| (position * DATA_CHUNK_BYTES) as u32)
            .collect();
        assert_eq!(offsets, expected);
        cc0.try_write(CC0, 5, 2, total, whole, &chunk[..4464])
            .unwrap();
        hardware.set_state(2, ClusterState::Dead { epoch: 1 });
        assert_eq!(
            cc0.try_write(CC0, 5, 2, 1, 0, b"x"),
            Err(NocError::DestinationDead)
        );
    }

    #[test]
    fn sync_signals_count_per_epoch_and_are_not_credited_to_the_next() {
        let (hardware, cc0, cc1) = two_clusters();
        assert_eq!(cc1.signals_from(1), 0);
        cc0.signal(5).unwrap();
        cc0.signal(5).unwrap();
        assert_eq!(cc1.signals_from(1), 2);
        assert_eq!(cc1.signals_from(0), 0);
        assert_eq!(cc1.signals_from(99), 0);
        assert_eq!(cc0.signal(99), Err(NocError::NoSuchNode));
        // cc0 reboots in epoch 2: its old signals no longer count.
        hardware.set_state(1, ClusterState::On { epoch: 2 });
        assert_eq!(cc1.signals_from(1), 0);
        hardware.set_state(2, ClusterState::Dead { epoch: 1 });
        assert_eq!(cc0.signal(5), Err(NocError::DestinationDead));
    }
}
