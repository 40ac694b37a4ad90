//! Benchmark program: the cost of one kcall, local and remote (the paper's L-Kcall
//! and R-Kcall), and of starting and joining threads (its Fork-Join).
//!
//! Arguments: `mode=local` (`thread_self`, served on the calling core),
//! `mode=remote` (`noop`, served by the master core), `mode=open-close`
//! (`mailbox_open` then `mailbox_close`: a pair of local calls that change a
//! cluster-wide table, to set against `noop`'s trip through the master),
//! `mode=fork-join`, or `mode=all` (the four, one after the other); `rounds=N` calls per trial (default
//! 100000), `trials=T` (default 5). After a warm-up of `rounds` calls it times
//! `trials` trials and prints one line per trial,
//! `bench kcall_<mode> cycles=<cycles per call>`, read by `nanvix bench`. Fork-join
//! spawns then joins 1 to 14 empty threads, `trials` times each, and prints
//! `bench fork_join threads=<n> fork=<cycles> join=<cycles> fork_cpu=<ns>
//! join_cpu=<ns>` (the spawning thread's CPU time in each half).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::mailbox::Outbox;
use libnanvix::{abi, clock, kernel, println, process, thread};

libnanvix::entry!(main);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Local,
    Remote,
    OpenClose,
}

/// The most threads a fork-join step starts (the paper's, for 16-core clusters).
const FORK_JOIN_MAX: usize = 14;

struct Options {
    modes: &'static [Which],
    rounds: u64,
    trials: u64,
}

fn options() -> Result<Options, &'static str> {
    let mut options = Options {
        modes: &[Which::Calls(Mode::Local)],
        rounds: 100_000,
        trials: 5,
    };
    for argument in process::arguments().skip(1) {
        let number = |text: &str| text.parse::<u64>().map_err(|_| "expected a number");
        match argument {
            "mode=local" => options.modes = &[Which::Calls(Mode::Local)],
            "mode=remote" => options.modes = &[Which::Calls(Mode::Remote)],
            "mode=open-close" => options.modes = &[Which::Calls(Mode::OpenClose)],
            "mode=fork-join" => options.modes = &[Which::ForkJoin],
            "mode=all" => {
                options.modes = &[
                    Which::Calls(Mode::Local),
                    Which::Calls(Mode::Remote),
                    Which::Calls(Mode::OpenClose),
                    Which::ForkJoin,
                ];
            }
            _ => {
                if let Some(rounds) = argument.strip_prefix("rounds=") {
                    options.rounds = number(rounds)?.max(1);
                } else if let Some(trials) = argument.strip_prefix("trials=") {
                    options.trials = number(trials)?.max(1);
                } else {
                    return Err(
                        "unknown argument (expected mode=local|remote|open-close|fork-join|all, rounds=, trials=)",
                    );
                }
            }
        }
    }
    Ok(options)
}

/// Makes `rounds` calls of the mode's kcall.
fn calls(mode: Mode, rounds: u64) -> Result<(), &'static str> {
    for _ in 0..rounds {
        match mode {
            Mode::Local => {
                core::hint::black_box(thread::current().map_err(|_| "thread_self failed")?);
            }
            Mode::Remote => kernel::noop().map_err(|_| "noop failed")?,
            Mode::OpenClose => Outbox::open(process::node(), 0)
                .and_then(Outbox::close)
                .map_err(|_| "mailbox open or close failed")?,
        }
    }
    Ok(())
}

/// One part of the benchmark.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Calls(Mode),
    ForkJoin,
}

/// Times `trials` trials of `rounds` calls of `mode` after a warm-up.
fn time_calls(mode: Mode, options: &Options) -> Result<(), &'static str> {
    let name = match mode {
        Mode::Local => "kcall_local",
        Mode::Remote => "kcall_remote",
        Mode::OpenClose => "kcall_open_close",
    };
    calls(mode, options.rounds)?;
    for _ in 0..options.trials {
        let start = clock::cycles();
        calls(mode, options.rounds)?;
        let elapsed = clock::cycles().wrapping_sub(start);
        println!(
            "bench {name} cycles={}",
            elapsed as f64 / options.rounds as f64
        );
    }
    Ok(())
}

/// Spawns then joins 1 to FORK_JOIN_MAX empty threads, `trials` times each (after
/// one warm-up round), timing both halves.
fn fork_join(options: &Options) -> Result<(), &'static str> {
    let mut handles = alloc::vec::Vec::with_capacity(FORK_JOIN_MAX);
    for threads in 1..=FORK_JOIN_MAX {
        for trial in 0..=options.trials {
            let start_cpu = clock::thread_cpu_nanoseconds();
            let start = clock::cycles();
            for _ in 0..threads {
                let handle = thread::spawn_with_stack(abi::THREAD_STACK_MIN, || 0u8)
                    .map_err(|_| "spawn failed")?;
                handles.push(handle);
            }
            let forked = clock::cycles();
            let forked_cpu = clock::thread_cpu_nanoseconds();
            for handle in handles.drain(..) {
                handle.join().map_err(|_| "join failed")?;
            }
            let joined = clock::cycles();
            let joined_cpu = clock::thread_cpu_nanoseconds();
            if trial > 0 {
                println!(
                    "bench fork_join threads={threads} fork={} join={} fork_cpu={} join_cpu={}",
                    forked.wrapping_sub(start),
                    joined.wrapping_sub(forked),
                    forked_cpu.wrapping_sub(start_cpu),
                    joined_cpu.wrapping_sub(forked_cpu)
                );
            }
        }
    }
    Ok(())
}

fn main() -> i32 {
    let options = match options() {
        Ok(options) => options,
        Err(reason) => {
            println!("bench-kcall: {reason}");
            return 2;
        }
    };
    for which in options.modes {
        let result = match which {
            Which::Calls(mode) => time_calls(*mode, &options),
            Which::ForkJoin => fork_join(&options),
        };
        if let Err(reason) = result {
            println!("bench-kcall: {reason}");
            return 1;
        }
    }
    0
}
