//! The NoC memory as one cluster or the runner sees it: a mapping of the whole
//! (its layout's offsets reach every word) with the board ROM and registers, and
//! places of its channels checked once.

use crate::layout::{Layout, REQUEST_BYTES, REQUEST_PAYLOAD, ROM_BYTES, ROM_MAGIC, state};
use alloc::vec;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use nanvix_abi::NOC_PAYLOAD_MAX;
use nanvix_board::Board;
use nanvix_hal::ClusterState;

/// A mapping of the NoC memory (whole, in the runner; per-region rights in a hosted
/// cluster; the ivshmem region of a qemu-x86_64 machine).
pub struct NocMemory {
    base: *mut u8,
    bytes: usize,
    layout: Layout,
    /// Undoes the mapping when the value drops (hosted: munmap), if anything must.
    release: Option<unsafe fn(*mut u8, usize)>,
}

// SAFETY: the mapping is plain shared memory accessed only through atomics and
// volatile copies; it lives as long as the value and may be used from any thread.
unsafe impl Send for NocMemory {}
// SAFETY: as above; all shared accesses go through `AtomicU32` or explicit copies
// guarded by the channel protocol.
unsafe impl Sync for NocMemory {}

impl NocMemory {
    /// The memory of `bytes` bytes at `base`, laid out as `layout`; `release` undoes
    /// the mapping when the value drops.
    ///
    /// # Safety
    ///
    /// `base..base + bytes` stays mapped, readable (and writable where this side
    /// writes) and 8-aligned for the value's life, every other user of it goes
    /// through atomics or the channel protocol, and `layout.total_bytes()` fits in
    /// it (the accessors check offsets against `bytes`).
    pub unsafe fn from_raw(
        base: *mut u8,
        bytes: usize,
        layout: Layout,
        release: Option<unsafe fn(*mut u8, usize)>,
    ) -> NocMemory {
        NocMemory {
            base,
            bytes,
            layout,
            release,
        }
    }

    /// The first byte of the mapping.
    pub fn base(&self) -> *mut u8 {
        self.base
    }

    /// The memory with `layout` (for a mapping made before the board was known).
    pub fn with_layout(mut self, layout: Layout) -> NocMemory {
        self.layout = layout;
        self
    }

    /// The layout of this memory.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The whole mapping as 32-bit words.
    #[inline]
    fn words(&self) -> &[AtomicU32] {
        // SAFETY: the mapping is page-aligned, `bytes` long and lives as long as
        // `self`; all concurrent access to it is atomic.
        unsafe { core::slice::from_raw_parts(self.base.cast::<AtomicU32>(), self.bytes / 4) }
    }

    /// The 32-bit word at `offset` (a multiple of 4: layout offsets always are).
    /// Panics past the end of the mapping: offsets come from the layout, never from
    /// a message.
    #[inline]
    pub fn word(&self, offset: usize) -> &AtomicU32 {
        debug_assert!(offset.is_multiple_of(4), "NoC offset not word-aligned");
        &self.words()[offset / 4]
    }

