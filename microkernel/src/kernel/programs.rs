//! The program kcalls: start an image program on the caller's own cluster, wait for
//! a program's end, end a program from outside.

use super::threads::ThreadRecord;
use super::{Kernel, ProgramState, ProgramToLoad, run_program};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use nanvix_abi::{
    DEFAULT_HEAP_BYTES, DEFAULT_STACK_BYTES, Errno, POWER_ARGUMENTS_MAX, PROGRAM_ANY,
    PROGRAM_NAME_MAX, PROGRAM_STAGE_MAX, PROGRAMS_MAX, Refusal, SIGNAL_MAX, STAGED_BASE_MAX,
    STAGED_HASH_DIGITS, SpawnOptions,
};
use nanvix_abi::{
    KERNEL_PROGRAM, MAILBOX_TAG, MessageHeader, NOC_PAYLOAD_MAX, PROGRAM_RUN_TAG, SIGTERM,
    signal_port,
};
use nanvix_board::ClusterKind;
use nanvix_hal::{BoardControl, CoreId, Cores, HardwareEvent, Platform, ReceiveDecision};

/// A program an I/O cluster's kernel asked this idle warm cluster for over the NoC.
pub(super) struct RunRequest {
    program: String,
    /// Its arguments, NUL-separated.
    words: String,
    /// The run number the requester expects.
    run: u32,
    /// The node of the program that asked.
    requester: u32,
}

/// The payload of a `PROGRAM_RUN_TAG` request: `run`, the program's name, a NUL and
/// its NUL-separated arguments; `None` when it does not fit one message.
fn run_payload(run: u32, program: &str, words: &str) -> Option<Vec<u8>> {
    let length = 4 + program.len() + 1 + words.len();
    if length > NOC_PAYLOAD_MAX {
        return None;
    }
    let mut payload = Vec::with_capacity(length);
    payload.extend_from_slice(&run.to_le_bytes());
    payload.extend_from_slice(program.as_bytes());
    payload.push(0);
    payload.extend_from_slice(words.as_bytes());
    Some(payload)
}

/// Reads a `PROGRAM_RUN_TAG` payload back: the run, the program and its words.
fn parse_run_payload(payload: &[u8]) -> Option<(u32, &str, &str)> {
    let run = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
    let rest = core::str::from_utf8(payload.get(4..)?).ok()?;
    let (program, words) = rest.split_once('\0')?;
    (!program.is_empty() && program.len() <= PROGRAM_NAME_MAX).then_some((run, program, words))
}

/// How many times a program's main thread is started on a context whose last
/// thread is still leaving it, before the start fails.
const START_ATTEMPTS: u32 = 1000;
/// How long to wait between those attempts (a thread's start waits as long for a
/// context still finishing its last thread).
pub(super) const START_RETRY_NANOSECONDS: u64 = 50_000;

impl<P: Platform> Kernel<P> {
    /// Reads a program name and its NUL-separated arguments from program `index`'s
    /// memory, checked as `cluster_power_on` and `program_spawn` take them.
    pub(super) fn read_program_request(
        &self,
        index: usize,
        (name, name_length): (usize, usize),
        (words, words_length): (usize, usize),
    ) -> Result<(String, String), Errno> {
        if name_length == 0 || name_length > PROGRAM_NAME_MAX || words_length > POWER_ARGUMENTS_MAX
        {
            return Err(Errno::Invalid);
        }
        let space = self.space(index);
        let mut name_bytes = [0u8; PROGRAM_NAME_MAX];
        space.read_into(name, &mut name_bytes[..name_length])?;
        let mut word_bytes = [0u8; POWER_ARGUMENTS_MAX];
        space.read_into(words, &mut word_bytes[..words_length])?;
        match (
            core::str::from_utf8(&name_bytes[..name_length]),
            core::str::from_utf8(&word_bytes[..words_length]),
        ) {
            (Ok(name), Ok(words)) => Ok((name.to_string(), words.to_string())),
            _ => Err(Errno::Invalid),
        }
    }

    /// Whether the local cluster is an I/O cluster (which may start and end
    /// programs of its own).
    fn local_is_io(&self) -> bool {
        self.board.clusters[self.local].kind == ClusterKind::Io
    }

    /// The index in the program table of the program with id `id` (its latest,
    /// whether it runs or ended).
    fn index_of_id(&self, id: usize) -> Option<usize> {
        self.programs
            .lock()
            .iter()
            .position(|program| program.id as usize == id)
    }

