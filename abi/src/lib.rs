//! The kcall ABI shared by the microkernel and libnanvix: numbers, errno, gate, start block.
//!
//! A program never traps on its own. The kernel starts it by calling its entry
//! `_start(info: *const StartInfo) -> i32` and hands it, inside the start block, a
//! [`Gate`]: a table whose `kcall` function is the only way into the kernel.
//!
//! **Argument passing.** Every kcall is `kcall(number, a0, a1, a2, a3, a4)`: six
//! machine words in, one signed word out. A buffer is passed as two words, pointer
//! then length in bytes; an output structure as pointer then its size, so the kernel
//! can refuse a caller built against another layout.
//!
//! **Error encoding.** A result `r >= 0` is success (its meaning depends on the call);
//! `r < 0` is `-errno` with an [`Errno`] value. Arguments are checked before anything
//! runs: a call that fails changed nothing.
//!
//! The table [`KCALLS`] is the single source of truth for numbers, names, arguments
//! and errors; `docs/src/kcalls.md` is generated from it (`cargo nanvix docs`).
#![no_std]

extern crate alloc;

pub mod devices;
pub mod errno;
pub mod refusal;
pub mod table;

pub use devices::{DEVICES, Device, DeviceAccess, DeviceDescription};
pub use errno::Errno;
pub use refusal::{IMAGE_MAX, LoadError, Refusal};
pub use table::{KCALLS, Kcall, KcallDescription, Placement};

/// Version of this ABI. A program carries it in its `.note.nanvix` note; the loader
/// refuses a program built for another version.
pub const ABI_VERSION: u32 = 2;

/// Magic number at the start of a [`Gate`] ("NXGT").
pub const GATE_MAGIC: u32 = 0x4e58_4754;

/// Name of the ELF note that marks a file as a Nanvix program (owner field).
pub const NOTE_NAME: &str = "Nanvix";
/// Type of the ELF note whose descriptor is the program's [`ABI_VERSION`] (u32, LE).
pub const NOTE_TYPE_ABI: u32 = 1;

/// Programs are loaded at bases aligned to this many bytes (defmt indices depend on it).
pub const PROGRAM_ALIGNMENT: usize = 64 * 1024;

/// Largest payload of one control-NoC message, in bytes.
pub const NOC_PAYLOAD_MAX: usize = 128;

/// Programs one cluster may hold; program ids are below this.
pub const PROGRAMS_MAX: usize = 16;
/// Bytes of a disk block (`disk_read`, `disk_write`).
pub const DISK_BLOCK_BYTES: usize = 4096;

/// Mailbox ports per NoC node: a mailbox is bound to (node, port).
pub const MAILBOX_PORTS: usize = 32;

/// Mailboxes one program may hold at once, created and opened together.
pub const MAILBOXES_MAX: usize = 64;

/// `mailbox_read`'s source for "any sender".
pub const MAILBOX_ANY_SOURCE: usize = usize::MAX;

/// The flag of a `mailbox_read` source that names an opened mailbox of the caller
/// (its id in the low 16 bits, [`mailbox_peer_source`]): the read takes messages
/// from that mailbox's node only, and fails with `ECONNRESET` once the mailbox it
/// writes to was closed after its last write (the answer a caller waits for will
/// not come). A source with other high bits set is no peer source (a node out of
/// range).
pub const MAILBOX_PEER_SOURCE: usize = 1 << 30;

/// The `mailbox_read` source "answers from whoever opened mailbox `outbox` writes
/// to" (see [`MAILBOX_PEER_SOURCE`]).
pub const fn mailbox_peer_source(outbox: usize) -> usize {
    MAILBOX_PEER_SOURCE | (outbox & 0xffff)
}

/// The opened mailbox a `mailbox_read` source names, when it is a peer source.
pub const fn mailbox_peer_of(source: usize) -> Option<usize> {
    if source & !(MAILBOX_PEER_SOURCE | 0xffff) == 0 && source & MAILBOX_PEER_SOURCE != 0 {
        Some(source & 0xffff)
    } else {
        None
    }
}

