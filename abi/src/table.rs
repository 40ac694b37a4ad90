//! The table of every kcall: the one source of truth for numbers, names and errors.

/// Describes one kcall for documentation and argument checking.
#[derive(Clone, Copy, Debug)]
pub struct KcallDescription {
    /// The call.
    pub kcall: Kcall,
    /// Name as written in docs and traces.
    pub name: &'static str,
    /// Arguments in order, as `name: type` strings.
    pub arguments: &'static [&'static str],
    /// What a successful call returns.
    pub returns: &'static str,
    /// The errors it can return, each with its cause.
    pub errors: &'static [(super::Errno, &'static str)],
    /// What it does.
    pub summary: &'static str,
    /// Where it runs, and why.
    pub placement: Placement,
    /// Why it runs there (the paper's rule, or a measurement).
    pub placement_reason: &'static str,
}

/// Where a kcall runs (the paper's rule, DESIGN.md section 5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On the calling core: the call changes only the caller's own structures, reads
    /// read-only kernel data, or waits (the master never waits).
    Local,
    /// On the master core, served in arrival order: the call changes kernel state
    /// shared by the cluster's cores.
    Remote,
}

impl Placement {
    /// As written in the docs.
    pub const fn name(self) -> &'static str {
        match self {
            Placement::Local => "local",
            Placement::Remote => "remote",
        }
    }
}

macro_rules! kcalls {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $number:literal, $name:literal,
        ($($argument:literal),*) -> $returns:literal,
        $placement:ident ($reason:literal),
        errors [$(($errno:ident, $cause:literal)),*];
    )*) => {
        /// Every kcall, by number.
        #[repr(usize)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Kcall {
            $($(#[doc = $doc])* $variant = $number,)*
        }

        impl Kcall {
            /// The kcall with this number, if any.
            pub const fn from_number(number: usize) -> Option<Kcall> {
                match number {
                    $($number => Some(Kcall::$variant),)*
                    _ => None,
                }
            }

            /// Where this kcall runs.
            pub const fn placement(self) -> Placement {
                match self {
                    $(Kcall::$variant => Placement::$placement,)*
                }
            }
        }

        /// Every kcall with its description, in number order.
        pub const KCALLS: &[KcallDescription] = &[
            $(KcallDescription {
                kcall: Kcall::$variant,
                name: $name,
                arguments: &[$($argument),*],
                returns: $returns,
                errors: &[$((super::Errno::$errno, $cause)),*],
                summary: concat!($($doc, "\n"),*),
                placement: Placement::$placement,
                placement_reason: $reason,
            },)*
        ];
    };
}

