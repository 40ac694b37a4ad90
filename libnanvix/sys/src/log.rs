//! Logging through defmt: compact frames the board runner decodes with the program's ELF.
//!
//! A program logs with defmt's macros, re-exported as [`crate::defmt`]:
//!
//! ```ignore
//! use libnanvix::defmt;
//! defmt::info!("hello from {=str}, node {=u32}", name, node);
//! defmt::debug!("shown only when built with DEFMT_LOG=debug or trace");
//! ```
//!
//! A program crate must name `defmt` itself, because the macros expand to paths
//! starting with `defmt::`: either depend on `defmt` (`defmt.workspace = true`) or
//! bring libnanvix's re-export into scope with `use libnanvix::defmt;`.
//!
//! libnanvix supplies the global logger (in the runtime): it encodes each frame
//! (rzcobs) and hands it to the kernel with [`write_frames`] (the `log_write` kcall)
//! when the frame ends. The kernel passes the bytes to the board; the runner decodes
//! them with the program's `.defmt` table and prints one `log` event per frame.
//!
//! - **Levels** are chosen twice. At build time, `DEFMT_LOG` (default `info`,
//!   set by `nanvix` when it builds programs) removes the frames of lower levels from
//!   the program entirely. At run time, `nanvix run --log-level` hides decoded
//!   frames below a level.
//! - **Timestamps** are the calling core's cycle counter ([`crate::clock::cycles`]),
//!   raw (`{=u64}`): a count of cycles, not a time.
//! - Logging from inside a `defmt::Format` implementation while a frame is being
//!   written (a nested log call) waits forever: the logger is one lock per program.

use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall, LOG_CHUNK_MAX};

/// Largest piece of encoded frames one [`write_frames`] call takes.
pub const CHUNK_MAX: usize = LOG_CHUNK_MAX;

/// Hands encoded defmt frames to the kernel (the `log_write` kcall); returns how
/// many bytes it took. The global logger calls this; a program has no need to.
pub fn write_frames(bytes: &[u8]) -> Result<usize, Errno> {
    kcall(
        Kcall::LogWrite,
        [bytes.as_ptr() as usize, bytes.len(), 0, 0, 0],
    )
}
