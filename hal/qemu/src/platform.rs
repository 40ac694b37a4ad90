//! The qemu-x86_64 platform of one cluster: the HAL's [`Platform`] on this machine's
//! cores, ring 3 and RAM, its board reports on the serial console.
//!
//! What is here so far runs one cluster alone: its SRAM is a range of the VM's RAM
//! (identity-mapped, no MMU window yet), the NoC carries messages between the
//! cluster's own nodes only (a send to another cluster's node is refused as to a
//! dead one) until the NoC shared between VMs comes, the board registers show
//! this cluster on and every other off, and console input is the serial port's.

use crate::console::{self, Console};
use crate::cores::{CONTEXTS, CORES, QemuCores};
use crate::lock::KernelLock;
use crate::paging;
use crate::user::{QemuUserMode, USER_MODE};
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use nanvix_abi::{MessageHeader, NOC_PAYLOAD_MAX};
use nanvix_board::Board;
use nanvix_board_protocol::{ClusterReport, report_line};
use nanvix_hal::{
    Arrival, BoardControl, ClusterMemory, ClusterState, ConsoleInput, ControlNoc, Cores,
    DataArrival, DataNoc, Ddr, DdrError, Disk, DiskError, EndOfInput, HardwareEvent, MmuError,
    NocError, Platform, PowerError, ReceiveDecision, Source, StageError, SyncSignals,
};

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

/// Depth of the local NoC's queue (messages, and data chunks).
const LOCAL_DEPTH: usize = 64;
/// Bytes of a local data chunk.
const LOCAL_CHUNK_BYTES: usize = 64 << 10;
/// How long a waiting core halts between looks at the NoC, in nanoseconds.
const TRAFFIC_POLL_NANOSECONDS: u64 = 1_000_000;

/// A message on the local NoC.
struct LocalMessage {
    header: MessageHeader,
    destination_node: u32,
    destination_program: u32,
    payload: Vec<u8>,
}

/// A chunk on the local data NoC.
struct LocalChunk {
    header: MessageHeader,
    destination_node: u32,
    destination_program: u32,
    total: u32,
    offset: u32,
    data: Vec<u8>,
}

/// The NoC of a cluster alone: messages between its own nodes, in order, bounded.
pub struct LocalNoc {
    local: usize,
    epoch: u32,
    /// The cluster's nodes: the first and how many.
    nodes: (u32, u32),
    /// Every node of the board (a node of another cluster is refused as dead).
    board_nodes: u32,
    messages: spin::Mutex<VecDeque<LocalMessage>>,
    chunks: spin::Mutex<VecDeque<LocalChunk>>,
    signals: AtomicU32,
    /// Held by a core offering messages (`wait_for_receivers` waits for it).
    receiving: spin::Mutex<()>,
    /// The contexts waiting for traffic (a send wakes them).
    waiting: [AtomicBool; CONTEXTS],
}

impl LocalNoc {
    fn new(board: &Board, local: usize, epoch: u32) -> LocalNoc {
        let cluster = &board.clusters[local];
        LocalNoc {
            local,
            epoch,
            nodes: (cluster.first_node, cluster.node_count),
            board_nodes: board.node_count(),
            messages: spin::Mutex::new(VecDeque::new()),
            chunks: spin::Mutex::new(VecDeque::new()),
            signals: AtomicU32::new(0),
            receiving: spin::Mutex::new(()),
            waiting: [const { AtomicBool::new(false) }; CONTEXTS],
        }
    }

    fn is_local(&self, node: u32) -> bool {
        node >= self.nodes.0 && node - self.nodes.0 < self.nodes.1
    }

    /// Checks a send from `source` to `destination_node`.
    fn check(&self, source: Source, destination_node: u32) -> Result<(), NocError> {
        if !self.is_local(source.node) {
            return Err(NocError::NotLocalNode);
        }
        if self.is_local(destination_node) {
            Ok(())
        } else if destination_node < self.board_nodes {
            Err(NocError::DestinationDead)
        } else {
            Err(NocError::NoSuchNode)
        }
    }

    fn header(&self, source: Source, length: usize) -> MessageHeader {
        MessageHeader {
            source_node: source.node,
            source_program: source.program,
            source_epoch: self.epoch,
            source_run: source.run,
            length: length as u32,
        }
    }

    /// Wakes every context waiting for traffic.
    fn ring(&self) {
        for (context, waiting) in self.waiting.iter().enumerate() {
            if waiting.load(Ordering::SeqCst) {
                CORES.unpark(context);
            }
        }
    }
}

