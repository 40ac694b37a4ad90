//! Test program: powering compute clusters on and off from an I/O cluster.
//!
//! Arguments (`KEY=VALUE`):
//! - `mode=boss` (on an I/O cluster; `worker=CLUSTER` names a free compute
//!   cluster): checks every refusal of `cluster_power_on` and `cluster_power_off`,
//!   powers the worker cluster on with `power-test mode=worker`, waits until it is
//!   on, checks a second power-on is refused, tells the worker to end (a message to
//!   its port 2) and waits until it is idle (warm: on, its program ended, ending
//!   "exit", run 1), runs `mode=quick` on it with arguments too long for one NoC
//!   message (the board carries the request: run 2), then `mode=sleeper` (this
//!   kernel asks the warm cluster's directly; a second request at once is refused
//!   `EBUSY`; the same epoch, run 3), powers it
//!   off with SIGTERM while it sleeps, and checks it is off, not dead, status 143,
//!   ending "killed"; then powers it on with `mode=panicker` (a new epoch) and
//!   checks it idles with ending "fault", kind panic; prints `power-test: N checks,
//!   M failed`, the refusals of `program_stage` among them. Its end leaves the
//!   board no I/O cluster: the runner powers the idle cluster off.
//! - `mode=worker`: checks a compute cluster may not power clusters on or off
//!   or stage programs,
//!   prints `power-test: worker up in epoch E, N checks, M failed`, and ends when the
//!   boss says so.
//! - `mode=sleeper`: prints `power-test: sleeping` and sleeps until powered off.
//! - `mode=panicker`: panics.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::abi::{
    CLUSTER_DEAD, CLUSTER_OFF, CLUSTER_ON, ClusterInfo, ENDED_EXIT, ENDED_FAULT, ENDED_KILLED,
    Errno, FaultKind, Kcall, SIGKILL, SIGNAL_MAX, SIGTERM,
};
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::runtime::kcall;
use libnanvix::testing::Checks;
use libnanvix::{cluster, println, process, thread};

libnanvix::entry!(main);

/// An address no program memory is at.
const WILD: usize = 0x10;

/// The port the worker waits on for the boss's word to end.
const WORKER_PORT: u32 = 2;

/// How long the boss waits for a cluster's state to change.
const PATIENCE_NANOSECONDS: u64 = 20_000_000_000;

fn main() -> i32 {
    match process::argument("mode") {
        Some("boss") => boss(),
        Some("worker") => worker(),
        Some("sleeper") => loop {
            println!("power-test: sleeping");
            let _ = thread::sleep_nanoseconds(60_000_000_000);
        },
        Some("panicker") => panic!("power-test: panicking on purpose"),
        Some("quick") => 0,
        _ => {
            println!("power-test: mode=boss|worker|sleeper|panicker|quick");
            2
        }
    }
}

/// Waits until cluster `index` is in `state`; returns its facts then.
fn wait_for_state(index: usize, state: u32) -> Option<ClusterInfo> {
    wait_for(index, |info| info.state == state)
}

/// Waits until cluster `index`'s facts pass `test`; returns them then.
fn wait_for(index: usize, test: impl Fn(&ClusterInfo) -> bool) -> Option<ClusterInfo> {
    let mut waited = 0;
    while waited < PATIENCE_NANOSECONDS {
        if let Ok(info) = cluster::info(index)
            && test(&info)
        {
            return Some(info);
        }
        let _ = thread::sleep_nanoseconds(5_000_000);
        waited += 5_000_000;
    }
    None
}

