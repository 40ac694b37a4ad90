//! The spin round trip between two processes: a forked child over a memfd shared mapping.

use super::round_trip::{SPIN_ROUND_TRIPS, SpinChannel, spin_client, spin_server};
use super::{CLIENT_CPU, SERVER_CPU, parameters, pin_side, run_in_thread, total_iterations};
use crate::affinity::pin_current_thread_raw;
use crate::error::last_errno;
use crate::memory::SharedMapping;
use crate::wait::{PEER_TIMEOUT, WaitFailure};
use crate::{BenchError, Options, Row, UNIT_NANOSECONDS, summarize};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// The child's exit status when it answered every request.
const CHILD_SERVED: i32 = 0;

/// The child's exit status when pinning failed; the errno is in the channel's `detail`.
const CHILD_PINNING_FAILED: i32 = 10;

/// The child's exit status when the parent stopped asking for [`PEER_TIMEOUT`].
const CHILD_TIMED_OUT: i32 = 11;

/// The child's exit status when the parent gave up.
const CHILD_PARENT_GAVE_UP: i32 = 12;

/// The child's exit status when it found itself orphaned before it started.
const CHILD_ORPHANED: i32 = 13;

/// How long the parent waits for the child to tell why it failed, once the parent failed.
const POST_MORTEM_TIMEOUT: Duration = Duration::from_secs(1);

/// `baseline.spin_round_trip_processes`: the protocol of
/// [`spin_round_trip_threads`](super::spin_round_trip_threads), between this process and a
/// `fork`ed child, over a `memfd_create` file mapped `MAP_SHARED`. Pinned: parent on CPU 0,
/// child on CPU 1. The parent side runs in a dedicated thread (the caller's affinity stays
/// untouched); a child that stops answering is killed after 10 s and reported. About 1 M
/// round trips per trial at scale 1.
pub fn spin_round_trip_processes(options: &Options) -> Result<Row, BenchError> {
    options.validate()?;
    let iterations = options.iterations(SPIN_ROUND_TRIPS);
    let trials = run_in_thread("bench-parent", || parent_side(options, iterations))?;
    summarize(
        "baseline.spin_round_trip_processes",
        parameters([
            ("pinned", options.pinned.to_string()),
            ("iterations", iterations.to_string()),
        ]),
        UNIT_NANOSECONDS,
        &trials,
    )
}

/// The parent: maps the channel, forks the server, runs the client, reaps the child.
fn parent_side(options: &Options, iterations: u64) -> Result<Vec<f64>, BenchError> {
    let total = total_iterations(options.trials, iterations);
    pin_side(options.pinned, CLIENT_CPU)?;
    let mapping = SharedMapping::new(std::mem::size_of::<SpinChannel>())?;
    // SAFETY: the mapping is page-aligned (more than the channel's 128), at least a channel
    // long, and zeroed, which is a valid channel (atomics at zero); the reference borrows
    // `mapping`, so it cannot outlive it.
    let channel = unsafe { &*mapping.as_pointer().cast::<SpinChannel>() };
    // SAFETY: getpid has no precondition.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the child runs only `child_side`, which allocates nothing, takes no lock and
    // ends in `_exit` — what a child forked from a multithreaded process may do.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(BenchError::Syscall {
            call: "fork",
            errno: last_errno(),
        });
    }
    if pid == 0 {
        child_side(channel, options.pinned, total, parent);
    }
    let mut child = ChildProcess { pid, reaped: false };
    match spin_client(channel, iterations, options.trials) {
        Ok(trials) => {
            let status = child.wait(PEER_TIMEOUT)?;
            check_child_status(status, channel)?;
            Ok(trials)
        }
        Err(error) => {
            channel.abort.0.store(1, Ordering::Release);
            if matches!(error, BenchError::PeerGaveUp { .. }) {
                // The child gave up first: its exit status says why.
                let status = child.wait(POST_MORTEM_TIMEOUT)?;
                check_child_status(status, channel)?;
            }
            Err(error)
        }
    }
}

/// The child: pins itself, serves `total` requests, and `_exit`s with a status saying how
/// it went. Allocates nothing and never returns.
fn child_side(channel: &SpinChannel, pinned: bool, total: u64, parent: libc::pid_t) -> ! {
    // SAFETY: PR_SET_PDEATHSIG only sets a flag of this process: it dies with the parent's
    // thread, so it cannot outlive a crashed parent.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) };
    // SAFETY: getppid has no precondition.
    if unsafe { libc::getppid() } != parent {
        exit_child(CHILD_ORPHANED);
    }
    if pinned && let Err(errno) = pin_current_thread_raw(&[SERVER_CPU]) {
        channel.detail.0.store(errno as u64, Ordering::Relaxed);
        channel.abort.0.store(1, Ordering::Release);
        exit_child(CHILD_PINNING_FAILED);
    }
    let status = match spin_server(channel, total) {
        Ok(()) => CHILD_SERVED,
        Err(WaitFailure::TimedOut) => {
            channel.abort.0.store(1, Ordering::Release);
            CHILD_TIMED_OUT
        }
        Err(WaitFailure::PeerGaveUp | WaitFailure::Futex(_)) => CHILD_PARENT_GAVE_UP,
    };
    exit_child(status)
}

