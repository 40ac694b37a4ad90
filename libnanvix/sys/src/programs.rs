//! Programs of the caller's own I/O cluster: start one of the image's, wait for a
//! program's end, end one.
//!
//! A program's id names its slot on the cluster (boot programs take 0, 1, ... in
//! manifest order); its NoC node follows from the id, so a program started again in
//! its old slot keeps its address. Only programs on I/O clusters may start or end
//! programs (a compute cluster runs one process, which the process server starts).

use crate::cluster::join_arguments;
use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall, PROGRAM_ANY, SpawnOptions};

/// Starts the image's program `name` with `arguments` on this cluster, in slot
/// `slot` (`None`: the lowest free one), with the default heap and stack; its
/// program id.
pub fn spawn(name: &str, arguments: &[&str], slot: Option<u32>) -> Result<u32, Errno> {
    spawn_with(name, arguments, slot, (0, 0))
}

/// [`spawn`] with a heap and a main-thread stack of `(heap_bytes, stack_bytes)`
/// (0: the default, 64 KiB).
pub fn spawn_with(
    name: &str,
    arguments: &[&str],
    slot: Option<u32>,
    (heap_bytes, stack_bytes): (usize, usize),
) -> Result<u32, Errno> {
    let words = join_arguments(arguments);
    let options = SpawnOptions {
        slot: slot.map_or(PROGRAM_ANY, u64::from),
        heap_bytes: heap_bytes as u64,
        stack_bytes: stack_bytes as u64,
    }
    .to_bytes();
    let id = kcall(
        Kcall::ProgramSpawn,
        [
            name.as_ptr() as usize,
            name.len(),
            words.as_ptr() as usize,
            words.len(),
            options.as_ptr() as usize,
        ],
    )?;
    Ok(id as u32)
}

/// Waits until program `id` of this cluster ended (at most `timeout_nanoseconds`;
/// `None`: for ever, `Some(0)`: only look); its exit status. `EAGAIN`: it still runs.
pub fn wait(id: u32, timeout_nanoseconds: Option<u64>) -> Result<i32, Errno> {
    let timeout = timeout_nanoseconds.map_or(usize::MAX, |nanoseconds| nanoseconds as usize);
    let status = kcall(Kcall::ProgramWait, [id as usize, timeout, 0, 0, 0])?;
    Ok(status as u32 as i32)
}

/// Ends program `id` of this cluster as `signal` would: it ends with status 128 +
/// `signal`.
pub fn kill(id: u32, signal: u32) -> Result<(), Errno> {
    kcall(Kcall::ProgramKill, [id as usize, signal as usize, 0, 0, 0])?;
    Ok(())
}
