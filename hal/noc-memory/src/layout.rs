//! Layout of the NoC shared memory: ROM, board registers, cluster regions.
//!
//! ```text
//! [ ROM: magic, length, postcard(Board) ]            64 KiB, written by the runner
//! [ registers: generation, per-cluster state+epoch ]  written by the runner
//! [ region of cluster 0 ] [ region of cluster 1 ] ...  each written by its cluster
//! ```
//! A cluster region holds, for every destination `d`, the outgoing channel to `d`
//! (the sender's head counter on a line of its own, then `depth` slots of 256 bytes),
//! then, for every source `s`, the consumer's tail counter of the channel
//! `s -> this cluster`, then the cluster's "receiver sleeping" count. Counters are
//! 32-bit and wrap; each sits on its own cache line.
//!
//! A slot's first word is its sequence number: the sender writes the message, then
//! the sequence number `position + 1` (release), so a receiver polls one line per
//! channel and finds the header and small payloads on that same line.

/// Page size; every region starts on a page.
pub const PAGE_BYTES: usize = 4096;
/// Bytes reserved for the board ROM.
pub const ROM_BYTES: usize = 64 * 1024;
/// ROM magic ("NXROM").
pub const ROM_MAGIC: u32 = 0x4e58_524f;
/// One cache line.
pub const LINE_BYTES: usize = 64;
/// Bytes of one cluster's registers (state, epoch, status, ending, run, idle).
pub const CLUSTER_REGISTERS_BYTES: usize = 32;
/// Bytes of one cluster's board requests (the runner's program requests and
/// shutdown requests to a cluster that cannot take a pipe or a signal: a machine):
/// a sequence word, a length word, a shutdown count, a spare word, then the
/// request's bytes.
pub const REQUEST_BYTES: usize = 1024;
/// Offset of a request's bytes in its cluster's request area.
pub const REQUEST_PAYLOAD: usize = 16;
/// One message slot: a 36-byte header and up to 128 payload bytes (8-aligned),
/// padded to 256 bytes so neighbouring slots never share a line or a prefetched
/// line pair.
pub const SLOT_BYTES: usize = 256;
/// Offset of the payload inside a slot (the first 24 bytes share the header's line).
pub const SLOT_PAYLOAD: usize = 48;

/// Bytes of data one data-NoC chunk carries at most on the hosted board (the
/// default [`DataGeometry`]).
pub const DATA_CHUNK_BYTES: usize = 128 * 1024;
/// Data-NoC chunks in flight per sender-receiver pair: enough that the sender
/// copies the next chunks while the receiver copies the first (measured: 128 KiB x
/// 8 moved 1 MiB round trips at 0.65-0.70 of a cross-core copy, 1 MiB x 2 at
/// 0.46-0.50, 256 KiB x 4 at 0.57-0.63, 64 KiB x 16 as 128 KiB x 8).
pub const DATA_DEPTH: usize = 8;
/// One data slot of the default geometry: a header line, then the chunk.
pub const DATA_SLOT_BYTES: usize = DATA_PAYLOAD + DATA_CHUNK_BYTES;

/// The data NoC's shape: bytes a chunk carries at most and chunks in flight per
/// sender-receiver pair (a power of two). The hosted board's is the default; a
/// platform whose NoC memory must stay small (qemu-x86_64: a PCI BAR in every
/// machine) takes a smaller one. Runner and clusters compute the same layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataGeometry {
    /// Bytes of data one chunk carries at most.
    pub chunk_bytes: usize,
    /// Chunks in flight per sender-receiver pair (a power of two).
    pub depth: usize,
}

impl DataGeometry {
    /// The hosted board's: [`DATA_CHUNK_BYTES`] x [`DATA_DEPTH`].
    pub const HOSTED: DataGeometry = DataGeometry {
        chunk_bytes: DATA_CHUNK_BYTES,
        depth: DATA_DEPTH,
    };

    /// A compact one, 4 chunks of 16 KiB per pair (qemu-x86_64's: its NoC memory is a
    /// PCI BAR in every machine, 28 MiB for a board of 20 clusters).
    pub const COMPACT: DataGeometry = DataGeometry {
        chunk_bytes: 16 << 10,
        depth: 4,
    };

