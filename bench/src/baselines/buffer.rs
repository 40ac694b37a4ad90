//! The paper's Buffer written with plain pthreads: producer/consumer pairs through
//! rings of 16 slots guarded by a mutex and two POSIX semaphores.

use super::thread_cpu_nanoseconds;
use crate::BenchError;
use crate::affinity::pin_current_thread;
use crate::error::last_errno;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Slots of a ring (15 in use, as in the paper and `apps/bench-buffer`).
const SLOTS: usize = 16;

/// A POSIX semaphore (`sem_t`), process-private.
struct Semaphore(Box<std::cell::UnsafeCell<libc::sem_t>>);

// SAFETY: sem_t is made to be used from several threads at once (sem_wait/sem_post).
unsafe impl Sync for Semaphore {}
// SAFETY: as above; it is never moved after sem_init (it lives in a Box).
unsafe impl Send for Semaphore {}

impl Semaphore {
    fn new(value: u32) -> Result<Semaphore, BenchError> {
        // SAFETY: an all-zero sem_t is only storage; sem_init initializes it.
        let semaphore = Semaphore(Box::new(std::cell::UnsafeCell::new(unsafe {
            std::mem::zeroed()
        })));
        // SAFETY: the storage is valid and pinned in its Box; not shared between
        // processes (pshared 0).
        if unsafe { libc::sem_init(semaphore.0.get(), 0, value) } != 0 {
            return Err(BenchError::Syscall {
                call: "sem_init",
                errno: last_errno(),
            });
        }
        Ok(semaphore)
    }

    fn down(&self) {
        // SAFETY: an initialized semaphore; EINTR is retried.
        while unsafe { libc::sem_wait(self.0.get()) } != 0 {}
    }

    fn up(&self) {
        // SAFETY: an initialized semaphore.
        unsafe { libc::sem_post(self.0.get()) };
    }
}

impl Drop for Semaphore {
    fn drop(&mut self) {
        // SAFETY: initialized, and no thread waits on it any more (all joined).
        unsafe { libc::sem_destroy(self.0.get()) };
    }
}

struct Ring {
    state: Mutex<(Vec<u8>, usize, usize)>,
    free: Semaphore,
    full: Semaphore,
}

/// One run of the Buffer with `pairs` pairs moving `objects` objects of `bytes`
/// each; every thread pinned to `cpus` when given. Returns (wall ns, CPU ns of all
/// threads).
pub fn buffer_pthreads(
    pairs: usize,
    bytes: usize,
    objects: usize,
    cpus: Option<&[usize]>,
) -> Result<(f64, f64), BenchError> {
    let rings = (0..pairs)
        .map(|_| {
            Ok(Arc::new(Ring {
                state: Mutex::new((vec![0u8; SLOTS * bytes], 0, 0)),
                free: Semaphore::new(SLOTS as u32 - 1)?,
                full: Semaphore::new(0)?,
            }))
        })
        .collect::<Result<Vec<_>, BenchError>>()?;
    let cpus: Option<Vec<usize>> = cpus.map(<[usize]>::to_vec);
    let start = Instant::now();
    let mut threads = Vec::with_capacity(pairs * 2);
    for ring in &rings {
        for producer in [true, false] {
            let ring = Arc::clone(ring);
            let cpus = cpus.clone();
            threads.push(std::thread::spawn(move || -> Result<u64, BenchError> {
                if let Some(cpus) = &cpus {
                    pin_current_thread(cpus)?;
                }
                let started = thread_cpu_nanoseconds();
                let mut object = vec![if producer { 0x5a } else { 0 }; bytes];
                for _ in 0..objects {
                    if producer {
                        ring.free.down();
                        let mut state = ring
                            .state
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        let head = state.1;
                        state.0[head * bytes..(head + 1) * bytes].copy_from_slice(&object);
                        state.1 = (head + 1) % SLOTS;
                        drop(state);
                        ring.full.up();
                    } else {
                        ring.full.down();
                        let mut state = ring
                            .state
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner());
                        let tail = state.2;
                        object.copy_from_slice(&state.0[tail * bytes..(tail + 1) * bytes]);
                        state.2 = (tail + 1) % SLOTS;
                        drop(state);
                        ring.free.up();
                    }
                }
                if !producer && object.iter().any(|byte| *byte != 0x5a) {
                    return Err(BenchError::PeerFailed("an object arrived corrupted".into()));
                }
                Ok(thread_cpu_nanoseconds() - started)
            }));
        }
    }
    let mut cpu = 0u64;
    for thread in threads {
        cpu += thread
            .join()
            .map_err(|_| BenchError::PeerFailed("a buffer thread panicked".into()))??;
    }
    Ok((start.elapsed().as_nanos() as f64, cpu as f64))
}