    /// The index in the program table of the program with id `id`, if it runs.
    fn running_place(&self, id: usize) -> Option<usize> {
        let programs = self.programs.lock();
        programs
            .iter()
            .position(|program| program.id as usize == id)
            .filter(|place| matches!(programs[*place].state, ProgramState::Running))
    }

    /// `program_spawn(name, name_length, arguments, arguments_length, options)` for
    /// program `index`.
    pub(super) fn program_spawn(
        &self,
        index: usize,
        arguments: [usize; 5],
    ) -> Result<usize, Errno> {
        let [name, name_length, words, words_length, options] = arguments;
        if !self.local_is_io() {
            return Err(Errno::Access);
        }
        let (name, words) =
            self.read_program_request(index, (name, name_length), (words, words_length))?;
        let mut option_bytes = [0u8; SpawnOptions::BYTES];
        self.space(index).read_into(options, &mut option_bytes)?;
        let options = SpawnOptions::from_bytes(&option_bytes);
        let slot = match options.slot {
            PROGRAM_ANY => None,
            slot if slot < PROGRAMS_MAX as u64 => Some(slot as usize),
            _ => return Err(Errno::Invalid),
        };
        let or_default = |bytes: u64, default: usize| match bytes {
            0 => default,
            bytes => usize::try_from(bytes).unwrap_or(usize::MAX),
        };
        let heap_bytes = or_default(options.heap_bytes, DEFAULT_HEAP_BYTES);
        let stack_bytes = or_default(options.stack_bytes, DEFAULT_STACK_BYTES);
        if stack_bytes < 4096 {
            return Err(Errno::Invalid);
        }
        self.start_program(&name, &words, slot, (heap_bytes, stack_bytes))
    }

    /// Loads the image's program `name` with `words` (NUL-separated arguments) in
    /// `slot` (or the lowest free one) with a heap and stack of `memory` bytes, and
    /// starts its main thread; its program id.
    fn start_program(
        &self,
        name: &str,
        words: &str,
        slot: Option<usize>,
        (heap_bytes, stack_bytes): (usize, usize),
    ) -> Result<usize, Errno> {
        let library = (*self.library.lock()).ok_or(Errno::NoEntry)?;
        let elf = match library(name) {
            Some(Ok(elf)) => elf,
            _ => return Err(Errno::NoEntry),
        };
        let arguments: Vec<String> = words
            .split('\0')
            .filter(|word| !word.is_empty())
            .map(str::to_string)
            .collect();
        let program = ProgramToLoad {
            name,
            elf: Ok(elf),
            arguments: &arguments,
            heap_bytes,
            stack_bytes,
            console_input: false,
        };
        let _spawning = self.spawning.lock();
        let (id, place) = self.free_slot(slot)?;
        let (image, placement) = self.allocate(&program, elf).map_err(|error| match error {
            Refusal::OutOfMemory { .. } => Errno::NoMemory,
            _ => Errno::NoEntry,
        })?;
        let Some(context) = self.reserve_main_context(place) else {
            self.free_placement(&[
                placement.image,
                placement.stack,
                placement.heap,
                placement.start_block,
            ]);
            return Err(Errno::Again);
        };
        let base = self.place((id, place, context), &program, elf, &image, placement);
        self.platform.board().report(HardwareEvent::ProgramStarted {
            program: name,
            id: id as u32,
            node: self.node_of(id),
            base,
        });
        self.start_main(place, context);
        Ok(id)
    }

    /// The id `slot` names (or the lowest free one) and the place in the program
    /// table it takes: its ended program's, or a new entry.
    fn free_slot(&self, slot: Option<usize>) -> Result<(usize, usize), Errno> {
        let programs = self.programs.lock();
        let held = |id: usize| {
            programs
                .iter()
                .any(|program| program.id as usize == id && !program.reusable)
        };
        let id = match slot {
            None => (0..PROGRAMS_MAX)
                .find(|id| !held(*id))
                .ok_or(Errno::Again)?,
            Some(slot) if held(slot) => return Err(Errno::Busy),
            Some(slot) => slot,
        };
        let place = programs
            .iter()
            .position(|program| program.id as usize == id)
            .unwrap_or(programs.len());
        if place >= PROGRAMS_MAX {
            return Err(Errno::Again);
        }
        Ok((id, place))
    }

    /// Takes a free thread context for the main thread of the program that will
    /// be at `place`.
    fn reserve_main_context(&self, place: usize) -> Option<CoreId> {
        let thread = self.next_thread_id.fetch_add(1, Ordering::Relaxed);
        let mut threads = self.threads.lock();
        let context = (1..self.contexts.len()).find(|context| {
            threads[*context].is_none()
                && self.contexts[*context].running.load(Ordering::Acquire) == 0
        })?;
        threads[context] = Some(ThreadRecord::main(thread, place));
        self.contexts[context]
            .thread_id
            .store(thread, Ordering::Release);
        Some(context)
    }

