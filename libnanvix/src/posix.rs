//! POSIX-like calls on the system's servers: processes, signals, names, descriptors.
//!
//! Each call is one RPC to a system server (a fresh client each time, so calls
//! from several threads never wait for one another), and its errors are the
//! [`Errno`]s POSIX gives them (`ESRCH`, `EPERM`, `ECHILD`, ...).
//!
//! **Where the servers are.** By convention the process server (port 2) and the
//! name server (port 1) serve at the first node of the board's cluster 0, the boot
//! I/O cluster (under init, their slots are chosen so: a multiple of the cluster's
//! node count). A program told otherwise gets the arguments `process-server=NODE`
//! or `name-server=NODE`.
//!
//! **Descriptors.** Descriptors 0, 1 and 2 are standard input, output and error;
//! every process has them from its start: output and error go to the board's
//! console; input comes from the provider its spawner named (`stdin=NODE:PORT`: a
//! shell names itself, and its foreground job reads what is typed), else from the
//! terminal for the program the manifest gives it, else it is at its end. Files and
//! pipes come with the file system.

use crate::{Errno, cluster, console, process, signal};
use nanvix_name_api::{NameCallError, NameClient, NameError};
use nanvix_process_api::{ProcessCallError, ProcessClient, ProcessError, SignalAction};
use nanvix_rpc::transport::CallError;

pub use crate::process::exit;
pub use nanvix_process_api::Termination;

/// A process id.
pub type Pid = u32;
/// A user id (root is 0).
pub type Uid = u32;

/// Standard input.
pub const STDIN_FILENO: i32 = 0;
/// Standard output.
pub const STDOUT_FILENO: i32 = 1;
/// Standard error.
pub const STDERR_FILENO: i32 = 2;

/// The node of the system's servers: the first node of cluster 0.
pub(crate) fn system_node() -> u32 {
    cluster::info(0).map_or(0, |info| info.first_node)
}

/// The node the process server serves at.
pub fn process_server_node() -> u32 {
    process::argument("process-server")
        .and_then(|node| node.parse().ok())
        .unwrap_or_else(system_node)
}

/// The node the name server serves at.
pub fn name_server_node() -> u32 {
    process::argument("name-server")
        .and_then(|node| node.parse().ok())
        .unwrap_or_else(system_node)
}

/// The errno of a failed process call.
pub fn process_errno(error: ProcessCallError) -> Errno {
    match error {
        ProcessCallError::Refused(refusal) => match refusal {
            ProcessError::NoSuchProgram => Errno::NoEntry,
            ProcessError::NoFreeCluster => Errno::Again,
            ProcessError::NoSuchProcess => Errno::NoSuchThread,
            ProcessError::NotYours | ProcessError::Waited => Errno::NoChild,
            ProcessError::NotInternal | ProcessError::NotPermitted => Errno::Permission,
            ProcessError::NoSuchSignal | ProcessError::NotCatchable => Errno::Invalid,
            ProcessError::OverQuota => Errno::Again,
            ProcessError::NotExecutable => Errno::Access,
            ProcessError::NotAProgram => Errno::ExecFormat,
        },
        ProcessCallError::Call(call) => call_errno(call),
    }
}

/// The errno of a failed name call.
pub fn name_errno(error: NameCallError) -> Errno {
    match error {
        NameCallError::Refused(refusal) => match refusal {
            NameError::NotFound => Errno::NoEntry,
            NameError::Exists => Errno::Exists,
            NameError::BadName => Errno::Invalid,
            NameError::Full => Errno::NoMemory,
            NameError::NotHolder => Errno::Permission,
        },
        NameCallError::Call(call) => call_errno(call),
    }
}

fn call_errno(error: CallError) -> Errno {
    match error {
        CallError::Mailbox(errno) => errno,
        CallError::Rpc(_) => Errno::InputOutput,
    }
}

/// Runs `call` on a fresh client of the process server.
fn with_processes<T>(
    call: impl FnOnce(&mut ProcessClient) -> Result<T, ProcessCallError>,
) -> Result<T, Errno> {
    let mut client = ProcessClient::connect(process_server_node())?;
    let result = call(&mut client).map_err(process_errno);
    let _ = client.close();
    result
}

/// Runs `call` on a fresh client of the name server.
fn with_names<T>(
    call: impl FnOnce(&mut NameClient) -> Result<T, NameCallError>,
) -> Result<T, Errno> {
    let mut client = NameClient::connect(name_server_node())?;
    let result = call(&mut client).map_err(name_errno);
    let _ = client.close();
    result
}

/// Who this program is, as the process server says: (pid, parent pid, user).
fn identity() -> Result<(Option<Pid>, Option<Pid>, Uid), Errno> {
    with_processes(|processes| processes.identify())
}

/// `getpid`: this process' id (`ESRCH` for a program the manifest started, which is
/// not a spawned process).
pub fn getpid() -> Result<Pid, Errno> {
    identity()?.0.ok_or(Errno::NoSuchThread)
}

