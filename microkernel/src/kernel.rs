//! The kernel of one cluster: its programs, the kcall layer and the master loop.

use crate::loader;
use crate::memory::{FrameAllocator, Region};
use crate::paging::PageTable;
use crate::remote::{RemoteCall, RemoteCalls};
use crate::sync::SyncTable;
use crate::thread::CoreTokens;
use threads::ThreadRecord;

mod devices;
mod ids;
mod mailbox;
mod mapping;
mod pager;
mod portal;
mod programs;
mod signals;
mod sync;
mod threads;
use crate::paging::Access;
use crate::user_memory::{self, UserSpace, WritableRange};
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use lock_api::Mutex;
use nanvix_abi::{
    ArgumentSlice, CLUSTER_NAME_MAX, CLUSTER_SELF, COMM_MAILBOX, COMM_PORTAL, COMM_SYNC,
    ClusterInfo, CommCounters, Errno, GATE_MAGIC, Gate, Kcall, KcallEntry, MAILBOX_CLOSED_TAG,
    MAILBOX_TAG, MessageHeader, NOC_PAYLOAD_MAX, PORTAL_ALLOW_TAG, PORTAL_TAG, PROGRAM_ALIGNMENT,
    PROGRAM_RUN_TAG, PROGRAMS_MAX, Refusal, SYNC_TAG, StartInfo,
};
use nanvix_board::{Board, ClusterKind};
use nanvix_hal::{
    AdaptiveSpin, BoardControl, ClusterMemory, ClusterState, ConsoleInput, ControlNoc, CoreId,
    Cores, DataArrival, DataNoc, Disk, EndOfInput, Fault, FaultOutcome, HardwareEvent,
    InterruptOutcome, NocError, Platform, ReceiveDecision, Source, UserMode,
};

/// Messages a program's inbox holds before the kernel leaves further ones in their
/// NoC channels (backpressure reaches the senders; nothing is dropped).
pub const INBOX_CAPACITY: usize = 64;
/// Longest console line; longer output is split.
pub const CONSOLE_LINE_MAX: usize = 1024;
/// The same when more clusters are on than the machine has processors: the
/// cluster being waited for needs the processor a spinner would hold.
pub const CROWDED_SPIN_BUDGET: u32 = 20;
/// Rounds in a row with nothing taken after which a data transfer whose sender is
/// gone fails (its last chunks, if any, arrive before).
pub const GONE_ROUNDS: u32 = 64;
/// Rounds a core making a remote kcall spins on its slot before it parks.
pub const REMOTE_SPIN_BUDGET: u32 = 2_000;
/// Idle rounds the master keeps polling for remote calls after serving one.
pub const MASTER_SPIN_BUDGET: u32 = 2_000;
/// Most rounds the master serves remote calls before it routes and looks around.
pub const MASTER_SERVE_ROUNDS: u32 = 1 << 16;
/// A thread's time slice on a user core while others wait for one, in cycles of
/// the core's counter (10 ms at 2.5 GHz, this machine's counter; longer where the
/// counter is slower).
pub const SLICE_CYCLES: u64 = 25_000_000;
/// The same slice in nanoseconds, for the master's timed waits.
pub const SLICE_NANOSECONDS: u64 = 10_000_000;
/// Most return addresses a fault report carries.
pub const BACKTRACE_FRAMES: usize = 32;
/// The status a panicking thread ends with (as libnanvix's panic handler does).
pub const PANIC_STATUS: i32 = 101;
/// How often a program's main thread, ending, interrupts and wakes the program's
/// other threads again until they are all gone (a kick can come at a moment the
/// thread cannot take it: between two checks of a kernel path).
pub const END_KICK_NANOSECONDS: u64 = 1_000_000;
/// How long the master sleeps between passes over started writes that wait for
/// room while no core follows them, at first (writes that wait for an allow wait
/// for NoC traffic instead: the allow is a message).
pub const STARTED_WRITE_POLL_NANOSECONDS: u64 = 50_000;
/// The longest such sleep, reached by doubling while no pass moves a write on.
pub const STARTED_WRITE_POLL_MAX_NANOSECONDS: u64 = 5_000_000;
/// `Kernel::ending` of a program whose end has not begun.
const NOT_ENDING: i64 = i64::MIN;
/// What a kernel wait of a thread whose program is ending returns: the kcall layer
/// ends the thread on its way out, so no program sees it.
const ENDING: Errno = Errno::InputOutput;
/// Exit status reported for a program the loader refused.
pub const STATUS_REFUSED: i32 = 126;

/// Where a kernel finds the image's programs by name, for `program_spawn` and a
/// warm cluster's next program: their ELF bytes, which stay for the kernel's life
/// (a platform reads each once), or why not (`None`: the image has no such
/// program).
pub type ProgramLibrary = fn(&str) -> Option<Result<&'static [u8], String>>;

/// A program the boot spec asks the kernel to load.
pub struct ProgramToLoad<'a> {
    /// Its name.
    pub name: &'a str,
    /// Its ELF file, or why the platform could not provide it.
    pub elf: Result<&'a [u8], &'a str>,
    /// Arguments after the name.
    pub arguments: &'a [String],
    /// Heap size in bytes.
    pub heap_bytes: usize,
    /// Main-thread stack size in bytes.
    pub stack_bytes: usize,
    /// Whether the console input goes to this program.
    pub console_input: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ProgramState {
    Running,
    Exited(i32),
}

#[derive(Debug, PartialEq, Eq)]
struct Message {
    header: MessageHeader,
    payload: Vec<u8>,
}

struct Program {
    name: String,
    /// Whether this program holds the console input.
    console_input: bool,
    /// Program id on the cluster: its position in the boot spec, or the id
    /// `program_spawn` gave it.
    id: u32,
    node: u32,
    /// The context its main thread runs on (a boot program's: id + 1).
    main_context: CoreId,
    /// Its end is complete (its memory freed): `program_spawn` may reuse its place.
    reusable: bool,
    entry: usize,
    start_info: usize,
    stack_top: usize,
    state: ProgramState,
    inbox: VecDeque<Message>,
    waiting_core: Option<CoreId>,
    console: Vec<u8>,
}

/// What the hot kcall paths need of a program and what never changes once it is
/// placed: published once (before the program starts) and read without a lock.
struct ProgramInfo {
    id: u32,
    node: u32,
    /// The cluster's run when it was placed.
    run: u32,
    /// Image, stack, heap and start block: the memory kcall pointers may name
    /// (besides the program's window pages).
    regions: [Region; 4],
}

/// Where a program's pieces were placed in the cluster SRAM.
struct Placement {
    image: Region,
    stack: Region,
    heap: Region,
    start_block: Region,
}

/// What the kernel keeps per context (a thread's place; context `i + 1` runs
/// program id `i`'s main thread), a cache line each: a context's thread writes its
/// flags on every kcall, and no other core's context shares the line.
#[repr(align(64))]
struct ContextState {
    /// Index in `programs` + 1 of the program running there (0: none).
    running: AtomicUsize,
    /// The id of the thread running there (0: none).
    thread_id: AtomicUsize,
    /// A sync object was handed over to the thread waiting there.
    handed: AtomicBool,
    /// A `thread_wakeup` for the thread there, kept until it sleeps.
    wakeup: AtomicBool,
    /// How long its thread polls the NoC for a message before it parks, following
    /// how long its parks lasted.
    receive_spin: AdaptiveSpin,
    /// Whether its thread runs kernel code (true) or program code.
    in_kernel: AtomicBool,
    /// A preemption to take when its thread leaves the kernel (or, if its program
    /// is ending, the end of the thread).
    preempt_pending: AtomicBool,
}

impl ContextState {
    fn new() -> ContextState {
        ContextState {
            running: AtomicUsize::new(0),
            thread_id: AtomicUsize::new(0),
            handed: AtomicBool::new(false),
            wakeup: AtomicBool::new(false),
            receive_spin: AdaptiveSpin::new(),
            in_kernel: AtomicBool::new(true),
            preempt_pending: AtomicBool::new(false),
        }
    }
}

/// What the kernel keeps per program index, beside the programs' table.
struct ProgramSlot {
    /// The status the program ends with once its end began (an `exit` on any of
    /// its threads, or its main thread's return or fault), `NOT_ENDING` before.
    /// From then on its threads end as they next run or wake.
    ending: AtomicI64,
    /// Its [`ProgramInfo`], published before it starts (and never freed: programs
    /// are not unloaded).
    info: AtomicPtr<ProgramInfo>,
    /// Its inbox's length (written under the programs lock), so receivers see an
    /// empty inbox without taking the lock.
    inbox_length: AtomicUsize,
}

impl ProgramSlot {
    fn new() -> ProgramSlot {
        ProgramSlot {
            ending: AtomicI64::new(NOT_ENDING),
            info: AtomicPtr::new(core::ptr::null_mut()),
            inbox_length: AtomicUsize::new(0),
        }
    }
}