    /// Starts the main thread of the program at `place` on `context`; a context
    /// that cannot start ends the program at once (status `STATUS_REFUSED`).
    fn start_main(&self, place: usize, context: CoreId) {
        let state = &self.contexts[context];
        state.wakeup.store(false, Ordering::Relaxed);
        state.handed.store(false, Ordering::Relaxed);
        state.running.store(place + 1, Ordering::Release);
        let cores = self.platform.cores();
        let mut started = Err(nanvix_hal::CoreError::Busy);
        for _ in 0..START_ATTEMPTS {
            started = cores.start(context, run_program::<P>, self as *const Self as usize);
            if started != Err(nanvix_hal::CoreError::Busy) {
                break;
            }
            // The context's last thread has ended and is leaving it: a matter of
            // microseconds.
            cores.park_timeout(START_RETRY_NANOSECONDS);
        }
        if started.is_err() {
            self.threads.lock()[context] = None;
            self.contexts[context].thread_id.store(0, Ordering::Release);
            self.finish(place, super::STATUS_REFUSED);
        }
    }

    /// `program_wait(id, timeout)` for the thread on `context`.
    pub(super) fn program_wait(
        &self,
        context: CoreId,
        id: usize,
        timeout: usize,
    ) -> Result<usize, Errno> {
        if id >= PROGRAMS_MAX {
            return Err(Errno::Invalid);
        }
        let place = self.index_of_id(id).ok_or(Errno::NoEntry)?;
        let ended = || {
            let programs = self.programs.lock();
            let program = &programs[place];
            match program.state {
                ProgramState::Exited(status) if program.reusable => Some(status),
                _ => None,
            }
        };
        if ended().is_none() && timeout > 0 {
            let cores = self.platform.cores();
            self.wait_without_core_for(
                context,
                timeout as u64,
                || ended().is_some(),
                |left| {
                    self.program_waiters.lock().push(context);
                    // The end may have come between the look and the push.
                    if ended().is_none() {
                        cores.park_timeout(left);
                    }
                },
            );
        }
        ended()
            .map(|status| status as u32 as usize)
            .ok_or(Errno::Again)
    }

    /// A warm cluster whose programs all ended with `status`: tells the board it is
    /// idle (once: [`report_idle`](Self::report_idle)), then runs the program an
    /// I/O cluster's kernel asked for over the NoC, or else the one the board asks
    /// for, if any, in slot 0 with the default heap and stack.
    pub(super) fn serve_idle(&self, status: i32) {
        let board = self.platform.board();
        self.report_idle(status);
        let requested = {
            let mut pending = self.pending_runs.lock();
            (!pending.is_empty()).then(|| pending.remove(0))
        };
        if let Some(request) = requested {
            // The board counts the run first, as when it asks itself.
            board.report(HardwareEvent::ProgramRun {
                program: &request.program,
                run: request.run,
                requester_node: request.requester,
            });
            self.start_requested(&request.program, &request.words, request.run);
            return;
        }
        board.take_program_request(&mut |name, words, run| self.start_requested(name, words, run));
    }

    /// Starts the program an idle warm cluster was asked for, or reports it refused
    /// and the cluster idle again.
    fn start_requested(&self, name: &str, words: &str, run: u32) {
        // Before the start: a program that ends at once reports the cluster idle
        // again from its own end; the program takes its run.
        self.idle_reported.store(false, Ordering::Release);
        self.run.store(run, Ordering::Release);
        if let Err(errno) = self.start_program(
            name,
            words,
            Some(0),
            (
                nanvix_abi::spawned_heap_bytes(self.board.clusters[self.local].sram_bytes),
                DEFAULT_STACK_BYTES,
            ),
        ) {
            self.platform.board().report(HardwareEvent::ProgramRefused {
                program: name,
                refusal: &Refusal::Errno(errno as i32),
            });
            self.report_idle(super::STATUS_REFUSED);
        }
    }

