//! Test program: the process server.
//!
//! Arguments (`KEY=VALUE`):
//! - `mode=client` (`server=CLUSTER` names the cluster whose first node runs the
//!   process server; the board has two free compute clusters): spawns and waits for
//!   programs (exit statuses 3 and 0), fills both clusters and checks a third spawn
//!   is refused, lists the two, has another thread spawn waiting for a cluster and
//!   kills one sleeper (SIGKILL) so the waiting spawn starts, checks who is who
//!   (`Identify`), signals (a sleeper ended by SIGINT's default action; a catcher
//!   that ignores SIGINT and catches SIGTERM), a panicking program's fault, every
//!   refusal; then prints `process-test: pid P runs on CLUSTER` for a sleeper,
//!   waits for it (a test kills its cluster: "its cluster died"), spawns on that
//!   cluster again, stops the server, and prints `process-test: N checks, M failed`.
//! - `mode=exit status=N`: ends with status N.
//! - `mode=user server=CLUSTER victim=PID` (spawned as user 1000): ends with 0 when
//!   it knows its user and is refused killing root's process `PID` and spawning as
//!   root.
//! - `mode=identify server=CLUSTER`: checks a compute cluster may not stop the
//!   server (97 if it may), and ends with its own pid as the status, as the process
//!   server says (99 if it does not know it).
//! - `mode=sleep`: sleeps until its cluster is powered off or killed.
//! - `mode=catcher server=CLUSTER ready=NODE`: ignores SIGINT, catches SIGTERM,
//!   tells node `NODE` (port 5) it is ready, and ends with status 42 once its
//!   handler ran (81-83: a step failed).
//! - `mode=quota server=CLUSTER` (the server's `quotas=1000:1`; the board has two
//!   free compute clusters): user 1000 gets one cluster and is refused a second
//!   (waiting or not) while root gets one; once its process ended, it gets one again.
//!   Stops the server; prints `process-test: quota: N checks, M failed`.
//! - `mode=panic`: panics.
//! - `mode=cat`: prints each line of its standard input as `cat: LINE`, and `cat:
//!   N lines` at the end of input.
//! - `mode=files server=CLUSTER init=NODE` (root, on the system's node; the server's
//!   `path=/bin`, the vfs server beside it): runs `process-test` looked up in
//!   `/bin`; copies it to `/tmp/copied` (a name the image has no program of) and
//!   runs that twice; is refused a text file marked executable (`NotAProgram`), a
//!   program without an execute bit and one in a directory user 1000 may not
//!   search (`NotExecutable`), a missing file and a relative path
//!   (`NoSuchProgram`); copies `hello` over `/tmp/copied` and runs the new bytes.
//!   Prints `process-test: files: N checks, M failed` and asks init (`init=NODE`)
//!   to shut down with 0 when none failed.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use libnanvix::abi::FaultKind;
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::signal::{SIGINT, SIGKILL, SIGTERM};
use libnanvix::testing::Checks;
use libnanvix::{Errno, cluster, fs, println, process, thread};
use nanvix_init_api::InitClient;
use nanvix_process_api::{
    ProcessCallError, ProcessClient, ProcessError, SignalAction, Termination,
};

/// The port a catcher tells its spawner it is ready on.
const READY_PORT: u32 = 5;

/// Set by the catcher's SIGTERM handler.
static TERMINATED: AtomicBool = AtomicBool::new(false);

libnanvix::entry!(main);

fn main() -> i32 {
    match process::argument("mode") {
        Some("client") => client(),
        Some("exit") => process::argument("status")
            .and_then(|status| status.parse().ok())
            .unwrap_or(1),
        Some("identify") => identify(),
        Some("user") => user(),
        Some("quota") => quota(),
        Some("files") => files(),
        Some("sleep") => loop {
            let _ = thread::sleep_nanoseconds(60_000_000_000);
        },
        Some("catcher") => catcher(),
        Some("cat") => cat(),
        Some("panic") => panic!("process-test: panicking on purpose"),
        _ => {
            println!("process-test: mode=client|exit|identify|user|sleep|catcher|panic");
            2
        }
    }
}

