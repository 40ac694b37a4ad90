//! The baselines: what this machine costs for calls, round trips, threads, copies, spawns.
//!
//! Each baseline runs `options.trials` trials; a trial times (with [`Instant`]) the whole
//! iteration count run back to back, after an untimed warm-up of a tenth of it. Times are
//! reported in ns per operation, bandwidths in GB/s (10^9 payload bytes per second).

mod buffer;
mod calls;
mod copy;
mod knoise;
mod processes;
mod round_trip;
mod spawn;
mod threads;

pub use buffer::buffer_pthreads;
pub use calls::{function_call, getppid};
pub use copy::{cross_core_copy, memcpy};
pub use knoise::knoise_pthreads;
pub use processes::spin_round_trip_processes;
pub use round_trip::{futex_round_trip, spin_round_trip_threads};
pub use spawn::spawn_wait_tiny_static;
pub use threads::pthread_create_join;

use crate::affinity::pin_current_thread;
use crate::options::warmup_iterations;
use crate::{BenchError, Options, Row};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The CPU the client (or producer, or parent) side runs on when pinned.
pub const CLIENT_CPU: usize = 0;

/// The CPU the server (or consumer, or child) side runs on when pinned.
pub const SERVER_CPU: usize = 1;

/// The payload sizes [`all_baselines`] copies: 1 KiB, 4 KiB, 64 KiB, 1 MiB.
pub const COPY_SIZES: [usize; 4] = [1 << 10, 4 << 10, 64 << 10, 1 << 20];

/// One baseline configuration: what [`all_baselines`] runs, one row each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Baseline {
    /// [`function_call`].
    FunctionCall,
    /// [`getppid`].
    Getppid,
    /// [`spin_round_trip_threads`], pinned or not.
    SpinRoundTripThreads {
        /// Client on CPU 0, server on CPU 1.
        pinned: bool,
    },
    /// [`spin_round_trip_processes`], pinned or not.
    SpinRoundTripProcesses {
        /// Parent on CPU 0, child on CPU 1.
        pinned: bool,
    },
    /// [`futex_round_trip`], pinned or not.
    FutexRoundTrip {
        /// Client on CPU 0, server on CPU 1.
        pinned: bool,
    },
    /// [`pthread_create_join`], pinned or not.
    PthreadCreateJoin {
        /// Creator (and so every child) on CPU 0; otherwise on CPUs 0 and 1.
        pinned: bool,
    },
    /// [`cross_core_copy`] of `bytes` per message (pinned as the options say).
    CrossCoreCopy {
        /// Payload bytes per message.
        bytes: usize,
    },
    /// [`memcpy`] of `bytes` per copy.
    Memcpy {
        /// Bytes per copy.
        bytes: usize,
    },
    /// [`spawn_wait_tiny_static`].
    SpawnWaitTinyStatic,
}

impl Baseline {
    /// Every baseline, in the order [`all_baselines`] runs them: both pinned and unpinned
    /// variants of the round trips and of thread creation, every size of [`COPY_SIZES`].
    pub fn all() -> Vec<Baseline> {
        let mut list = vec![Self::FunctionCall, Self::Getppid];
        for pinned in [true, false] {
            list.push(Self::SpinRoundTripThreads { pinned });
        }
        for pinned in [true, false] {
            list.push(Self::SpinRoundTripProcesses { pinned });
        }
        for pinned in [true, false] {
            list.push(Self::FutexRoundTrip { pinned });
        }
        for pinned in [true, false] {
            list.push(Self::PthreadCreateJoin { pinned });
        }
        list.extend(COPY_SIZES.map(|bytes| Self::CrossCoreCopy { bytes }));
        list.extend(COPY_SIZES.map(|bytes| Self::Memcpy { bytes }));
        list.push(Self::SpawnWaitTinyStatic);
        list
    }

