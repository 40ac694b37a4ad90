//! Hardware abstraction layer: the traits every platform backend implements.
//!
//! The microkernel is generic over one [`Platform`]; a backend (hosted on Linux,
//! later bare-metal x86_64 under QEMU, some day the MPPA-256 itself) implements the
//! fine-grained traits it groups. The rules every backend follows are written in
//! `docs/src/hal.md`; the short form:
//!
//! 1. **Nothing blocks forever and nothing spins forever.** Every wait spins for a
//!    bounded budget and then parks the core (hosted: futex; bare metal: `hlt` until
//!    an inter-processor interrupt or a timer tick).
//! 2. **The hardware stamps identities.** A control-NoC message's source node and
//!    boot epoch come from the channel it travelled on, never from the sender's words.
//! 3. **Control and data paths are separate traits**, and errors are values: a full
//!    channel, a wrong node or an oversized payload is an `Err`, never a panic.
//! 4. **Memory is the board's size.** The cluster memory is an arena exactly as large
//!    as the cluster's SRAM; allocation past it fails.
#![no_std]

extern crate alloc;

pub mod board;
pub mod console;
pub mod cores;
pub mod ddr;
pub mod disk;
pub mod memory;
pub mod noc;
pub mod text;

pub use board::{BoardControl, ClusterState, HardwareEvent, PowerError, StageError};
pub use console::{ConsoleInput, EndOfInput};
pub use cores::{
    AdaptiveSpin, CoreEntry, CoreError, CoreId, Cores, Fault, FaultAccess, FaultHook, FaultOutcome,
    InterruptHook, InterruptOutcome, UserMode, spin_then_park,
};
pub use ddr::{Ddr, DdrError};
pub use disk::{Disk, DiskError};
pub use memory::{ClusterMemory, MmuError};
pub use noc::{
    Arrival, ControlNoc, DataArrival, DataNoc, NocError, ReceiveDecision, Source, SyncSignals,
};

/// A platform: everything a cluster's kernel needs from the hardware.
pub trait Platform: Send + Sync + 'static {
    /// The lock kernel code uses: spins for a budget, then parks.
    type RawMutex: lock_api::RawMutex + Send + Sync;
    /// The cores of this cluster.
    type Cores: Cores;
    /// Entering and leaving user programs.
    type UserMode: UserMode;
    /// The cluster's SRAM.
    type Memory: ClusterMemory;
    /// The control NoC.
    type Noc: ControlNoc;
    /// The data NoC.
    type DataNoc: DataNoc;
    /// Sync signals.
    type Syncs: SyncSignals;
    /// The board's registers: cluster states, events, console, power.
    type Board: BoardControl;
    /// Input from the terminal.
    type ConsoleInput: ConsoleInput;
    /// A disk.
    type Disk: Disk;
    /// The DDR.
    type Ddr: Ddr;

    /// The cores.
    fn cores(&self) -> &Self::Cores;
    /// User-mode entry and exit.
    fn user_mode(&self) -> &Self::UserMode;
    /// The SRAM arena.
    fn memory(&self) -> &Self::Memory;
    /// The control NoC.
    fn noc(&self) -> &Self::Noc;
    /// The data NoC.
    fn data_noc(&self) -> &Self::DataNoc;
    /// Sync signals.
    fn syncs(&self) -> &Self::Syncs;
    /// The board.
    fn board(&self) -> &Self::Board;
    /// Console input.
    fn console_input(&self) -> &Self::ConsoleInput;
    /// The disk attached to this cluster, if any.
    fn disk(&self) -> Option<&Self::Disk>;
    /// The board's DDR, if this cluster is attached to it.
    fn ddr(&self) -> Option<&Self::Ddr>;
}
