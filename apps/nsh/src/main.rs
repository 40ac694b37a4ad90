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
//! - `A | B | C`: runs the programs at once, each one's standard output into the
//!   next one's standard input through a pipe of the shell (16 KiB: a writer
//!   waits while it is full; the reader reads the end after every byte the writer
//!   sent, once the writer's own end message came, or, for a writer killed or
//!   faulted, once nothing more came from it for 250 ms); the
//!   first reads the shell's input, the shell's status is the last one's; at most
//!   4 programs, no more than the board's compute clusters (they run at once), in
//!   the foreground only;
//! - `> FILE`, `>> FILE`, `< FILE` anywhere after the program: its standard output
//!   to FILE (created or emptied, or appended to) and its standard input from
//!   FILE, opened by the job as its user (`stdout=`, `stdout-append=`,
//!   `stdin-file=`: see `libnanvix::streams`); standard error stays on the console;
//! - a foreground job's standard input is nsh's (`stdin=NODE:12`): each read gets
//!   the next line typed, or the end of input; a background job's is at its end;
//! - `ps`: the processes that run, `PID CLUSTER`, one a line;
//! - `wait PID`: waits for a background process, prints `PID: exited with status
//!   N` (or how else it ended);
//! - `kill [-SIGNAL] PID`: sends it SIGTERM, or the signal named (`-INT`, `-KILL`,
//!   `-9`, ...);
//! - `exit [STATUS]`: ends the shell, as the end of the input does (with the last
//!   foreground status);
//! - `cd [DIR]` (default: the user's home), `pwd`, `whoami`: the working
//!   directory, which every job starts in (`cwd=DIR`), and the user.
//!
//! Blank lines and lines starting with `#` are skipped; a line over 1024 bytes is
//! skipped with a word. Arguments: `server=CLUSTER` names the process server's
//! cluster (default `io0`); with `shutdown=yes` nsh stops the process server as it
//! ends, so the board can power off (with `shutdown=init` and `init=NODE`, a shell
//! that is a program of the system asks init to shut the servers down); `user=NAME` (what `nanvix run --user NAME`
//! gives) logs that user in, and `login=yes` asks for a name first (`login:`):
//! the user's id comes from `/etc/users` on the vfs server, every job runs as that
//! user, and the shell starts in `/home/NAME`. Without either, nsh and its jobs run
//! as root in `/`. The board trusts its console: there are no passwords. With
//! `path=DIRS` (`:`-separated: the system has a file system) nsh looks programs
//! up as files there, as `execvp` does (a word with a `/` is a path from the
//! working directory); the file must be one the user may execute (`nsh: WORD:
//! permission denied`, status 126; none: `no such program`, 127), and the image's
//! program of its name runs (`/bin` holds every one).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use libnanvix::cluster::Clusters;
use libnanvix::fs;
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::streams::{PIPE_ARGUMENT, PIPE_DATA, PIPE_END};
use libnanvix::sync::{Condvar, Mutex};
use libnanvix::{clock, cluster, console, posix, println, process, signal, thread};
use nanvix_init_api::InitClient;
use nanvix_process_api::{ProcessCallError, ProcessClient, ProcessError, Termination};

libnanvix::entry!(main);

/// Longest command line, in bytes (the rest of a longer line is dropped).
const LINE_MAX: usize = 1024;

/// The byte a terminal's Ctrl-C comes as.
const CTRL_C: u8 = 0x03;

/// The port of nsh's node its foreground job's standard input is served on.
const INPUT_PORT: u32 = 12;

