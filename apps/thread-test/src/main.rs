//! Test program: threads — more of them than the cluster has cores, joins, yields,
//! the per-cluster limit, a panicking thread, and every error of the thread kcalls —
//! and the sync module: a mutex, a semaphore ping-pong, a condition broadcast, and
//! their errors.
//!
//! Prints one line per failed check and a summary `thread-test: N checks, M failed`;
//! exits with the number of failures.
//!
//! Other modes, by argument: `end=exit` and `end=return` end the program while
//! its other threads spin, block and sleep (by `exit(7)` on another thread, or by
//! `main` returning 5); `linger` sleeps 300 ms and ends with 0. `grant-give` (program
//! 0 of its cluster) and `grant-take` (program 1) share a page by `memory_grant`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use libnanvix::abi::{Errno, Kcall, THREAD_STACK_MIN, THREADS_MAX};
use libnanvix::runtime::kcall;
use libnanvix::sync::{Condvar, Mutex, Semaphore};
use libnanvix::{clock, println, process, thread};

libnanvix::entry!(main);

struct Checks {
    run: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, name: &str, passed: bool) {
        self.run += 1;
        if !passed {
            self.failed += 1;
            println!("FAIL {name}");
        }
    }
}

/// Threads this program runs at once in the first check: more than the three user
/// cores of a tiny board's cluster.
const WORKERS: u64 = 10;

fn work(seed: u64) -> u64 {
    let mut total: u64 = 0;
    for step in 0..20_000u64 {
        total = total.wrapping_add(step * seed);
        if step % 5_000 == 0 {
            thread::yield_now();
        }
    }
    total
}

