//! Process creation: `posix_spawn` and `waitpid` of a tiny static executable.

use super::{parameters, spawn_error, time_trials};
use crate::elf::tiny_exit_executable;
use crate::error::{errno_of, last_errno};
use crate::wait::PEER_TIMEOUT;
use crate::{BenchError, Options, Row, UNIT_NANOSECONDS, summarize};
use std::ffi::CString;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Spawns per trial at scale 1.
const SPAWNS: u64 = 2_000;

/// How often the first spawn is retried while the file is busy (`ETXTBSY`).
const TEXT_BUSY_RETRIES: u32 = 200;

/// The pause between two such retries.
const TEXT_BUSY_PAUSE: Duration = Duration::from_millis(5);

/// How often the watchdog looks at the progress.
const WATCHDOG_PERIOD: Duration = Duration::from_millis(100);

/// `baseline.spawn_wait_tiny_static`: ns per `posix_spawn` + `waitpid` of a hand-assembled
/// static x86_64 executable that only calls `exit(0)` (see [`crate::elf`]).
///
/// The executable is written (mode 0755) into the temporary directory and removed
/// afterwards; every child must exit with status 0. A watchdog kills a child that has not
/// exited after 10 s. About 2 k spawns per trial at scale 1.
pub fn spawn_wait_tiny_static(options: &Options) -> Result<Row, BenchError> {
    options.validate()?;
    if !cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        return Err(BenchError::Unsupported(
            "the tiny executable is x86_64 Linux code",
        ));
    }
    let iterations = options.iterations(SPAWNS);
    let executable = TemporaryExecutable::write(&tiny_exit_executable())?;
    let watchdog = Watchdog::default();
    let trials = std::thread::scope(|scope| {
        let watcher = std::thread::Builder::new()
            .name("bench-spawn-watchdog".to_string())
            .spawn_scoped(scope, || watchdog.watch())
            .map_err(|error| spawn_error(&error))?;
        let result = executable.spawn_once_not_busy(&watchdog).and_then(|()| {
            time_trials(options.trials, iterations, |count| {
                for _ in 0..count {
                    executable.spawn_and_wait(&watchdog)?;
                }
                Ok(())
            })
        });
        watchdog.stopped.store(true, Ordering::Release);
        watcher.thread().unpark();
        // The watchdog cannot fail; a panic there would already have been reported.
        let _ = watcher.join();
        result
    })?;
    summarize(
        "baseline.spawn_wait_tiny_static",
        parameters([("iterations", iterations.to_string())]),
        UNIT_NANOSECONDS,
        &trials,
    )
}

/// The executable written to a temporary file, removed on drop.
struct TemporaryExecutable {
    path: PathBuf,
    path_text: CString,
}

impl TemporaryExecutable {
    /// Writes `image` to a fresh file of the temporary directory, mode 0755.
    fn write(image: &[u8]) -> Result<Self, BenchError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "nanvix-bench-exit-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let path_text = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            BenchError::InvalidOptions(format!("{} holds a NUL byte", path.display()))
        })?;
        let file_error = |call: &'static str| {
            move |error: std::io::Error| BenchError::Syscall {
                call,
                errno: errno_of(&error),
            }
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o755)
            .open(&path)
            .map_err(file_error("open (tiny executable)"))?;
        // From here on, dropping `executable` removes the file.
        let executable = Self { path, path_text };
        file.write_all(image)
            .map_err(file_error("write (tiny executable)"))?;
        file.set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(file_error("fchmod (tiny executable)"))?;
        drop(file);
        Ok(executable)
    }

    /// Spawns the executable; returns the child's pid or the error number.
    fn spawn(&self) -> Result<libc::pid_t, i32> {
        let mut pid: libc::pid_t = 0;
        let arguments: [*mut libc::c_char; 2] =
            [self.path_text.as_ptr().cast_mut(), std::ptr::null_mut()];
        let environment: [*mut libc::c_char; 1] = [std::ptr::null_mut()];
        // SAFETY: the path and both vectors are NUL-terminated and outlive the call
        // (posix_spawn does not write through them); null file actions and attributes mean
        // the defaults; `pid` is a local.
        let result = unsafe {
            libc::posix_spawn(
                &mut pid,
                self.path_text.as_ptr(),
                std::ptr::null(),
                std::ptr::null(),
                arguments.as_ptr(),
                environment.as_ptr(),
            )
        };
        if result == 0 { Ok(pid) } else { Err(result) }
    }

    /// Spawns the executable, waits for it, and checks it exited with status 0.
    fn spawn_and_wait(&self, watchdog: &Watchdog) -> Result<(), BenchError> {
        let pid = self.spawn().map_err(|errno| BenchError::Syscall {
            call: "posix_spawn",
            errno,
        })?;
        watchdog.child.store(pid, Ordering::Release);
        let status = wait_blocking(pid);
        watchdog.child.store(0, Ordering::Release);
        watchdog.progress.fetch_add(1, Ordering::Release);
        let status = status?;
        if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
            return Ok(());
        }
        if watchdog.killed.load(Ordering::Acquire) {
            return Err(BenchError::Timeout {
                waiting_for: "the tiny executable to exit",
                seconds: PEER_TIMEOUT.as_secs(),
            });
        }
        Err(BenchError::PeerFailed(format!(
            "the tiny executable {} ended with wait status {status:#x}",
            self.path.display()
        )))
    }

    /// The first spawn, retried while the file is busy: a process forked by another thread
    /// while the file was open for writing holds it open until it execs or exits.
    fn spawn_once_not_busy(&self, watchdog: &Watchdog) -> Result<(), BenchError> {
        let mut retries = 0;
        loop {
            match self.spawn_and_wait(watchdog) {
                Err(BenchError::Syscall {
                    errno: libc::ETXTBSY,
                    ..
                }) if retries < TEXT_BUSY_RETRIES => {
                    retries += 1;
                    std::thread::sleep(TEXT_BUSY_PAUSE);
                }
                other => return other,
            }
        }
    }
}

