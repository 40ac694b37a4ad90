//! The hosted board runner: the hardware that boots, watches and stops clusters.
//!
//! The runner creates the NoC memory, starts one kernel process per cluster the
//! manifest lists (the boot I/O cluster first, the rest once it is up), carries their
//! consoles to the terminal (or the JSON event stream), and watches them die:
//! a critical cluster's death stops the board with status 1; another's is an event and
//! the rest keeps running. On SIGINT/SIGTERM, a timeout or any failure it kills every
//! cluster process before it returns. Cluster processes also die with the runner
//! (`PR_SET_PDEATHSIG`), and the NoC memory is an anonymous file, so nothing is left
//! behind even if the runner itself is killed.
//!
//! Log frames (defmt) that programs and kernels send are decoded here with each ELF's
//! table ([`crate::logs`]) and printed as `log` events at or above `--log-level`.

use crate::events::{Event, Timed};
use crate::logs::{LogDecoders, LogLevel, LogOutput};
use crate::manifest::{ClusterPlan, ProgramPlan, System};
use crate::packing::Payloads;
use nanvix_abi::{ENDED_DIED, ENDED_EXIT, ENDED_FAULT, ENDED_KILLED, ENDED_NONE};
use nanvix_board::ClusterKind;
use nanvix_board_protocol::END_OF_INPUT;
use nanvix_hal::ClusterState;
use nanvix_hal_hosted::hardware::BoardHardware;
use nanvix_hal_hosted::protocol::{
    BOOT_ENVIRONMENT, BootSpec, ClusterReport, ProgramRequest, ProgramSpec,
};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// How long an orderly shutdown (init stopping the servers) may take before the
/// runner stops the board itself.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);
/// How long the boot cluster may take to come up.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long stopping may take before the runner gives up waiting for processes.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How events are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventFormat {
    /// Console lines with cluster prefixes, and board messages.
    Human,
    /// One JSON object per line.
    Json,
}

/// Options of one run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The disk image file of the system's disk, if it has one (its size checked).
    pub disk: Option<std::sync::Arc<std::fs::File>>,
    /// How to print events.
    pub format: EventFormat,
    /// Stop the board after this long (status 124).
    pub timeout: Option<Duration>,
    /// Host CPUs each named cluster's process (all its core threads) may run on;
    /// benchmarks pin the two sides of a round trip to distinct CPUs.
    pub pins: Vec<(String, Vec<usize>)>,
    /// Decoded log frames below this level are not printed (`println!` frames,
    /// which have no level, always are).
    pub log_level: LogLevel,
    /// Whether clusters poll for each other's traffic (bounded sleeps) instead of
    /// ringing futex doorbells.
    pub polling_doorbells: bool,
    /// Run this cluster's kernel under `valgrind --tool=callgrind`, writing its
    /// instruction counts into this directory (code-path length; no PMU here).
    pub callgrind: Option<(String, std::path::PathBuf)>,
    /// Stop this cluster's kernel at its start for a debugger to attach, and write
    /// its programs' ELFs into this directory (for the debugger's symbols).
    pub gdb: Option<(String, std::path::PathBuf)>,
}

/// The environment variable that makes a cluster kernel stop itself at its start
/// (`SIGSTOP`) until a debugger (or `kill -CONT`) resumes it.
pub const DEBUGGER_ENVIRONMENT: &str = "NANVIX_WAIT_FOR_DEBUGGER";

/// The program name kernel log frames come under.
pub const KERNEL_PROGRAM: &str = "kernel";

/// A run that could not start.
#[derive(Debug)]
pub struct RunError(pub String);

impl std::fmt::Display for RunError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

enum Input {
    Report {
        cluster: usize,
        report: ClusterReport<'static>,
    },
    Raw {
        cluster: usize,
        line: String,
    },
    Exited {
        cluster: usize,
        status: ExitStatus,
    },
    Signal(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Up,
    Ended,
}

struct Slot {
    plan: ClusterPlan,
    pid: u32,
    epoch: u32,
    phase: Phase,
    power_off: Option<i32>,
    /// Killed on a power-off request, by this signal: its end is a power-off, not a
    /// death.
    powered_off_on_request: Option<u32>,
    /// The kind (`FaultKind` code) of the first thread fault of the running program.
    first_fault: Option<u32>,
    /// A warm cluster (booted on request): it stays on, idle, between programs.
    warm: bool,
    /// It is warm and idle: its programs ended, and it waits for another.
    idle: bool,
    /// How many programs it started in this epoch.
    run: u32,
    /// The write end of a warm cluster's control pipe (program requests).
    control: Option<std::fs::File>,
    outcome: Option<Outcome>,
}

impl Slot {
    /// The slot of a cluster whose process `pid` was just started for `plan` in
    /// boot epoch `epoch` (`warm`: booted on request; `control`: its request pipe).
    fn booting(
        plan: ClusterPlan,
        pid: u32,
        epoch: u32,
        warm: bool,
        control: Option<std::fs::File>,
    ) -> Slot {
        Slot {
            plan,
            pid,
            epoch,
            phase: Phase::Starting,
            power_off: None,
            powered_off_on_request: None,
            first_fault: None,
            warm,
            idle: false,
            run: 1,
            control,
            outcome: None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Off(i32),
    Died,
    Stopped,
}

/// A payload in a sealed, read-only anonymous memory file, named by a path that is
/// valid in the runner and in every cluster process (which inherit the descriptor).
struct SealedFile {
    _file: OwnedFd,
    path: String,
}

/// The board's DDR, a sparse shared memory file of `bytes` bytes (pages come as
/// they are written), for the DDR-attached clusters to map; `None` for a board
/// without DDR or without a cluster attached to it.
fn board_ddr(system: &System) -> Result<Option<(std::fs::File, u64)>, RunError> {
    let bytes = system.board.ddr_bytes;
    if bytes == 0
        || !system
            .board
            .clusters
            .iter()
            .any(|cluster| cluster.ddr_attached)
    {
        return Ok(None);
    }
    // SAFETY: memfd_create with a static NUL-terminated name; the descriptor is
    // owned below.
    let raw = unsafe { libc::memfd_create(c"nanvix-ddr".as_ptr(), libc::MFD_CLOEXEC) };
    if raw < 0 {
        let error = std::io::Error::last_os_error();
        return Err(RunError(format!("cannot make the DDR: {error}")));
    }
    // SAFETY: `raw` is a fresh descriptor nothing else owns.
    let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) });
    file.set_len(bytes)
        .map_err(|error| RunError(format!("cannot size the DDR: {error}")))?;
    Ok(Some((file, bytes)))
}

/// Times sealing a staged file is tried while Linux says it is busy.
const SEAL_TRIES: u32 = 50;

impl SealedFile {
    fn new(name: &str, bytes: &[u8], inherited: bool) -> std::io::Result<SealedFile> {
        let name =
            std::ffi::CString::new(format!("nanvix-{name}")).map_err(std::io::Error::other)?;
        // SAFETY: memfd_create with a NUL-terminated name; the descriptor is owned below.
        let raw = unsafe {
            libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let mut writable = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) });
        writable.write_all(bytes)?;
        let seals =
            libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
        // Linux refuses F_SEAL_WRITE with EBUSY while some page of the file is
        // pinned for a moment (seen under load, rarely): try again a few times.
        let mut tries = 0;
        loop {
            // SAFETY: fcntl on our own descriptor; sealing makes the contents immutable.
            if unsafe { libc::fcntl(writable.as_raw_fd(), libc::F_ADD_SEALS, seals) } == 0 {
                break;
            }
            let error = std::io::Error::last_os_error();
            tries += 1;
            if error.raw_os_error() != Some(libc::EBUSY) || tries >= SEAL_TRIES {
                return Err(error);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let flags = if inherited {
            libc::O_RDONLY
        } else {
            libc::O_RDONLY | libc::O_CLOEXEC
        };
        let path = std::ffi::CString::new(format!("/proc/self/fd/{}", writable.as_raw_fd()))
            .map_err(std::io::Error::other)?;
        // SAFETY: open(2) of our own descriptor's /proc path, read-only.
        let raw = unsafe { libc::open(path.as_ptr(), flags) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let file = unsafe { OwnedFd::from_raw_fd(raw) };
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        Ok(SealedFile { _file: file, path })
    }
}

/// The run's staging directory, where the kernels keep programs staged while the
/// board runs (`program_stage`); removed with what it holds when the run ends.
struct StagedDirectory(std::path::PathBuf);

/// The prefix of a staging directory's name; the runner's process id follows.
const STAGED_PREFIX: &str = "nanvix-staged-";

impl StagedDirectory {
    fn create() -> std::io::Result<StagedDirectory> {
        let temporary = std::env::temp_dir();
        // Directories of runs that were killed before they could remove theirs
        // (their process is gone), and one of an earlier process of this id.
        if let Ok(entries) = std::fs::read_dir(&temporary) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|name| name.strip_prefix(STAGED_PREFIX))
                    .and_then(|pid| pid.parse::<u32>().ok())
                else {
                    continue;
                };
                let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
                if gone || pid == std::process::id() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let path = temporary.join(format!("{STAGED_PREFIX}{}", std::process::id()));
        std::fs::create_dir(&path)?;
        Ok(StagedDirectory(path))
    }
}