    /// The 64-bit word at `offset`.
    pub fn word64(&self, offset: usize) -> &AtomicU64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= self.bytes,
            "NoC offset out of range"
        );
        // SAFETY: the offset is in range and 8-aligned (checked above), the mapping
        // lives as long as `self`, and all concurrent access to it is atomic.
        unsafe { AtomicU64::from_ptr(self.base.add(offset).cast::<u64>()) }
    }

    /// Address of the byte at `offset` (for slot payload copies).
    pub fn address(&self, offset: usize, length: usize) -> *mut u8 {
        assert!(offset + length <= self.bytes, "NoC range out of bounds");
        // SAFETY: in bounds of the mapping (checked above).
        unsafe { self.base.add(offset) }
    }

    /// The state of cluster `index` as the registers say.
    pub fn cluster_state(&self, index: usize) -> ClusterState {
        self.registers_of(index).state(self)
    }

    /// The place of cluster `index`'s state registers (state word, then epoch word).
    pub fn registers_of(&self, index: usize) -> Registers {
        Registers(self.place(self.layout.cluster_state(index), 8))
    }

    /// The place of the `length` bytes at `offset` (4-aligned), checked once here
    /// so the hot paths reach them without a range check per access. Panics past the
    /// end of the mapping: offsets come from the layout, never from a message.
    pub fn place(&self, offset: usize, length: usize) -> Place {
        assert!(
            offset.is_multiple_of(4) && offset + length <= self.bytes,
            "NoC place out of range"
        );
        Place {
            // SAFETY: in bounds of the mapping (checked above).
            address: unsafe { self.base.add(offset) },
        }
    }

    /// Whether `length` bytes at `place` lie in this mapping (for debug checks).
    fn holds(&self, place: Place, length: usize) -> bool {
        let start = self.base as usize;
        (start..=start + self.bytes - length).contains(&(place.address as usize))
    }

    /// The epoch the registers give cluster `index` (current or next boot).
    pub fn cluster_epoch(&self, index: usize) -> u32 {
        self.registers_of(index).epoch(self)
    }

    /// The status cluster `index`'s last incarnation ended with (0 while on).
    pub fn cluster_status(&self, index: usize) -> i32 {
        self.word(self.layout.cluster_state(index) + 8)
            .load(Ordering::Acquire) as i32
    }

    /// How cluster `index`'s last incarnation ended (see
    /// `BoardControl::cluster_ending`; 0 while on).
    pub fn cluster_ending(&self, index: usize) -> u32 {
        self.word(self.layout.cluster_state(index) + 12)
            .load(Ordering::Acquire)
    }

    /// How many programs cluster `index` started in its current (or last) epoch.
    pub fn cluster_run(&self, index: usize) -> u32 {
        self.word(self.layout.cluster_state(index) + 16)
            .load(Ordering::Acquire)
    }

    /// Whether cluster `index` is on and idle: warm, waiting for a program.
    pub fn cluster_idle(&self, index: usize) -> bool {
        self.word(self.layout.cluster_state(index) + 20)
            .load(Ordering::Acquire)
            != 0
    }

    /// The epoch in which the manifest booted cluster `index` with its program (0:
    /// never).
    pub fn cluster_system_epoch(&self, index: usize) -> u32 {
        self.word(self.layout.cluster_state(index) + 24)
            .load(Ordering::Acquire)
    }

    /// The generation counter, bumped on every cluster state change.
    pub fn generation(&self) -> &AtomicU32 {
        self.word(self.layout.generation())
    }
}

/// A range of the NoC memory checked against its mapping once (by
/// [`NocMemory::place`]): a channel's words and slots are placed when a cluster
/// attaches and reached through their places on every message, with no range check
/// per access. A place is only good with the mapping that made it, which its
/// holder keeps alive next to it (the accessors borrow that memory for the
/// lifetime of what they return, and debug builds check the place lies in it).
#[derive(Clone, Copy, Debug)]
pub struct Place {
    address: *mut u8,
}

// SAFETY: a place is only an address; everything reached through it is shared memory
// accessed atomically or by copies the channel protocol orders, as for `NocMemory`.
unsafe impl Send for Place {}
// SAFETY: as above.
unsafe impl Sync for Place {}

impl Place {
    /// The place `bytes` further on.
    ///
    /// # Safety
    ///
    /// The result must lie inside the range the original place was checked for,
    /// aligned and with room for what will be read there.
    #[inline]
    pub unsafe fn add(self, bytes: usize) -> Place {
        Place {
            // SAFETY: in the checked range (the caller's promise).
            address: unsafe { self.address.add(bytes) },
        }
    }

    /// The 32-bit word here, in `memory` (the mapping that made this place).
    #[inline]
    pub fn word(self, memory: &NocMemory) -> &AtomicU32 {
        debug_assert!(memory.holds(self, 4), "NoC place of another mapping");
        // SAFETY: the place was checked in range of `memory`'s mapping when placed
        // (debug builds check it again) and is 4-aligned; the borrow of `memory`
        // keeps the mapping alive; all concurrent access to it is atomic.
        unsafe { &*self.address.cast::<AtomicU32>() }
    }

    /// The 64-byte line here (a slot header) as sixteen 32-bit words, in `memory`.
    #[inline]
    pub fn line(self, memory: &NocMemory) -> &[AtomicU32; 16] {
        debug_assert!(memory.holds(self, 64), "NoC place of another mapping");
        // SAFETY: as for `word`: slot places are line-aligned and a slot holds at
        // least a line.
        unsafe { &*self.address.cast::<[AtomicU32; 16]>() }
    }

    /// The address here, for bulk copies the channel protocol orders.
    #[inline]
    pub fn address(self) -> *mut u8 {
        self.address
    }