fn main() -> i32 {
    match process::arguments().nth(1) {
        None => {}
        Some(mode @ "end=exit") => return end_while_threads_run(mode, true),
        Some(mode @ "end=return") => return end_while_threads_run(mode, false),
        Some("grant-give") => return grant_give(),
        Some("grant-take") => return grant_take(),
        Some("linger") => {
            let _ = thread::sleep_nanoseconds(300_000_000);
            return 0;
        }
        Some(argument) => {
            println!("thread-test: unknown argument {argument}");
            return 2;
        }
    }
    let mut checks = Checks { run: 0, failed: 0 };

    // More threads than cores, each with its own result.
    let handles: Vec<_> = (1..=WORKERS)
        .map(|seed| thread::spawn(move || work(seed)))
        .collect();
    let mut all_joined = true;
    for (seed, handle) in (1..=WORKERS).zip(handles) {
        match handle.map(thread::JoinHandle::join) {
            Ok(Ok(total)) if total == work(seed) => {}
            other => {
                all_joined = false;
                println!("worker {seed}: {:?}", other.map(|joined| joined.is_ok()));
            }
        }
    }
    checks.check("10 threads on 3 cores all run and join", all_joined);

    // Errors of join.
    let own = thread::current().map(|id| id.0).unwrap_or(0);
    let join = |id: usize| kcall(Kcall::ThreadJoin, [id, 0, 0, 0, 0]);
    checks.check("join self is EDEADLK", join(own) == Err(Errno::Deadlock));
    checks.check(
        "join unknown is ESRCH",
        join(1_000_000) == Err(Errno::NoSuchThread),
    );
    let short = thread::spawn(|| 7u32);
    let id = short.as_ref().map(|handle| handle.id().0).unwrap_or(0);
    checks.check(
        "a value comes back",
        short.map(thread::JoinHandle::join) == Ok(Ok(7)),
    );
    checks.check("join twice is ESRCH", join(id) == Err(Errno::NoSuchThread));
    let main_thread = own;
    let joins_main = thread::spawn(move || kcall(Kcall::ThreadJoin, [main_thread, 0, 0, 0, 0]));
    checks.check(
        "joining the main thread is EINVAL",
        joins_main.map(thread::JoinHandle::join) == Ok(Ok(Err(Errno::Invalid))),
    );

    // Errors of create: each refused, nothing started.
    let mut stack = alloc::vec![0u8; THREAD_STACK_MIN];
    let stack_at = stack.as_mut_ptr() as usize;
    let create = |entry: usize, stack: usize, size: usize| {
        kcall(Kcall::ThreadCreate, [entry, 0, stack, size, 0])
    };
    let entry = work as fn(u64) -> u64 as usize;
    checks.check(
        "entry outside the image is EINVAL",
        create(0x10, stack_at, THREAD_STACK_MIN) == Err(Errno::Invalid),
    );
    checks.check(
        "a small stack is EINVAL",
        create(entry, stack_at, THREAD_STACK_MIN - 16) == Err(Errno::Invalid),
    );
    checks.check(
        "a wild stack is EFAULT",
        create(entry, 0x10, THREAD_STACK_MIN) == Err(Errno::Fault),
    );
    drop(stack);

    // The limit: ended but unjoined threads count, so they pile up to THREADS_MAX.
    let mut parked = Vec::new();
    let refusal = loop {
        match thread::spawn_with_stack(THREAD_STACK_MIN, || 1u8) {
            Ok(handle) => parked.push(handle),
            Err(errno) => break errno,
        }
        if parked.len() > THREADS_MAX {
            break Errno::InputOutput;
        }
    };
    checks.check("past the limit is EAGAIN", refusal == Errno::Again);
    checks.check(
        "the limit is THREADS_MAX with the main thread",
        parked.len() == THREADS_MAX - 1,
    );
    let joined = parked
        .into_iter()
        .map(thread::JoinHandle::join)
        .filter(|value| *value == Ok(1))
        .count();
    checks.check(
        "every thread under the limit joins",
        joined == THREADS_MAX - 1,
    );
    checks.check(
        "threads start again after joins",
        thread::spawn(|| 2u8).map(thread::JoinHandle::join) == Ok(Ok(2)),
    );

    // A panicking thread is reported and ends alone; the program goes on.
    let panicking = thread::spawn(|| -> u8 { panic!("thread-test: deliberate panic") });
    checks.check(
        "a panicked thread joins with EIO",
        panicking.map(thread::JoinHandle::join) == Ok(Err(Errno::InputOutput)),
    );

    // Sleep and wakeup: whether the wakeup comes before or after the sleep, the
    // sleeper goes on (a wakeup is kept, one at a time).
    let sleeper = thread::spawn(thread::sleep);
    let woken = sleeper
        .as_ref()
        .map(|handle| thread::wakeup(handle.id()))
        .is_ok_and(|woken| woken.is_ok());
    checks.check(
        "a sleeper wakes",
        woken && sleeper.map(thread::JoinHandle::join) == Ok(Ok(Ok(()))),
    );
    checks.check(
        "waking nobody is ESRCH",
        thread::wakeup(thread::ThreadId(1_000_000)) == Err(Errno::NoSuchThread),
    );

    // A faulting thread is reported and ended alone; the program goes on.
    let faulting = thread::spawn(|| -> u8 { deliberate_fault() });
    checks.check(
        "a faulted thread joins with EIO",
        faulting.map(thread::JoinHandle::join) == Ok(Err(Errno::InputOutput)),
    );

    // A page of the window, once unmapped, faults again: the reader is ended.
    let stray = thread::spawn(|| -> u8 {
        let address = libnanvix::memory::window().unwrap_or(0) + (1 << 20);
        match libnanvix::memory::Page::map(address, false, true) {
            Ok(page) => {
                let _ = page.unmap();
                libnanvix::runtime::pages::read_on_purpose(address)
            }
            Err(_) => 0,
        }
    });
    checks.check(
        "reading an unmapped page ends the reader",
        stray.map(thread::JoinHandle::join) == Ok(Err(Errno::InputOutput)),
    );

    preemption_check(&mut checks);
    sync_checks(&mut checks);
    pager_checks(&mut checks);

    println!(
        "thread-test: {} checks, {} failed",
        checks.run, checks.failed
    );
    checks.failed as i32
}

/// Spins in program code for `nanoseconds`.
fn spin_for(nanoseconds: u64) {
    let start = clock::monotonic_nanoseconds().unwrap_or(0);
    while clock::monotonic_nanoseconds().unwrap_or(u64::MAX) < start + nanoseconds {
        core::hint::spin_loop();
    }
}