    /// For `cluster_power_on` of program `index` on idle warm cluster `cluster`
    /// (in boot epoch `epoch`): asks that cluster's kernel over the NoC to run the
    /// program, when the request fits one message; returns whether it did (else the
    /// board is asked). `EBUSY` when this cluster asked for a run the board has not
    /// counted yet; `ENOENT` when the image has no such program.
    pub(super) fn request_run(
        &self,
        index: usize,
        cluster: usize,
        epoch: u32,
        (program, words): (&str, &str),
    ) -> Result<bool, Errno> {
        let board = self.platform.board();
        let run = board.cluster_run(cluster).wrapping_add(1);
        let Some(payload) = run_payload(run, program, words) else {
            return Ok(false);
        };
        if !board.image_has_program(program) {
            return Err(Errno::NoEntry);
        }
        {
            let mut requested = self.requested_runs.lock();
            if requested[cluster] == Some((epoch, run)) {
                return Err(Errno::Busy);
            }
            requested[cluster] = Some((epoch, run));
        }
        let source = self.kernel_source(self.source_of(index).node);
        let to = self.board.clusters[cluster].first_node;
        let (sent, _) = self.send_stamped(index, source, (to, PROGRAM_RUN_TAG), &payload, true);
        if let Err(errno) = sent {
            self.requested_runs.lock()[cluster] = None;
            return Err(errno);
        }
        Ok(true)
    }

    /// Routes a request of an I/O cluster's kernel to run a program on this idle
    /// warm cluster: kept for the master, which starts it once the cluster is idle.
    /// One from anyone else (a program cannot send this tag), to a cluster that is
    /// not warm, or that does not parse is counted undeliverable.
    pub(super) fn route_program_run(
        &self,
        header: &MessageHeader,
        payload: &[u8],
    ) -> ReceiveDecision {
        let from_io = header.source_program == KERNEL_PROGRAM
            && self
                .board
                .cluster_of_node(header.source_node)
                .is_some_and(|cluster| cluster.kind == ClusterKind::Io);
        match parse_run_payload(payload) {
            Some((run, program, words)) if from_io && self.platform.board().warm() => {
                self.pending_runs.lock().push(RunRequest {
                    program: program.to_string(),
                    words: words.to_string(),
                    run,
                    requester: header.source_node,
                });
                self.platform.cores().unpark(0);
            }
            _ => {
                self.undeliverable.fetch_add(1, Ordering::Relaxed);
            }
        }
        ReceiveDecision::Take
    }

    /// Tells the board this warm cluster is idle, its programs having ended with
    /// `status`, unless it did since its last program started. Messages kept for
    /// ports no program created go with the programs that ended: the next program
    /// starts clean. The last program's end calls it from its own core, so the board
    /// hears of it without waiting for the master to wake.
    pub(super) fn report_idle(&self, status: i32) {
        if !self.idle_reported.swap(true, Ordering::AcqRel) {
            let dropped = self.mailboxes.lock().drop_early();
            self.undeliverable
                .fetch_add(dropped as u64, Ordering::Relaxed);
            self.platform.board().idle(status);
        }
    }

    /// The board asked the cluster to shut down in order: its first program (init, on
    /// the boot cluster) gets a SIGTERM notice at its signal port, stamped with the
    /// kernel's own program id (`KERNEL_PROGRAM`), which no program can send.
    pub(super) fn deliver_shutdown_notice(&self) {
        if self.running_place(0).is_none() {
            return;
        }
        let node = self.node_of(0);
        let port = signal_port(0, self.board.clusters[self.local].node_count);
        let epoch = match self.platform.board().cluster_state(self.local) {
            nanvix_hal::ClusterState::On { epoch } => epoch,
            _ => 0,
        };
        let notice = SIGTERM.to_le_bytes();
        let header = MessageHeader {
            source_node: node,
            source_program: KERNEL_PROGRAM,
            source_epoch: epoch,
            source_run: self.run.load(Ordering::Acquire),
            length: notice.len() as u32,
        };
        self.route_to_mailbox(node, MAILBOX_TAG + port, &header, &notice, None);
    }

