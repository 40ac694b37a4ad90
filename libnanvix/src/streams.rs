//! Standard streams a spawner redirected to files: `stdout=PATH` (created or
//! emptied), `stdout-append=PATH` and `stdin-file=PATH`, runtime arguments nsh
//! gives for `>`, `>>` and `<`.
//!
//! [`install`] runs before `main` (`libnanvix::entry!`): with `stdout=` or
//! `stdout-append=`, the program's output (`print!`, `println!`, `posix::write` to
//! standard output) goes to that file, opened as the program's own user before
//! `main` (a file it may not open ends it with status 1 and a line on the console,
//! as a shell's failed redirection does); standard error (`eprintln!`, panics)
//! stays on the console. With `stdin-file=`, `posix::read` of standard input reads
//! that file (one it cannot open fails the read with its errno).

use crate::fs::{File, OpenOptions};
use nanvix_sys::{Errno, console, process};

/// The file standard output goes to, once opened.
static OUTPUT: spin::Mutex<Option<File>> = spin::Mutex::new(None);

/// The file standard input comes from, once opened.
static INPUT: spin::Mutex<Option<File>> = spin::Mutex::new(None);

/// Sends the program's output where its arguments say (before `main`): opens the
/// file, or ends the program with status 1 if it cannot.
pub fn install() {
    let Some((path, append)) = output_target() else {
        return;
    };
    let options = OpenOptions::new().write(true).create(true);
    let options = if append {
        options.append(true)
    } else {
        options.truncate(true)
    };
    match options.open(path) {
        Ok(file) => {
            *OUTPUT.lock() = Some(file);
            console::redirect_output(write_output);
        }
        Err(errno) => {
            let program = process::arguments().next().unwrap_or("program");
            nanvix_sys::eprintln!("{program}: cannot write its output to {path}: {errno}");
            process::exit(1);
        }
    }
}

/// The file standard output is redirected to, and whether to append to it.
fn output_target() -> Option<(&'static str, bool)> {
    match (
        process::argument("stdout"),
        process::argument("stdout-append"),
    ) {
        (Some(path), _) => Some((path, false)),
        (None, Some(path)) => Some((path, true)),
        (None, None) => None,
    }
}

/// The output sink: the whole of `bytes` to the redirected file.
fn write_output(bytes: &[u8]) -> Result<usize, Errno> {
    let mut output = OUTPUT.lock();
    let file = output.as_mut().ok_or(Errno::BadDescriptor)?;
    file.write_all(bytes)?;
    Ok(bytes.len())
}

/// The file standard input is redirected from, if any.
pub fn input_file() -> Option<&'static str> {
    process::argument("stdin-file")
}

/// Reads standard input from its file (`stdin-file=`) into `buffer`.
pub fn read_input(buffer: &mut [u8]) -> Result<usize, Errno> {
    let mut input = INPUT.lock();
    if input.is_none() {
        let path = input_file().ok_or(Errno::BadDescriptor)?;
        *input = Some(File::open(path)?);
    }
    input.as_mut().ok_or(Errno::BadDescriptor)?.read(buffer)
}
