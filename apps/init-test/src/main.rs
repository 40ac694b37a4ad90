//! Test program: init supervising servers: restarts, and an orderly shutdown.
//!
//! Runs on the boot I/O cluster beside init (`init=NODE` names init's node;
//! `names=SLOT` and `processes=SLOT` the name and process servers' slots). Waits
//! until both servers run, links a name, kills the name server's program (as a
//! crash would end it), waits until init started it again, checks the new one
//! serves (the old name is gone with the old server; linking works), kills the
//! process server and checks a spawn works after its restart, checks a program of a
//! compute cluster may not shut the board down (`mode=refused`, spawned), then asks
//! init to shut down and prints `init-test: N checks, M failed`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::abi::SIGKILL;
use libnanvix::testing::Checks;
use libnanvix::{Errno, cluster, println, process, programs, thread};
use nanvix_init_api::{InitCallError, InitClient, InitError, ServerEntry};
use nanvix_name_api::{NameCallError, NameClient, NameError};
use nanvix_process_api::{ProcessClient, Termination};

libnanvix::entry!(main);

/// How long to wait for init to report a server's state, in nanoseconds.
const PATIENCE: u64 = 20_000_000_000;

fn main() -> i32 {
    match process::argument("mode") {
        Some("refused") => refused(),
        _ => client(),
    }
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
    let mut waited = 0;
    while waited < PATIENCE {
        if let Some(entry) = init
            .servers()
            .ok()
            .and_then(|servers| servers.into_iter().find(|entry| entry.name == name))
            .filter(|entry| test(entry))
        {
            return Some(entry);
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
        waited += 10_000_000;
    }
    None
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
    // The process server likewise (policy `on-failure`: a kill is a failure).
    checks.expect(
        "kill the process server",
        programs::kill(processes_slot, SIGKILL),
        Ok(()),
    );
    let restarted = wait_for_server(&mut init, "process-server", |entry| {
        entry.restarts == 1 && entry.running
    });
    checks.expect(
        "init started the process server again",
        Ok(restarted.is_some()),
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