/// Starts threads that spin in program code (saying so every 20 ms), block on a
/// semaphore nobody raises, sleep for a wakeup that never comes, and join the
/// spinner; then ends the program: by `exit(7)` on another thread while the main
/// thread waits in a join (`from_thread`), or by returning 5 from `main`. The
/// kernel ends every thread before it reports the program's end, so no spinner
/// line follows that report.
fn end_while_threads_run(mode: &'static str, from_thread: bool) -> i32 {
    let spinner = thread::spawn(move || {
        loop {
            println!("{mode}: the spinner still runs");
            spin_for(20_000_000);
        }
    });
    let never = Arc::new(Semaphore::new(0).expect("semaphore"));
    let _blocked = thread::spawn(move || never.down());
    let _sleeper = thread::spawn(thread::sleep);
    let joiner = thread::spawn(move || spinner.map(thread::JoinHandle::join));
    spin_for(50_000_000);
    if from_thread {
        let _exiter = thread::spawn(|| process::exit(7));
        // Waits for good: the exit ends this thread too.
        let _ = joiner.map(thread::JoinHandle::join);
        println!("{mode}: the main thread outlived the exit");
        return 99;
    }
    5
}

/// The page `grant-give` maps and grants, as offsets into the window.
const GIVEN: usize = 4 << 20;
/// Where `grant-take` gets it.
const TAKEN: usize = 5 << 20;

/// Program 0 of a `grant.toml` cluster: maps a page, writes to it, grants it to
/// program 1 once that one is up (after every refusal of `memory_grant`), tells
/// it where, and sees what it wrote back through the same frame.
fn grant_give() -> i32 {
    use libnanvix::memory::Page;
    let mut checks = Checks { run: 0, failed: 0 };
    let window = libnanvix::memory::window().unwrap_or(0);
    let Ok(mut page) = Page::map(window + GIVEN, false, true) else {
        println!("grant-give: no page");
        return 1;
    };
    page.bytes_mut()[..7].copy_from_slice(b"granted");
    let me = process::id();
    let grant = |address: usize, program: u32, to: usize, rights: usize| {
        kcall(
            Kcall::MemoryGrant,
            [address, program as usize, to, rights, 0],
        )
    };
    let to = window + TAKEN;
    // Program 1 starts after this one: it says when it is up.
    let mut ready = [0u8; 1];
    let Ok((taker, _)) = libnanvix::noc::receive(&mut ready) else {
        println!("grant-give: no word from the taker");
        return 1;
    };
    let refusals = [
        (
            "grant to itself",
            grant(page.address(), me, to, 2),
            Errno::Invalid,
        ),
        (
            "grant to nobody",
            grant(page.address(), 9, to, 2),
            Errno::Invalid,
        ),
        (
            "grant what it does not hold",
            grant(window + (8 << 20), taker.source_program, to, 2),
            Errno::NoEntry,
        ),
        (
            "grant to a misaligned address",
            grant(page.address(), taker.source_program, to + 8, 2),
            Errno::Invalid,
        ),
        (
            "grant more than it has",
            grant(page.address(), taker.source_program, to, 2 | 4),
            Errno::Permission,
        ),
        (
            "grant with bad rights",
            grant(page.address(), taker.source_program, to, 1 << 9),
            Errno::Invalid,
        ),
    ];
    for (name, got, wanted) in refusals {
        checks.check(name, got == Err(wanted));
    }
    checks.check("grant", page.grant(taker.source_program, to, true).is_ok());
    checks.check(
        "grant twice to one address",
        page.grant(taker.source_program, to, true) == Err(Errno::Busy),
    );
    let told = libnanvix::noc::send(taker.source_node, taker.source_program, &to.to_le_bytes());
    let mut reply = [0u8; 4];
    let answered = libnanvix::noc::receive(&mut reply);
    checks.check(
        "the taker checked the page",
        told.is_ok() && answered.is_ok() && reply == [0; 4],
    );
    checks.check(
        "the taker's write shows through the same frame",
        &page.bytes()[..7] == b"Granted",
    );
    checks.check("unmap after the grant", page.unmap().is_ok());
    println!(
        "grant-give: {} checks, {} failed",
        checks.run, checks.failed
    );
    checks.failed as i32
}

