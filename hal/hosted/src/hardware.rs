//! The NoC shared memory: created and owned by the runner, attached by clusters.

use crate::futex::{self, Scope};
use crate::layout::{Layout, PAGE_BYTES, ROM_BYTES, ROM_MAGIC, state};
use nanvix_abi::NOC_PAYLOAD_MAX;
use nanvix_board::Board;
use nanvix_hal::ClusterState;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// A mapping of the NoC memory (whole, in the runner; per-region rights in a cluster).
pub struct NocMemory {
    base: *mut u8,
    bytes: usize,
    layout: Layout,
}

// SAFETY: the mapping is plain shared memory accessed only through atomics and
// volatile copies; it lives as long as the value and may be used from any thread.
unsafe impl Send for NocMemory {}
// SAFETY: as above; all shared accesses go through `AtomicU32` or explicit copies
// guarded by the channel protocol.
unsafe impl Sync for NocMemory {}

impl NocMemory {
    /// The layout of this memory.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The whole mapping as 32-bit words.
    #[inline]
    fn words(&self) -> &[AtomicU32] {
        // SAFETY: the mapping is page-aligned, `bytes` long and lives as long as
        // `self`; all concurrent access to it is atomic.
        unsafe { std::slice::from_raw_parts(self.base.cast::<AtomicU32>(), self.bytes / 4) }
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
    pub fn word64(&self, offset: usize) -> &std::sync::atomic::AtomicU64 {
        assert!(
            offset.is_multiple_of(8) && offset + 8 <= self.bytes,
            "NoC offset out of range"
        );
        // SAFETY: the offset is in range and 8-aligned (checked above), the mapping
        // lives as long as `self`, and all concurrent access to it is atomic.
        unsafe { std::sync::atomic::AtomicU64::from_ptr(self.base.add(offset).cast::<u64>()) }
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
    pub(crate) fn registers_of(&self, index: usize) -> Registers {
        Registers(self.place(self.layout.cluster_state(index), 8))
    }

    /// The place of the `length` bytes at `offset` (4-aligned), checked once here
    /// so the hot paths reach them without a range check per access. Panics past the
    /// end of the mapping: offsets come from the layout, never from a message.
    pub(crate) fn place(&self, offset: usize, length: usize) -> Place {
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

    /// Attaches a cluster to the NoC memory behind `fd`: reads the board from the ROM,
    /// maps everything read-only and the cluster's own region writable.
    pub fn attach(fd: RawFd, cluster: usize) -> io::Result<(Board, NocMemory)> {
        let rom = map(fd, ROM_BYTES, libc::PROT_READ, 0)?;
        let board = decode_rom(&rom);
        drop(rom);
        let board = board?;
        if cluster >= board.clusters.len() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cluster index not on this board",
            ));
        }
        let layout = Layout::new(board.clusters.len(), board.channel_depth as usize);
        let mut whole = map(fd, layout.total_bytes(), libc::PROT_READ, 0)?;
        let region = layout.region(cluster);
        // SAFETY: the target range lies inside `whole` (a mapping we own); MAP_FIXED
        // replaces exactly the cluster's own region with a writable view of the same
        // file range, which nothing else in this process references yet.
        let remapped = unsafe {
            libc::mmap(
                whole.base.add(region).cast(),
                layout.region_bytes(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_FIXED,
                fd,
                region as libc::off_t,
            )
        };
        if remapped == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        whole.layout = layout;
        Ok((board, whole))
    }
}

/// A range of the NoC memory checked against its mapping once (by
/// [`NocMemory::place`]): a channel's words and slots are placed when a cluster
/// attaches and reached through their places on every message, with no range check
/// per access. A place is only good with the mapping that made it, which its
/// holder keeps alive next to it (the accessors borrow that memory for the
/// lifetime of what they return, and debug builds check the place lies in it).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Place {
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
        unsafe { std::slice::from_raw_parts(self.address.cast::<AtomicU64>(), length.div_ceil(8)) }
    }
}

/// The place of one cluster's state registers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Registers(Place);

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
        // SAFETY: `base`/`bytes` describe a mapping this value created and owns.
        unsafe { libc::munmap(self.base.cast(), self.bytes) };
    }
}

fn map(fd: RawFd, bytes: usize, protection: i32, offset: usize) -> io::Result<NocMemory> {
    // SAFETY: a fresh shared mapping of `fd`; the kernel picks the address.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            protection,
            libc::MAP_SHARED,
            fd,
            offset as libc::off_t,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok(NocMemory {
        base: base.cast(),
        bytes,
        layout: Layout::new(0, 1),
    })
}

fn decode_rom(rom: &NocMemory) -> io::Result<Board> {
    let invalid =
        |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("board ROM: {what}"));
    if rom.word(0).load(Ordering::Acquire) != ROM_MAGIC {
        return Err(invalid("bad magic"));
    }
    let length = rom.word(4).load(Ordering::Acquire) as usize;
    if length > ROM_BYTES - 8 {
        return Err(invalid("length out of range"));
    }
    let mut bytes = vec![0u8; length];
    // SAFETY: the source range lies in the ROM mapping (checked above) and the
    // destination is a fresh buffer of the same length.
    unsafe { std::ptr::copy_nonoverlapping(rom.address(8, length), bytes.as_mut_ptr(), length) };
    postcard::from_bytes(&bytes).map_err(|_| invalid("does not decode"))
}

