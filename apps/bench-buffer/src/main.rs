//! Benchmark program: the paper's Buffer — producer/consumer pairs, each pair
//! through a ring of 16 slots (15 in use) guarded by a mutex and two semaphores
//! (free slots, full slots).
//!
//! For 2, 6, 8, 10 and 14 threads (1, 3, 4, 5 and 7 pairs) and objects of 1 to
//! 8 KiB, each producer sends `objects=N` objects (default 32, the paper's) to its
//! consumer; `trials=T` (default 3) runs of each. One line per run:
//! `bench buffer threads=<n> bytes=<size> cycles=<wall> cpu=<thread CPU ns, summed>`,
//! read by `nanvix bench buffer`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use libnanvix::sync::{Mutex, Semaphore};
use libnanvix::{clock, println, process, thread};

libnanvix::entry!(main);

/// Slots of a ring (one stays free: 15 in use, as in the paper).
const SLOTS: usize = 16;
/// Thread counts (producers plus consumers).
const THREADS: [usize; 5] = [2, 6, 8, 10, 14];

/// What a pair shares.
struct Ring {
    /// The slots and the producer's and consumer's positions.
    state: Mutex<(Vec<u8>, usize, usize)>,
    free: Semaphore,
    full: Semaphore,
}

fn produce(ring: &Ring, bytes: usize, objects: usize) -> Option<u64> {
    let started = clock::thread_cpu_nanoseconds();
    let object = vec![0x5a_u8; bytes];
    for _ in 0..objects {
        ring.free.down().ok()?;
        {
            let mut state = ring.state.lock().ok()?;
            let head = state.1;
            state.0[head * bytes..(head + 1) * bytes].copy_from_slice(&object);
            state.1 = (head + 1) % SLOTS;
        }
        ring.full.up().ok()?;
    }
    Some(clock::thread_cpu_nanoseconds().wrapping_sub(started))
}

fn consume(ring: &Ring, bytes: usize, objects: usize) -> Option<u64> {
    let started = clock::thread_cpu_nanoseconds();
    let mut object = vec![0u8; bytes];
    for _ in 0..objects {
        ring.full.down().ok()?;
        {
            let mut state = ring.state.lock().ok()?;
            let tail = state.2;
            object.copy_from_slice(&state.0[tail * bytes..(tail + 1) * bytes]);
            state.2 = (tail + 1) % SLOTS;
        }
        ring.free.up().ok()?;
    }
    (object.iter().all(|byte| *byte == 0x5a))
        .then(|| clock::thread_cpu_nanoseconds().wrapping_sub(started))
}

/// One run: `pairs` pairs moving `objects` objects of `bytes`; (cycles, CPU ns).
fn run(pairs: usize, bytes: usize, objects: usize) -> Result<(u64, u64), &'static str> {
    let rings: Vec<Arc<Ring>> = (0..pairs)
        .map(|_| {
            Ok(Arc::new(Ring {
                state: Mutex::new((vec![0u8; SLOTS * bytes], 0, 0)).map_err(|_| "mutex")?,
                free: Semaphore::new(SLOTS as u32 - 1).map_err(|_| "semaphore")?,
                full: Semaphore::new(0).map_err(|_| "semaphore")?,
            }))
        })
        .collect::<Result<_, &'static str>>()?;
    let start = clock::cycles();
    let mut handles = Vec::with_capacity(pairs * 2);
    for ring in &rings {
        let (producer_ring, consumer_ring) = (Arc::clone(ring), Arc::clone(ring));
        handles.push(
            thread::spawn(move || produce(&producer_ring, bytes, objects)).map_err(|_| "spawn")?,
        );
        handles.push(
            thread::spawn(move || consume(&consumer_ring, bytes, objects)).map_err(|_| "spawn")?,
        );
    }
    let mut cpu = 0;
    for handle in handles {
        cpu += handle
            .join()
            .map_err(|_| "join")?
            .ok_or("a thread failed (or an object arrived corrupted)")?;
    }
    Ok((clock::cycles().wrapping_sub(start), cpu))
}

fn main() -> i32 {
    let mut objects = 32;
    let mut trials = 3;
    for argument in process::arguments().skip(1) {
        let number = |text: &str| text.parse::<usize>().ok().filter(|value| *value > 0);
        match argument.split_once('=') {
            Some(("objects", value)) if number(value).is_some() => {
                objects = number(value).unwrap_or(32)
            }
            Some(("trials", value)) if number(value).is_some() => {
                trials = number(value).unwrap_or(3)
            }
            _ => {
                println!("bench-buffer: unknown argument {argument} (expected objects=, trials=)");
                return 2;
            }
        }
    }
    for threads in THREADS {
        for kib in 1..=8 {
            let bytes = kib * 1024;
            for _ in 0..trials {
                match run(threads / 2, bytes, objects) {
                    Ok((cycles, cpu)) => {
                        println!(
                            "bench buffer threads={threads} bytes={bytes} cycles={cycles} cpu={cpu}"
                        )
                    }
                    Err(reason) => {
                        println!("bench-buffer: {reason}");
                        return 1;
                    }
                }
            }
        }
    }
    0
}