/// Program 1 of a `grant.toml` cluster: waits to hear where program 0 granted
/// it a page, reads and writes it there, may not grant it on, unmaps it.
fn grant_take() -> i32 {
    use libnanvix::memory::{window_load, window_store};
    let mut checks = Checks { run: 0, failed: 0 };
    checks.check(
        "tell the giver",
        libnanvix::cluster::this()
            .and_then(|cluster| libnanvix::noc::send(cluster.first_node, 0, b"!"))
            .is_ok(),
    );
    let mut message = [0u8; 8];
    let Ok((header, 8)) = libnanvix::noc::receive(&mut message) else {
        println!("grant-take: no address");
        return 1;
    };
    let address = usize::from_le_bytes(message);
    checks.check(
        "the granted page: read, write, may unmap, may not grant",
        libnanvix::memory::info(address) == Ok(0b1_0011),
    );
    let read: Vec<u8> = (0..7)
        .filter_map(|offset| window_load(address + offset).ok())
        .collect();
    checks.check("the granter's bytes", read == b"granted");
    checks.check("a write", window_store(address, b'G').is_ok());
    checks.check(
        "grant on",
        kcall(Kcall::MemoryGrant, [address, 0, address + SMALL_PAGE, 0, 0])
            == Err(Errno::Permission),
    );
    checks.check("unmap", libnanvix::memory::unmap(address).is_ok());
    checks.check(
        "unmapped",
        libnanvix::memory::info(address) == Err(Errno::NoEntry),
    );
    let failed = checks.failed.to_le_bytes();
    let replied = libnanvix::noc::send(header.source_node, header.source_program, &failed);
    checks.check("reply", replied.is_ok());
    println!(
        "grant-take: {} checks, {} failed",
        checks.run, checks.failed
    );
    checks.failed as i32
}

/// Bytes of a small page.
const SMALL_PAGE: usize = 4 << 10;

