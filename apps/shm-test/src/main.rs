//! Test program: shared memory across clusters on the memory server.
//!
//! Arguments:
//! - `mode=users init=NODE` (a program of the system, root): runs itself as alice
//!   with `mode=write` and then `mode=read` (each on a compute cluster), as bob
//!   with `mode=bob`, each to end with 0; then, as root, reads alice's segment and
//!   removes it, and asks init to shut down. Prints `shm-test: users: N checks, 0
//!   failed`.
//! - `mode=write` (alice): makes `/notes` (mode 0600) of 100 000 bytes, maps it,
//!   writes a pattern, syncs part of it and unmaps; is refused a segment past her
//!   quota (`ENOMEM`). Prints `shm-test: write: ...`.
//! - `mode=read` (alice, another process): maps `/notes` and finds the pattern.
//! - `mode=bob`: is refused alice's segment (`EACCES`) and its removal; makes and
//!   removes one of his own.
//! - `mode=remote` (bob, who has no quota): a remote heap of 8 MiB (four times the
//!   compute cluster's SRAM) with up to 1024 pages resident (more than the
//!   cluster's memory holds: the pager evicts when a page cannot be mapped): writes
//!   a pattern over every byte, reads it all back, and checks the pager served a
//!   fault for each page each pass, evicted, and wrote the written pages back; reads
//!   every page again and checks no clean page was written back; stores to a page
//!   paged in by a read and finds the store after the page's eviction. Prints
//!   `shm-test: remote: N checks, 0 failed` and `shm-test: remote: F faults, E
//!   evictions, W written back`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use libnanvix::posix::{self, Termination};
use libnanvix::remote::{PAGE_BYTES, RemoteHeap};
use libnanvix::shm::{Shm, shm_unlink};
use libnanvix::testing::Checks;
use libnanvix::{Errno, println, process};
use nanvix_init_api::InitClient;
use nanvix_process_api::ProcessClient;

libnanvix::entry!(main);

/// Alice's user id.
const ALICE: u32 = 1000;
/// Bob's.
const BOB: u32 = 1001;
/// Bytes of alice's segment.
const NOTES_BYTES: usize = 100_000;

fn pattern() -> Vec<u8> {
    (0..NOTES_BYTES)
        .map(|index| {
            (index as u8)
                .wrapping_mul(7)
                .wrapping_add((index >> 8) as u8)
        })
        .collect()
}

fn main() -> i32 {
    match process::argument("mode") {
        Some("users") => users(),
        Some("write") => write(),
        Some("read") => read(),
        Some("bob") => bob(),
        Some("remote") => remote(),
        _ => {
            println!("shm-test: mode=users|write|read|bob");
            2
        }
    }
}

/// Runs this program as `user` with `mode` on a compute cluster; how it ended.
fn run_as(processes: &mut ProcessClient, user: u32, mode: &str) -> Option<Termination> {
    let mode = format!("mode={mode}");
    let pid = processes
        .spawn_with("shm-test", &[&mode], true, Some(user))
        .ok()?;
    processes.wait(pid).ok()
}

fn users() -> i32 {
    let mut checks = Checks::new();
    let mut processes = None;
    for _ in 0..500 {
        if let Ok(client) = ProcessClient::connect(posix::process_server_node()) {
            processes = Some(client);
            break;
        }
    }
    let Some(mut processes) = processes else {
        println!("shm-test: no process server");
        return 1;
    };
    let exited = Some(Termination::Exited(0));
    checks.same(
        "alice writes",
        run_as(&mut processes, ALICE, "write"),
        exited,
    );
    checks.same("alice reads", run_as(&mut processes, ALICE, "read"), exited);
    checks.same("bob is refused", run_as(&mut processes, BOB, "bob"), exited);
    checks.same(
        "bob's remote heap",
        run_as(&mut processes, BOB, "remote"),
        exited,
    );
    let seen = Shm::open("/notes", false).and_then(|notes| notes.map());
    checks.same(
        "root sees alice's bytes",
        seen.map(|mapping| mapping[..] == pattern()[..]),
        Ok(true),
    );
    checks.same("root removes it", shm_unlink("/notes"), Ok(()));
    checks.same(
        "gone",
        Shm::open("/notes", false).map(drop),
        Err(Errno::NoEntry),
    );
    let status = checks.finish("shm-test: users");
    let init = process::argument("init").and_then(|node| node.parse().ok());
    if let Some(Ok(mut init)) = init.map(InitClient::connect) {
        let _ = init.shutdown(status);
    }
    status
}

