//! nsh: the Nanvix shell: runs programs through the process server, commands from the console.
//!
//! Reads commands from the console input (the manifest gives it to nsh), one a
//! line, echoing each as `$ COMMAND`, on a thread of its own, so a Ctrl-C (byte
//! 0x03: the runner sends it when the terminal's Ctrl-C reaches it) interrupts the
//! foreground job (SIGINT) while the shell waits for it; at the prompt it drops the
//! line being typed:
//! - `PROGRAM [ARGS...]`: spawns the image's program (waiting for a free compute
//!   cluster) and waits for it; an end other than status 0 is printed as
//!   `nsh: PROGRAM: exited with status N` (or `killed by SIGTERM`, `killed by a
//!   fault: panic`, ...);
//! - `PROGRAM [ARGS...] &`: spawns it in the background and prints `[PID]`;
//! - `ps`: the processes that run, `PID CLUSTER`, one a line;
//! - `wait PID`: waits for a background process, prints `PID: exited with status
//!   N` (or how else it ended);
//! - `kill [-SIGNAL] PID`: sends it SIGTERM, or the signal named (`-INT`, `-KILL`,
//!   `-9`, ...);
//! - `exit [STATUS]`: ends the shell, as the end of the input does (with the last
//!   foreground status).
//!
//! Blank lines and lines starting with `#` are skipped; a line over 1024 bytes is
//! skipped with a word. Arguments: `server=CLUSTER` names the process server's
//! cluster (default `io0`); with `shutdown=yes` nsh stops the process server as it
//! ends, so the board can power off.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use libnanvix::sync::{Condvar, Mutex};
use libnanvix::{cluster, console, println, process, signal, thread};
use nanvix_process_api::{ProcessCallError, ProcessClient, ProcessError, Termination};

libnanvix::entry!(main);

/// Longest command line, in bytes (the rest of a longer line is dropped).
const LINE_MAX: usize = 1024;

/// The byte a terminal's Ctrl-C comes as.
const CTRL_C: u8 = 0x03;

fn main() -> i32 {
    let server = process::argument("server").unwrap_or("io0");
    let Some(server_cluster) = cluster::find(server) else {
        println!("nsh: server={server} names no cluster of this board");
        return 2;
    };
    let server_node = server_cluster.first_node;
    let mut processes = match ProcessClient::connect(server_node) {
        Ok(processes) => processes,
        Err(errno) => {
            println!("nsh: cannot reach the process server: {errno}");
            return 2;
        }
    };
    let shared = match (Mutex::new(Input::default()), Condvar::new()) {
        (Ok(state), Ok(arrived)) => Arc::new(Shared { state, arrived }),
        _ => {
            println!("nsh: no room for its locks");
            return 2;
        }
    };
    let reading = Arc::clone(&shared);
    if let Err(errno) = thread::spawn(move || read_input(&reading, server_node)) {
        println!("nsh: cannot start the input thread: {errno}");
        return 2;
    }
    let mut shell = Shell {
        processes: &mut processes,
        shared: &shared,
        status: 0,
    };
    let status = shell.run();
    if process::argument("shutdown") == Some("yes")
        && let Err(error) = processes.stop()
    {
        println!("nsh: cannot stop the process server: {}", describe(&error));
    }
    status
}

/// What the input thread hands the shell.
#[derive(Default)]
struct Input {
    /// Whole lines not run yet.
    lines: VecDeque<String>,
    /// The input ended.
    ended: bool,
    /// The foreground job, which Ctrl-C interrupts.
    foreground: Option<u32>,
}

struct Shared {
    state: Mutex<Input>,
    /// Signalled when a line arrives or the input ends.
    arrived: Condvar,
}

/// The input thread: splits the console input into lines for the shell; a Ctrl-C
/// byte (0x03, which the runner sends when the terminal's Ctrl-C reaches it) sends
/// SIGINT to the foreground job, or drops the line being typed.
fn read_input(shared: &Shared, server_node: u32) {
    let mut signals = ProcessClient::connect(server_node).ok();
    let mut pending: Vec<u8> = Vec::new();
    // The line being typed is over LINE_MAX: it is dropped at its end.
    let mut overlong = false;
    let mut chunk = [0u8; 256];
    loop {
        let read = console::read(&mut chunk).unwrap_or(0);
        let mut lines = Vec::new();
        for &byte in &chunk[..read] {
            match byte {
                CTRL_C => {
                    pending.clear();
                    overlong = false;
                    let foreground = shared.state.lock().ok().and_then(|state| state.foreground);
                    if let (Some(pid), Some(signals)) = (foreground, signals.as_mut()) {
                        // It may have ended meanwhile: nothing to do then.
                        let _ = signals.kill(pid, signal::SIGINT);
                    }
                }
                b'\n' if overlong => {
                    println!("nsh: a line over {LINE_MAX} bytes: skipped");
                    pending.clear();
                    overlong = false;
                }
                b'\n' => {
                    lines.push(String::from_utf8_lossy(&pending).into_owned());
                    pending.clear();
                }
                _ if pending.len() == LINE_MAX => overlong = true,
                _ => pending.push(byte),
            }
        }
        let ended = read == 0;
        if ended && !pending.is_empty() && !overlong {
            // A last line without its newline counts.
            lines.push(String::from_utf8_lossy(&pending).into_owned());
        }
        if let Ok(mut state) = shared.state.lock() {
            state.lines.extend(lines);
            state.ended = ended;
            let _ = shared.arrived.notify_all();
        }
        if ended {
            return;
        }
    }
}

