//! Round trips between two threads: spinning on cache lines, or sleeping on futexes.

use super::{
    CLIENT_CPU, SERVER_CPU, parameters, pin_side, run_pair, time_trials, total_iterations,
};
use crate::wait::{WaitFailure, futex_wait_for, futex_wake, spin_until};
use crate::{BenchError, Options, Row, UNIT_NANOSECONDS, summarize};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Spin round trips per trial at scale 1.
pub(super) const SPIN_ROUND_TRIPS: u64 = 1_000_000;

/// Futex round trips per trial at scale 1.
const FUTEX_ROUND_TRIPS: u64 = 50_000;

/// A value alone on its (pair of adjacent) cache line(s): 128 bytes, so neither false
/// sharing nor the adjacent-line prefetcher couples two of them.
#[derive(Default)]
#[repr(C, align(128))]
pub(super) struct CacheLine<T>(pub(super) T);

/// What the two sides of a spin round trip share. All zeroes is its initial state, so a
/// zeroed shared mapping is one too.
#[derive(Default)]
#[repr(C)]
pub(super) struct SpinChannel {
    /// The last request the client made (sequence numbers from 1).
    pub(super) request: CacheLine<AtomicU64>,
    /// The last request the server answered.
    pub(super) response: CacheLine<AtomicU64>,
    /// Nonzero once a side gave up.
    pub(super) abort: CacheLine<AtomicU64>,
    /// An errno a forked child leaves for its parent.
    pub(super) detail: CacheLine<AtomicU64>,
}

/// The client of a spin round trip: `trials` timed trials of `iterations` round trips
/// (after a warm-up); returns ns per round trip of each trial.
pub(super) fn spin_client(
    channel: &SpinChannel,
    iterations: u64,
    trials: usize,
) -> Result<Vec<f64>, BenchError> {
    let mut sequence: u64 = 0;
    time_trials(trials, iterations, |count| {
        for _ in 0..count {
            sequence = sequence.wrapping_add(1);
            let expected = sequence;
            channel.request.0.store(expected, Ordering::Release);
            spin_until(
                || channel.response.0.load(Ordering::Acquire) == expected,
                &channel.abort.0,
            )
            .map_err(|failure| failure.into_error("server", "the server's response"))?;
        }
        Ok(())
    })
}

/// The server of a spin round trip: answers requests 1 to `total`. Allocates nothing (a
/// forked child runs it).
pub(super) fn spin_server(channel: &SpinChannel, total: u64) -> Result<(), WaitFailure> {
    for sequence in 1..=total {
        spin_until(
            || channel.request.0.load(Ordering::Acquire) == sequence,
            &channel.abort.0,
        )?;
        channel.response.0.store(sequence, Ordering::Release);
    }
    Ok(())
}

/// `baseline.spin_round_trip_threads`: ns per round trip between two threads of this
/// process spinning on two cache lines. The client stores request `i` (Release) and spins
/// until the response is `i`; the server spins until the request is `i` and stores response
/// `i`. Pinned: client on CPU 0, server on CPU 1 (an error if pinning fails); unpinned: both
/// keep the caller's affinity. About 1 M round trips per trial at scale 1.
pub fn spin_round_trip_threads(options: &Options) -> Result<Row, BenchError> {
    options.validate()?;
    let iterations = options.iterations(SPIN_ROUND_TRIPS);
    let total = total_iterations(options.trials, iterations);
    let channel = SpinChannel::default();
    let trials = run_pair(
        || {
            pin_side(options.pinned, CLIENT_CPU)?;
            spin_client(&channel, iterations, options.trials)
        },
        || {
            pin_side(options.pinned, SERVER_CPU)?;
            spin_server(&channel, total)
                .map_err(|failure| failure.into_error("client", "the client's request"))
        },
        || channel.abort.0.store(1, Ordering::Release),
    )?;
    summarize(
        "baseline.spin_round_trip_threads",
        parameters([
            ("pinned", options.pinned.to_string()),
            ("iterations", iterations.to_string()),
        ]),
        UNIT_NANOSECONDS,
        &trials,
    )
}

