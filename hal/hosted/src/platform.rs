//! The hosted platform of one cluster process: cores, SRAM, NoC, board.

use crate::console::HostedConsoleInput;
use crate::cores::HostedCores;
use crate::noc::{Doorbells, HostedDoorbell, HostedNoc};
use crate::protocol::{BOOT_ENVIRONMENT, BootSpec, ClusterReport, ProgramRequest};
use crate::user_mode::HostedUserMode;
use nanvix_abi::PROGRAM_ALIGNMENT;
use nanvix_board::Board;
use nanvix_hal::{
    BoardControl, ClusterMemory, ClusterState, Cores, HardwareEvent, MmuError, Platform,
    PowerError, StageError,
};
use nanvix_noc_memory::NocMemory;
use parking_lot::Mutex;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// The SRAM arena: an anonymous memory file of the board's size, mapped once.
pub struct HostedMemory {
    base: usize,
    size: usize,
    /// The SRAM's memory file (kept open: the MMU maps views of it).
    file: OwnedFd,
    /// The MMU's window (a reservation of inaccessible pages).
    window: usize,
}

/// Bytes of the MMU's virtual window of a hosted cluster.
pub const WINDOW_BYTES: usize = nanvix_abi::MEMORY_WINDOW_BYTES;

/// Reserves `bytes` of inaccessible address space at a base aligned to
/// [`PROGRAM_ALIGNMENT`] (nothing else can be mapped there); returns the base.
fn reserve(bytes: usize) -> io::Result<usize> {
    // SAFETY: a fresh private reservation; the kernel picks the address.
    let reservation = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes + PROGRAM_ALIGNMENT,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if reservation == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    Ok((reservation as usize).next_multiple_of(PROGRAM_ALIGNMENT))
}

