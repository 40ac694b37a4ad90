//! Why a measurement failed: every OS failure and every bad input becomes a [`BenchError`].

use std::fmt;

/// Why a baseline, a summary or a comparison failed.
#[derive(Clone, Debug, PartialEq)]
pub enum BenchError {
    /// A system call failed; `errno` is what the kernel (or libc) reported.
    Syscall {
        /// The call that failed, e.g. `"futex(FUTEX_WAIT_PRIVATE)"`.
        call: &'static str,
        /// The error number it returned.
        errno: i32,
    },
    /// Pinning a thread or process to `cpus` with `sched_setaffinity` failed.
    Pinning {
        /// The CPUs asked for.
        cpus: Vec<usize>,
        /// The error number `sched_setaffinity` returned.
        errno: i32,
    },
    /// A peer (thread or process) did not answer within `seconds`.
    Timeout {
        /// What was awaited, e.g. `"the server's response"`.
        waiting_for: &'static str,
        /// How long the wait lasted.
        seconds: u64,
    },
    /// The peer gave up first; its own error says why (this one only says that it did).
    PeerGaveUp {
        /// Which side gave up, e.g. `"server"`.
        peer: &'static str,
    },
    /// A helper thread or child process failed; the text says how.
    PeerFailed(String),
    /// Options or parameters a baseline cannot run with.
    InvalidOptions(String),
    /// [`crate::summarize`] got no trials.
    NoTrials {
        /// The row that had none.
        name: String,
    },
    /// [`crate::summarize`] got a trial that is NaN or infinite.
    NonFiniteTrial {
        /// The row it belongs to.
        name: String,
        /// The offending value.
        value: f64,
    },
    /// [`crate::compare`] got a row and a baseline in different units.
    UnitMismatch {
        /// The row's name.
        row: String,
        /// The row's unit.
        unit: String,
        /// The baseline's name.
        baseline: String,
        /// The baseline's unit.
        baseline_unit: String,
    },
    /// [`crate::compare`] got a baseline whose median is zero or not finite.
    UnusableBaseline {
        /// The baseline's name.
        baseline: String,
        /// Its median.
        median: f64,
    },
    /// A buffer of `bytes` could not be allocated.
    OutOfMemory {
        /// The size asked for.
        bytes: usize,
    },
    /// The baseline does not exist on this machine (architecture or OS).
    Unsupported(&'static str),
}

impl fmt::Display for BenchError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syscall { call, errno } => {
                write!(formatter, "{call} failed: {}", describe_errno(*errno))
            }
            Self::Pinning { cpus, errno } => write!(
                formatter,
                "pinning to CPUs {cpus:?} failed: sched_setaffinity: {}",
                describe_errno(*errno)
            ),
            Self::Timeout {
                waiting_for,
                seconds,
            } => write!(
                formatter,
                "timed out after {seconds} s waiting for {waiting_for}"
            ),
            Self::PeerGaveUp { peer } => write!(formatter, "the {peer} gave up"),
            Self::PeerFailed(text) | Self::InvalidOptions(text) => formatter.write_str(text),
            Self::NoTrials { name } => write!(formatter, "no trials to summarize for {name}"),
            Self::NonFiniteTrial { name, value } => {
                write!(formatter, "trial value {value} of {name} is not finite")
            }
            Self::UnitMismatch {
                row,
                unit,
                baseline,
                baseline_unit,
            } => write!(
                formatter,
                "cannot compare {row} ({unit}) with {baseline} ({baseline_unit}): units differ"
            ),
            Self::UnusableBaseline { baseline, median } => write!(
                formatter,
                "cannot compare with {baseline}: its median {median} is zero or not finite"
            ),
            Self::OutOfMemory { bytes } => write!(formatter, "cannot allocate {bytes} bytes"),
            Self::Unsupported(what) => write!(formatter, "unsupported on this machine: {what}"),
        }
    }
}

impl std::error::Error for BenchError {}

/// The text of an error number, e.g. `Invalid argument (os error 22)`.
fn describe_errno(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno).to_string()
}

/// The calling thread's `errno` after a failed call (0 when there is none).
///
/// Allocates nothing, so a forked child may call it.
pub(crate) fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// The error number an `io::Error` carries (0 when it carries none).
pub(crate) fn errno_of(error: &std::io::Error) -> i32 {
    error.raw_os_error().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_call_and_the_errno() {
        let error = BenchError::Syscall {
            call: "futex(FUTEX_WAKE_PRIVATE)",
            errno: libc::EINVAL,
        };
        let text = error.to_string();
        assert!(
            text.starts_with("futex(FUTEX_WAKE_PRIVATE) failed: "),
            "{text}"
        );
        assert!(text.contains("os error 22"), "{text}");
    }

    #[test]
    fn display_of_pinning_says_so() {
        let error = BenchError::Pinning {
            cpus: vec![1],
            errno: libc::EINVAL,
        };
        assert!(error.to_string().starts_with("pinning to CPUs [1] failed"));
    }
}
