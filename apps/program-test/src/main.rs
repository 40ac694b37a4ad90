//! Test program: starting, waiting for and ending programs of an I/O cluster
//! (`program_spawn`, `program_wait`, `program_kill`).
//!
//! Arguments (`KEY=VALUE`):
//! - `mode=boss` (on an I/O cluster, as its first program): starts children and
//!   waits for their statuses, fills a named slot and checks a second start there is
//!   refused, waits with timeouts, kills a sleeper (status 143), checks a child's
//!   node and id follow its slot, starts and waits for 30 children one after another
//!   (their memory must come back), waits for a panicking child (101), checks every
//!   refusal, runs clean programs in the slots failing children held (so the
//!   cluster powers off with 0), and prints `program-test: N checks, M failed`.
//! - `mode=compute` (on a compute cluster): checks starting and ending programs is
//!   refused there; prints `program-test: compute, N checks, M failed`.
//! - `mode=exit status=N`: ends with N. `mode=sleep`: sleeps until killed.
//!   `mode=where`: ends with its node * 100 + its id. `mode=panic`: panics.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libnanvix::abi::{Errno, Kcall, PROGRAM_ANY, PROGRAMS_MAX, SpawnOptions};
use libnanvix::runtime::kcall;
use libnanvix::signal::SIGTERM;
use libnanvix::testing::Checks;
use libnanvix::{cluster, println, process, programs, thread};

libnanvix::entry!(main);

/// An address no program memory is at.
const WILD: usize = 0x10;

/// The slot the boss fills on purpose.
const SLOT: u32 = 5;

fn main() -> i32 {
    match process::argument("mode") {
        Some("boss") => boss(),
        Some("compute") => compute(),
        Some("exit") => process::argument("status")
            .and_then(|status| status.parse().ok())
            .unwrap_or(1),
        Some("sleep") => loop {
            let _ = thread::sleep_nanoseconds(60_000_000_000);
        },
        Some("where") => (process::node() * 100 + process::id()) as i32,
        Some("panic") => panic!("program-test: panicking on purpose"),
        _ => {
            println!("program-test: mode=boss|compute|exit|sleep|where|panic");
            2
        }
    }
}

/// Starts `arguments` and waits for its end; its status.
fn run(arguments: &[&str], slot: Option<u32>) -> Result<i32, Errno> {
    let id = programs::spawn("program-test", arguments, slot)?;
    programs::wait(id, None)
}