/// The kernel of one cluster.
pub struct Kernel<P: Platform> {
    platform: P,
    board: Arc<Board>,
    local: usize,
    gate: Gate,
    programs: Mutex<P::RawMutex, Vec<Program>>,
    frames: Mutex<P::RawMutex, FrameAllocator>,
    /// What the kernel keeps per context (one table: one allocation, one bounds
    /// check for several fields).
    contexts: Vec<ContextState>,
    /// The next thread id to hand out (ids start at 1).
    next_thread_id: AtomicUsize,
    /// Remote kcalls waiting for the master, in arrival order.
    remote: RemoteCalls,
    /// Every thread by the context it runs on (`None`: the context is free).
    threads: Mutex<P::RawMutex, Vec<Option<ThreadRecord>>>,
    /// Which thread holds which user core.
    tokens: CoreTokens<P::RawMutex>,
    /// The page tables of the MMU window.
    pages: Mutex<P::RawMutex, PageTable>,
    /// The programs' semaphores, mutexes and condition variables.
    syncs: Mutex<P::RawMutex, SyncTable>,
    /// The cluster's mailboxes (created and opened).
    mailboxes: Mutex<P::RawMutex, mailbox::MailboxTable>,
    /// The cluster's inter-cluster syncs (created and opened).
    sync_signals: Mutex<P::RawMutex, signals::SyncSignalTable>,
    /// Sync signals credited so far: a polling waiter looks again when this moved.
    sync_deliveries: AtomicU64,
    /// The cluster's portals and the allows its senders hold.
    portals: Mutex<P::RawMutex, portal::PortalTable>,
    /// Portal allows kept so far: a writer waiting for one looks again when this moved.
    portal_deliveries: AtomicU64,
    /// Reads started by `mailbox_aread` that wait for their message: while any
    /// does, the master watches the NoC as for parked receivers.
    started_reads: AtomicUsize,
    /// Writes started by `portal_awrite` still going, and by `mailbox_awrite` not
    /// sent yet (the channel was full): while any is, the master sends them as room
    /// and allows come.
    started_writes: AtomicUsize,
    /// Passes over started writes that moved one on so far, and how long the master
    /// sleeps between passes while writes wait for room (doubling, from
    /// `STARTED_WRITE_POLL_NANOSECONDS` to `STARTED_WRITE_POLL_MAX_NANOSECONDS`,
    /// while none moves).
    write_progress: AtomicU64,
    write_poll: AtomicU64,
    /// Clusters of the board that are on (high half: the board's state generation
    /// they were counted in, plus one; 0 before the first count).
    clusters_on: AtomicU64,
    /// The programs' pagers and the page faults waiting for them.
    pagers: Mutex<P::RawMutex, pager::Pagers>,
    /// What the kernel keeps per program index, without the programs lock.
    slots: Vec<ProgramSlot>,
    refused: AtomicUsize,
    /// Messages addressed to programs this cluster does not have.
    undeliverable: AtomicU64,
    /// Program cores polling the NoC in a receive right now: while there are any,
    /// they route arrivals and the master need not watch the NoC.
    pollers: AtomicUsize,
    /// Program cores parked in a receive and not yet woken: the master must watch the
    /// NoC for them. Whoever takes a core out of its waiting set (the waker, or the
    /// core itself after a bounded park) counts it out, so a woken receiver that has
    /// not run yet does not keep the master watching (and spinning on traffic that
    /// receiver will take).
    parked_receivers: AtomicUsize,
    /// Whether routing left a message in its channel because an inbox was full; the
    /// receive that frees room then wakes the master to route it.
    backlogged: AtomicBool,
    /// Messages queued in mailboxes (or kept for ports not created yet) so far: a
    /// polling reader looks in the table only when this moved.
    mailbox_queued: AtomicU64,
    /// Cores parked in a data receive: the master wakes them when traffic arrives.
    data_waiters: Mutex<P::RawMutex, Vec<CoreId>>,
    /// One data transfer at a time per destination cluster: a sender holds the
    /// lock while it sends, ...
    data_send_locks: Vec<Mutex<P::RawMutex, ()>>,
    /// ... and a started write that sent part of its transfer, or the abort marker
    /// of a transfer cut short, holds the channel between passes, by destination
    /// cluster.
    data_claims: Mutex<P::RawMutex, Vec<Option<Claim>>>,
    /// How many entries of `infos` are published.
    programs_count: AtomicUsize,
    /// Where `program_spawn` finds the image's programs (set at boot).
    library: Mutex<P::RawMutex, Option<ProgramLibrary>>,
    /// One `program_spawn` at a time (it picks an id, then places the program).
    spawning: Mutex<P::RawMutex, ()>,
    /// Contexts whose threads wait in `program_wait`: woken when a program ends.
    program_waiters: Mutex<P::RawMutex, Vec<CoreId>>,
    /// Notices "this cluster's mailbox (node, port) closed" whose channel was full:
    /// (destination node, node, port), sent on the master's passes (each counts
    /// in `started_writes` until it went).
    closed_notices: Mutex<P::RawMutex, Vec<(u32, u32, u32)>>,
    /// Per cluster of the board: the (epoch, run) of the last program this cluster
    /// asked it for over the NoC, so a second request before the board counted
    /// that run finds the cluster taken.
    requested_runs: Mutex<P::RawMutex, Vec<Option<(u32, u32)>>>,
    /// Programs I/O clusters' kernels asked this idle warm cluster for over the NoC,
    /// for the master to start when the cluster is idle, oldest first (a few at
    /// most: a vector, not a second kind of queue in the kernel's image).
    pending_runs: Mutex<P::RawMutex, Vec<programs::RunRequest>>,
    /// A warm cluster told the board it is idle (its programs ended) and has not
    /// started another program since.
    idle_reported: AtomicBool,
    /// The cluster's current run in its boot epoch: how many programs the board
    /// counts started (1 at boot); a program placed takes it, and its messages
    /// carry it (`MessageHeader::source_run`).
    run: AtomicU32,
    /// The board's state generation and the cluster states the master last saw:
    /// how deaths reach this kernel.
    known_states: Mutex<P::RawMutex, (u32, Vec<ClusterState>)>,
}

impl<P: Platform> Kernel<P> {
    /// A kernel for the local cluster of `board`; `kcall` is the entry its gate hands
    /// programs (a function that finds this kernel and calls [`Kernel::kcall`]).
    pub fn new(platform: P, board: Arc<Board>, kcall: KcallEntry) -> Self {
        let local = platform.board().local_cluster();
        let memory = platform.memory();
        // SAFETY: the HAL hands the kernel the whole SRAM arena, mapped for the
        // cluster's life; the frame allocator is its only user.
        let frames = unsafe { FrameAllocator::new(memory.base(), memory.size()) };
        let cores = platform.cores().count();
        let cluster_count = board.clusters.len();
        Kernel {
            gate: Gate {
                magic: GATE_MAGIC,
                version: nanvix_abi::ABI_VERSION,
                kcall,
            },
            local,
            programs: Mutex::new(Vec::new()),
            frames: Mutex::new(frames),
            contexts: (0..cores).map(|_| ContextState::new()).collect(),
            next_thread_id: AtomicUsize::new(1),
            remote: RemoteCalls::new(cores),
            threads: Mutex::new((0..cores).map(|_| None).collect()),
            syncs: Mutex::new(SyncTable::new()),
            mailboxes: Mutex::new(mailbox::MailboxTable::default()),
            sync_signals: Mutex::new(signals::SyncSignalTable::default()),
            sync_deliveries: AtomicU64::new(0),
            portals: Mutex::new(portal::PortalTable::default()),
            portal_deliveries: AtomicU64::new(0),
            clusters_on: AtomicU64::new(0),
            started_reads: AtomicUsize::new(0),
            started_writes: AtomicUsize::new(0),
            write_progress: AtomicU64::new(0),
            write_poll: AtomicU64::new(STARTED_WRITE_POLL_NANOSECONDS),
            pagers: Mutex::new(pager::Pagers::new(cores)),
            pages: Mutex::new(PageTable::new(
                memory.window().0,
                memory.window().1,
                memory.size(),
            )),
            slots: (0..PROGRAMS_MAX).map(|_| ProgramSlot::new()).collect(),
            tokens: CoreTokens::new(
                (board.clusters[local].cores as usize).saturating_sub(1),
                cores,
            ),
            refused: AtomicUsize::new(0),
            undeliverable: AtomicU64::new(0),
            pollers: AtomicUsize::new(0),
            parked_receivers: AtomicUsize::new(0),
            backlogged: AtomicBool::new(false),
            mailbox_queued: AtomicU64::new(0),
            data_waiters: Mutex::new(Vec::new()),
            data_send_locks: (0..board.clusters.len()).map(|_| Mutex::new(())).collect(),
            data_claims: Mutex::new(alloc::vec![None; board.clusters.len()]),
            known_states: Mutex::new((u32::MAX, Vec::new())),
            programs_count: AtomicUsize::new(0),
            library: Mutex::new(None),
            spawning: Mutex::new(()),
            program_waiters: Mutex::new(Vec::new()),
            closed_notices: Mutex::new(Vec::new()),
            requested_runs: Mutex::new(alloc::vec![None; cluster_count]),
            pending_runs: Mutex::new(Vec::new()),
            idle_reported: AtomicBool::new(false),
            run: AtomicU32::new(1),
            board,
            platform,
        }
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Loads every program, starts their main threads, reports the cluster up and
    /// runs the master loop until the last program ends; then powers off. `library`
    /// finds the image's programs for `program_spawn`.
    pub fn boot(&'static self, programs: &[ProgramToLoad<'_>], library: ProgramLibrary) -> ! {
        KERNEL_ADDRESS.store(self as *const Self as usize, Ordering::Release);
        *self.library.lock() = Some(library);
        self.platform.cores().set_interrupt_hook(preempt_hook::<P>);
        self.platform.cores().set_fault_hook(fault_hook::<P>);
        for (id, program) in programs.iter().enumerate() {
            match self.load(id, program) {
                Ok(base) => self.platform.board().report(HardwareEvent::ProgramStarted {
                    program: program.name,
                    id: id as u32,
                    node: self.node_of(id),
                    base,
                }),
                Err(error) => {
                    self.refused.fetch_add(1, Ordering::Relaxed);
                    self.platform.board().report(HardwareEvent::ProgramRefused {
                        program: program.name,
                        refusal: &error,
                    });
                }
            }
        }
        self.platform.board().report(HardwareEvent::ClusterUp);
        let ids: Vec<u32> = self
            .programs
            .lock()
            .iter()
            .map(|program| program.id)
            .collect();
        // Every main thread's context is taken before any program starts: a
        // program that creates threads at once must not take a context meant for
        // a main thread not started yet.
        for (index, id) in ids.iter().enumerate() {
            let core = *id as usize + 1;
            self.contexts[core]
                .running
                .store(index + 1, Ordering::Release);
            let thread = self.next_thread_id.fetch_add(1, Ordering::Relaxed);
            self.contexts[core]
                .thread_id
                .store(thread, Ordering::Release);
            self.threads.lock()[core] = Some(ThreadRecord::main(thread, index));
        }
        for (index, id) in ids.into_iter().enumerate() {
            let core = id as usize + 1;
            if let Err(error) =
                self.platform
                    .cores()
                    .start(core, run_program::<P>, self as *const Self as usize)
            {
                self.console(
                    "kernel",
                    nanvix_hal::text!("cannot start program {}: {}", id, error.text()).as_bytes(),
                );
                self.threads.lock()[core] = None;
                self.contexts[core].thread_id.store(0, Ordering::Release);
                self.finish(index, STATUS_REFUSED);
            }
        }
        self.run()
    }

    fn node_of(&self, id: usize) -> u32 {
        let cluster = &self.board.clusters[self.local];
        cluster.first_node + (id as u32 % cluster.node_count)
    }

    /// Checks and places one boot program (its main thread on core id + 1);
    /// returns its load base.
    fn load(&self, id: usize, program: &ProgramToLoad<'_>) -> Result<usize, Refusal> {
        let core = id + 1;
        if id >= PROGRAMS_MAX {
            return Err(Refusal::TooMany);
        }
        let user_cores = (self.board.clusters[self.local].cores as usize).saturating_sub(1);
        if core > user_cores || core >= self.platform.cores().count() {
            return Err(Refusal::NoCore);
        }
        let elf = program
            .elf
            .map_err(|reason| Refusal::Unavailable(reason.to_string()))?;
        let (image, placement) = self.allocate(program, elf)?;
        let index = self.programs.lock().len();
        Ok(self.place((id, index, core), program, elf, &image, placement))
    }

    /// Checks `elf` and takes the cluster memory `program` needs.
    fn allocate(
        &self,
        program: &ProgramToLoad<'_>,
        elf: &[u8],
    ) -> Result<(loader::ProgramImage, Placement), Refusal> {
        let image = loader::inspect(elf).map_err(Refusal::Load)?;
        let start_block_bytes = core::mem::size_of::<StartInfo>()
            + (program.arguments.len() + 1) * core::mem::size_of::<ArgumentSlice>()
            + program.name.len()
            + program.arguments.iter().map(String::len).sum::<usize>();
        let stack_bytes = program.stack_bytes.next_multiple_of(4096).max(4096);
        let heap_bytes = program.heap_bytes.next_multiple_of(4096);
        let requests = [
            (image.span, PROGRAM_ALIGNMENT),
            (stack_bytes, 4096),
            (heap_bytes.max(4096), 4096),
            (start_block_bytes.next_multiple_of(16), 16),
        ];
        let mut frames = self.frames.lock();
        let mut taken: Vec<(Region, usize)> = Vec::with_capacity(requests.len());
        for (size, alignment) in requests {
            match frames.allocate(size, alignment) {
                Ok(region) => taken.push((region, alignment)),
                Err(error) => {
                    for (region, alignment) in taken {
                        frames.free(region, alignment);
                    }
                    return Err(Refusal::OutOfMemory {
                        requested: error.requested as u64,
                    });
                }
            }
        }
        drop(frames);
        let placement = Placement {
            image: taken[0].0,
            stack: taken[1].0,
            heap: taken[2].0,
            start_block: taken[3].0,
        };
        Ok((image, placement))
    }

    /// Gives the cluster memory of a placed program back, zeroed (the next program
    /// to take it sees nothing of this one's).
    fn free_placement(&self, regions: &[Region; 4]) {
        let alignments = [PROGRAM_ALIGNMENT, 4096, 4096, 16];
        let mut frames = self.frames.lock();
        for (region, alignment) in regions.iter().zip(alignments) {
            // The regions were allocated for a program that ended (or never
            // started): no thread runs in them and nothing refers to them any more.
            self.platform.memory().zero(region.base, region.size);
            frames.free(*region, alignment);
        }
    }