/// Prints each line of its standard input as `cat: LINE` until the end of input,
/// then `cat: N lines`; ends with 0.
fn cat() -> i32 {
    let mut lines = 0;
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 64];
    loop {
        let read = match libnanvix::posix::read(libnanvix::posix::STDIN_FILENO, &mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(errno) => {
                println!("cat: {errno}");
                return 100;
            }
        };
        pending.extend_from_slice(&chunk[..read]);
        while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            println!(
                "cat: {}",
                alloc::string::String::from_utf8_lossy(&line[..end])
            );
            lines += 1;
        }
    }
    println!("cat: {lines} lines");
    0
}

/// Ignores SIGINT, catches SIGTERM, says it is ready, and ends with 42 once the
/// handler ran.
fn catcher() -> i32 {
    let (Some(node), Some(ready)) = (
        server_node(),
        process::argument("ready").and_then(|node| node.parse().ok()),
    ) else {
        return 80;
    };
    let Ok(mut processes) = ProcessClient::connect(node) else {
        return 81;
    };
    let handled = processes.ignore(SIGINT).and_then(|()| {
        processes.catch(node, SIGTERM, |_| TERMINATED.store(true, Ordering::Release))
    });
    if handled.is_err() {
        return 82;
    }
    if Outbox::open(ready, READY_PORT)
        .and_then(|outbox| outbox.write(b"ready"))
        .is_err()
    {
        return 83;
    }
    while !TERMINATED.load(Ordering::Acquire) {
        let _ = thread::sleep_nanoseconds(1_000_000);
    }
    42
}

/// Ends with its own pid as the status (99 when the server does not know it).
fn identify() -> i32 {
    let Some(node) = server_node() else {
        return 98;
    };
    let Ok(mut processes) = ProcessClient::connect(node) else {
        return 99;
    };
    // Only the server's own cluster may stop it.
    if processes.stop() != Err(ProcessCallError::Refused(ProcessError::NotInternal)) {
        return 97;
    }
    match processes.identify() {
        Ok((Some(pid), None, 0)) => pid as i32,
        _ => 99,
    }
}

/// As user 1000: ends with 0 when it knows its user and is refused killing
/// `victim=PID` and spawning as root; another status names the check that failed.
fn user() -> i32 {
    let (Some(node), Some(victim)) = (
        server_node(),
        process::argument("victim").and_then(|pid| pid.parse().ok()),
    ) else {
        return 90;
    };
    let Ok(mut processes) = ProcessClient::connect(node) else {
        return 91;
    };
    let not_permitted = ProcessCallError::Refused(ProcessError::NotPermitted);
    if !matches!(processes.identify(), Ok((Some(_), None, 1000))) {
        return 92;
    }
    if processes.kill(victim, SIGKILL) != Err(not_permitted) {
        return 93;
    }
    if processes.spawn_as(0, "process-test", &["mode=exit", "status=0"]) != Err(not_permitted) {
        return 94;
    }
    0
}

/// Spawns a catcher, waits until it is ready, sends it SIGINT (ignored) and SIGTERM
/// (caught), and waits for it.
fn catch_signals(processes: &mut ProcessClient) -> Result<Termination, ProcessCallError> {
    let as_call = |errno| ProcessCallError::Call(nanvix_rpc_call_error(errno));
    let ready = Inbox::create(READY_PORT).map_err(as_call)?;
    let arguments = [
        "mode=catcher",
        "server=io0",
        &alloc::format!("ready={}", process::node()),
    ];
    let pid = processes.spawn_waiting("process-test", &arguments)?;
    let mut word = [0u8; 8];
    let told = ready.read(&mut word).map_err(as_call);
    let _ = ready.unlink();
    told?;
    processes.kill(pid, SIGINT)?;
    processes.kill(pid, SIGTERM)?;
    processes.wait(pid)
}

/// A mailbox errno as a call error.
fn nanvix_rpc_call_error(errno: Errno) -> nanvix_process_api::CallError {
    nanvix_process_api::CallError::Mailbox(errno)
}

/// `Ok(result)`, so `Checks` (made for errnos) compares the whole result.
fn checked<T>(result: T) -> Result<T, Errno> {
    Ok(result)
}

fn refused<T>(error: ProcessError) -> Result<Result<T, ProcessCallError>, Errno> {
    Ok(Err(ProcessCallError::Refused(error)))
}