impl HostedMemory {
    /// Maps an arena of `size` bytes at a base aligned to [`PROGRAM_ALIGNMENT`].
    pub fn new(size: usize) -> io::Result<HostedMemory> {
        let base = reserve(size)?;
        // SAFETY: memfd_create with a static name; the descriptor is closed below.
        let fd = unsafe { libc::memfd_create(c"nanvix-sram".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is ours; `base..base+size` lies inside our reservation, which
        // MAP_FIXED replaces with the arena. Programs are code, so the arena is
        // executable until the MMU interface gives each mapping its own rights.
        let mapped = unsafe {
            let grown = libc::ftruncate(fd, size as libc::off_t);
            let mapped = libc::mmap(
                base as *mut libc::c_void,
                size,
                libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC,
                libc::MAP_SHARED | libc::MAP_FIXED,
                fd,
                0,
            );
            if grown != 0 { libc::MAP_FAILED } else { mapped }
        };
        // SAFETY: `fd` is ours and nothing else owns it.
        let file = unsafe { OwnedFd::from_raw_fd(fd) };
        if mapped == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // Accesses to the window fault until the MMU maps frames there.
        let window = reserve(WINDOW_BYTES)?;
        Ok(HostedMemory {
            base,
            size,
            file,
            window,
        })
    }
}

/// The smallest run of whole pages [`HostedMemory::zero`] gives back to the host
/// rather than writing.
const PUNCH_BYTES_MIN: usize = 512 << 10;

impl ClusterMemory for HostedMemory {
    fn base(&self) -> usize {
        self.base
    }

    /// A large range's whole pages go back to the memory file (a punched hole reads
    /// as zeros, in the arena and in every window view of it): one system call
    /// however large, instead of touching every page (a spawned program's heap is
    /// half the SRAM); the partial pages at the ends, and small ranges, are written.
    fn zero(&self, address: usize, bytes: usize) {
        if !self.contains(address, bytes) {
            return;
        }
        let page = 4096;
        let end = address + bytes;
        let (first, last) = (address.next_multiple_of(page), end / page * page);
        let write = |from: usize, to: usize| {
            // SAFETY: inside the arena (checked above); the kernel owns the range.
            unsafe { std::ptr::write_bytes(from as *mut u8, 0, to - from) };
        };
        // Small ranges: writing is cheaper than a system call and the page faults
        // of the next use.
        if last <= first + PUNCH_BYTES_MIN {
            write(address, end);
            return;
        }
        write(address, first);
        // SAFETY: fallocate on our own memory file, within its size.
        let punched = unsafe {
            libc::fallocate(
                self.file.as_raw_fd(),
                libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
                (first - self.base) as libc::off_t,
                (last - first) as libc::off_t,
            )
        };
        if punched != 0 {
            write(first, last);
        }
        write(last, end);
    }

    fn size(&self) -> usize {
        self.size
    }

    fn window(&self) -> (usize, usize) {
        (self.window, WINDOW_BYTES)
    }

    fn map(
        &self,
        virtual_address: usize,
        frame: usize,
        bytes: usize,
        writable: bool,
        executable: bool,
    ) -> Result<(), MmuError> {
        let inside = virtual_address >= self.window
            && virtual_address + bytes <= self.window + WINDOW_BYTES
            && frame + bytes <= self.size;
        if !inside {
            return Err(MmuError::Refused);
        }
        let mut protection = libc::PROT_READ;
        if writable {
            protection |= libc::PROT_WRITE;
        }
        if executable {
            protection |= libc::PROT_EXEC;
        }
        // SAFETY: the range lies in our window (checked above), which only the MMU
        // maps; MAP_FIXED replaces exactly those pages with a view of SRAM frames.
        let mapped = unsafe {
            libc::mmap(
                virtual_address as *mut libc::c_void,
                bytes,
                protection,
                libc::MAP_SHARED | libc::MAP_FIXED,
                self.file.as_raw_fd(),
                frame as libc::off_t,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(MmuError::Refused);
        }
        Ok(())
    }

    fn unmap(&self, virtual_address: usize, bytes: usize) -> Result<(), MmuError> {
        if virtual_address < self.window || virtual_address + bytes > self.window + WINDOW_BYTES {
            return Err(MmuError::Refused);
        }
        // SAFETY: inaccessible anonymous pages replace the view (the reservation
        // stays whole, so no other mapping can take the range).
        let unmapped = unsafe {
            libc::mmap(
                virtual_address as *mut libc::c_void,
                bytes,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if unmapped == libc::MAP_FAILED {
            return Err(MmuError::Refused);
        }
        Ok(())
    }
}

/// The board as one hosted cluster sees it: registers and the report pipe.
pub struct HostedBoard {
    memory: Arc<NocMemory>,
    local: usize,
    reports: Mutex<File>,
    /// The image's programs, which power requests may boot.
    image_programs: Vec<String>,
    /// The run's staging directory (see [`crate::protocol::BootSpec`]).
    staged_directory: Option<std::path::PathBuf>,
    /// The cluster's cores (a waiting core also wakes on its park word).
    cores: Arc<HostedCores>,
    /// Set when the process got SIGTERM: the board asks for an orderly shutdown.
    shutdown: Arc<std::sync::atomic::AtomicBool>,
    /// Whether the cluster stays on, idle, when its programs end.
    warm: bool,
    /// The runner's program requests (a warm cluster's control pipe, non-blocking)
    /// and the bytes read of a line not yet whole.
    requests: Mutex<Option<(File, Vec<u8>)>>,
}

impl HostedBoard {
    /// Sends one report to the runner. A runner that is gone cannot be told anything
    /// more; the cluster then powers off (it would be killed anyway).
    pub fn send(&self, report: &ClusterReport) {
        let mut line = serde_json::to_vec(report).unwrap_or_default();
        line.push(b'\n');
        if self.reports.lock().write_all(&line).is_err() {
            std::process::exit(3);
        }
    }
}

impl BoardControl for HostedBoard {
    fn local_cluster(&self) -> usize {
        self.local
    }

    fn cluster_state(&self, index: usize) -> ClusterState {
        self.memory.cluster_state(index)
    }

    fn cluster_status(&self, index: usize) -> i32 {
        self.memory.cluster_status(index)
    }

    fn cluster_epoch(&self, index: usize) -> u32 {
        self.memory.cluster_epoch(index)
    }

    fn cluster_ending(&self, index: usize) -> u32 {
        self.memory.cluster_ending(index)
    }

    fn state_generation(&self) -> u32 {
        self.memory
            .generation()
            .load(std::sync::atomic::Ordering::Acquire)
    }

    fn report(&self, event: HardwareEvent<'_>) {
        self.send(&ClusterReport::from_event(&event));
    }

    fn console_line(&self, program: &str, line: &[u8]) {
        self.send(&ClusterReport::console(program, line));
    }

    fn log_bytes(&self, program: &str, bytes: &[u8]) {
        self.send(&ClusterReport::log(program, bytes));
    }

    fn power_off(&self, status: i32) -> ! {
        self.send(&ClusterReport::PowerOff { status });
        std::process::exit(if status == 0 { 0 } else { 1 })
    }

    fn wait_for_state_change(&self, generation: u32, limit: std::time::Duration) {
        let core = self.cores.current();
        let permit = self.cores.permit(core);
        if permit.swap(0, std::sync::atomic::Ordering::AcqRel) == 1 {
            return;
        }
        crate::futex::wait_any(
            &[
                (
                    self.memory.generation(),
                    generation,
                    crate::futex::Scope::Shared,
                ),
                (permit, 0, crate::futex::Scope::Private),
            ],
            limit,
        );
        permit.store(0, std::sync::atomic::Ordering::Release);
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
        self.send(&ClusterReport::PowerOnCluster {
            cluster: index as u32,
            program: program.into(),
            arguments: arguments.into(),
        });
        Ok(())
    }

    fn image_has_program(&self, name: &str) -> bool {
        self.image_programs.iter().any(|program| program == name)
            || crate::protocol::staged_path(self.staged_directory.as_deref(), name)
                .is_some_and(|path| path.is_file())
    }

    fn stage_program(&self, name: &str, elf: &[u8]) -> Result<(), StageError> {
        let path = crate::protocol::staged_path(self.staged_directory.as_deref(), name)
            .ok_or(StageError::Unsupported)?;
        match std::fs::read(&path) {
            Ok(kept) if kept == elf => return Ok(()),
            Ok(_) => return Err(StageError::Exists),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(_) => return Err(StageError::Failed),
        }
        // Written whole under a name of this cluster's, then renamed: a reader
        // never sees part of it, and two clusters staging the same bytes at once
        // both succeed.
        let partial = path.with_file_name(format!(".{name}.part-{}", self.local));
        std::fs::write(&partial, elf)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|_| {
                let _ = std::fs::remove_file(&partial);
                StageError::Failed
            })
    }

    fn cluster_run(&self, index: usize) -> u32 {
        self.memory.cluster_run(index)
    }

    fn cluster_idle(&self, index: usize) -> bool {
        self.memory.cluster_idle(index)
    }

    fn cluster_system_epoch(&self, index: usize) -> u32 {
        self.memory.cluster_system_epoch(index)
    }

    fn warm(&self) -> bool {
        self.warm
    }

    fn idle(&self, status: i32) {
        self.send(&ClusterReport::Idle { status });
    }

    fn take_program_request(&self, start: &mut dyn FnMut(&str, &str, u32)) -> bool {
        let mut requests = self.requests.lock();
        let Some((pipe, pending)) = requests.as_mut() else {
            return false;
        };
        let mut chunk = [0u8; 4096];
        loop {
            match std::io::Read::read(pipe, &mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(read) => pending.extend_from_slice(&chunk[..read]),
            }
        }
        let Some(end) = pending.iter().position(|byte| *byte == b'\n') else {
            return false;
        };
        let line: Vec<u8> = pending.drain(..=end).collect();
        drop(requests);
        let Ok(request) = serde_json::from_slice::<ProgramRequest>(&line) else {
            return false;
        };
        start(&request.program, &request.arguments, request.run);
        true
    }

    fn take_shutdown_request(&self) -> bool {
        self.shutdown
            .swap(false, std::sync::atomic::Ordering::AcqRel)
    }

    fn power_off_cluster(&self, index: usize, signal: u32) -> Result<(), PowerError> {
        self.send(&ClusterReport::PowerOffCluster {
            cluster: index as u32,
            signal,
        });
        Ok(())
    }
}

/// Takes SIGTERM from the default action (the process would die) to a request
/// for an orderly shutdown: a flag, and the master woken to look at it. (A handler,
/// not a watching thread: a thread per cluster process cost its boot a measurable
/// share.)
fn watch_for_shutdown(cores: Arc<HostedCores>) -> io::Result<Arc<std::sync::atomic::AtomicBool>> {
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let raised = Arc::clone(&flag);
    // SAFETY: the action only stores to an atomic and unparks the master (an
    // atomic swap and a futex wake): both async-signal-safe; it allocates nothing
    // and takes no lock.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGTERM, move || {
            raised.store(true, std::sync::atomic::Ordering::Release);
            cores.unpark(0);
        })?;
    }
    Ok(flag)
}

/// The control pipe the runner sends a warm cluster's program requests on, made
/// non-blocking (the master looks when idle), with SIGUSR1 (which the runner sends
/// after each request) waking the master.
fn control_pipe(fd: i32, cores: Arc<HostedCores>) -> io::Result<Option<(File, Vec<u8>)>> {
    if fd < 0 {
        return Ok(None);
    }
    // SAFETY: the runner passed us this descriptor for our exclusive use.
    let pipe = unsafe { File::from_raw_fd(fd) };
    // SAFETY: fcntl on a descriptor we own, with flags it reads first.
    let nonblocking = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if !nonblocking {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the action only unparks the master (an atomic swap and a futex
    // wake): async-signal-safe; it allocates nothing and takes no lock.
    unsafe {
        signal_hook::low_level::register(signal_hook::consts::SIGUSR1, move || cores.unpark(0))?;
    }
    Ok(Some((pipe, Vec::new())))
}

/// Everything one hosted cluster has.
pub struct HostedPlatform {
    console_input: HostedConsoleInput,
    cores: Arc<HostedCores>,
    user_mode: HostedUserMode,
    memory: HostedMemory,
    noc: HostedNoc,
    board: HostedBoard,
    disk: Option<crate::disk::HostedDisk>,
    ddr: Option<crate::ddr::HostedDdr>,
}

impl HostedPlatform {
    /// Attaches the calling process to the board as the cluster its boot spec names:
    /// maps the NoC memory, reads the board ROM, creates the SRAM arena and the core
    /// threads. The calling thread becomes the master core.
    pub fn attach() -> io::Result<(HostedPlatform, Arc<Board>, BootSpec)> {
        let text = std::env::var(BOOT_ENVIRONMENT).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{BOOT_ENVIRONMENT} is not set: cluster kernels are started by `nanvix run`"
                ),
            )
        })?;
        let spec: BootSpec = serde_json::from_str(&text).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad boot spec: {error}"),
            )
        })?;
        let (board, memory) = crate::hardware::attach(spec.noc_fd, spec.cluster as usize)?;
        let board = Arc::new(board);
        let memory = Arc::new(memory);
        let cluster = &board.clusters[spec.cluster as usize];
        // One context per thread the kernel may hold, plus the master's.
        let cores = HostedCores::boot(nanvix_abi::THREADS_MAX + 1)?;
        // SAFETY: the runner passed us this descriptor for our exclusive use.
        let reports = unsafe { File::from_raw_fd(spec.report_fd) };
        let shutdown = watch_for_shutdown(Arc::clone(&cores))?;
        let requests = control_pipe(spec.control_fd, Arc::clone(&cores))?;
        let disk = (spec.disk_fd >= 0).then(|| {
            // SAFETY: the runner passed us this descriptor for our exclusive use.
            let file = unsafe { File::from_raw_fd(spec.disk_fd) };
            crate::disk::HostedDisk::new(file, spec.disk_blocks)
        });
        let ddr = if spec.ddr_fd >= 0 {
            // SAFETY: the runner passed us this descriptor for our exclusive use.
            let file = unsafe { std::os::fd::OwnedFd::from_raw_fd(spec.ddr_fd) };
            Some(crate::ddr::HostedDdr::map(file, spec.ddr_bytes)?)
        } else {
            None
        };
        let platform = HostedPlatform {
            disk,
            ddr,
            console_input: HostedConsoleInput::start(Arc::clone(&cores), std::io::stdin())?,
            user_mode: HostedUserMode,
            memory: HostedMemory::new(cluster.sram_bytes as usize)?,
            noc: HostedNoc::new(
                Arc::clone(&memory),
                &board,
                spec.cluster as usize,
                spec.epoch,
                HostedDoorbell::new(
                    Arc::clone(&cores),
                    if spec.polling_doorbells {
                        Doorbells::Polling
                    } else {
                        Doorbells::Futex
                    },
                ),
            ),
            board: HostedBoard {
                memory,
                local: spec.cluster as usize,
                reports: Mutex::new(reports),
                image_programs: spec
                    .image_programs
                    .iter()
                    .map(|(name, _)| name.clone())
                    .collect(),
                staged_directory: (!spec.staged_directory.is_empty())
                    .then(|| std::path::PathBuf::from(&spec.staged_directory)),
                cores: Arc::clone(&cores),
                shutdown,
                warm: spec.warm,
                requests: Mutex::new(requests),
            },
            cores,
        };
        crate::hal_info!(
            "hosted HAL: cluster {=u32} epoch {=u32}, {=usize} cores, {=usize} KiB SRAM, NoC of {=usize} clusters",
            spec.cluster,
            spec.epoch,
            cluster.cores as usize,
            cluster.sram_bytes as usize / 1024,
            board.clusters.len()
        );
        Ok((platform, board, spec))
    }

    /// The board side, for reports the generic events do not cover.
    pub fn hosted_board(&self) -> &HostedBoard {
        &self.board
    }
}