impl Drop for StagedDirectory {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Board<'a> {
    system: &'a System,
    /// The disk image file, handed to the cluster the manifest attaches it to.
    disk: Option<std::sync::Arc<std::fs::File>>,
    /// The DDR's file and bytes, handed to every DDR-attached cluster.
    ddr: Option<(std::fs::File, u64)>,
    kernel: SealedFile,
    programs: std::collections::BTreeMap<String, SealedFile>,
    staged: StagedDirectory,
    hardware: BoardHardware,
    slots: Vec<Slot>,
    sender: Sender<Input>,
    receiver: Receiver<Input>,
    started: Instant,
    format: EventFormat,
    pins: Vec<(String, Vec<usize>)>,
    logs: LogDecoders<'a>,
    /// Program ELFs by name (for symbols), their parsed symbols once needed, and
    /// each program's load base by (cluster, program).
    elves: std::collections::BTreeMap<String, &'a [u8]>,
    symbols: std::collections::BTreeMap<String, crate::symbols::Symbols>,
    bases: std::collections::BTreeMap<(usize, String), u64>,
    log_level: LogLevel,
    polling_doorbells: bool,
    callgrind: Option<(String, std::path::PathBuf)>,
    gdb: Option<(String, std::path::PathBuf)>,
    output: &'a mut dyn Write,
    /// The cluster that takes the terminal's input, and its input pipe (`None` once
    /// the terminal's input ended): a Ctrl-C goes there as a byte while it runs.
    console: Option<(usize, ConsoleInput)>,
    /// When an orderly shutdown (asked of init by a SIGTERM) must have ended.
    shutdown_deadline: Option<Instant>,
    /// On the qemu-x86_64 platform: the emulator, the boot bundle of each cluster's
    /// latest machine (kept while its QEMU may read it), the staging store.
    machines: Option<Machines>,
}

/// What the runner keeps to boot clusters as QEMU machines.
struct Machines {
    emulator: std::path::PathBuf,
    bundles: std::collections::BTreeMap<usize, SealedFile>,
    /// The board's staging store (`nanvix_board_protocol::staging`), which every
    /// machine maps; the runner alone writes it.
    staging: StagingStore,
}

/// The runner's side of the staging store: its file, the entries published and
/// where the next ELF goes.
struct StagingStore {
    file: std::fs::File,
    entries: Vec<String>,
    next: u64,
}

impl StagingStore {
    /// A new, empty store (a sparse memory file of `staging::STORE_BYTES`, inherited
    /// by the machines, which open it by its /proc/self/fd path).
    fn create() -> std::io::Result<StagingStore> {
        use nanvix_board_protocol::staging;
        // SAFETY: memfd_create with a static NUL-terminated name; no CLOEXEC, so
        // QEMU inherits it; the descriptor is owned below.
        let raw = unsafe { libc::memfd_create(c"nanvix-staging".as_ptr(), 0) };
        if raw < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor nothing else owns.
        let file = std::fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) });
        file.set_len(staging::STORE_BYTES)?;
        std::os::unix::fs::FileExt::write_all_at(&file, &staging::MAGIC.to_le_bytes(), 0)?;
        Ok(StagingStore {
            file,
            entries: Vec::new(),
            next: staging::DATA_START as u64,
        })
    }

    /// The path machines map it by.
    fn path(&self) -> String {
        fd_path(self.file.as_raw_fd())
    }

    /// Publishes `elf` as `name` (once: a name is its bytes' hash): its bytes, then
    /// its entry, then the count, so a machine reading the count sees it whole.
    fn publish(&mut self, name: &str, elf: &[u8]) -> Result<(), String> {
        use nanvix_board_protocol::staging;
        use std::os::unix::fs::FileExt;
        if self.entries.iter().any(|known| known == name) {
            return Ok(());
        }
        let index = self.entries.len();
        let end = self.next + elf.len() as u64;
        if index >= staging::ENTRIES_MAX
            || end > staging::STORE_BYTES
            || name.len() > staging::NAME_BYTES
        {
            return Err("the staging store is full".to_string());
        }
        let mut entry = [0u8; staging::ENTRY_BYTES];
        entry[..name.len()].copy_from_slice(name.as_bytes());
        entry[staging::NAME_BYTES..staging::NAME_BYTES + 8]
            .copy_from_slice(&self.next.to_le_bytes());
        entry[staging::NAME_BYTES + 8..].copy_from_slice(&(elf.len() as u64).to_le_bytes());
        let count = (index as u32 + 1).to_le_bytes();
        self.file
            .write_all_at(elf, self.next)
            .and_then(|()| self.file.write_all_at(&entry, staging::entry(index) as u64))
            .and_then(|()| self.file.write_all_at(&count, staging::COUNT as u64))
            .map_err(|error| error.to_string())?;
        self.entries.push(name.to_string());
        // The next ELF on a page of its own.
        self.next = end.next_multiple_of(4096);
        Ok(())
    }
}

/// The write end of a cluster's console input, shared by the thread that copies
/// the terminal's input into it and the runner, which forwards Ctrl-C.
type ConsoleInput = std::sync::Arc<std::sync::Mutex<Option<std::process::ChildStdin>>>;

/// The byte a Ctrl-C is forwarded as (what a terminal in raw mode sends).
const CTRL_C: u8 = 0x03;

/// Boots `system` with `payloads` and runs it until every cluster is off or the
/// board stops; returns the board's exit status.
pub fn run(
    system: &System,
    payloads: &Payloads,
    options: &RunOptions,
    output: &mut dyn Write,
) -> Result<i32, RunError> {
    // The line editor puts the terminal in raw mode while it reads a line: whatever
    // ends the run leaves the terminal as it found it.
    let _terminal = TerminalMode::save();
    let on_machines = system.platform == crate::manifest::Platform::QemuX86_64;
    let hardware = if on_machines {
        BoardHardware::create_for_machines(&system.board)
    } else {
        BoardHardware::create(&system.board)
    }
    .map_err(|error| RunError(format!("cannot create the board's NoC memory: {error}")))?;
    let machines = if on_machines {
        Some(Machines {
            emulator: crate::qemu::ensure_installed().map_err(RunError)?,
            bundles: std::collections::BTreeMap::new(),
            staging: StagingStore::create()
                .map_err(|error| RunError(format!("cannot make the staging store: {error}")))?,
        })
    } else {
        None
    };
    // Inherited, so a wrapper such as valgrind can open it after its own exec.
    let kernel = SealedFile::new("kernel", &payloads.kernel, true)
        .map_err(|error| RunError(format!("cannot stage the kernel: {error}")))?;
    let mut programs = std::collections::BTreeMap::new();
    for name in system.program_names() {
        let Some(elf) = payloads.programs.get(&name) else {
            return Err(RunError(format!("no ELF for program `{name}`")));
        };
        let file = SealedFile::new(&name, elf, true)
            .map_err(|error| RunError(format!("cannot stage program `{name}`: {error}")))?;
        programs.insert(name, file);
    }
    let mut elves: std::collections::BTreeMap<String, &[u8]> = payloads
        .programs
        .iter()
        .map(|(name, elf)| (name.clone(), elf.as_slice()))
        .collect();
    elves.insert(KERNEL_PROGRAM.to_string(), &payloads.kernel);
    let (sender, receiver) = mpsc::channel();
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])
    .map_err(|error| RunError(format!("cannot watch signals: {error}")))?;
    let signal_handle = signals.handle();
    let signal_sender = sender.clone();
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if signal_sender.send(Input::Signal(signal)).is_err() {
                break;
            }
        }
    });
    let mut board = Board {
        disk: options.disk.clone(),
        ddr: board_ddr(system)?,
        system,
        kernel,
        programs,
        staged: StagedDirectory::create()
            .map_err(|error| RunError(format!("cannot make the staging directory: {error}")))?,
        hardware,
        slots: Vec::new(),
        sender,
        receiver,
        started: Instant::now(),
        format: options.format,
        pins: options.pins.clone(),
        logs: LogDecoders::new(elves.clone()),
        elves,
        symbols: std::collections::BTreeMap::new(),
        bases: std::collections::BTreeMap::new(),
        log_level: options.log_level,
        polling_doorbells: options.polling_doorbells,
        callgrind: options.callgrind.clone(),
        gdb: options.gdb.clone(),
        output,
        console: None,
        shutdown_deadline: None,
        machines,
    };
    let status = board.run(options.timeout);
    signal_handle.close();
    status
}