    /// Copies and relocates the image, writes the start block and records the
    /// program as id `id` at `index` of the program table (a new entry, or one
    /// whose program ended), its main thread to run on `main_context`.
    fn place(
        &self,
        (id, index, main_context): (usize, usize, CoreId),
        program: &ProgramToLoad<'_>,
        elf: &[u8],
        image: &loader::ProgramImage,
        placement: Placement,
    ) -> usize {
        let Placement {
            image: image_region,
            stack,
            heap,
            start_block,
        } = placement;
        // SAFETY: freshly allocated regions owned by this not-yet-started program.
        image.place(
            elf,
            unsafe { user_memory::region_bytes(image_region) },
            image_region.base,
        );
        // SAFETY: as above.
        let block = unsafe { user_memory::region_bytes(start_block) };
        block.fill(0);
        let slices_at = core::mem::size_of::<StartInfo>();
        let mut text_at =
            slices_at + (program.arguments.len() + 1) * core::mem::size_of::<ArgumentSlice>();
        let names =
            core::iter::once(program.name).chain(program.arguments.iter().map(String::as_str));
        for (position, text) in names.enumerate() {
            block[text_at..text_at + text.len()].copy_from_slice(text.as_bytes());
            let slice = ArgumentSlice {
                pointer: (start_block.base + text_at) as *const u8,
                length: text.len(),
            };
            let at = slices_at + position * core::mem::size_of::<ArgumentSlice>();
            // SAFETY: `at` is inside the start block and 8-aligned (the block is 16-
            // aligned and StartInfo and ArgumentSlice sizes are multiples of 8).
            unsafe { ((start_block.base + at) as *mut ArgumentSlice).write(slice) };
            text_at += text.len();
        }
        let info = StartInfo {
            gate: &self.gate,
            arguments: (start_block.base + slices_at) as *const ArgumentSlice,
            argument_count: program.arguments.len() + 1,
            heap_base: heap.base,
            heap_size: heap.size,
            node: self.node_of(id),
            program: id as u32,
            cluster: self.local as u32,
        };
        // SAFETY: the start block begins with room for a StartInfo and is 16-aligned.
        unsafe { (start_block.base as *mut StartInfo).write(info) };
        let mut programs = self.programs.lock();
        let info = alloc::boxed::Box::new(ProgramInfo {
            id: id as u32,
            node: self.node_of(id),
            run: self.run.load(Ordering::Acquire),
            regions: [image_region, stack, heap, start_block],
        });
        // An ended program's info stays where a reader may hold it (leaked, never
        // freed); its place takes the new one.
        self.slots[index]
            .info
            .store(alloc::boxed::Box::leak(info), Ordering::Release);
        self.slots[index]
            .ending
            .store(NOT_ENDING, Ordering::Release);
        self.slots[index].inbox_length.store(0, Ordering::Release);
        let record = Program {
            name: program.name.to_string(),
            console_input: program.console_input,
            id: id as u32,
            node: self.node_of(id),
            main_context,
            reusable: false,
            entry: image_region.base + image.entry,
            start_info: start_block.base,
            stack_top: (stack.base + stack.size) & !15,
            state: ProgramState::Running,
            inbox: VecDeque::new(),
            waiting_core: None,
            console: Vec::new(),
        };
        if index < programs.len() {
            programs[index] = record;
        } else {
            programs.push(record);
            self.programs_count.store(programs.len(), Ordering::Release);
        }
        image_region.base
    }

    /// Runs the program whose main thread this core was started for.
    fn run_current(&self) {
        let core = self.platform.cores().current();
        let index = self.contexts[core].running.load(Ordering::Acquire) - 1;
        let (entry, start_info, stack_top) = {
            let programs = self.programs.lock();
            let program = &programs[index];
            (program.entry, program.start_info, program.stack_top)
        };
        self.tokens.acquire(self.platform.cores(), core);
        // SAFETY: `entry` is the entry of a program the loader checked and placed,
        // `stack_top` the top of its private stack.
        let value = unsafe { self.enter_user(core, entry, start_info, stack_top) };
        let status = self.begin_end(index, core, value as u32 as i32);
        self.pager_ended(core);
        self.threads.lock()[core] = None;
        self.tokens.release(self.platform.cores(), core);
        self.end_other_threads(index, core);
        self.finish(index, status);
    }

    fn finish(&self, index: usize, status: i32) {
        self.syncs.lock().remove_owner(index);
        self.sync_signals.lock().remove_owner(index);
        let (idle_writes, (portal_reads, portal_writes)) = {
            let mut portals = self.portals.lock();
            (portals.idle_writes(index), portals.remove_owner(index))
        };
        self.started_reads.fetch_sub(portal_reads, Ordering::SeqCst);
        self.started_writes
            .fetch_sub(portal_writes, Ordering::SeqCst);
        // The channels its started writes hold: released, or kept for the abort
        // marker of a transfer that went out in part. (A write a pass is sending
        // right now is not idle: that pass finds its portal gone and does this.)
        let source = self.source_of(index);
        for (id, node, port, sent, length) in idle_writes {
            if let Some(destination) = self.board.cluster_of_node(node) {
                let abort = Abort::of(source, (node, PORTAL_TAG + port), sent, length);
                self.end_claim(destination.index as usize, Claim::Write(index, id), abort);
            }
        }
        let (lost, reads, writes, closed) = self.mailboxes.lock().remove_owner(index);
        self.undeliverable.fetch_add(lost as u64, Ordering::Relaxed);
        self.started_reads.fetch_sub(reads, Ordering::SeqCst);
        self.started_writes.fetch_sub(writes, Ordering::SeqCst);
        // Callers waiting for answers from its mailboxes learn none will come.
        self.announce_closed(closed);
        self.release_pages(index);
        let (name, rest, main_context) = {
            let mut programs = self.programs.lock();
            let program = &mut programs[index];
            program.state = ProgramState::Exited(status);
            (
                program.name.clone(),
                core::mem::take(&mut program.console),
                program.main_context,
            )
        };
        if !rest.is_empty() {
            self.platform.board().console_line(&name, &rest);
        }
        self.platform.board().report(HardwareEvent::ProgramExited {
            program: &name,
            status,
        });
        self.contexts[main_context]
            .running
            .store(0, Ordering::Release);
        // Nothing of the program runs any more: its memory goes back, and its place
        // may take a new program.
        self.free_placement(&self.info(index).regions);
        self.programs.lock()[index].reusable = true;
        if self.platform.board().warm()
            && let Some(status) = self.final_status()
        {
            self.report_idle(status);
        }
        for context in core::mem::take(&mut *self.program_waiters.lock()) {
            self.platform.cores().unpark(context);
        }
        self.platform.cores().unpark(0);
    }

    /// Writes the counters of program `index`'s communication object `id` of
    /// `kind` to `out`.
    fn comm_counters(
        &self,
        index: usize,
        kind: usize,
        id: usize,
        out: usize,
        size: usize,
    ) -> Result<usize, Errno> {
        if size != core::mem::size_of::<CommCounters>() {
            return Err(Errno::Invalid);
        }
        let counters = match kind {
            COMM_MAILBOX => self.mailboxes.lock().counters(index, id)?,
            COMM_PORTAL => self.portals.lock().counters(index, id)?,
            COMM_SYNC => self.sync_signals.lock().counters(index, id)?,
            _ => return Err(Errno::Invalid),
        };
        self.space(index).write_value(out, &counters)?;
        Ok(0)
    }

    /// Rounds the thread on `context` polls the NoC before it parks: as its parks
    /// suggest ([`AdaptiveSpin`]: long while its messages come soon, short once
    /// they keep coming late), and few once more clusters are on than the machine
    /// has processors.
    fn receive_spin_budget(&self, context: CoreId) -> u32 {
        let board = self.platform.board();
        let generation = u64::from(board.state_generation()) + 1;
        let counted = self.clusters_on.load(Ordering::Relaxed);
        let on = if counted >> 32 == generation {
            (counted & u64::from(u32::MAX)) as usize
        } else {
            let on = (0..self.board.clusters.len())
                .filter(|index| matches!(board.cluster_state(*index), ClusterState::On { .. }))
                .count();
            self.clusters_on
                .store(generation << 32 | on as u64, Ordering::Relaxed);
            on
        };
        let adaptive = self
            .contexts
            .get(context)
            .map(|state| &state.receive_spin)
            .map_or(CROWDED_SPIN_BUDGET, AdaptiveSpin::rounds);
        if on <= self.platform.cores().machine_processors() {
            adaptive
        } else {
            adaptive.min(CROWDED_SPIN_BUDGET)
        }
    }

    fn console(&self, program: &str, line: &[u8]) {
        self.platform.board().console_line(program, line);
    }

    /// The master loop: routes NoC messages to programs until every program ended.
    fn run(&'static self) -> ! {
        let cores = self.platform.cores();
        loop {
            self.serve_remote_calls(cores);
            self.route(None);
            if self.started_reads.load(Ordering::SeqCst) > 0 {
                self.progress_portal_reads();
            }
            let writing = self.started_writes.load(Ordering::SeqCst) > 0;
            let mut waiting_room = false;
            if writing {
                let progress = self.write_progress.load(Ordering::Relaxed);
                waiting_room = self.progress_portal_writes()
                    | self.progress_mailbox_writes()
                    | self.progress_closed_notices()
                    | self.progress_aborts();
                let poll = if self.write_progress.load(Ordering::Relaxed) != progress {
                    STARTED_WRITE_POLL_NANOSECONDS
                } else {
                    (self.write_poll.load(Ordering::Relaxed) * 2)
                        .min(STARTED_WRITE_POLL_MAX_NANOSECONDS)
                };
                self.write_poll.store(poll, Ordering::Relaxed);
            }
            let woken = {
                let mut waiters = self.data_waiters.lock();
                self.parked_receivers
                    .fetch_sub(waiters.len(), Ordering::SeqCst);
                core::mem::take(&mut *waiters)
            };
            for core in woken {
                self.platform.cores().unpark(core);
            }
            self.notice_state_changes();
            if self.platform.board().take_shutdown_request() {
                self.deliver_shutdown_notice();
            }
            let mut idle = false;
            if let Some(status) = self.final_status() {
                if !self.platform.board().warm() {
                    // A clean power-off: the disk's cache reaches the medium first.
                    if let Some(disk) = self.platform.disk() {
                        let _ = disk.flush();
                    }
                    self.platform.board().power_off(status);
                }
                self.serve_idle(status);
                idle = self.final_status().is_some();
            }
            if !self.remote.may_sleep() {
                continue;
            }
            if self.tokens.contended() {
                // Threads wait for cores: keep their time slices.
                for context in self.tokens.overdue(cores.cycles(), SLICE_CYCLES) {
                    cores.interrupt(context);
                }
                cores.park_timeout(SLICE_NANOSECONDS / 2);
            } else if waiting_room && self.pollers.load(Ordering::SeqCst) == 0 {
                // Started writes wait for room and no core follows them: look again
                // soon, then less often while none moves (a receiver making room
                // rings no bell here).
                cores.park_timeout(self.write_poll.load(Ordering::Relaxed));
            } else if (self.parked_receivers.load(Ordering::SeqCst) > 0
                || self.started_reads.load(Ordering::SeqCst) > 0
                || writing)
                && self.pollers.load(Ordering::SeqCst) == 0
            {
                // Receivers sleep and nobody polls for them: watch the NoC.
                self.platform.noc().wait_for_traffic();
            } else if idle {
                // An idle warm cluster waits for a request to run a program (its
                // kernel's NoC message, or the board's signal); the board's other
                // changes need not wake it.
                self.platform.noc().wait_for_messages();
            } else {
                // Either a program core polls (and routes for everyone), or nobody
                // waits: stay out of the programs' way. A receiver that parks wakes
                // the master; a bounded park still routes stray messages and
                // notices deaths regularly.
                self.platform.cores().park();
            }
            self.remote.awake();
        }
    }