fn client() -> i32 {
    let Some(node) = server_node() else {
        println!("process-test: server=CLUSTER names no cluster of this board");
        return 2;
    };
    let mut processes = match ProcessClient::connect(node) {
        Ok(processes) => processes,
        Err(errno) => {
            println!("process-test: cannot reach the process server: {errno}");
            return 2;
        }
    };
    let mut checks = Checks::new();
    // Spawn and wait: exit statuses come back.
    let pid = processes.spawn("process-test", &["mode=exit", "status=3"]);
    checks.expect("spawn", checked(pid.is_ok()), checked(true));
    let pid = pid.unwrap_or(0);
    checks.expect(
        "wait: status 3",
        checked(processes.wait(pid)),
        checked(Ok(Termination::Exited(3))),
    );
    let hello = processes.spawn("hello", &["partner=none"]).unwrap_or(0);
    checks.expect(
        "wait: status 0",
        checked(processes.wait(hello)),
        checked(Ok(Termination::Exited(0))),
    );
    // Both clusters busy: a third spawn is refused; both are listed.
    let first = processes
        .spawn("process-test", &["mode=sleep"])
        .unwrap_or(0);
    let second = processes
        .spawn("process-test", &["mode=sleep"])
        .unwrap_or(0);
    checks.expect(
        "no free cluster",
        checked(processes.spawn("process-test", &["mode=sleep"])),
        refused(ProcessError::NoFreeCluster),
    );
    let listed: Vec<u32> = processes
        .list()
        .map(|entries| entries.iter().map(|entry| entry.pid).collect())
        .unwrap_or_default();
    checks.expect("list", checked(listed), checked(alloc::vec![first, second]));
    // A spawn that waits for a cluster starts when one frees: another thread asks
    // while both are busy, then this one kills the first sleeper.
    let waiting = thread::spawn(move || -> Result<Termination, ProcessCallError> {
        let mut own = ProcessClient::connect(node)
            .map_err(|errno| ProcessCallError::Call(nanvix_rpc_call_error(errno)))?;
        let pid = own.spawn_waiting("process-test", &["mode=exit", "status=5"])?;
        own.wait(pid)
    });
    let _ = thread::sleep_nanoseconds(50_000_000);
    let still: Vec<u32> = processes
        .list()
        .map(|entries| entries.iter().map(|entry| entry.pid).collect())
        .unwrap_or_default();
    checks.expect(
        "the waiting spawn took nothing yet",
        checked(still),
        checked(alloc::vec![first, second]),
    );
    checks.expect(
        "kill",
        checked(processes.kill(first, SIGKILL)),
        checked(Ok(())),
    );
    checks.expect(
        "killed by SIGKILL",
        checked(processes.wait(first)),
        checked(Ok(Termination::Signaled(SIGKILL))),
    );
    checks.expect(
        "the waiting spawn started on the freed cluster",
        checked(waiting.map(|handle| handle.join())),
        checked(Ok(Ok(Ok(Termination::Exited(5))))),
    );
    // Who is who: this program was not spawned; a spawned one knows its pid.
    checks.expect(
        "identify: not spawned",
        checked(processes.identify()),
        checked(Ok((None, None, 0))),
    );
    let child = processes.spawn("process-test", &["mode=identify", "server=io0"]);
    let child_status = child.map(|pid| (pid, processes.wait(pid)));
    checks.expect(
        "a spawned program knows its pid",
        checked(child_status.map(|(pid, status)| status == Ok(Termination::Exited(pid as i32)))),
        checked(Ok(true)),
    );
    // Users: a process spawned as user 1000 may not kill root's sleeper, nor spawn
    // as root; it ends with 0 when both are refused and it knows its user.
    let victim = alloc::format!("victim={second}");
    let as_user = processes
        .spawn_as(1000, "process-test", &["mode=user", "server=io0", &victim])
        .map(|pid| processes.wait(pid));
    checks.expect(
        "a user's process is refused root's",
        checked(as_user),
        checked(Ok(Ok(Termination::Exited(0)))),
    );
    // Signals: a sleeper ends by SIGINT's default action; a catcher ignores SIGINT
    // and ends by itself once its SIGTERM handler ran.
    let sleeper = processes.spawn_waiting("process-test", &["mode=sleep"]);
    let interrupted = sleeper.and_then(|pid| {
        processes.kill(pid, SIGINT)?;
        processes.wait(pid)
    });
    checks.expect(
        "SIGINT by default: killed",
        checked(interrupted),
        checked(Ok(Termination::Signaled(SIGINT))),
    );
    checks.expect(
        "a catcher ignores SIGINT and handles SIGTERM",
        checked(catch_signals(&mut processes)),
        checked(Ok(Termination::Exited(42))),
    );
    // A fault: the waiter learns which.
    let panicked = processes
        .spawn_waiting("process-test", &["mode=panic"])
        .and_then(|pid| processes.wait(pid))
        .map(|termination| termination.fault());
    checks.expect(
        "a panic ends the process as a fault",
        checked(panicked),
        checked(Ok(Some(FaultKind::Panic))),
    );
    // Refusals change nothing.
    checks.expect(
        "kill: no such signal",
        checked(processes.kill(second, 3)),
        refused(ProcessError::NoSuchSignal),
    );
    checks.expect(
        "handle: not a process",
        checked(processes.handle(SIGTERM, SignalAction::Ignore)),
        refused(ProcessError::NoSuchProcess),
    );
    checks.expect(
        "handle: SIGKILL",
        checked(processes.handle(SIGKILL, SignalAction::Ignore)),
        refused(ProcessError::NotCatchable),
    );
    checks.expect(
        "no such program",
        checked(processes.spawn("no-such-program", &[])),
        refused(ProcessError::NoSuchProgram),
    );
    checks.expect(
        "wait: no such process",
        checked(processes.wait(9999)),
        refused(ProcessError::NoSuchProcess),
    );
    checks.expect(
        "kill: no such process",
        checked(processes.kill(9999, SIGKILL)),
        refused(ProcessError::NoSuchProcess),
    );
    checks.expect(
        "wait: waited already",
        checked(processes.wait(pid)),
        refused(ProcessError::NoSuchProcess),
    );
    // A cluster killed under its process: reaped, its waiter told, the cluster reused.
    let entry = processes
        .list()
        .ok()
        .and_then(|entries| entries.into_iter().find(|entry| entry.pid == second));
    let name = entry
        .and_then(|entry| cluster::info(entry.cluster as usize).ok())
        .map(|info| alloc::string::String::from(info.name()))
        .unwrap_or_default();
    // Wait until its cluster is up, so the test finds its process.
    while !processes.list().is_ok_and(|entries| {
        entries
            .iter()
            .any(|entry| entry.pid == second && entry.running)
    }) {
        let _ = thread::sleep_nanoseconds(5_000_000);
    }
    println!("process-test: pid {second} runs on {name}");
    checks.expect(
        "a killed cluster's process: its cluster died",
        checked(processes.wait(second)),
        checked(Ok(Termination::ClusterDied { signal: 9 })),
    );
    let reused = processes.spawn("process-test", &["mode=exit", "status=4"]);
    checks.expect(
        "spawn after the kill",
        checked(reused.map(|pid| processes.wait(pid))),
        checked(Ok(Ok(Termination::Exited(4)))),
    );
    checks.expect(
        "stop the server",
        checked(processes.stop()),
        checked(Ok(())),
    );
    checks.finish("process-test")
}

