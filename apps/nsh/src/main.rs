//! nsh: the Nanvix shell: runs programs through the process server, commands from the console.
//!
//! Reads commands from the console input (the manifest gives it to nsh), one a
//! line, echoing each as `$ COMMAND`:
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
//! Blank lines and lines starting with `#` are skipped. Argument `server=CLUSTER`
//! names the process server's cluster (default `io0`); when nsh runs on that
//! cluster, it stops the server as it ends, so the board can power off.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use libnanvix::{cluster, console, println, process, signal};
use nanvix_process_api::{ProcessCallError, ProcessClient, ProcessError, Termination};

libnanvix::entry!(main);

/// Longest command line, in bytes.
const LINE_MAX: usize = 1024;

fn main() -> i32 {
    let server = process::argument("server").unwrap_or("io0");
    let Some(server_cluster) = cluster::find(server) else {
        println!("nsh: server={server} names no cluster of this board");
        return 2;
    };
    let mut processes = match ProcessClient::connect(server_cluster.first_node) {
        Ok(processes) => processes,
        Err(errno) => {
            println!("nsh: cannot reach the process server: {errno}");
            return 2;
        }
    };
    let mut shell = Shell {
        processes: &mut processes,
        status: 0,
    };
    let status = shell.run();
    let here = cluster::this().map(|this| this.index);
    if here.ok() == Some(server_cluster.index) {
        let _ = processes.stop();
    }
    status
}

struct Shell<'a> {
    processes: &'a mut ProcessClient,
    /// The last foreground command's status.
    status: i32,
}

impl Shell<'_> {
    /// Runs commands until `exit` or the end of the input; the shell's status.
    fn run(&mut self) -> i32 {
        let mut pending: Vec<u8> = Vec::new();
        let mut chunk = [0u8; 256];
        loop {
            let read = match console::read(&mut chunk) {
                Ok(read) => read,
                Err(errno) => {
                    println!("nsh: reading the console: {errno}");
                    return 2;
                }
            };
            if read == 0 {
                // The end of the input: a last line without its newline counts.
                let line = String::from_utf8_lossy(&pending).into_owned();
                if let Some(status) = self.line(line.trim()) {
                    return status;
                }
                return self.status;
            }
            pending.extend_from_slice(&chunk[..read]);
            while let Some(end) = pending.iter().position(|byte| *byte == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                if let Some(status) = self.line(line.trim()) {
                    return status;
                }
            }
            if pending.len() > LINE_MAX {
                println!("nsh: a line over {LINE_MAX} bytes: skipped");
                pending.clear();
            }
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
        match self.processes.wait(pid) {
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
