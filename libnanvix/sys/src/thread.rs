//! Threads of a program: spawn with a closure, join for its result, yield, exit.
//!
//! A cluster's user cores go to threads first come, first served; a program may run
//! more threads than its cluster has cores (up to `THREADS_MAX` on the cluster): a
//! thread blocked in `join` or a receive gives its core to the next one waiting.

use crate::runtime::kcall;
use crate::runtime::threads::{self, Packet, Stack};
use alloc::boxed::Box;
use alloc::sync::Arc;
use nanvix_abi::{Errno, Kcall};

/// Stack of a spawned thread unless [`spawn_with_stack`] says otherwise.
pub const DEFAULT_STACK: usize = 32 * 1024;

/// The id of a thread, unique in its cluster while the thread lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub usize);

/// The calling thread's id (a local kcall: it runs on the calling core).
pub fn current() -> Result<ThreadId, Errno> {
    kcall(Kcall::ThreadSelf, [0; 5]).map(ThreadId)
}

/// A spawned thread; [`JoinHandle::join`] waits for it and returns its result.
/// Dropping the handle without joining leaves the thread running; it then counts
/// toward the cluster's `THREADS_MAX` for good, and its stack is never freed.
pub struct JoinHandle<T> {
    id: ThreadId,
    packet: Arc<Packet<T>>,
    stack: Stack,
}

impl<T> JoinHandle<T> {
    /// The thread's id.
    pub fn id(&self) -> ThreadId {
        self.id
    }

    /// Waits for the thread to end and returns what its closure returned. A thread
    /// that ended without returning (it panicked, or called [`exit`]) has no
    /// result: `Err(EIO)`.
    pub fn join(self) -> Result<T, Errno> {
        kcall(Kcall::ThreadJoin, [self.id.0, 0, 0, 0, 0])?;
        self.stack.free_after_join();
        self.packet.take().ok_or(Errno::InputOutput)
    }
}

/// Runs `body` on a new thread with a [`DEFAULT_STACK`] stack from the heap.
pub fn spawn<F, T>(body: F) -> Result<JoinHandle<T>, Errno>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    spawn_with_stack(DEFAULT_STACK, body)
}

/// Runs `body` on a new thread with a stack of `stack_bytes` (at least
/// `THREAD_STACK_MIN`) from the heap. Fails with `EAGAIN` when the cluster holds
/// `THREADS_MAX` threads, and with `ENOMEM` when the heap has no room for the stack.
pub fn spawn_with_stack<F, T>(stack_bytes: usize, body: F) -> Result<JoinHandle<T>, Errno>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let stack = Stack::try_new(stack_bytes).ok_or(Errno::NoMemory)?;
    let packet = Arc::new(Packet::new());
    let result = Arc::clone(&packet);
    let body: Box<dyn FnOnce() + Send> = Box::new(move || result.put(body()));
    match threads::start(body, &stack) {
        Ok(id) => Ok(JoinHandle {
            id: ThreadId(id),
            packet,
            stack,
        }),
        Err(errno) => {
            // The kernel refused the thread: nothing runs on the stack.
            stack.free_after_join();
            Err(errno)
        }
    }
}

/// Ends the calling thread with `value` (the main thread: the program).
pub fn exit(value: i32) -> ! {
    let _ = kcall(Kcall::ThreadExit, [value as u32 as usize, 0, 0, 0, 0]);
    // The kernel never returns from thread_exit; spin politely if something is very
    // wrong.
    loop {
        core::hint::spin_loop();
    }
}

/// Lets the first thread waiting for a core have this one; waits for a core again.
pub fn yield_now() {
    let _ = kcall(Kcall::ThreadYield, [0; 5]);
}

/// Waits until another thread calls [`wakeup`] on this one (a wakeup that came
/// first is kept, so none is lost); the core goes to another thread meanwhile.
pub fn sleep() -> Result<(), Errno> {
    kcall(Kcall::ThreadSleep, [0; 5]).map(|_| ())
}

/// Wakes thread `thread` of this program from [`sleep`], or makes its next `sleep`
/// return at once.
pub fn wakeup(thread: ThreadId) -> Result<(), Errno> {
    kcall(Kcall::ThreadWakeup, [thread.0, 0, 0, 0, 0]).map(|_| ())
}

/// Sleeps the calling thread for `nanoseconds` (the `timer` device); its core goes
/// to another thread meanwhile.
pub fn sleep_nanoseconds(nanoseconds: u64) -> Result<(), Errno> {
    crate::device::write(crate::device::Device::Timer, &nanoseconds.to_le_bytes()).map(|_| ())
}