    /// Writes a small `bytes` (a control payload, at most [`NOC_PAYLOAD_MAX`]) here
    /// as 64-bit words: no call, and atomic accesses only, like everything else shared.
    /// Panics on a longer payload.
    #[inline]
    pub fn write_small(self, memory: &NocMemory, bytes: &[u8]) {
        let words = self.payload_words(memory, bytes.len());
        let whole = bytes.chunks_exact(8);
        let rest = whole.remainder();
        let mut index = 0;
        for chunk in whole {
            let value = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            words[index].store(value, Ordering::Relaxed);
            index += 1;
        }
        if !rest.is_empty() {
            // Byte by byte: a variable-length copy would be a call to memcpy.
            let value = rest
                .iter()
                .rev()
                .fold(0u64, |value, byte| (value << 8) | u64::from(*byte));
            words[index].store(value, Ordering::Relaxed);
        }
    }

    /// Reads `out.len()` bytes written by [`write_small`](Self::write_small) here.
    #[inline]
    pub fn read_small(self, memory: &NocMemory, out: &mut [u8]) {
        let words = self.payload_words(memory, out.len());
        let mut whole = out.chunks_exact_mut(8);
        let mut index = 0;
        for chunk in &mut whole {
            chunk.copy_from_slice(&words[index].load(Ordering::Relaxed).to_le_bytes());
            index += 1;
        }
        let rest = whole.into_remainder();
        if !rest.is_empty() {
            let mut value = words[index].load(Ordering::Relaxed);
            for byte in rest {
                *byte = value as u8;
                value >>= 8;
            }
        }
    }

    /// The 64-bit words holding `length` payload bytes here.
    #[inline]
    fn payload_words(self, memory: &NocMemory, length: usize) -> &[AtomicU64] {
        assert!(length <= NOC_PAYLOAD_MAX, "NoC payload too long");
        debug_assert!(
            memory.holds(self, NOC_PAYLOAD_MAX),
            "NoC place of another mapping"
        );
        debug_assert!(self.address.cast::<AtomicU64>().is_aligned());
        // SAFETY: payload places are 8-aligned places of slots with room for a whole
        // payload (checked when placed; again in debug builds), and `length` fits it
        // (checked above); the borrow of `memory` keeps the mapping alive; all
        // concurrent access is atomic.
        unsafe { core::slice::from_raw_parts(self.address.cast::<AtomicU64>(), length.div_ceil(8)) }
    }
}

/// The place of one cluster's state registers.
#[derive(Clone, Copy, Debug)]
pub struct Registers(Place);

impl Registers {
    /// The cluster's state, in `memory`.
    #[inline]
    pub fn state(self, memory: &NocMemory) -> ClusterState {
        let epoch = self.epoch(memory);
        match self.0.word(memory).load(Ordering::Acquire) {
            state::ON => ClusterState::On { epoch },
            state::DEAD => ClusterState::Dead { epoch },
            _ => ClusterState::Off,
        }
    }

    /// The epoch the registers give the cluster (current or next boot), in `memory`.
    #[inline]
    pub fn epoch(self, memory: &NocMemory) -> u32 {
        // SAFETY: the registers were placed 8 bytes long; the epoch is the second word.
        unsafe { self.0.add(4) }
            .word(memory)
            .load(Ordering::Acquire)
    }
}

impl Drop for NocMemory {
    fn drop(&mut self) {
        if let Some(release) = self.release {
            // SAFETY: `from_raw`'s caller named `release` as what undoes this very
            // mapping; nothing borrows the memory once the value drops.
            unsafe { release(self.base, self.bytes) };
        }
    }
}

/// Why the board ROM did not give a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RomError {
    /// No ROM magic at its start.
    BadMagic,
    /// Its length runs past the ROM.
    Length,
    /// Its bytes do not decode.
    Corrupt,
    /// The board is too large for the ROM.
    TooLarge,
}

impl RomError {
    /// What went wrong, in words.
    pub fn text(&self) -> &'static str {
        match self {
            RomError::BadMagic => "board ROM: bad magic",
            RomError::Length => "board ROM: length out of range",
            RomError::Corrupt => "board ROM: does not decode",
            RomError::TooLarge => "board description too large for the ROM",
        }
    }
}

impl core::fmt::Display for RomError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(self.text())
    }
}

