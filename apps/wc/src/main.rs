//! wc: counts the lines, words and bytes of files, or of its standard input.
//!
//! `wc [FILE...]`: prints `LINES WORDS BYTES FILE` for each file (paths from the
//! working directory), and a `total` line for more than one; with no file, counts
//! its standard input and prints `LINES WORDS BYTES`. A file it cannot read is said
//! on the console (`wc: FILE: EACCES`) and the status is 1.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::fs::File;
use libnanvix::posix::{self, STDIN_FILENO};
use libnanvix::{Errno, eprintln, println, process};

libnanvix::entry!(main);

/// Lines, words and bytes.
#[derive(Clone, Copy, Default)]
struct Counts {
    lines: u64,
    words: u64,
    bytes: u64,
    /// The last byte counted was inside a word.
    in_word: bool,
}

impl Counts {
    fn add(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.bytes += 1;
            if byte == b'\n' {
                self.lines += 1;
            }
            if byte.is_ascii_whitespace() {
                self.in_word = false;
            } else if !self.in_word {
                self.in_word = true;
                self.words += 1;
            }
        }
    }
}

/// Counts what `read` gives until it gives 0.
fn count(mut read: impl FnMut(&mut [u8]) -> Result<usize, Errno>) -> Result<Counts, Errno> {
    let mut counts = Counts::default();
    let mut chunk = [0u8; 4096];
    loop {
        match read(&mut chunk)? {
            0 => return Ok(counts),
            read => counts.add(&chunk[..read]),
        }
    }
}

fn main() -> i32 {
    let files: alloc::vec::Vec<&str> = process::arguments().skip(1).collect();
    if files.is_empty() {
        return match count(|buffer| posix::read(STDIN_FILENO, buffer)) {
            Ok(counts) => {
                println!("{} {} {}", counts.lines, counts.words, counts.bytes);
                0
            }
            Err(errno) => {
                eprintln!("wc: standard input: {errno}");
                1
            }
        };
    }
    let mut status = 0;
    let mut total = Counts::default();
    for name in &files {
        match File::open(name).and_then(|mut file| count(|buffer| file.read(buffer))) {
            Ok(counts) => {
                println!("{} {} {} {name}", counts.lines, counts.words, counts.bytes);
                total.lines += counts.lines;
                total.words += counts.words;
                total.bytes += counts.bytes;
            }
            Err(errno) => {
                eprintln!("wc: {name}: {errno}");
                status = 1;
            }
        }
    }
    if files.len() > 1 {
        println!("{} {} {} total", total.lines, total.words, total.bytes);
    }
    status
}