impl Board<'_> {
    fn emit(&mut self, event: Event) {
        let line = match self.format {
            EventFormat::Json => serde_json::to_string(&Timed {
                ms: self.started.elapsed().as_secs_f64() * 1000.0,
                event,
            })
            .unwrap_or_default(),
            EventFormat::Human => event.human(),
        };
        if !line.is_empty() {
            let _ = writeln!(self.output, "{line}");
            let _ = self.output.flush();
        }
    }

    fn run(&mut self, timeout: Option<Duration>) -> Result<i32, RunError> {
        let deadline = timeout.map(|timeout| self.started + timeout);
        self.emit(Event::BoardUp {
            board: self.system.board.name.clone(),
            clusters: self.system.clusters.len(),
        });
        let boot = self
            .system
            .clusters
            .iter()
            .position(|plan| plan.index == self.system.boot)
            .ok_or_else(|| RunError("the boot cluster has no programs".into()))?;
        if let Err(error) = self.spawn(boot) {
            return Ok(self.stop(&format!("cannot start the boot cluster: {error}"), 1));
        }
        let boot_deadline = Instant::now() + BOOT_TIMEOUT;
        while self.slots[0].phase == Phase::Starting {
            match self.next(Some(boot_deadline.min(deadline.unwrap_or(boot_deadline)))) {
                Some(Ok(())) => {}
                Some(Err(status)) => return Ok(status),
                None if deadline.is_some_and(|deadline| Instant::now() >= deadline) => {
                    return Ok(self.stop("timeout", 124));
                }
                None => {
                    let name = self.slots[0].plan.name.clone();
                    return Ok(self.stop(&format!("boot cluster {name} did not come up"), 1));
                }
            }
        }
        for position in 0..self.system.clusters.len() {
            if position != boot
                && let Err(error) = self.spawn(position)
            {
                let name = self.system.clusters[position].name.clone();
                return Ok(self.stop(&format!("cannot start {name}: {error}"), 1));
            }
        }
        loop {
            if self.slots.iter().all(|slot| slot.phase == Phase::Ended) {
                return Ok(self.finish());
            }
            let wake = [deadline, self.shutdown_deadline]
                .into_iter()
                .flatten()
                .min();
            match self.next(wake) {
                Some(Ok(())) => {}
                Some(Err(status)) => return Ok(status),
                None if self
                    .shutdown_deadline
                    .is_some_and(|limit| Instant::now() >= limit) =>
                {
                    let reason = format!(
                        "the orderly shutdown took over {} s",
                        SHUTDOWN_GRACE.as_secs()
                    );
                    return Ok(self.stop(&reason, 128 + signal_hook::consts::SIGTERM));
                }
                None => return Ok(self.stop("timeout", 124)),
            }
        }
    }

    /// Handles the next input; `None` on deadline, `Some(Err(status))` when the board
    /// stopped.
    fn next(&mut self, deadline: Option<Instant>) -> Option<Result<(), i32>> {
        let input = match deadline {
            Some(deadline) => {
                match self
                    .receiver
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                {
                    Ok(input) => input,
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return None,
                }
            }
            None => self.receiver.recv().ok()?,
        };
        Some(self.handle(input))
    }

    /// Asks init for an orderly shutdown, if the boot cluster runs it: a SIGTERM to
    /// the boot cluster's process, which its kernel turns into a SIGTERM notice to
    /// its first program. The boot cluster's name then.
    fn ask_init_to_shut_down(&self) -> Option<String> {
        let boot = self.system.boot;
        let slot = self
            .slots
            .iter()
            .find(|slot| slot.plan.index == boot && slot.phase == Phase::Up)?;
        if slot.plan.programs.first()?.name != "init" {
            return None;
        }
        if self.machines.is_some() {
            // A machine takes a signal as QEMU's end: it polls its request area.
            self.hardware.post_shutdown_request(boot);
            return Some(slot.plan.name.clone());
        }
        // SAFETY: kill(2) on a child process we started and have not reaped (its
        // waiter thread reports the exit before the pid can be reused).
        let sent = unsafe { libc::kill(slot.pid as libc::pid_t, libc::SIGTERM) };
        (sent == 0).then(|| slot.plan.name.clone())
    }

    /// Forwards a Ctrl-C to the cluster that takes the terminal's input, if it runs
    /// and its input is open; its name then.
    fn forward_interrupt(&self) -> Option<String> {
        let (index, input) = self.console.as_ref()?;
        let slot = self.slots.iter().find(|slot| slot.plan.index == *index)?;
        if slot.phase == Phase::Ended {
            return None;
        }
        let mut input = input.lock().ok()?;
        input.as_mut()?.write_all(&[CTRL_C]).ok()?;
        Some(slot.plan.name.clone())
    }

    fn slot_of(&self, cluster: usize) -> usize {
        self.slots
            .iter()
            .position(|slot| slot.plan.index == cluster)
            .unwrap_or(0)
    }

    fn handle(&mut self, input: Input) -> Result<(), i32> {
        match input {
            Input::Signal(signal) => {
                if signal == signal_hook::consts::SIGINT
                    && let Some(cluster) = self.forward_interrupt()
                {
                    self.emit(Event::Interrupt { cluster });
                    return Ok(());
                }
                if signal == signal_hook::consts::SIGTERM
                    && self.shutdown_deadline.is_none()
                    && let Some(cluster) = self.ask_init_to_shut_down()
                {
                    self.shutdown_deadline = Some(Instant::now() + SHUTDOWN_GRACE);
                    self.emit(Event::ShutdownRequested { cluster });
                    return Ok(());
                }
                let name = if signal == signal_hook::consts::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                Err(self.stop(&format!("{name} received"), 128 + signal))
            }
            Input::Raw { cluster, line } => {
                let cluster = self.slots[self.slot_of(cluster)].plan.name.clone();
                self.emit(Event::KernelOutput { cluster, line });
                Ok(())
            }
            Input::Report { cluster, report } => {
                self.report(cluster, report);
                Ok(())
            }
            Input::Exited { cluster, status } => {
                self.exited(cluster, status)?;
                self.power_off_orphaned_idle();
                Ok(())
            }
        }
    }

    fn report(&mut self, cluster: usize, report: ClusterReport<'static>) {
        let position = self.slot_of(cluster);
        let name = self.slots[position].plan.name.clone();
        let event = match report {
            ClusterReport::Up => {
                let slot = &mut self.slots[position];
                slot.phase = Phase::Up;
                Event::ClusterUp {
                    cluster: name,
                    pid: slot.pid,
                    epoch: slot.epoch,
                }
            }
            ClusterReport::ProgramStarted {
                program,
                id,
                node,
                base,
            } => {
                let program = program.into_owned();
                self.bases.insert((cluster, program.clone()), base);
                self.know_program(&program);
                if let Some(symbols) = self.debug_symbols(&name, &program, base) {
                    self.emit(symbols);
                }
                Event::ProgramStarted {
                    cluster: name,
                    program,
                    id,
                    node,
                }
            }
            ClusterReport::ThreadFault {
                program,
                thread,
                core,
                code,
                access,
                address,
                backtrace,
                status,
                ..
            } => {
                self.slots[position].first_fault.get_or_insert(code);
                let backtrace = self.symbolize(cluster, &program, &backtrace);
                Event::ThreadFault {
                    cluster: name,
                    program: program.into_owned(),
                    thread,
                    core,
                    kind: nanvix_abi::FaultKind::from_code(code)
                        .map_or("unknown fault", nanvix_abi::FaultKind::text)
                        .to_string(),
                    access: nanvix_hal::FaultAccess::from_code(access)
                        .map_or("unknown", nanvix_hal::FaultAccess::text)
                        .to_string(),
                    address,
                    status,
                    backtrace,
                }
            }
            ClusterReport::ProgramRefused { program, refusal } => Event::ProgramRefused {
                cluster: name,
                program: program.into_owned(),
                reason: refusal.to_string(),
            },
            ClusterReport::ProgramExited { program, status } => Event::ProgramExited {
                cluster: name,
                program: program.into_owned(),
                status,
            },
            ClusterReport::Console { program, line } => Event::Console {
                cluster: name,
                program: program.into_owned(),
                line: String::from_utf8_lossy(&line).into_owned(),
            },
            ClusterReport::Log { program, bytes } => {
                self.log(cluster, &name, &program, &bytes);
                return;
            }
            ClusterReport::Stage { program, elf } => match self.keep_staged(&program, &elf) {
                // The machine waits until the staging store has it.
                Ok(()) => return,
                Err(reason) => Event::KernelOutput {
                    cluster: name,
                    line: format!("cannot keep the program it staged as `{program}`: {reason}"),
                },
            },
            ClusterReport::PowerOff { status } => {
                self.slots[position].power_off = Some(status);
                return;
            }
            ClusterReport::Idle { status } => {
                let slot = &mut self.slots[position];
                slot.idle = true;
                let ending = ending_of(slot.first_fault.take(), status);
                let (run, epoch) = (slot.run, slot.epoch);
                self.hardware.set_status(cluster, status, ending);
                self.hardware.set_run(cluster, run, true);
                self.hardware.set_state(cluster, ClusterState::On { epoch });
                Event::ClusterIdle {
                    cluster: name,
                    status,
                }
            }
            ClusterReport::ProgramRun {
                program,
                run,
                requester_node,
                ..
            } => {
                // An I/O cluster's kernel asked this idle warm cluster over the NoC:
                // the board counts the run as when it asks itself.
                self.start_run(position, run);
                let requester = self
                    .system
                    .board
                    .cluster_of_node(requester_node)
                    .map_or_else(
                        || requester_node.to_string(),
                        |cluster| cluster.name.clone(),
                    );
                self.power_event(requester, cluster, format!("on {program}"), None)
            }
            ClusterReport::PowerOnCluster {
                cluster: target,
                program,
                arguments,
            } => {
                let arguments = nanvix_board_protocol::split_arguments(&arguments);
                let refused = self
                    .power_on(cluster, target as usize, &program, arguments)
                    .err();
                self.power_event(name, target as usize, format!("on {program}"), refused)
            }
            ClusterReport::PowerOffCluster {
                cluster: target,
                signal,
            } => {
                let refused = self.power_off(cluster, target as usize, signal).err();
                self.power_event(name, target as usize, "off".to_string(), refused)
            }
        };
        self.emit(event);
    }

    fn power_event(
        &self,
        cluster: String,
        target: usize,
        action: String,
        refused: Option<String>,
    ) -> Event {
        Event::Power {
            cluster,
            target: self
                .system
                .board
                .clusters
                .get(target)
                .map_or_else(|| target.to_string(), |target| target.name.clone()),
            action,
            refused,
        }
    }

    /// Whether cluster `source` may power cluster `target` on or off: it is an I/O
    /// cluster and the target a compute cluster (the kernel checked; the board does
    /// not take a kernel's word for it).
    fn may_power(&self, source: usize, target: usize) -> Result<(), String> {
        let kind = |index: usize| {
            self.system
                .board
                .clusters
                .get(index)
                .map(|cluster| cluster.kind)
        };
        if kind(source) != Some(ClusterKind::Io) {
            return Err("only I/O clusters power clusters on or off".into());
        }
        if kind(target) != Some(ClusterKind::Compute) {
            return Err("only compute clusters are powered on or off on request".into());
        }
        Ok(())
    }

    /// Boots compute cluster `target` with `program` on `source`'s request, or says
    /// why not.
    fn power_on(
        &mut self,
        source: usize,
        target: usize,
        program: &str,
        arguments: Vec<String>,
    ) -> Result<(), String> {
        self.may_power(source, target)?;
        if self.program_path(program).is_none() {
            return Err(format!("the image has no program `{program}`"));
        }
        let previous = self.slots.iter().position(|slot| slot.plan.index == target);
        if let Some(position) = previous
            && self.slots[position].phase != Phase::Ended
        {
            return self.run_on_idle(position, program, arguments);
        }
        if let Some(position) = previous {
            self.slots.remove(position);
        }
        // The register holds the last incarnation's epoch (0: never booted).
        let epoch = self.hardware.epoch(target) + 1;
        let plan = ClusterPlan {
            index: target,
            name: self.system.board.clusters[target].name.clone(),
            critical: false,
            programs: vec![ProgramPlan {
                name: program.to_string(),
                arguments,
                // A process' heap: half its cluster's SRAM; the manifest's default
                // stack (a checked size: it parses).
                heap_bytes: nanvix_abi::spawned_heap_bytes(
                    self.system.board.clusters[target].sram_bytes,
                ) as u64,
                stack_bytes: nanvix_board::parse_size(crate::manifest::DEFAULT_STACK).unwrap_or(0),
                console_input: false,
            }],
            disk_bytes: None,
        };
        self.spawn_plan(plan, epoch, true)
            .map_err(|error| format!("cannot start it: {error}"))
    }

    /// Powers off the idle warm clusters once no I/O cluster runs: nothing could
    /// give them a program any more, and the board is off only when every cluster
    /// is.
    fn power_off_orphaned_idle(&mut self) {
        let kind = |index: usize| self.system.board.clusters.get(index).map(|c| c.kind);
        let io_on = self.slots.iter().any(|slot| {
            slot.phase != Phase::Ended && kind(slot.plan.index) == Some(ClusterKind::Io)
        });
        if io_on {
            return;
        }
        for slot in &mut self.slots {
            if slot.warm
                && slot.idle
                && slot.phase == Phase::Up
                && slot.powered_off_on_request.is_none()
            {
                slot.powered_off_on_request = Some(libc::SIGTERM as u32);
                // SAFETY: kill(2) on a child process we started and have not reaped
                // (its waiter thread reports the exit before the pid can be reused).
                unsafe { libc::kill(slot.pid as libc::pid_t, libc::SIGKILL) };
            }
        }
    }

    /// Runs `program` on the idle warm cluster of slot `position` (in its epoch, as
    /// its next run), or says why not.
    fn run_on_idle(
        &mut self,
        position: usize,
        program: &str,
        arguments: Vec<String>,
    ) -> Result<(), String> {
        let slot = &mut self.slots[position];
        if !(slot.phase == Phase::Up && slot.idle) {
            return Err("it is on".into());
        }
        let run = slot.run + 1;
        let request = ProgramRequest {
            program: program.to_string(),
            arguments: arguments.join("\0"),
            run,
        };
        if self.machines.is_some() {
            // A machine polls its request area.
            let bytes = postcard::to_allocvec(&request).map_err(|error| error.to_string())?;
            self.hardware
                .post_program_request(slot.plan.index, &bytes)
                .map_err(|error| format!("cannot reach it: {error}"))?;
            self.start_run(position, run);
            return Ok(());
        }
        let mut line = serde_json::to_vec(&request).map_err(|error| error.to_string())?;
        line.push(b'\n');
        let sent = slot
            .control
            .as_mut()
            .ok_or_else(|| "it takes no program requests".to_string())?
            .write_all(&line);
        sent.map_err(|error| format!("cannot reach it: {error}"))?;
        // SAFETY: kill(2) on a child process we started and have not reaped (its
        // waiter thread reports the exit before the pid can be reused).
        unsafe { libc::kill(slot.pid as libc::pid_t, libc::SIGUSR1) };
        self.start_run(position, run);
        Ok(())
    }

    /// Counts run `run` of the warm cluster of slot `position` as started: no longer
    /// idle, no fault yet; its registers say so.
    fn start_run(&mut self, position: usize, run: u32) {
        let slot = &mut self.slots[position];
        slot.idle = false;
        slot.run = run;
        slot.first_fault = None;
        let (index, epoch) = (slot.plan.index, slot.epoch);
        self.hardware.set_status(index, 0, ENDED_NONE);
        self.hardware.set_run(index, run, false);
        self.hardware.set_state(index, ClusterState::On { epoch });
    }

    /// Powers compute cluster `target` off on `source`'s request: kills its process
    /// if it runs (its end is then a power-off), or turns a dead one off; a cluster
    /// that is off stays off.
    fn power_off(&mut self, source: usize, target: usize, signal: u32) -> Result<(), String> {
        self.may_power(source, target)?;
        let Some(slot) = self.slots.iter_mut().find(|slot| slot.plan.index == target) else {
            return Ok(());
        };
        if slot.phase == Phase::Ended {
            if slot.outcome == Some(Outcome::Died) {
                self.hardware.set_state(target, ClusterState::Off);
            }
            return Ok(());
        }
        slot.powered_off_on_request = Some(signal);
        // SAFETY: kill(2) on a child process we started and have not reaped (its
        // waiter thread reports the exit before the pid can be reused).
        unsafe { libc::kill(slot.pid as libc::pid_t, libc::SIGKILL) };
        Ok(())
    }

    /// The file of program `name`: the image's, or one staged while the board runs.
    fn program_path(&self, name: &str) -> Option<String> {
        if let Some(file) = self.programs.get(name) {
            return Some(file.path.clone());
        }
        nanvix_hal_hosted::protocol::staged_path(Some(&self.staged.0), name)
            .filter(|path| path.is_file())
            .map(|path| path.display().to_string())
    }

    /// Makes a staged program's ELF known for its logs and symbols when it starts
    /// (before any log or fault of it comes on the same report pipe); its name is
    /// its bytes' hash, so what is read stays right.
    fn know_program(&mut self, program: &str) {
        if self.elves.contains_key(program) {
            return;
        }
        let Some(path) = nanvix_hal_hosted::protocol::staged_path(Some(&self.staged.0), program)
        else {
            return;
        };
        if let Ok(elf) = std::fs::read(path) {
            let elf: &'static [u8] = Box::leak(elf.into_boxed_slice());
            self.elves.insert(program.to_string(), elf);
            self.logs.add_elf(program, elf);
        }
    }

    /// For the debugged cluster: writes `program`'s ELF where the debugger can read
    /// it and says how to load its symbols at `base`.
    fn debug_symbols(&self, cluster: &str, program: &str, base: u64) -> Option<Event> {
        let (debugged, directory) = self.gdb.as_ref()?;
        if debugged != cluster {
            return None;
        }
        let elf = self.elves.get(program)?;
        let path = directory.join(format!("{cluster}-{program}.elf"));
        std::fs::write(&path, elf).ok()?;
        Some(Event::DebugSymbols {
            cluster: cluster.to_string(),
            program: program.to_string(),
            path: path.display().to_string(),
            base,
        })
    }

    /// Names the addresses of a backtrace of `program` on `cluster` with its ELF's
    /// symbols and line tables (`function+0xoffset (address) at file:line`), or
    /// leaves them as addresses.
    fn symbolize(&mut self, cluster: usize, program: &str, addresses: &[u64]) -> Vec<String> {
        let base = self.bases.get(&(cluster, program.to_string())).copied();
        let root = crate::workspace_root();
        let elves = &self.elves;
        let symbols = self.symbols.entry(program.to_string()).or_insert_with(|| {
            elves
                .get(program)
                .map(|elf| crate::symbols::Symbols::parse(elf))
                .unwrap_or_default()
        });
        addresses
            .iter()
            .enumerate()
            .map(|(depth, address)| {
                // Past the faulting instruction, each address is a return address:
                // the call before it may be its function's last instruction.
                let inside = if depth == 0 {
                    *address
                } else {
                    address.saturating_sub(1)
                };
                let Some((base, lookup)) =
                    base.and_then(|base| Some((base, inside.checked_sub(base)?)))
                else {
                    return format!("{address:#x}");
                };
                let Some(name) = symbols.name(lookup, address - base) else {
                    return format!("{address:#x}");
                };
                let place = symbols
                    .location(lookup, &root)
                    .map(|place| format!(" at {place}"))
                    .unwrap_or_default();
                format!("{name} ({address:#x}){place}")
            })
            .collect()
    }

    /// Decodes a piece of `program`'s log stream on `cluster` (named `name`) and emits
    /// its frames at or above the log level, and a line for anything undecodable.
    fn log(&mut self, cluster: usize, name: &str, program: &str, bytes: &[u8]) {
        for output in self.logs.feed(cluster, program, bytes) {
            let event = match output {
                LogOutput::Frame(frame) => {
                    if frame.level.is_some_and(|level| level < self.log_level) {
                        continue;
                    }
                    Event::Log {
                        cluster: name.to_string(),
                        program: program.to_string(),
                        level: frame.level.map(|level| level.name().to_string()),
                        timestamp: frame.timestamp,
                        message: frame.message,
                    }
                }
                LogOutput::Problem(line) => Event::KernelOutput {
                    cluster: name.to_string(),
                    line,
                },
            };
            self.emit(event);
        }
    }

    fn exited(&mut self, cluster: usize, status: ExitStatus) -> Result<(), i32> {
        let position = self.slot_of(cluster);
        let slot = &mut self.slots[position];
        slot.phase = Phase::Ended;
        let name = slot.plan.name.clone();
        let critical = slot.plan.critical;
        let epoch = slot.epoch;
        if slot.powered_off_on_request.is_some() && slot.idle {
            // An idle warm cluster powered off: what its last program ended with
            // stays in the registers.
            slot.outcome = Some(Outcome::Off(0));
            let status = self.hardware.status(cluster);
            self.hardware.set_run(cluster, slot.run, false);
            self.hardware.set_state(cluster, ClusterState::Off);
            self.emit(Event::ClusterOff {
                cluster: name,
                status,
            });
            return Ok(());
        }
        if let Some(signal) = slot.powered_off_on_request {
            // Off cleanly as far as the board goes; its programs were killed.
            let killed = 128 + signal as i32;
            slot.outcome = Some(Outcome::Off(0));
            self.hardware.set_status(cluster, killed, ENDED_KILLED);
            self.hardware.set_state(cluster, ClusterState::Off);
            self.emit(Event::ClusterOff {
                cluster: name,
                status: killed,
            });
            return Ok(());
        }
        if let Some(power_off) = slot.power_off
            && status.code() == Some(i32::from(power_off != 0))
        {
            slot.outcome = Some(Outcome::Off(power_off));
            let ending = ending_of(slot.first_fault, power_off);
            self.hardware.set_status(cluster, power_off, ending);
            self.hardware.set_state(cluster, ClusterState::Off);
            self.emit(Event::ClusterOff {
                cluster: name,
                status: power_off,
            });
            return Ok(());
        }
        slot.outcome = Some(Outcome::Died);
        let ended = status
            .signal()
            .map_or_else(|| status.code().unwrap_or(1), |signal| 128 + signal);
        self.hardware.set_status(cluster, ended, ENDED_DIED);
        self.hardware
            .set_state(cluster, ClusterState::Dead { epoch });
        let reason = describe(status);
        self.emit(Event::ClusterDied {
            cluster: name.clone(),
            critical,
            reason: reason.clone(),
            signal: status.signal(),
            code: status.code(),
        });
        if critical {
            return Err(self.stop(&format!("critical cluster {name} died: {reason}"), 1));
        }
        Ok(())
    }

    /// Stops every cluster still running, waits for them, and returns `status`.
    fn stop(&mut self, reason: &str, status: i32) -> i32 {
        self.emit(Event::BoardStop {
            reason: reason.to_string(),
        });
        for slot in &self.slots {
            if slot.phase != Phase::Ended {
                // SAFETY: kill(2) on a child process we started and have not reaped
                // (its waiter thread reports the exit before the pid can be reused).
                unsafe { libc::kill(slot.pid as libc::pid_t, libc::SIGKILL) };
            }
        }
        let deadline = Instant::now() + STOP_GRACE;
        while self.slots.iter().any(|slot| slot.phase != Phase::Ended) {
            match self
                .receiver
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Input::Exited {
                    cluster,
                    status: exit,
                }) => {
                    let position = self.slot_of(cluster);
                    let slot = &mut self.slots[position];
                    slot.phase = Phase::Ended;
                    slot.outcome = Some(Outcome::Stopped);
                    let name = slot.plan.name.clone();
                    self.emit(Event::ClusterDied {
                        cluster: name,
                        critical: false,
                        reason: "stopped by the board".to_string(),
                        signal: exit.signal(),
                        code: exit.code(),
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        self.emit(Event::BoardOff { status });
        status
    }

    fn finish(&mut self) -> i32 {
        let mut status = 0;
        for slot in &self.slots {
            let failed = !matches!(slot.outcome, Some(Outcome::Off(0)));
            if failed {
                status = if slot.plan.critical { 1 } else { status.max(2) };
                if status == 1 {
                    break;
                }
            }
        }
        self.emit(Event::BoardOff { status });
        status
    }

    /// Starts the cluster process of `self.system.clusters[position]`.
    fn spawn(&mut self, position: usize) -> std::io::Result<()> {
        let plan = self.system.clusters[position].clone();
        let epoch = self.hardware.epoch(plan.index) + 1;
        self.spawn_plan(plan, epoch, false)
    }

    /// Starts a cluster process for `plan` in boot epoch `epoch`; a `warm` one
    /// stays on, idle, when its programs end, and takes program requests on a
    /// control pipe.
    fn spawn_plan(&mut self, plan: ClusterPlan, epoch: u32, warm: bool) -> std::io::Result<()> {
        if self.machines.is_some() {
            return self.spawn_machine(plan, epoch, warm);
        }
        let index = plan.index;
        let (report_read, report_write) = pipe()?;
        let (control_read, control_write) = if warm {
            let (read, write) = pipe()?;
            (Some(read), Some(std::fs::File::from(write)))
        } else {
            (None, None)
        };
        let control_fd = control_read.as_ref().map_or(-1, |read| read.as_raw_fd());
        let control = control_write;
        let (disk_fd, disk_blocks) = match (plan.disk_bytes, &self.disk) {
            (Some(bytes), Some(file)) => (
                file.as_raw_fd(),
                bytes / nanvix_abi::DISK_BLOCK_BYTES as u64,
            ),
            _ => (-1, 0),
        };
        let (ddr_fd, ddr_bytes) = match &self.ddr {
            Some((file, bytes)) if self.system.board.clusters[index].ddr_attached => {
                (file.as_raw_fd(), *bytes)
            }
            _ => (-1, 0),
        };
        let spec = BootSpec {
            disk_fd,
            disk_blocks,
            ddr_fd,
            ddr_bytes,
            cluster: index as u32,
            epoch,
            noc_fd: self.hardware.fd(),
            report_fd: report_write.as_raw_fd(),
            polling_doorbells: self.polling_doorbells,
            warm,
            control_fd,
            staged_directory: self.staged.0.display().to_string(),
            image_programs: self
                .programs
                .iter()
                .map(|(name, file)| (name.clone(), file.path.clone()))
                .collect(),
            programs: plan
                .programs
                .iter()
                .map(|program| ProgramSpec {
                    name: program.name.clone(),
                    path: self.program_path(&program.name).unwrap_or_default(),
                    arguments: program.arguments.clone(),
                    heap_bytes: program.heap_bytes,
                    stack_bytes: program.stack_bytes,
                    console_input: program.console_input,
                })
                .collect(),
        };
        let spec = serde_json::to_string(&spec).map_err(std::io::Error::other)?;
        let report_fd = report_write.as_raw_fd();
        let cpus: Option<Vec<usize>> = self
            .pins
            .iter()
            .find(|(cluster, _)| *cluster == plan.name)
            .map(|(_, cpus)| cpus.clone());
        // SAFETY: an all-zero cpu_set_t is the empty set; CPU_SET only sets bits.
        let cpu_set = cpus.map(|cpus| unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            for cpu in cpus {
                libc::CPU_SET(cpu, &mut set);
            }
            set
        });
        let mut command = match &self.callgrind {
            Some((cluster, directory)) if *cluster == plan.name => {
                let mut command = Command::new("valgrind");
                command
                    .arg("--tool=callgrind")
                    .arg("--dump-instr=yes")
                    .arg(format!(
                        "--callgrind-out-file={}/callgrind.{}.%p",
                        directory.display(),
                        plan.name
                    ))
                    .arg("--quiet")
                    .arg(&self.kernel.path);
                command
            }
            _ => {
                let mut command = Command::new(&self.kernel.path);
                command.arg0(format!("nanvix-{}", plan.name));
                command
            }
        };
        let holds_console = plan.programs.iter().any(|program| program.console_input);
        let debugged = self
            .gdb
            .as_ref()
            .is_some_and(|(cluster, _)| *cluster == plan.name);
        if debugged {
            command.env(DEBUGGER_ENVIRONMENT, "1");
        }
        command.env(BOOT_ENVIRONMENT, spec);
        // SAFETY: the closure runs in the child between fork and exec and only makes
        // async-signal-safe calls: it pins the process if asked, asks for SIGKILL when
        // the runner dies, leaves
        // the terminal's process group (Ctrl-C reaches the runner, which stops the
        // board), and lets the report pipe's write end, the control pipe's read end
        // and the disk image file survive exec.
        unsafe {
            command.pre_exec(move || {
                if let Some(set) = &cpu_set
                    && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                    || libc::setpgid(0, 0) != 0
                    || libc::fcntl(report_fd, libc::F_SETFD, 0) != 0
                    || (control_fd >= 0 && libc::fcntl(control_fd, libc::F_SETFD, 0) != 0)
                    || (disk_fd >= 0 && libc::fcntl(disk_fd, libc::F_SETFD, 0) != 0)
                    || (ddr_fd >= 0 && libc::fcntl(ddr_fd, libc::F_SETFD, 0) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = self.boot_cluster(&mut command, index, epoch, (warm, holds_console))?;
        drop(report_write);
        drop(control_read);
        self.carry_console_input(index, &mut child, None);
        if debugged {
            self.emit(Event::WaitingForDebugger {
                cluster: plan.name.clone(),
                pid: child.id(),
            });
        }
        self.slots
            .push(Slot::booting(plan, child.id(), epoch, warm, control));
        let readers = [
            reader(
                index,
                std::fs::File::from(report_read),
                true,
                self.sender.clone(),
            ),
            reader(
                index,
                child.stdout.take().expect("piped stdout"),
                false,
                self.sender.clone(),
            ),
            reader(
                index,
                child.stderr.take().expect("piped stderr"),
                false,
                self.sender.clone(),
            ),
        ];
        watch_exit(index, child, readers, self.sender.clone(), |status| status);
        Ok(())
    }
}

impl Board<'_> {
    /// Sends the terminal's input to cluster `index`'s `child` (if it took a pipe for
    /// it) until either side ends, then `end` if the cluster needs a byte to say so.
    fn carry_console_input(
        &mut self,
        index: usize,
        child: &mut std::process::Child,
        end: Option<u8>,
    ) {
        let Some(input) = child.stdin.take() else {
            return;
        };
        let input: ConsoleInput = std::sync::Arc::new(std::sync::Mutex::new(Some(input)));
        self.console = Some((index, std::sync::Arc::clone(&input)));
        let interrupts = self.sender.clone();
        std::thread::spawn(move || copy_console_input(&input, &interrupts, end));
    }

    /// Sets cluster `index`'s registers for its boot in `epoch` (its first run, on;
    /// a `warm` one's programs are not the system's) and starts its process with
    /// `command` (dead in the registers if it cannot be started), its output piped
    /// to the runner and its input too if it `holds_console`.
    fn boot_cluster(
        &self,
        command: &mut Command,
        index: usize,
        epoch: u32,
        (warm, holds_console): (bool, bool),
    ) -> std::io::Result<std::process::Child> {
        command
            .stdin(if holds_console {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        self.hardware.set_status(index, 0, ENDED_NONE);
        self.hardware.set_run(index, 1, false);
        if !warm {
            // The manifest's own boot: its programs are the system's.
            self.hardware.set_system_epoch(index, epoch);
        }
        self.hardware.set_state(index, ClusterState::On { epoch });
        command.spawn().inspect_err(|_| {
            self.hardware.set_state(index, ClusterState::Dead { epoch });
        })
    }

    /// Boots `plan`'s cluster in boot epoch `epoch` as a QEMU machine: its boot
    /// bundle (the board, the cluster, its programs and every image program's ELF)
    /// as the machine's `-initrd`, the board's NoC memory as its ivshmem device, its
    /// serial console carried both ways (report lines become reports).
    fn spawn_machine(&mut self, plan: ClusterPlan, epoch: u32, warm: bool) -> std::io::Result<()> {
        let index = plan.index;
        // The image's programs (staged ones are in the staging store).
        let library: Vec<(&str, &[u8])> = self
            .programs
            .keys()
            .filter_map(|name| Some((name.as_str(), *self.elves.get(name)?)))
            .collect();
        // The disk the manifest gives this cluster, and the board's DDR if it is
        // attached: their files as ivshmem devices (a BAR's size is a power of two).
        let mut devices: Vec<String> = Vec::new();
        let mut inherited: Vec<i32> = Vec::new();
        let mut storage = crate::qemu::Storage {
            warm,
            ..crate::qemu::Storage::default()
        };
        if let (Some(bytes), Some(file)) = (plan.disk_bytes, &self.disk) {
            storage.disk_blocks = bytes / nanvix_abi::DISK_BLOCK_BYTES as u64;
            devices.extend(crate::qemu::device_arguments(
                "disk",
                crate::qemu::IVSHMEM_SLOTS[1],
                &fd_path(file.as_raw_fd()),
                power_of_two(bytes, "the disk")?,
            ));
            inherited.push(file.as_raw_fd());
        }
        if let Some((file, bytes)) = &self.ddr
            && self.system.board.clusters[index].ddr_attached
        {
            storage.ddr_bytes = *bytes;
            devices.extend(crate::qemu::device_arguments(
                "ddr",
                crate::qemu::IVSHMEM_SLOTS[2],
                &fd_path(file.as_raw_fd()),
                power_of_two(*bytes, "the DDR")?,
            ));
            inherited.push(file.as_raw_fd());
        }
        let bundle_bytes = crate::qemu::bundle((index, epoch), &plan.programs, storage, &library);
        let bundle = SealedFile::new(&format!("bundle-{}", plan.name), &bundle_bytes, true)?;
        let shape = &self.system.board.clusters[index];
        let mut arguments = crate::qemu::machine_arguments(
            &self.kernel.path,
            shape.cores as usize,
            crate::qemu::cluster_memory_mib(shape.sram_bytes, bundle_bytes.len() as u64),
            "mode=kernel",
        );
        arguments.extend(["-initrd".into(), bundle.path.clone()]);
        arguments.extend(crate::qemu::noc_arguments(
            &self.hardware.path(),
            self.hardware.file_bytes()?,
        ));
        arguments.extend(devices);
        if let Some(machines) = &self.machines {
            arguments.extend(crate::qemu::device_arguments(
                "staging",
                crate::qemu::IVSHMEM_SLOTS[3],
                &machines.staging.path(),
                nanvix_board_protocol::staging::STORE_BYTES,
            ));
        }
        let debugged = self
            .gdb
            .as_ref()
            .is_some_and(|(cluster, _)| *cluster == plan.name);
        let port = if debugged { free_port()? } else { 0 };
        if debugged {
            // Stopped at its first instruction until a debugger connects and goes on.
            arguments.extend(["-gdb".into(), format!("tcp:127.0.0.1:{port}"), "-S".into()]);
        }
        let emulator = self
            .machines
            .as_ref()
            .map(|machines| machines.emulator.clone())
            .unwrap_or_default();
        let holds_console = plan.programs.iter().any(|program| program.console_input);
        let mut command = Command::new(&emulator);
        command.args(&arguments);
        // SAFETY: the closure runs in the child between fork and exec and only makes
        // async-signal-safe calls: it asks for SIGKILL when the runner dies, leaves
        // the terminal's process group (Ctrl-C reaches the runner, which stops the
        // board), and lets the disk and DDR files survive exec (QEMU opens them by
        // their /proc/self/fd paths; the other memory files are inherited already).
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0
                    || libc::setpgid(0, 0) != 0
                    || inherited
                        .iter()
                        .any(|fd| libc::fcntl(*fd, libc::F_SETFD, 0) != 0)
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = self.boot_cluster(&mut command, index, epoch, (warm, holds_console))?;
        if let Some(machines) = self.machines.as_mut() {
            // The cluster's earlier machine, if any, read its bundle long ago.
            machines.bundles.insert(index, bundle);
        }
        self.carry_console_input(index, &mut child, Some(END_OF_INPUT));
        if debugged {
            let kernel = self.debug_kernel().unwrap_or_default();
            self.emit(Event::MachineWaitsForDebugger {
                cluster: plan.name.clone(),
                address: format!("127.0.0.1:{port}"),
                kernel,
            });
        }
        self.slots
            .push(Slot::booting(plan, child.id(), epoch, warm, None));
        let readers = [
            serial_reader(
                index,
                child.stdout.take().expect("piped stdout"),
                self.sender.clone(),
            ),
            reader(
                index,
                child.stderr.take().expect("piped stderr"),
                false,
                self.sender.clone(),
            ),
        ];
        // QEMU's exit device: 33 for a kernel's pass (status 0), 35 for its failure
        // (the kernel's power-off with another status).
        watch_exit(
            index,
            child,
            readers,
            self.sender.clone(),
            |status| match status.code() {
                Some(crate::qemu::STATUS_PASS) => ExitStatus::from_raw(0),
                Some(crate::qemu::STATUS_FAIL) => ExitStatus::from_raw(1 << 8),
                _ => status,
            },
        );
        Ok(())
    }
}

impl Board<'_> {
    /// The kernel ELF written to the `--gdb` directory, for a debugger to load its
    /// symbols from: its path.
    fn debug_kernel(&self) -> Option<String> {
        let (_, directory) = self.gdb.as_ref()?;
        let elf = self.elves.get(KERNEL_PROGRAM)?;
        let path = directory.join("nanvix-qemu-kernel");
        std::fs::write(&path, elf).ok()?;
        Some(path.display().to_string())
    }
}

impl Board<'_> {
    /// Keeps the ELF a machine staged as `program` in the staging directory, as a
    /// hosted cluster writes it there itself: under its name, whole (written aside,
    /// then renamed).
    fn keep_staged(&mut self, program: &str, elf: &[u8]) -> Result<(), String> {
        let path = nanvix_hal_hosted::protocol::staged_path(Some(&self.staged.0), program)
            .ok_or("not a staged program's name")?;
        if let Some(machines) = self.machines.as_mut() {
            machines.staging.publish(program, elf)?;
        }
        if std::fs::read(&path).is_ok_and(|kept| kept == elf) {
            return Ok(());
        }
        let partial = path.with_file_name(format!(".{program}.part"));
        std::fs::write(&partial, elf)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|error| {
                let _ = std::fs::remove_file(&partial);
                error.to_string()
            })
    }
}

/// `bytes`, if a power of two (an ivshmem device's BAR must be): `what` names the
/// file otherwise.
fn power_of_two(bytes: u64, what: &str) -> std::io::Result<u64> {
    if bytes.is_power_of_two() {
        Ok(bytes)
    } else {
        Err(std::io::Error::other(format!(
            "{what} has {bytes} bytes: on the qemu-x86_64 platform its size must be a power of two (a PCI BAR's)"
        )))
    }
}

/// A path of descriptor `fd` valid in this process and in its children that
/// inherit it (QEMU opens memory files by such paths).
fn fd_path(fd: i32) -> String {
    format!("/proc/self/fd/{fd}")
}

/// A TCP port of 127.0.0.1 free a moment ago (for a machine's debugger stub).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

/// Reads a machine's serial console: report lines (the kernel's reports) and raw
/// lines (the kernel's own output), without their carriage returns.
fn serial_reader(
    cluster: usize,
    source: impl Read + Send + 'static,
    sender: Sender<Input>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut source = BufReader::new(source);
        let mut line = Vec::new();
        loop {
            line.clear();
            match source.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            // The last line of a machine that was killed may be cut short.
            let whole = line.last() == Some(&b'\n');
            while matches!(line.last(), Some(b'\n' | b'\r')) {
                line.pop();
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            let input = match nanvix_board_protocol::parse_report_line(&text) {
                Some(Ok(report)) => Input::Report { cluster, report },
                Some(Err(_)) if !whole => Input::Raw {
                    cluster,
                    line: "(a report cut short: the machine ended while it wrote it)".to_string(),
                },
                Some(Err(_)) => Input::Raw {
                    cluster,
                    line: format!("malformed report: {text}"),
                },
                None => Input::Raw {
                    cluster,
                    line: text,
                },
            };
            if sender.send(input).is_err() {
                break;
            }
        }
    })
}

/// Waits (on a thread of its own) until cluster `index`'s process `child` ended and
/// its `readers` read everything, then tells the runner, its exit status as
/// `status_of` reads it.
fn watch_exit(
    index: usize,
    mut child: std::process::Child,
    readers: impl IntoIterator<Item = std::thread::JoinHandle<()>> + Send + 'static,
    sender: Sender<Input>,
    status_of: fn(ExitStatus) -> ExitStatus,
) {
    std::thread::spawn(move || {
        for reader in readers {
            let _ = reader.join();
        }
        let status = child
            .wait()
            .unwrap_or_else(|_| ExitStatus::from_raw(0x7f00));
        let _ = sender.send(Input::Exited {
            cluster: index,
            status: status_of(status),
        });
    });
}

/// Reads lines from a cluster process: reports (JSON) or raw output.
fn reader(
    cluster: usize,
    source: impl Read + Send + 'static,
    reports: bool,
    sender: Sender<Input>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(source).split(b'\n') {
            let Ok(line) = line else { break };
            let text = String::from_utf8_lossy(&line).into_owned();
            let input = if reports {
                match serde_json::from_str::<ClusterReport>(&text) {
                    Ok(report) => Input::Report { cluster, report },
                    Err(_) => Input::Raw {
                        cluster,
                        line: format!("malformed report: {text}"),
                    },
                }
            } else {
                Input::Raw {
                    cluster,
                    line: text,
                }
            };
            if sender.send(input).is_err() {
                break;
            }
        }
    })
}

