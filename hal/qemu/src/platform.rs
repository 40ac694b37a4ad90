//! The qemu-x86_64 platform of one cluster: the HAL's [`Platform`] on this machine's
//! cores, ring 3 and RAM, its board reports on the serial console.
//!
//! Its SRAM is a range of the machine's RAM, its MMU window real page tables
//! ([`paging`]); the NoC is the board's shared NoC memory (an ivshmem device every
//! machine of the board maps), with polled doorbells; the board registers are that
//! memory's, which the runner writes; console input is the serial port's; the disk
//! and the DDR are their files, mapped whole as ivshmem devices.

use crate::console::{self, Console};
use crate::cores::{CONTEXTS, CORES, QemuCores};
use crate::lock::KernelLock;
use crate::paging;
use crate::user::{QemuUserMode, USER_MODE};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use core::time::Duration;
use nanvix_board::Board;
use nanvix_board_protocol::{ClusterReport, END_OF_INPUT, ProgramRequest, report_line};
use nanvix_hal::{
    BoardControl, ClusterMemory, ClusterState, ConsoleInput, Cores, Ddr, DdrError, Disk, DiskError,
    EndOfInput, HardwareEvent, MmuError, Platform, PowerError, StageError,
};
use nanvix_noc_memory::noc::Doorbell;
use nanvix_noc_memory::{NocMemory, SharedNoc};

/// The cluster's SRAM: a range of RAM the boot gives it, as large as the board says.
pub struct QemuMemory {
    base: usize,
    size: usize,
}

impl ClusterMemory for QemuMemory {
    fn base(&self) -> usize {
        self.base
    }

    fn size(&self) -> usize {
        self.size
    }

    fn window(&self) -> (usize, usize) {
        (paging::WINDOW_BASE, paging::WINDOW_BYTES)
    }

    fn map(
        &self,
        virtual_address: usize,
        frame: usize,
        bytes: usize,
        writable: bool,
        executable: bool,
    ) -> Result<(), MmuError> {
        if frame.checked_add(bytes).is_none_or(|end| end > self.size) {
            return Err(MmuError::Refused);
        }
        paging::map(
            virtual_address,
            (self.base + frame) as u64,
            bytes,
            writable,
            executable,
        )
    }

    fn unmap(&self, virtual_address: usize, bytes: usize) -> Result<(), MmuError> {
        paging::unmap(virtual_address, bytes)
    }
}

/// How long a waiting core halts between looks at the NoC memory (nobody rings
/// across machines: doorbells are polled), in nanoseconds.
const POLL_NANOSECONDS: u64 = 1_000_000;

/// The longest a core waiting for arrivals halts between looks once nothing came
/// for a while, in nanoseconds (the wait starts at [`POLL_NANOSECONDS`] and doubles
/// with every look that found nothing: an idle machine wakes rarely, a busy one
/// looks often).
const IDLE_POLL_NANOSECONDS: u64 = 64_000_000;

/// This machine's doorbell: none across machines (Debian ships no ivshmem doorbell
/// server), so a sleeper parks for a poll interval at a time, longer while nothing
/// comes; the kernel's lock for senders' turns.
pub struct QemuDoorbell {
    /// Each context's looks in a row that found nothing.
    empty_looks: [AtomicU32; CONTEXTS],
}

impl QemuDoorbell {
    /// A doorbell whose contexts start polling often.
    pub fn new() -> QemuDoorbell {
        QemuDoorbell {
            empty_looks: [const { AtomicU32::new(0) }; CONTEXTS],
        }
    }
}

impl Default for QemuDoorbell {
    fn default() -> QemuDoorbell {
        QemuDoorbell::new()
    }
}

impl Doorbell for QemuDoorbell {
    type Lock = KernelLock;

    fn ring(&self, _: &AtomicU32) {}

    fn sleep_on(&self, word: &AtomicU32, value: u32, limit: Duration) {
        if word.load(Ordering::Acquire) == value {
            CORES.park_timeout(nanoseconds(limit).min(POLL_NANOSECONDS));
        }
    }

    fn wait_for_arrivals(
        &self,
        words: &[(&AtomicU32, u32)],
        idle: &dyn Fn() -> bool,
        limit: Duration,
    ) {
        let Some(looks) = self.empty_looks.get(CORES.current()) else {
            return;
        };
        let unchanged = || {
            words
                .iter()
                .all(|(word, value)| word.load(Ordering::Acquire) == *value)
        };
        if !(unchanged() && idle()) {
            looks.store(0, Ordering::Relaxed);
            return;
        }
        let empty = looks.load(Ordering::Relaxed).min(16);
        let poll = (POLL_NANOSECONDS << empty).min(IDLE_POLL_NANOSECONDS);
        CORES.park_timeout(nanoseconds(limit).min(poll));
        if unchanged() {
            looks.store(empty + 1, Ordering::Relaxed);
        } else {
            looks.store(0, Ordering::Relaxed);
        }
    }

