//! Threads: the calling thread's identity.

use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall};

/// The id of a thread, unique in its cluster while the thread lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(pub usize);

/// The calling thread's id (a local kcall: it runs on the calling core).
pub fn current() -> Result<ThreadId, Errno> {
    kcall(Kcall::ThreadSelf, [0; 5]).map(ThreadId)
}