/// The foreground "pid" while a job is being spawned (pids start at 1).
const STARTING: u32 = 0;

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
    let status = match start_threads(server_node) {
        Ok(shared) => {
            let mut shell = Shell {
                processes: &mut processes,
                shared: &shared,
                status: 0,
                user: None,
            };
            match shell.log_in() {
                Ok(()) => shell.run(),
                Err(problem) => {
                    println!("nsh: {problem}");
                    1
                }
            }
        }
        Err(problem) => {
            println!("nsh: {problem}");
            2
        }
    };
    // Even when it could not start, so the board can power off.
    match process::argument("shutdown") {
        Some("yes") => {
            if let Err(error) = processes.stop() {
                println!("nsh: cannot stop the process server: {}", describe(&error));
            }
        }
        // init stops every server it supervises (a program of the system may ask).
        Some("init") => {
            let init = process::argument("init").and_then(|node| node.parse().ok());
            match init.map(InitClient::connect) {
                Some(Ok(mut init)) => {
                    if let Err(error) = init.shutdown(status) {
                        println!("nsh: init refused to shut down: {error}");
                    }
                }
                _ => println!("nsh: shutdown=init needs init=NODE"),
            }
        }
        _ => {}
    }
    status
}

/// The stack of each of nsh's threads (input, and its jobs' input).
const THREAD_STACK: usize = 16 * 1024;

/// Starts the input thread and the thread that serves the foreground job's input.
fn start_threads(server_node: u32) -> Result<Arc<Shared>, String> {
    let shared = match (Mutex::new(Input::default()), Condvar::new()) {
        (Ok(state), Ok(arrived)) => Arc::new(Shared { state, arrived }),
        _ => return Err("no room for its locks".into()),
    };
    let reading = Arc::clone(&shared);
    thread::spawn_with_stack(THREAD_STACK, move || read_input(&reading, server_node))
        .map_err(|errno| alloc::format!("cannot start the input thread: {errno}"))?;
    let providing = Arc::clone(&shared);
    Inbox::create(INPUT_PORT)
        .and_then(|inbox| {
            thread::spawn_with_stack(THREAD_STACK, move || provide_input(&inbox, &providing))
        })
        .map_err(|errno| alloc::format!("cannot provide its jobs' input: {errno}"))?;
    Ok(shared)
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

/// Serves the standard input of the foreground job: each read request gets the
/// next line typed (or as much of it as was asked), or the end of input once the
/// input ended, or when no job runs in the foreground.
fn provide_input(inbox: &Inbox, shared: &Shared) {
    let mut buffer = [0u8; libnanvix::mailbox::NOC_PAYLOAD_MAX];
    loop {
        let Ok((header, length)) = inbox.read(&mut buffer) else {
            return;
        };
        let Some((wanted, reply_port)) = posix::decode_input_request(&buffer[..length]) else {
            continue;
        };
        let mut reply = Vec::with_capacity(wanted + 1);
        match next_input(shared, wanted) {
            Some(bytes) => {
                reply.push(posix::INPUT_DATA);
                reply.extend_from_slice(&bytes);
            }
            None => reply.push(posix::INPUT_END),
        }
        if let Ok(outbox) = Outbox::open(header.source_node, reply_port) {
            let _ = outbox.try_write(&reply);
            let _ = outbox.close();
        }
    }
}

/// Up to `wanted` bytes of the next line for the foreground job (with its
/// newline), waiting for one; `None` at the end of input or with no job.
fn next_input(shared: &Shared, wanted: usize) -> Option<Vec<u8>> {
    let mut state = shared.state.lock().ok()?;
    loop {
        state.foreground?;
        if let Some(line) = state.lines.pop_front() {
            let mut bytes = line.into_bytes();
            bytes.push(b'\n');
            if bytes.len() > wanted.max(1) {
                let rest = bytes.split_off(wanted.max(1));
                // The rest of a line is read next (a line cut in a character is
                // its bytes still: the job reads them as they were typed).
                state
                    .lines
                    .push_front(String::from_utf8_lossy(&rest[..rest.len() - 1]).into_owned());
            }
            return Some(bytes);
        }
        if state.ended {
            return None;
        }
        state = shared.arrived.wait(state).ok()?;
    }
}

struct Shell<'a> {
    processes: &'a mut ProcessClient,
    shared: &'a Shared,
    /// The last foreground command's status.
    status: i32,
    /// The user logged in (name, id); `None`: root, who started the shell.
    user: Option<(String, u32)>,
}