    fn yield_now(&self) {
        crate::smp::take_interrupts();
    }

    fn discarded(&self, kind: &str, source: usize) {
        crate::say!(
            "nanvix-qemu: {} NoC: discarded a slot from cluster {} (forged node, stale epoch or bad length)",
            kind,
            source
        );
    }
}

/// `duration` in nanoseconds (saturating).
fn nanoseconds(duration: Duration) -> u64 {
    duration.as_nanos().min(u128::from(u64::MAX)) as u64
}

/// The NoC of this machine's cluster.
pub type QemuNoc = SharedNoc<QemuDoorbell>;

/// The board as this machine's cluster sees it: the registers in the shared NoC
/// memory, which the runner writes; reports go out on the serial console as report
/// lines.
pub struct QemuBoard {
    memory: Arc<NocMemory>,
    local: usize,
    /// The bundle's programs, which a power request or a spawn may name.
    programs: Vec<&'static str>,
    /// Whether the cluster stays on, idle, when its programs end.
    warm: bool,
    /// The sequence number of the last program request taken, and the shutdown
    /// requests seen (both as the request area said at boot, at first: what an
    /// earlier incarnation was sent is not this one's).
    requests_seen: AtomicU32,
    shutdowns_seen: AtomicU32,
}

/// The longest program request read.
const REQUEST_MAX: usize = 1024;

/// The ELF staged as `name` anywhere on the board (the staging store).
pub fn staged(name: &str) -> Option<&'static [u8]> {
    STORE.get()?.find(name)
}

/// The board's staging store: what the runner keeps of the programs the machines
/// staged (`nanvix_board_protocol::staging`), read-only here.
pub struct StagingStore {
    base: usize,
    size: usize,
}

/// This machine's view of the staging store, once attached.
static STORE: spin::Once<StagingStore> = spin::Once::new();

/// Attaches the staging store of `size` bytes mapped at `base`.
///
/// # Safety
///
/// `size` bytes at `base` are mapped for the machine's life; only the runner
/// writes them, as `nanvix_board_protocol::staging` says.
pub unsafe fn attach_staging_store(base: usize, size: usize) {
    STORE.call_once(|| StagingStore { base, size });
}

impl StagingStore {
    /// The 32-bit word at `offset` (4-aligned, inside the store's header).
    fn word(&self, offset: usize) -> u32 {
        // SAFETY: the offset lies in the mapped store's header and is aligned; the
        // runner writes it from another process, so the read is atomic.
        unsafe { core::sync::atomic::AtomicU32::from_ptr((self.base + offset) as *mut u32) }
            .load(Ordering::Acquire)
    }

    /// The 64-bit word at `offset` (8-aligned, in a published entry).
    fn word64(&self, offset: usize) -> u64 {
        // SAFETY: the offset lies in the entry table; a published entry no longer
        // changes.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u64) }
    }

    /// The ELF staged as `name`, if the runner published it.
    fn find(&self, name: &str) -> Option<&'static [u8]> {
        use nanvix_board_protocol::staging;
        if self.size < staging::DATA_START || self.word(0) != staging::MAGIC {
            return None;
        }
        let count = (self.word(staging::COUNT) as usize).min(staging::ENTRIES_MAX);
        (0..count).find_map(|index| {
            let entry = staging::entry(index);
            // SAFETY: the entry lies in the table (index below ENTRIES_MAX) and is
            // published (below the count read first): it no longer changes.
            let name_bytes = unsafe {
                core::slice::from_raw_parts((self.base + entry) as *const u8, staging::NAME_BYTES)
            };
            if staging::name(name_bytes)? != name {
                return None;
            }
            let offset = self.word64(entry + staging::NAME_BYTES) as usize;
            let length = self.word64(entry + staging::NAME_BYTES + 8) as usize;
            let inside = offset >= staging::DATA_START
                && offset
                    .checked_add(length)
                    .is_some_and(|end| end <= self.size);
            // SAFETY: the bytes lie in the store (checked) and, published, never
            // change for the machine's life.
            inside.then(|| unsafe {
                core::slice::from_raw_parts((self.base + offset) as *const u8, length)
            })
        })
    }
}

