//! Baselines and result rows: the one place that measures what this machine costs.
//!
//! Every benchmark figure of the OS is quoted as a ratio against a baseline measured in
//! the same run. This crate holds both halves:
//!
//! - the result [`Row`] schema every benchmark writes (under `target/bench/`), with
//!   [`summarize`], [`compare`], [`write_rows`], [`read_rows`] and [`table`];
//! - the baselines themselves ([`function_call`], [`getppid`],
//!   [`spin_round_trip_threads`], [`spin_round_trip_processes`], [`futex_round_trip`],
//!   [`pthread_create_join`], [`cross_core_copy`], [`memcpy`],
//!   [`spawn_wait_tiny_static`]), each a function of [`Options`] returning one row, and
//!   [`all_baselines`] running them all.
//!
//! ```no_run
//! use nanvix_bench::{Options, compare, futex_round_trip, spin_round_trip_threads};
//!
//! let options = Options::quick();
//! let baseline = spin_round_trip_threads(&options)?;
//! let mut row = futex_round_trip(&options)?;
//! compare(&mut row, &baseline)?;
//! println!("{}", nanvix_bench::table(&[baseline, row]));
//! # Ok::<(), nanvix_bench::BenchError>(())
//! ```
//!
//! A trial times a whole batch of iterations with [`std::time::Instant`] and reports the
//! mean per operation; a row summarizes `options.trials` trials (min and median). Nothing
//! here asserts a timing. Every wait for a peer thread or process is bounded (10 s), and
//! failures of the OS are [`BenchError`]s naming the call and its errno.

mod affinity;
mod baselines;
pub mod elf;
mod error;
mod memory;
mod options;
mod row;
mod tsc;
mod wait;

pub use affinity::pin_current_thread;
pub use baselines::{
    Baseline, CLIENT_CPU, COPY_SIZES, SERVER_CPU, all_baselines, buffer_pthreads, cross_core_copy,
    function_call, futex_round_trip, getppid, knoise_pthreads, memcpy, pthread_create_join,
    spawn_wait_tiny_static, spin_round_trip_processes, spin_round_trip_threads,
};
pub use error::BenchError;
pub use options::{MINIMUM_ITERATIONS, Options};
pub use row::{
    Row, UNIT_GIGABYTES_PER_SECOND, UNIT_NANOSECONDS, UNIT_TIMES, compare, read_rows, summarize,
    table, write_rows,
};
#[cfg(target_arch = "x86_64")]
pub use tsc::rdtsc;
pub use tsc::tsc_ghz;
