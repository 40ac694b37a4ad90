//! Time for measurements: the calling core's cycle counter.

use crate::runtime::kcall;
use nanvix_abi::Kcall;

/// The calling core's cycle counter (hosted: the TSC, about 2.6 GHz here). Use the
/// difference of two readings on the same program to time a stretch of code.
pub fn cycles() -> u64 {
    kcall(Kcall::Cycles, [0; 5]).map_or(0, |value| value as u64)
}

/// CPU time the calling thread has used, in nanoseconds: time it waited for a core
/// or blocked does not count. 0 where the platform cannot tell.
pub fn thread_cpu_nanoseconds() -> u64 {
    kcall(Kcall::ThreadCpuTime, [0; 5]).map_or(0, |value| value as u64)
}

/// The wall clock: nanoseconds since the Unix epoch (the `wall-clock` device).
pub fn wall_clock_nanoseconds() -> Result<u64, nanvix_abi::Errno> {
    crate::device::read_u64(crate::device::Device::WallClock)
}

/// A monotonic clock in nanoseconds (the `timer` device).
pub fn monotonic_nanoseconds() -> Result<u64, nanvix_abi::Errno> {
    crate::device::read_u64(crate::device::Device::Timer)
}