/// How long a staging machine waits for the board to have its program.
const STAGE_WAIT_NANOSECONDS: u64 = 30_000_000_000;

/// Writes `report` on the console as one report line.
pub fn send_report(report: &ClusterReport) {
    let mut line = report_line(report);
    line.push('\n');
    let _ = Console.write_str(&line);
}

impl BoardControl for QemuBoard {
    fn local_cluster(&self) -> usize {
        self.local
    }

    fn cluster_state(&self, index: usize) -> ClusterState {
        self.memory.cluster_state(index)
    }

    fn cluster_epoch(&self, index: usize) -> u32 {
        self.memory.cluster_epoch(index)
    }

    fn cluster_status(&self, index: usize) -> i32 {
        self.memory.cluster_status(index)
    }

    fn cluster_ending(&self, index: usize) -> u32 {
        self.memory.cluster_ending(index)
    }

    fn state_generation(&self) -> u32 {
        self.memory.generation().load(Ordering::Acquire)
    }

    fn report(&self, event: HardwareEvent<'_>) {
        send_report(&ClusterReport::from_event(&event));
    }

    fn console_line(&self, program: &str, line: &[u8]) {
        send_report(&ClusterReport::console(program, line));
    }

    fn log_bytes(&self, program: &str, bytes: &[u8]) {
        send_report(&ClusterReport::log(program, bytes));
    }

    fn power_off(&self, status: i32) -> ! {
        send_report(&ClusterReport::PowerOff { status });
        crate::machine::exit_passed(status == 0)
    }

    fn wait_for_state_change(&self, generation: u32, limit: Duration) {
        if self.state_generation() == generation {
            CORES.park_timeout(nanoseconds(limit).min(POLL_NANOSECONDS));
        }
    }

    fn power_on_cluster(
        &self,
        index: usize,
        program: &str,
        arguments: &str,
    ) -> Result<(), PowerError> {
        if !self.image_has_program(program) {
            return Err(PowerError::NoSuchProgram);
        }
        send_report(&ClusterReport::PowerOnCluster {
            cluster: index as u32,
            program: program.into(),
            arguments: arguments.into(),
        });
        Ok(())
    }

    fn image_has_program(&self, name: &str) -> bool {
        self.programs.contains(&name) || staged(name).is_some()
    }

    /// Sends the bytes to the runner and waits until they are in the board's
    /// staging store, where every machine finds them (this one for a spawn here, an
    /// idle machine asked over the NoC to run them).
    fn stage_program(&self, name: &str, elf: &[u8]) -> Result<(), StageError> {
        if STORE.get().is_none() {
            return Err(StageError::Unsupported);
        }
        let kept = |bytes: &[u8]| {
            if bytes == elf {
                Ok(())
            } else {
                Err(StageError::Exists)
            }
        };
        if let Some(bytes) = staged(name) {
            return kept(bytes);
        }
        send_report(&ClusterReport::stage(name, elf));
        let deadline = CORES.monotonic_nanoseconds() + STAGE_WAIT_NANOSECONDS;
        loop {
            if let Some(bytes) = staged(name) {
                return kept(bytes);
            }
            if CORES.monotonic_nanoseconds() > deadline {
                return Err(StageError::Failed);
            }
            CORES.park_timeout(POLL_NANOSECONDS);
        }
    }

    fn cluster_run(&self, index: usize) -> u32 {
        self.memory.cluster_run(index)
    }

    fn cluster_system_epoch(&self, index: usize) -> u32 {
        self.memory.cluster_system_epoch(index)
    }

    fn cluster_idle(&self, index: usize) -> bool {
        self.memory.cluster_idle(index)
    }

    fn warm(&self) -> bool {
        self.warm
    }

    fn idle(&self, status: i32) {
        send_report(&ClusterReport::Idle { status });
    }

    fn take_program_request(&self, start: &mut dyn FnMut(&str, &str, u32)) -> bool {
        let mut bytes = [0u8; REQUEST_MAX];
        let seen = self.requests_seen.load(Ordering::Acquire);
        let Some((sequence, length)) = self.memory.program_request(self.local, seen, &mut bytes)
        else {
            return false;
        };
        self.requests_seen.store(sequence, Ordering::Release);
        let Ok(request) = postcard::from_bytes::<ProgramRequest>(&bytes[..length]) else {
            return false;
        };
        start(&request.program, &request.arguments, request.run);
        true
    }

