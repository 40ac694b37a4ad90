//! The board's registers: cluster states, hardware events, console and power.

/// State of a cluster as the board sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterState {
    /// Never booted, or powered off cleanly.
    Off,
    /// Running, in boot epoch `epoch`.
    On {
        /// The current boot epoch.
        epoch: u32,
    },
    /// Died (crashed or was killed) in boot epoch `epoch`.
    Dead {
        /// The epoch that died.
        epoch: u32,
    },
}

/// An event the kernel reports to the board (hosted: to the runner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HardwareEvent<'a> {
    /// The kernel booted and loaded its programs.
    ClusterUp,
    /// A program was loaded and started.
    ProgramStarted {
        /// Program name.
        program: &'a str,
        /// Program id.
        id: u32,
        /// NoC node it is bound to.
        node: u32,
        /// Load base.
        base: usize,
    },
    /// A program ended.
    ProgramExited {
        /// Program name.
        program: &'a str,
        /// Its exit status.
        status: i32,
    },
    /// A thread of a program faulted and was ended (the cluster goes on).
    ThreadFault {
        /// Program name.
        program: &'a str,
        /// The thread's id.
        thread: usize,
        /// The user core it held (0: none).
        core: usize,
        /// What happened.
        fault: &'a crate::Fault,
        /// Return addresses, innermost first, the faulting instruction first.
        backtrace: &'a [usize],
    },
    /// An idle warm cluster takes a program an I/O cluster's kernel asked it for
    /// directly (over the NoC, not through the board): the board counts the run,
    /// as when it asks the cluster itself.
    ProgramRun {
        /// The image program.
        program: &'a str,
        /// The run number (the cluster's run register plus one, as the requester
        /// saw it).
        run: u32,
        /// The NoC node of the program that asked (its kernel stamped the request).
        requester_node: u32,
    },
    /// A program could not be loaded or started.
    ProgramRefused {
        /// Program name.
        program: &'a str,
        /// Why (the runner words it).
        refusal: &'a nanvix_abi::Refusal,
    },
}

/// The board as seen from one cluster.
pub trait BoardControl: Send + Sync {
    /// Index of the local cluster.
    fn local_cluster(&self) -> usize;
    /// Current state of cluster `index`.
    fn cluster_state(&self, index: usize) -> ClusterState;
    /// Cluster `index`'s epoch register: its current incarnation's epoch when on,
    /// the dead one's when dead, the last one's when off (0: never booted). A boot
    /// takes the next.
    fn cluster_epoch(&self, index: usize) -> u32;
    /// The status cluster `index`'s last incarnation ended with: its power-off
    /// status (the worst of its programs'), or 128 + the signal that ended it (137
    /// for a cluster powered off on request); 0 while on or never booted.
    fn cluster_status(&self, index: usize) -> i32;
    /// How cluster `index`'s last incarnation ended: an `ENDED_*` code of
    /// `nanvix_abi` in the low byte, and with `ENDED_FAULT` the [`FaultKind`] code
    /// of its first fault in the next byte; 0 while on or never booted.
    ///
    /// [`FaultKind`]: nanvix_abi::FaultKind
    fn cluster_ending(&self, index: usize) -> u32;
    /// A counter the board bumps on every cluster state change (boot, power-off,
    /// death): a kernel that sees it change re-reads the states.
    fn state_generation(&self) -> u32;
    /// Reports an event to the board.
    fn report(&self, event: HardwareEvent<'_>);
    /// Writes one console line attributed to `program` (no trailing newline).
    fn console_line(&self, program: &str, line: &[u8]);
    /// Passes on a piece of `program`'s defmt log stream (encoded frames), which
    /// the board decodes with that program's ELF (`kernel` for the kernel's own).
    fn log_bytes(&self, program: &str, bytes: &[u8]);
    /// Powers the cluster off with `status` (0: every program ended with 0).
    fn power_off(&self, status: i32) -> !;
    /// Blocks the calling core's thread until the state generation differs from
    /// `generation`, the core is unparked, or `limit` passed (it may return early:
    /// the caller looks again).
    fn wait_for_state_change(&self, generation: u32, limit: core::time::Duration);
    /// Asks the board to power cluster `index` on with the image's program `program`
    /// and `arguments` (NUL-separated). The caller checked the cluster is a compute
    /// cluster and off; the board checks the program exists.
    fn power_on_cluster(
        &self,
        index: usize,
        program: &str,
        arguments: &str,
    ) -> Result<(), PowerError>;
    /// Whether the image has a program named `name`, or one was staged under that
    /// name (what a power request may boot a cluster with, or run on a warm one).
    fn image_has_program(&self, name: &str) -> bool;
    /// Keeps `elf` (checked by the loader) for the rest of the run under `name`
    /// (`base@hash`, the kernel names it), so that power requests may run it
    /// like an image program on any cluster. Staging the same bytes under the same
    /// name again is a success.
    fn stage_program(&self, name: &str, elf: &[u8]) -> Result<(), StageError>;
    /// How many programs cluster `index` started in its current (or last) epoch.
    fn cluster_run(&self, index: usize) -> u32;
    /// The boot epoch in which the system's manifest booted cluster `index` with
    /// its program (run 1 of that epoch is the system's, not a spawned process);
    /// 0 if it never did.
    fn cluster_system_epoch(&self, index: usize) -> u32;
    /// Whether cluster `index` is on and idle (warm, waiting for a program).
    fn cluster_idle(&self, index: usize) -> bool;
    /// Whether this cluster stays on, idle, when its programs end (a warm cluster:
    /// the board may run another program on it) instead of powering off.
    fn warm(&self) -> bool;
    /// A warm cluster's programs all ended with `status` (0: all with 0): it is
    /// idle, and the board may give it a program ([`Self::take_program_request`]).
    fn idle(&self, status: i32);
    /// For an idle warm cluster: if the board asked it to run a program, calls
    /// `start` with the image program's name, its arguments (NUL-separated) and the
    /// run the board counts it as, and returns true.
    fn take_program_request(&self, start: &mut dyn FnMut(&str, &str, u32)) -> bool;
    /// Whether the board asked this cluster to shut down in order since the last
    /// look (hosted: a SIGTERM to the cluster's process); true once per request.
    fn take_shutdown_request(&self) -> bool;
    /// Asks the board to power cluster `index` off (its programs end at once,
    /// killed by `signal`: the cluster's status is 128 + `signal`).
    fn power_off_cluster(&self, index: usize, signal: u32) -> Result<(), PowerError>;
}

/// Why the board did not stage a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StageError {
    /// Other bytes are staged under that name.
    Exists,
    /// The board could not keep the bytes.
    Failed,
    /// This board cannot stage programs.
    Unsupported,
}

/// Why the board refused a power request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerError {
    /// The image has no program of that name.
    NoSuchProgram,
    /// This board cannot power clusters on or off.
    Unsupported,
}
