//! Test program: init supervising servers: restarts, and an orderly shutdown.
//!
//! Runs on the boot I/O cluster beside init (`init=NODE` names init's node;
//! `names=SLOT` and `processes=SLOT` the name and process servers' slots). Waits
//! until both servers run, links a name, kills the name server's program (as a
//! crash would end it), waits until init started it again, checks the new one
//! serves (the old name is gone with the old server; linking works), kills the
//! process server while calls to it are under way (a `wait` of its own here, and one
//! of a program it spawned on a compute cluster, `mode=waiter`, which waits for a
//! child of its own, `mode=sleep`): both end with `ECONNRESET` instead of hanging,
//! and the restarted server serves both clients again; checks a spawn works after
//! the restart, checks a program of a compute cluster may not shut the board down
//! (`mode=refused`, spawned), then asks init to shut down and prints `init-test: N
//! checks, M failed`. The waiter prints `init-test: an in-flight wait ended with
//! ECONNRESET, and the restarted server serves again`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::abi::SIGKILL;
use libnanvix::testing::Checks;
use libnanvix::{Errno, cluster, println, process, programs, thread};
use nanvix_init_api::{InitCallError, InitClient, InitError, ServerEntry};
use nanvix_name_api::{NameCallError, NameClient, NameError};
use nanvix_process_api::{CallError, ProcessCallError, ProcessClient, Termination};

libnanvix::entry!(main);

/// How long to wait for init to report a server's state, in nanoseconds.
const PATIENCE: u64 = 20_000_000_000;

/// The name the waiter links once it is about to call `wait`.
const WAITING_NAME: &str = "init-test-waiting";

/// How long the waiter's child sleeps, in nanoseconds.
const CHILD_SLEEP: u64 = 3_000_000_000;

fn main() -> i32 {
    match process::argument("mode") {
        Some("refused") => refused(),
        Some("waiter") => waiter(),
        Some("sleep") => {
            let _ = thread::sleep_nanoseconds(CHILD_SLEEP);
            0
        }
        _ => client(),
    }
}

/// Whether a call failed because the server's program ended before it answered.
fn was_reset<T>(result: &Result<T, ProcessCallError>) -> bool {
    matches!(
        result,
        Err(ProcessCallError::Call(CallError::Mailbox(
            Errno::ConnectionReset
        )))
    )
}

/// How often a patient look is tried again, in nanoseconds.
const LOOK_INTERVAL: u64 = 10_000_000;

/// Tries `look` every [`LOOK_INTERVAL`] until it gives something, for at most
/// [`PATIENCE`]; what it gave.
fn patiently<T>(mut look: impl FnMut() -> Option<T>) -> Option<T> {
    let mut waited = 0;
    while waited < PATIENCE {
        if let Some(found) = look() {
            return Some(found);
        }
        let _ = thread::sleep_nanoseconds(LOOK_INTERVAL);
        waited += LOOK_INTERVAL;
    }
    None
}

/// Calls `list` until the (restarted) process server answers, for at most
/// [`PATIENCE`]; whether it did. (Not `identify`: the new server does not know a
/// process its earlier incarnation spawned, and refuses to name it.)
fn served_again(processes: &mut ProcessClient) -> bool {
    patiently(|| processes.list().ok()).is_some()
}

/// The node of program slot `slot` of this cluster.
fn node_of(slot: u32) -> u32 {
    cluster::this().map_or(0, |this| this.first_node + slot % this.node_count.max(1))
}

fn number(key: &str) -> Option<u32> {
    process::argument(key).and_then(|value| value.parse().ok())
}

/// Waits until init lists a server named `name` that passes `test`; the entry then.
fn wait_for_server(
    init: &mut InitClient,
    name: &str,
    test: impl Fn(&ServerEntry) -> bool,
) -> Option<ServerEntry> {
    patiently(|| {
        init.servers()
            .ok()
            .and_then(|servers| servers.into_iter().find(|entry| entry.name == name))
            .filter(|entry| test(entry))
    })
}

