//! matrix: multiplies two `n` × `n` integer matrices kept in remote memory.
//!
//! Arguments (`KEY=VALUE`, all optional): `n=N` (default 128), `resident=PAGES`
//! (the remote heap's resident pages, default 16). A, B and C live in one
//! `RemoteHeap` (a segment of the memory server, paged in and out by a pager
//! thread); the product goes row by row (a row of A and one of C in local memory,
//! B's rows read in turn, so B sweeps through the resident pages once a row).
//! Prints `matrix: NxN product, checksum S, F page faults, E evictions, W written
//! back` (the
//! checksum as [`matrix::checksum`] has it); ends with 1 and a line on standard
//! error when the heap cannot be had.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use libnanvix::remote::{PAGE_BYTES, RemoteHeap};
use libnanvix::{eprintln, println, process};

libnanvix::entry!(main);

/// Bytes of one entry.
const ENTRY_BYTES: usize = 8;

fn number(key: &str, default: usize) -> usize {
    process::argument(key)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() -> i32 {
    let (n, resident) = (
        number("n", 128).clamp(1, 512),
        number("resident", 16).max(1),
    );
    match multiply(n, resident) {
        Ok((sum, faults, evictions, write_backs)) => {
            println!(
                "matrix: {n}x{n} product, checksum {sum}, {faults} page faults, {evictions} evictions, {write_backs} written back"
            );
            0
        }
        Err(problem) => {
            eprintln!("matrix: {problem}");
            1
        }
    }
}

/// A row of `n` entries as bytes.
fn row_bytes(row: &[u64]) -> Vec<u8> {
    row.iter().flat_map(|entry| entry.to_le_bytes()).collect()
}

/// The entries of a row read as bytes.
fn entries(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(ENTRY_BYTES)
        .map(|chunk| {
            let mut word = [0u8; ENTRY_BYTES];
            word.copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .collect()
}

/// C = A × B in remote memory; C's checksum, and the pager's faults, evictions
/// and write-backs.
fn multiply(n: usize, resident: usize) -> Result<(u64, u64, u64, u64), alloc::string::String> {
    let row = n * ENTRY_BYTES;
    let matrix = n * row;
    let bytes = (3 * matrix).div_ceil(PAGE_BYTES) * PAGE_BYTES;
    let heap = RemoteHeap::new(bytes, resident)
        .map_err(|errno| alloc::format!("no remote heap of {bytes} bytes: {errno}"))?;
    let (a_at, b_at, c_at) = (0, matrix, 2 * matrix);
    let failed = |errno: libnanvix::Errno| alloc::format!("remote memory: {errno}");
    for index in 0..n {
        let a_row: Vec<u64> = (0..n).map(|column| matrix::a(index, column)).collect();
        let b_row: Vec<u64> = (0..n).map(|column| matrix::b(index, column)).collect();
        heap.write(a_at + index * row, &row_bytes(&a_row))
            .map_err(failed)?;
        heap.write(b_at + index * row, &row_bytes(&b_row))
            .map_err(failed)?;
    }
    let mut bytes_of_row = vec![0u8; row];
    for index in 0..n {
        heap.read(a_at + index * row, &mut bytes_of_row)
            .map_err(failed)?;
        let a_row = entries(&bytes_of_row);
        let mut c_row = vec![0u64; n];
        for (k, a_entry) in a_row.iter().enumerate() {
            heap.read(b_at + k * row, &mut bytes_of_row)
                .map_err(failed)?;
            for (c_entry, b_entry) in c_row.iter_mut().zip(entries(&bytes_of_row)) {
                *c_entry = c_entry.wrapping_add(a_entry.wrapping_mul(b_entry));
            }
        }
        heap.write(c_at + index * row, &row_bytes(&c_row))
            .map_err(failed)?;
    }
    let mut c = Vec::with_capacity(n * n);
    for index in 0..n {
        heap.read(c_at + index * row, &mut bytes_of_row)
            .map_err(failed)?;
        c.extend(entries(&bytes_of_row));
    }
    let sum = matrix::checksum(n, |row_index, column| c[row_index * n + column]);
    let (faults, evictions) = heap.paging();
    Ok((sum, faults, evictions, heap.write_backs()))
}