/// Splits the redirections (`> FILE`, `>> FILE`, `< FILE`, or with the file
/// attached: `>FILE`) from a command's words: the arguments left, and the runtime
/// arguments that redirect the job's streams (paths made absolute from the
/// working directory).
fn redirections<'a>(words: &[&'a str]) -> Result<(Vec<&'a str>, Vec<String>), String> {
    let mut arguments = Vec::new();
    let mut streams = Vec::new();
    let mut words = words.iter();
    while let Some(word) = words.next() {
        let (key, attached) = if let Some(rest) = word.strip_prefix(">>") {
            ("stdout-append", rest)
        } else if let Some(rest) = word.strip_prefix('>') {
            ("stdout", rest)
        } else if let Some(rest) = word.strip_prefix('<') {
            ("stdin-file", rest)
        } else {
            arguments.push(*word);
            continue;
        };
        let path = if attached.is_empty() {
            *words
                .next()
                .ok_or_else(|| alloc::format!("`{word}` names no file"))?
        } else {
            attached
        };
        streams.push(alloc::format!("{key}={}", fs::absolute(path)));
    }
    Ok((arguments, streams))
}

/// The first port of nsh's node its pipes take: pipe `k` is written at
/// `PIPE_PORT + 2k` and read (the standard-input protocol) at `PIPE_PORT + 2k + 1`.
const PIPE_PORT: u32 = 26;
/// Bytes a pipe holds before its writer waits.
const PIPE_CAPACITY: usize = 16 * 1024;
/// Pipes one command line may have.
const PIPES_MAX: usize = 3;
/// The message that tells a pipe's thread to end (its own node's only).
const PIPE_STOP: u8 = 0xff;
/// How long after its writer ended, with no message from it, a pipe ends without
/// the writer's own end message (a writer killed or faulted sends none).
const WRITER_QUIET_NANOSECONDS: u64 = 250_000_000;
/// How often the shell looks at a pipe whose writer ended.
const WRITER_POLL_NANOSECONDS: u64 = 1_000_000;

/// What a pipe holds.
#[derive(Default)]
struct PipeState {
    bytes: VecDeque<u8>,
    /// Its writer ended: once empty, its reader reads the end.
    ended: bool,
    /// Messages taken from the writer so far (the shell watches them come after
    /// the writer's end, until its own end message).
    taken: u64,
    /// The shell is done with it: its threads end.
    stopped: bool,
}

/// A pipe between two jobs of a pipeline, held by the shell: one thread takes the
/// writer's messages (holding the writer back while full), one serves the reader's
/// reads.
struct Pipe {
    state: Arc<(Mutex<PipeState>, Condvar)>,
    write_port: u32,
    read_port: u32,
    /// Its two threads, joined when it stops (their ports free again).
    threads: Vec<thread::JoinHandle<()>>,
}

impl Pipe {
    /// Pipe `index`: its two ports taken and its two threads started.
    fn start(index: u32) -> Result<Pipe, String> {
        let state = match (Mutex::new(PipeState::default()), Condvar::new()) {
            (Ok(state), Ok(changed)) => Arc::new((state, changed)),
            _ => return Err("no room for a pipe".into()),
        };
        let (write_port, read_port) = (PIPE_PORT + 2 * index, PIPE_PORT + 2 * index + 1);
        let writes = Inbox::create(write_port)
            .map_err(|errno| alloc::format!("cannot make a pipe: {errno}"))?;
        let reads = match Inbox::create(read_port) {
            Ok(reads) => reads,
            Err(errno) => {
                let _ = writes.unlink();
                return Err(alloc::format!("cannot make a pipe: {errno}"));
            }
        };
        let mut pipe = Pipe {
            state,
            write_port,
            read_port,
            threads: Vec::new(),
        };
        let taking = Arc::clone(&pipe.state);
        let taker = thread::spawn_with_stack(THREAD_STACK, move || take_writes(writes, &taking));
        let serving = Arc::clone(&pipe.state);
        let server = taker.and_then(|taker| {
            pipe.threads.push(taker);
            thread::spawn_with_stack(THREAD_STACK, move || serve_reads(reads, &serving))
        });
        match server {
            Ok(server) => {
                pipe.threads.push(server);
                Ok(pipe)
            }
            Err(errno) => {
                pipe.stop();
                Err(alloc::format!("cannot start a pipe: {errno}"))
            }
        }
    }