/// What the two sides of a futex round trip share.
#[derive(Default)]
#[repr(C)]
struct FutexChannel {
    /// The last request the client made (sequence numbers from 1, wrapping).
    request: CacheLine<AtomicU32>,
    /// The last request the server answered.
    response: CacheLine<AtomicU32>,
    /// Nonzero once a side gave up.
    abort: CacheLine<AtomicU32>,
}

impl FutexChannel {
    /// Raises the abort flag and wakes both words, so a sleeping peer notices at once.
    fn give_up(&self) {
        self.abort.0.store(1, Ordering::Release);
        // A failed wake only delays the peer until its next timed wake-up.
        let _ = futex_wake(&self.request.0);
        let _ = futex_wake(&self.response.0);
    }
}

/// Wakes the waiter of `word`, as an error naming the call on failure.
fn wake(word: &AtomicU32) -> Result<(), BenchError> {
    futex_wake(word).map_err(|errno| BenchError::Syscall {
        call: "futex(FUTEX_WAKE_PRIVATE)",
        errno,
    })
}

/// `baseline.futex_round_trip`: ns per round trip between two threads that never spin:
/// the client stores request `i`, `FUTEX_WAKE`s it and `FUTEX_WAIT`s (private) on the
/// response until it is `i`; the server waits on the request likewise, stores response `i`
/// and wakes it. Pinned as [`spin_round_trip_threads`]. About 50 k round trips per trial at
/// scale 1.
pub fn futex_round_trip(options: &Options) -> Result<Row, BenchError> {
    options.validate()?;
    let iterations = options.iterations(FUTEX_ROUND_TRIPS);
    let total = total_iterations(options.trials, iterations);
    let channel = FutexChannel::default();
    let trials = run_pair(
        || {
            pin_side(options.pinned, CLIENT_CPU)?;
            let mut sequence: u32 = 0;
            time_trials(options.trials, iterations, |count| {
                for _ in 0..count {
                    sequence = sequence.wrapping_add(1);
                    channel.request.0.store(sequence, Ordering::Release);
                    wake(&channel.request.0)?;
                    futex_wait_for(&channel.response.0, sequence, &channel.abort.0)
                        .map_err(|failure| failure.into_error("server", "the server's response"))?;
                }
                Ok(())
            })
        },
        || {
            pin_side(options.pinned, SERVER_CPU)?;
            let mut sequence: u32 = 0;
            for _ in 0..total {
                sequence = sequence.wrapping_add(1);
                futex_wait_for(&channel.request.0, sequence, &channel.abort.0)
                    .map_err(|failure| failure.into_error("client", "the client's request"))?;
                channel.response.0.store(sequence, Ordering::Release);
                wake(&channel.response.0)?;
            }
            Ok(())
        },
        || channel.give_up(),
    )?;
    summarize(
        "baseline.futex_round_trip",
        parameters([
            ("pinned", options.pinned.to_string()),
            ("iterations", iterations.to_string()),
        ]),
        UNIT_NANOSECONDS,
        &trials,
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_row, exclusive, tiny};
    use super::*;

    #[test]
    fn the_lines_are_apart() {
        assert_eq!(std::mem::align_of::<SpinChannel>(), 128);
        assert_eq!(std::mem::size_of::<SpinChannel>(), 4 * 128);
        assert_eq!(std::mem::size_of::<FutexChannel>(), 3 * 128);
    }

    #[test]
    fn spin_round_trip_threads_measures() {
        let _exclusive = exclusive();
        for pinned in [true, false] {
            let options = tiny(pinned);
            let row = spin_round_trip_threads(&options).expect("measures");
            check_row(&row, "baseline.spin_round_trip_threads", &options);
            assert_eq!(row.parameters["pinned"], pinned.to_string());
        }
    }

    #[test]
    fn futex_round_trip_measures() {
        let _exclusive = exclusive();
        for pinned in [true, false] {
            let options = tiny(pinned);
            let row = futex_round_trip(&options).expect("measures");
            check_row(&row, "baseline.futex_round_trip", &options);
            assert_eq!(row.parameters["pinned"], pinned.to_string());
        }
    }
}
