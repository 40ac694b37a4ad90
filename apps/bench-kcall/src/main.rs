//! Benchmark program: the cost of one kcall, local and remote (the paper's L-Kcall
//! and R-Kcall).
//!
//! Arguments: `mode=local` (`thread_self`, served on the calling core) or
//! `mode=remote` (`noop`, served by the master core), `rounds=N` calls per trial
//! (default 100000), `trials=T` (default 5). After a warm-up of `rounds` calls it
//! times `trials` trials and prints one line per trial,
//! `bench kcall_<mode> cycles=<cycles per call>`, read by `nanvix bench`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libnanvix::{clock, kernel, println, process, thread};

libnanvix::entry!(main);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Local,
    Remote,
}

struct Options {
    mode: Mode,
    rounds: u64,
    trials: u64,
}

fn options() -> Result<Options, &'static str> {
    let mut options = Options {
        mode: Mode::Local,
        rounds: 100_000,
        trials: 5,
    };
    for argument in process::arguments().skip(1) {
        let number = |text: &str| text.parse::<u64>().map_err(|_| "expected a number");
        match argument {
            "mode=local" => options.mode = Mode::Local,
            "mode=remote" => options.mode = Mode::Remote,
            _ => {
                if let Some(rounds) = argument.strip_prefix("rounds=") {
                    options.rounds = number(rounds)?.max(1);
                } else if let Some(trials) = argument.strip_prefix("trials=") {
                    options.trials = number(trials)?.max(1);
                } else {
                    return Err("unknown argument (expected mode=local|remote, rounds=, trials=)");
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
    let name = match options.mode {
        Mode::Local => "kcall_local",
        Mode::Remote => "kcall_remote",
    };
    if let Err(reason) = calls(options.mode, options.rounds) {
        println!("bench-kcall: {reason}");
        return 1;
    }
    for _ in 0..options.trials {
        let start = clock::cycles();
        if let Err(reason) = calls(options.mode, options.rounds) {
            println!("bench-kcall: {reason}");
            return 1;
        }
        let elapsed = clock::cycles().wrapping_sub(start);
        println!(
            "bench {name} cycles={}",
            elapsed as f64 / options.rounds as f64
        );
    }
    0
}