/// Ends the child at once with `status`.
fn exit_child(status: i32) -> ! {
    // SAFETY: _exit ends the process without running atexit handlers or destructors —
    // the only safe way out for a child forked from a multithreaded process.
    unsafe { libc::_exit(status) }
}

/// What the child's wait `status` means: nothing (success) or an error.
fn check_child_status(status: libc::c_int, channel: &SpinChannel) -> Result<(), BenchError> {
    if libc::WIFSIGNALED(status) {
        return Err(BenchError::PeerFailed(format!(
            "the child process was killed by signal {}",
            libc::WTERMSIG(status)
        )));
    }
    match libc::WEXITSTATUS(status) {
        CHILD_SERVED => Ok(()),
        CHILD_PINNING_FAILED => Err(BenchError::Pinning {
            cpus: vec![SERVER_CPU],
            errno: channel.detail.0.load(Ordering::Relaxed) as i32,
        }),
        CHILD_TIMED_OUT => Err(BenchError::Timeout {
            waiting_for: "the parent's request (in the child process)",
            seconds: PEER_TIMEOUT.as_secs(),
        }),
        CHILD_PARENT_GAVE_UP => Err(BenchError::PeerGaveUp { peer: "parent" }),
        CHILD_ORPHANED => Err(BenchError::PeerFailed(
            "the child process was orphaned before it started".to_string(),
        )),
        other => Err(BenchError::PeerFailed(format!(
            "the child process exited with status {other}"
        ))),
    }
}

/// A forked child not yet reaped; dropping it kills and reaps it.
struct ChildProcess {
    pid: libc::pid_t,
    reaped: bool,
}

impl ChildProcess {
    /// Waits at most `timeout` for the child to exit and returns its wait status; past the
    /// timeout, kills it and fails.
    fn wait(&mut self, timeout: Duration) -> Result<libc::c_int, BenchError> {
        let start = Instant::now();
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: waitpid on our own unreaped child, writing into a local.
            let result = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
            if result == self.pid {
                self.reaped = true;
                return Ok(status);
            }
            if result < 0 {
                let errno = last_errno();
                if errno != libc::EINTR {
                    self.reaped = errno == libc::ECHILD;
                    return Err(BenchError::Syscall {
                        call: "waitpid",
                        errno,
                    });
                }
            }
            if start.elapsed() >= timeout {
                self.kill_and_reap();
                return Err(BenchError::Timeout {
                    waiting_for: "the child process to exit",
                    seconds: timeout.as_secs(),
                });
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Kills the child with SIGKILL and reaps it.
    fn kill_and_reap(&mut self) {
        if self.reaped {
            return;
        }
        // SAFETY: kill(2) of our own child, not yet reaped, so its pid is still ours.
        unsafe { libc::kill(self.pid, libc::SIGKILL) };
        loop {
            let mut status: libc::c_int = 0;
            // SAFETY: waitpid on our own child, writing into a local; after SIGKILL the
            // child exits promptly.
            let result = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if result >= 0 || last_errno() != libc::EINTR {
                break;
            }
        }
        self.reaped = true;
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill_and_reap();
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_row, exclusive, tiny};
    use super::*;

    #[test]
    fn a_silent_child_is_killed_after_the_timeout() {
        // SAFETY: the child only calls pause and _exit, which allocate nothing.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: pause waits for a signal; the SIGKILL below ends the child.
            unsafe { libc::pause() };
            exit_child(CHILD_SERVED);
        }
        let mut child = ChildProcess { pid, reaped: false };
        let error = child
            .wait(Duration::from_millis(20))
            .expect_err("the child never exits by itself");
        assert!(matches!(error, BenchError::Timeout { .. }), "{error}");
        assert!(child.reaped);
    }

    #[test]
    fn child_statuses_are_explained() {
        let channel = SpinChannel::default();
        channel
            .detail
            .0
            .store(libc::EINVAL as u64, Ordering::Relaxed);
        let exited = |status: i32| status << 8;
        assert_eq!(check_child_status(exited(CHILD_SERVED), &channel), Ok(()));
        assert_eq!(
            check_child_status(exited(CHILD_PINNING_FAILED), &channel),
            Err(BenchError::Pinning {
                cpus: vec![SERVER_CPU],
                errno: libc::EINVAL
            })
        );
        assert!(matches!(
            check_child_status(exited(CHILD_TIMED_OUT), &channel),
            Err(BenchError::Timeout { .. })
        ));
        assert!(matches!(
            check_child_status(libc::SIGKILL, &channel),
            Err(BenchError::PeerFailed(_))
        ));
    }

    #[test]
    fn spin_round_trip_processes_measures() {
        let _exclusive = exclusive();
        for pinned in [true, false] {
            let options = tiny(pinned);
            let row = spin_round_trip_processes(&options).expect("measures");
            check_row(&row, "baseline.spin_round_trip_processes", &options);
            assert_eq!(row.parameters["pinned"], pinned.to_string());
        }
    }
}
