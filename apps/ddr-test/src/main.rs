//! Test program: the board's DDR, shared by the DDR-attached I/O clusters.
//!
//! Arguments:
//! - `mode=write` (on a DDR-attached cluster): writes 1 MiB of a pattern near the
//!   DDR's end (in several kernel pieces) and reads it back; a read and a write
//!   past the end are `EINVAL`, a buffer outside the program's memory `EFAULT`,
//!   and nothing changed; then writes a ready mark at offset 0. Prints `ddr-test:
//!   write: N checks, 0 failed`.
//! - `mode=read` (on another DDR-attached cluster): waits (at most 30 s) for the
//!   mark, then finds the pattern. Prints `ddr-test: read: N checks, 0 failed`.
//! - `mode=absent` (on a compute cluster): every DDR call is `ENOENT`. Prints
//!   `ddr-test: absent: N checks, 0 failed`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use libnanvix::abi::{Errno, Kcall};
use libnanvix::runtime::kcall;
use libnanvix::testing::Checks;
use libnanvix::{ddr, println, process, thread};

libnanvix::entry!(main);

/// Bytes of the pattern.
const PATTERN_BYTES: usize = 1 << 20;
/// The mark `mode=write` leaves at offset 0 when the pattern is there.
const READY: &[u8; 8] = b"ddr-test";

fn pattern() -> Vec<u8> {
    (0..PATTERN_BYTES)
        .map(|index| {
            (index as u8)
                .wrapping_mul(31)
                .wrapping_add((index >> 12) as u8)
        })
        .collect()
}

/// Where the pattern goes: 512 KiB before the DDR's end, less its length.
fn pattern_offset(size: u64) -> u64 {
    size - (512 << 10) - PATTERN_BYTES as u64
}

fn main() -> i32 {
    match process::argument("mode") {
        Some("write") => write(),
        Some("read") => read(),
        Some("absent") => absent(),
        _ => {
            println!("ddr-test: mode=write|read|absent");
            2
        }
    }
}

fn write() -> i32 {
    let mut checks = Checks::new();
    let Ok(size) = ddr::size() else {
        println!("ddr-test: no DDR on this cluster");
        return 1;
    };
    checks.same("a DDR of some size", size >= 4 << 20, true);
    let at = pattern_offset(size);
    let bytes = pattern();
    checks.same("write", ddr::write(at, &bytes), Ok(()));
    let mut back = vec![0u8; PATTERN_BYTES];
    checks.same("read back", ddr::read(at, &mut back), Ok(()));
    checks.same("the bytes", back == bytes, true);
    checks.same(
        "a write past the end",
        ddr::write(size - 4, &[1u8; 8]),
        Err(Errno::Invalid),
    );
    checks.same(
        "a read past the end",
        ddr::read(size, &mut [0u8; 1]),
        Err(Errno::Invalid),
    );
    // A buffer the program does not own: refused, nothing written.
    checks.same(
        "a wild buffer",
        kcall(Kcall::DdrWrite, [at as usize, 16, 4096, 0, 0]).map(drop),
        Err(Errno::Fault),
    );
    checks.same(
        "still the pattern",
        ddr::read(at, &mut back).map(|()| back == bytes),
        Ok(true),
    );
    checks.same("an empty read", ddr::read(0, &mut []), Ok(()));
    checks.same("the ready mark", ddr::write(0, READY), Ok(()));
    checks.finish("ddr-test: write")
}

fn read() -> i32 {
    let mut checks = Checks::new();
    let Ok(size) = ddr::size() else {
        println!("ddr-test: no DDR on this cluster");
        return 1;
    };
    let mut mark = [0u8; 8];
    for _ in 0..3000 {
        if ddr::read(0, &mut mark).is_ok() && &mark == READY {
            break;
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
    }
    checks.same("the other cluster's mark", &mark, READY);
    let mut found = vec![0u8; PATTERN_BYTES];
    checks.same("read", ddr::read(pattern_offset(size), &mut found), Ok(()));
    checks.same("the other cluster's pattern", found == pattern(), true);
    checks.finish("ddr-test: read")
}

fn absent() -> i32 {
    let mut checks = Checks::new();
    checks.same("size", ddr::size(), Err(Errno::NoEntry));
    checks.same("read", ddr::read(0, &mut [0u8; 8]), Err(Errno::NoEntry));
    checks.same("write", ddr::write(0, &[0u8; 8]), Err(Errno::NoEntry));
    checks.finish("ddr-test: absent")
}
