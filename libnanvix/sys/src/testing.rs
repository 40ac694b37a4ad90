//! Checks for test programs (each compares a call's result with the one wanted,
//! prints a `FAIL` line when they differ, and the total makes the exit status), and
//! the timing loop of benchmark programs.

use crate::println;
use nanvix_abi::Errno;

/// The checks a test program made so far.
#[derive(Debug, Default)]
pub struct Checks {
    /// How many were made.
    pub run: u32,
    /// How many failed.
    pub failed: u32,
}

impl Checks {
    /// No checks yet.
    pub fn new() -> Checks {
        Checks::default()
    }

    /// Counts a check named `name`: `result` must equal `wanted`, else a line
    /// `FAIL name: got ..., wanted ...` is printed.
    pub fn expect<T: PartialEq + core::fmt::Debug>(
        &mut self,
        name: &str,
        result: Result<T, Errno>,
        wanted: Result<T, Errno>,
    ) {
        self.run += 1;
        if result != wanted {
            self.failed += 1;
            println!("FAIL {name}: got {result:?}, wanted {wanted:?}");
        }
    }

    /// Counts a check named `name` of any values: `got` must equal `wanted`, else a
    /// line `FAIL name: got ..., wanted ...` is printed.
    pub fn same<T: PartialEq + core::fmt::Debug>(&mut self, name: &str, got: T, wanted: T) {
        self.expect(name, Ok(got), Ok(wanted));
    }

    /// Prints `PROGRAM: N checks, M failed` and returns the failures as an exit
    /// status.
    pub fn finish(&self, program: &str) -> i32 {
        println!("{program}: {} checks, {} failed", self.run, self.failed);
        self.failed as i32
    }
}

/// Plays `rounds` round trips as a warm-up, then times `trials` trials of `rounds`
/// and prints `bench NAME cycles=<cycles per round trip> bytes=<bytes>` after each
/// (the line `nanvix bench` reads). Stops at the first failed trip.
pub fn time_trips<E>(
    name: &str,
    bytes: usize,
    rounds: u64,
    trials: u64,
    mut trip: impl FnMut() -> Result<(), E>,
) -> Result<(), E> {
    for _ in 0..rounds {
        trip()?;
    }
    for _ in 0..trials {
        let start = crate::clock::cycles();
        for _ in 0..rounds {
            trip()?;
        }
        let elapsed = crate::clock::cycles().wrapping_sub(start);
        println!(
            "bench {name} cycles={} bytes={bytes}",
            elapsed / rounds.max(1)
        );
    }
    Ok(())
}