    /// Serves the remote calls that arrived; after any, stays to serve more until
    /// none came for `MASTER_SPIN_BUDGET` rounds (a core making calls in a row, the
    /// common case, finds the master awake), at most `MASTER_SERVE_ROUNDS` rounds so
    /// routing and death notices are not held up.
    fn serve_remote_calls(&'static self, cores: &P::Cores) {
        if self.remote.serve(cores, |call| self.remote_kcall(call)) == 0 {
            return;
        }
        let mut idle = 0;
        for _ in 0..MASTER_SERVE_ROUNDS {
            if self.remote.serve(cores, |call| self.remote_kcall(call)) > 0 {
                idle = 0;
            } else {
                idle += 1;
                if idle >= MASTER_SPIN_BUDGET {
                    return;
                }
                core::hint::spin_loop();
            }
        }
    }

    /// Reads the board's cluster states when their generation changed and reports
    /// each cluster that died since: the hardware's death event reaching this kernel.
    fn notice_state_changes(&self) {
        let board = self.platform.board();
        let generation = board.state_generation();
        let mut deaths = Vec::new();
        {
            let mut known = self.known_states.lock();
            if known.0 == generation {
                return;
            }
            let states: Vec<ClusterState> = (0..self.board.clusters.len())
                .map(|index| board.cluster_state(index))
                .collect();
            for (index, state) in states.iter().enumerate() {
                if let ClusterState::Dead { epoch } = *state
                    && known.1.get(index) != Some(state)
                {
                    deaths.push((index, epoch));
                }
            }
            *known = (generation, states);
        }
        if !deaths.is_empty() {
            // Waiters for a node of a dead cluster must learn it.
            self.wake_sync_waiters();
            self.wake_portal_writers();
            self.wake_mailbox_readers();
        }
        for (index, epoch) in deaths {
            let line = nanvix_hal::text!(
                "cluster {} died in epoch {}",
                self.board.clusters[index].name.as_str(),
                epoch
            );
            self.console("kernel", line.as_bytes());
        }
    }

    /// The cluster's status once every program ended and was cleared away (its
    /// memory back, its slot free for the next program: an idle warm cluster can
    /// take one at once); `None` before.
    fn final_status(&self) -> Option<i32> {
        let programs = self.programs.lock();
        let mut worst = if self.refused.load(Ordering::Relaxed) > 0 {
            STATUS_REFUSED
        } else {
            0
        };
        for program in programs.iter() {
            match program.state {
                ProgramState::Running => return None,
                // Its end is still under way.
                ProgramState::Exited(_) if !program.reusable => return None,
                ProgramState::Exited(status) if worst == 0 => worst = status,
                ProgramState::Exited(_) => {}
            }
        }
        Some(worst)
    }

    /// Moves arrived messages into their programs' inboxes; a full inbox leaves its
    /// message in the NoC channel, so the sender feels backpressure. With `direct`,
    /// the first message for that receiver (when nothing older waits in its inbox)
    /// goes straight to its buffers instead.
    fn route(&self, mut direct: Option<&mut DirectReceive<'_, P::RawMutex>>) {
        // The HAL's receive looks the same way before it locks; this look first
        // keeps idle polls from allocating and entering it.
        if !self.platform.noc().may_be_ready() {
            return;
        }
        let mut lost = Vec::new();
        self.platform.noc().receive(&mut |arrival| {
            let (header, node, program) = (
                &arrival.header,
                arrival.destination_node,
                arrival.destination_program,
            );
            if program == PORTAL_ALLOW_TAG {
                return self.route_portal_allow(node, header, arrival.payload);
            }
            if program == SYNC_TAG {
                return self.route_to_sync(node, header, arrival.payload);
            }
            if program == MAILBOX_CLOSED_TAG {
                return self.route_mailbox_closed(header, arrival.payload);
            }
            if program == PROGRAM_RUN_TAG {
                return self.route_program_run(header, arrival.payload);
            }
            if program >= MAILBOX_TAG {
                return self.route_to_mailbox(
                    node,
                    program,
                    header,
                    arrival.payload,
                    direct.as_deref_mut(),
                );
            }
            let Some(position) = self.find_program(node, program) else {
                self.undeliverable.fetch_add(1, Ordering::Relaxed);
                lost.push((*header, node, program));
                return ReceiveDecision::Take;
            };
            // Fast path: the polling receiver's own message, nothing older queued.
            if let Some(direct) = direct.as_deref_mut()
                && direct.index == position
                && direct.mailbox.is_none()
                && direct.delivered.is_none()
                && self.slots[position].inbox_length.load(Ordering::Acquire) == 0
                && direct.deliver(header, arrival.payload)
            {
                return ReceiveDecision::Take;
            }
            let mut programs = self.programs.lock();
            let target = &mut programs[position];
            if target.state != ProgramState::Running {
                self.undeliverable.fetch_add(1, Ordering::Relaxed);
                lost.push((*header, node, program));
                return ReceiveDecision::Take;
            }
            if target.inbox.len() >= INBOX_CAPACITY {
                self.backlogged.store(true, Ordering::SeqCst);
                return ReceiveDecision::Keep;
            }
            target.inbox.push_back(Message {
                header: *header,
                payload: arrival.payload.to_vec(),
            });
            self.slots[position]
                .inbox_length
                .store(target.inbox.len(), Ordering::Release);
            if let Some(core) = target.waiting_core.take() {
                self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
                self.platform.cores().unpark(core);
            }
            ReceiveDecision::Take
        });
        for (header, node, program) in lost {
            let line = nanvix_hal::text!(
                "undeliverable message from node {} program {}: no running program {} on node {}",
                header.source_node,
                header.source_program,
                program,
                node
            );
            self.console("kernel", line.as_bytes());
        }
    }

    /// The kcall layer: checks arguments, then runs the call for the calling program.
    pub fn kcall(&self, number: usize, arguments: [usize; 5]) -> isize {
        let core = self.platform.cores().current();
        let Some(in_kernel) = self.contexts.get(core).map(|state| &state.in_kernel) else {
            return Errno::Permission.to_result();
        };
        in_kernel.store(true, Ordering::Relaxed);
        let result = self.kcall_on(core, number, arguments);
        // A preemption that came while the thread was in the kernel is taken on the
        // way out, where it holds nothing; so is the end of its program.
        // (This context's interrupt hook sets the flag, and so does a thread ending
        // the program: plain loads and stores, no read-modify-write on the kcall
        // path. A flag cleared as another core sets it is a kick lost: the ending
        // main thread kicks again until the thread is gone.)
        let pending = &self.contexts[core].preempt_pending;
        if pending.load(Ordering::Relaxed) {
            pending.store(false, Ordering::Relaxed);
            if let Some(status) = self.ending_status_on(core) {
                // The program is ending: so does this thread (it holds nothing here).
                self.platform.user_mode().leave(status as u32 as u64);
            }
            self.tokens.yield_core(self.platform.cores(), core);
        }
        in_kernel.store(false, Ordering::Relaxed);
        result
    }

    /// The status program `index` ends with, once its end began.
    fn ending_status(&self, index: usize) -> Option<i32> {
        let status = self
            .slots
            .get(index)
            .map(|slot| &slot.ending)?
            .load(Ordering::Acquire);
        (status != NOT_ENDING).then_some(status as i32)
    }

    /// The status the program of the thread on `context` ends with, once its end
    /// began.
    fn ending_status_on(&self, context: CoreId) -> Option<i32> {
        let running = self
            .contexts
            .get(context)
            .map(|state| &state.running)?
            .load(Ordering::Acquire);
        self.ending_status(running.checked_sub(1)?)
    }

    /// Begins the end of program `index` with `status` (the first status stays):
    /// its other threads are told. Returns the status it ends with.
    fn begin_end(&self, index: usize, context: CoreId, status: i32) -> i32 {
        match self.slots[index].ending.compare_exchange(
            NOT_ENDING,
            i64::from(status),
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            Ok(_) => {
                self.kick_threads(index, context);
                status
            }
            Err(first) => first as i32,
        }
    }

    /// Tells every thread of program `index` but the one on `except` to end: a
    /// thread in program code is interrupted and ends there; one in the kernel ends
    /// on its way out; one that waits is woken and stops waiting. Returns how many
    /// it told.
    fn kick_threads(&self, index: usize, except: CoreId) -> usize {
        let cores = self.platform.cores();
        let mut told = 0;
        for context in 1..self.contexts.len() {
            if context == except
                || self.contexts[context].running.load(Ordering::Acquire) != index + 1
            {
                continue;
            }
            self.contexts[context]
                .preempt_pending
                .store(true, Ordering::Relaxed);
            cores.unpark(context);
            cores.interrupt(context);
            told += 1;
        }
        told
    }

    /// The main thread of program `index`, on `context`, ended: tells the
    /// program's other threads to end and waits, without a core, until they have.
    fn end_other_threads(&self, index: usize, context: CoreId) {
        let cores = self.platform.cores();
        while self.kick_threads(index, context) > 0 {
            cores.park_timeout(END_KICK_NANOSECONDS);
        }
        // Threads that ended before and were never joined: nobody will.
        for record in self.threads.lock().iter_mut() {
            if record
                .as_ref()
                .is_some_and(|record| record.program == index)
            {
                *record = None;
            }
        }
    }