fn client() -> i32 {
    let (Some(init_node), Some(names_slot), Some(processes_slot)) =
        (number("init"), number("names"), number("processes"))
    else {
        println!("init-test: init=NODE names=SLOT processes=SLOT");
        return 2;
    };
    let Ok(mut init) = InitClient::connect(init_node) else {
        println!("init-test: cannot reach init");
        return 2;
    };
    let mut checks = Checks::new();
    let name_server = wait_for_server(&mut init, "name-server", |entry| entry.running);
    checks.expect(
        "the name server runs in its slot",
        Ok(name_server.map(|entry| entry.slot)),
        Ok(Some(names_slot)),
    );
    let Ok(mut names) = NameClient::connect(node_of(names_slot)) else {
        println!("init-test: cannot reach the name server");
        return 2;
    };
    checks.expect("link a name", Ok(names.link("init-test", 9)), Ok(Ok(())));
    // The name server's program ends as a crash would end it; init starts it again
    // in its slot (policy `always`).
    checks.expect(
        "kill the name server",
        programs::kill(names_slot, SIGKILL),
        Ok(()),
    );
    let restarted = wait_for_server(&mut init, "name-server", |entry| {
        entry.restarts == 1 && entry.running
    });
    checks.expect(
        "init started it again",
        Ok(restarted.map(|entry| entry.last_status)),
        Ok(Some(Some(128 + SIGKILL as i32))),
    );
    checks.expect(
        "the new name server knows nothing of the old one's names",
        Ok(names.lookup("init-test")),
        Ok(Err(NameCallError::Refused(NameError::NotFound))),
    );
    checks.expect(
        "and serves the same clients",
        Ok(names.link("init-test", 9)),
        Ok(Ok(())),
    );
    // The process server likewise (policy `on-failure`: a kill is a failure), while
    // two calls wait in it: this cluster's wait for a waiter on a compute cluster,
    // and that waiter's wait for a child of its own.
    let Ok(mut processes) = ProcessClient::connect(node_of(processes_slot)) else {
        println!("init-test: cannot reach the process server");
        return 2;
    };
    let waiter = processes.spawn_waiting(
        "init-test",
        &[
            "mode=waiter",
            &alloc::format!("processes-node={}", node_of(processes_slot)),
            &alloc::format!("names-node={}", node_of(names_slot)),
        ],
    );
    checks.expect("spawn a waiter", Ok(waiter.is_ok()), Ok(true));
    let waiting = waiter.ok().and_then(|pid| {
        thread::spawn(move || {
            let waited = processes.wait(pid);
            (waited, processes)
        })
        .ok()
    });
    // The waiter links its name just before its own wait.
    let _ = patiently(|| names.lookup(WAITING_NAME).ok());
    let _ = thread::sleep_nanoseconds(200_000_000);
    checks.expect(
        "kill the process server",
        programs::kill(processes_slot, SIGKILL),
        Ok(()),
    );
    let joined = waiting.map(|handle| handle.join());
    let (reset, processes) = match joined {
        Some(Ok((waited, processes))) => (was_reset(&waited), Some(processes)),
        _ => (false, None),
    };
    checks.expect(
        "a call under way when the server's program ended fails with ECONNRESET",
        Ok(reset),
        Ok(true),
    );
    let restarted = wait_for_server(&mut init, "process-server", |entry| {
        entry.restarts == 1 && entry.running
    });
    checks.expect(
        "init started the process server again",
        Ok(restarted.is_some()),
        Ok(true),
    );
    checks.expect(
        "and it serves the reset client again",
        Ok(processes.is_some_and(|mut processes| served_again(&mut processes))),
        Ok(true),
    );
    let spawned = ProcessClient::connect(node_of(processes_slot))
        .map_err(|_| ())
        .and_then(|mut processes| {
            let pid = processes
                .spawn_waiting(
                    "init-test",
                    &["mode=refused", &alloc::format!("init={init_node}")],
                )
                .map_err(|_| ())?;
            processes.wait(pid).map_err(|_| ())
        });
    checks.expect(
        "a compute cluster's program may not shut the board down",
        Ok(spawned),
        Ok(Ok(Termination::Exited(0))),
    );
    let failed_so_far = checks.failed;
    println!(
        "init-test: {} checks, {} failed; shutting down",
        checks.run, failed_so_far
    );
    checks.expect("shut down", Ok(init.shutdown(0)), Ok(Ok(())));
    checks.finish("init-test")
}

/// On a compute cluster: spawns a child that sleeps, links [`WAITING_NAME`] and
/// waits for the child, which the test's kill of the process server cuts short;
/// checks the wait ended with `ECONNRESET` and the restarted server serves this
/// client again.
fn waiter() -> i32 {
    let (Some(processes_node), Some(names_node)) = (number("processes-node"), number("names-node"))
    else {
        return 80;
    };
    let (Ok(mut processes), Ok(mut names)) = (
        ProcessClient::connect(processes_node),
        NameClient::connect(names_node),
    ) else {
        return 81;
    };
    let Ok(child) = processes.spawn_waiting("init-test", &["mode=sleep"]) else {
        return 82;
    };
    if names.link(WAITING_NAME, 0).is_err() {
        return 83;
    }
    let waited = processes.wait(child);
    let reset = was_reset(&waited);
    let served = served_again(&mut processes);
    if reset && served {
        println!(
            "init-test: an in-flight wait ended with ECONNRESET, and the restarted server serves again"
        );
        0
    } else {
        println!("init-test: the in-flight wait ended with {waited:?}; served again: {served}");
        84
    }
}

/// On a compute cluster: asks init to shut down and ends with 0 when refused.
fn refused() -> i32 {
    let Some(init_node) = number("init") else {
        return 90;
    };
    match InitClient::connect(init_node).map(|mut init| init.shutdown(0)) {
        Ok(Err(InitCallError::Refused(InitError::NotPermitted))) => 0,
        Ok(other) => {
            println!("init-test: shutdown from a compute cluster: {other:?}");
            91
        }
        Err(Errno::HostDown) => 92,
        Err(_) => 93,
    }
}
