//! The cheapest crossings: an indirect function call and a system call.

use super::{parameters, time_trials};
use crate::{BenchError, Options, Row, UNIT_NANOSECONDS, summarize};
use std::hint::black_box;

/// Calls per trial at scale 1.
const FUNCTION_CALLS: u64 = 100_000_000;

/// `getppid` system calls per trial at scale 1.
const GETPPID_CALLS: u64 = 2_000_000;

/// The callee of [`function_call`]: never inlined, so the call really happens.
#[inline(never)]
fn identity(value: u64) -> u64 {
    value
}

/// `baseline.function_call`: ns per call through an opaque (`black_box`ed) function pointer
/// to an `#[inline(never)]` function. About 100 M calls per trial at scale 1.
pub fn function_call(options: &Options) -> Result<Row, BenchError> {
    options.validate()?;
    let iterations = options.iterations(FUNCTION_CALLS);
    let function: fn(u64) -> u64 = black_box(identity);
    let trials = time_trials(options.trials, iterations, |count| {
        for value in 0..count {
            black_box(function(black_box(value)));
        }
        Ok(())
    })?;
    summarize(
        "baseline.function_call",
        parameters([("iterations", iterations.to_string())]),
        UNIT_NANOSECONDS,
        &trials,
    )
}

/// `baseline.getppid`: ns per `syscall(SYS_getppid)`, the cheapest real system call.
/// About 2 M calls per trial at scale 1.
pub fn getppid(options: &Options) -> Result<Row, BenchError> {
    options.validate()?;
    let iterations = options.iterations(GETPPID_CALLS);
    let trials = time_trials(options.trials, iterations, |count| {
        for _ in 0..count {
            // SAFETY: getppid takes no argument, touches no memory and cannot fail.
            black_box(unsafe { libc::syscall(libc::SYS_getppid) });
        }
        Ok(())
    })?;
    summarize(
        "baseline.getppid",
        parameters([("iterations", iterations.to_string())]),
        UNIT_NANOSECONDS,
        &trials,
    )
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_row, exclusive, tiny};
    use super::*;

    #[test]
    fn function_call_measures() {
        let _exclusive = exclusive();
        let options = tiny(false);
        let row = function_call(&options).expect("measures");
        check_row(&row, "baseline.function_call", &options);
        assert_eq!(row.unit, UNIT_NANOSECONDS);
    }

    #[test]
    fn getppid_measures() {
        let _exclusive = exclusive();
        let options = tiny(false);
        let row = getppid(&options).expect("measures");
        check_row(&row, "baseline.getppid", &options);
    }
}
