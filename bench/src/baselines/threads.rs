//! Thread creation: `std::thread::spawn` of an empty closure, then `join`.

use super::{CLIENT_CPU, SERVER_CPU, parameters, run_in_thread, spawn_error, time_trials};
use crate::affinity::pin_current_thread;
use crate::{BenchError, Options, Row, UNIT_NANOSECONDS, summarize};

/// Threads created per trial at scale 1.
const THREAD_CREATIONS: u64 = 20_000;

/// `baseline.pthread_create_join`: ns per creation and join of a thread running an empty
/// closure (`std::thread` defaults, so `pthread_create` with a 2 MiB stack, then
/// `pthread_join`).
///
/// The creator is a dedicated thread, so the caller's affinity stays untouched. Pinned
/// variant: the creator is pinned to CPU 0 before the loop, and every child inherits that
/// mask, so creator and child share one CPU. Unpinned variant: the creator's mask is
/// CPUs {0, 1}. About 20 k threads per trial at scale 1.
pub fn pthread_create_join(options: &Options) -> Result<Row, BenchError> {
    options.validate()?;
    let iterations = options.iterations(THREAD_CREATIONS);
    let cpus: &[usize] = if options.pinned {
        &[CLIENT_CPU]
    } else {
        &[CLIENT_CPU, SERVER_CPU]
    };
    let trials = run_in_thread("bench-creator", || {
        pin_current_thread(cpus)?;
        time_trials(options.trials, iterations, |count| {
            for _ in 0..count {
                create_and_join()?;
            }
            Ok(())
        })
    })?;
    summarize(
        "baseline.pthread_create_join",
        parameters([
            ("pinned", options.pinned.to_string()),
            ("iterations", iterations.to_string()),
        ]),
        UNIT_NANOSECONDS,
        &trials,
    )
}

/// Creates a thread that does nothing and joins it.
fn create_and_join() -> Result<(), BenchError> {
    std::thread::Builder::new()
        .spawn(|| {})
        .map_err(|error| spawn_error(&error))?
        .join()
        .map_err(|_| BenchError::PeerFailed("an empty thread panicked".to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_row, exclusive, tiny};
    use super::*;

    #[test]
    fn pthread_create_join_measures() {
        let _exclusive = exclusive();
        for pinned in [true, false] {
            let options = tiny(pinned);
            let row = pthread_create_join(&options).expect("measures");
            check_row(&row, "baseline.pthread_create_join", &options);
            assert_eq!(row.parameters["pinned"], pinned.to_string());
        }
    }
}