    /// `program_kill(id, signal)`.
    pub(super) fn program_kill(&self, id: usize, signal: usize) -> Result<usize, Errno> {
        if !self.local_is_io() {
            return Err(Errno::Access);
        }
        if id >= PROGRAMS_MAX || !(1..=SIGNAL_MAX).contains(&signal) {
            return Err(Errno::Invalid);
        }
        let place = self.running_place(id).ok_or(Errno::NoEntry)?;
        // Context 0 is the master's: every thread of the program is told, the
        // caller's own too if it kills its own program.
        self.begin_end(place, 0, 128 + signal as i32);
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_request_reads_back_as_it_was_written() {
        let payload = run_payload(7, "hello", "partner=none\0x=1").unwrap();
        assert_eq!(
            parse_run_payload(&payload),
            Some((7, "hello", "partner=none\0x=1"))
        );
        let bare = run_payload(1, "hello", "").unwrap();
        assert_eq!(parse_run_payload(&bare), Some((1, "hello", "")));
    }

    #[test]
    fn a_run_request_over_one_message_is_not_written() {
        let words = "x".repeat(NOC_PAYLOAD_MAX);
        assert_eq!(run_payload(1, "hello", &words), None);
        let fits = "x".repeat(NOC_PAYLOAD_MAX - 4 - 5 - 1);
        assert!(run_payload(1, "hello", &fits).is_some());
    }

    #[test]
    fn a_run_request_that_does_not_parse_is_refused() {
        assert_eq!(parse_run_payload(&[1, 0, 0]), None, "shorter than its run");
        assert_eq!(parse_run_payload(b"\x01\0\0\0hello"), None, "no NUL");
        assert_eq!(parse_run_payload(b"\x01\0\0\0\0a=1"), None, "no name");
        assert_eq!(parse_run_payload(b"\x01\0\0\0he\xffo\0"), None, "not UTF-8");
        let mut long = alloc::vec![1, 0, 0, 0];
        long.extend(core::iter::repeat_n(b'p', PROGRAM_NAME_MAX + 1));
        long.push(0);
        assert_eq!(parse_run_payload(&long), None, "name too long");
    }
}

/// The name bytes `elf` are staged under as `base`: `base@` and the first
/// `STAGED_HASH_DIGITS` hexadecimal digits of their SHA-256, lowercase.
fn staged_name(base: &str, elf: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(elf);
    let mut name = String::with_capacity(base.len() + 1 + STAGED_HASH_DIGITS);
    name.push_str(base);
    name.push('@');
    name.push_str(&hex::encode(&digest[..STAGED_HASH_DIGITS / 2]));
    name
}

impl<P: Platform> Kernel<P> {
    /// `program_stage(name, name_length, elf, elf_length, staged)`.
    pub(super) fn program_stage(
        &self,
        index: usize,
        arguments: [usize; 5],
    ) -> Result<usize, Errno> {
        let [name, name_length, elf, elf_length, staged] = arguments;
        if !self.local_is_io() {
            return Err(Errno::Access);
        }
        if name_length == 0 || name_length > STAGED_BASE_MAX {
            return Err(Errno::Invalid);
        }
        let space = self.space(index);
        let mut base = [0u8; STAGED_BASE_MAX];
        space.read_into(name, &mut base[..name_length])?;
        let base = &base[..name_length];
        if !nanvix_abi::is_staged_base(base) {
            return Err(Errno::Invalid);
        }
        let out = space.writable(staged, PROGRAM_NAME_MAX)?;
        if elf_length > PROGRAM_STAGE_MAX {
            return Err(Errno::FileTooLarge);
        }
        // A copy: the program may change its bytes while they are checked and kept.
        let mut bytes = Vec::new();
        bytes
            .try_reserve_exact(elf_length)
            .map_err(|_| Errno::NoMemory)?;
        bytes.resize(elf_length, 0);
        space.read_into(elf, &mut bytes)?;
        crate::loader::inspect(&bytes).map_err(|_| Errno::ExecFormat)?;
        let base = core::str::from_utf8(base).map_err(|_| Errno::Invalid)?;
        let name = staged_name(base, &bytes);
        self.platform
            .board()
            .stage_program(&name, &bytes)
            .map_err(|error| match error {
                nanvix_hal::StageError::Exists => Errno::Exists,
                nanvix_hal::StageError::Failed => Errno::InputOutput,
                nanvix_hal::StageError::Unsupported => Errno::NoSystemCall,
            })?;
        let mut written = [0u8; PROGRAM_NAME_MAX];
        written[..name.len()].copy_from_slice(name.as_bytes());
        space.write_into(&out, &written)?;
        Ok(name.len())
    }
}

#[cfg(test)]
mod staging_tests {
    use super::staged_name;
    use nanvix_abi::is_staged_base;

    #[test]
    fn a_staged_name_is_the_base_and_16_hex_digits_of_the_bytes_hash() {
        // SHA-256("abc") starts ba7816bf8f01cfea.
        assert_eq!(staged_name("wc", b"abc"), "wc@ba7816bf8f01cfea");
        assert_ne!(staged_name("wc", b"abd"), staged_name("wc", b"abc"));
    }

    #[test]
    fn a_base_is_plain_ascii_and_not_a_path() {
        for good in [&b"wc"[..], b"my-prog_2.v1", b"a"] {
            assert!(is_staged_base(good), "{good:?}");
        }
        for bad in [
            &b""[..],
            b"..",
            b".",
            b"bin/wc",
            b"wc@x",
            b"w c",
            "é".as_bytes(),
            &[b'a'; 33],
        ] {
            assert!(!is_staged_base(bad), "{bad:?}");
        }
    }
}