fn boss() -> i32 {
    let mut checks = Checks::new();
    let Some(worker) = process::argument("worker").and_then(cluster::find) else {
        println!("power-test: worker=CLUSTER names no cluster of this board");
        return 2;
    };
    let target = worker.index as usize;
    let this = cluster::this().map(|this| this.index as usize).unwrap_or(0);
    let count = cluster::this().map_or(0, |this| this.cluster_count as usize);
    // Refusals: each changes nothing.
    checks.expect(
        "no such cluster",
        cluster::power_on(count, "power-test", &[]),
        Err(Errno::Invalid),
    );
    checks.expect(
        "an I/O cluster",
        cluster::power_on(this, "power-test", &[]),
        Err(Errno::Invalid),
    );
    checks.expect(
        "empty name",
        cluster::power_on(target, "", &[]),
        Err(Errno::Invalid),
    );
    let long = "x".repeat(libnanvix::abi::PROGRAM_NAME_MAX + 1);
    checks.expect(
        "long name",
        cluster::power_on(target, &long, &[]),
        Err(Errno::Invalid),
    );
    checks.expect(
        "no such program",
        cluster::power_on(target, "no-such-program", &[]),
        Err(Errno::NoEntry),
    );
    let wild = |name: usize, name_length: usize, words: usize, words_length: usize| {
        kcall(
            Kcall::ClusterPowerOn,
            [target, name, name_length, words, words_length],
        )
        .map(|_| ())
    };
    checks.expect("wild name", wild(WILD, 4, 0, 0), Err(Errno::Fault));
    let name = "power-test";
    checks.expect(
        "wild arguments",
        wild(name.as_ptr() as usize, name.len(), WILD, 8),
        Err(Errno::Fault),
    );
    let not_utf8 = [0xffu8, 0xfe];
    checks.expect(
        "name not UTF-8",
        wild(not_utf8.as_ptr() as usize, not_utf8.len(), 0, 0),
        Err(Errno::Invalid),
    );
    stage_refusals(&mut checks, target);
    checks.expect(
        "off: no such cluster",
        cluster::power_off(count, SIGKILL),
        Err(Errno::Invalid),
    );
    checks.expect(
        "off: an I/O cluster",
        cluster::power_off(this, SIGKILL),
        Err(Errno::Invalid),
    );
    checks.expect(
        "off: signal 0",
        cluster::power_off(target, 0),
        Err(Errno::Invalid),
    );
    checks.expect(
        "off: a signal past SIGNAL_MAX",
        cluster::power_off(target, SIGNAL_MAX as u32 + 1),
        Err(Errno::Invalid),
    );
    checks.expect(
        "still off, never booted (epoch 0)",
        cluster::info(target).map(|info| (info.state, info.epoch)),
        Ok((CLUSTER_OFF, 0)),
    );
    // The board's generation: a wait with nothing changing times out on it.
    let generation = cluster::wait_for_change(0, 0);
    checks.expect(
        "no change: the wait times out",
        Ok(cluster::wait_for_change(generation, 1_000_000)),
        Ok(generation),
    );
    // On, then off by itself when its program ends.
    checks.expect(
        "power on",
        cluster::power_on(target, "power-test", &["mode=worker"]),
        Ok(()),
    );
    checks.expect(
        "the boot moves the generation",
        Ok(cluster::wait_for_change(generation, 20_000_000_000) != generation),
        Ok(true),
    );
    let first = wait_for_state(target, CLUSTER_ON);
    checks.expect("worker on", Ok(first.is_some()), Ok(true));
    let epoch = first.map_or(0, |info| info.epoch);
    // The worker waits for our word before it ends: a second request while it is
    // on is refused.
    checks.expect(
        "power on twice",
        cluster::power_on(target, "power-test", &["mode=worker"]),
        Err(Errno::Busy),
    );
    let told = Outbox::open(worker.first_node, WORKER_PORT).and_then(|outbox| outbox.write(b"end"));
    checks.expect("tell the worker to end", told, Ok(()));
    // A cluster powered on by request stays on, idle (warm), when its program ends.
    checks.expect(
        "worker ended: idle, status 0, ending exit, its epoch, run 1",
        Ok(wait_for(target, |info| info.idle == 1).map(|info| {
            (
                info.state,
                info.status,
                info.ending,
                info.fault,
                info.epoch,
                info.run,
            )
        })),
        Ok(Some((CLUSTER_ON, 0, ENDED_EXIT, 0, epoch, 1))),
    );
    // Another program on the warm cluster, with arguments too long for one NoC
    // message (the board carries the request): the same epoch, its next run.
    let padding = alloc::format!("pad={}", "x".repeat(200));
    checks.expect(
        "power on the idle cluster again, through the board",
        cluster::power_on(target, "power-test", &["mode=quick", &padding]),
        Ok(()),
    );
    checks.expect(
        "warm: the same epoch, run 2, ended",
        Ok(wait_for(target, |info| info.run == 2 && info.idle == 1)
            .map(|info| (info.state, info.epoch, info.status))),
        Ok(Some((CLUSTER_ON, epoch, 0))),
    );
    // And one whose request fits a message: this cluster's kernel asks the warm
    // cluster's directly; a second request before the board counted that run finds
    // it taken. Then off on request while that program sleeps.
    checks.expect(
        "power on the idle cluster a third time, directly",
        cluster::power_on(target, "power-test", &["mode=sleeper"]),
        Ok(()),
    );
    checks.expect(
        "a second request at once: taken",
        cluster::power_on(target, "power-test", &["mode=sleeper"]),
        Err(Errno::Busy),
    );
    let third = wait_for(target, |info| info.run == 3 && info.idle == 0);
    checks.expect(
        "warm: the same epoch, run 3",
        Ok(third.map(|info| (info.state, info.epoch))),
        Ok(Some((CLUSTER_ON, epoch))),
    );
    checks.expect(
        "power off with SIGTERM",
        cluster::power_off(target, SIGTERM),
        Ok(()),
    );
    let off = wait_for_state(target, CLUSTER_OFF);
    checks.expect(
        "off, not dead, killed (128 + SIGTERM)",
        Ok(off.map(|info| (info.status, info.ending))),
        Ok(Some((143, ENDED_KILLED))),
    );
    checks.expect(
        "never dead",
        cluster::info(target).map(|info| info.state == CLUSTER_DEAD),
        Ok(false),
    );
    checks.expect(
        "off again: nothing to do",
        cluster::power_off(target, SIGKILL),
        Ok(()),
    );
    // A program that panics: the cluster's ending names the fault.
    checks.expect(
        "power on a panicker",
        cluster::power_on(target, "power-test", &["mode=panicker"]),
        Ok(()),
    );
    // It was off: this boots it, in a new epoch; it panics, and idles.
    let killed_epoch = off.map_or(0, |info| info.epoch);
    let panicked = wait_for(target, |info| info.idle == 1 && info.epoch > killed_epoch);
    checks.expect(
        "off with a panic fault",
        Ok(panicked.map(|info| {
            (
                info.status != 0,
                info.ending,
                FaultKind::from_code(info.fault),
            )
        })),
        Ok(Some((true, ENDED_FAULT, Some(FaultKind::Panic)))),
    );
    checks.finish("power-test")
}