    /// The writer ended: its messages may still be on their way (they travel on
    /// their own channel, the news of its end on another), so the pipe ends once its
    /// end message came or, for a writer that could not send one (killed, a
    /// fault), once no message came for [`WRITER_QUIET_NANOSECONDS`].
    fn writer_ended(&self) {
        let (state, _) = &*self.state;
        let mut last = None;
        let mut quiet_since = clock::monotonic_nanoseconds().unwrap_or(0);
        loop {
            let taken = match state.lock() {
                Ok(state) if state.ended || state.stopped => return,
                Ok(state) => state.taken,
                Err(_) => break,
            };
            let now = clock::monotonic_nanoseconds().unwrap_or(u64::MAX);
            if last != Some(taken) {
                last = Some(taken);
                quiet_since = now;
            } else if now.saturating_sub(quiet_since) >= WRITER_QUIET_NANOSECONDS {
                break;
            }
            let _ = thread::sleep_nanoseconds(WRITER_POLL_NANOSECONDS);
        }
        self.end();
    }

    /// Ends the pipe: its reader reads the end once it is empty.
    fn end(&self) {
        let (state, changed) = &*self.state;
        if let Ok(mut state) = state.lock() {
            state.ended = true;
            let _ = changed.notify_all();
        }
    }

    /// Ends the pipe's threads and waits for them (their ports are free after).
    fn stop(&mut self) {
        let (state, changed) = &*self.state;
        if let Ok(mut state) = state.lock() {
            state.stopped = true;
            let _ = changed.notify_all();
        }
        for port in [self.write_port, self.read_port] {
            if let Ok(outbox) = Outbox::open(process::node(), port) {
                let _ = outbox.write(&[PIPE_STOP]);
                let _ = outbox.close();
            }
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A pipe's writing end: the writer's bytes into the pipe, the writer held back
/// while it is full; its end marks the pipe ended.
fn take_writes(inbox: Inbox, pipe: &(Mutex<PipeState>, Condvar)) {
    let (state, changed) = pipe;
    let mut message = [0u8; libnanvix::mailbox::NOC_PAYLOAD_MAX];
    while let Ok((header, length)) = inbox.read(&mut message) {
        let Ok(mut held) = state.lock() else {
            break;
        };
        match message[..length].split_first() {
            Some((&PIPE_STOP, _)) if header.source_node == process::node() => break,
            Some((&PIPE_DATA, bytes)) => {
                while held.bytes.len() + bytes.len() > PIPE_CAPACITY && !held.stopped {
                    held = match changed.wait(held) {
                        Ok(held) => held,
                        Err(_) => return,
                    };
                }
                held.bytes.extend(bytes);
            }
            Some((&PIPE_END, _)) => held.ended = true,
            _ => {}
        }
        held.taken += 1;
        if held.stopped {
            break;
        }
        let _ = changed.notify_all();
    }
    let _ = inbox.unlink();
}

/// A pipe's reading end: each read request gets the next bytes (as many as asked,
/// at most a message's), waiting for some, or the end once the writer ended.
fn serve_reads(inbox: Inbox, pipe: &(Mutex<PipeState>, Condvar)) {
    let (state, changed) = pipe;
    let mut message = [0u8; libnanvix::mailbox::NOC_PAYLOAD_MAX];
    while let Ok((header, length)) = inbox.read(&mut message) {
        if message[..length] == [PIPE_STOP] && header.source_node == process::node() {
            break;
        }
        let Some((wanted, reply_port)) = posix::decode_input_request(&message[..length]) else {
            continue;
        };
        let Ok(mut held) = state.lock() else {
            break;
        };
        while held.bytes.is_empty() && !held.ended && !held.stopped {
            held = match changed.wait(held) {
                Ok(held) => held,
                Err(_) => return,
            };
        }
        if held.stopped {
            break;
        }
        let mut reply = Vec::new();
        if held.bytes.is_empty() {
            reply.push(posix::INPUT_END);
        } else {
            let count = held
                .bytes
                .len()
                .min(wanted.max(1))
                .min(posix::INPUT_CHUNK_MAX);
            reply.push(posix::INPUT_DATA);
            reply.extend(held.bytes.drain(..count));
        }
        let _ = changed.notify_all();
        drop(held);
        if let Ok(outbox) = Outbox::open(header.source_node, reply_port) {
            let _ = outbox.try_write(&reply);
            let _ = outbox.close();
        }
    }
    let _ = inbox.unlink();
}

/// The user id of `name` in the users table `table` (`name:id` a line).
fn user_id(table: &str, name: &str) -> Option<u32> {
    table.lines().find_map(|line| {
        let (user, id) = line.split_once(':')?;
        (user == name).then(|| id.trim().parse().ok()).flatten()
    })
}

impl Shell<'_> {
    /// Logs in the user the arguments name (`user=NAME`), or asks for one
    /// (`login=yes`); root otherwise.
    fn log_in(&mut self) -> Result<(), String> {
        let name = match (process::argument("user"), process::argument("login")) {
            (Some(name), _) => String::from(name),
            (None, Some("yes")) => {
                println!("login:");
                match self.next_line() {
                    Some(line) => String::from(line.trim()),
                    None => return Err("no user logged in".into()),
                }
            }
            _ => return Ok(()),
        };
        if name == "root" {
            println!("nsh: root logged in");
            return Ok(());
        }
        let table = fs::read_to_string("/etc/users")
            .map_err(|errno| alloc::format!("cannot read /etc/users: {errno}"))?;
        let id = user_id(&table, &name)
            .ok_or_else(|| alloc::format!("no user `{name}` in /etc/users"))?;
        let home = alloc::format!("/home/{name}");
        if fs::set_current_dir(&home).is_err() {
            println!("nsh: no home {home}: starting in /");
        }
        println!("nsh: {name} logged in (user {id})");
        self.user = Some((name, id));
        Ok(())
    }

    /// The program a command's first word names: with a search path (`path=DIRS`:
    /// the system has a file system, and its process server runs programs from
    /// files), the absolute path of the file found in it (or of the word as a path,
    /// with a `/`) as the user, who must be allowed to execute it; else the word
    /// itself, an image program. `None` (said why) when it cannot run.
    fn program(&mut self, word: &str) -> Option<String> {
        let Some(search) = process::argument("path") else {
            return Some(String::from(word));
        };
        match fs::find_program(word, search, self.user_id()) {
            Ok(program) => Some(program),
            Err(errno) => {
                println!(
                    "nsh: {word}: {}",
                    match errno {
                        libnanvix::Errno::NoEntry => "no such program",
                        libnanvix::Errno::Access => "permission denied",
                        other => other.name(),
                    }
                );
                self.status = if errno == libnanvix::Errno::NoEntry {
                    127
                } else {
                    126
                };
                None
            }
        }
    }

    /// The id of the user logged in (root's, 0, when none is).
    fn user_id(&self) -> u32 {
        self.user.as_ref().map_or(0, |(_, id)| *id)
    }

    /// `cd`: to `directory`, or the user's home.
    fn change_directory(&mut self, directory: Option<&str>) {
        let target = match (directory, &self.user) {
            (Some(directory), _) => fs::absolute(directory),
            (None, Some((name, _))) => alloc::format!("/home/{name}"),
            (None, None) => String::from("/"),
        };
        let result = fs::metadata(&target).and_then(|metadata| {
            if !metadata.is_dir() {
                Err(libnanvix::Errno::NotDirectory)
            } else if self.user_id() != 0 && !fs::may_execute(&metadata, self.user_id()) {
                Err(libnanvix::Errno::Access)
            } else {
                fs::set_current_dir(&target)
            }
        });
        if let Err(errno) = result {
            println!("nsh: cd {target}: {errno}");
            self.status = 1;
        }
    }

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
            // A job's read waiting for input ends with the job.
            let _ = self.shared.arrived.notify_all();
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
            ["pwd"] => println!("{}", fs::current_dir()),
            ["whoami"] => match &self.user {
                Some((name, _)) => println!("{name}"),
                None => println!("root"),
            },
            ["cd"] => self.change_directory(None),
            ["cd", directory] => self.change_directory(Some(directory)),
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
            _ if words.contains(&"|") => {
                if background {
                    println!("nsh: a pipeline runs in the foreground");
                    self.status = 2;
                } else {
                    let stages: Vec<Vec<&str>> = words
                        .split(|word| *word == "|")
                        .map(<[&str]>::to_vec)
                        .collect();
                    self.pipeline(&stages);
                }
            }
            [program, arguments @ ..] => match redirections(arguments) {
                Ok((arguments, streams)) => {
                    if let Some(found) = self.program(program) {
                        self.spawn((program, &found), &arguments, &streams, background);
                    }
                }
                Err(problem) => {
                    println!("nsh: {problem}");
                    self.status = 2;
                }
            },
        }
        None
    }

