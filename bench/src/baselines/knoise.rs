//! The paper's KNoise written with plain pthreads: workers running the same
//! floating-point steps while noise threads make system calls in a tight loop.

use super::thread_cpu_nanoseconds;
use crate::BenchError;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// One run: `workers` threads of `steps` steps each while `noisy` threads call
/// `getppid` in a loop; per worker, (wall ns, CPU ns).
pub fn knoise_pthreads(
    workers: usize,
    noisy: usize,
    steps: u32,
) -> Result<Vec<(f64, f64)>, BenchError> {
    let stop = Arc::new(AtomicBool::new(false));
    let noise: Vec<_> = (0..noisy)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // SAFETY: getppid has no preconditions.
                    std::hint::black_box(unsafe { libc::getppid() });
                }
            })
        })
        .collect();
    let handles: Vec<_> = (0..workers)
        .map(|index| {
            std::thread::spawn(move || {
                let (start, cpu) = (Instant::now(), thread_cpu_nanoseconds());
                let value = nanvix_workloads::knoise_steps(steps, index as f64);
                std::hint::black_box(value);
                (
                    start.elapsed().as_nanos() as f64,
                    (thread_cpu_nanoseconds() - cpu) as f64,
                )
            })
        })
        .collect();
    let mut results = Vec::with_capacity(workers);
    for handle in handles {
        results.push(
            handle
                .join()
                .map_err(|_| BenchError::PeerFailed("a worker panicked".into()))?,
        );
    }
    stop.store(true, Ordering::Relaxed);
    for thread in noise {
        thread
            .join()
            .map_err(|_| BenchError::PeerFailed("a noise thread panicked".into()))?;
    }
    Ok(results)
}