    /// The name of the row it yields, e.g. `baseline.futex_round_trip`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::FunctionCall => "baseline.function_call",
            Self::Getppid => "baseline.getppid",
            Self::SpinRoundTripThreads { .. } => "baseline.spin_round_trip_threads",
            Self::SpinRoundTripProcesses { .. } => "baseline.spin_round_trip_processes",
            Self::FutexRoundTrip { .. } => "baseline.futex_round_trip",
            Self::PthreadCreateJoin { .. } => "baseline.pthread_create_join",
            Self::CrossCoreCopy { .. } => "baseline.cross_core_copy",
            Self::Memcpy { .. } => "baseline.memcpy",
            Self::SpawnWaitTinyStatic => "baseline.spawn_wait_tiny_static",
        }
    }

    /// The name with the configuration, e.g. `baseline.memcpy bytes=4096`.
    pub fn label(&self) -> String {
        match self {
            Self::SpinRoundTripThreads { pinned }
            | Self::SpinRoundTripProcesses { pinned }
            | Self::FutexRoundTrip { pinned }
            | Self::PthreadCreateJoin { pinned } => format!("{} pinned={pinned}", self.name()),
            Self::CrossCoreCopy { bytes } | Self::Memcpy { bytes } => {
                format!("{} bytes={bytes}", self.name())
            }
            Self::FunctionCall | Self::Getppid | Self::SpawnWaitTinyStatic => {
                self.name().to_string()
            }
        }
    }

    /// Runs it; a variant's own `pinned` replaces `options.pinned`.
    pub fn run(&self, options: &Options) -> Result<Row, BenchError> {
        match *self {
            Self::FunctionCall => function_call(options),
            Self::Getppid => getppid(options),
            Self::SpinRoundTripThreads { pinned } => {
                spin_round_trip_threads(&options.with_pinned(pinned))
            }
            Self::SpinRoundTripProcesses { pinned } => {
                spin_round_trip_processes(&options.with_pinned(pinned))
            }
            Self::FutexRoundTrip { pinned } => futex_round_trip(&options.with_pinned(pinned)),
            Self::PthreadCreateJoin { pinned } => pthread_create_join(&options.with_pinned(pinned)),
            Self::CrossCoreCopy { bytes } => cross_core_copy(options, bytes),
            Self::Memcpy { bytes } => memcpy(options, bytes),
            Self::SpawnWaitTinyStatic => spawn_wait_tiny_static(options),
        }
    }
}

/// Runs every baseline of [`Baseline::all`], one after the other; a failure of one does not
/// stop the others.
pub fn all_baselines(options: &Options) -> Vec<(Baseline, Result<Row, BenchError>)> {
    Baseline::all()
        .into_iter()
        .map(|baseline| (baseline, baseline.run(options)))
        .collect()
}

/// The calling thread's CPU time in nanoseconds.
pub(crate) fn thread_cpu_nanoseconds() -> u64 {
    let mut time = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut time) };
    time.tv_sec as u64 * 1_000_000_000 + time.tv_nsec as u64
}

/// The parameters of a row from `(key, value)` pairs.
fn parameters<const COUNT: usize>(pairs: [(&str, String); COUNT]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

/// Pins the calling thread to `cpu` when `pinned`; otherwise leaves its affinity alone.
fn pin_side(pinned: bool, cpu: usize) -> Result<(), BenchError> {
    if pinned {
        pin_current_thread(&[cpu])
    } else {
        Ok(())
    }
}

/// Every iteration the serving side of a round trip answers: the warm-up, then `trials`
/// trials of `iterations`.
fn total_iterations(trials: usize, iterations: u64) -> u64 {
    (trials as u64)
        .saturating_mul(iterations)
        .saturating_add(warmup_iterations(iterations))
}

/// `elapsed` per one of `operations`, in ns (never zero or infinite: at least 1 ns total).
fn nanoseconds_per(elapsed: Duration, operations: u64) -> f64 {
    elapsed.as_nanos().max(1) as f64 / operations.max(1) as f64
}

/// Runs `run(warm-up)` untimed, then `trials` timed `run(iterations)`; returns the ns per
/// iteration of each trial.
fn time_trials(
    trials: usize,
    iterations: u64,
    mut run: impl FnMut(u64) -> Result<(), BenchError>,
) -> Result<Vec<f64>, BenchError> {
    run(warmup_iterations(iterations))?;
    let mut results = Vec::with_capacity(trials);
    for _ in 0..trials {
        let start = Instant::now();
        run(iterations)?;
        results.push(nanoseconds_per(start.elapsed(), iterations));
    }
    Ok(results)
}

/// The error of a thread that could not be created.
fn spawn_error(error: &std::io::Error) -> BenchError {
    BenchError::Syscall {
        call: "pthread_create",
        errno: crate::error::errno_of(error),
    }
}

/// Runs `work` in a dedicated thread named `name`, so that what it does to its own thread
/// (pinning) leaves the caller's untouched.
fn run_in_thread<T: Send>(
    name: &str,
    work: impl FnOnce() -> Result<T, BenchError> + Send,
) -> Result<T, BenchError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn_scoped(scope, work)
            .map_err(|error| spawn_error(&error))?;
        handle
            .join()
            .unwrap_or_else(|_| Err(BenchError::PeerFailed(format!("thread {name} panicked"))))
    })
}

