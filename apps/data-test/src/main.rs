//! Test program: data-NoC transfers of several sizes, checked byte by byte.
//!
//! Argument `partner=NAME`: the cluster with the lower index sends, the other
//! receives. The sender sends transfers of each size in [`SIZES`] filled with a
//! pattern; the receiver first offers a buffer one byte too small for the largest
//! (expecting `EMSGSIZE` and the transfer to stay queued), then checks every
//! transfer's length, sender and bytes. Both print `data-test: N transfers ok`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use libnanvix::abi::Errno;
use libnanvix::{cluster, data, println, process};

libnanvix::entry!(main);

/// Transfer sizes: empty, tiny, middling, around the hosted data NoC's 128 KiB
/// chunk and its eight-slot ring (1 MiB), and larger.
const SIZES: [usize; 10] = [
    0,
    1,
    100,
    100_000,
    128 * 1024,
    128 * 1024 + 1,
    1024 * 1024 - 1,
    1024 * 1024,
    1024 * 1024 + 1,
    1_300_000,
];

fn pattern(size: usize, position: usize) -> u8 {
    ((position * 7 + size) % 251) as u8
}

fn main() -> i32 {
    let partner = process::arguments().find_map(|argument| argument.strip_prefix("partner="));
    let (Ok(this), Some(partner)) = (cluster::this(), partner.and_then(cluster::find)) else {
        println!("data-test: needs partner=NAME naming a cluster of the board");
        return 2;
    };
    let result = if this.index < partner.index {
        send_all(partner.first_node)
    } else {
        receive_all(partner.first_node)
    };
    match result {
        Ok(()) => {
            println!("data-test: {} transfers ok", SIZES.len());
            0
        }
        Err(reason) => {
            println!("data-test: {reason}");
            1
        }
    }
}

fn send_all(node: u32) -> Result<(), &'static str> {
    let largest = SIZES.iter().copied().max().unwrap_or(0);
    let mut buffer = vec![0u8; largest];
    for size in SIZES {
        for (position, byte) in buffer[..size].iter_mut().enumerate() {
            *byte = pattern(size, position);
        }
        data::send(node, 0, &buffer[..size]).map_err(|_| "send failed")?;
    }
    Ok(())
}

fn receive_all(partner_node: u32) -> Result<(), &'static str> {
    let largest = SIZES.iter().copied().max().unwrap_or(0);
    let mut buffer = vec![0u8; largest];
    for size in SIZES {
        if size == largest {
            // Too small a buffer: refused, and the transfer stays queued.
            if data::receive(&mut buffer[..largest - 1]) != Err(Errno::MessageSize) {
                return Err("a transfer larger than the buffer was not refused with EMSGSIZE");
            }
        }
        let (header, length) = data::receive(&mut buffer).map_err(|_| "receive failed")?;
        if length != size || header.length as usize != size {
            return Err("a transfer arrived with the wrong length");
        }
        if header.source_node != partner_node || header.source_program != 0 {
            return Err("a transfer came from another sender");
        }
        if buffer[..size]
            .iter()
            .enumerate()
            .any(|(position, byte)| *byte != pattern(size, position))
        {
            return Err("a transfer's bytes differ from what was sent");
        }
    }
    Ok(())
}