    /// Runs kcall `number` for the thread on context `core`.
    fn kcall_on(&self, core: CoreId, number: usize, arguments: [usize; 5]) -> isize {
        let Some(index) = self
            .contexts
            .get(core)
            .map(|state| &state.running)
            .map(|slot| slot.load(Ordering::Acquire))
            .filter(|slot| *slot != 0)
        else {
            return Errno::Permission.to_result();
        };
        let index = index - 1;
        let Some(kcall) = Kcall::from_number(number) else {
            return Errno::NoSystemCall.to_result();
        };
        if kcall.placement() == nanvix_abi::Placement::Remote {
            return self.remote.call(
                self.platform.cores(),
                core,
                number,
                arguments,
                REMOTE_SPIN_BUDGET,
            );
        }
        let result = match kcall {
            Kcall::Exit => {
                let status = self.begin_end(index, core, arguments[0] as u32 as i32);
                self.platform.user_mode().leave(status as u32 as u64)
            }
            Kcall::ConsoleWrite => self.console_write(index, arguments[0], arguments[1]),
            Kcall::ClusterInfo => {
                self.cluster_info(index, arguments[0], arguments[1], arguments[2])
            }
            Kcall::NocSend => self.noc_send(
                index,
                arguments[0],
                arguments[1],
                arguments[2],
                arguments[3],
            ),
            Kcall::Cycles => Ok(self.platform.cores().cycles() as usize),
            Kcall::ConsoleRead => self.console_read(index, arguments[0], arguments[1]),
            Kcall::LogWrite => self.log_write(index, arguments[0], arguments[1]),
            Kcall::DataSend => self.data_send(
                index,
                arguments[0],
                arguments[1],
                arguments[2],
                arguments[3],
            ),
            Kcall::DataReceive => {
                self.data_receive(index, core, arguments[0], arguments[1], arguments[2])
            }
            Kcall::NocReceive => {
                self.noc_receive(index, core, arguments[0], arguments[1], arguments[2])
            }
            Kcall::ThreadSelf => Ok(self.contexts[core].thread_id.load(Ordering::Acquire)),
            Kcall::ThreadExit => self.platform.user_mode().leave(arguments[0] as u32 as u64),
            Kcall::ThreadJoin => self.thread_join(index, core, arguments[0]),
            Kcall::ThreadCreate => {
                self.thread_create(core, arguments[0], arguments[1], arguments[2], arguments[3])
            }
            Kcall::ThreadYield => self.thread_yield(core),
            Kcall::ThreadSleep => self.thread_sleep(core),
            Kcall::MemoryWindow => self.memory_window(),
            Kcall::MemoryMap => self.memory_map(index, arguments[0], arguments[1], arguments[2]),
            Kcall::MemoryUnmap => self.memory_unmap(index, arguments[0]),
            Kcall::MemoryProtect => self.memory_protect(index, arguments[0], arguments[1]),
            Kcall::MemoryInfo => self.memory_info(index, arguments[0]),
            Kcall::MemoryGrant => self.memory_grant(
                index,
                arguments[0],
                arguments[1],
                arguments[2],
                arguments[3],
            ),
            Kcall::PagerAttach => self.pager_attach(index, core),
            Kcall::PagerWait => self.pager_wait(index, core, arguments[0], arguments[1]),
            Kcall::PagerResume => self.pager_resume(index, core, arguments[0], arguments[1]),
            Kcall::PanicReport => self.panic_report(index, core, arguments[0], arguments[1]),
            Kcall::DeviceRead => self.device_read(index, arguments[0], arguments[1], arguments[2]),
            Kcall::DeviceWrite => {
                self.device_write(index, core, arguments[0], arguments[1], arguments[2])
            }
            Kcall::ThreadCpuTime => Ok(self.platform.cores().thread_cpu_nanoseconds() as usize),
            Kcall::ThreadWakeup => self.thread_wakeup(index, arguments[0]),
            Kcall::SemaphoreCreate
            | Kcall::SemaphoreDown
            | Kcall::SemaphoreUp
            | Kcall::MutexCreate
            | Kcall::MutexLock
            | Kcall::MutexUnlock
            | Kcall::ConditionCreate
            | Kcall::ConditionWait
            | Kcall::ConditionSignal
            | Kcall::ConditionBroadcast
            | Kcall::SyncDestroy => self.sync_kcall(kcall, index, core, arguments),
            Kcall::ClusterPowerOn => self.cluster_power_on(index, arguments),
            Kcall::ClusterPowerOff => self.cluster_power_off(arguments[0], arguments[1]),
            Kcall::ClusterWait => Ok(self.cluster_wait(core, arguments[0], arguments[1])),
            Kcall::ProgramSpawn => self.program_spawn(index, arguments),
            Kcall::ProgramWait => self.program_wait(core, arguments[0], arguments[1]),
            Kcall::ProgramKill => self.program_kill(arguments[0], arguments[1]),
            Kcall::MailboxCreate => self.mailbox_create(index, arguments[0]),
            Kcall::MailboxOpen => self.mailbox_open(index, arguments[0], arguments[1]),
            Kcall::MailboxWrite => self.mailbox_write(
                index,
                arguments[0],
                arguments[1],
                arguments[2],
                arguments[3],
            ),
            Kcall::MailboxAread => {
                let [id, source, header, buffer, capacity] = arguments;
                self.mailbox_aread(index, id, source, header, buffer, capacity)
            }
            Kcall::MailboxAwrite => {
                self.mailbox_awrite(index, arguments[0], arguments[1], arguments[2])
            }
            Kcall::MailboxWait => self.mailbox_collect(index, core, arguments[0]),
            Kcall::PortalAread => {
                let [id, header, buffer, capacity, _] = arguments;
                self.portal_aread(index, id, header, buffer, capacity)
            }
            Kcall::PortalAwrite => {
                self.portal_awrite(index, arguments[0], arguments[1], arguments[2])
            }
            Kcall::PortalWait => self.portal_collect(index, core, arguments[0], arguments[1]),
            Kcall::CommCounters => self.comm_counters(
                index,
                arguments[0],
                arguments[1],
                arguments[2],
                arguments[3],
            ),
            Kcall::MailboxRead => {
                let [id, source, header, buffer, capacity] = arguments;
                self.mailbox_read(index, core, id, source, header, buffer, capacity)
            }
            Kcall::SyncCreate => self.sync_create(index, arguments[0], arguments[1], arguments[2]),
            Kcall::SyncOpen => self.sync_open(index, arguments[0], arguments[1], arguments[2]),
            Kcall::SyncWait => self.sync_wait(index, core, arguments[0]),
            Kcall::SyncSignal => self.sync_signal(index, arguments[0]),
            Kcall::SyncClose => self.sync_close(index, arguments[0]),
            Kcall::SyncUnlink => self.sync_unlink(index, arguments[0]),
            Kcall::PortalCreate => self.portal_create(index, arguments[0]),
            Kcall::PortalAllow => {
                self.portal_allow(index, arguments[0], arguments[1], arguments[2])
            }
            Kcall::PortalOpen => self.portal_open(index, arguments[0], arguments[1]),
            Kcall::PortalWrite => {
                let [id, buffer, length, flags, _] = arguments;
                self.portal_write(index, core, id, buffer, length, flags)
            }
            Kcall::PortalRead => {
                let [id, header, buffer, capacity, _] = arguments;
                self.portal_read(index, core, id, header, buffer, capacity)
            }
            Kcall::PortalClose => self.portal_close(index, arguments[0]),
            Kcall::PortalUnlink => self.portal_unlink(index, arguments[0]),
            Kcall::MailboxClose => self.mailbox_close(index, arguments[0]),
            Kcall::MailboxUnlink => self.mailbox_unlink(index, arguments[0]),
            // Remote calls went to the master above.
            Kcall::DiskInfo => self.disk_info(),
            Kcall::DiskRead => self.disk_read(index, arguments[0], arguments[1], arguments[2]),
            Kcall::DiskWrite => self.disk_write(index, arguments[0], arguments[1], arguments[2]),
            Kcall::DiskFlush => self.disk_flush(),
            Kcall::DdrInfo => self.ddr_info(),
            Kcall::DdrRead => self.ddr_read(index, arguments[0], arguments[1], arguments[2]),
            Kcall::DdrWrite => self.ddr_write(index, arguments[0], arguments[1], arguments[2]),
            Kcall::ProgramStage => self.program_stage(index, arguments),
            Kcall::Noop => Err(Errno::NoSystemCall),
        };
        match result {
            Ok(value) => value as isize,
            Err(errno) => errno.to_result(),
        }
    }

    /// Runs one remote kcall on the master (never blocks).
    fn remote_kcall(&'static self, call: &RemoteCall) -> isize {
        let result = match Kcall::from_number(call.number) {
            Some(Kcall::Noop) => Ok(0),
            // Only remote calls reach the board; anything else is a kernel bug,
            // answered rather than trusted.
            _ => Err(Errno::NoSystemCall),
        };
        match result {
            Ok(value) => value as isize,
            Err(errno) => errno.to_result(),
        }
    }