/// "killed by signal 9 (SIGKILL)", "exited with code 3 without powering off".
/// Copies the terminal's input into a cluster's console input until either ends;
/// closes it then (the cluster reads the end of its input). On a terminal (input and
/// output) the runner edits the lines ([`edit_console_input`]); other input is
/// copied as it comes.
fn copy_console_input(input: &ConsoleInput, interrupts: &Sender<Input>, end: Option<u8>) {
    use std::io::IsTerminal;
    let on_terminal = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    if !(on_terminal && edit_console_input(input, interrupts).is_ok()) {
        copy_raw_input(input);
    }
    if let Ok(mut input) = input.lock() {
        // A machine's serial port has no end of its own: `end` says it.
        if let (Some(byte), Some(pipe)) = (end, input.as_mut()) {
            let _ = pipe.write_all(&[byte]);
        }
        *input = None;
    }
}

/// The terminal's mode as the runner found it, put back when dropped.
struct TerminalMode(Option<libc::termios>);

impl TerminalMode {
    /// The mode of the runner's standard input, if it is a terminal.
    fn save() -> TerminalMode {
        // SAFETY: an all-zero termios is a valid buffer for tcgetattr to fill.
        let mut mode: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: fd 0 and a valid termios to write; fails harmlessly on a non-tty.
        let saved = unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut mode) } == 0;
        TerminalMode(saved.then_some(mode))
    }
}