impl ControlNoc for LocalNoc {
    fn try_send(
        &self,
        source: Source,
        destination_node: u32,
        destination_program: u32,
        payload: &[u8],
    ) -> Result<(), NocError> {
        if payload.len() > NOC_PAYLOAD_MAX {
            return Err(NocError::TooLong);
        }
        self.check(source, destination_node)?;
        let mut messages = self.messages.lock();
        if messages.len() >= LOCAL_DEPTH {
            return Err(NocError::Full);
        }
        messages.push_back(LocalMessage {
            header: self.header(source, payload.len()),
            destination_node,
            destination_program,
            payload: payload.to_vec(),
        });
        drop(messages);
        self.ring();
        Ok(())
    }

    fn wait_for_room(&self, _: u32) {
        if self.messages.lock().len() >= LOCAL_DEPTH {
            CORES.park_timeout(TRAFFIC_POLL_NANOSECONDS);
        }
    }

    fn receive(&self, decide: &mut dyn FnMut(&Arrival<'_>) -> ReceiveDecision) -> usize {
        let _receiving = self.receiving.lock();
        let mut taken = 0;
        loop {
            let Some(message) = self.messages.lock().pop_front() else {
                break;
            };
            let decision = decide(&Arrival {
                header: message.header,
                destination_node: message.destination_node,
                destination_program: message.destination_program,
                payload: &message.payload,
            });
            if decision == ReceiveDecision::Keep {
                // Its channel (the cluster's own, the only one) keeps its order.
                self.messages.lock().push_front(message);
                break;
            }
            taken += 1;
        }
        taken
    }

    fn may_be_ready(&self) -> bool {
        !self.messages.lock().is_empty()
    }

    fn wait_for_traffic(&self) {
        let Some(waiting) = self.waiting.get(CORES.current()) else {
            return;
        };
        waiting.store(true, Ordering::SeqCst);
        if !self.may_be_ready() && self.chunks.lock().is_empty() {
            CORES.park_timeout(TRAFFIC_POLL_NANOSECONDS);
        }
        waiting.store(false, Ordering::SeqCst);
    }

    fn wait_for_receivers(&self) {
        drop(self.receiving.lock());
    }
}

impl DataNoc for LocalNoc {
    fn chunk_bytes(&self) -> usize {
        LOCAL_CHUNK_BYTES
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
        if chunk.len() > LOCAL_CHUNK_BYTES {
            return Err(NocError::TooLong);
        }
        self.check(source, destination_node)?;
        let mut chunks = self.chunks.lock();
        if chunks.len() >= LOCAL_DEPTH {
            return Err(NocError::Full);
        }
        chunks.push_back(LocalChunk {
            header: self.header(source, chunk.len()),
            destination_node,
            destination_program,
            total,
            offset,
            data: chunk.to_vec(),
        });
        drop(chunks);
        self.ring();
        Ok(())
    }

    fn wait_for_write_room(&self, _: u32) {
        if self.chunks.lock().len() >= LOCAL_DEPTH {
            CORES.park_timeout(TRAFFIC_POLL_NANOSECONDS);
        }
    }

    fn receive_chunks(&self, decide: &mut dyn FnMut(&DataArrival<'_>) -> ReceiveDecision) -> usize {
        let _receiving = self.receiving.lock();
        // One channel (the cluster's own): only its oldest chunk is offered.
        let Some(chunk) = self.chunks.lock().pop_front() else {
            return 0;
        };
        let decision = decide(&DataArrival {
            header: chunk.header,
            source_cluster: self.local,
            destination_node: chunk.destination_node,
            destination_program: chunk.destination_program,
            total: chunk.total,
            offset: chunk.offset,
            data: &chunk.data,
        });
        if decision == ReceiveDecision::Take {
            self.ring();
            1
        } else {
            self.chunks.lock().push_front(chunk);
            0
        }
    }
}

impl SyncSignals for LocalNoc {
    fn signal(&self, destination_node: u32) -> Result<(), NocError> {
        if self.is_local(destination_node) {
            self.signals.fetch_add(1, Ordering::AcqRel);
            self.ring();
            Ok(())
        } else if destination_node < self.board_nodes {
            Err(NocError::DestinationDead)
        } else {
            Err(NocError::NoSuchNode)
        }
    }

    fn signals_from(&self, source: usize) -> u32 {
        if source == self.local {
            self.signals.load(Ordering::Acquire)
        } else {
            0
        }
    }
}

/// The board as a cluster alone sees it; its reports go out on the serial console
/// as report lines.
pub struct QemuBoard {
    local: usize,
    epoch: u32,
    /// The bundle's programs, which a power request or a spawn may name.
    programs: Vec<String>,
}

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
        if index == self.local {
            ClusterState::On { epoch: self.epoch }
        } else {
            ClusterState::Off
        }
    }

    fn cluster_epoch(&self, index: usize) -> u32 {
        if index == self.local { self.epoch } else { 0 }
    }

    fn cluster_status(&self, _: usize) -> i32 {
        0
    }

    fn cluster_ending(&self, _: usize) -> u32 {
        0
    }

    fn state_generation(&self) -> u32 {
        0
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
        crate::machine::exit(if status == 0 {
            crate::machine::PASS
        } else {
            crate::machine::FAIL
        })
    }