fn boss() -> i32 {
    let mut checks = Checks::new();
    // The boss is program 0: the lowest free slot is 1.
    let child = programs::spawn("program-test", &["mode=exit", "status=7"], None);
    checks.expect("spawn: the lowest free slot", child, Ok(1));
    checks.expect("wait: its status", programs::wait(1, None), Ok(7));
    checks.expect(
        "wait again: the status stays",
        programs::wait(1, Some(0)),
        Ok(7),
    );
    // A named slot: taken while its program runs.
    checks.expect(
        "spawn a sleeper in a named slot",
        programs::spawn("program-test", &["mode=sleep"], Some(SLOT)),
        Ok(SLOT),
    );
    checks.expect(
        "spawn in a busy slot",
        programs::spawn("program-test", &["mode=sleep"], Some(SLOT)),
        Err(Errno::Busy),
    );
    checks.expect(
        "wait without waiting: it runs",
        programs::wait(SLOT, Some(0)),
        Err(Errno::Again),
    );
    checks.expect(
        "wait 1 ms: it runs",
        programs::wait(SLOT, Some(1_000_000)),
        Err(Errno::Again),
    );
    checks.expect("kill it", programs::kill(SLOT, SIGTERM), Ok(()));
    checks.expect("killed: 128 + SIGTERM", programs::wait(SLOT, None), Ok(143));
    checks.expect(
        "kill it again",
        programs::kill(SLOT, SIGTERM),
        Err(Errno::NoEntry),
    );
    // Its node and id follow the slot.
    let this = cluster::this().ok();
    let expected = this.map_or(0, |this| {
        (this.first_node + SLOT % this.node_count) * 100 + SLOT
    }) as i32;
    checks.expect(
        "a program started again in its slot: node and id",
        run(&["mode=where"], Some(SLOT)),
        Ok(expected),
    );
    // Memory comes back: far more children than the SRAM holds at once.
    let mut all_ended = Ok(0);
    for round in 0..30 {
        match run(&["mode=exit", "status=0"], None) {
            Ok(0) => {}
            other => {
                println!("program-test: child {round}: {other:?}");
                all_ended = other;
                break;
            }
        }
    }
    checks.expect("30 children one after another", all_ended, Ok(0));
    checks.expect("a panicking child", run(&["mode=panic"], None), Ok(101));
    // Refusals.
    checks.expect(
        "spawn: no such program",
        programs::spawn("no-such-program", &[], None),
        Err(Errno::NoEntry),
    );
    checks.expect(
        "spawn: an empty name",
        programs::spawn("", &[], None),
        Err(Errno::Invalid),
    );
    checks.expect(
        "spawn: a slot past PROGRAMS_MAX",
        programs::spawn("program-test", &[], Some(PROGRAMS_MAX as u32)),
        Err(Errno::Invalid),
    );
    let not_utf8 = [0xffu8, 0xfe];
    checks.expect(
        "spawn: a name not UTF-8",
        raw_spawn(not_utf8.as_ptr() as usize, not_utf8.len(), 0, 0),
        Err(Errno::Invalid),
    );
    checks.expect(
        "spawn: a wild name",
        raw_spawn(WILD, 4, 0, 0),
        Err(Errno::Fault),
    );
    let name = "program-test";
    checks.expect(
        "spawn: wild arguments",
        raw_spawn(name.as_ptr() as usize, name.len(), WILD, 8),
        Err(Errno::Fault),
    );
    checks.expect(
        "spawn: wild options",
        raw_spawn_with(name.as_ptr() as usize, name.len(), 0, 0, WILD),
        Err(Errno::Fault),
    );
    checks.expect(
        "spawn: a stack under 4 KiB",
        programs::spawn_with("program-test", &[], None, (0, 1024)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "spawn: a heap larger than the cluster",
        programs::spawn_with("program-test", &[], None, (1 << 40, 0)),
        Err(Errno::NoMemory),
    );
    checks.expect(
        "a child with a heap and stack of its own",
        programs::spawn_with(
            "program-test",
            &["mode=exit", "status=0"],
            None,
            (256 * 1024, 16 * 1024),
        )
        .and_then(|id| programs::wait(id, None)),
        Ok(0),
    );
    checks.expect(
        "wait: an id past PROGRAMS_MAX",
        programs::wait(PROGRAMS_MAX as u32, Some(0)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "wait: an id never used",
        programs::wait(9, Some(0)),
        Err(Errno::NoEntry),
    );
    checks.expect(
        "kill: an id never used",
        programs::kill(9, SIGTERM),
        Err(Errno::NoEntry),
    );
    checks.expect("kill: signal 0", programs::kill(1, 0), Err(Errno::Invalid));
    // The cluster's status is the worst of the programs its slots hold at the end:
    // clean ones take the slots the failing children held.
    checks.expect(
        "clean programs in the used slots",
        run(&["mode=exit", "status=0"], Some(1))
            .and_then(|_| run(&["mode=exit", "status=0"], Some(SLOT))),
        Ok(0),
    );
    checks.finish("program-test")
}

/// `program_spawn` with raw pointers (for wild ones) and good options.
fn raw_spawn(
    name: usize,
    name_length: usize,
    words: usize,
    words_length: usize,
) -> Result<u32, Errno> {
    let options = SpawnOptions {
        slot: PROGRAM_ANY,
        heap_bytes: 0,
        stack_bytes: 0,
    }
    .to_bytes();
    raw_spawn_with(
        name,
        name_length,
        words,
        words_length,
        options.as_ptr() as usize,
    )
}

/// `program_spawn` with raw pointers throughout.
fn raw_spawn_with(
    name: usize,
    name_length: usize,
    words: usize,
    words_length: usize,
    options: usize,
) -> Result<u32, Errno> {
    kcall(
        Kcall::ProgramSpawn,
        [name, name_length, words, words_length, options],
    )
    .map(|id| id as u32)
}

fn compute() -> i32 {
    let mut checks = Checks::new();
    checks.expect(
        "spawn on a compute cluster",
        programs::spawn("program-test", &["mode=exit"], None),
        Err(Errno::Access),
    );
    checks.expect(
        "kill on a compute cluster",
        programs::kill(process::id(), SIGTERM),
        Err(Errno::Access),
    );
    checks.expect(
        "wait for itself without waiting",
        programs::wait(process::id(), Some(0)),
        Err(Errno::Again),
    );
    println!(
        "program-test: compute, {} checks, {} failed",
        checks.run, checks.failed
    );
    checks.failed as i32
}