kcalls! {
    /// Ends the calling program with `status`, from any of its threads; never
    /// returns. The program's other threads end first: one running program code at
    /// once (interrupted), one in the kernel on its way out, one waiting (join,
    /// sync, sleep, receive, pager) when woken; the first status given stays. A
    /// program whose main thread returns ends the same way. When the last program
    /// of a cluster ends, the cluster powers off and reports the worst status.
    Exit = 1, "exit", ("status: i32") -> "does not return",
        Local ("ends the caller's own program: it tells the program's other threads and ends the caller; the main thread waits for the rest, and the master notices the end"),
        errors [];
    /// Writes bytes to the cluster console, attributed to the calling program.
    /// Output is line-buffered per program; a line longer than 1 KiB is split.
    ConsoleWrite = 2, "console_write", ("buffer: *const u8", "length: usize") -> "bytes written",
        Local ("appends to the caller's own line buffer and hands whole lines to the board, which serializes them; a trip through the master would only add its latency"),
        errors [(Fault, "the buffer is not in the caller's memory")];
    /// Fills a `ClusterInfo` for cluster `index` of the board (`CLUSTER_SELF` for the
    /// caller's own). Reads only read-only board data.
    ClusterInfo = 3, "cluster_info",
        ("index: usize", "out: *mut ClusterInfo", "size: usize") -> "0",
        Local ("reads read-only board data and the board registers"),
        errors [
            (Invalid, "no cluster has this index, or size is not size_of::<ClusterInfo>()"),
            (Fault, "out is not in the caller's memory")
        ];
    /// Sends one control-NoC message to program `program` bound to NoC node `node`.
    /// The hardware layer stamps the true source (node, program, boot epoch).
    /// Blocks while the channel to the destination is full (backpressure).
    NocSend = 4, "noc_send",
        ("node: usize", "program: usize", "buffer: *const u8", "length: usize") -> "0",
        Local ("the NoC channel is the hardware's, behind a per-destination lock; the send may wait for room, and the master never waits"),
        errors [
            (Invalid, "no cluster owns this node, or the program id is out of range"),
            (MessageSize, "length is over NOC_PAYLOAD_MAX (128 bytes)"),
            (Fault, "the buffer is not in the caller's memory"),
            (HostDown, "the destination cluster is dead")
        ];
    /// Receives the next control-NoC message addressed to the calling program,
    /// blocking until one arrives. Writes its header and copies its payload.
    NocReceive = 5, "noc_receive",
        ("header: *mut MessageHeader", "buffer: *mut u8", "capacity: usize") -> "payload length",
        Local ("waits for a message (the master never waits); the caller polls the NoC itself, which measured faster than routing through the master"),
        errors [
            (Fault, "header or buffer is not in the caller's memory"),
            (MessageSize, "the message is longer than capacity; it stays queued")
        ];
    /// Reads the calling core's cycle counter (hosted: the TSC, constant rate).
    /// Runs on the calling core; for measurements, not for wall-clock time.
    Cycles = 6, "cycles", () -> "the counter's value (its low bits on 32-bit machines)",
        Local ("reads the calling core's own counter"),
        errors [];
    /// Reads console input (the terminal's bytes) into a buffer, blocking until some
    /// arrive. Only the program the manifest gives the console input may read it.
    ConsoleRead = 7, "console_read", ("buffer: *mut u8", "capacity: usize")
        -> "bytes read; 0 when the input ended",
        Local ("waits for input (the master never waits)"),
        errors [
            (Access, "the caller does not hold the console input"),
            (Fault, "the buffer is not in the caller's memory")
        ];
    /// Hands the board a piece of the caller's defmt log stream (encoded frames, as
    /// the defmt encoder writes them). The runner decodes it with the program's ELF.
    LogWrite = 8, "log_write", ("buffer: *const u8", "length: usize") -> "bytes taken",
        Local ("hands the caller's own frames to the board, which serializes them"),
        errors [
            (Fault, "the buffer is not in the caller's memory"),
            (MessageSize, "length is over LOG_CHUNK_MAX (4096 bytes)")
        ];
    /// Sends `length` bytes (up to DATA_TRANSFER_MAX) to program `program` on node
    /// `node` over the data NoC, in chunks; blocks while the channel is full. One
    /// transfer at a time per destination cluster: transfers never interleave.
    DataSend = 9, "data_send",
        ("node: usize", "program: usize", "buffer: *const u8", "length: usize") -> "length",
        Local ("may wait for room in the channel (the master never waits); one transfer per destination at a time, behind a lock"),
        errors [
            (Invalid, "no cluster owns this node, or the program id is out of range"),
            (MessageSize, "length is over DATA_TRANSFER_MAX (16 MiB)"),
            (Fault, "the buffer is not in the caller's memory"),
            (HostDown, "the destination cluster is dead")
        ];
    /// Receives one whole data-NoC transfer addressed to the calling program, from
    /// whichever sender starts one first, blocking until it is complete. Writes its
    /// header (the sender's stamped identity, `length` = the transfer's length).
    DataReceive = 10, "data_receive",
        ("header: *mut MessageHeader", "buffer: *mut u8", "capacity: usize") -> "transfer length",
        Local ("waits for a transfer (the master never waits)"),
        errors [
            (Fault, "header or buffer is not in the caller's memory"),
            (MessageSize, "the next transfer is longer than capacity; it stays queued"),
            (HostDown, "the sender died in the middle of the transfer (the part received is dropped)"),
            (InputOutput, "the transfer was cut short: its sender's program ended, or its sending failed, after part of it went out")
        ];
    /// Does nothing on the master core and returns 0: the round trip of a remote
    /// kcall, for measurement (the paper's R-Kcall).
    Noop = 11, "noop", () -> "0",
        Remote ("exists to measure the remote path"),
        errors [];
    /// The calling thread's id (unique in the cluster while the thread lives).
    ThreadSelf = 12, "thread_self", () -> "the thread id",
        Local ("reads the calling core's own state (the paper's L-Kcall)"),
        errors [];
    /// Starts a thread of the calling program at `entry(argument)` (an
    /// `extern "C" fn(usize) -> i32` in the program's image) on the stack
    /// `stack..stack + stack_size` (in the program's memory; its top, rounded down
    /// to 16 bytes, is the first stack pointer). The thread waits for a user core
    /// like every other (cores go first come, first served); returning from `entry`
    /// ends it with that value, as `thread_exit` does.
    ThreadCreate = 13, "thread_create",
        ("entry: usize", "argument: usize", "stack: *mut u8", "stack_size: usize")
        -> "the new thread's id",
        Local ("measured: through the master it cost a wake-up of a sleeping master (tens of microseconds, half of a fork-join); locally it takes the thread table's lock for a few hundred nanoseconds and waits only when the free contexts are still finishing their joined threads, 10 ms at most"),
        errors [
            (Invalid, "entry is not in the caller's program image, or stack_size is under THREAD_STACK_MIN (16 KiB)"),
            (Fault, "the stack is not in the caller's memory"),
            (Again, "the cluster holds THREADS_MAX (64) threads already, ended ones not yet joined included")
        ];
    /// Ends the calling thread with `value`; never returns. The program's main
    /// thread ending this way ends the program, as `exit` does.
    ThreadExit = 14, "thread_exit", ("value: i32") -> "does not return",
        Local ("ends the caller's own thread on its own core"),
        errors [];
    /// Waits until thread `thread` of the calling program ends and returns its
    /// value; the waiting thread gives its core to the next thread waiting for one.
    /// A thread is joined once; its id is then free.
    ThreadJoin = 15, "thread_join", ("thread: usize") -> "the thread's value",
        Local ("waits (the master never waits)"),
        errors [
            (NoSuchThread, "the caller's program has no thread with this id (or it was joined)"),
            (Deadlock, "thread is the caller"),
            (Invalid, "another thread already waits for it, or it is its program's main thread")
        ];
    /// Gives the calling thread's core to the first thread waiting for one, if any,
    /// and waits for a core again behind it.
    ThreadYield = 16, "thread_yield", () -> "0",
        Local ("changes only who holds the caller's own core"),
        errors [];
    /// Creates a counting semaphore of the calling program with `value` units.
    SemaphoreCreate = 17, "semaphore_create", ("value: usize") -> "the semaphore's id",
        Local ("measured: a trip through the master costs more than the few hundred nanoseconds of the table's lock"),
        errors [
            (Invalid, "value is over SEMAPHORE_MAX (2^31 - 1)"),
            (Again, "the cluster holds SYNCS_MAX (1024) sync objects already")
        ];
    /// Takes a unit of semaphore `id`, waiting (without a core) until one is handed
    /// over; waiters are served first come, first served.
    SemaphoreDown = 18, "semaphore_down", ("id: usize") -> "0",
        Local ("may wait (the master never waits); the table's lock is held only to decide"),
        errors [(Invalid, "no object of the caller's program has this id, or it is not a semaphore")];
    /// Gives a unit to the first waiter of semaphore `id`, or back to its count.
    SemaphoreUp = 19, "semaphore_up", ("id: usize") -> "0",
        Local ("never waits; hands over under the table's lock and wakes the thread itself, cheaper than a trip through the master"),
        errors [
            (Invalid, "no object of the caller's program has this id, or it is not a semaphore"),
            (Busy, "the count is at SEMAPHORE_MAX and nobody waits")
        ];
    /// Creates a mutex of the calling program.
    MutexCreate = 20, "mutex_create", () -> "the mutex's id",
        Local ("measured: a trip through the master costs more than the few hundred nanoseconds of the table's lock"),
        errors [(Again, "the cluster holds SYNCS_MAX (1024) sync objects already")];
    /// Takes mutex `id`, waiting (without a core) until it is handed over.
    MutexLock = 21, "mutex_lock", ("id: usize") -> "0",
        Local ("may wait (the master never waits); the table's lock is held only to decide"),
        errors [
            (Invalid, "no object of the caller's program has this id, or it is not a mutex"),
            (Deadlock, "the caller holds it already")
        ];
    /// Releases mutex `id`, handing it to its first waiter.
    MutexUnlock = 22, "mutex_unlock", ("id: usize") -> "0",
        Local ("never waits; hands over under the table's lock and wakes the thread itself, cheaper than a trip through the master"),
        errors [
            (Invalid, "no object of the caller's program has this id, or it is not a mutex"),
            (Permission, "the caller does not hold it")
        ];
    /// Creates a condition variable of the calling program.
    ConditionCreate = 23, "condition_create", () -> "the condition's id",
        Local ("measured: a trip through the master costs more than the few hundred nanoseconds of the table's lock"),
        errors [(Again, "the cluster holds SYNCS_MAX (1024) sync objects already")];
    /// Releases mutex `mutex` (which the caller holds) and waits for a signal on
    /// condition `condition`, then for the mutex again; returns holding it.
    ConditionWait = 24, "condition_wait", ("condition: usize", "mutex: usize") -> "0",
        Local ("may wait (the master never waits); the table's lock is held only to decide"),
        errors [
            (Invalid, "either id names no object of the caller's program, or the wrong kind"),
            (Permission, "the caller does not hold the mutex")
        ];
    /// Wakes the first thread waiting on condition `id`, if any.
    ConditionSignal = 25, "condition_signal", ("id: usize") -> "0",
        Local ("never waits; hands over under the table's lock and wakes the thread itself, cheaper than a trip through the master"),
        errors [(Invalid, "no object of the caller's program has this id, or it is not a condition")];
    /// Wakes every thread waiting on condition `id`.
    ConditionBroadcast = 26, "condition_broadcast", ("id: usize") -> "0",
        Local ("never waits; hands over under the table's lock and wakes the thread itself, cheaper than a trip through the master"),
        errors [(Invalid, "no object of the caller's program has this id, or it is not a condition")];
    /// Waits, without a core, until another thread wakes the caller with
    /// `thread_wakeup`; a wakeup that came first is kept (one), so none is lost.
    ThreadSleep = 28, "thread_sleep", () -> "0",
        Local ("waits (the master never waits)"),
        errors [];
    /// Wakes thread `thread` of the calling program from `thread_sleep` (or makes its
    /// next `thread_sleep` return at once).
    ThreadWakeup = 29, "thread_wakeup", ("thread: usize") -> "0",
        Local ("never waits: sets the thread's wakeup and wakes it, cheaper than a trip through the master"),
        errors [(NoSuchThread, "the caller's program has no live thread with this id")];
    /// CPU time the calling thread has used, in nanoseconds (time it waited for a
    /// core or blocked does not count). 0 where the platform cannot tell.
    ThreadCpuTime = 30, "thread_cpu_time", () -> "nanoseconds",
        Local ("reads the calling core's own clock"),
        errors [];
    /// Reads device `device` into a buffer (see the devices below: what a read
    /// gives, and who may).
    DeviceRead = 31, "device_read", ("device: usize", "buffer: *mut u8", "capacity: usize") -> "bytes read",
        Local ("reads a device of the calling core or a clock; the console waits, and the master never waits"),
        errors [
            (NoEntry, "no device has this id"),
            (Access, "the caller may not read this device"),
            (Invalid, "capacity is under the 8 bytes a clock gives"),
            (Fault, "the buffer is not in the caller's memory")
        ];
    /// Writes a buffer to device `device` (see the devices below: what a write does,
    /// and who may).
    DeviceWrite = 32, "device_write", ("device: usize", "buffer: *const u8", "length: usize") -> "bytes taken",
        Local ("the console's own line buffer, or the timer's sleep, a wait (the master never waits)"),
        errors [
            (NoEntry, "no device has this id"),
            (Access, "the caller may not write this device"),
            (Invalid, "the timer takes exactly 8 bytes"),
            (Fault, "the buffer is not in the caller's memory")
        ];
    /// Reports that the calling thread panicked, with a backtrace the kernel walks
    /// from `frame_pointer` through the caller's memory (the first frame at
    /// `instruction`); the runner prints it like a fault. The thread ends itself
    /// after (libnanvix's panic handler: status 101).
    PanicReport = 33, "panic_report", ("frame_pointer: usize", "instruction: usize") -> "0",
        Local ("reads the caller's own stack and reports; never waits"),
        errors [];
    /// The MMU's virtual window of the cluster: its first address (its size is
    /// `MEMORY_WINDOW_BYTES`). 0 where the platform has no MMU.
    MemoryWindow = 34, "memory_window", () -> "the window's first address",
        Local ("reads read-only kernel data"),
        errors [];
    /// Maps a fresh, zeroed page of SRAM for the calling program at `address` in the
    /// window: `size` 0 is a 4 KiB page, 1 a 64 KiB page; `rights` bit 1 asks for
    /// writing, bit 2 for executing (reading is always given). The program holds it
    /// and may unmap or grant it.
    MemoryMap = 35, "memory_map", ("address: usize", "size: usize", "rights: usize") -> "0",
        Local ("changes the cluster's page tables and frames under their lock for a few microseconds (the host's mmap); the paper would place it on the master, but the master's wake-up costs more and it never waits"),
        errors [
            (Invalid, "the address is not aligned to the page size or outside the window, size is not 0 or 1, or rights has other bits"),
            (Busy, "the page overlaps a mapping"),
            (NoMemory, "no SRAM frame of that size is free"),
            (NoSystemCall, "the platform has no MMU")
        ];
    /// Unmaps the calling program's page at `address` (its first address): accesses
    /// fault again, and its frame goes back to SRAM.
    MemoryUnmap = 36, "memory_unmap", ("address: usize") -> "0",
        Local ("changes the cluster's page tables and frames under their lock for a few microseconds (the host's mmap); the paper would place it on the master, but the master's wake-up costs more and it never waits"),
        errors [
            (NoEntry, "no page starts at address"),
            (Permission, "the caller does not hold it, or may not unmap it")
        ];
    /// What the calling program holds at `address`: bits 0-2 read, write, execute;
    /// bit 3 a 64 KiB page; bit 4 may unmap; bit 5 may grant.
    MemoryInfo = 37, "memory_info", ("address: usize") -> "the mapping's bits",
        Local ("reads the caller's own mappings"),
        errors [
            (NoEntry, "nothing is mapped at address"),
            (Permission, "another program holds the page")
        ];
    /// Makes the calling thread its program's pager: from then on a thread of the
    /// program that touches a page of the window with nothing mapped there waits,
    /// and the fault goes to the pager (`pager_wait`), which maps the page and
    /// resumes it (`pager_resume`). With no pager such a fault ends the thread. The
    /// pager's own faults are never sent to it; when it ends, the program has none.
    PagerAttach = 38, "pager_attach", () -> "0",
        Local ("changes the caller's own program record under its lock and never waits"),
        errors [(Busy, "another thread of the program is its pager")];
    /// Waits, without a core, for the next page fault of a thread of the calling
    /// pager's program, and writes it to `fault` (a `PageFault`: thread, address,
    /// access). The faulted thread waits until `pager_resume` names it.
    PagerWait = 39, "pager_wait", ("fault: *mut PageFault", "size: usize") -> "0",
        Local ("waits (the master never waits)"),
        errors [
            (Permission, "the caller is not its program's pager"),
            (Invalid, "size is not size_of::<PageFault>()"),
            (Fault, "fault is not in the caller's memory")
        ];
    /// Resumes thread `thread`, whose page fault `pager_wait` handed to the calling
    /// pager: with `retry` 1 it runs the faulting access again (the pager has mapped
    /// the page; if not, it faults again), with 0 the fault stands and ends it with
    /// a report, as with no pager.
    PagerResume = 40, "pager_resume", ("thread: usize", "retry: usize") -> "0",
        Local ("wakes one thread of the caller's program and never waits"),
        errors [
            (Permission, "the caller is not its program's pager"),
            (Invalid, "retry is not 0 or 1"),
            (NoSuchThread, "no thread of the program waits on a fault handed to the pager with this id")
        ];
    /// Grants the calling program's page at `address` (its first address) to
    /// program `program` of the same cluster (its id), mapped at `to_address` of
    /// the window with `rights` (as `memory_map`'s, at most the caller's). Both
    /// see the same frame; the grantee may unmap its mapping but not grant it on.
    /// The frame goes back to SRAM when its last mapping goes (a program's
    /// mappings go when it ends).
    MemoryGrant = 41, "memory_grant",
        ("address: usize", "program: usize", "to_address: usize", "rights: usize") -> "0",
        Local ("changes the cluster's page tables and the MMU under their lock, as memory_map does, and never waits"),
        errors [
            (NoEntry, "no page of the caller starts at address"),
            (Permission, "the caller may not grant it (a granted page), or asks for rights it does not have"),
            (Invalid, "no other running program of the cluster has this id, to_address is not aligned or outside the window, or rights has other bits"),
            (Busy, "the page at to_address overlaps a mapping"),
            (NoSystemCall, "the platform has no MMU")
        ];
    /// Creates the mailbox of port `port` on the caller's NoC node, where any cluster
    /// may send it messages of up to 128 bytes; returns its id (for `mailbox_read` and
    /// `mailbox_unlink`). Messages sent to the port before it existed wait for it
    /// (a bounded number, then in their channels): none is lost.
    MailboxCreate = 42, "mailbox_create", ("port: usize") -> "the mailbox's id",
        Local ("changes the cluster's mailbox table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (Invalid, "port is not below MAILBOX_PORTS (32)"),
            (Busy, "a mailbox of this node has this port already"),
            (Again, "the caller holds MAILBOXES_MAX (64) mailboxes already")
        ];
    /// Opens the mailbox of port `port` on node `node` for writing; returns its id
    /// (for `mailbox_write` and `mailbox_close`). The mailbox need not exist yet.
    MailboxOpen = 43, "mailbox_open", ("node: usize", "port: usize") -> "the mailbox's id",
        Local ("changes the caller's own entry of the mailbox table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (Invalid, "no cluster owns this node, or port is not below MAILBOX_PORTS (32)"),
            (Again, "the caller holds MAILBOXES_MAX (64) mailboxes already")
        ];
    /// Sends one message of 1 to 128 bytes to opened mailbox `id`. The hardware
    /// stamps the true source; blocks while the channel or the mailbox is full
    /// (backpressure), unless `flags` has MAILBOX_NONBLOCK: then `EAGAIN` and
    /// nothing is sent. Every message arrives once, in the order each sender sent:
    /// a started write of the mailbox that has not gone out yet goes first.
    MailboxWrite = 44, "mailbox_write", ("id: usize", "buffer: *const u8", "length: usize", "flags: usize") -> "0",
        Local ("may wait for room (the master never waits)"),
        errors [
            (BadDescriptor, "the caller opened no mailbox with this id"),
            (Invalid, "length is 0, or flags has unknown bits"),
            (Again, "MAILBOX_NONBLOCK and the channel to the mailbox's cluster is full (or a started write of it still waits for room)"),
            (MessageSize, "length is over NOC_PAYLOAD_MAX (128 bytes)"),
            (Fault, "the buffer is not in the caller's memory"),
            (HostDown, "the destination cluster is dead")
        ];
    /// Receives the oldest message of created mailbox `id`, or, with `source` a
    /// node, the oldest from that node (the others stay queued, in order); blocks
    /// until one is there. Writes its header (the stamped source) and payload. With
    /// `source` `mailbox_peer_source(outbox)`, the oldest from the node the caller's
    /// opened mailbox `outbox` writes to, failing with `ECONNRESET` when that mailbox
    /// was closed after the outbox's last write and nothing from its node is queued
    /// (an RPC caller's wait for its answer, when the server's program ended).
    MailboxRead = 45, "mailbox_read",
        ("id: usize", "source: usize", "header: *mut MessageHeader", "buffer: *mut u8", "capacity: usize")
        -> "payload length",
        Local ("waits for a message (the master never waits); the caller polls the NoC itself first, as noc_receive does"),
        errors [
            (BadDescriptor, "the caller created no mailbox with this id (or, for a peer source, opened none with its id)"),
            (Invalid, "source is neither MAILBOX_ANY_SOURCE, a node of the board nor a peer source"),
            (Fault, "header or buffer is not in the caller's memory"),
            (MessageSize, "the message is longer than capacity; it stays queued"),
            (Busy, "another thread of the caller reads this mailbox"),
            (HostDown, "source is a node of a dead cluster and none of its messages is queued"),
            (ConnectionReset, "source is a peer source whose mailbox was closed after the outbox's last write, and none of its node's messages is queued")
        ];
    /// Closes opened mailbox `id`; its id is dead from then on. Messages written
    /// before are delivered.
    MailboxClose = 46, "mailbox_close", ("id: usize") -> "0",
        Local ("changes the caller's own entry of the mailbox table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [(BadDescriptor, "the caller opened no mailbox with this id")];
    /// Removes created mailbox `id` and frees its port; refused while messages
    /// wait in it (they would be lost) or a thread reads it.
    MailboxUnlink = 47, "mailbox_unlink", ("id: usize") -> "0",
        Local ("changes the cluster's mailbox table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (BadDescriptor, "the caller created no mailbox with this id"),
            (Busy, "messages wait in it, or a thread reads it")
        ];
    /// Creates the receiving end of an inter-cluster sync over `count` nodes at
    /// `nodes` (2 to 24, no repeats, the caller's node among them) in mode `mode`:
    /// with SYNC_ALL_TO_ONE the caller is `nodes[0]` and waits for all the others;
    /// with SYNC_ONE_TO_ALL the caller is one of the others and waits for
    /// `nodes[0]`. Signals sent before it existed are kept for it. Returns its id.
    SyncCreate = 48, "sync_create", ("nodes: *const u32", "count: usize", "mode: usize") -> "the sync's id",
        Local ("changes the cluster's sync table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (Invalid, "count is not 2 to SYNC_NODES_MAX (24), a node repeats or no cluster owns it, mode is unknown, or the caller's node is not where the mode puts the receiver"),
            (Fault, "the node list is not in the caller's memory"),
            (Again, "the caller holds SYNCS_MAX (64) syncs already")
        ];
    /// Opens the sending end of the sync over `count` nodes at `nodes` in mode
    /// `mode`: with SYNC_ALL_TO_ONE the caller is one of `nodes[1..]`, with
    /// SYNC_ONE_TO_ALL it is `nodes[0]`. Returns its id.
    SyncOpen = 49, "sync_open", ("nodes: *const u32", "count: usize", "mode: usize") -> "the sync's id",
        Local ("changes the caller's own entry of the sync table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (Invalid, "count is not 2 to SYNC_NODES_MAX (24), a node repeats or no cluster owns it, mode is unknown, or the caller's node is not where the mode puts the sender"),
            (Fault, "the node list is not in the caller's memory"),
            (Again, "the caller holds SYNCS_MAX (64) syncs already")
        ];
    /// Waits until the created sync `id` has a signal from each node it waits for
    /// (all of `nodes[1..]`, or `nodes[0]`), and consumes one from each: every
    /// signal releases exactly one wait.
    SyncWait = 50, "sync_wait", ("id: usize") -> "0",
        Local ("waits (the master never waits); the caller polls the NoC itself first"),
        errors [
            (BadDescriptor, "the caller created no sync with this id"),
            (HostDown, "a node it still waits for is on a dead cluster"),
            (Busy, "another thread of the caller waits on it")
        ];
    /// Sends one signal of the opened sync `id` to its receiver(s); blocks only
    /// while a NoC channel is full.
    SyncSignal = 51, "sync_signal", ("id: usize") -> "0",
        Local ("sends over the NoC from the calling core (the master never waits)"),
        errors [
            (BadDescriptor, "the caller opened no sync with this id"),
            (HostDown, "a receiving node's cluster is dead (the others were signalled)")
        ];
    /// Closes the opened sync `id`.
    SyncClose = 52, "sync_close", ("id: usize") -> "0",
        Local ("changes the caller's own entry of the sync table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [(BadDescriptor, "the caller opened no sync with this id")];
    /// Removes the created sync `id`; signals that arrive for it later are kept
    /// for the next sync of the same nodes and mode.
    SyncUnlink = 53, "sync_unlink", ("id: usize") -> "0",
        Local ("changes the cluster's sync table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (BadDescriptor, "the caller created no sync with this id"),
            (Busy, "a thread waits on it")
        ];
    /// Creates the portal of port `port` on the caller's node, which receives bulk
    /// transfers its owner allows one at a time; returns its id.
    PortalCreate = 54, "portal_create", ("port: usize") -> "the portal's id",
        Local ("changes the cluster's portal table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (Invalid, "port is not below PORTAL_PORTS (32)"),
            (Busy, "a portal of this node has this port already"),
            (Again, "the caller holds PORTALS_MAX (64) portals already")
        ];
    /// Allows node `node` one transfer of at most `size` bytes (1 to
    /// PORTAL_TRANSFER_MAX, 16 MiB) into created portal `id`, and tells the
    /// sender's kernel. One allow at a time: the next comes after its read.
    PortalAllow = 55, "portal_allow", ("id: usize", "node: usize", "size: usize") -> "0",
        Local ("changes the caller's portal entry and sends the allow over the NoC from the calling core"),
        errors [
            (BadDescriptor, "the caller created no portal with this id"),
            (Invalid, "no cluster owns node, or size is 0 or over PORTAL_TRANSFER_MAX"),
            (Busy, "an allow of this portal waits for its transfer"),
            (HostDown, "the sender's cluster is dead")
        ];
    /// Opens the portal of port `port` on node `node` for writing; returns its id.
    PortalOpen = 56, "portal_open", ("node: usize", "port: usize") -> "the portal's id",
        Local ("changes the caller's own entry of the portal table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (Invalid, "no cluster owns this node, or port is not below PORTAL_PORTS (32)"),
            (Again, "the caller holds PORTALS_MAX (64) portals already")
        ];
    /// Writes `length` bytes to opened portal `id` in one transfer, once its
    /// receiver allowed this node (waiting for the allow unless `flags` has
    /// PORTAL_NONBLOCK); consumes the allow. Blocks while the channel is full.
    PortalWrite = 57, "portal_write", ("id: usize", "buffer: *const u8", "length: usize", "flags: usize") -> "length",
        Local ("waits for the allow and for room (the master never waits)"),
        errors [
            (BadDescriptor, "the caller opened no portal with this id"),
            (Invalid, "flags has unknown bits"),
            (Access, "PORTAL_NONBLOCK and the receiver has not allowed this node (nothing is written)"),
            (MessageSize, "length is over what the allow bounds (the allow stays)"),
            (Fault, "the buffer is not in the caller's memory"),
            (HostDown, "the receiver's cluster is dead")
        ];
    /// Receives the transfer the pending allow of created portal `id` named,
    /// blocking until it is complete; writes its header (the stamped source).
    PortalRead = 58, "portal_read", ("id: usize", "header: *mut MessageHeader", "buffer: *mut u8", "capacity: usize") -> "transfer length",
        Local ("waits for the transfer (the master never waits)"),
        errors [
            (BadDescriptor, "the caller created no portal with this id"),
            (Invalid, "no allow of this portal is pending"),
            (Fault, "header or buffer is not in the caller's memory"),
            (MessageSize, "the transfer is longer than capacity; it stays queued"),
            (HostDown, "the sender died in the middle of the transfer, or before it"),
            (InputOutput, "the transfer was cut short: its sender's program ended, or its write failed, after part of it went out")
        ];
    /// Closes opened portal `id`; refused while a write started on it is going.
    PortalClose = 59, "portal_close", ("id: usize") -> "0",
        Local ("changes the caller's own entry of the portal table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (BadDescriptor, "the caller opened no portal with this id"),
            (Busy, "a write started on it is still going (wait for it first)")
        ];
    /// Removes created portal `id` and frees its port; refused while an allow of it
    /// waits for its transfer.
    PortalUnlink = 60, "portal_unlink", ("id: usize") -> "0",
        Local ("changes the cluster's portal table under its lock (measured: mailbox_open and mailbox_close together cost 0.28 of an empty trip through the master, `nanvix bench kcall`)"),
        errors [
            (BadDescriptor, "the caller created no portal with this id"),
            (Busy, "an allow of it waits for its transfer")
        ];
    /// Starts a read of created mailbox `id` (as `mailbox_read`: `source` a node or
    /// MAILBOX_ANY_SOURCE; a peer source is `EINVAL` here) and returns at once; the kernel writes the message's
    /// header and payload into `header` and `buffer` when it arrives, which must
    /// stay the caller's until `mailbox_wait` says the read ended.
    MailboxAread = 62, "mailbox_aread",
        ("id: usize", "source: usize", "header: *mut MessageHeader", "buffer: *mut u8", "capacity: usize")
        -> "0",
        Local ("records the read under the mailbox table's lock; the routing that delivers it runs wherever messages are routed"),
        errors [
            (BadDescriptor, "the caller created no mailbox with this id"),
            (Invalid, "source is neither MAILBOX_ANY_SOURCE nor a node of the board"),
            (Fault, "header or buffer is not in the caller's memory"),
            (MessageSize, "the message queued for it is longer than capacity; it stays queued"),
            (Busy, "a read of this mailbox is under way or started")
        ];
    /// Starts a write of 1 to 128 bytes to opened mailbox `id` and returns at once:
    /// the kernel keeps a copy and sends it now if the channel has room, else as
    /// room comes (the master tries on its passes), at the latest in `mailbox_wait`.
    MailboxAwrite = 63, "mailbox_awrite", ("id: usize", "buffer: *const u8", "length: usize") -> "0",
        Local ("tries the channel once from the calling core and never waits; the master tries again while it is full"),
        errors [
            (BadDescriptor, "the caller opened no mailbox with this id"),
            (Invalid, "length is 0"),
            (MessageSize, "length is over NOC_PAYLOAD_MAX (128 bytes)"),
            (Fault, "the buffer is not in the caller's memory"),
            (Busy, "a started write of this mailbox was not waited for yet"),
            (HostDown, "the destination cluster is dead")
        ];
    /// Waits until the read or write started on mailbox `id` ended, and returns
    /// how: a read's payload length or error, a write's 0 or error.
    MailboxWait = 64, "mailbox_wait", ("id: usize") -> "a read's payload length; 0 for a write",
        Local ("waits (the master never waits); polls the NoC from the calling core first"),
        errors [
            (BadDescriptor, "the caller holds no mailbox with this id"),
            (Invalid, "nothing was started on it"),
            (Busy, "another thread waits on it"),
            (MessageSize, "the started read's message was longer than its buffer; it stays queued"),
            (Fault, "the started read's buffers left the caller's memory; the message stays queued"),
            (HostDown, "a started write's destination died, or a started read's source")
        ];
    /// Starts the read of the transfer the pending allow of created portal `id`
    /// named and returns at once; the kernel fills `buffer` (and `header`) as the
    /// chunks come, in the background, until `portal_wait` says it ended. The
    /// buffers must stay the caller's until then.
    PortalAread = 65, "portal_aread", ("id: usize", "header: *mut MessageHeader", "buffer: *mut u8", "capacity: usize") -> "0",
        Local ("records the read under the portal table's lock; the master follows the transfer while it waits"),
        errors [
            (BadDescriptor, "the caller created no portal with this id"),
            (Invalid, "no allow of this portal is pending"),
            (Fault, "header or buffer is not in the caller's memory"),
            (Busy, "a read of this portal is under way or started")
        ];
    /// Starts a write of `length` bytes to opened portal `id` and returns at once.
    /// The kernel sends the transfer in the background, from the moment the
    /// receiver's allow is here and as the data NoC has room, until `portal_wait`
    /// says it ended; the buffer must stay the caller's, unchanged, until then.
    /// `portal_close` refuses the portal (`EBUSY`) while the write is going.
    PortalAwrite = 66, "portal_awrite", ("id: usize", "buffer: *const u8", "length: usize") -> "0",
        Local ("records the write under the portal table's lock and sends what it can at once; the master sends the rest"),
        errors [
            (BadDescriptor, "the caller opened no portal with this id"),
            (MessageSize, "length is over PORTAL_TRANSFER_MAX (16 MiB)"),
            (Fault, "the buffer is not in the caller's memory"),
            (Busy, "a started write of this portal was not waited for yet")
        ];
    /// Waits until the read or write started on portal `id` ended, and returns
    /// how: the transfer's length, or its error. With `PORTAL_WAIT_POLL` in
    /// `flags` it does not wait: a transfer still under way is `EAGAIN` (it goes
    /// on, and a later wait or poll collects it).
    PortalWait = 67, "portal_wait", ("id: usize", "flags: usize") -> "the transfer's length",
        Local ("waits (the master never waits); a poll moves the transfer on once and returns"),
        errors [
            (BadDescriptor, "the caller holds no portal with this id"),
            (Invalid, "nothing was started on it, or `flags` has bits other than PORTAL_WAIT_POLL"),
            (Again, "with PORTAL_WAIT_POLL: the transfer has not ended yet"),
            (Busy, "another thread waits on it"),
            (MessageSize, "the transfer is longer than the started read's buffer (it stays queued), or than the allow"),
            (Fault, "the started buffers left the caller's memory"),
            (HostDown, "the other side died before or during the transfer"),
            (InputOutput, "a started read's transfer was cut short (its sender's program ended, or its write failed, after part of it went out)")
        ];
    /// Fills a `CommCounters` for the caller's communication object `id` of kind
    /// `kind` (COMM_MAILBOX, COMM_PORTAL or COMM_SYNC): calls, bytes, cycles spent
    /// waiting, messages queued. Counters start at zero when the object is
    /// created or opened.
    CommCounters = 61, "comm_counters", ("kind: usize", "id: usize", "out: *mut CommCounters", "size: usize") -> "0",
        Local ("reads the caller's own entry under its table's lock"),
        errors [
            (Invalid, "kind is unknown, or size is not size_of::<CommCounters>()"),
            (BadDescriptor, "the caller holds no object of this kind with this id"),
            (Fault, "out is not in the caller's memory")
        ];
    /// Destroys sync object `id` of the calling program; its id is dead from then on.
    SyncDestroy = 27, "sync_destroy", ("id: usize") -> "0",
        Local ("measured: a trip through the master costs more than the few hundred nanoseconds of the table's lock"),
        errors [
            (Invalid, "no object of the caller's program has this id"),
            (Busy, "a thread waits on it, or holds it (a mutex)")
        ];
    /// Asks the board to run the image's program `name` (UTF-8) with its
    /// `arguments` (UTF-8, separated by NUL bytes; none when `arguments_length` is
    /// 0) on compute cluster `index`. Only a program on an I/O cluster may ask.
    /// Returns once the board has the request. A cluster that is off (or dead)
    /// boots for it in a new boot epoch, as run 1 (`cluster_info` shows it on); a
    /// cluster powered on this way is *warm*: when its program ends it stays on,
    /// idle (`cluster_info`: `idle` 1, with the program's `status` and `ending`),
    /// and a request for an idle cluster runs the next program there, in the same
    /// epoch, as the next run (when the request fits one NoC message, the caller's
    /// kernel asks that cluster's kernel directly and the board counts the run
    /// from its report). The board powers idle clusters off when no I/O cluster is
    /// on any more.
    ClusterPowerOn = 68, "cluster_power_on",
        ("index: usize", "name: *const u8", "name_length: usize", "arguments: *const u8", "arguments_length: usize") -> "0",
        Local ("reads the board's registers and hands the request to the board, or sends it to the idle cluster's kernel; only its own record of requested runs changes, under its lock"),
        errors [
            (Access, "the caller's cluster is not an I/O cluster"),
            (Invalid, "no cluster has this index, or it is not a compute cluster; the name is empty or over PROGRAM_NAME_MAX (64 bytes), the arguments over POWER_ARGUMENTS_MAX (1024 bytes), or either is not UTF-8"),
            (NoEntry, "the image has no program of this name"),
            (Busy, "the cluster is on and not idle, or this cluster asked it for a run the board has not counted yet"),
            (Fault, "name or arguments are not in the caller's memory"),
            (HostDown, "the idle cluster died before the request reached it")
        ];
    /// Asks the board to power compute cluster `index` off: its programs end at
    /// once, killed by `signal` (the cluster's status is then 128 + `signal`, its
    /// ending `ENDED_KILLED`), and it is off, not dead, from then on. A cluster that
    /// is off stays off; a dead one is off from then on (free to power on again).
    /// Only a program on an I/O cluster may ask.
    ClusterPowerOff = 69, "cluster_power_off", ("index: usize", "signal: usize") -> "0",
        Local ("hands the request to the board; nothing the cluster's cores share changes"),
        errors [
            (Access, "the caller's cluster is not an I/O cluster"),
            (Invalid, "no cluster has this index, or it is not a compute cluster; the signal is not 1 to SIGNAL_MAX (64)")
        ];
    /// Blocks until the board's state generation (a counter the board bumps on
    /// every cluster state change: a boot, a power-off, a death) differs from
    /// `generation`, or `timeout` nanoseconds passed (0: do not wait); returns the
    /// generation then. A program that watches clusters passes the last generation
    /// it saw, then reads `cluster_info` of the clusters it follows.
    ClusterWait = 70, "cluster_wait", ("generation: usize", "timeout: usize") -> "the board's state generation",
        Local ("waits, without its core, on the board's generation counter: the master never waits"),
        errors [];
    /// Loads the image's program `name` on the caller's own cluster with
    /// `arguments` (NUL-separated) and starts its main thread; returns its program
    /// id. `options` points to a `SpawnOptions` (24 bytes: slot, heap bytes, stack
    /// bytes; 0 for the default heap or stack, 64 KiB each). The slot names the id
    /// it takes (`PROGRAM_ANY`: the lowest free one): an id that never held a
    /// program, or whose program ended; the program's node follows from it as for
    /// boot programs (the cluster's first node + id modulo its node count), so a
    /// program started again in its old slot keeps its NoC address. Only a program
    /// on an I/O cluster may ask (a compute cluster runs one process).
    ProgramSpawn = 71, "program_spawn",
        ("name: *const u8", "name_length: usize", "arguments: *const u8", "arguments_length: usize", "options: *const SpawnOptions") -> "the program id",
        Local ("loads on the calling core under the program table's lock: copying an image takes up to milliseconds, which the master must not spend"),
        errors [
            (Access, "the caller's cluster is not an I/O cluster"),
            (Invalid, "the name is empty or over PROGRAM_NAME_MAX (64 bytes), the arguments over POWER_ARGUMENTS_MAX (1024 bytes), either is not UTF-8, the slot is past PROGRAMS_MAX, or the stack under 4 KiB"),
            (NoEntry, "the image has no program of this name, or its ELF does not load"),
            (Busy, "the slot's program runs"),
            (Again, "every slot holds a running program, or no thread context is free"),
            (NoMemory, "the program does not fit the cluster's free memory"),
            (Fault, "name, arguments or options are not in the caller's memory")
        ];
    /// Waits until the program with id `id` of the caller's cluster ended, or
    /// `timeout` nanoseconds passed (0: do not wait; `usize::MAX`: for ever);
    /// returns its exit status (as a u32). A slot whose program ended and that
    /// `program_spawn` filled again names the new program.
    ProgramWait = 72, "program_wait", ("id: usize", "timeout: usize") -> "the exit status",
        Local ("waits without its core until a program's end wakes it: the master never waits"),
        errors [
            (Invalid, "`id` is past PROGRAMS_MAX"),
            (NoEntry, "no program of the cluster has this id"),
            (Again, "the timeout passed and the program runs")
        ];
    /// Ends the program with id `id` of the caller's cluster as if `signal` killed
    /// it: its threads end, and it ends with status 128 + `signal`. Only a program
    /// on an I/O cluster may ask.
    ProgramKill = 73, "program_kill", ("id: usize", "signal: usize") -> "0",
        Local ("marks the program ending and kicks its threads, as an exit does"),
        errors [
            (Access, "the caller's cluster is not an I/O cluster"),
            (Invalid, "`id` is past PROGRAMS_MAX, or the signal is not 1 to SIGNAL_MAX (64)"),
            (NoEntry, "no running program of the cluster has this id")
        ];
    /// Blocks of the disk attached to the caller's cluster (`DISK_BLOCK_BYTES`
    /// each). Every program of that cluster may use the disk: put only servers there.
    DiskInfo = 74, "disk_info", () -> "blocks",
        Local ("reads the platform's disk description"),
        errors [(NoEntry, "no disk is attached to the caller's cluster")];
    /// Reads `blocks` blocks from block `block` on into `buffer` (the last write to
    /// each, flushed or not).
    DiskRead = 75, "disk_read", ("block: usize", "buffer: *mut u8", "blocks: usize") -> "blocks read",
        Local ("reads on the calling core: the disk's cache, else the medium"),
        errors [
            (NoEntry, "no disk is attached to the caller's cluster"),
            (Invalid, "the blocks run past the disk's end"),
            (Fault, "the buffer is not in the caller's memory"),
            (InputOutput, "the medium failed")
        ];
    /// Writes `blocks` blocks from `buffer` to block `block` on. A write waits in
    /// the disk's volatile cache until a `disk_flush` (or a clean power-off): if the
    /// cluster dies first it may be lost, and unflushed writes may reach the medium
    /// in any order.
    DiskWrite = 76, "disk_write", ("block: usize", "buffer: *const u8", "blocks: usize") -> "blocks written",
        Local ("copies into the disk's cache on the calling core"),
        errors [
            (NoEntry, "no disk is attached to the caller's cluster"),
            (Invalid, "the blocks run past the disk's end"),
            (Fault, "the buffer is not in the caller's memory"),
            (InputOutput, "the medium failed")
        ];
    /// Makes every write before it durable.
    DiskFlush = 77, "disk_flush", () -> "0",
        Local ("writes the cache to the medium and waits for it, on the calling core"),
        errors [
            (NoEntry, "no disk is attached to the caller's cluster"),
            (InputOutput, "the medium failed")
        ];
    /// Bytes of the board's DDR, for a program of a DDR-attached cluster (every
    /// program of such a cluster may use the DDR: put only servers there).
    DdrInfo = 78, "ddr_info", () -> "bytes",
        Local ("reads the platform's DDR description"),
        errors [(NoEntry, "the caller's cluster is not attached to DDR")];
    /// Reads `length` bytes of the DDR from `offset` on into `buffer`. The DDR is
    /// shared by the board's DDR-attached clusters: a read sees what any of them
    /// wrote before it (the same bytes written meanwhile may read as a mix).
    DdrRead = 79, "ddr_read", ("offset: usize", "buffer: *mut u8", "length: usize") -> "bytes read",
        Local ("copies from the DDR on the calling core, in pieces of 256 KiB"),
        errors [
            (NoEntry, "the caller's cluster is not attached to DDR"),
            (Invalid, "the bytes run past the DDR's end"),
            (Fault, "the buffer is not in the caller's memory")
        ];
    /// Writes `length` bytes from `buffer` to the DDR from `offset` on; the DDR
    /// keeps them as long as the board runs.
    DdrWrite = 80, "ddr_write", ("offset: usize", "buffer: *const u8", "length: usize") -> "bytes written",
        Local ("copies to the DDR on the calling core, in pieces of 256 KiB"),
        errors [
            (NoEntry, "the caller's cluster is not attached to DDR"),
            (Invalid, "the bytes run past the DDR's end"),
            (Fault, "the buffer is not in the caller's memory")
        ];
    /// Hands the board the program `elf` (an ELF the loader can run, at most
    /// PROGRAM_STAGE_MAX bytes) under the name `name` (1 to STAGED_BASE_MAX bytes of
    /// ASCII letters, digits, `-`, `_` and `.`), and writes the name it is staged
    /// as to `staged` (PROGRAM_NAME_MAX bytes): `name@` and 16 hexadecimal digits of
    /// the bytes' SHA-256. `cluster_power_on` then runs it by that name like an
    /// image program. The same bytes staged again get the same name; different
    /// bytes never share one (the board compares them). Only a program on an I/O
    /// cluster may stage.
    ProgramStage = 81, "program_stage",
        ("name: *const u8", "name_length: usize", "elf: *const u8", "elf_length: usize", "staged: *mut u8") -> "length of the staged name",
        Local ("copies the bytes into the kernel, checks them with the loader and hands them to the board (the hosted board writes them to a file of the run's staging directory)"),
        errors [
            (Access, "the caller's cluster is not an I/O cluster"),
            (Invalid, "the name is empty, over STAGED_BASE_MAX bytes or has a byte outside the set"),
            (FileTooLarge, "the ELF is over PROGRAM_STAGE_MAX bytes"),
            (ExecFormat, "the loader cannot run the ELF"),
            (NoMemory, "the kernel has no room for a copy of the ELF"),
            (Exists, "other bytes are staged under the same name (a collision of the hash's 64 bits)"),
            (InputOutput, "the board could not keep the bytes"),
            (NoSystemCall, "this board cannot stage programs"),
            (Fault, "name, elf or staged is not in the caller's memory")
        ];
    /// Sets the rights of the calling program's own page at `address` (its first
    /// address; one it mapped, not one granted to it): `rights` as `memory_map`
    /// takes them. Its frame and bytes stay. A write to a page made read-only so
    /// faults to the program's pager, which may make it writable again (a pager
    /// tells a written page from a clean one so).
    MemoryProtect = 82, "memory_protect", ("address: usize", "rights: usize") -> "0",
        Local ("changes the cluster's page tables under their lock and maps the frame again (the host's mmap)"),
        errors [
            (Invalid, "rights has other bits than write and execute"),
            (NoEntry, "no page starts at address"),
            (Permission, "the caller does not hold the page, or it was granted to it"),
            (NoMemory, "the MMU could not map the frame again (the page keeps its rights)"),
            (NoSystemCall, "the platform has no MMU")
        ];
}

#[cfg(test)]
mod tests {
    use super::{KCALLS, Kcall};

    #[test]
    fn numbers_are_unique_and_decode_back() {
        for (position, description) in KCALLS.iter().enumerate() {
            let number = description.kcall as usize;
            assert_eq!(Kcall::from_number(number), Some(description.kcall));
            for later in &KCALLS[position + 1..] {
                assert_ne!(number, later.kcall as usize, "duplicate kcall number");
                assert_ne!(description.name, later.name, "duplicate kcall name");
            }
        }
        assert_eq!(Kcall::from_number(0), None);
        assert_eq!(Kcall::from_number(usize::MAX), None);
    }
}
