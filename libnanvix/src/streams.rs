//! Standard streams a spawner redirected: to files, `stdout=PATH` (created or
//! emptied), `stdout-append=PATH` and `stdin-file=PATH`, runtime arguments nsh
//! gives for `>`, `>>` and `<`; and to a pipe, `stdout-pipe=NODE:PORT`, for `|`.
//!
//! A pipe's writer sends its output as messages to (NODE, PORT): [`PIPE_DATA`]
//! and up to 127 bytes, and [`PIPE_END`] when `main` returns (the holder of the
//! pipe sends it for a writer that ended otherwise); a full pipe holds the writer
//! back (mailbox backpressure). The reader reads it as standard input from the
//! pipe's provider (`stdin=NODE:PORT`, the protocol of [`crate::posix`]).
//!
//! [`install`] runs before `main` (`libnanvix::entry!`): with `stdout=` or
//! `stdout-append=`, the program's output (`print!`, `println!`, `posix::write` to
//! standard output) goes to that file, opened as the program's own user before
//! `main` (a file it may not open ends it with status 1 and a line on the console,
//! as a shell's failed redirection does); standard error (`eprintln!`, panics)
//! stays on the console. With `stdin-file=`, `posix::read` of standard input reads
//! that file (one it cannot open fails the read with its errno).

use crate::fs::{File, OpenOptions};
use nanvix_sys::mailbox::Outbox;
use nanvix_sys::{Errno, console, process};

/// The runtime argument that sends standard output into a pipe: `NODE:PORT`.
pub const PIPE_ARGUMENT: &str = "stdout-pipe";
/// The first byte of a message into a pipe: bytes follow.
pub const PIPE_DATA: u8 = 1;
/// The first byte of a message into a pipe: the writer ended.
pub const PIPE_END: u8 = 2;

/// The pipe standard output goes into, once opened.
static PIPE: spin::Mutex<Option<Outbox>> = spin::Mutex::new(None);

/// The pipe the arguments send standard output into: (node, port).
fn pipe_target() -> Option<(u32, u32)> {
    let (node, port) = process::argument(PIPE_ARGUMENT)?.split_once(':')?;
    Some((node.parse().ok()?, port.parse().ok()?))
}

/// The pipe sink: `bytes` into the pipe, a message at a time.
fn write_pipe(bytes: &[u8]) -> Result<usize, Errno> {
    let pipe = PIPE.lock();
    let outbox = pipe.as_ref().ok_or(Errno::BadDescriptor)?;
    let mut message = [0u8; nanvix_sys::mailbox::NOC_PAYLOAD_MAX];
    message[0] = PIPE_DATA;
    for piece in bytes.chunks(message.len() - 1) {
        message[1..=piece.len()].copy_from_slice(piece);
        outbox.write(&message[..=piece.len()])?;
    }
    Ok(bytes.len())
}

/// After `main` returns: tells a pipe the output went into that it ended, and
/// closes the files the standard streams went to (the vfs server lets go of them
/// now rather than when this node's next program opens a file).
pub fn finish() {
    if let Some(outbox) = PIPE.lock().take() {
        let _ = outbox.write(&[PIPE_END]);
        let _ = outbox.close();
    }
    drop(OUTPUT.lock().take());
    drop(INPUT.lock().take());
}

/// The file standard output goes to, once opened.
static OUTPUT: spin::Mutex<Option<File>> = spin::Mutex::new(None);

/// The file standard input comes from, once opened.
static INPUT: spin::Mutex<Option<File>> = spin::Mutex::new(None);

/// Sends the program's output where its arguments say (before `main`): opens the
/// file, or ends the program with status 1 if it cannot.
pub fn install() {
    if let Some((node, port)) = pipe_target() {
        match Outbox::open(node, port) {
            Ok(outbox) => {
                *PIPE.lock() = Some(outbox);
                console::redirect_output(write_pipe);
            }
            Err(errno) => {
                nanvix_sys::eprintln!("cannot write into the pipe {node}:{port}: {errno}");
                process::exit(1);
            }
        }
        return;
    }
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
            let program = process::name();
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