impl Platform for HostedPlatform {
    type RawMutex = parking_lot::RawMutex;
    type Cores = HostedCores;
    type UserMode = HostedUserMode;
    type Memory = HostedMemory;
    type Noc = HostedNoc;
    type DataNoc = HostedNoc;
    type Syncs = HostedNoc;
    type Board = HostedBoard;
    type ConsoleInput = HostedConsoleInput;
    type Disk = crate::disk::HostedDisk;
    type Ddr = crate::ddr::HostedDdr;

    fn cores(&self) -> &HostedCores {
        &self.cores
    }

    fn user_mode(&self) -> &HostedUserMode {
        &self.user_mode
    }

    fn memory(&self) -> &HostedMemory {
        &self.memory
    }

    fn noc(&self) -> &HostedNoc {
        &self.noc
    }

    fn data_noc(&self) -> &HostedNoc {
        &self.noc
    }

    fn syncs(&self) -> &HostedNoc {
        &self.noc
    }

    fn board(&self) -> &HostedBoard {
        &self.board
    }

    fn console_input(&self) -> &HostedConsoleInput {
        &self.console_input
    }

    fn disk(&self) -> Option<&crate::disk::HostedDisk> {
        self.disk.as_ref()
    }

    fn ddr(&self) -> Option<&crate::ddr::HostedDdr> {
        self.ddr.as_ref()
    }
}