/// The quota of compute clusters (`quotas=1000:1` on the server).
fn quota() -> i32 {
    let mut checks = Checks::new();
    let Some(node) = server_node() else {
        println!("process-test: server=CLUSTER");
        return 2;
    };
    let Ok(mut processes) = ProcessClient::connect(node) else {
        println!("process-test: cannot reach the server");
        return 1;
    };
    let over = Err(ProcessCallError::Refused(ProcessError::OverQuota));
    let sleeper = processes.spawn_as(1000, "process-test", &["mode=sleep"]);
    checks.same("user 1000's first cluster", sleeper.is_ok(), true);
    checks.same(
        "its second",
        processes.spawn_as(1000, "process-test", &["mode=sleep"]),
        over,
    );
    checks.same(
        "its second, waiting",
        processes.spawn_with("process-test", &["mode=sleep"], true, Some(1000)),
        over,
    );
    let root = processes.spawn("process-test", &["mode=exit", "status=0"]);
    checks.same("root's, beside it", root.is_ok(), true);
    if let Ok(pid) = root {
        checks.same(
            "root's ends",
            processes.wait(pid),
            Ok(Termination::Exited(0)),
        );
    }
    if let Ok(pid) = sleeper {
        checks.same("kill user 1000's", processes.kill(pid, SIGKILL), Ok(()));
        checks.same(
            "it ended",
            processes.wait(pid),
            Ok(Termination::Signaled(9)),
        );
    }
    let again = processes
        .spawn_as(1000, "process-test", &["mode=exit", "status=0"])
        .and_then(|pid| processes.wait(pid));
    checks.same("room again", again, Ok(Termination::Exited(0)));
    let status = checks.finish("process-test: quota");
    let _ = processes.stop();
    status
}