fn write() -> i32 {
    let mut checks = Checks::new();
    let notes = Shm::create("/notes", 0o600);
    checks.same("create", notes.as_ref().map(drop), Ok(()));
    let Ok(notes) = notes else {
        return checks.finish("shm-test: write");
    };
    checks.same("set its size", notes.set_len(NOTES_BYTES as u64), Ok(()));
    let mapping = notes.map();
    checks.same(
        "map it: zeros",
        mapping
            .as_ref()
            .map(|mapping| mapping.iter().all(|byte| *byte == 0)),
        Ok(true),
    );
    if let Ok(mut mapping) = mapping {
        mapping.copy_from_slice(&pattern());
        checks.same("msync", mapping.sync(), Ok(()));
        checks.same("munmap", mapping.unmap(), Ok(()));
    }
    checks.same(
        "a second name",
        Shm::create("/notes", 0o600).map(drop),
        Err(Errno::Exists),
    );
    let big = Shm::create("/big", 0o600);
    checks.same(
        "past her quota",
        big.and_then(|big| big.set_len(2 << 20)),
        Err(Errno::NoMemory),
    );
    checks.same("remove the other", shm_unlink("/big"), Ok(()));
    checks.finish("shm-test: write")
}

fn read() -> i32 {
    let mut checks = Checks::new();
    let seen = Shm::open("/notes", true).and_then(|notes| notes.map());
    checks.same(
        "what she wrote from another cluster",
        seen.map(|mapping| mapping[..] == pattern()[..]),
        Ok(true),
    );
    checks.finish("shm-test: read")
}

fn bob() -> i32 {
    let mut checks = Checks::new();
    checks.same(
        "open alice's",
        Shm::open("/notes", false).map(drop),
        Err(Errno::Access),
    );
    checks.same("remove alice's", shm_unlink("/notes"), Err(Errno::Access));
    let own = Shm::create("/bob", 0o644).and_then(|own| own.set_len(4096));
    checks.same("his own", own, Ok(()));
    checks.same("remove his own", shm_unlink("/bob"), Ok(()));
    checks.finish("shm-test: bob")
}

/// Bytes of the remote heap.
const HEAP_BYTES: usize = 8 << 20;
/// Its pages resident at once at most: 4 MiB, more than the cluster's memory
/// holds, so the cluster's memory, not the budget, bounds them.
const RESIDENT_PAGES: usize = 1024;

fn remote() -> i32 {
    let mut checks = Checks::new();
    let heap = match RemoteHeap::new(HEAP_BYTES, RESIDENT_PAGES) {
        Ok(heap) => heap,
        Err(errno) => {
            println!("shm-test: no remote heap: {errno}");
            return 1;
        }
    };
    let value = |offset: usize| (offset as u8) ^ ((offset >> 12) as u8);
    let mut stored = true;
    for offset in 0..HEAP_BYTES {
        stored &= heap.store(offset, value(offset)).is_ok();
    }
    checks.same("every byte stored", stored, true);
    let mut intact = true;
    for offset in 0..HEAP_BYTES {
        intact &= heap.load(offset) == Ok(value(offset));
    }
    checks.same("every byte read back", intact, true);
    let (faults, evictions) = heap.paging();
    let pages = (HEAP_BYTES / PAGE_BYTES) as u64;
    checks.same("a fault a page each pass", faults >= 2 * pages, true);
    checks.same(
        "pages evicted",
        evictions >= 2 * pages - RESIDENT_PAGES as u64,
        true,
    );
    checks.same(
        "written pages written back",
        heap.write_backs() >= pages - RESIDENT_PAGES as u64,
        true,
    );
    // A second pass that only reads evicts clean pages: nothing written back.
    let before = heap.write_backs();
    let read_again = (0..HEAP_BYTES)
        .step_by(PAGE_BYTES)
        .all(|offset| heap.load(offset) == Ok(value(offset)));
    checks.same("read again", read_again, true);
    checks.same("clean pages go unwritten", heap.write_backs(), before);
    // A page paged in by a read, then written: written back when evicted.
    let _ = heap.load(0);
    checks.same("a store to a clean page", heap.store(0, 0xab), Ok(()));
    let swept = (PAGE_BYTES..HEAP_BYTES)
        .step_by(PAGE_BYTES)
        .all(|offset| heap.load(offset).is_ok());
    checks.same(
        "the page evicted",
        swept && heap.write_backs() > before,
        true,
    );
    checks.same("and its store kept", heap.load(0), Ok(0xab));
    checks.same(
        "outside the heap",
        heap.load(HEAP_BYTES),
        Err(Errno::Invalid),
    );
    let (faults, evictions) = heap.paging();
    let write_backs = heap.write_backs();
    println!(
        "shm-test: remote: {faults} faults, {evictions} evictions, {write_backs} written back"
    );
    checks.finish("shm-test: remote")
}