    /// The memory program `index` may hand kcalls: its regions and its window pages.
    fn space(&self, index: usize) -> UserSpace<'_, P::RawMutex> {
        UserSpace::new(&self.info(index).regions, index, &self.pages)
    }

    /// The memory of program `index`, once it checked that a receive may write a
    /// `MessageHeader` at `header_address` and `capacity` bytes at `buffer`.
    fn receive_space(
        &self,
        index: usize,
        header_address: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<(UserSpace<'_, P::RawMutex>, WritableRange, WritableRange), Errno> {
        let space = self.space(index);
        let header = space.writable(header_address, core::mem::size_of::<MessageHeader>())?;
        let buffer = space.writable(buffer, capacity)?;
        Ok((space, header, buffer))
    }

    /// What the NoC stamps on program `index`'s messages: its node, id and run.
    fn source_of(&self, index: usize) -> Source {
        let info = self.info(index);
        Source {
            node: info.node,
            program: info.id,
            run: info.run,
        }
    }

    /// What the NoC stamps on a message the kernel sends itself from `node`.
    fn kernel_source(&self, node: u32) -> Source {
        Source {
            node,
            program: nanvix_abi::KERNEL_PROGRAM,
            run: self.run.load(Ordering::Acquire),
        }
    }

    /// The published facts of program `index` (one that was placed).
    fn info(&self, index: usize) -> &ProgramInfo {
        let pointer = self.slots[index].info.load(Ordering::Acquire);
        debug_assert!(!pointer.is_null(), "program {index} was never placed");
        // SAFETY: callers name placed programs, whose info was published (a leaked
        // Box, never freed) before `programs_count` counted it and before their core
        // started.
        unsafe { &*pointer }
    }

    /// The index of the running program with NoC identity (`node`, `id`), if any.
    fn find_program(&self, node: u32, id: u32) -> Option<usize> {
        (0..self.programs_count.load(Ordering::Acquire)).find(|position| {
            let info = self.info(*position);
            info.id == id && info.node == node
        })
    }

    fn console_write(&self, index: usize, address: usize, length: usize) -> Result<usize, Errno> {
        let bytes = self.space(index).read(address, length)?;
        let mut lines = Vec::new();
        let name = {
            let mut programs = self.programs.lock();
            let program = &mut programs[index];
            for byte in bytes {
                if byte == b'\n' {
                    lines.push(core::mem::take(&mut program.console));
                } else {
                    program.console.push(byte);
                    if program.console.len() >= CONSOLE_LINE_MAX {
                        lines.push(core::mem::take(&mut program.console));
                    }
                }
            }
            program.name.clone()
        };
        for line in lines {
            self.console(&name, &line);
        }
        Ok(length)
    }

    fn data_send(
        &self,
        index: usize,
        node: usize,
        program: usize,
        address: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        if length > nanvix_abi::DATA_TRANSFER_MAX {
            return Err(Errno::MessageSize);
        }
        let (node, destination) = self.check_destination(node, program)?;
        self.data_send_tagged(index, node, destination, program as u32, address, length)
    }

    /// Sends `length` bytes at `address` of program `index` over the data NoC to
    /// tag `tag` of `node` (on cluster `destination`), in chunks, one transfer per
    /// destination cluster at a time.
    fn data_send_tagged(
        &self,
        index: usize,
        node: u32,
        destination: usize,
        tag: u32,
        address: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        let source = self.source_of(index);
        let space = self.space(index);
        space.check(address, length, Access::Read)?;
        let data_noc = self.platform.data_noc();
        let _transfer = self.data_send_locks[destination].lock();
        // A started write that sent part of its transfer, or the abort marker of a
        // transfer cut short, goes first: follow it.
        loop {
            let claim = self.data_claims.lock()[destination];
            let done = match claim {
                None => break,
                Some(Claim::Write(owner, id)) => self.write_pass_locked(owner, id, destination),
                Some(Claim::Abort(abort)) => self.send_abort_locked(destination, abort),
            };
            if !done {
                if self.ending_status(index).is_some() {
                    return Err(ENDING);
                }
                data_noc.wait_for_write_room(node);
            }
        }
        let mut sent = 0;
        let outcome = loop {
            match self.data_send_chunks(source, &space, (node, tag), (address, length), &mut sent) {
                Ok(true) => break Ok(length),
                Ok(false) if self.ending_status(index).is_some() => break Err(ENDING),
                Ok(false) => data_noc.wait_for_write_room(node),
                Err(errno) => break Err(errno),
            }
        };
        if outcome.is_err()
            && let Some(abort) = Abort::of(source, (node, tag), sent, length)
        {
            // Cut short after part of it went out: its receiver gets the marker
            // (next, from whoever sends to that cluster or the master's passes).
            self.data_claims.lock()[destination] = Some(Claim::Abort(abort));
            self.started_writes.fetch_add(1, Ordering::SeqCst);
            self.platform.cores().unpark(0);
        }
        outcome
    }

    /// Releases the channel to `destination` if `claim` holds it; returns whether
    /// it did.
    fn release_claim(&self, destination: usize, claim: Claim) -> bool {
        self.data_claims.lock()[destination]
            .take_if(|held| *held == claim)
            .is_some()
    }

    /// Ends `claim` on the channel to `destination`: the channel goes to `abort`
    /// (the marker its cut-short transfer owes its receiver), or is released.
    fn end_claim(&self, destination: usize, claim: Claim, abort: Option<Abort>) {
        let mut claims = self.data_claims.lock();
        if claims[destination] != Some(claim) {
            return;
        }
        claims[destination] = abort.map(Claim::Abort);
        drop(claims);
        if abort.is_some() {
            self.started_writes.fetch_add(1, Ordering::SeqCst);
            self.platform.cores().unpark(0);
        }
    }

    /// Sends `abort` to `destination` (whose send lock the caller holds) if its ring
    /// has room, and frees the channel; returns whether it went (or nobody is left
    /// to tell).
    fn send_abort_locked(&self, destination: usize, abort: Abort) -> bool {
        let sent = self.platform.data_noc().try_write(
            abort.source,
            abort.node,
            abort.tag,
            abort.length,
            abort.length,
            &[],
        );
        if sent == Err(NocError::Full) {
            return false;
        }
        if self.release_claim(destination, Claim::Abort(abort)) {
            self.started_writes.fetch_sub(1, Ordering::SeqCst);
            self.write_progress.fetch_add(1, Ordering::Relaxed);
        }
        true
    }

    /// The master's pass over abort markers still owed; returns whether one still
    /// waits for room.
    fn progress_aborts(&self) -> bool {
        let owed: Vec<(usize, Abort)> = self
            .data_claims
            .lock()
            .iter()
            .enumerate()
            .filter_map(|(destination, claim)| match claim {
                Some(Claim::Abort(abort)) => Some((destination, *abort)),
                _ => None,
            })
            .collect();
        let mut waiting = false;
        for (destination, abort) in owed {
            let Some(_transfer) = self.data_send_locks[destination].try_lock() else {
                waiting = true;
                continue;
            };
            if self.data_claims.lock()[destination] == Some(Claim::Abort(abort)) {
                waiting |= !self.send_abort_locked(destination, abort);
            }
        }
        waiting
    }

    /// Sends the chunks of the transfer `[address, address + length)` from `*sent`
    /// on, stamped `source` and `tag`, to `node`, while its ring has room; returns
    /// whether all of it went out. The caller holds the channel's send lock.
    fn data_send_chunks(
        &self,
        source: Source,
        space: &UserSpace<'_, P::RawMutex>,
        (node, tag): (u32, u32),
        (address, length): (usize, usize),
        sent: &mut usize,
    ) -> Result<bool, Errno> {
        let data_noc = self.platform.data_noc();
        let chunk = data_noc.chunk_bytes();
        loop {
            let piece = chunk.min(length - *sent);
            let offset = *sent;
            let written = space.with_bytes(address + offset, piece, |bytes| {
                data_noc.try_write(source, node, tag, length as u32, offset as u32, bytes)
            })?;
            match written {
                Ok(()) => {
                    *sent += piece;
                    if *sent >= length {
                        return Ok(true);
                    }
                }
                Err(NocError::Full) => return Ok(false),
                Err(error) => return Err(send_errno(error)),
            }
        }
    }

    fn data_receive(
        &self,
        index: usize,
        core: CoreId,
        header_address: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<usize, Errno> {
        let (node, id) = {
            let programs = self.programs.lock();
            let caller = &programs[index];
            (caller.node, caller.id)
        };
        let (space, header_range, _) =
            self.receive_space(index, header_address, buffer, capacity)?;
        let mut transfer = DataTransfer {
            node,
            id,
            allowed: None,
            space: space.clone(),
            buffer,
            capacity,
            started: None,
            received: 0,
            outcome: None,
        };
        let (header, total) = self.receive_transfer(core, &mut transfer)?;
        space.write_value_into(&header_range, &header)?;
        Ok(total)
    }

    /// Follows `transfer` until it is complete or failed: polls the data NoC from
    /// this core, then parks until the master sees data traffic. Returns the
    /// sender's header (its length the transfer's) and the length.
    /// One pass of the data NoC for `transfer`: takes its chunks, and fails it
    /// when its allowed sender died before it began, or when its sender is gone
    /// and `GONE_ROUNDS` passes in a row (counted in `rounds_since_gone`) found
    /// nothing more. Returns the chunks taken.
    fn transfer_round(
        &self,
        transfer: &mut DataTransfer<'_, P::RawMutex>,
        rounds_since_gone: &mut u32,
    ) -> usize {
        let taken = self
            .platform
            .data_noc()
            .receive_chunks(&mut |arrival| transfer.offer(arrival));
        if transfer.outcome.is_some() {
            return taken;
        }
        // An allowed sender that died before its transfer began.
        if transfer.started.is_none()
            && let Some((cluster, _)) = transfer.allowed
            && matches!(
                self.platform.board().cluster_state(cluster),
                ClusterState::Dead { .. }
            )
        {
            transfer.outcome = Some(Err(Errno::HostDown));
            return taken;
        }
        // A sender that is gone (dead, or off after writing its last chunks) fails
        // the transfer only once its ring has nothing more for us: a few rounds in
        // a row with nothing taken.
        if taken == 0
            && let Some((source_cluster, header)) = transfer.started
            && self.platform.board().cluster_state(source_cluster)
                != (ClusterState::On {
                    epoch: header.source_epoch,
                })
        {
            *rounds_since_gone += 1;
            if *rounds_since_gone > GONE_ROUNDS {
                transfer.outcome = Some(Err(Errno::HostDown));
            }
        } else {
            *rounds_since_gone = 0;
        }
        taken
    }

    fn receive_transfer(
        &self,
        core: CoreId,
        transfer: &mut DataTransfer<'_, P::RawMutex>,
    ) -> Result<(MessageHeader, usize), Errno> {
        // Rounds in a row, across parks, that found nothing while the sender was
        // gone (a short spin budget must not reset it).
        let mut rounds_since_gone = 0;
        loop {
            self.pollers.fetch_add(1, Ordering::SeqCst);
            // The budget counts idle rounds only: a transfer that keeps arriving
            // chunk by chunk is followed to its end without parking.
            let mut idle_rounds = 0;
            let budget = self.receive_spin_budget(core);
            while idle_rounds < budget {
                let taken = self.transfer_round(transfer, &mut rounds_since_gone);
                if transfer.outcome.is_some() {
                    break;
                }
                if taken == 0 {
                    idle_rounds += 1;
                    core::hint::spin_loop();
                } else {
                    idle_rounds = 0;
                }
            }
            if let Some(outcome) = transfer.outcome {
                self.stop_polling();
                let total = outcome?;
                let (_, mut header) = transfer.started.ok_or(Errno::InputOutput)?;
                header.length = total as u32;
                return Ok((header, total));
            }
            // Slow path: park until the master sees data traffic and wakes us.
            {
                let mut waiters = self.data_waiters.lock();
                waiters.push(core);
                self.parked_receivers.fetch_add(1, Ordering::SeqCst);
            }
            self.stop_polling();
            let parked = self.park_without_core(core);
            let mut waiters = self.data_waiters.lock();
            if let Some(position) = waiters.iter().position(|waiter| *waiter == core) {
                // Woken by the bound of the park, not by the master: count us out.
                waiters.swap_remove(position);
                self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
            }
            parked?;
        }
    }

    fn log_write(&self, index: usize, address: usize, length: usize) -> Result<usize, Errno> {
        if length > nanvix_abi::LOG_CHUNK_MAX {
            return Err(Errno::MessageSize);
        }
        let name = self.programs.lock()[index].name.clone();
        let mut chunk = [0u8; nanvix_abi::LOG_CHUNK_MAX];
        self.space(index).read_into(address, &mut chunk[..length])?;
        self.platform.board().log_bytes(&name, &chunk[..length]);
        Ok(length)
    }

    fn console_read(&self, index: usize, buffer: usize, capacity: usize) -> Result<usize, Errno> {
        let holder = self.programs.lock()[index].console_input;
        if !holder {
            return Err(Errno::Access);
        }
        let space = self.space(index);
        space.check(buffer, capacity, Access::Write)?;
        if capacity == 0 {
            return Ok(0);
        }
        let mut chunk = [0u8; 256];
        let wanted = capacity.min(chunk.len());
        loop {
            match self.platform.console_input().try_read(&mut chunk[..wanted]) {
                Ok(0) => {
                    let cores = self.platform.cores();
                    let context = cores.current();
                    self.tokens.release(cores, context);
                    self.platform.console_input().wait();
                    self.tokens.acquire(cores, context);
                    if self.ending_status_on(context).is_some() {
                        return Err(ENDING);
                    }
                }
                Ok(count) => {
                    space.write(buffer, &chunk[..count])?;
                    return Ok(count);
                }
                Err(EndOfInput) => return Ok(0),
            }
        }
    }

    /// The compute cluster `cluster`, if the caller's cluster may power it on or off:
    /// only programs on I/O clusters may.
    fn power_target(&self, cluster: usize) -> Result<usize, Errno> {
        let local = self.board.clusters.get(self.local).map(|local| local.kind);
        if local != Some(ClusterKind::Io) {
            return Err(Errno::Access);
        }
        match self.board.clusters.get(cluster) {
            Some(target) if target.kind == ClusterKind::Compute => Ok(cluster),
            _ => Err(Errno::Invalid),
        }
    }

    /// `cluster_power_on(index, name, name_length, arguments, arguments_length)`.
    fn cluster_power_on(&self, index: usize, arguments: [usize; 5]) -> Result<usize, Errno> {
        let [cluster, name, name_length, words, words_length] = arguments;
        let cluster = self.power_target(cluster)?;
        let (program, words) =
            self.read_program_request(index, (name, name_length), (words, words_length))?;
        let board = self.platform.board();
        if let ClusterState::On { epoch } = board.cluster_state(cluster) {
            if !board.cluster_idle(cluster) {
                return Err(Errno::Busy);
            }
            // An idle warm cluster: its kernel is asked directly when the request
            // fits one message (the board hears of the run from it).
            if self.request_run(index, cluster, epoch, (&program, &words))? {
                return Ok(0);
            }
        }
        match board.power_on_cluster(cluster, &program, &words) {
            Ok(()) => Ok(0),
            Err(nanvix_hal::PowerError::NoSuchProgram) => Err(Errno::NoEntry),
            Err(nanvix_hal::PowerError::Unsupported) => Err(Errno::NoSystemCall),
        }
    }

    /// `cluster_wait(generation, timeout)`: waits without the core until the board's
    /// state generation moves from `generation` or `timeout` nanoseconds passed (or
    /// the program ends); returns the generation.
    fn cluster_wait(&self, context: CoreId, generation: usize, timeout: usize) -> usize {
        let board = self.platform.board();
        let generation = generation as u32;
        let now = board.state_generation();
        if now != generation || timeout == 0 {
            return now as usize;
        }
        self.wait_without_core_for(
            context,
            timeout as u64,
            || board.state_generation() != generation,
            |left| board.wait_for_state_change(generation, core::time::Duration::from_nanos(left)),
        );
        board.state_generation() as usize
    }

    /// `cluster_power_off(index, signal)`.
    fn cluster_power_off(&self, cluster: usize, signal: usize) -> Result<usize, Errno> {
        let cluster = self.power_target(cluster)?;
        if !(1..=nanvix_abi::SIGNAL_MAX).contains(&signal) {
            return Err(Errno::Invalid);
        }
        match self
            .platform
            .board()
            .power_off_cluster(cluster, signal as u32)
        {
            Ok(()) => Ok(0),
            Err(_) => Err(Errno::NoSystemCall),
        }
    }

    fn cluster_info(
        &self,
        index: usize,
        cluster: usize,
        out: usize,
        size: usize,
    ) -> Result<usize, Errno> {
        let cluster = if cluster == CLUSTER_SELF {
            self.local
        } else {
            cluster
        };
        let Some(description) = self.board.clusters.get(cluster) else {
            return Err(Errno::Invalid);
        };
        if size != core::mem::size_of::<ClusterInfo>() {
            return Err(Errno::Invalid);
        }
        let mut info = ClusterInfo::zeroed();
        let length = description.name.len().min(CLUSTER_NAME_MAX);
        info.name[..length].copy_from_slice(&description.name.as_bytes()[..length]);
        info.name_length = length as u32;
        info.kind = match description.kind {
            ClusterKind::Io => nanvix_abi::ClusterKind::Io as u32,
            ClusterKind::Compute => nanvix_abi::ClusterKind::Compute as u32,
        };
        info.index = description.index;
        info.cluster_count = self.board.clusters.len() as u32;
        info.cores = description.cores;
        info.first_node = description.first_node;
        info.node_count = description.node_count;
        info.sram_bytes = description.sram_bytes;
        let (state, epoch) = match self.platform.board().cluster_state(cluster) {
            ClusterState::Off => (
                nanvix_abi::CLUSTER_OFF,
                self.platform.board().cluster_epoch(cluster),
            ),
            ClusterState::On { epoch } => (nanvix_abi::CLUSTER_ON, epoch),
            ClusterState::Dead { epoch } => (nanvix_abi::CLUSTER_DEAD, epoch),
        };
        info.powered = u32::from(state == nanvix_abi::CLUSTER_ON);
        info.status = self.platform.board().cluster_status(cluster);
        let ending = self.platform.board().cluster_ending(cluster);
        info.ending = ending & 0xff;
        info.fault = (ending >> 8) & 0xff;
        info.run = self.platform.board().cluster_run(cluster);
        info.idle = u32::from(self.platform.board().cluster_idle(cluster));
        info.system_epoch = self.platform.board().cluster_system_epoch(cluster);
        info.state = state;
        info.epoch = epoch;
        self.space(index).write_value(out, &info)?;
        Ok(0)
    }

    /// Checks a destination (node, program id) of a send: the node must belong to a
    /// cluster of the board and the id be in range.
    fn check_destination(&self, node: usize, program: usize) -> Result<(u32, usize), Errno> {
        let node = u32::try_from(node).map_err(|_| Errno::Invalid)?;
        match self.board.cluster_of_node(node) {
            Some(cluster) if program < PROGRAMS_MAX => Ok((node, cluster.index as usize)),
            _ => Err(Errno::Invalid),
        }
    }

    fn noc_send(
        &self,
        index: usize,
        node: usize,
        program: usize,
        address: usize,
        length: usize,
    ) -> Result<usize, Errno> {
        if length > NOC_PAYLOAD_MAX {
            return Err(Errno::MessageSize);
        }
        let (node, _) = self.check_destination(node, program)?;
        let mut buffer = [0u8; NOC_PAYLOAD_MAX];
        let payload = &mut buffer[..length];
        self.space(index).read_into(address, payload)?;
        self.send_tagged(index, node, program as u32, payload)
    }

    /// Sends `payload` from program `index` to destination tag `tag` (a program id,
    /// or a mailbox port past [`MAILBOX_TAG`]) of `node`, waiting out a full channel.
    fn send_tagged(
        &self,
        index: usize,
        node: u32,
        tag: u32,
        payload: &[u8],
    ) -> Result<usize, Errno> {
        self.send_tagged_with(index, node, tag, payload, true).0
    }

    /// [`send_tagged`](Self::send_tagged), waiting out a full channel only when
    /// `blocking` (else `EAGAIN`); also returns the cycles it waited.
    fn send_tagged_with(
        &self,
        index: usize,
        node: u32,
        tag: u32,
        payload: &[u8],
        blocking: bool,
    ) -> (Result<usize, Errno>, u64) {
        self.send_stamped(index, self.source_of(index), (node, tag), payload, blocking)
    }

    /// [`send_tagged_with`](Self::send_tagged_with) for program `index`, stamped
    /// `source` (the program's own, or its node with `KERNEL_PROGRAM` for a request
    /// its kernel makes on its behalf).
    fn send_stamped(
        &self,
        index: usize,
        source: Source,
        (node, tag): (u32, u32),
        payload: &[u8],
        blocking: bool,
    ) -> (Result<usize, Errno>, u64) {
        let mut started = None;
        let cores = self.platform.cores();
        let waited = |started: Option<u64>| started.map_or(0, |at| cores.cycles().wrapping_sub(at));
        loop {
            match self.platform.noc().try_send(source, node, tag, payload) {
                Ok(()) => {
                    if self.board.clusters[self.local].owns_node(node) {
                        // A message to this cluster: the sender routes it at once,
                        // waking a parked receiver itself rather than through the
                        // master's wake-up (a local RPC's hop costs one wake-up).
                        self.route(None);
                    }
                    return (Ok(0), waited(started));
                }
                Err(NocError::Full) if !blocking => return (Err(Errno::Again), 0),
                Err(NocError::Full) => {
                    if self.ending_status(index).is_some() {
                        return (Err(ENDING), waited(started));
                    }
                    started.get_or_insert_with(|| cores.cycles());
                    self.platform.noc().wait_for_room(node)
                }
                Err(error) => return (Err(send_errno(error)), waited(started)),
            }
        }
    }

    fn noc_receive(
        &self,
        index: usize,
        core: CoreId,
        header_address: usize,
        buffer: usize,
        capacity: usize,
    ) -> Result<usize, Errno> {
        let (space, header, buffer) =
            self.receive_space(index, header_address, buffer, capacity)?;
        let mut direct = DirectReceive {
            index,
            mailbox: None,
            at: 0,
            space,
            header,
            buffer,
            delivered: None,
        };
        loop {
            if let Some(result) = self.take_from_inbox(&direct) {
                return result;
            }
            // Fast path: poll the NoC from this core for a bounded time, taking our
            // message straight into the caller's buffers.
            self.pollers.fetch_add(1, Ordering::SeqCst);
            for _ in 0..self.receive_spin_budget(core) {
                self.route(Some(&mut direct));
                if direct.delivered.is_some()
                    || self.slots[index].inbox_length.load(Ordering::Acquire) != 0
                {
                    break;
                }
                core::hint::spin_loop();
            }
            if let Some(length) = direct.delivered {
                self.stop_polling();
                return Ok(length);
            }
            // Slow path: park until the master (or a poller) routes a message to us.
            let parked = {
                let mut programs = self.programs.lock();
                let program = &mut programs[index];
                if program.inbox.is_empty() {
                    program.waiting_core = Some(core);
                    self.parked_receivers.fetch_add(1, Ordering::SeqCst);
                    true
                } else {
                    false
                }
            };
            self.stop_polling();
            if parked {
                let woken = self.park_timed(core);
                let mut programs = self.programs.lock();
                if programs[index].waiting_core.take().is_some() {
                    // Woken by the bound of the park, not by a delivery: count us out.
                    self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
                }
                woken?;
            }
        }
    }

    /// Enters user mode on `context` at `entry(argument)` with stack `stack_top`,
    /// marked as out of the kernel (interrupts may preempt it there) until it comes
    /// back.
    ///
    /// # Safety
    /// As [`UserMode::enter`]: `entry` is program code, `stack_top` its stack's top.
    unsafe fn enter_user(
        &self,
        context: CoreId,
        entry: usize,
        argument: usize,
        stack_top: usize,
    ) -> u64 {
        let in_kernel = &self.contexts[context].in_kernel;
        in_kernel.store(false, Ordering::Relaxed);
        // SAFETY: as the caller promises.
        let value = unsafe { self.platform.user_mode().enter(entry, argument, stack_top) };
        in_kernel.store(true, Ordering::Relaxed);
        value
    }

    /// The fault hook: a thread's program code faulted. A page fault on the window
    /// goes to the program's pager, if it has one, and the thread waits for it: once
    /// the pager mapped the page, the access runs again. Any other fault (or one the
    /// pager let stand) is reported (program, thread, core, fault, a backtrace along
    /// the frame pointers in the program's memory) and ends the thread with the
    /// fault's status; the cluster goes on. A fault in kernel code is not a
    /// program's: fatal to the cluster.
    fn thread_faulted(&self, context: CoreId, fault: &Fault) -> FaultOutcome {
        let in_user = self
            .contexts
            .get(context)
            .map(|state| &state.in_kernel)
            .is_some_and(|flag| !flag.load(Ordering::Relaxed));
        let running = self
            .contexts
            .get(context)
            .map(|state| &state.running)
            .map(|slot| slot.load(Ordering::Acquire));
        let Some(index) = running
            .filter(|_| in_user)
            .and_then(|slot| slot.checked_sub(1))
        else {
            return FaultOutcome::Fatal;
        };
        self.contexts[context]
            .in_kernel
            .store(true, Ordering::Relaxed);
        match self.fault_to_pager(index, context, fault) {
            pager::PagerAnswer::Retry => {
                // Back to the program, which holds a core again: a preemption asked
                // for while it waited is moot.
                let state = &self.contexts[context];
                state.preempt_pending.store(false, Ordering::Relaxed);
                state.in_kernel.store(false, Ordering::Relaxed);
                FaultOutcome::Retry
            }
            pager::PagerAnswer::Ending => {
                let status = self.ending_status(index).unwrap_or(fault.status);
                FaultOutcome::EndThread(status as u32 as u64)
            }
            pager::PagerAnswer::Stand => {
                self.report_fault(index, context, fault);
                FaultOutcome::EndThread(fault.status as u32 as u64)
            }
        }
    }

    /// Reports `fault` of the thread of program `index` on `context`, with a
    /// backtrace walked along the frame pointers through the program's own memory.
    fn report_fault(&self, index: usize, context: CoreId, fault: &Fault) {
        let space = self.space(index);
        let mut backtrace = [0usize; BACKTRACE_FRAMES];
        backtrace[0] = fault.instruction;
        let mut frames = 1;
        let mut frame = fault.frame_pointer;
        while frames < BACKTRACE_FRAMES {
            // A frame: the caller's frame pointer, then the return address.
            let mut words = [0u8; 16];
            if space.read_into(frame, &mut words).is_err() {
                break;
            }
            let next = usize::from_le_bytes(words[..8].try_into().unwrap_or_default());
            let returned_to = usize::from_le_bytes(words[8..].try_into().unwrap_or_default());
            if returned_to == 0 {
                break;
            }
            backtrace[frames] = returned_to;
            frames += 1;
            if next <= frame {
                break;
            }
            frame = next;
        }
        let name = self.programs.lock()[index].name.clone();
        self.platform.board().report(HardwareEvent::ThreadFault {
            program: &name,
            thread: self.contexts[context].thread_id.load(Ordering::Acquire),
            core: self.tokens.held_by(context),
            fault,
            backtrace: &backtrace[..frames],
        });
    }

    /// `panic_report`: the calling thread panicked; report it with a backtrace from
    /// its frame pointer (it ends itself right after, with status 101).
    fn panic_report(
        &self,
        index: usize,
        context: CoreId,
        frame_pointer: usize,
        instruction: usize,
    ) -> Result<usize, Errno> {
        let fault = Fault {
            address: 0,
            access: nanvix_hal::FaultAccess::None,
            instruction,
            frame_pointer,
            kind: nanvix_abi::FaultKind::Panic,
            status: PANIC_STATUS,
        };
        self.report_fault(index, context, &fault);
        Ok(0)
    }

    /// The interrupt hook: the thread on `context` has held its core past its slice
    /// while others wait. In user mode it gives up the core here (it holds nothing of
    /// the kernel's); in the kernel it does so on its way out.
    fn preempt(&self, context: CoreId) -> InterruptOutcome {
        if self
            .contexts
            .get(context)
            .map(|state| &state.in_kernel)
            .is_none_or(|flag| flag.load(Ordering::Relaxed))
        {
            if let Some(pending) = self
                .contexts
                .get(context)
                .map(|state| &state.preempt_pending)
            {
                pending.store(true, Ordering::Relaxed);
            }
            return InterruptOutcome::Resume;
        }
        if let Some(status) = self.ending_status_on(context) {
            // Its program is ending: the thread ends here, in its program's code.
            self.contexts[context]
                .in_kernel
                .store(true, Ordering::Relaxed);
            return InterruptOutcome::EndThread(status as u32 as u64);
        }
        let in_kernel = &self.contexts[context].in_kernel;
        in_kernel.store(true, Ordering::Relaxed);
        self.tokens.yield_core(self.platform.cores(), context);
        in_kernel.store(false, Ordering::Relaxed);
        InterruptOutcome::Resume
    }

    /// Parks `core`, which its table just marked as a parked receiver: counts it
    /// in the parked receivers and wakes the master (it routes for them). Once
    /// woken, `still_marked` clears the mark and says whether it was still set
    /// (woken by the park's bound, not by a delivery): then it counts itself out.
    fn park_receiver(
        &self,
        core: CoreId,
        still_marked: impl FnOnce() -> bool,
    ) -> Result<(), Errno> {
        self.parked_receivers.fetch_add(1, Ordering::SeqCst);
        self.platform.cores().unpark(0);
        let woken = self.park_timed(core);
        if still_marked() {
            self.parked_receivers.fetch_sub(1, Ordering::SeqCst);
        }
        woken
    }

    /// [`park_without_core`](Self::park_without_core) for a receiver whose poll
    /// gave out: how long it parked tunes its next poll.
    fn park_timed(&self, context: CoreId) -> Result<(), Errno> {
        let cores = self.platform.cores();
        let parked = cores.monotonic_nanoseconds();
        let woken = self.park_without_core(context);
        if let Some(spin) = self.contexts.get(context).map(|state| &state.receive_spin) {
            spin.parked(cores.monotonic_nanoseconds().saturating_sub(parked));
        }
        woken
    }

    /// Parks the calling thread (on `context`) without its core: a blocked thread
    /// gives its core to the next thread waiting, and waits for one in turn after.
    fn park_without_core(&self, context: CoreId) -> Result<(), Errno> {
        // One park: its callers re-check their own conditions.
        let mut parked = false;
        self.wait_without_core(context, || core::mem::replace(&mut parked, true))
    }

    /// Waits, without its core, until `done()` holds (checked before each park;
    /// whoever makes it hold unparks `context`), then waits for a core in turn.
    /// Stops early with [`ENDING`] once the thread's program is ending.
    fn wait_without_core(
        &self,
        context: CoreId,
        mut done: impl FnMut() -> bool,
    ) -> Result<(), Errno> {
        let cores = self.platform.cores();
        self.tokens.release(cores, context);
        let mut outcome = Ok(());
        while !done() {
            if self.ending_status_on(context).is_some() {
                outcome = Err(ENDING);
                break;
            }
            cores.park();
        }
        self.tokens.acquire(cores, context);
        outcome
    }

    /// Waits without the core on `context` until `done`, `nanoseconds` passed, or
    /// the thread's program ends; `block(left)` sleeps at most `left` nanoseconds
    /// (and may return early: the conditions are looked at again).
    fn wait_without_core_for(
        &self,
        context: CoreId,
        nanoseconds: u64,
        mut done: impl FnMut() -> bool,
        mut block: impl FnMut(u64),
    ) {
        let cores = self.platform.cores();
        let deadline = cores.monotonic_nanoseconds().saturating_add(nanoseconds);
        self.tokens.release(cores, context);
        loop {
            let now = cores.monotonic_nanoseconds();
            // A thread of an ending program stops waiting (and ends on its way out).
            if done() || now >= deadline || self.ending_status_on(context).is_some() {
                break;
            }
            block(deadline - now);
        }
        self.tokens.acquire(cores, context);
    }

    /// Leaves the polling set; the last poller out wakes the master if receivers are
    /// parked, so somebody watches the NoC for them.
    fn stop_polling(&self) {
        if self.pollers.fetch_sub(1, Ordering::SeqCst) == 1
            && self.parked_receivers.load(Ordering::SeqCst) > 0
        {
            self.platform.cores().unpark(0);
        }
    }

    /// Delivers the oldest message of the receiver's inbox, if any.
    fn take_from_inbox(
        &self,
        direct: &DirectReceive<'_, P::RawMutex>,
    ) -> Option<Result<usize, Errno>> {
        if self.slots[direct.index]
            .inbox_length
            .load(Ordering::Acquire)
            == 0
        {
            return None;
        }
        let message = {
            let mut programs = self.programs.lock();
            let program = &mut programs[direct.index];
            let message = match program.inbox.front() {
                None => return None,
                Some(message) if message.payload.len() > direct.buffer.length() => {
                    return Some(Err(Errno::MessageSize));
                }
                Some(_) => program.inbox.pop_front()?,
            };
            self.slots[direct.index]
                .inbox_length
                .store(program.inbox.len(), Ordering::Release);
            message
        };
        let written = direct.space.write_message_into(
            (&direct.header, &direct.buffer),
            &message.header,
            &message.payload,
        );
        // Room freed: if routing left messages in their channels, route them now.
        if self.backlogged.swap(false, Ordering::SeqCst) {
            self.platform.cores().unpark(0);
        }
        Some(written)
    }
}

/// Who holds a destination cluster's data channel between passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Claim {
    /// A started write (program, portal id) that sent part of its transfer.
    Write(usize, usize),
    /// The abort marker a transfer cut short owes its receiver.
    Abort(Abort),
}