/// Writes `bytes` to a new file at `path` with `mode`.
fn put(path: &str, bytes: &[u8], mode: u16) -> Result<(), Errno> {
    let _ = fs::remove_file(path);
    fs::write(path, bytes)?;
    fs::set_permissions(path, mode)
}

/// The node of the process server, the first of the cluster `server=` names.
fn server_node() -> Option<u32> {
    process::argument("server")
        .and_then(cluster::find)
        .map(|info| info.first_node)
}

/// A refusal of the process server, as a call's result.
fn refusal<T>(error: ProcessError) -> Result<T, ProcessCallError> {
    Err(ProcessCallError::Refused(error))
}

/// Programs from the file system (see the module).
fn files() -> i32 {
    let mut checks = Checks::new();
    let Some(node) = server_node() else {
        println!("process-test: server=CLUSTER");
        return 2;
    };
    // The servers init starts may not serve yet.
    let mut reached = None;
    for _ in 0..500 {
        if fs::metadata("/").is_ok()
            && let Ok(client) = ProcessClient::connect(node)
        {
            reached = Some(client);
            break;
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
    }
    let Some(mut processes) = reached else {
        println!("process-test: the servers did not come up");
        return 1;
    };
    let mut run = |program: &str, status: &str| {
        processes
            .spawn(program, &["mode=exit", status])
            .and_then(|pid| processes.wait(pid))
    };
    checks.same(
        "a name looked up in /bin",
        run("process-test", "status=7"),
        Ok(Termination::Exited(7)),
    );
    let program = fs::read("/bin/process-test").unwrap_or_default();
    checks.same("/bin/process-test read", program.len() > 1000, true);
    checks.same("copied", put("/tmp/copied", &program, 0o755), Ok(()));
    checks.same(
        "the copy runs",
        run("/tmp/copied", "status=8"),
        Ok(Termination::Exited(8)),
    );
    checks.same(
        "and again",
        run("/tmp/copied", "status=9"),
        Ok(Termination::Exited(9)),
    );
    checks.same("text", put("/tmp/text", b"echo hi\n", 0o755), Ok(()));
    checks.same(
        "a text file is not a program",
        run("/tmp/text", "status=0"),
        refusal(ProcessError::NotAProgram),
    );
    checks.same("no x", put("/tmp/no-x", &program, 0o644), Ok(()));
    checks.same(
        "a file without an execute bit",
        run("/tmp/no-x", "status=0"),
        refusal(ProcessError::NotExecutable),
    );
    let _ = fs::create_dir("/tmp/private");
    checks.same(
        "a private directory",
        fs::set_permissions("/tmp/private", 0o700),
        Ok(()),
    );
    checks.same(
        "a program in it",
        put("/tmp/private/program", &program, 0o755),
        Ok(()),
    );
    checks.same(
        "user 1000 may not search it",
        processes.spawn_as(1000, "/tmp/private/program", &["mode=exit", "status=0"]),
        refusal(ProcessError::NotExecutable),
    );
    checks.same(
        "root may",
        processes
            .spawn("/tmp/private/program", &["mode=exit", "status=5"])
            .and_then(|pid| processes.wait(pid)),
        Ok(Termination::Exited(5)),
    );
    for missing in ["/tmp/missing", "tmp/copied", "no-such-program"] {
        checks.same(
            missing,
            processes.spawn(missing, &[]),
            refusal(ProcessError::NoSuchProgram),
        );
    }
    let hello = fs::read("/bin/hello").unwrap_or_default();
    checks.same(
        "hello over the copy",
        put("/tmp/copied", &hello, 0o755),
        Ok(()),
    );
    checks.same(
        "the new bytes run",
        processes
            .spawn("/tmp/copied", &["partner=none"])
            .and_then(|pid| processes.wait(pid)),
        Ok(Termination::Exited(0)),
    );
    let status = checks.finish("process-test: files");
    let init = process::argument("init").and_then(|node| node.parse().ok());
    match init.map(InitClient::connect) {
        Some(Ok(mut init)) => {
            let _ = init.shutdown(status);
        }
        _ => println!("process-test: cannot reach init (init=NODE)"),
    }
    status
}