/// The board the ROM at the start of `rom` describes.
pub fn read_board(rom: &NocMemory) -> Result<Board, RomError> {
    let length = (rom.word(4).load(Ordering::Acquire) as usize).min(ROM_BYTES - 8);
    let mut bytes = vec![0u8; 8 + length];
    // SAFETY: the source range lies in the ROM mapping (at most its bytes) and the
    // destination is a fresh buffer of the same length.
    unsafe {
        core::ptr::copy_nonoverlapping(rom.address(0, 8 + length), bytes.as_mut_ptr(), 8 + length)
    };
    decode_rom(&bytes)
}

/// The board a ROM's bytes describe (`rom`: the ROM's first bytes, as many as it
/// holds): its magic, its length, then the board (postcard). A machine reads it
/// before it knows the board, so before the memory's layout.
pub fn decode_rom(rom: &[u8]) -> Result<Board, RomError> {
    let word = |at: usize| {
        rom.get(at..at + 4)
            .map(|bytes| u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    };
    if word(0) != Some(ROM_MAGIC) {
        return Err(RomError::BadMagic);
    }
    let length = word(4).ok_or(RomError::Length)? as usize;
    if length > ROM_BYTES - 8 {
        return Err(RomError::Length);
    }
    let bytes = rom.get(8..8 + length).ok_or(RomError::Length)?;
    postcard::from_bytes(bytes).map_err(|_| RomError::Corrupt)
}

/// Writes `board` into the ROM at the start of `memory` (a fresh, zeroed memory the
/// caller alone writes: every register then says no cluster has booted).
pub fn write_rom(memory: &NocMemory, board: &Board) -> Result<(), RomError> {
    let rom = postcard::to_allocvec(board).map_err(|_| RomError::TooLarge)?;
    if rom.len() > ROM_BYTES - 8 {
        return Err(RomError::TooLarge);
    }
    memory.word(0).store(ROM_MAGIC, Ordering::Release);
    memory.word(4).store(rom.len() as u32, Ordering::Release);
    // SAFETY: the destination lies inside the ROM area of the mapping (length checked
    // above); the source is the encoded board.
    unsafe {
        core::ptr::copy_nonoverlapping(rom.as_ptr(), memory.address(8, rom.len()), rom.len())
    };
    Ok(())
}

/// Why a board request was not posted or read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// Its bytes do not fit the request area.
    TooLong,
}