    /// Bytes of one data slot: a header line, then the chunk.
    pub const fn slot_bytes(&self) -> usize {
        DATA_PAYLOAD + self.chunk_bytes
    }
}
/// Offset of the chunk inside a data slot (after the whole header line).
pub const DATA_PAYLOAD: usize = LINE_BYTES;

/// Data slot header fields (u32 each), by byte offset: the control slot's fields,
/// then the transfer's total length and this chunk's offset in it.
pub mod data_slot {
    pub use super::slot::*;
    /// Total length of the transfer this chunk belongs to.
    pub const TOTAL: usize = 32;
    /// Offset of this chunk in its transfer.
    pub const OFFSET: usize = 36;
}

/// Slot header fields (u32 each), by byte offset inside the slot.
pub mod slot {
    /// Sequence number: `position + 1`, written last by the sender.
    pub const SEQUENCE: usize = 0;
    /// Destination node.
    pub const DESTINATION_NODE: usize = 4;
    /// Destination program id.
    pub const DESTINATION_PROGRAM: usize = 8;
    /// Source node (checked by the receiver against the channel's owner).
    pub const SOURCE_NODE: usize = 12;
    /// Source program id (stamped by the sender's kernel).
    pub const SOURCE_PROGRAM: usize = 16;
    /// Boot epoch of the sender.
    pub const SOURCE_EPOCH: usize = 20;
    /// Boot epoch of the destination the sender addressed.
    pub const DESTINATION_EPOCH: usize = 24;
    /// Payload length.
    pub const LENGTH: usize = 28;
    /// Control slots only: the sender's tail of the ring coming the other way (from
    /// this slot's destination to its sender), as it stood when it sent: a credit
    /// the destination takes instead of reading that tail across the NoC.
    pub const ACKNOWLEDGED: usize = 32;
    /// The sender's run on its cluster (stamped by the sender's kernel).
    pub const SOURCE_RUN: usize = 40;
}

/// Encoded cluster states in the registers.
pub mod state {
    /// Never booted or powered off.
    pub const OFF: u32 = 0;
    /// Running.
    pub const ON: u32 = 1;
    /// Died.
    pub const DEAD: u32 = 2;
}

// Headers end before their payloads start.
const _: () = assert!(
    slot::ACKNOWLEDGED + 4 <= slot::SOURCE_RUN
        && slot::SOURCE_RUN + 4 <= SLOT_PAYLOAD
        && SLOT_PAYLOAD.is_multiple_of(8)
        && SLOT_PAYLOAD + 128 <= SLOT_BYTES
);
const _: () = assert!(
    data_slot::OFFSET + 4 <= data_slot::SOURCE_RUN
        && data_slot::SOURCE_RUN + 4 <= DATA_PAYLOAD
        && DATA_DEPTH.is_power_of_two()
        && DATA_CHUNK_BYTES.is_multiple_of(LINE_BYTES)
);

/// Offsets of everything in the NoC memory for a board of `clusters` clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Number of clusters.
    pub clusters: usize,
    /// Slots per channel (a power of two).
    pub depth: usize,
    /// The data NoC's shape.
    pub data: DataGeometry,
    // Sizes and offsets, computed once: the hot paths use them for every message.
    channel_bytes: usize,
    control_bytes: usize,
    data_channel_bytes: usize,
    syncs_offset: usize,
    region_bytes: usize,
    regions_start: usize,
}

fn round_up(value: usize, to: usize) -> usize {
    value.div_ceil(to) * to
}

impl Layout {
    /// The layout for `clusters` clusters and `depth` slots per channel (a power of
    /// two, as boards require), with the hosted board's data NoC.
    pub fn new(clusters: usize, depth: usize) -> Layout {
        Layout::with_data(clusters, depth, DataGeometry::HOSTED)
    }

