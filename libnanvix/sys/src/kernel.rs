//! Calls about the kernel itself.

use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall};

/// A remote kcall that does nothing: the master core serves it and answers 0. Its
/// round trip is the cost of every remote call (the paper's R-Kcall).
pub fn noop() -> Result<(), Errno> {
    kcall(Kcall::Noop, [0; 5]).map(|_| ())
}
