//! Benchmark program: the paper's KNoise — compute threads running floating-point
//! steps while the cluster's other user cores issue remote kcalls in a tight loop
//! (the noise the master serves), and the same without noise.
//!
//! For `workers=1..W` (default W = the user cores; the noise threads are the user
//! cores left), each worker runs `steps=S` steps (default 2000) of about 1,000
//! floating-point operations; `trials=T` (default 3) runs with noise, without, and
//! without again (the resolution of the measurement), in turn. One line per worker
//! per run:
//! `bench knoise workers=<w> noise=<yes|no|again> cycles=<wall> cpu=<thread CPU ns>`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use libnanvix::{clock, cluster, kernel, println, process, thread};

libnanvix::entry!(main);

/// One worker: `steps` steps; (cycles, thread CPU ns).
fn work(steps: u32, seed: f64) -> (u64, u64, f64) {
    let (cycles, cpu) = (clock::cycles(), clock::thread_cpu_nanoseconds());
    let result = nanvix_workloads::knoise_steps(steps, seed);
    (
        clock::cycles().wrapping_sub(cycles),
        clock::thread_cpu_nanoseconds().wrapping_sub(cpu),
        result,
    )
}

fn run(workers: usize, noisy: usize, steps: u32) -> Result<Vec<(u64, u64)>, &'static str> {
    let stop = Arc::new(AtomicBool::new(false));
    let noise: Vec<_> = (0..noisy)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let _ = kernel::noop();
                }
            })
            .map_err(|_| "spawn")
        })
        .collect::<Result<_, _>>()?;
    let handles: Vec<_> = (0..workers)
        .map(|index| thread::spawn(move || work(steps, index as f64)).map_err(|_| "spawn"))
        .collect::<Result<_, _>>()?;
    let mut results = Vec::with_capacity(workers);
    for handle in handles {
        let (cycles, cpu, value) = handle.join().map_err(|_| "join")?;
        if !value.is_finite() {
            return Err("a worker computed nonsense");
        }
        results.push((cycles, cpu));
    }
    stop.store(true, Ordering::Relaxed);
    for thread in noise {
        thread.join().map_err(|_| "join")?;
    }
    Ok(results)
}

fn main() -> i32 {
    let user_cores = cluster::this().map_or(2, |this| this.cores.saturating_sub(1) as usize);
    let (mut steps, mut trials, mut most) = (2_000u32, 3u32, user_cores);
    for argument in process::arguments().skip(1) {
        let value = argument
            .split_once('=')
            .and_then(|(key, value)| Some((key, value.parse::<u32>().ok()?)));
        match value {
            Some(("steps", value)) => steps = value.max(1),
            Some(("trials", value)) => trials = value.max(1),
            Some(("workers", value)) => most = (value as usize).clamp(1, user_cores),
            _ => {
                println!(
                    "bench-knoise: unknown argument {argument} (expected steps=, trials=, workers=)"
                );
                return 2;
            }
        }
    }
    for workers in 1..=most {
        for _ in 0..trials {
            // With noise, without, and without again: the two runs without noise
            // against each other show the measurement's own resolution.
            for noise in ["yes", "no", "again"] {
                let noise_threads = if noise == "yes" {
                    user_cores - workers
                } else {
                    0
                };
                match run(workers, noise_threads, steps) {
                    Ok(results) => {
                        for (cycles, cpu) in results {
                            println!(
                                "bench knoise workers={workers} noise={noise} cycles={cycles} cpu={cpu}"
                            );
                        }
                    }
                    Err(reason) => {
                        println!("bench-knoise: {reason}");
                        return 1;
                    }
                }
            }
        }
    }
    0
}
