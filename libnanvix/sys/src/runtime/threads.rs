//! The unsafe half of threads: a closure and a stack handed to a new thread, and its
//! result handed back to the joiner.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};
use nanvix_abi::{Errno, Kcall};

/// What a new thread runs.
type Body = Box<dyn FnOnce() + Send>;

/// Where a thread leaves its closure's result for the one joiner.
pub struct Packet<T> {
    value: UnsafeCell<Option<T>>,
    set: AtomicBool,
}

// SAFETY: the value is written once, by the thread, before `set` is published
// (Release), and read only by whoever sees `set` (Acquire) and clears it first.
unsafe impl<T: Send> Sync for Packet<T> {}

impl<T> Packet<T> {
    /// An empty packet.
    pub fn new() -> Self {
        Packet {
            value: UnsafeCell::new(None),
            set: AtomicBool::new(false),
        }
    }

    /// Leaves `value` (the thread, once).
    pub fn put(&self, value: T) {
        // SAFETY: only the thread writes, once, and nobody reads before `set`.
        unsafe { *self.value.get() = Some(value) };
        self.set.store(true, Ordering::Release);
    }

    /// Takes the value, if the thread left one.
    pub fn take(&self) -> Option<T> {
        if self.set.swap(false, Ordering::Acquire) {
            // SAFETY: `set` was true and we cleared it: the write is done and visible,
            // and no one else reads.
            unsafe { (*self.value.get()).take() }
        } else {
            None
        }
    }
}

impl<T> Default for Packet<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// A thread's stack, from the program's heap. Freed only when the thread is known
/// to have ended (after a successful join); a stack whose thread was never joined
/// is never freed, as the thread may still run on it.
pub struct Stack {
    memory: *mut [u8],
}

// SAFETY: the stack is plain memory; after creation only its thread touches it, and
// the owner frees it only after that thread ended.
unsafe impl Send for Stack {}

impl Stack {
    /// A zeroed stack of `bytes`, or `None` when the heap has no room for it.
    pub fn try_new(bytes: usize) -> Option<Stack> {
        let mut memory = Vec::new();
        memory.try_reserve_exact(bytes).ok()?;
        memory.resize(bytes, 0u8);
        Some(Stack {
            memory: Box::into_raw(memory.into_boxed_slice()),
        })
    }

    /// Frees the stack of a thread that ended.
    pub fn free_after_join(self) {
        // SAFETY: made by `Box::into_raw` in `new`; the thread ended (joined), so
        // nothing uses the memory any more.
        drop(unsafe { Box::from_raw(self.memory) });
    }
}

/// Starts `body` on a new thread running on `stack`; returns the thread's id.
pub fn start(body: Body, stack: &Stack) -> Result<usize, Errno> {
    let argument = Box::into_raw(Box::new(body)) as usize;
    let (base, size) = (stack.memory as *mut u8 as usize, stack.memory.len());
    let entry = thread_entry as extern "C" fn(usize) -> i32 as usize;
    let result = super::kcall(Kcall::ThreadCreate, [entry, argument, base, size, 0]);
    if result.is_err() {
        // SAFETY: the kernel refused the thread, so `argument` is still ours alone.
        drop(unsafe { Box::from_raw(argument as *mut Body) });
    }
    result
}

/// Where every created thread starts: runs its body, then ends with 0.
extern "C" fn thread_entry(argument: usize) -> i32 {
    // SAFETY: `start` leaked this box for this thread alone.
    let body = unsafe { Box::from_raw(argument as *mut Body) };
    body();
    0
}
