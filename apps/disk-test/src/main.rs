//! Test program: the disk attached to its cluster.
//!
//! Arguments:
//! - `mode=write round=R [hold=yes]`: writes blocks 0..8 with round R's pattern and
//!   flushes, then writes blocks 8..16 with it and does not flush; prints `disk-test:
//!   wrote round R`; with `hold=yes` it then waits for ever (the test kills its
//!   cluster: the unflushed half is lost), else it ends (a clean power-off flushes).
//! - `mode=verify round=R unflushed=kept|lost`: checks blocks 0..8 hold round R's
//!   pattern, and blocks 8..16 round R's (`kept`) or round R - 1's (`lost`: zeros for
//!   round 0); prints `disk-test: verified round R`.
//! - `mode=check`: bad requests are refused with their errors and change nothing.
//! - `mode=absent`: on a cluster without a disk, every disk call is `ENOENT`.
//!
//! Ends with 0 when all held, 1 otherwise (printing what did not).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use libnanvix::abi::{Errno, Kcall};
use libnanvix::disk::{self, DISK_BLOCK_BYTES};
use libnanvix::runtime::kcall;
use libnanvix::{println, process, thread};

libnanvix::entry!(main);

/// Blocks each half of a round writes.
const HALF: u64 = 8;

/// Block `block`'s contents in round `round` (round 0: zeros, a fresh disk).
fn pattern(round: u64, block: u64) -> Vec<u8> {
    if round == 0 {
        return vec![0; DISK_BLOCK_BYTES];
    }
    let mut bytes = vec![(round * 37 + block * 11) as u8; DISK_BLOCK_BYTES];
    bytes[..8].copy_from_slice(&round.to_le_bytes());
    bytes[8..16].copy_from_slice(&block.to_le_bytes());
    bytes
}

fn main() -> i32 {
    let round = process::argument("round")
        .and_then(|value| value.parse().ok())
        .unwrap_or(1);
    let result = match process::argument("mode") {
        Some("write") => write(round, process::argument("hold") == Some("yes")),
        Some("verify") => verify(round, process::argument("unflushed") == Some("kept")),
        Some("check") => check(),
        Some("absent") => absent(),
        _ => Err("mode=write|verify|check|absent"),
    };
    match result {
        Ok(()) => 0,
        Err(reason) => {
            println!("disk-test: {reason}");
            1
        }
    }
}

fn write(round: u64, hold: bool) -> Result<(), &'static str> {
    for block in 0..HALF {
        disk::write(block, &pattern(round, block)).map_err(|_| "a write failed")?;
    }
    disk::flush().map_err(|_| "the flush failed")?;
    let mut second = Vec::new();
    for block in HALF..2 * HALF {
        second.extend(pattern(round, block));
    }
    disk::write(HALF, &second).map_err(|_| "a write of 8 blocks failed")?;
    // Before any flush, reads see the cache.
    let mut read = vec![0; second.len()];
    disk::read(HALF, &mut read).map_err(|_| "a read failed")?;
    if read != second {
        return Err("a read did not see the unflushed writes");
    }
    println!("disk-test: wrote round {round}");
    if hold {
        loop {
            let _ = thread::sleep_nanoseconds(1_000_000_000);
        }
    }
    Ok(())
}

fn verify(round: u64, kept: bool) -> Result<(), &'static str> {
    let mut block_bytes = vec![0; DISK_BLOCK_BYTES];
    for block in 0..2 * HALF {
        disk::read(block, &mut block_bytes).map_err(|_| "a read failed")?;
        let wanted = if block < HALF || kept {
            pattern(round, block)
        } else {
            pattern(round - 1, block)
        };
        if block_bytes != wanted {
            println!("disk-test: block {block} holds the wrong bytes");
            return Err("verify failed");
        }
    }
    println!("disk-test: verified round {round}");
    Ok(())
}

/// Checks one call's result against the error it must give.
fn expect(what: &str, got: Result<(), Errno>, wanted: Errno) -> Result<(), &'static str> {
    if got == Err(wanted) {
        Ok(())
    } else {
        println!("disk-test: {what}: {got:?}, wanted {wanted:?}");
        Err("a bad request was not refused as it should be")
    }
}

fn check() -> Result<(), &'static str> {
    let blocks = disk::blocks().map_err(|_| "no disk")?;
    println!("disk-test: {blocks} blocks");
    let mut one = vec![0; DISK_BLOCK_BYTES];
    disk::write(blocks - 1, &pattern(7, 7)).map_err(|_| "the last block")?;
    let before = {
        let mut all = vec![0; blocks as usize * DISK_BLOCK_BYTES];
        disk::read(0, &mut all).map_err(|_| "a read of the whole disk failed")?;
        all
    };
    expect(
        "read past the end",
        disk::read(blocks, &mut one),
        Errno::Invalid,
    )?;
    expect(
        "write past the end",
        disk::write(blocks - 1, &vec![1; 2 * DISK_BLOCK_BYTES]),
        Errno::Invalid,
    )?;
    expect(
        "a block number that wraps",
        disk::write(u64::MAX, &one),
        Errno::Invalid,
    )?;
    expect("half a block", disk::write(0, &one[..100]), Errno::Invalid)?;
    let raw = |call: Kcall, arguments: [usize; 5]| kcall(call, arguments).map(drop);
    expect(
        "a wild read buffer",
        raw(Kcall::DiskRead, [0, 0x10, 1, 0, 0]),
        Errno::Fault,
    )?;
    expect(
        "a wild write buffer",
        raw(Kcall::DiskWrite, [0, 0x10, 1, 0, 0]),
        Errno::Fault,
    )?;
    expect(
        "more blocks than the disk",
        raw(
            Kcall::DiskWrite,
            [0, one.as_ptr() as usize, usize::MAX, 0, 0],
        ),
        Errno::Invalid,
    )?;
    let mut after = vec![0; blocks as usize * DISK_BLOCK_BYTES];
    disk::read(0, &mut after).map_err(|_| "a read of the whole disk failed")?;
    if after != before {
        return Err("a refused request changed the disk");
    }
    disk::flush().map_err(|_| "the flush failed")?;
    println!("disk-test: checked");
    Ok(())
}

fn absent() -> Result<(), &'static str> {
    let mut one = vec![0; DISK_BLOCK_BYTES];
    expect("blocks", disk::blocks().map(drop), Errno::NoEntry)?;
    expect("read", disk::read(0, &mut one), Errno::NoEntry)?;
    expect("write", disk::write(0, &one), Errno::NoEntry)?;
    expect("flush", disk::flush(), Errno::NoEntry)?;
    println!("disk-test: no disk here");
    Ok(())
}
