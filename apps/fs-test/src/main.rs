//! Test program: the file system (`nanvix-fs`) on the disk attached to its cluster.
//!
//! Arguments:
//! - `mode=format`: formats the disk (a journal of 64 blocks, 256 inodes) with an
//!   empty `/data/log`; prints `fs-test: formatted`.
//! - `mode=append round=R [count=N]`: appends records `R.K`, `R.K+1`, ... to
//!   `/data/log` (K: the records it holds), each its own write (durable once it
//!   returns), printing `fs-test: acknowledged K` whenever the log holds a multiple
//!   of ten; ends after `count` records, or never (the test kills its cluster).
//! - `mode=verify round=R at-least=K [exactly=yes]`: reads `/data/log`, checks it is
//!   records `R.0`, `R.1`, ... in order with nothing torn, at least K of them (or
//!   exactly K); prints `fs-test: verified N records`.
//!
//! - `mode=root`: mounts the root file system `nanvix run` put on a fresh disk and
//!   prints `fs-test: users: ...` (`/etc/users`, a line a user, joined by spaces)
//!   and `fs-test: /bin has N programs, fs-test among them`.
//!
//! Ends with 0 when all held, 1 otherwise (printing what did not).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec;
use libnanvix::{clock, println, process};
use nanvix_fs::board::BoardDisk;
use nanvix_fs::{Caller, FileSystem, ROOT};

libnanvix::entry!(main);

/// Every record is this long: `R.I` padded with spaces, then a newline.
const RECORD_BYTES: usize = 16;

fn record(round: u64, index: u64) -> String {
    let mut text = format!("{round}.{index}");
    while text.len() < RECORD_BYTES - 1 {
        text.push(' ');
    }
    text.push('\n');
    text
}

fn now() -> u64 {
    clock::wall_clock_nanoseconds().unwrap_or(0)
}

fn main() -> i32 {
    let number = |key: &str| process::argument(key).and_then(|value| value.parse::<u64>().ok());
    let device = match BoardDisk::open() {
        Ok(device) => device,
        Err(errno) => {
            println!("fs-test: no disk: {errno}");
            return 1;
        }
    };
    let result = match process::argument("mode") {
        Some("format") => format_disk(device),
        Some("append") => append(device, number("round").unwrap_or(1), number("count")),
        Some("root") => root(device),
        Some("verify") => verify(
            device,
            number("round").unwrap_or(1),
            number("at-least").unwrap_or(0),
            process::argument("exactly") == Some("yes"),
        ),
        _ => Err(String::from("mode=format|append|verify|root")),
    };
    match result {
        Ok(()) => 0,
        Err(reason) => {
            println!("fs-test: {reason}");
            1
        }
    }
}

fn format_disk(device: BoardDisk) -> Result<(), String> {
    let mut files = FileSystem::format(device, 64, 256, (0, 0), now())
        .map_err(|error| format!("format: {error}"))?;
    let data = files
        .make_directory(ROOT, b"data", 0o755, (0, 0), now())
        .map_err(|error| format!("mkdir: {error}"))?;
    files
        .create(data, b"log", 0o644, (0, 0), now())
        .map_err(|error| format!("create: {error}"))?;
    files
        .unmount()
        .map_err(|error| format!("unmount: {error}"))?;
    println!("fs-test: formatted");
    Ok(())
}

fn append(device: BoardDisk, round: u64, count: Option<u64>) -> Result<(), String> {
    let mut files = FileSystem::mount(device).map_err(|error| format!("mount: {error}"))?;
    let log = files
        .resolve("/data/log", &Caller::root())
        .map_err(|error| format!("/data/log: {error}"))?;
    let mut end = files
        .stat(log)
        .map_err(|error| format!("stat: {error}"))?
        .fields
        .size;
    // The log goes on from its last record.
    let mut index = end / RECORD_BYTES as u64;
    let mut appended = 0;
    while count.is_none_or(|count| appended < count) {
        let text = record(round, index);
        files
            .write(log, end, text.as_bytes(), now())
            .map_err(|error| format!("write: {error}"))?;
        end += text.len() as u64;
        index += 1;
        appended += 1;
        if index.is_multiple_of(10) {
            println!("fs-test: acknowledged {index}");
        }
    }
    files
        .unmount()
        .map_err(|error| format!("unmount: {error}"))?;
    Ok(())
}

fn verify(device: BoardDisk, round: u64, at_least: u64, exactly: bool) -> Result<(), String> {
    let mut files = FileSystem::mount(device).map_err(|error| format!("mount: {error}"))?;
    let problems = files.check();
    if !problems.is_empty() {
        for problem in &problems {
            println!("fs-test: check: {problem}");
        }
        return Err(String::from("the file system does not check"));
    }
    let log = files
        .resolve("/data/log", &Caller::root())
        .map_err(|error| format!("/data/log: {error}"))?;
    let size = files
        .stat(log)
        .map_err(|error| format!("stat: {error}"))?
        .fields
        .size;
    if !size.is_multiple_of(RECORD_BYTES as u64) {
        return Err(format!("a torn record: the log is {size} bytes"));
    }
    let mut bytes = vec![0; size as usize];
    files
        .read(log, 0, &mut bytes)
        .map_err(|error| format!("read: {error}"))?;
    let records = size / RECORD_BYTES as u64;
    for (index, chunk) in bytes.chunks(RECORD_BYTES).enumerate() {
        if chunk != record(round, index as u64).as_bytes() {
            return Err(format!("record {index} is not {round}.{index}"));
        }
    }
    if records < at_least || (exactly && records != at_least) {
        return Err(format!("{records} records, acknowledged {at_least}"));
    }
    println!("fs-test: verified {records} records");
    Ok(())
}

fn root(device: BoardDisk) -> Result<(), String> {
    let mut files = FileSystem::mount(device).map_err(|error| format!("mount: {error}"))?;
    let users = files
        .resolve("/etc/users", &Caller::root())
        .map_err(|error| format!("/etc/users: {error}"))?;
    let size = files
        .stat(users)
        .map_err(|error| format!("stat: {error}"))?
        .fields
        .size;
    let mut bytes = vec![0; size as usize];
    files
        .read(users, 0, &mut bytes)
        .map_err(|error| format!("read: {error}"))?;
    let text = String::from_utf8(bytes).map_err(|_| String::from("/etc/users is not text"))?;
    let joined: alloc::vec::Vec<&str> = text.lines().collect();
    println!("fs-test: users: {}", joined.join(" "));
    let bin = files
        .resolve("/bin", &Caller::root())
        .map_err(|error| format!("/bin: {error}"))?;
    let programs = files
        .read_directory(bin)
        .map_err(|error| format!("/bin: {error}"))?;
    let count = programs.len() - 2;
    if !programs.iter().any(|entry| entry.name == b"fs-test") {
        return Err(String::from("no /bin/fs-test"));
    }
    println!("fs-test: /bin has {count} programs, fs-test among them");
    Ok(())
}