impl Drop for TerminalMode {
    fn drop(&mut self) {
        if let Some(mode) = &self.0 {
            // SAFETY: fd 0 and the mode tcgetattr read from it.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSADRAIN, mode) };
        }
    }
}

/// Lines of history the terminal's line editor keeps (for this run only).
const HISTORY_LINES: usize = 500;

/// Reads the terminal a line at a time with a line editor (rustyline: cursor
/// movement, the usual Emacs keys, history on the arrow keys) and writes each line
/// to the console input. Ctrl-C drops the line being typed and goes where a SIGINT
/// to the runner goes (the cluster holding the input gets byte 0x03, or the board
/// stops); Ctrl-D on an empty line ends the input. Returns once the input ended or
/// the cluster's input closed; an error of the editor (the terminal went away)
/// leaves the rest to the plain copy.
fn edit_console_input(input: &ConsoleInput, interrupts: &Sender<Input>) -> rustyline::Result<()> {
    use rustyline::error::ReadlineError;
    let config = rustyline::Config::builder()
        .auto_add_history(true)
        .history_ignore_dups(true)?
        .max_history_size(HISTORY_LINES)?
        .build();
    let mut editor = rustyline::DefaultEditor::with_config(config)?;
    loop {
        match editor.readline("") {
            Ok(mut line) => {
                line.push('\n');
                let Ok(mut input) = input.lock() else {
                    return Ok(());
                };
                let written = input
                    .as_mut()
                    .is_some_and(|pipe| pipe.write_all(line.as_bytes()).is_ok());
                if !written {
                    return Ok(());
                }
            }
            Err(ReadlineError::Interrupted) => {
                if interrupts
                    .send(Input::Signal(signal_hook::consts::SIGINT))
                    .is_err()
                {
                    return Ok(());
                }
            }
            Err(ReadlineError::Eof) => return Ok(()),
            Err(error) => return Err(error),
        }
    }
}

/// Copies the runner's standard input into the console input as it comes.
fn copy_raw_input(input: &ConsoleInput) {
    let mut chunk = [0u8; 4096];
    let mut terminal = std::io::stdin().lock();
    loop {
        let read = match terminal.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        let Ok(mut input) = input.lock() else { break };
        let Some(pipe) = input.as_mut() else { break };
        if pipe.write_all(&chunk[..read]).is_err() {
            break;
        }
    }
}

/// How programs that ended with `status` ended (the ending register's word), given
/// the kind of the first thread fault among them: a failure after a thread fault is
/// that fault's doing.
fn ending_of(first_fault: Option<u32>, status: i32) -> u32 {
    match first_fault {
        Some(code) if status != 0 => ENDED_FAULT | (code << 8),
        _ => ENDED_EXIT,
    }
}

/// A pipe whose ends close on exec (the one a child keeps is cleared in its
/// `pre_exec`).
fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors are fresh and owned only here.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

pub fn describe(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        format!("killed by signal {signal} ({})", signal_name(signal))
    } else {
        format!(
            "exited with code {} without powering off",
            status.code().unwrap_or(-1)
        )
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGTERM => "SIGTERM",
        _ => "signal",
    }
}
