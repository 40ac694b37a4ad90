//! Bare-metal canary: the microkernel linked freestanding over a HAL of stubs.
//!
//! Nothing here runs. The point is the link: this executable has no `std`, no libc
//! and no C start files, so a `std` (or any hosted dependency) that creeps into the
//! microkernel, the HAL traits, the ABI or the board crate breaks this build, long
//! before the bare-metal backend exists. `cargo nanvix test` builds it (in a
//! workspace of its own, so hosted crates cannot lend their features) and CI lints it.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use linked_list_allocator::LockedHeap;
use nanvix_board::{Board, Cluster, ClusterKind, Topology};
use nanvix_hal::{
    Arrival, BoardControl, ClusterMemory, ClusterState, ConsoleInput, ControlNoc, CoreEntry,
    CoreError, CoreId, Cores, DataArrival, DataNoc, EndOfInput, HardwareEvent, NocError, Platform,
    PowerError, ReceiveDecision, Source, SyncSignals, UserMode,
};
use nanvix_microkernel::Kernel;

/// Stops the (never running) machine.
fn halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    halt()
}

/// Never called (panic=abort), but the prebuilt libcore references it.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

/// Never called, as above (referenced by the prebuilt liballoc).
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    halt()
}

// memcpy and friends: no libc here.
use nanvix_freestanding as _;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Every piece of the stub hardware.
struct Stub;

impl Cores for Stub {
    fn count(&self) -> usize {
        2
    }
    fn current(&self) -> CoreId {
        0
    }
    fn start(&self, _: CoreId, _: CoreEntry, _: usize) -> Result<(), CoreError> {
        Err(CoreError::Busy)
    }
    fn park(&self) {}
    fn unpark(&self, _: CoreId) {}
    fn cycles(&self) -> u64 {
        0
    }
}

impl UserMode for Stub {
    unsafe fn enter(&self, _: usize, _: usize, _: usize) -> u64 {
        0
    }
    fn leave(&self, _: u64) -> ! {
        halt()
    }
}

impl ClusterMemory for Stub {
    fn base(&self) -> usize {
        0x10_0000
    }
    fn size(&self) -> usize {
        0x20_0000
    }
}