    fn take_shutdown_request(&self) -> bool {
        let now = self.memory.shutdown_requests(self.local);
        self.shutdowns_seen.swap(now, Ordering::AcqRel) != now
    }

    fn power_off_cluster(&self, index: usize, signal: u32) -> Result<(), PowerError> {
        send_report(&ClusterReport::PowerOffCluster {
            cluster: index as u32,
            signal,
        });
        Ok(())
    }
}

/// The serial port's input: what the terminal types (the runner carries it). The
/// byte [`END_OF_INPUT`] says the terminal closed its input.
pub struct SerialInput {
    ended: AtomicBool,
}

/// How long a core waiting for input halts between looks, in nanoseconds.
const INPUT_POLL_NANOSECONDS: u64 = 2_000_000;

impl ConsoleInput for SerialInput {
    fn try_read(&self, buffer: &mut [u8]) -> Result<usize, EndOfInput> {
        if self.ended.load(Ordering::Acquire) {
            return Err(EndOfInput);
        }
        let mut count = 0;
        while count < buffer.len() {
            match console::try_receive() {
                Some(END_OF_INPUT) => {
                    self.ended.store(true, Ordering::Release);
                    break;
                }
                Some(byte) => {
                    buffer[count] = byte;
                    count += 1;
                }
                None => break,
            }
        }
        if count == 0 && self.ended.load(Ordering::Acquire) {
            return Err(EndOfInput);
        }
        Ok(count)
    }

    fn wait(&self) {
        if !console::input_waiting() {
            CORES.park_timeout(INPUT_POLL_NANOSECONDS);
        }
    }
}

/// Memory a device maps whole (an ivshmem BAR at the kernel's address): bytes in,
/// bytes out, inside its bounds.
struct MappedBytes {
    base: usize,
    bytes: u64,
}

impl MappedBytes {
    /// The address of `length` bytes from `offset` on, if they lie inside.
    fn place(&self, offset: u64, length: usize) -> Option<usize> {
        offset
            .checked_add(length as u64)
            .is_some_and(|end| end <= self.bytes)
            .then(|| self.base + offset as usize)
    }

    /// Copies the bytes from `offset` on into `buffer`; false past the end.
    fn read(&self, offset: u64, buffer: &mut [u8]) -> bool {
        let Some(from) = self.place(offset, buffer.len()) else {
            return false;
        };
        // SAFETY: the range lies in the mapped memory (checked), which stays mapped
        // for the machine's life; the buffer is the caller's own. Another machine
        // may write the same bytes meanwhile (a shared DDR): the HAL allows a mix.
        unsafe {
            core::ptr::copy_nonoverlapping(from as *const u8, buffer.as_mut_ptr(), buffer.len())
        };
        true
    }

    /// Copies `data` to the bytes from `offset` on; false past the end.
    fn write(&self, offset: u64, data: &[u8]) -> bool {
        let Some(to) = self.place(offset, data.len()) else {
            return false;
        };
        // SAFETY: as in `read`.
        unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), to as *mut u8, data.len()) };
        true
    }
}

/// A disk: the disk image file the runner attaches to this cluster, mapped whole as
/// an ivshmem device. Writes reach the host's copy of the file at once (a killed
/// machine loses none: more than a disk's volatile cache promises); a flush has
/// nothing to do.
pub struct MappedDisk {
    blocks: u64,
    memory: MappedBytes,
}

/// Bytes of a disk block.
const BLOCK_BYTES: u64 = nanvix_abi::DISK_BLOCK_BYTES as u64;

impl MappedDisk {
    /// The disk of `blocks` blocks mapped at `base` (the kernel's address).
    ///
    /// # Safety
    ///
    /// `blocks` blocks at `base` are mapped for the machine's life and nothing
    /// else in this kernel reaches them.
    pub unsafe fn new(base: usize, blocks: u64) -> MappedDisk {
        MappedDisk {
            blocks,
            memory: MappedBytes {
                base,
                bytes: blocks * BLOCK_BYTES,
            },
        }
    }

    /// The byte offset of `block`, for an access of `length` bytes that must be
    /// whole blocks.
    fn offset(block: u64, length: usize) -> Result<u64, DiskError> {
        if !(length as u64).is_multiple_of(BLOCK_BYTES) {
            return Err(DiskError::OutOfRange);
        }
        block.checked_mul(BLOCK_BYTES).ok_or(DiskError::OutOfRange)
    }
}

impl Disk for MappedDisk {
    fn block_count(&self) -> u64 {
        self.blocks
    }