/// Nodes a sync's list holds at most (at least 2).
pub const SYNC_NODES_MAX: usize = 24;

/// Sync mode: `nodes[0]` signals, every other node of the list waits for it.
pub const SYNC_ONE_TO_ALL: usize = 0;

/// Sync mode: every node of the list but `nodes[0]` signals, `nodes[0]` waits for all.
pub const SYNC_ALL_TO_ONE: usize = 1;

/// Syncs one program may hold at once, created and opened together.
pub const SYNCS_MAX: usize = 64;

/// The NoC header's destination tag of sync signals (the sync is named in the
/// payload: its mode and node list).
pub const SYNC_TAG: u32 = 0x200;

/// Portal ports per NoC node: a portal is bound to (node, port).
pub const PORTAL_PORTS: usize = 32;

/// Portals one program may hold at once, created and opened together.
pub const PORTALS_MAX: usize = 64;

/// The most one portal transfer (one `allow`) may move: 16 MiB.
pub const PORTAL_TRANSFER_MAX: usize = 16 << 20;

/// `portal_write` flag: refuse with `EACCES` instead of waiting for an allow.
pub const PORTAL_NONBLOCK: usize = 1;

/// `portal_wait` flag: say `EAGAIN` at once if the started transfer has not ended,
/// instead of waiting (a server polls its clients' transfers without blocking on
/// a slow one).
pub const PORTAL_WAIT_POLL: usize = 1;

/// The control-NoC tag of a portal's allow (the port and size are its payload).
pub const PORTAL_ALLOW_TAG: u32 = 0x280;

/// The data-NoC tag of a transfer to portal `port`: this plus the port.
pub const PORTAL_TAG: u32 = 0x300;

/// The NoC header's destination tag of mailbox traffic to `port`: tags below
/// [`PROGRAMS_MAX`] name a program's own inbox (`noc_send`), tags from this one on
/// a mailbox port of the destination node.
pub const MAILBOX_TAG: u32 = 0x100;

/// The control-NoC tag of a kernel's notice "my mailbox (node, port) was closed"
/// (the node and port are its payload, two little-endian `u32`s), sent to each
/// cluster whose messages reached that mailbox, so answers its programs wait for
/// from it end in `ECONNRESET` instead of never coming.
pub const MAILBOX_CLOSED_TAG: u32 = 0x180;

/// The control-NoC tag of a kernel's request to an idle warm cluster's kernel: run
/// an image program (`cluster_power_on` sends it instead of asking the board when
/// the request fits one message). Its payload: the run number the requester
/// expects (a little-endian `u32`: the cluster's run register plus one), the
/// program's name, a NUL, and its arguments, NUL-separated. Only a kernel of an
/// I/O cluster may send it (the receiver checks the stamped source).
pub const PROGRAM_RUN_TAG: u32 = 0x1c0;

/// Threads a cluster holds at once (running, waiting for a core, blocked, or ended
/// and not yet joined), its programs' main threads included; past it
/// `thread_create` fails with `EAGAIN`.
pub const THREADS_MAX: usize = 64;

/// The smallest stack `thread_create` accepts, in bytes.
pub const THREAD_STACK_MIN: usize = 16 * 1024;

/// Bytes of a cluster's MMU window (`memory_window` gives its first address).
pub const MEMORY_WINDOW_BYTES: usize = 64 << 20;

/// Largest data-NoC transfer one `data_send` makes, in bytes.
pub const DATA_TRANSFER_MAX: usize = 16 << 20;

/// Largest piece of a defmt log stream one `log_write` takes, in bytes.
pub const LOG_CHUNK_MAX: usize = 4096;

/// Longest cluster name, in bytes (`io0`, `cc15`, ...).
pub const CLUSTER_NAME_MAX: usize = 16;