/// `getppid`: the id of the process that spawned this one (`ESRCH` when none did,
/// or its spawner is not a process).
pub fn getppid() -> Result<Pid, Errno> {
    identity()?.1.ok_or(Errno::NoSuchThread)
}

/// `getuid`: the user this program runs as (root, 0, for programs the manifest
/// started).
pub fn getuid() -> Result<Uid, Errno> {
    Ok(identity()?.2)
}

/// `posix_spawn`: starts the image's `program` with `arguments` on a free compute
/// cluster, waiting for one if none is free; its pid. It runs as the caller's user.
pub fn spawn(program: &str, arguments: &[&str]) -> Result<Pid, Errno> {
    with_processes(|processes| processes.spawn_waiting(program, arguments))
}

/// [`spawn`] as user `uid` (root only, for another user than its own: `EPERM`),
/// without waiting for a free cluster (`EAGAIN`).
pub fn spawn_as(uid: Uid, program: &str, arguments: &[&str]) -> Result<Pid, Errno> {
    with_processes(|processes| processes.spawn_as(uid, program, arguments))
}

/// `waitpid`: waits until process `pid`, which this program spawned, ends (`ECHILD`
/// for another's, or one another call waits for; `ESRCH` for none).
pub fn waitpid(pid: Pid) -> Result<Termination, Errno> {
    with_processes(|processes| processes.wait(pid))
}

/// `kill`: sends `signal` (SIGINT, SIGTERM or SIGKILL) to process `pid` (`EPERM`
/// for another user's, unless root).
pub fn kill(pid: Pid, signal: u32) -> Result<(), Errno> {
    with_processes(|processes| processes.kill(pid, signal))
}

/// What a process does with a signal it may catch.
#[derive(Clone, Copy, Debug)]
pub enum Disposition {
    /// The default: it ends the process.
    Default,
    /// Nothing happens.
    Ignore,
    /// The handler runs, on the program's signal thread.
    Handler(signal::Handler),
}

/// `signal`/`sigaction`: how this process takes `signal` (SIGINT or SIGTERM; `EINVAL`
/// for SIGKILL) from now on. Only a spawned process may (`ESRCH` otherwise).
pub fn signal(number: u32, disposition: Disposition) -> Result<(), Errno> {
    if !signal::catchable(number) {
        return Err(Errno::Invalid);
    }
    let server = process_server_node();
    let action = match disposition {
        Disposition::Default => {
            signal::set_handler(number, None)?;
            SignalAction::Default
        }
        Disposition::Ignore => SignalAction::Ignore,
        Disposition::Handler(handler) => {
            let port = signal::listen(server)?;
            signal::set_handler(number, Some(handler))?;
            SignalAction::Catch { port }
        }
    };
    with_processes(|processes| processes.handle(number, action))
}

/// Links `name` to `port` on this program's node, in the name server.
pub fn name_link(name: &str, port: u32) -> Result<(), Errno> {
    with_names(|names| names.link(name, port))
}

/// The (node, port) `name` stands for.
pub fn name_lookup(name: &str) -> Result<(u32, u32), Errno> {
    with_names(|names| names.lookup(name))
}

/// Unlinks `name` (this program's node must hold it).
pub fn name_unlink(name: &str) -> Result<(), Errno> {
    with_names(|names| names.unlink(name))
}

/// The argument that gives a process its standard input from a provider program:
/// `stdin=NODE:PORT` (a shell passes its own, so its jobs read the terminal).
pub const STDIN_ARGUMENT: &str = "stdin";

/// The size of a standard-input read request: the most bytes wanted, then the
/// port of the reader's node the reply goes to (both u32, little-endian).
pub const INPUT_REQUEST_BYTES: usize = 8;

/// The first port a reader tries for the provider's reply.
const INPUT_REPLY_PORT: u32 = 16;

/// The first byte of a provider's reply: bytes of input follow.
pub const INPUT_DATA: u8 = 0;
/// The first byte of a provider's reply: the end of input.
pub const INPUT_END: u8 = 1;
/// The most input bytes one reply carries (a message, less its kind byte).
pub const INPUT_CHUNK_MAX: usize = crate::mailbox::NOC_PAYLOAD_MAX - 1;

/// A read request for at most `wanted` bytes, answered at `reply_port`.
pub fn encode_input_request(wanted: usize, reply_port: u32) -> [u8; INPUT_REQUEST_BYTES] {
    let mut request = [0u8; INPUT_REQUEST_BYTES];
    request[..4].copy_from_slice(&(wanted.min(u32::MAX as usize) as u32).to_le_bytes());
    request[4..].copy_from_slice(&reply_port.to_le_bytes());
    request
}

