//! The time-stamp counter: reading it, and calibrating its rate against the monotonic clock.

use crate::BenchError;
use std::time::{Duration, Instant};

/// How long [`tsc_ghz`] watches the counter.
const CALIBRATION: Duration = Duration::from_millis(50);

/// The time-stamp counter (`rdtsc`): cycles at a constant rate on this machine.
#[cfg(target_arch = "x86_64")]
pub fn rdtsc() -> u64 {
    // SAFETY: rdtsc reads a register and has no precondition on x86_64.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// The counter's rate in GHz (ticks per nanosecond), measured over about 50 ms against
/// [`Instant`]. Multiply a time in ns by it to get cycles.
#[cfg(target_arch = "x86_64")]
pub fn tsc_ghz() -> Result<f64, BenchError> {
    let start = Instant::now();
    let start_ticks = rdtsc();
    std::thread::sleep(CALIBRATION);
    let ticks = rdtsc().wrapping_sub(start_ticks);
    let nanoseconds = start.elapsed().as_nanos();
    if nanoseconds == 0 || ticks == 0 {
        return Err(BenchError::Unsupported(
            "the time-stamp counter did not advance",
        ));
    }
    Ok(ticks as f64 / nanoseconds as f64)
}

/// The counter's rate: only x86_64 has one here.
#[cfg(not(target_arch = "x86_64"))]
pub fn tsc_ghz() -> Result<f64, BenchError> {
    Err(BenchError::Unsupported("rdtsc exists only on x86_64"))
}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn the_counter_advances_and_calibrates() {
        let first = rdtsc();
        let second = rdtsc();
        assert!(second >= first);
        let rate = tsc_ghz().expect("calibrates");
        assert!(rate.is_finite() && rate > 0.0, "{rate}");
    }
}