impl Drop for TemporaryExecutable {
    fn drop(&mut self) {
        // Nothing to do about a file that cannot be removed: it is in the temporary
        // directory, named after this process.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Waits for the child `pid` to exit (the watchdog bounds the wait) and returns its status.
fn wait_blocking(pid: libc::pid_t) -> Result<libc::c_int, BenchError> {
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid on our own child, writing into a local.
        let result = unsafe { libc::waitpid(pid, &mut status, 0) };
        if result == pid {
            return Ok(status);
        }
        let errno = last_errno();
        if result >= 0 || errno != libc::EINTR {
            return Err(BenchError::Syscall {
                call: "waitpid",
                errno,
            });
        }
    }
}

/// Bounds the blocking waits: kills the child being waited for when no spawn completed for
/// [`PEER_TIMEOUT`].
#[derive(Default)]
struct Watchdog {
    /// The child being waited for, 0 when none.
    child: AtomicI32,
    /// Spawns completed so far.
    progress: AtomicU64,
    /// Set when the measurement ended.
    stopped: AtomicBool,
    /// Set when the watchdog killed a child.
    killed: AtomicBool,
}

impl Watchdog {
    /// Watches until stopped (woken by an unpark, or at the latest after a period).
    fn watch(&self) {
        let mut last_progress = self.progress.load(Ordering::Acquire);
        let mut since = Instant::now();
        while !self.stopped.load(Ordering::Acquire) {
            std::thread::park_timeout(WATCHDOG_PERIOD);
            let progress = self.progress.load(Ordering::Acquire);
            if progress != last_progress {
                last_progress = progress;
                since = Instant::now();
                continue;
            }
            let child = self.child.load(Ordering::Acquire);
            if child > 0 && since.elapsed() >= PEER_TIMEOUT {
                self.killed.store(true, Ordering::Release);
                // SAFETY: kill(2) of the child being waited for: the waiting thread clears
                // `child` right after reaping it, and no spawn completed for 10 s, so it is
                // still unreaped and the pid still ours.
                unsafe { libc::kill(child, libc::SIGKILL) };
                since = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{check_row, exclusive, tiny};
    use super::*;

    #[test]
    fn spawn_wait_tiny_static_really_spawns() {
        let _exclusive = exclusive();
        let options = tiny(false);
        let row = spawn_wait_tiny_static(&options).expect("spawns the tiny executable");
        check_row(&row, "baseline.spawn_wait_tiny_static", &options);
    }

    #[test]
    fn the_tiny_executable_exits_with_zero() {
        let _exclusive = exclusive();
        let executable = TemporaryExecutable::write(&tiny_exit_executable()).expect("writes");
        let watchdog = Watchdog::default();
        assert_eq!(executable.spawn_once_not_busy(&watchdog), Ok(()));
        assert_eq!(watchdog.progress.load(Ordering::Acquire), 1);
        let path = executable.path.clone();
        drop(executable);
        assert!(!path.exists(), "the file is removed");
    }

    #[test]
    fn a_failing_child_is_an_error() {
        let _exclusive = exclusive();
        let mut image = tiny_exit_executable();
        // `xor edi, edi` becomes `inc edi`: registers start at zero, so this is exit(1).
        let code = image.len() - 4;
        image[code] = 0xff;
        image[code + 1] = 0xc7;
        let executable = TemporaryExecutable::write(&image).expect("writes");
        let watchdog = Watchdog::default();
        let error = executable
            .spawn_once_not_busy(&watchdog)
            .expect_err("exit status 1");
        assert!(matches!(error, BenchError::PeerFailed(_)), "{error}");
    }
}