    /// The layout for `clusters` clusters, `depth` slots per channel and the data
    /// NoC `data` (its chunk a multiple of a line, its depth a power of two).
    pub fn with_data(clusters: usize, depth: usize, data: DataGeometry) -> Layout {
        debug_assert!(
            depth.is_power_of_two() && data.depth.is_power_of_two(),
            "channel depths must be powers of two"
        );
        debug_assert!(data.chunk_bytes.is_multiple_of(LINE_BYTES));
        let channel_bytes = LINE_BYTES + depth * SLOT_BYTES;
        let control_bytes = clusters * channel_bytes + clusters * LINE_BYTES + LINE_BYTES;
        let data_channel_bytes = LINE_BYTES + data.depth * data.slot_bytes();
        let syncs_offset = control_bytes + clusters * data_channel_bytes + clusters * LINE_BYTES;
        let region_bytes = round_up(syncs_offset + clusters * LINE_BYTES, PAGE_BYTES);
        let regions_start = ROM_BYTES
            + round_up(
                LINE_BYTES + clusters * CLUSTER_REGISTERS_BYTES + clusters * REQUEST_BYTES,
                PAGE_BYTES,
            );
        Layout {
            clusters,
            depth,
            data,
            channel_bytes,
            control_bytes,
            data_channel_bytes,
            syncs_offset,
            region_bytes,
            regions_start,
        }
    }

    /// Offset of the registers page.
    pub fn registers(&self) -> usize {
        ROM_BYTES
    }

    /// Offset of the generation counter (bumped on every cluster state change).
    pub fn generation(&self) -> usize {
        self.registers()
    }

    /// Offset of cluster `index`'s state word; its epoch word follows at +4, the
    /// status its last program (or incarnation) ended with at +8, how it ended at
    /// +12, the number of programs it started in this epoch at +16, whether it is
    /// on and idle (a warm cluster waiting for a program) at +20, and the epoch in
    /// which the manifest booted it with its program (0: never) at +24.
    pub fn cluster_state(&self, index: usize) -> usize {
        self.registers() + LINE_BYTES + index * CLUSTER_REGISTERS_BYTES
    }

    /// Offset of cluster `index`'s board requests (the runner writes them; see
    /// [`REQUEST_BYTES`]): the request's sequence number at +0 (bumped once its
    /// bytes are written), its length at +4, the shutdown requests so far at +8,
    /// its bytes from [`REQUEST_PAYLOAD`] on.
    pub fn requests(&self, index: usize) -> usize {
        self.registers()
            + LINE_BYTES
            + self.clusters * CLUSTER_REGISTERS_BYTES
            + index * REQUEST_BYTES
    }

    /// Bytes of one cluster region.
    pub fn region_bytes(&self) -> usize {
        self.region_bytes
    }

    /// Offset of the sync word `source -> destination` (in the sender's region, on a
    /// line of its own): a u64 whose high half is the sender's epoch and low half
    /// the signals sent in that epoch.
    pub fn sync(&self, source: usize, destination: usize) -> usize {
        self.region(source) + self.syncs_offset + destination * LINE_BYTES
    }

    /// Offset of the data-NoC head counter of `source -> destination`.
    pub fn data_head(&self, source: usize, destination: usize) -> usize {
        self.region(source) + self.control_bytes + destination * self.data_channel_bytes
    }

    /// Offset of the flag a data sender raises while it waits for room (on its head's
    /// line: the receiver reads it once per chunk, and wakes the sender).
    pub fn data_writer_waiting(&self, source: usize, destination: usize) -> usize {
        self.data_head(source, destination) + 4
    }

    /// Offset of data slot `position % data.depth` of `source -> destination`.
    pub fn data_slot(&self, source: usize, destination: usize, position: u32) -> usize {
        self.data_head(source, destination)
            + LINE_BYTES
            + (position as usize & (self.data.depth - 1)) * self.data.slot_bytes()
    }

    /// Offset of the data-NoC tail counter of `source -> destination` (in the
    /// destination's region).
    pub fn data_tail(&self, source: usize, destination: usize) -> usize {
        self.region(destination)
            + self.control_bytes
            + self.clusters * self.data_channel_bytes
            + source * LINE_BYTES
    }