/// Longest program name [`Kcall::ClusterPowerOn`] takes, in bytes.
pub const PROGRAM_NAME_MAX: usize = 64;
/// Longest name a program is staged under ([`Kcall::ProgramStage`]), in bytes:
/// with `@` and 16 hexadecimal digits it fits [`PROGRAM_NAME_MAX`].
pub const STAGED_BASE_MAX: usize = 32;
/// Largest ELF [`Kcall::ProgramStage`] takes, in bytes.
pub const PROGRAM_STAGE_MAX: usize = 8 << 20;
/// Hexadecimal digits of a staged program's hash in its name (`BASE@HASH`).
pub const STAGED_HASH_DIGITS: usize = 16;

/// Whether `byte` may be in the base of a staged program's name: an ASCII letter,
/// digit, `-`, `_` or `.`.
pub const fn is_staged_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.')
}

/// Whether `base` may name a staged program ([`Kcall::ProgramStage`]): 1 to
/// [`STAGED_BASE_MAX`] bytes each [`is_staged_byte`], not only dots.
pub fn is_staged_base(base: &[u8]) -> bool {
    (1..=STAGED_BASE_MAX).contains(&base.len())
        && base.iter().all(|byte| is_staged_byte(*byte))
        && base.iter().any(|byte| *byte != b'.')
}

/// Whether `hash` is the hash part of a staged program's name:
/// [`STAGED_HASH_DIGITS`] lowercase hexadecimal digits.
pub fn is_staged_hash(hash: &[u8]) -> bool {
    hash.len() == STAGED_HASH_DIGITS
        && hash
            .iter()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(byte))
}

/// Most argument bytes [`Kcall::ClusterPowerOn`] takes (NUL-separated).
pub const POWER_ARGUMENTS_MAX: usize = 1024;

/// The heap a program gets when nothing says otherwise (the manifest's default,
/// and [`Kcall::ProgramSpawn`]'s), in bytes.
pub const DEFAULT_HEAP_BYTES: usize = 64 * 1024;
/// The main-thread stack a program gets when nothing says otherwise, in bytes.
pub const DEFAULT_STACK_BYTES: usize = 64 * 1024;

/// The heap of a program run on request on a compute cluster of `sram_bytes` of
/// SRAM (a process: the cluster is its own): half the SRAM, in whole pages, and at
/// least [`DEFAULT_HEAP_BYTES`]; the rest holds its image, stacks and threads'.
pub const fn spawned_heap_bytes(sram_bytes: u64) -> usize {
    let half = (sram_bytes / 2) as usize & !4095;
    if half > DEFAULT_HEAP_BYTES {
        half
    } else {
        DEFAULT_HEAP_BYTES
    }
}

/// [`SpawnOptions::slot`] meaning "the lowest free program id".
pub const PROGRAM_ANY: u64 = u64::MAX;

/// How [`Kcall::ProgramSpawn`] places a program: three little-endian u64 words.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpawnOptions {
    /// The program slot (its id) to take, or [`PROGRAM_ANY`].
    pub slot: u64,
    /// Its heap in bytes (0: [`DEFAULT_HEAP_BYTES`]).
    pub heap_bytes: u64,
    /// Its main-thread stack in bytes (0: [`DEFAULT_STACK_BYTES`]).
    pub stack_bytes: u64,
}

impl SpawnOptions {
    /// The size of the options in memory.
    pub const BYTES: usize = 24;