/// The abort marker of a transfer cut short after part of it went out: an empty
/// chunk at the transfer's end, after its chunks in the ring. Its receiver fails
/// the transfer (`EIO`) instead of waiting for the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Abort {
    source: Source,
    node: u32,
    tag: u32,
    length: u32,
}

impl Abort {
    /// The marker a transfer of `length` bytes to `(node, tag)` stamped `source`
    /// owes when it stopped after `sent` bytes: none when nothing or all went out.
    fn of(source: Source, (node, tag): (u32, u32), sent: usize, length: usize) -> Option<Abort> {
        (sent > 0 && sent < length).then_some(Abort {
            source,
            node,
            tag,
            length: length as u32,
        })
    }
}

/// A data-NoC transfer being received by a program core.
struct DataTransfer<'a, R: lock_api::RawMutex> {
    node: u32,
    /// The destination tag: a program id, or a portal's tag.
    id: u32,
    /// For a portal read: the only cluster a transfer may come from and the most
    /// it may carry; chunks for this tag from elsewhere, or of a longer transfer,
    /// are refused (taken and dropped), so nothing unallowed is written.
    allowed: Option<(usize, usize)>,
    space: UserSpace<'a, R>,
    buffer: usize,
    capacity: usize,
    /// The channel (source cluster) and stamped header of the transfer under way.
    started: Option<(usize, MessageHeader)>,
    received: usize,
    /// The transfer's length when complete, or why it failed.
    outcome: Option<Result<usize, Errno>>,
}

