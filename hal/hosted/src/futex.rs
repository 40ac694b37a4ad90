//! Linux futex calls: wait, wake and wait on many words (`futex_waitv`).

use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Whether the word is private to this process or shared with other processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Only threads of this process wait or wake on it.
    Private,
    /// The word lives in memory shared between processes.
    Shared,
}

fn timespec(timeout: Duration) -> libc::timespec {
    libc::timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    }
}

/// Sleeps while `*word == expected`, at most `timeout`. Returns early on a wake, a
/// signal or a changed value; callers re-check their condition.
pub fn wait(word: &AtomicU32, expected: u32, scope: Scope, timeout: Duration) {
    let operation = match scope {
        Scope::Private => libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
        Scope::Shared => libc::FUTEX_WAIT,
    };
    let timeout = timespec(timeout);
    // SAFETY: `word` is a valid, aligned u32 for the duration of the call; the kernel
    // only reads it. The timeout is a valid relative timespec.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            operation,
            expected,
            &timeout as *const libc::timespec,
        );
    }
}

/// Wakes up to `count` waiters on `word`.
pub fn wake(word: &AtomicU32, scope: Scope, count: i32) {
    let operation = match scope {
        Scope::Private => libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
        Scope::Shared => libc::FUTEX_WAKE,
    };
    // SAFETY: `word` is a valid, aligned u32; FUTEX_WAKE does not access memory
    // beyond resolving the address.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), operation, count);
    }
}

/// The kernel's `struct futex_waitv`.
#[repr(C)]
struct FutexWaitVector {
    value: u64,
    address: u64,
    flags: u32,
    reserved: u32,
}

const FUTEX2_SIZE_U32: u32 = 0x02;
const FUTEX2_PRIVATE: u32 = 128;
/// The kernel accepts at most this many words in one `futex_waitv`.
pub const WAITV_MAX: usize = 128;

/// Sleeps until any `word == expected` pair no longer holds, a wake arrives on any of
/// the words, or `timeout` passes. With more than [`WAITV_MAX`] words it sleeps for a
/// bounded slice of the timeout instead, so callers still re-check regularly.
pub fn wait_any(words: &[(&AtomicU32, u32, Scope)], timeout: Duration) {
    if words.len() > WAITV_MAX {
        std::thread::sleep(timeout.min(Duration::from_micros(200)));
        return;
    }
    let vector: Vec<FutexWaitVector> = words
        .iter()
        .map(|(word, expected, scope)| FutexWaitVector {
            value: *expected as u64,
            address: word.as_ptr() as u64,
            flags: FUTEX2_SIZE_U32
                | if *scope == Scope::Private {
                    FUTEX2_PRIVATE
                } else {
                    0
                },
            reserved: 0,
        })
        .collect();
    let mut deadline = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `deadline`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut deadline) };
    let nanoseconds = deadline.tv_nsec as u64 + timeout.subsec_nanos() as u64;
    deadline.tv_sec +=
        timeout.as_secs() as libc::time_t + (nanoseconds / 1_000_000_000) as libc::time_t;
    deadline.tv_nsec = (nanoseconds % 1_000_000_000) as libc::c_long;
    // SAFETY: `vector` holds valid addresses of live, aligned u32 words for the whole
    // call; the deadline is an absolute CLOCK_MONOTONIC time as futex_waitv expects.
    unsafe {
        libc::syscall(
            libc::SYS_futex_waitv,
            vector.as_ptr(),
            vector.len() as libc::c_uint,
            0 as libc::c_uint,
            &deadline as *const libc::timespec,
            libc::CLOCK_MONOTONIC,
        );
    }
}