/// The (wanted bytes, reply port) of a read request, if `bytes` is one (the
/// wanted bytes bounded by [`INPUT_CHUNK_MAX`]). The provider answers with
/// [`INPUT_DATA`] and the bytes, or [`INPUT_END`].
pub fn decode_input_request(bytes: &[u8]) -> Option<(usize, u32)> {
    let bytes: [u8; INPUT_REQUEST_BYTES] = bytes.try_into().ok()?;
    let word =
        |at: usize| u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let wanted = (word(0) as usize).min(INPUT_CHUNK_MAX);
    Some((wanted, word(4)))
}

/// This process' standard-input provider, if its spawner gave it one.
fn input_provider() -> Option<(u32, u32)> {
    let (node, port) = process::argument(STDIN_ARGUMENT)?.split_once(':')?;
    Some((node.parse().ok()?, port.parse().ok()?))
}

/// Reads standard input from the provider at (`node`, `port`): one request, one
/// reply (an empty one at the end of input).
fn read_from_provider(node: u32, port: u32, buffer: &mut [u8]) -> Result<usize, Errno> {
    let (inbox, reply_port) = (INPUT_REPLY_PORT..crate::mailbox::MAILBOX_PORTS as u32)
        .find_map(|port| {
            crate::mailbox::Inbox::create(port)
                .ok()
                .map(|inbox| (inbox, port))
        })
        .ok_or(Errno::Again)?;
    let asked = crate::mailbox::Outbox::open(node, port).and_then(|outbox| {
        let written = outbox.write(&encode_input_request(buffer.len(), reply_port));
        let _ = outbox.close();
        written
    });
    let mut chunk = [0u8; crate::mailbox::NOC_PAYLOAD_MAX];
    let answered = asked.and_then(|()| inbox.read_from(node, &mut chunk));
    let _ = inbox.unlink();
    let (_, length) = answered?;
    match chunk[..length].split_first() {
        Some((&INPUT_DATA, bytes)) => {
            let length = bytes.len().min(buffer.len());
            buffer[..length].copy_from_slice(&bytes[..length]);
            Ok(length)
        }
        Some((&INPUT_END, _)) => Ok(0),
        _ => Err(Errno::InputOutput),
    }
}

/// `read`: reads from descriptor `descriptor` into `buffer`; 0 at the end of input.
/// Standard input comes from the provider the spawner named (`stdin=NODE:PORT`),
/// else from the console where the manifest gives it, else it is at its end.
pub fn read(descriptor: i32, buffer: &mut [u8]) -> Result<usize, Errno> {
    match descriptor {
        STDIN_FILENO => {
            if crate::streams::input_file().is_some() {
                return crate::streams::read_input(buffer);
            }
            if let Some((node, port)) = input_provider() {
                return read_from_provider(node, port, buffer);
            }
            match console::read(buffer) {
                // No console input here: the end of input, as /dev/null gives.
                Err(Errno::Access) => Ok(0),
                other => other,
            }
        }
        _ => Err(Errno::BadDescriptor),
    }
}

/// `write`: writes `bytes` to descriptor `descriptor`; how many it took.
pub fn write(descriptor: i32, bytes: &[u8]) -> Result<usize, Errno> {
    match descriptor {
        // Standard output where the spawner redirected it; standard error on the
        // console.
        STDOUT_FILENO => console::write(bytes),
        STDERR_FILENO => console::write_console(bytes),
        _ => Err(Errno::BadDescriptor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_become_the_errnos_posix_gives() {
        let cases = [
            (ProcessError::NoSuchProgram, Errno::NoEntry),
            (ProcessError::NoFreeCluster, Errno::Again),
            (ProcessError::NoSuchProcess, Errno::NoSuchThread),
            (ProcessError::NotYours, Errno::NoChild),
            (ProcessError::NotPermitted, Errno::Permission),
            (ProcessError::NotCatchable, Errno::Invalid),
            (ProcessError::OverQuota, Errno::Again),
            (ProcessError::NotExecutable, Errno::Access),
            (ProcessError::NotAProgram, Errno::ExecFormat),
        ];
        for (refusal, errno) in cases {
            assert_eq!(process_errno(ProcessCallError::Refused(refusal)), errno);
        }
        assert_eq!(
            name_errno(NameCallError::Refused(NameError::Exists)),
            Errno::Exists
        );
        assert_eq!(
            process_errno(ProcessCallError::Call(CallError::Mailbox(Errno::HostDown))),
            Errno::HostDown
        );
    }

    #[test]
    fn input_requests_round_trip_and_are_bounded() {
        let request = encode_input_request(40, 17);
        assert_eq!(decode_input_request(&request), Some((40, 17)));
        let huge = encode_input_request(1 << 20, 17);
        assert_eq!(decode_input_request(&huge), Some((INPUT_CHUNK_MAX, 17)));
        assert_eq!(decode_input_request(&request[..7]), None);
    }

    #[test]
    fn only_the_standard_descriptors_exist() {
        assert_eq!(write(3, b"x"), Err(Errno::BadDescriptor));
        assert_eq!(read(1, &mut [0; 4]), Err(Errno::BadDescriptor));
    }
}