impl ControlNoc for Stub {
    fn try_send(&self, _: Source, _: u32, _: u32, _: &[u8]) -> Result<(), NocError> {
        Err(NocError::NoSuchNode)
    }
    fn wait_for_room(&self, _: u32) {}
    fn receive(&self, _: &mut dyn FnMut(&Arrival<'_>) -> ReceiveDecision) -> usize {
        0
    }
    fn wait_for_traffic(&self) {}
    fn wait_for_receivers(&self) {}
}

impl DataNoc for Stub {
    fn chunk_bytes(&self) -> usize {
        4096
    }
    fn try_write(
        &self,
        _: Source,
        _: u32,
        _: u32,
        _: u32,
        _: u32,
        _: &[u8],
    ) -> Result<(), NocError> {
        Err(NocError::NoSuchNode)
    }
    fn wait_for_write_room(&self, _: u32) {}
    fn receive_chunks(&self, _: &mut dyn FnMut(&DataArrival<'_>) -> ReceiveDecision) -> usize {
        0
    }
}

impl SyncSignals for Stub {
    fn signal(&self, _: u32) -> Result<(), NocError> {
        Err(NocError::NoSuchNode)
    }
    fn signals_from(&self, _: usize) -> u32 {
        0
    }
}

impl BoardControl for Stub {
    fn local_cluster(&self) -> usize {
        0
    }
    fn image_has_program(&self, _: &str) -> bool {
        false
    }
    fn cluster_state(&self, _: usize) -> ClusterState {
        ClusterState::On { epoch: 1 }
    }
    fn cluster_ending(&self, _: usize) -> u32 {
        0
    }
    fn cluster_status(&self, _: usize) -> i32 {
        0
    }
    fn cluster_epoch(&self, _: usize) -> u32 {
        1
    }
    fn state_generation(&self) -> u32 {
        0
    }
    fn report(&self, _: HardwareEvent<'_>) {}
    fn console_line(&self, _: &str, _: &[u8]) {}
    fn log_bytes(&self, _: &str, _: &[u8]) {}
    fn power_off(&self, _: i32) -> ! {
        halt()
    }
    fn wait_for_state_change(&self, _: u32, _: core::time::Duration) {}
    fn power_on_cluster(&self, _: usize, _: &str, _: &str) -> Result<(), PowerError> {
        Err(PowerError::Unsupported)
    }
    fn take_shutdown_request(&self) -> bool {
        false
    }
    fn cluster_run(&self, _: usize) -> u32 {
        1
    }
    fn cluster_idle(&self, _: usize) -> bool {
        false
    }
    fn cluster_system_epoch(&self, _: usize) -> u32 {
        0
    }
    fn warm(&self) -> bool {
        false
    }
    fn idle(&self, _: i32) {}
    fn take_program_request(&self, _: &mut dyn FnMut(&str, &str, u32)) -> bool {
        false
    }
    fn power_off_cluster(&self, _: usize, _: u32) -> Result<(), PowerError> {
        Err(PowerError::Unsupported)
    }
    fn stage_program(&self, _: &str, _: &[u8]) -> Result<(), nanvix_hal::StageError> {
        Err(nanvix_hal::StageError::Unsupported)
    }
}

impl ConsoleInput for Stub {
    fn try_read(&self, _: &mut [u8]) -> Result<usize, EndOfInput> {
        Err(EndOfInput)
    }
    fn wait(&self) {}
}

impl nanvix_hal::Ddr for Stub {
    fn size(&self) -> u64 {
        0
    }
    fn read(&self, _: u64, _: &mut [u8]) -> Result<(), nanvix_hal::DdrError> {
        Err(nanvix_hal::DdrError::OutOfRange)
    }
    fn write(&self, _: u64, _: &[u8]) -> Result<(), nanvix_hal::DdrError> {
        Err(nanvix_hal::DdrError::OutOfRange)
    }
}

impl nanvix_hal::Disk for Stub {
    fn block_count(&self) -> u64 {
        0
    }
    fn read(&self, _: u64, _: &mut [u8]) -> Result<(), nanvix_hal::DiskError> {
        Err(nanvix_hal::DiskError::OutOfRange)
    }
    fn write(&self, _: u64, _: &[u8]) -> Result<(), nanvix_hal::DiskError> {
        Err(nanvix_hal::DiskError::OutOfRange)
    }
    fn flush(&self) -> Result<(), nanvix_hal::DiskError> {
        Ok(())
    }
}

/// The stub platform: `spin`'s lock, the stubs for everything else.
struct StubPlatform;

static STUB: Stub = Stub;

impl Platform for StubPlatform {
    type RawMutex = spin::Mutex<()>;
    type Cores = Stub;
    type UserMode = Stub;
    type Memory = Stub;
    type Noc = Stub;
    type DataNoc = Stub;
    type Syncs = Stub;
    type Board = Stub;
    type ConsoleInput = Stub;
    type Disk = Stub;
    type Ddr = Stub;

    fn cores(&self) -> &Stub {
        &STUB
    }
    fn user_mode(&self) -> &Stub {
        &STUB
    }
    fn memory(&self) -> &Stub {
        &STUB
    }
    fn noc(&self) -> &Stub {
        &STUB
    }
    fn data_noc(&self) -> &Stub {
        &STUB
    }
    fn syncs(&self) -> &Stub {
        &STUB
    }
    fn board(&self) -> &Stub {
        &STUB
    }
    fn console_input(&self) -> &Stub {
        &STUB
    }
    fn ddr(&self) -> Option<&Stub> {
        None
    }
    fn disk(&self) -> Option<&Stub> {
        None
    }
}

/// The kcall entry the gate would hand programs.
extern "C" fn kcall(_: usize, _: usize, _: usize, _: usize, _: usize, _: usize) -> isize {
    -(nanvix_abi::Errno::NoSystemCall as isize)
}

static KERNEL: spin::Once<Kernel<StubPlatform>> = spin::Once::new();

/// The entry a boot loader would jump to: builds a kernel and boots it with no
/// programs, so every part of the kernel is linked.
#[unsafe(no_mangle)]
extern "C" fn _start() -> ! {
    let board = Board {
        name: String::from("canary"),
        description: String::new(),
        clusters: vec![Cluster {
            name: String::from("c0"),
            index: 0,
            kind: ClusterKind::Compute,
            cores: 2,
            sram_bytes: 0x20_0000,
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
    };
    let kernel = KERNEL.call_once(|| Kernel::new(StubPlatform, Arc::new(board), kcall));
    kernel.boot(&[], |_| None)
}