    /// Runs `program` (the file or image program `word` names) as a job.
    fn spawn(
        &mut self,
        (word, program): (&str, &str),
        arguments: &[&str],
        streams: &[String],
        background: bool,
    ) {
        let Some(pid) = self.start_job((word, program), arguments, streams, !background) else {
            return;
        };
        if background {
            println!("[{pid}]");
            return;
        }
        self.set_foreground(Some(pid));
        self.finish_job(word, pid);
        self.set_foreground(None);
    }

    /// Spawns `program` as the user, from the working directory, its streams
    /// redirected by `streams` (runtime arguments); with `shell_input`, it reads the
    /// shell's input (the terminal's, or the rest of a script) unless its input is
    /// redirected (else its input is at its end). Its pid, or `None` (said why).
    fn start_job(
        &mut self,
        (word, program): (&str, &str),
        arguments: &[&str],
        streams: &[String],
        shell_input: bool,
    ) -> Option<u32> {
        let input = alloc::format!("{}={}:{INPUT_PORT}", posix::STDIN_ARGUMENT, process::node());
        let directory = alloc::format!("cwd={}", fs::current_dir());
        let mut arguments: Vec<&str> = arguments.to_vec();
        arguments.push(&directory);
        arguments.extend(streams.iter().map(String::as_str));
        let input_redirected = streams
            .iter()
            .any(|stream| stream.starts_with("stdin-file=") || stream.starts_with("stdin="));
        if shell_input && !input_redirected {
            arguments.push(&input);
            // The job may read before its pid is back: it is the foreground already.
            self.set_foreground(Some(STARTING));
        }
        let user = self.user.as_ref().map(|(_, id)| *id);
        match self.processes.spawn_with(program, &arguments, true, user) {
            Ok(pid) => Some(pid),
            Err(error) => {
                self.set_foreground(None);
                println!("nsh: {word}: {}", describe(&error));
                self.status = 127;
                None
            }
        }
    }