impl<R: lock_api::RawMutex> DataTransfer<'_, R> {
    /// Takes a chunk that belongs to this transfer (or starts it); keeps the rest.
    fn offer(&mut self, arrival: &DataArrival<'_>) -> ReceiveDecision {
        if self.outcome.is_some()
            || arrival.destination_node != self.node
            || arrival.destination_program != self.id
        {
            return ReceiveDecision::Keep;
        }
        let total = arrival.total as usize;
        if let Some((cluster, limit)) = self.allowed
            && (arrival.source_cluster != cluster || total > limit)
        {
            return ReceiveDecision::Take;
        }
        match self.started {
            None if arrival.offset != 0 => return ReceiveDecision::Take,
            None if total > self.capacity => {
                self.outcome = Some(Err(Errno::MessageSize));
                return ReceiveDecision::Keep;
            }
            None => self.started = Some((arrival.source_cluster, arrival.header)),
            Some((source_cluster, _)) if source_cluster != arrival.source_cluster => {
                return ReceiveDecision::Keep;
            }
            Some(_) if arrival.offset as usize != self.received => {
                self.outcome = Some(Err(Errno::InputOutput));
                return ReceiveDecision::Take;
            }
            Some(_) => {}
        }
        let end = self.received + arrival.data.len();
        if end > total.min(self.capacity) {
            self.outcome = Some(Err(Errno::InputOutput));
            return ReceiveDecision::Take;
        }
        if let Err(errno) = self.space.write(self.buffer + self.received, arrival.data) {
            self.outcome = Some(Err(errno));
            return ReceiveDecision::Take;
        }
        self.received = end;
        if self.received == total {
            self.outcome = Some(Ok(total));
        }
        ReceiveDecision::Take
    }
}

/// A receive in progress on a program core: where its message goes.
struct DirectReceive<'a, R: lock_api::RawMutex> {
    index: usize,
    /// The mailbox being read (its node, port and source filter), when the receive
    /// is a `mailbox_read`; `None` for the program's own inbox.
    mailbox: Option<(u32, u32, Option<u32>)>,
    /// When the receive started (cycles), for a mailbox's counters.
    at: u64,
    space: UserSpace<'a, R>,
    /// Where the header and the payload go (checked once, when the receive began).
    header: WritableRange,
    buffer: WritableRange,
    delivered: Option<usize>,
}

impl<R: lock_api::RawMutex> DirectReceive<'_, R> {
    /// Copies a message to the receiver's buffers if it fits; returns whether it did.
    fn deliver(&mut self, header: &MessageHeader, payload: &[u8]) -> bool {
        if payload.len() > self.buffer.length() {
            return false;
        }
        let written = self
            .space
            .write_message_into((&self.header, &self.buffer), header, payload);
        if let Ok(length) = written {
            self.delivered = Some(length);
        }
        written.is_ok()
    }
}

/// The payload of a kernel-to-kernel message of two words (a portal's allow: port
/// and size; a closed mailbox's notice: node and port), little-endian.
fn two_words(first: u32, second: u32) -> [u8; 8] {
    let mut payload = [0u8; 8];
    payload[..4].copy_from_slice(&first.to_le_bytes());
    payload[4..].copy_from_slice(&second.to_le_bytes());
    payload
}

/// The two words of such a payload; `None` unless it is exactly 8 bytes.
fn read_two_words(payload: &[u8]) -> Option<(u32, u32)> {
    let payload: &[u8; 8] = payload.try_into().ok()?;
    let word = |at: usize| {
        u32::from_le_bytes([
            payload[at],
            payload[at + 1],
            payload[at + 2],
            payload[at + 3],
        ])
    };
    Some((word(0), word(4)))
}

/// The errno of a send the NoC refused (a full channel is waited out, not an error).
fn send_errno(error: NocError) -> Errno {
    match error {
        NocError::DestinationDead => Errno::HostDown,
        NocError::TooLong => Errno::MessageSize,
        NocError::NoSuchNode | NocError::NotLocalNode | NocError::Full => Errno::Invalid,
    }
}

/// The address of the booted kernel, for the interrupt hook (one kernel a process).
static KERNEL_ADDRESS: AtomicUsize = AtomicUsize::new(0);

/// What an interrupted core runs.
fn preempt_hook<P: Platform>(context: CoreId) -> InterruptOutcome {
    let address = KERNEL_ADDRESS.load(Ordering::Acquire);
    if address == 0 {
        return InterruptOutcome::Resume;
    }
    // SAFETY: `boot(&'static self)` stored the address of the kernel, which lives for
    // good; only that kernel's platform installs this hook.
    let kernel = unsafe { &*(address as *const Kernel<P>) };
    kernel.preempt(context)
}

/// What a faulting core runs.
fn fault_hook<P: Platform>(context: CoreId, fault: &Fault) -> FaultOutcome {
    let address = KERNEL_ADDRESS.load(Ordering::Acquire);
    if address == 0 {
        return FaultOutcome::Fatal;
    }
    // SAFETY: as in `preempt_hook`.
    let kernel = unsafe { &*(address as *const Kernel<P>) };
    kernel.thread_faulted(context, fault)
}

/// Entry of a user core started for a program: `kernel` is the address of the
/// `'static` kernel.
fn run_program<P: Platform>(kernel: usize) {
    // SAFETY: `boot` passes the address of a `&'static Kernel<P>`.
    let kernel = unsafe { &*(kernel as *const Kernel<P>) };
    kernel.run_current();
}