    fn read(&self, block: u64, buffer: &mut [u8]) -> Result<(), DiskError> {
        let offset = MappedDisk::offset(block, buffer.len())?;
        self.memory
            .read(offset, buffer)
            .then_some(())
            .ok_or(DiskError::OutOfRange)
    }

    fn write(&self, block: u64, data: &[u8]) -> Result<(), DiskError> {
        let offset = MappedDisk::offset(block, data.len())?;
        self.memory
            .write(offset, data)
            .then_some(())
            .ok_or(DiskError::OutOfRange)
    }

    fn flush(&self) -> Result<(), DiskError> {
        Ok(())
    }
}

/// The board's DDR: its file, mapped whole as an ivshmem device on DDR-attached
/// machines (each sees the others' writes).
pub struct MappedDdr {
    memory: MappedBytes,
}

impl MappedDdr {
    /// The DDR of `bytes` mapped at `base` (the kernel's address).
    ///
    /// # Safety
    ///
    /// `bytes` at `base` are mapped for the machine's life.
    pub unsafe fn new(base: usize, bytes: u64) -> MappedDdr {
        MappedDdr {
            memory: MappedBytes { base, bytes },
        }
    }
}

impl Ddr for MappedDdr {
    fn size(&self) -> u64 {
        self.memory.bytes
    }

    fn read(&self, offset: u64, buffer: &mut [u8]) -> Result<(), DdrError> {
        self.memory
            .read(offset, buffer)
            .then_some(())
            .ok_or(DdrError::OutOfRange)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), DdrError> {
        self.memory
            .write(offset, data)
            .then_some(())
            .ok_or(DdrError::OutOfRange)
    }
}

/// One cluster's platform on this machine.
pub struct QemuPlatform {
    memory: QemuMemory,
    noc: QemuNoc,
    board: QemuBoard,
    input: SerialInput,
    disk: Option<MappedDisk>,
    ddr: Option<MappedDdr>,
}

impl QemuPlatform {
    /// The platform of cluster `local` of `board` in boot epoch `epoch`, over the
    /// shared NoC memory `noc_memory`, its SRAM at `sram_base` (as large as the
    /// board says), the bundle's `programs` named.
    pub fn new(
        board: &Board,
        noc_memory: Arc<NocMemory>,
        (local, epoch): (usize, u32),
        sram_base: usize,
        (programs, warm): (Vec<&'static str>, bool),
        (disk, ddr): (Option<MappedDisk>, Option<MappedDdr>),
    ) -> QemuPlatform {
        QemuPlatform {
            memory: QemuMemory {
                base: sram_base,
                size: board.clusters[local].sram_bytes as usize,
            },
            noc: QemuNoc::new(
                Arc::clone(&noc_memory),
                board,
                local,
                epoch,
                QemuDoorbell::new(),
            ),
            board: QemuBoard {
                requests_seen: AtomicU32::new(noc_memory.request_sequence(local)),
                shutdowns_seen: AtomicU32::new(noc_memory.shutdown_requests(local)),
                memory: noc_memory,
                local,
                programs,
                warm,
            },
            input: SerialInput {
                ended: AtomicBool::new(false),
            },
            disk,
            ddr,
        }
    }
}

impl Platform for QemuPlatform {
    type RawMutex = KernelLock;
    type Cores = QemuCores;
    type UserMode = QemuUserMode;
    type Memory = QemuMemory;
    type Noc = QemuNoc;
    type DataNoc = QemuNoc;
    type Syncs = QemuNoc;
    type Board = QemuBoard;
    type ConsoleInput = SerialInput;
    type Disk = MappedDisk;
    type Ddr = MappedDdr;

    fn cores(&self) -> &QemuCores {
        &CORES
    }
    fn user_mode(&self) -> &QemuUserMode {
        &USER_MODE
    }
    fn memory(&self) -> &QemuMemory {
        &self.memory
    }
    fn noc(&self) -> &QemuNoc {
        &self.noc
    }
    fn data_noc(&self) -> &QemuNoc {
        &self.noc
    }
    fn syncs(&self) -> &QemuNoc {
        &self.noc
    }
    fn board(&self) -> &QemuBoard {
        &self.board
    }
    fn console_input(&self) -> &SerialInput {
        &self.input
    }
    fn disk(&self) -> Option<&MappedDisk> {
        self.disk.as_ref()
    }
    fn ddr(&self) -> Option<&MappedDdr> {
        self.ddr.as_ref()
    }
}
