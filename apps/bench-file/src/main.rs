//! Benchmark program: sequential write and read of a file through the vfs server.
//!
//! Arguments:
//! - `mode=run bytes=N chunk=C trials=T` (on a compute cluster): `T` trials, each
//!   writing `N` bytes to `/tmp/bench-file` in writes of `C` bytes (created or
//!   emptied first) and an `fsync`, then reading them back in reads of `C` bytes;
//!   prints `bench file_write cycles=<cycles per trial> bytes=N` and `bench
//!   file_read cycles=<cycles per trial> bytes=N` after each (the reads alone,
//!   as the baseline's), checks in a second, untimed read that the bytes are the
//!   bytes written, then writes `/tmp/bench-done`.
//! - `mode=wait` (on the server's cluster): waits (at most 10 minutes) for
//!   `/tmp/bench-done`, removes it and the file, and stops the server.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use libnanvix::fs::{self, File};
use libnanvix::{clock, println, process, thread};
use nanvix_vfs_api::VfsClient;

libnanvix::entry!(main);

/// The file the trials write and read.
const FILE: &str = "/tmp/bench-file";
/// What `mode=run` writes when it is done.
const DONE: &str = "/tmp/bench-done";

fn main() -> i32 {
    match process::argument("mode") {
        Some("run") => match run() {
            Ok(()) => 0,
            Err(reason) => {
                println!("bench-file: {reason}");
                // The waiter stops the server either way.
                let _ = fs::write(DONE, b"failed");
                1
            }
        },
        Some("wait") => wait(),
        _ => {
            println!("bench-file: mode=run|wait");
            2
        }
    }
}

fn number(key: &str, default: usize) -> usize {
    process::argument(key)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn run() -> Result<(), &'static str> {
    let (bytes, chunk, trials) = (
        number("bytes", 16 << 20),
        number("chunk", 256 << 10).max(1),
        number("trials", 3),
    );
    let block: alloc::vec::Vec<u8> = (0..chunk).map(|index| (index * 7) as u8).collect();
    let mut back = vec![0u8; chunk];
    for trial in 0..trials {
        let started = clock::cycles();
        let mut file = File::create(FILE).map_err(|_| "cannot create the file")?;
        let mut written = 0;
        while written < bytes {
            let piece = chunk.min(bytes - written);
            file.write_all(&block[..piece])
                .map_err(|_| "a write failed")?;
            written += piece;
        }
        file.sync_all().map_err(|_| "fsync failed")?;
        drop(file);
        let cycles = clock::cycles().wrapping_sub(started);
        println!("bench file_write cycles={cycles} bytes={bytes}");
        // Timed as the baseline reads: nothing but the reads.
        let started = clock::cycles();
        let mut file = File::open(FILE).map_err(|_| "cannot open the file")?;
        let mut read = 0;
        loop {
            let count = file.read_full(&mut back).map_err(|_| "a read failed")?;
            if count == 0 {
                break;
            }
            read += count;
        }
        drop(file);
        let cycles = clock::cycles().wrapping_sub(started);
        // Then, untimed, the bytes checked in a second read.
        let mut file = File::open(FILE).map_err(|_| "cannot open the file")?;
        let mut intact = true;
        loop {
            let count = file.read_full(&mut back).map_err(|_| "a read failed")?;
            if count == 0 {
                break;
            }
            intact &= back[..count] == block[..count];
        }
        drop(file);
        if read != bytes || !intact {
            return Err("the bytes read back are not the bytes written");
        }
        println!("bench file_read cycles={cycles} bytes={bytes}");
        if trial + 1 == trials {
            let _ = fs::remove_file(FILE);
        }
    }
    fs::write(DONE, b"done").map_err(|_| "cannot write the done file")
}

fn wait() -> i32 {
    for _ in 0..60_000 {
        if fs::metadata(DONE).is_ok() {
            let _ = fs::remove_file(DONE);
            let _ = fs::remove_file(FILE);
            let _ = fs::sync();
            return match VfsClient::connect(fs::vfs_server_node()).map(|mut vfs| vfs.stop()) {
                Ok(Ok(())) => 0,
                _ => {
                    println!("bench-file: cannot stop the server");
                    1
                }
            };
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
    }
    println!("bench-file: no run finished");
    1
}