    /// Offset of cluster `index`'s region.
    pub fn region(&self, index: usize) -> usize {
        self.regions_start + index * self.region_bytes
    }

    /// Offset of the head counter of channel `source -> destination` (only its
    /// sender reads it: it survives the sender's reboots with the region).
    pub fn head(&self, source: usize, destination: usize) -> usize {
        self.region(source) + destination * self.channel_bytes
    }

    /// Offset of slot `position % depth` of channel `source -> destination`.
    pub fn slot(&self, source: usize, destination: usize, position: u32) -> usize {
        self.head(source, destination)
            + LINE_BYTES
            + (position as usize & (self.depth - 1)) * SLOT_BYTES
    }

    /// Offset of the tail counter of channel `source -> destination` (in the
    /// destination's region: only the receiver moves it).
    pub fn tail(&self, source: usize, destination: usize) -> usize {
        self.region(destination) + self.clusters * self.channel_bytes + source * LINE_BYTES
    }

    /// Offset of cluster `index`'s "receivers sleeping" count (senders wake it).
    pub fn sleeping(&self, index: usize) -> usize {
        self.region(index) + self.clusters * self.channel_bytes + self.clusters * LINE_BYTES
    }

    /// Total bytes of the NoC memory.
    pub fn total_bytes(&self) -> usize {
        self.region(self.clusters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_page_aligned_and_disjoint() {
        let layout = Layout::new(20, 16);
        for index in 0..20 {
            assert_eq!(layout.region(index) % PAGE_BYTES, 0);
            let end = layout.region(index) + layout.region_bytes();
            assert!(layout.sleeping(index) + 4 <= end);
            assert!(layout.tail(19, index) + 4 <= end);
            assert!(layout.slot(index, 19, 15) + SLOT_BYTES <= layout.tail(0, index));
            assert_eq!(layout.region(index + 1), end);
        }
        assert!(layout.cluster_state(19) + CLUSTER_REGISTERS_BYTES <= layout.requests(0));
        assert!(layout.requests(19) + REQUEST_BYTES <= layout.region(0));
        for index in 0..20 {
            let end = layout.region(index) + layout.region_bytes();
            assert!(layout.data_head(index, 0) >= layout.sleeping(index) + LINE_BYTES);
            let last = DATA_DEPTH as u32 - 1;
            assert!(
                layout.data_slot(index, 19, last) + DATA_SLOT_BYTES <= layout.data_tail(0, index)
            );
            assert!(layout.data_tail(19, index) + 4 <= layout.sync(index, 0));
            assert!(layout.sync(index, 19) + 8 <= end);
            assert_eq!(
                layout.data_slot(index, 3, DATA_DEPTH as u32),
                layout.data_slot(index, 3, 0)
            );
            assert_ne!(
                layout.data_slot(index, 3, last),
                layout.data_slot(index, 3, 0)
            );
        }
        assert_eq!(layout.slot(3, 4, 16), layout.slot(3, 4, 0));
        assert_eq!(layout.total_bytes() % PAGE_BYTES, 0);
    }

    #[test]
    fn a_smaller_data_geometry_makes_a_smaller_memory_with_the_same_control_part() {
        let small = DataGeometry {
            chunk_bytes: 16 << 10,
            depth: 4,
        };
        let hosted = Layout::new(20, 8);
        let layout = Layout::with_data(20, 8, small);
        assert!(layout.total_bytes() * 10 < hosted.total_bytes());
        assert_eq!(
            layout.tail(3, 4) - layout.region(4),
            hosted.tail(3, 4) - hosted.region(4)
        );
        for index in 0..20 {
            let last = small.depth as u32 - 1;
            assert!(
                layout.data_slot(index, 19, last) + small.slot_bytes()
                    <= layout.data_tail(0, index)
            );
            assert_eq!(
                layout.data_slot(index, 3, small.depth as u32),
                layout.data_slot(index, 3, 0)
            );
            assert!(layout.sync(index, 19) + 8 <= layout.region(index + 1));
        }
    }
}