    /// The options as the kernel reads them.
    pub fn to_bytes(&self) -> [u8; SpawnOptions::BYTES] {
        let mut bytes = [0u8; SpawnOptions::BYTES];
        for (chunk, word) in
            bytes
                .chunks_exact_mut(8)
                .zip([self.slot, self.heap_bytes, self.stack_bytes])
        {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    /// The options `bytes` hold.
    pub fn from_bytes(bytes: &[u8; SpawnOptions::BYTES]) -> SpawnOptions {
        let word = |at: usize| {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(chunk)
        };
        SpawnOptions {
            slot: word(0),
            heap_bytes: word(8),
            stack_bytes: word(16),
        }
    }
}

/// The largest signal number [`Kcall::ClusterPowerOff`] takes.
pub const SIGNAL_MAX: usize = 64;
/// The program id a kernel stamps on a message it sends itself (a SIGTERM notice
/// when the board asks the cluster to shut down): no program has it.
pub const KERNEL_PROGRAM: u32 = PROGRAMS_MAX as u32;

/// The port of a program's node its signal thread reads notices on, for the first
/// program of its node ([`signal_port`] gives each program's).
pub const SIGNAL_PORT: u32 = 31;

/// How many ports, from [`SIGNAL_PORT`] down, signal threads take: one for each
/// program that shares a node (ids `i`, `i + nodes`, `i + 2 nodes`, ...).
pub const SIGNAL_PORTS: u32 = 4;

/// The signal port of program `id` on a cluster of `node_count` nodes: programs that
/// share a node get ports of their own ([`SIGNAL_PORT`], then one down for each
/// round of ids; beyond [`SIGNAL_PORTS`] rounds they share the last).
pub const fn signal_port(id: u32, node_count: u32) -> u32 {
    let round = id / if node_count == 0 { 1 } else { node_count };
    SIGNAL_PORT
        - if round < SIGNAL_PORTS - 1 {
            round
        } else {
            SIGNAL_PORTS - 1
        }
}

/// The interrupt signal (Ctrl-C): by default it ends the process.
pub const SIGINT: u32 = 2;
/// The kill signal: it always ends the process; it cannot be caught or ignored.
pub const SIGKILL: u32 = 9;
/// The termination signal: by default it ends the process.
pub const SIGTERM: u32 = 15;

/// [`ClusterInfo::state`]: never booted, or powered off cleanly.
pub const CLUSTER_OFF: u32 = 0;
/// [`ClusterInfo::state`]: running.
pub const CLUSTER_ON: u32 = 1;
/// [`ClusterInfo::state`]: died (crashed or killed).
pub const CLUSTER_DEAD: u32 = 2;

/// [`ClusterInfo::ending`]: the cluster is on, or never booted.
pub const ENDED_NONE: u32 = 0;
/// [`ClusterInfo::ending`]: its kernel powered it off when its programs ended;
/// `status` is the worst of their exit statuses.
pub const ENDED_EXIT: u32 = 1;
/// [`ClusterInfo::ending`]: powered off on request (a kill); `status` is 128 + the
/// signal the request named.
pub const ENDED_KILLED: u32 = 2;
/// [`ClusterInfo::ending`]: a thread of a program faulted and the cluster ended
/// with a failure status; [`ClusterInfo::fault`] says which fault (the first).
pub const ENDED_FAULT: u32 = 3;
/// [`ClusterInfo::ending`]: the cluster's kernel died (crashed, or was killed from
/// outside the board); `status` is 128 + the signal that ended it.
pub const ENDED_DIED: u32 = 4;

/// What faulted, as [`ClusterInfo::fault`] and the platforms' fault reports give it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// A load, store or fetch at an address the program may not touch.
    InvalidMemoryAccess = 1,
    /// A memory access the bus refused (misaligned, past a mapping's backing).
    BusError = 2,
    /// An instruction the core does not run in user mode.
    IllegalInstruction = 3,
    /// A division by zero or an arithmetic overflow trap.
    Arithmetic = 4,
    /// The program panicked.
    Panic = 5,
}

impl FaultKind {
    /// Every kind, in code order.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::InvalidMemoryAccess,
        FaultKind::BusError,
        FaultKind::IllegalInstruction,
        FaultKind::Arithmetic,
        FaultKind::Panic,
    ];

