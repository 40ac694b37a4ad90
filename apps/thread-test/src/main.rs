//! Test program: threads — more of them than the cluster has cores, joins, yields,
//! the per-cluster limit, a panicking thread, and every error of the thread kcalls.
//!
//! Prints one line per failed check and a summary `thread-test: N checks, M failed`;
//! exits with the number of failures.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use libnanvix::abi::{Errno, Kcall, THREAD_STACK_MIN, THREADS_MAX};
use libnanvix::runtime::kcall;
use libnanvix::{println, thread};

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

    println!(
        "thread-test: {} checks, {} failed",
        checks.run, checks.failed
    );
    checks.failed as i32
}
