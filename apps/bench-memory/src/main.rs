//! Benchmark program: a remote-memory page fault's service, and its parts.
//!
//! Arguments:
//! - `mode=run pages=N trials=T` (on a compute cluster; the memory server on the
//!   system's node): for each trial, timed with the `cycles` kcall and printed as
//!   `bench NAME cycles=<cycles per page> bytes=4096`:
//!   - `fault_local`: N first touches of pages a pager thread of this program maps
//!     (zeros) and resumes: the fault, the hand-off to the pager thread and back,
//!     the map;
//!   - `rpc_read_4k`: N reads of 4 KiB of a segment of the memory server (a request
//!     and its reply over mailboxes, the bytes over a portal);
//!   - `fault_remote`: N first touches of pages of a remote heap (`RemoteHeap`, one
//!     for every trial: N × T pages resident, so the cluster's memory must hold
//!     them; an eviction fails the run): a fault served by reading the page from
//!     the server.
//!
//!   Then makes the segment `/bench-done`.
//! - `mode=wait` (on the server's cluster): waits (at most 10 minutes) for
//!   `/bench-done`, and stops the server.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use libnanvix::memory::{self, Page, Pager};
use libnanvix::remote::{PAGE_BYTES, RemoteHeap};
use libnanvix::shm::{self, Shm};
use libnanvix::{clock, println, process, thread};
use nanvix_memory_api::MemoryClient;

libnanvix::entry!(main);

/// Set once the local pager is attached.
static PAGER_READY: AtomicBool = AtomicBool::new(false);

fn main() -> i32 {
    match process::argument("mode") {
        Some("run") => match run() {
            Ok(()) => 0,
            Err(reason) => {
                println!("bench-memory: {reason}");
                let _ = Shm::create("/bench-done", 0o644);
                1
            }
        },
        Some("wait") => wait(),
        _ => {
            println!("bench-memory: mode=run|wait");
            2
        }
    }
}

fn number(key: &str, default: usize) -> usize {
    process::argument(key)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn run() -> Result<(), &'static str> {
    let (pages, trials) = (number("pages", 64).max(1), number("trials", 5).max(1));
    let window = memory::window().map_err(|_| "no MMU window")?;
    // The local pager's pages lie past the remote heap's.
    let local_base = window + (4 << 20);
    let last = local_base + trials * pages * PAGE_BYTES;
    // One local pager for every trial: it maps the pages of a trial, and lets
    // them go when it holds a trial's worth (the cluster's memory holds one
    // trial's pages); it ends at the fault of a page past the trials', so the
    // remote heap's pager can attach.
    let pager = thread::spawn(move || {
        let Ok(pager) = Pager::attach() else {
            return None;
        };
        PAGER_READY.store(true, Ordering::Release);
        let mut mapped: Vec<Page> = Vec::new();
        loop {
            let fault = match pager.next_fault() {
                Ok(fault) => fault,
                Err(errno) => {
                    println!("bench-memory: the local pager's wait failed: {errno}");
                    return None;
                }
            };
            if mapped.len() == pages {
                mapped.clear();
            }
            match Page::map(fault.address & !(PAGE_BYTES - 1), false, true) {
                Ok(page) => mapped.push(page),
                Err(errno) => {
                    println!("bench-memory: the local pager cannot map a page: {errno}");
                    return None;
                }
            }
            let _ = pager.resume(&fault);
            // The pages go with the main thread, after its access ran again.
            if fault.address & !(PAGE_BYTES - 1) == last {
                return Some(mapped);
            }
        }
    })
    .map_err(|_| "cannot start the local pager")?;
    while !PAGER_READY.load(Ordering::Acquire) {
        let _ = thread::sleep_nanoseconds(100_000);
    }
    for trial in 0..trials {
        let base = local_base + trial * pages * PAGE_BYTES;
        let started = clock::cycles();
        for page in 0..pages {
            memory::window_load(base + page * PAGE_BYTES).map_err(|_| "a local fault failed")?;
        }
        let cycles = clock::cycles().wrapping_sub(started) / pages as u64;
        println!("bench fault_local cycles={cycles} bytes=4096");
    }
    memory::window_load(last).map_err(|_| "the local pager's last fault failed")?;
    match pager.join() {
        Ok(Some(mapped)) => drop(mapped),
        _ => return Err("the local pager failed"),
    }
    let segment = Shm::create("/bench-page", 0o600).map_err(|_| "cannot make a segment")?;
    segment
        .set_len(PAGE_BYTES as u64)
        .map_err(|_| "cannot size the segment")?;
    let mut client =
        MemoryClient::connect(shm::memory_server_node()).map_err(|_| "no memory server")?;
    let mut buffer = [0u8; PAGE_BYTES];
    for _ in 0..trials {
        let started = clock::cycles();
        for _ in 0..pages {
            client
                .read("/bench-page", 0, &mut buffer)
                .map_err(|_| "a read failed")?;
        }
        let cycles = clock::cycles().wrapping_sub(started) / pages as u64;
        println!("bench rpc_read_4k cycles={cycles} bytes=4096");
    }
    let _ = shm::shm_unlink("/bench-page");
    let heap = RemoteHeap::new(trials * pages * PAGE_BYTES, trials * pages)
        .map_err(|_| "cannot make a remote heap")?;
    for trial in 0..trials {
        let first = trial * pages * PAGE_BYTES;
        let started = clock::cycles();
        for page in 0..pages {
            heap.load(first + page * PAGE_BYTES)
                .map_err(|_| "a remote fault failed")?;
        }
        let cycles = clock::cycles().wrapping_sub(started) / pages as u64;
        println!("bench fault_remote cycles={cycles} bytes=4096");
    }
    let (_, evictions) = heap.paging();
    if evictions != 0 {
        return Err("the remote heap evicted");
    }
    drop(heap);
    Shm::create("/bench-done", 0o644).map_err(|_| "cannot say done")?;
    Ok(())
}

fn wait() -> i32 {
    for _ in 0..60_000 {
        if Shm::open("/bench-done", false).is_ok() {
            let _ = shm::shm_unlink("/bench-done");
            return match MemoryClient::connect(shm::memory_server_node())
                .map(|mut server| server.stop())
            {
                Ok(Ok(())) => 0,
                _ => {
                    println!("bench-memory: cannot stop the server");
                    1
                }
            };
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
    }
    println!("bench-memory: no run finished");
    1
}