    /// The kind in words.
    pub const fn text(self) -> &'static str {
        match self {
            FaultKind::InvalidMemoryAccess => "invalid memory access",
            FaultKind::BusError => "bus error",
            FaultKind::IllegalInstruction => "illegal instruction",
            FaultKind::Arithmetic => "arithmetic fault",
            FaultKind::Panic => "panic",
        }
    }

    /// The kind whose code is `code`.
    pub fn from_code(code: u32) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|kind| *kind as u32 == code)
    }
}

/// Passed as the cluster argument of [`Kcall::ClusterInfo`] to mean the caller's own.
pub const CLUSTER_SELF: usize = usize::MAX;

/// The kernel's entry point: `kcall(number, a0, a1, a2, a3, a4) -> result`.
pub type KcallEntry = unsafe extern "C" fn(usize, usize, usize, usize, usize, usize) -> isize;

/// The table through which a program enters the kernel.
#[repr(C)]
pub struct Gate {
    /// Always [`GATE_MAGIC`].
    pub magic: u32,
    /// The kernel's [`ABI_VERSION`].
    pub version: u32,
    /// The one entry into the kernel.
    pub kcall: KcallEntry,
}

/// One argument string: a pointer and a length, pointing into the program's memory.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ArgumentSlice {
    /// First byte (UTF-8).
    pub pointer: *const u8,
    /// Length in bytes.
    pub length: usize,
}

/// What the kernel hands a program's entry: the gate, its arguments, its memory.
#[repr(C)]
pub struct StartInfo {
    /// The gate; valid for the program's whole life.
    pub gate: *const Gate,
    /// Argument strings (`argument_count` of them); the first is the program's name.
    pub arguments: *const ArgumentSlice,
    /// Number of argument strings.
    pub argument_count: usize,
    /// First byte of the program's heap (in the cluster's memory).
    pub heap_base: usize,
    /// Size of the heap in bytes.
    pub heap_size: usize,
    /// NoC node the program is bound to.
    pub node: u32,
    /// The program's id on its cluster; with `node` it is the program's NoC identity.
    pub program: u32,
    /// Index of the cluster on its board.
    pub cluster: u32,
}

/// Kind of a cluster.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterKind {
    /// An I/O cluster (runs servers; may reach DDR).
    Io = 0,
    /// A compute cluster (runs one process).
    Compute = 1,
}

/// Read-only facts about one cluster, filled by [`Kcall::ClusterInfo`].
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ClusterInfo {
    /// Name bytes (UTF-8), `name_length` of them.
    pub name: [u8; CLUSTER_NAME_MAX],
    /// Used length of `name`.
    pub name_length: u32,
    /// [`ClusterKind`] as a number.
    pub kind: u32,
    /// Index of the cluster on its board.
    pub index: u32,
    /// Number of clusters on the board.
    pub cluster_count: u32,
    /// Cores of the cluster (the master included).
    pub cores: u32,
    /// First NoC node of the cluster.
    pub first_node: u32,
    /// Number of NoC nodes of the cluster.
    pub node_count: u32,
    /// Whether the cluster is powered on (running a kernel) right now.
    pub powered: u32,
    /// The cluster's state as the board's registers say: [`CLUSTER_OFF`],
    /// [`CLUSTER_ON`] or [`CLUSTER_DEAD`]. A death reaches every kernel this way.
    pub state: u32,
    /// Boot epoch of the cluster's current, dead or last incarnation (0: never
    /// booted; a boot takes the next).
    pub epoch: u32,
    /// How the cluster's last incarnation ended: its power-off status (the worst of
    /// its programs' exit statuses), or 128 + the signal that ended it (137 for a
    /// cluster powered off on request); 0 while on or never booted.
    pub status: i32,
    /// How the cluster's last incarnation ended: [`ENDED_NONE`] (on, or never
    /// booted), [`ENDED_EXIT`], [`ENDED_KILLED`], [`ENDED_FAULT`] or [`ENDED_DIED`].
    pub ending: u32,
    /// With [`ENDED_FAULT`]: the [`FaultKind`] code of the fault; 0 otherwise.
    pub fault: u32,
    /// How many programs the cluster started in its current (or last) epoch: 1
    /// for the program it booted with, one more for each a warm cluster ran since.
    pub run: u32,
    /// 1 when the cluster is on and idle: warm, its programs ended (`status`,
    /// `ending` and `fault` say how), waiting for one ([`Kcall::ClusterPowerOn`]
    /// runs the next there).
    pub idle: u32,
    /// The boot epoch in which the system's manifest booted the cluster with its
    /// program, 0 if it never did: run 1 of that epoch is the system's (root), not
    /// a spawned process.
    pub system_epoch: u32,
    /// Size of the cluster's SRAM in bytes.
    pub sram_bytes: u64,
}