struct Shell<'a> {
    processes: &'a mut ProcessClient,
    shared: &'a Shared,
    /// The last foreground command's status.
    status: i32,
}

impl Shell<'_> {
    /// Runs commands until `exit` or the end of the input; the shell's status.
    fn run(&mut self) -> i32 {
        while let Some(line) = self.next_line() {
            if let Some(status) = self.line(line.trim()) {
                return status;
            }
        }
        self.status
    }

    /// The next line of input, waiting for it; `None` at the end of the input.
    fn next_line(&self) -> Option<String> {
        let mut state = self.shared.state.lock().ok()?;
        loop {
            if let Some(line) = state.lines.pop_front() {
                return Some(line);
            }
            if state.ended {
                return None;
            }
            state = self.shared.arrived.wait(state).ok()?;
        }
    }

    /// Makes `pid` the foreground job (or none).
    fn set_foreground(&self, pid: Option<u32>) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.foreground = pid;
        }
    }

    /// Runs one command line; `Some(status)` when the shell ends.
    fn line(&mut self, line: &str) -> Option<i32> {
        if line.is_empty() || line.starts_with('#') {
            return None;
        }
        println!("$ {line}");
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let background = words.last() == Some(&"&");
        if background {
            words.pop();
        }
        match words.as_slice() {
            [] => {}
            ["exit"] => return Some(self.status),
            ["exit", status] => return Some(status.parse().unwrap_or(2)),
            ["ps"] => self.ps(),
            ["wait", pid] => match pid.parse() {
                Ok(pid) => match self.processes.wait(pid) {
                    Ok(termination) => println!("{pid}: {termination}"),
                    Err(error) => println!("nsh: wait {pid}: {}", describe(&error)),
                },
                Err(_) => println!("nsh: wait: `{pid}` is not a pid"),
            },
            ["kill", pid] => self.kill(signal::SIGTERM, pid),
            ["kill", name, pid] if name.starts_with('-') => match signal::parse(&name[1..]) {
                Some(number) => self.kill(number, pid),
                None => println!("nsh: kill: `{name}` names no signal"),
            },
            [program, arguments @ ..] => self.spawn(program, arguments, background),
        }
        None
    }

    fn spawn(&mut self, program: &str, arguments: &[&str], background: bool) {
        let pid = match self.processes.spawn_waiting(program, arguments) {
            Ok(pid) => pid,
            Err(error) => {
                println!("nsh: {program}: {}", describe(&error));
                self.status = 127;
                return;
            }
        };
        if background {
            println!("[{pid}]");
            return;
        }
        self.set_foreground(Some(pid));
        let waited = self.processes.wait(pid);
        self.set_foreground(None);
        match waited {
            Ok(termination) => {
                self.status = termination.status();
                if termination != Termination::Exited(0) {
                    println!("nsh: {program}: {termination}");
                }
            }
            Err(error) => println!("nsh: {program}: {}", describe(&error)),
        }
    }

    fn kill(&mut self, signal: u32, pid: &str) {
        match pid.parse() {
            Ok(pid) => {
                if let Err(error) = self.processes.kill(pid, signal) {
                    println!("nsh: kill {pid}: {}", describe(&error));
                }
            }
            Err(_) => println!("nsh: kill: `{pid}` is not a pid"),
        }
    }

    fn ps(&mut self) {
        match self.processes.list() {
            Ok(entries) => {
                for entry in entries {
                    let name = cluster::info(entry.cluster as usize)
                        .map(|info| String::from(info.name()))
                        .unwrap_or_default();
                    println!("{} {name}", entry.pid);
                }
            }
            Err(error) => println!("nsh: ps: {}", describe(&error)),
        }
    }
}

/// A failed call, in words.
fn describe(error: &ProcessCallError) -> String {
    use core::fmt::Write;
    let mut text = String::new();
    let _ = match error {
        ProcessCallError::Refused(ProcessError::NoSuchProgram) => {
            write!(text, "no such program")
        }
        other => write!(text, "{other}"),
    };
    text
}
