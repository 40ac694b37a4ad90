//! Pinning the calling thread to CPUs with `sched_setaffinity`.

use crate::BenchError;
use crate::error::last_errno;

/// Pins the calling thread (only it) to `cpus`.
pub fn pin_current_thread(cpus: &[usize]) -> Result<(), BenchError> {
    pin_current_thread_raw(cpus).map_err(|errno| BenchError::Pinning {
        cpus: cpus.to_vec(),
        errno,
    })
}

/// Pins the calling thread to `cpus`; on failure returns the errno.
///
/// Allocates nothing, so a forked child of a multithreaded process may call it.
pub(crate) fn pin_current_thread_raw(cpus: &[usize]) -> Result<(), i32> {
    let limit = libc::CPU_SETSIZE as usize;
    if cpus.is_empty() || cpus.iter().any(|cpu| *cpu >= limit) {
        return Err(libc::EINVAL);
    }
    // SAFETY: cpu_set_t is a plain bit array; all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for cpu in cpus {
        // SAFETY: CPU_SET only sets a bit of `set`; `cpu` is below CPU_SETSIZE (checked
        // above), so the bit is inside the array.
        unsafe { libc::CPU_SET(*cpu, &mut set) };
    }
    // SAFETY: pid 0 names the calling thread; `set` is a valid cpu_set_t of the size given.
    let result =
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if result == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_to_an_impossible_cpu_is_an_error() {
        let error = std::thread::scope(|scope| {
            scope
                .spawn(|| pin_current_thread(&[libc::CPU_SETSIZE as usize]))
                .join()
        })
        .expect("the thread ran")
        .expect_err("no such CPU");
        assert!(matches!(error, BenchError::Pinning { .. }));
        assert!(error.to_string().contains("pinning"), "{error}");
    }

    #[test]
    fn pinning_to_cpu_zero_works() {
        let result = std::thread::scope(|scope| scope.spawn(|| pin_current_thread(&[0])).join())
            .expect("the thread ran");
        assert_eq!(result, Ok(()));
    }
}
