//! Test program: libnanvix's POSIX-like calls: processes, signals, names, descriptors.
//!
//! - `mode=parent` (on the boot I/O cluster, beside init, which supervises the
//!   name and process servers at the cluster's first node): checks what a program
//!   that is not a process gets (`getpid`: `ESRCH`, `getuid`: 0), spawns a child,
//!   waits until the child linked the name `posix-child`, looks it up, sends the
//!   child SIGTERM (which it catches), waits for it (status 0), checks every
//!   refusal, checks the child's name went with its cluster, links and unlinks a
//!   name, shuts the board down through init and prints `posix-test: N checks, M
//!   failed`.
//! - `mode=child`: knows its pid and user, has no parent process, writes to its
//!   standard output and error, reads the end of its standard input, catches
//!   SIGTERM, links `posix-child` to port 7, and ends with 0 once the handler ran
//!   (60-69: a step failed).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicBool, Ordering};
use libnanvix::posix::{self, Disposition, STDERR_FILENO, STDIN_FILENO, STDOUT_FILENO};
use libnanvix::signal::{SIGKILL, SIGTERM};
use libnanvix::testing::Checks;
use libnanvix::{Errno, println, process, thread};
use nanvix_init_api::InitClient;

libnanvix::entry!(main);

/// Set by the child's SIGTERM handler.
static TERMINATED: AtomicBool = AtomicBool::new(false);

/// How long to wait for the child's name, in nanoseconds.
const PATIENCE: u64 = 20_000_000_000;

fn main() -> i32 {
    match process::argument("mode") {
        Some("parent") => parent(),
        Some("child") => child(),
        _ => {
            println!("posix-test: mode=parent|child");
            2
        }
    }
}

fn child() -> i32 {
    let Ok(pid) = posix::getpid() else {
        return 60;
    };
    if posix::getppid() != Err(Errno::NoSuchThread) {
        return 61;
    }
    if posix::getuid() != Ok(0) {
        return 62;
    }
    let line = alloc_line(pid);
    if posix::write(STDOUT_FILENO, line.as_bytes()) != Ok(line.len())
        || posix::write(STDERR_FILENO, b"posix-test: child to stderr\n").is_err()
    {
        return 63;
    }
    if posix::read(STDIN_FILENO, &mut [0u8; 8]) != Ok(0) {
        return 64;
    }
    if posix::write(5, b"x") != Err(Errno::BadDescriptor) {
        return 65;
    }
    let handler = |_| TERMINATED.store(true, Ordering::Release);
    if posix::signal(SIGTERM, Disposition::Handler(handler)).is_err() {
        return 66;
    }
    if posix::name_link("posix-child", 7).is_err() {
        return 67;
    }
    while !TERMINATED.load(Ordering::Acquire) {
        let _ = thread::sleep_nanoseconds(1_000_000);
    }
    // Not 128 + SIGTERM: the handler ran instead of the default action.
    0
}

/// `posix-test: child PID writes`, with its newline.
fn alloc_line(pid: u32) -> heapless_line::Line {
    heapless_line::Line::of(pid)
}

/// A short line on the stack.
mod heapless_line {
    use core::fmt::Write;

    pub struct Line {
        bytes: [u8; 64],
        used: usize,
    }

    impl Line {
        pub fn of(pid: u32) -> Line {
            let mut line = Line {
                bytes: [0; 64],
                used: 0,
            };
            let _ = writeln!(line, "posix-test: child {pid} writes");
            line
        }

        pub fn as_bytes(&self) -> &[u8] {
            &self.bytes[..self.used]
        }

        pub fn len(&self) -> usize {
            self.used
        }
    }

    impl Write for Line {
        fn write_str(&mut self, text: &str) -> core::fmt::Result {
            let end = self.used + text.len();
            if end > self.bytes.len() {
                return Err(core::fmt::Error);
            }
            self.bytes[self.used..end].copy_from_slice(text.as_bytes());
            self.used = end;
            Ok(())
        }
    }
}

fn parent() -> i32 {
    let mut checks = Checks::new();
    checks.expect(
        "getpid of a program the manifest started",
        posix::getpid(),
        Err(Errno::NoSuchThread),
    );
    checks.expect("getuid: root", posix::getuid(), Ok(0));
    let child = posix::spawn("posix-test", &["mode=child"]);
    checks.expect("spawn", child.map(|_| ()), Ok(()));
    let pid = child.unwrap_or(0);
    // The child links its name once it caught SIGTERM.
    let mut waited = 0;
    let mut found = posix::name_lookup("posix-child");
    while found.is_err() && waited < PATIENCE {
        let _ = thread::sleep_nanoseconds(5_000_000);
        waited += 5_000_000;
        found = posix::name_lookup("posix-child");
    }
    checks.expect(
        "the child's name, on port 7",
        found.map(|(_, port)| port),
        Ok(7),
    );
    checks.expect("kill: SIGTERM", posix::kill(pid, SIGTERM), Ok(()));
    checks.expect(
        "waitpid: the child caught it and ended by itself",
        posix::waitpid(pid),
        Ok(posix::Termination::Exited(0)),
    );
    // Refusals.
    checks.expect(
        "waitpid again",
        posix::waitpid(pid),
        Err(Errno::NoSuchThread),
    );
    checks.expect(
        "kill: no such process",
        posix::kill(9999, SIGTERM),
        Err(Errno::NoSuchThread),
    );
    checks.expect(
        "kill: no such signal",
        posix::kill(pid, 3),
        Err(Errno::Invalid),
    );
    checks.expect(
        "spawn: no such program",
        posix::spawn("no-such-program", &[]),
        Err(Errno::NoEntry),
    );
    checks.expect(
        "signal: SIGKILL",
        posix::signal(SIGKILL, Disposition::Ignore),
        Err(Errno::Invalid),
    );
    checks.expect(
        "signal: not a process",
        posix::signal(SIGTERM, Disposition::Ignore),
        Err(Errno::NoSuchThread),
    );
    // The child's cluster is off: its name went with it.
    checks.expect(
        "the ended child's name is released",
        posix::name_lookup("posix-child"),
        Err(Errno::NoEntry),
    );
    checks.expect("name_link", posix::name_link("posix-parent", 8), Ok(()));
    checks.expect(
        "name_link twice",
        posix::name_link("posix-parent", 8),
        Err(Errno::Exists),
    );
    checks.expect("name_unlink", posix::name_unlink("posix-parent"), Ok(()));
    checks.expect(
        "name_unlink: no such name",
        posix::name_unlink("posix-parent"),
        Err(Errno::NoEntry),
    );
    let failed = checks.finish("posix-test");
    let shut_down =
        InitClient::connect(posix::process_server_node()).map(|mut init| init.shutdown(failed));
    if !matches!(shut_down, Ok(Ok(()))) {
        println!("posix-test: cannot shut down: {shut_down:?}");
    }
    failed
}