    /// Waits for job `pid` (started by the command word `program`); its status
    /// becomes the shell's, and an end other than status 0 is said.
    fn finish_job(&mut self, program: &str, pid: u32) {
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

    /// Runs `stages` (each a program and its words) at once, each one's standard
    /// output into the next one's standard input through a pipe of the shell; the
    /// first reads the shell's input, the last writes where it is redirected; the
    /// shell's status is the last one's.
    fn pipeline(&mut self, stages: &[Vec<&str>]) {
        if stages.len() > PIPES_MAX + 1 {
            println!("nsh: a pipeline of more than {} programs", PIPES_MAX + 1);
            self.status = 2;
            return;
        }
        // Its programs run at once: a stage waiting for a cluster another stage
        // holds while their pipe fills would wait for ever.
        let clusters = Clusters::read().compute().len();
        if stages.len() > clusters {
            println!(
                "nsh: a pipeline of {} programs needs as many compute clusters; the board has {clusters}",
                stages.len()
            );
            self.status = 2;
            return;
        }
        let mut parsed = Vec::new();
        for stage in stages {
            match stage
                .split_first()
                .map(|(program, words)| (program, redirections(words)))
            {
                Some((word, Ok((arguments, streams)))) => match self.program(word) {
                    Some(program) => parsed.push((*word, program, arguments, streams)),
                    None => return,
                },
                Some((_, Err(problem))) => {
                    println!("nsh: {problem}");
                    self.status = 2;
                    return;
                }
                None => {
                    println!("nsh: a pipeline stage names no program");
                    self.status = 2;
                    return;
                }
            }
        }
        let mut pipes = Vec::new();
        for index in 0..parsed.len() - 1 {
            match Pipe::start(index as u32) {
                Ok(pipe) => pipes.push(pipe),
                Err(problem) => {
                    println!("nsh: {problem}");
                    pipes.iter_mut().for_each(Pipe::stop);
                    self.status = 2;
                    return;
                }
            }
        }
        let node = process::node();
        let mut jobs = Vec::new();
        for (index, (word, program, arguments, streams)) in parsed.iter().enumerate() {
            let mut streams = streams.clone();
            if let Some(pipe) = pipes.get(index) {
                streams.push(alloc::format!("{PIPE_ARGUMENT}={node}:{}", pipe.write_port));
            }
            if let Some(pipe) = index.checked_sub(1).and_then(|before| pipes.get(before)) {
                streams.push(alloc::format!(
                    "{}={node}:{}",
                    posix::STDIN_ARGUMENT,
                    pipe.read_port
                ));
            }
            match self.start_job((word, program), arguments, &streams, index == 0) {
                Some(pid) => jobs.push((*word, pid)),
                None => {
                    // The stages started end: nothing would read or write their pipes.
                    for (_, pid) in &jobs {
                        let _ = self.processes.kill(*pid, signal::SIGKILL);
                        let _ = self.processes.wait(*pid);
                    }
                    pipes.iter_mut().for_each(Pipe::stop);
                    return;
                }
            }
        }
        self.set_foreground(jobs.last().map(|(_, pid)| *pid));
        for (index, (program, pid)) in jobs.iter().enumerate() {
            self.finish_job(program, *pid);
            // Its pipe ends after the messages it sent (a writer that ended without
            // saying so, killed or faulted, ends it once they stopped coming).
            if let Some(pipe) = pipes.get(index) {
                pipe.writer_ended();
            }
        }
        self.set_foreground(None);
        pipes.iter_mut().for_each(Pipe::stop);
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
        ProcessCallError::Refused(ProcessError::NotExecutable) => {
            write!(text, "permission denied")
        }
        ProcessCallError::Refused(ProcessError::NotAProgram) => {
            write!(text, "not a program (exec format error)")
        }
        other => write!(text, "{other}"),
    };
    text
}