/// Runs the two sides of a two-sided baseline in two threads and returns the client's
/// result. When a side fails, `give_up` (which raises the shared abort flag) runs at once so
/// the other side stops waiting; the error returned is the one that started it.
fn run_pair<T: Send>(
    client: impl FnOnce() -> Result<T, BenchError> + Send,
    server: impl FnOnce() -> Result<(), BenchError> + Send,
    give_up: impl Fn() + Sync,
) -> Result<T, BenchError> {
    let give_up = &give_up;
    std::thread::scope(|scope| {
        let server = std::thread::Builder::new()
            .name("bench-server".to_string())
            .spawn_scoped(scope, move || {
                let result = server();
                if result.is_err() {
                    give_up();
                }
                result
            })
            .map_err(|error| spawn_error(&error))?;
        let client = std::thread::Builder::new()
            .name("bench-client".to_string())
            .spawn_scoped(scope, move || {
                let result = client();
                if result.is_err() {
                    give_up();
                }
                result
            });
        let client_result = match client {
            Ok(handle) => handle.join().unwrap_or_else(|_| {
                give_up();
                Err(BenchError::PeerFailed(
                    "the client thread panicked".to_string(),
                ))
            }),
            Err(error) => {
                give_up();
                Err(spawn_error(&error))
            }
        };
        let server_result = server.join().unwrap_or_else(|_| {
            Err(BenchError::PeerFailed(
                "the server thread panicked".to_string(),
            ))
        });
        settle(client_result, server_result)
    })
}

/// The outcome of a two-sided run: the client's trials when both sides succeeded, else
/// the first real error (a side that merely saw its peer give up defers to the peer).
fn settle<T>(
    client: Result<T, BenchError>,
    server: Result<(), BenchError>,
) -> Result<T, BenchError> {
    match (client, server) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(BenchError::PeerGaveUp { .. }), Err(server_error)) => Err(server_error),
        (Err(client_error), _) => Err(client_error),
        (Ok(_), Err(server_error)) => Err(server_error),
    }
}

/// The lock and options the baseline tests share: they run one at a time (two spinning
/// baselines at once would measure each other) with tiny iteration counts.
#[cfg(test)]
pub(crate) mod testing {
    use crate::Options;
    use std::sync::{Mutex, MutexGuard};

    /// Serializes the baseline tests.
    pub(crate) fn exclusive() -> MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Three trials at a tiny scale.
    pub(crate) fn tiny(pinned: bool) -> Options {
        Options {
            trials: 3,
            scale: 0.0002,
            pinned,
        }
    }

    /// Checks what every baseline row must satisfy.
    pub(crate) fn check_row(row: &crate::Row, name: &str, options: &Options) {
        assert_eq!(row.name, name);
        assert_eq!(row.samples, options.trials);
        assert!(row.min.is_finite() && row.min > 0.0, "{row:?}");
        assert!(row.median.is_finite() && row.median > 0.0, "{row:?}");
        assert!(row.min <= row.median, "{row:?}");
        assert_eq!(row.baseline, None);
        assert_eq!(row.ratio, None);
        assert!(row.parameters.contains_key("iterations"), "{row:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_has_every_variant() {
        let all = Baseline::all();
        assert_eq!(all.len(), 2 + 2 * 4 + 2 * COPY_SIZES.len() + 1);
        assert!(all.contains(&Baseline::PthreadCreateJoin { pinned: false }));
        assert!(all.contains(&Baseline::Memcpy { bytes: 1 << 20 }));
        assert_eq!(
            Baseline::CrossCoreCopy { bytes: 4096 }.label(),
            "baseline.cross_core_copy bytes=4096"
        );
    }

    #[test]
    fn settling_prefers_the_real_error() {
        let gave_up: Result<(), BenchError> = Err(BenchError::PeerGaveUp { peer: "server" });
        let real = Err(BenchError::Pinning {
            cpus: vec![1],
            errno: libc::EINVAL,
        });
        assert_eq!(settle(gave_up, real.clone()), real);
        assert_eq!(settle(Ok(3), Ok(())), Ok(3));
    }

    #[test]
    fn a_failing_side_stops_the_other() {
        let abort = std::sync::atomic::AtomicU64::new(0);
        let result: Result<(), BenchError> = run_pair(
            || {
                crate::wait::spin_until(|| false, &abort)
                    .map_err(|failure| failure.into_error("server", "nothing"))
            },
            || Err(BenchError::PeerFailed("broken on purpose".to_string())),
            || abort.store(1, std::sync::atomic::Ordering::Release),
        );
        assert_eq!(
            result,
            Err(BenchError::PeerFailed("broken on purpose".to_string()))
        );
    }

    #[test]
    fn invalid_options_are_refused() {
        let options = Options {
            trials: 0,
            ..Options::default()
        };
        for baseline in Baseline::all() {
            assert!(
                matches!(baseline.run(&options), Err(BenchError::InvalidOptions(_))),
                "{}",
                baseline.label()
            );
        }
    }
}