impl ClusterInfo {
    /// All zero: what a program passes in for the kernel to fill.
    pub const fn zeroed() -> Self {
        Self {
            name: [0; CLUSTER_NAME_MAX],
            name_length: 0,
            kind: 0,
            index: 0,
            cluster_count: 0,
            cores: 0,
            first_node: 0,
            node_count: 0,
            powered: 0,
            state: 0,
            epoch: 0,
            status: 0,
            ending: 0,
            fault: 0,
            run: 0,
            idle: 0,
            system_epoch: 0,
            sram_bytes: 0,
        }
    }

    /// The name as text (empty if the kernel wrote bytes that are not UTF-8).
    pub fn name(&self) -> &str {
        let length = (self.name_length as usize).min(CLUSTER_NAME_MAX);
        core::str::from_utf8(&self.name[..length]).unwrap_or("")
    }
}

/// Header of a received control-NoC message, written by the hardware layer.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MessageHeader {
    /// NoC node of the sender (implied by the channel, cannot be forged).
    pub source_node: u32,
    /// Program id of the sender on its cluster (stamped by the sender's kernel).
    pub source_program: u32,
    /// Boot epoch of the sender's cluster when it sent.
    pub source_epoch: u32,
    /// The sender's run on its cluster in that epoch (stamped by its kernel: how
    /// many programs the board had started there when it started; 1 for the boot
    /// program). A warm compute cluster runs one process after another in one
    /// epoch: node, epoch and run name one of them.
    pub source_run: u32,
    /// Payload length in bytes.
    pub length: u32,
}

/// The counters of one communication object, filled by `comm_counters`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CommCounters {
    /// Calls that moved something: reads or writes of a mailbox or portal, waits
    /// or signals of a sync.
    pub operations: u64,
    /// Payload bytes they moved (0 for syncs).
    pub bytes: u64,
    /// Cycles of the `cycles` counter those calls spent waiting: for a message, a
    /// signal or a transfer to arrive, for room in a channel, for an allow.
    pub wait_cycles: u64,
    /// Messages waiting in a created mailbox now (0 for the other objects).
    pub queued: u64,
}

/// `comm_counters` kind: a mailbox id.
pub const COMM_MAILBOX: usize = 0;
/// `comm_counters` kind: a portal id.
pub const COMM_PORTAL: usize = 1;
/// `comm_counters` kind: a sync id.
pub const COMM_SYNC: usize = 2;

/// `mailbox_write` flag: fail with `EAGAIN` instead of waiting when the mailbox or
/// its channel is full.
pub const MAILBOX_NONBLOCK: usize = 1;

/// A page fault handed to a pager by `pager_wait`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageFault {
    /// The id of the thread that faulted (it waits for `pager_resume`).
    pub thread: usize,
    /// The address it touched, in the MMU window.
    pub address: usize,
    /// How: one of `PAGE_FAULT_READ`, `PAGE_FAULT_WRITE`, `PAGE_FAULT_EXECUTE`.
    pub access: usize,
}

/// `PageFault::access` of a load.
pub const PAGE_FAULT_READ: usize = 0;
/// `PageFault::access` of a store.
pub const PAGE_FAULT_WRITE: usize = 1;
/// `PageFault::access` of an instruction fetch.
pub const PAGE_FAULT_EXECUTE: usize = 2;