    fn wait_for_state_change(&self, _: u32, limit: core::time::Duration) {
        // Nothing else changes state yet: a bounded halt.
        CORES.park_timeout(limit.as_nanos().min(u128::from(u64::MAX)) as u64);
    }

    fn power_on_cluster(&self, _: usize, _: &str, _: &str) -> Result<(), PowerError> {
        Err(PowerError::Unsupported)
    }

    fn image_has_program(&self, name: &str) -> bool {
        self.programs.iter().any(|program| program == name)
    }

    fn stage_program(&self, _: &str, _: &[u8]) -> Result<(), StageError> {
        Err(StageError::Unsupported)
    }

    fn cluster_run(&self, index: usize) -> u32 {
        u32::from(index == self.local)
    }

    fn cluster_system_epoch(&self, index: usize) -> u32 {
        if index == self.local { self.epoch } else { 0 }
    }

    fn cluster_idle(&self, _: usize) -> bool {
        false
    }

    fn warm(&self) -> bool {
        false
    }

    fn idle(&self, _: i32) {}

    fn take_program_request(&self, _: &mut dyn FnMut(&str, &str, u32)) -> bool {
        false
    }

    fn take_shutdown_request(&self) -> bool {
        false
    }

    fn power_off_cluster(&self, _: usize, _: u32) -> Result<(), PowerError> {
        Err(PowerError::Unsupported)
    }
}

/// The serial port's input: what the terminal types (the runner carries it). The
/// byte [`END_OF_INPUT`] says the terminal closed its input.
pub struct SerialInput {
    ended: AtomicBool,
}

/// The byte the runner sends when the terminal's input ended (ASCII end of
/// transmission, Ctrl-D).
pub const END_OF_INPUT: u8 = 0x04;
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

/// No disk or DDR on this platform yet: the platform names this type for both and
/// hands out neither.
pub struct Absent;

impl Disk for Absent {
    fn block_count(&self) -> u64 {
        0
    }
    fn read(&self, _: u64, _: &mut [u8]) -> Result<(), DiskError> {
        Err(DiskError::OutOfRange)
    }
    fn write(&self, _: u64, _: &[u8]) -> Result<(), DiskError> {
        Err(DiskError::OutOfRange)
    }
    fn flush(&self) -> Result<(), DiskError> {
        Ok(())
    }
}

impl Ddr for Absent {
    fn size(&self) -> u64 {
        0
    }
    fn read(&self, _: u64, _: &mut [u8]) -> Result<(), DdrError> {
        Err(DdrError::OutOfRange)
    }
    fn write(&self, _: u64, _: &[u8]) -> Result<(), DdrError> {
        Err(DdrError::OutOfRange)
    }
}

/// One cluster's platform on this machine.
pub struct QemuPlatform {
    memory: QemuMemory,
    noc: LocalNoc,
    board: QemuBoard,
    input: SerialInput,
}

impl QemuPlatform {
    /// The platform of cluster `local` of `board` in boot epoch `epoch`, its SRAM
    /// at `sram_base` (as large as the board says), the bundle's `programs` named.
    pub fn new(
        board: &Board,
        local: usize,
        epoch: u32,
        sram_base: usize,
        programs: Vec<String>,
    ) -> QemuPlatform {
        QemuPlatform {
            memory: QemuMemory {
                base: sram_base,
                size: board.clusters[local].sram_bytes as usize,
            },
            noc: LocalNoc::new(board, local, epoch),
            board: QemuBoard {
                local,
                epoch,
                programs,
            },
            input: SerialInput {
                ended: AtomicBool::new(false),
            },
        }
    }
}

impl Platform for QemuPlatform {
    type RawMutex = KernelLock;
    type Cores = QemuCores;
    type UserMode = QemuUserMode;
    type Memory = QemuMemory;
    type Noc = LocalNoc;
    type DataNoc = LocalNoc;
    type Syncs = LocalNoc;
    type Board = QemuBoard;
    type ConsoleInput = SerialInput;
    type Disk = Absent;
    type Ddr = Absent;

    fn cores(&self) -> &QemuCores {
        &CORES
    }
    fn user_mode(&self) -> &QemuUserMode {
        &USER_MODE
    }
    fn memory(&self) -> &QemuMemory {
        &self.memory
    }
    fn noc(&self) -> &LocalNoc {
        &self.noc
    }
    fn data_noc(&self) -> &LocalNoc {
        &self.noc
    }
    fn syncs(&self) -> &LocalNoc {
        &self.noc
    }
    fn board(&self) -> &QemuBoard {
        &self.board
    }
    fn console_input(&self) -> &SerialInput {
        &self.input
    }
    fn disk(&self) -> Option<&Absent> {
        None
    }
    fn ddr(&self) -> Option<&Absent> {
        None
    }
}