/// A user-level pager: faults of this program's threads on the window reach it; it
/// maps two pages on demand and refuses the third; and the pager kcalls' errors.
fn pager_checks(checks: &mut Checks) {
    use libnanvix::memory::{Page, PageFault, Pager, window_load, window_store};
    let window = libnanvix::memory::window().unwrap_or(0);
    if window == 0 {
        println!("FAIL no MMU window");
        checks.check("an MMU window", false);
        return;
    }
    let base = window + (2 << 20);
    let refused_page = base + 2 * SMALL_PAGE;
    let mut fault = PageFault::default();
    let size = core::mem::size_of::<PageFault>();
    checks.check(
        "pager_wait before attaching is EPERM",
        kcall(Kcall::PagerWait, [&raw mut fault as usize, size, 0, 0, 0]) == Err(Errno::Permission),
    );
    checks.check(
        "pager_resume before attaching is EPERM",
        kcall(Kcall::PagerResume, [1, 1, 0, 0, 0]) == Err(Errno::Permission),
    );
    let ready = Arc::new(Semaphore::new(0).expect("semaphore"));
    let pager_ready = Arc::clone(&ready);
    let pager = thread::spawn(move || -> (bool, Vec<PageFault>) {
        let Ok(pager) = Pager::attach() else {
            let _ = pager_ready.up();
            return (false, Vec::new());
        };
        let mut fault = PageFault::default();
        let errors = kcall(
            Kcall::PagerWait,
            [&raw mut fault as usize, size - 1, 0, 0, 0],
        ) == Err(Errno::Invalid)
            && kcall(Kcall::PagerWait, [0x10, size, 0, 0, 0]) == Err(Errno::Fault)
            && kcall(Kcall::PagerResume, [1_000_000, 1, 0, 0, 0]) == Err(Errno::NoSuchThread)
            && kcall(Kcall::PagerResume, [1, 2, 0, 0, 0]) == Err(Errno::Invalid)
            && Pager::attach().is_ok();
        let _ = pager_ready.up();
        let mut seen = Vec::new();
        while let Ok(fault) = pager.next_fault() {
            seen.push(fault);
            let page = fault.address & !(SMALL_PAGE - 1);
            if page == refused_page {
                let _ = pager.refuse(&fault);
                break;
            }
            // The mapping outlives the `Page`: the program unmaps it at the end.
            if let Ok(mapped) = Page::map(page, false, true) {
                core::mem::forget(mapped);
            }
            let _ = pager.resume(&fault);
        }
        (errors, seen)
    });
    let _ = ready.down();
    checks.check(
        "a second pager is EBUSY",
        Pager::attach().err() == Some(Errno::Busy),
    );
    // The main thread touches two pages nobody mapped: the pager maps them.
    let first = window_load(base + 10);
    let stored = window_store(base + SMALL_PAGE + 5, 42);
    let read_back = window_load(base + SMALL_PAGE + 5);
    checks.check(
        "a fault the pager resolves runs again",
        first == Ok(0) && stored == Ok(()) && read_back == Ok(42),
    );
    checks.check(
        "the pager mapped the page for the program",
        libnanvix::memory::info(base) == Ok(0b11_0011),
    );
    // A fault the pager refuses ends the thread, reported.
    let refused = thread::spawn(move || window_load(refused_page + 1));
    checks.check(
        "a refused fault ends the thread",
        refused.map(thread::JoinHandle::join) == Ok(Err(Errno::InputOutput)),
    );
    let me = thread::current().map(|id| id.0).unwrap_or(0);
    match pager.map(thread::JoinHandle::join) {
        Ok(Ok((errors, seen))) => {
            checks.check("the pager kcalls' errors", errors);
            let accesses: Vec<(usize, usize)> = seen
                .iter()
                .map(|fault| (fault.address - base, fault.access))
                .collect();
            checks.check(
                "the pager saw each fault once, in order",
                accesses
                    == [
                        (10, libnanvix::abi::PAGE_FAULT_READ),
                        (SMALL_PAGE + 5, libnanvix::abi::PAGE_FAULT_WRITE),
                        (2 * SMALL_PAGE + 1, libnanvix::abi::PAGE_FAULT_READ),
                    ]
                    && seen[0].thread == me
                    && seen[2].thread != me,
            );
        }
        _ => checks.check("the pager ends", false),
    }
    checks.check(
        "a window access outside the window is EFAULT",
        window_load(0x10) == Err(Errno::Fault),
    );
    for page in [base, base + SMALL_PAGE] {
        let _ = kcall(Kcall::MemoryUnmap, [page, 0, 0, 0, 0]);
    }
}