/// Every refusal of `program_stage`, each of which stages nothing.
fn stage_refusals(checks: &mut Checks, target: usize) {
    let stage = |name: usize, name_length: usize, elf: usize, elf_length: usize, out: usize| {
        kcall(
            Kcall::ProgramStage,
            [name, name_length, elf, elf_length, out],
        )
    };
    let mut out = [0u8; libnanvix::abi::PROGRAM_NAME_MAX];
    let out_address = out.as_mut_ptr() as usize;
    let elf = b"\x7fELF not really";
    for (what, name) in [
        ("empty name", ""),
        ("a name with a slash", "a/b"),
        ("a name with an at", "a@b"),
        ("a name of dots", ".."),
        ("a name over 32 bytes", "abcdefghijklmnopqrstuvwxyz0123456"),
    ] {
        checks.expect(
            what,
            stage(
                name.as_ptr() as usize,
                name.len(),
                elf.as_ptr() as usize,
                elf.len(),
                out_address,
            )
            .map(|_| ()),
            Err(Errno::Invalid),
        );
    }
    let name = "staged";
    let named = name.as_ptr() as usize;
    checks.expect(
        "stage: wild name",
        stage(WILD, 4, elf.as_ptr() as usize, elf.len(), out_address).map(|_| ()),
        Err(Errno::Fault),
    );
    checks.expect(
        "stage: wild name out",
        stage(named, name.len(), elf.as_ptr() as usize, elf.len(), WILD).map(|_| ()),
        Err(Errno::Fault),
    );
    checks.expect(
        "stage: wild ELF",
        stage(named, name.len(), WILD, 4096, out_address).map(|_| ()),
        Err(Errno::Fault),
    );
    checks.expect(
        "stage: an ELF over PROGRAM_STAGE_MAX",
        stage(
            named,
            name.len(),
            elf.as_ptr() as usize,
            libnanvix::abi::PROGRAM_STAGE_MAX + 1,
            out_address,
        )
        .map(|_| ()),
        Err(Errno::FileTooLarge),
    );
    checks.expect(
        "stage: not a program",
        cluster::stage_program(name, elf).map(|_| ()),
        Err(Errno::ExecFormat),
    );
    checks.expect(
        "stage: nothing",
        cluster::stage_program(name, &[]).map(|_| ()),
        Err(Errno::ExecFormat),
    );
    // Nothing was staged: no name of the staged form runs.
    checks.expect(
        "a staged name nothing was staged under",
        cluster::power_on(target, "staged@0123456789abcdef", &[]),
        Err(Errno::NoEntry),
    );
}

fn worker() -> i32 {
    let mut checks = Checks::new();
    let this = cluster::this().map(|this| this.index as usize).unwrap_or(0);
    checks.expect(
        "on from a compute cluster",
        cluster::power_on(this, "power-test", &[]),
        Err(Errno::Access),
    );
    checks.expect(
        "off from a compute cluster",
        cluster::power_off(this, SIGKILL),
        Err(Errno::Access),
    );
    checks.expect(
        "staging from a compute cluster",
        cluster::stage_program("x", b"\x7fELF"),
        Err(Errno::Access),
    );
    let epoch = cluster::this().map_or(0, |this| this.epoch);
    println!(
        "power-test: worker up in epoch {epoch}, {} checks, {} failed",
        checks.run, checks.failed
    );
    // Ends when the boss says so.
    let mut word = [0u8; 8];
    if let Err(errno) = Inbox::create(WORKER_PORT).and_then(|inbox| inbox.read(&mut word)) {
        println!("power-test: waiting for the boss's word: {errno}");
        return 1;
    }
    checks.failed as i32
}
