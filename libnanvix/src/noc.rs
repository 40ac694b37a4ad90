//! Control-NoC messages between programs: up to 128 bytes, true source attached.

use crate::runtime::kcall;
use nanvix_abi::{CommCounters, Errno, Kcall, MessageHeader};

pub use nanvix_abi::NOC_PAYLOAD_MAX;

/// Sends `payload` to program `program` on NoC node `node`. Blocks while the channel
/// is full.
pub fn send(node: u32, program: u32, payload: &[u8]) -> Result<(), Errno> {
    kcall(
        Kcall::NocSend,
        [
            node as usize,
            program as usize,
            payload.as_ptr() as usize,
            payload.len(),
            0,
        ],
    )
    .map(|_| ())
}

/// Receives the next message for this program into `buffer`, blocking until one
/// arrives. Returns its header (with the hardware-stamped source) and length.
pub fn receive(buffer: &mut [u8]) -> Result<(MessageHeader, usize), Errno> {
    let mut header = MessageHeader::default();
    let length = kcall(
        Kcall::NocReceive,
        [
            &raw mut header as usize,
            buffer.as_mut_ptr() as usize,
            buffer.len(),
            0,
            0,
        ],
    )?;
    Ok((header, length))
}

/// The counters of this program's communication object `id` of `kind`
/// (`COMM_MAILBOX`, `COMM_PORTAL` or `COMM_SYNC`): the `comm_counters` kcall.
pub fn counters(kind: usize, id: usize) -> Result<CommCounters, Errno> {
    let mut counters = CommCounters::default();
    kcall(
        Kcall::CommCounters,
        [
            kind,
            id,
            &raw mut counters as usize,
            core::mem::size_of::<CommCounters>(),
            0,
        ],
    )?;
    Ok(counters)
}