/// The sync module through the kernel: contention, ping-pong, broadcast, errors.
fn sync_checks(checks: &mut Checks) {
    // Eight threads add 1,000 each under one mutex.
    let counter = Arc::new(Mutex::new(0u64).expect("mutex"));
    let adders: Vec<_> = (0..8)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || {
                for step in 0..1_000 {
                    *counter.lock().expect("lock") += 1;
                    if step % 100 == 0 {
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let joined = adders
        .into_iter()
        .all(|adder| adder.map(thread::JoinHandle::join) == Ok(Ok(())));
    let total = *counter.lock().expect("lock");
    checks.check("8 threads x 1000 under a mutex", joined && total == 8_000);

    // Ping-pong: two semaphores hand the turn back and forth 1,000 times.
    let (ping, pong) = (
        Arc::new(Semaphore::new(0).expect("semaphore")),
        Arc::new(Semaphore::new(0).expect("semaphore")),
    );
    let (their_ping, their_pong) = (Arc::clone(&ping), Arc::clone(&pong));
    let partner = thread::spawn(move || {
        for _ in 0..1_000 {
            their_ping.down().expect("down");
            their_pong.up().expect("up");
        }
    });
    let mut rounds = 0;
    for _ in 0..1_000 {
        if ping.up().is_ok() && pong.down().is_ok() {
            rounds += 1;
        }
    }
    let partner_done = partner.map(thread::JoinHandle::join) == Ok(Ok(()));
    checks.check("1000 semaphore ping-pongs", rounds == 1_000 && partner_done);

    // A broadcast wakes every waiter of a condition.
    let state = Arc::new((
        Mutex::new((false, 0u32)).expect("mutex"),
        Condvar::new().expect("condvar"),
    ));
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                let (lock, condition) = &*state;
                let mut guard = lock.lock().expect("lock");
                guard.1 += 1;
                while !guard.0 {
                    guard = condition.wait(guard).expect("wait");
                }
            })
        })
        .collect();
    while state.0.lock().expect("lock").1 < 4 {
        thread::yield_now();
    }
    state.0.lock().expect("lock").0 = true;
    let _ = state.1.notify_all();
    let woke = waiters
        .into_iter()
        .all(|waiter| waiter.map(thread::JoinHandle::join) == Ok(Ok(())));
    checks.check("a broadcast wakes 4 waiters", woke);

    // Errors, each changing nothing.
    let call = |number: Kcall, first: usize, second: usize| kcall(number, [first, second, 0, 0, 0]);
    let mutex = call(Kcall::MutexCreate, 0, 0).unwrap_or(usize::MAX);
    let semaphore = call(Kcall::SemaphoreCreate, 1, 0).unwrap_or(usize::MAX);
    let condition = call(Kcall::ConditionCreate, 0, 0).unwrap_or(usize::MAX);
    let expectations = [
        (
            "unlock unheld is EPERM",
            call(Kcall::MutexUnlock, mutex, 0),
            Err(Errno::Permission),
        ),
        (
            "wait without the mutex is EPERM",
            call(Kcall::ConditionWait, condition, mutex),
            Err(Errno::Permission),
        ),
        ("lock", call(Kcall::MutexLock, mutex, 0), Ok(0)),
        (
            "relock is EDEADLK",
            call(Kcall::MutexLock, mutex, 0),
            Err(Errno::Deadlock),
        ),
        (
            "destroy a held mutex is EBUSY",
            call(Kcall::SyncDestroy, mutex, 0),
            Err(Errno::Busy),
        ),
        (
            "down on a mutex is EINVAL",
            call(Kcall::SemaphoreDown, mutex, 0),
            Err(Errno::Invalid),
        ),
        (
            "lock a semaphore is EINVAL",
            call(Kcall::MutexLock, semaphore, 0),
            Err(Errno::Invalid),
        ),
        ("unlock", call(Kcall::MutexUnlock, mutex, 0), Ok(0)),
        (
            "a semaphore over SEMAPHORE_MAX is EINVAL",
            call(Kcall::SemaphoreCreate, 1 << 31, 0),
            Err(Errno::Invalid),
        ),
    ];
    for (name, got, wanted) in expectations {
        checks.check(name, got == wanted);
    }
    for id in [mutex, semaphore, condition] {
        checks.check("destroy", call(Kcall::SyncDestroy, id, 0) == Ok(0));
        checks.check(
            "a destroyed id is dead",
            call(Kcall::SemaphoreUp, id, 0) == Err(Errno::Invalid),
        );
    }
}

/// Preemption: four threads that never enter the kernel, on the two cores the main
/// thread leaves free, while the main thread (never entering the kernel either)
/// waits until all four made progress. Without time slices two of them would never
/// run and this would never end.
fn preemption_check(checks: &mut Checks) {
    use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let progress: Arc<[AtomicU64; 4]> = Arc::new(Default::default());
    let spinners: Vec<_> = (0..4)
        .map(|index| {
            let (stop, progress) = (Arc::clone(&stop), Arc::clone(&progress));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    progress[index].fetch_add(1, Ordering::Relaxed);
                    core::hint::spin_loop();
                }
            })
        })
        .collect();
    while progress
        .iter()
        .any(|count| count.load(Ordering::Relaxed) == 0)
    {
        core::hint::spin_loop();
    }
    stop.store(true, Ordering::Relaxed);
    let joined = spinners
        .into_iter()
        .all(|spinner| spinner.map(thread::JoinHandle::join) == Ok(Ok(())));
    checks.check("time slices let 5 busy threads share 3 cores", joined);
}

/// Stores to an address no program memory is at (named, for the fault report's
/// backtrace).
#[inline(never)]
fn deliberate_fault() -> ! {
    libnanvix::runtime::fault_on_purpose(0x10)
}