/// The board's side of the registers (the runner writes them).
impl NocMemory {
    /// Posts `bytes` as cluster `index`'s next program request (the cluster takes
    /// it when it looks: [`NocMemory::program_request`]).
    pub fn post_program_request(&self, index: usize, bytes: &[u8]) -> Result<(), RequestError> {
        if bytes.len() > REQUEST_BYTES - REQUEST_PAYLOAD {
            return Err(RequestError::TooLong);
        }
        let area = self.layout.requests(index);
        // SAFETY: the request's bytes lie inside the cluster's request area (length
        // checked above); only the runner writes it, and the cluster reads them only
        // after the sequence number below says they are whole.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.address(area + REQUEST_PAYLOAD, bytes.len()),
                bytes.len(),
            )
        };
        self.word(area + 4)
            .store(bytes.len() as u32, Ordering::Release);
        self.word(area).fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// Asks cluster `index` for an orderly shutdown (it sees the count move).
    pub fn post_shutdown_request(&self, index: usize) {
        self.word(self.layout.requests(index) + 8)
            .fetch_add(1, Ordering::AcqRel);
    }

    /// Cluster `index`'s program request if its sequence number is not `seen`: the
    /// number and the request's bytes, copied into `into` (their length).
    pub fn program_request(
        &self,
        index: usize,
        seen: u32,
        into: &mut [u8],
    ) -> Option<(u32, usize)> {
        let area = self.layout.requests(index);
        let sequence = self.word(area).load(Ordering::Acquire);
        if sequence == seen {
            return None;
        }
        let length = (self.word(area + 4).load(Ordering::Acquire) as usize)
            .min(REQUEST_BYTES - REQUEST_PAYLOAD)
            .min(into.len());
        // SAFETY: the bytes lie in the request area (length bounded above); the
        // runner wrote them before it bumped the sequence number read above.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.address(area + REQUEST_PAYLOAD, length),
                into.as_mut_ptr(),
                length,
            )
        };
        Some((sequence, length))
    }

    /// The sequence number of cluster `index`'s latest program request (0: none
    /// yet).
    pub fn request_sequence(&self, index: usize) -> u32 {
        self.word(self.layout.requests(index))
            .load(Ordering::Acquire)
    }

    /// The shutdown requests cluster `index` was sent so far.
    pub fn shutdown_requests(&self, index: usize) -> u32 {
        self.word(self.layout.requests(index) + 8)
            .load(Ordering::Acquire)
    }

    /// Records the status cluster `index`'s incarnation ended with and how it ended
    /// (see `BoardControl::cluster_status` and `cluster_ending`); before the state,
    /// whose change readers watch.
    pub fn set_cluster_status(&self, index: usize, status: i32, ending: u32) {
        let offset = self.layout.cluster_state(index) + 8;
        self.word(offset).store(status as u32, Ordering::SeqCst);
        self.word(offset + 4).store(ending, Ordering::SeqCst);
    }

    /// Records that cluster `index` started its `run`-th program of the epoch, or
    /// (`idle`) that its programs ended and it waits for one; before the state.
    pub fn set_cluster_run(&self, index: usize, run: u32, idle: bool) {
        let offset = self.layout.cluster_state(index) + 16;
        self.word(offset).store(run, Ordering::SeqCst);
        self.word(offset + 4)
            .store(u32::from(idle), Ordering::SeqCst);
    }

    /// Records that the manifest booted cluster `index` with its program in boot
    /// epoch `epoch` (before the epoch's state is published).
    pub fn set_cluster_system_epoch(&self, index: usize, epoch: u32) {
        let offset = self.layout.cluster_state(index) + 24;
        self.word(offset).store(epoch, Ordering::SeqCst);
    }

    /// Sets cluster `index`'s state and bumps the generation (the caller wakes the
    /// clusters that wait on it, where its doorbells can).
    pub fn set_cluster_state(&self, index: usize, new_state: ClusterState) {
        let offset = self.layout.cluster_state(index);
        let (code, epoch) = match new_state {
            ClusterState::Off => (state::OFF, self.cluster_epoch(index)),
            ClusterState::On { epoch } => (state::ON, epoch),
            ClusterState::Dead { epoch } => (state::DEAD, epoch),
        };
        self.word(offset + 4).store(epoch, Ordering::SeqCst);
        self.word(offset).store(code, Ordering::SeqCst);
        self.generation().fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use nanvix_board::{Cluster, ClusterKind, Topology};

    fn board() -> Board {
        Board {
            name: "one".to_string(),
            description: alloc::string::String::new(),
            clusters: vec![Cluster {
                name: "cc0".to_string(),
                index: 0,
                kind: ClusterKind::Compute,
                cores: 4,
                sram_bytes: 2 << 20,
                first_node: 0,
                node_count: 1,
                ddr_attached: false,
            }],
            ddr_bytes: 0,
            topology: Topology::Torus {
                width: 1,
                height: 1,
            },
            channel_depth: 8,
        }
    }

    /// A ROM's bytes: magic, `length`, then `body`.
    fn rom(magic: u32, length: u32, body: &[u8]) -> alloc::vec::Vec<u8> {
        let mut bytes = magic.to_le_bytes().to_vec();
        bytes.extend_from_slice(&length.to_le_bytes());
        bytes.extend_from_slice(body);
        bytes
    }

    #[test]
    fn a_rom_gives_its_board_and_a_bad_one_its_reason() {
        let body = postcard::to_allocvec(&board()).unwrap();
        let length = body.len() as u32;
        assert_eq!(decode_rom(&rom(ROM_MAGIC, length, &body)), Ok(board()));
        assert_eq!(decode_rom(&[]), Err(RomError::BadMagic));
        assert_eq!(
            decode_rom(&rom(ROM_MAGIC + 1, length, &body)),
            Err(RomError::BadMagic)
        );
        assert_eq!(
            decode_rom(&rom(ROM_MAGIC, ROM_BYTES as u32, &body)),
            Err(RomError::Length)
        );
        assert_eq!(
            decode_rom(&rom(ROM_MAGIC, length + 1, &body)),
            Err(RomError::Length),
            "a length past the bytes there are"
        );
        assert_eq!(
            decode_rom(&rom(ROM_MAGIC, 3, &[0xff, 0xff, 0xff])),
            Err(RomError::Corrupt)
        );
    }
}