/// The board's hardware as the runner owns it: the NoC memory and its registers.
pub struct BoardHardware {
    file: OwnedFd,
    memory: NocMemory,
}

impl BoardHardware {
    /// Creates the NoC memory for `board`: an anonymous memory file (nothing appears
    /// in `/dev/shm`, so nothing can be left behind) inherited by cluster processes.
    pub fn create(board: &Board) -> io::Result<BoardHardware> {
        let rom =
            postcard::to_allocvec(board).map_err(|_| io::Error::other("board does not encode"))?;
        if rom.len() > ROM_BYTES - 8 {
            return Err(io::Error::other("board description too large for the ROM"));
        }
        let layout = Layout::new(board.clusters.len(), board.channel_depth as usize);
        // SAFETY: memfd_create with a static NUL-terminated name; no CLOEXEC so the
        // cluster processes the runner starts inherit the descriptor.
        let raw = unsafe { libc::memfd_create(c"nanvix-noc".as_ptr(), 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor that nothing else owns.
        let file = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: `file` is a valid memory file descriptor.
        if unsafe { libc::ftruncate(file.as_raw_fd(), layout.total_bytes() as libc::off_t) } != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut memory = map(
            file.as_raw_fd(),
            layout.total_bytes(),
            libc::PROT_READ | libc::PROT_WRITE,
            0,
        )?;
        memory.layout = layout;
        memory.word(0).store(ROM_MAGIC, Ordering::Release);
        memory.word(4).store(rom.len() as u32, Ordering::Release);
        // SAFETY: the destination lies inside the ROM area of the writable mapping
        // (length checked above); the source is the encoded board.
        unsafe {
            std::ptr::copy_nonoverlapping(rom.as_ptr(), memory.address(8, rom.len()), rom.len())
        };
        // Every epoch register starts at 0: no cluster has booted (the first boot is
        // epoch 1). The file is new, so it holds zeros already.
        debug_assert_eq!(layout.total_bytes() % PAGE_BYTES, 0);
        Ok(BoardHardware { file, memory })
    }

    /// The descriptor cluster processes inherit.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// The epoch cluster `index`'s next (or current) boot has.
    /// (The epoch of the current, dead or last incarnation; 0 for a cluster never
    /// booted. A boot takes the next.)
    pub fn epoch(&self, index: usize) -> u32 {
        self.memory.cluster_epoch(index)
    }

    /// Records the status cluster `index`'s incarnation ended with (its worst
    /// program's, or 128 + the signal that ended it; 0 while on). Set it before the
    /// state, whose change readers watch.
    /// With it, how it ended (`ending`, see `BoardControl::cluster_ending`).
    pub fn set_status(&self, index: usize, status: i32, ending: u32) {
        let offset = self.memory.layout.cluster_state(index) + 8;
        self.memory
            .word(offset)
            .store(status as u32, Ordering::SeqCst);
        self.memory.word(offset + 4).store(ending, Ordering::SeqCst);
    }

    /// The status register of cluster `index`.
    pub fn status(&self, index: usize) -> i32 {
        self.memory.cluster_status(index)
    }

    /// Records that cluster `index` started its `run`-th program of the epoch
    /// (`idle`: false) or that its programs ended and it waits for one (`idle`:
    /// true). Set before the state, whose change readers watch.
    pub fn set_run(&self, index: usize, run: u32, idle: bool) {
        let offset = self.memory.layout.cluster_state(index) + 16;
        self.memory.word(offset).store(run, Ordering::SeqCst);
        self.memory
            .word(offset + 4)
            .store(u32::from(idle), Ordering::SeqCst);
    }

    /// Records that the manifest booted cluster `index` with its program in boot
    /// epoch `epoch` (before the epoch's state is published).
    pub fn set_system_epoch(&self, index: usize, epoch: u32) {
        let offset = self.memory.layout.cluster_state(index) + 24;
        self.memory.word(offset).store(epoch, Ordering::SeqCst);
    }

    /// The state registers say cluster `index` is in.
    pub fn state(&self, index: usize) -> ClusterState {
        self.memory.cluster_state(index)
    }

    /// Sets cluster `index`'s state and wakes every cluster waiting on the NoC, so
    /// none waits forever on a peer that died.
    pub fn set_state(&self, index: usize, new_state: ClusterState) {
        let offset = self.memory.layout.cluster_state(index);
        let (code, epoch) = match new_state {
            ClusterState::Off => (state::OFF, self.epoch(index)),
            ClusterState::On { epoch } => (state::ON, epoch),
            ClusterState::Dead { epoch } => (state::DEAD, epoch),
        };
        self.memory.word(offset + 4).store(epoch, Ordering::SeqCst);
        self.memory.word(offset).store(code, Ordering::SeqCst);
        self.memory.generation().fetch_add(1, Ordering::SeqCst);
        futex::wake(self.memory.generation(), Scope::Shared, i32::MAX);
    }
}
