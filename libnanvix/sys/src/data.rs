//! Bulk transfers over the data NoC: up to 16 MiB, the sender's identity attached.

use crate::runtime::kcall;
use nanvix_abi::{Errno, Kcall, MessageHeader};

pub use nanvix_abi::DATA_TRANSFER_MAX;

/// Sends `bytes` to program `program` on NoC node `node` as one transfer; blocks
/// until every chunk is in the channel.
pub fn send(node: u32, program: u32, bytes: &[u8]) -> Result<(), Errno> {
    kcall(
        Kcall::DataSend,
        [
            node as usize,
            program as usize,
            bytes.as_ptr() as usize,
            bytes.len(),
            0,
        ],
    )
    .map(|_| ())
}

/// Receives one whole transfer into `buffer`, blocking until it is complete. Returns
/// the sender's stamped header and the transfer's length.
pub fn receive(buffer: &mut [u8]) -> Result<(MessageHeader, usize), Errno> {
    let mut header = MessageHeader::default();
    let length = kcall(
        Kcall::DataReceive,
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
