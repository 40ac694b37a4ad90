//! The process server's protocol: spawn programs on free compute clusters, wait, kill, list.
//!
//! A process is one program on one compute cluster. The server runs the image's
//! program on a free compute cluster (an idle warm one, which stays on between
//! processes, or one it powers on), numbers the process, and learns its end from
//! the board (the cluster idle, off or dead in the process' boot epoch and run,
//! with the status and the way it ended: [`Termination`]). Its spawner waits for
//! it; it and root may signal it.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
pub use nanvix_rpc::transport::CallError;
use nanvix_rpc::transport::{Client, ServerCallError};
use nanvix_rpc::{Operation, Protocol};
use nanvix_sys::Errno;
use nanvix_sys::abi::{FaultKind, MessageHeader};
use nanvix_sys::signal;
use serde::{Deserialize, Serialize};

/// The port the process server serves on, on its node.
pub const PROCESS_PORT: u32 = 2;

/// The first port a client tries for the inbox its replies come to.
pub const FIRST_REPLY_PORT: u32 = 20;

/// Whether a message from a compute cluster stamped with boot epoch `epoch` and
/// run `run` comes from the program the manifest booted that cluster with (root's),
/// the cluster's `ClusterInfo::system_epoch` being `system_epoch`.
pub fn is_system_run(system_epoch: u32, epoch: u32, run: u32) -> bool {
    system_epoch != 0 && epoch == system_epoch && run == 1
}

/// Who the senders of a server's requests are, for a server that acts for its
/// callers' users: root for the programs of I/O clusters and the program the
/// manifest booted a compute cluster with, else the user the process server names
/// for the sender's run (asked once a run, kept until the node's next run asks).
pub struct Identities {
    board: nanvix_sys::cluster::Clusters,
    compute: Vec<usize>,
    /// Where the process server serves.
    process_server: u32,
    processes: Option<ProcessClient>,
    /// The compute clusters' senders asked about, one per node (its latest run):
    /// (node, epoch, run) and the user (`None`: the process server knows no such
    /// process).
    known: alloc::collections::BTreeMap<u32, (SenderRun, Option<u32>)>,
}

/// A sender's node, boot epoch and run: one process (or program of the system).
type SenderRun = (u32, u32, u32);

impl Identities {
    /// Identities asked of the process server at `process_server` (a node).
    pub fn new(process_server: u32) -> Identities {
        let board = nanvix_sys::cluster::Clusters::read();
        Identities {
            compute: board.compute(),
            board,
            process_server,
            processes: None,
            known: alloc::collections::BTreeMap::new(),
        }
    }

    /// The user the sender of a message with `header` runs as; `None` for a
    /// sender that may do nothing (the process server knows no such process, or
    /// cannot be asked now).
    pub fn user_of(&mut self, header: &MessageHeader) -> Option<u32> {
        let sender = (header.source_node, header.source_epoch, header.source_run);
        let cluster = self.board.of_node(header.source_node)?;
        if !self.compute.contains(&cluster) {
            return Some(0);
        }
        let info = nanvix_sys::cluster::info(cluster).ok()?;
        if is_system_run(info.system_epoch, header.source_epoch, header.source_run) {
            return Some(0);
        }
        if let Some((known, user)) = self.known.get(&header.source_node)
            && *known == sender
        {
            return *user;
        }
        if self.processes.is_none() {
            self.processes = ProcessClient::connect(self.process_server).ok();
        }
        let user = match self.processes.as_mut()?.user_of(header) {
            Ok(user) => Some(user),
            Err(ProcessCallError::Refused(_)) => None,
            // Not asked: try again at its next request.
            Err(ProcessCallError::Call(_)) => return None,
        };
        self.known.insert(header.source_node, (sender, user));
        user
    }
}

/// The process server's requests, one variant per operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessRequest {
    /// Starts `program` with `arguments` on a free compute cluster; with `wait`,
    /// when none is free, as soon as one is (the reply comes then). `program` is
    /// one of the image's programs, or, on a server with a search path (`path=`),
    /// an absolute path or a name looked up in that path, whose file it runs.
    Spawn {
        program: String,
        arguments: Vec<String>,
        wait: bool,
        /// The user it runs as (only root may name another than its own); `None`:
        /// the caller's.
        user: Option<u32>,
    },
    /// Waits until process `pid` (which the caller's node spawned) ends.
    Wait { pid: u32 },
    /// Sends `signal` (SIGINT, SIGTERM or SIGKILL) to process `pid`.
    Kill { pid: u32, signal: u32 },
    /// The processes that run now, from pid `from` on, as many as fit a reply.
    List { from: u32 },
    /// Which process the caller is, and its parent.
    Identify,
    /// Which user a message stamped with NoC node `node`, boot epoch `epoch` and
    /// run `run` comes from (a server asks, to check what the sender may do).
    UserOf { node: u32, epoch: u32, run: u32 },
    /// From a program of the system (the server's own cluster's, or one the manifest
    /// started; not a spawned process): ends every process and
    /// stops the server.
    Stop,
    /// How the calling process takes `signal` (SIGINT or SIGTERM) from now on.
    Handle { signal: u32, action: SignalAction },
}

/// What a process does with a signal it may catch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignalAction {
    /// The default: the process ends (status 128 + the signal).
    Default,
    /// Nothing happens.
    Ignore,
    /// The server sends a notice (`nanvix_sys::signal`) to `port` of the caller's
    /// node, where its signal thread runs the handler.
    Catch { port: u32 },
}

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Termination {
    /// It ended by itself with this exit status.
    Exited(i32),
    /// A signal ended it (a kill, or a signal's default action).
    Signaled(u32),
    /// A fault of one of its threads ended it: the `FaultKind` code, and the
    /// status the cluster ended with.
    Faulted { fault: u32, status: i32 },
    /// Its cluster died under it (the kernel crashed, or was killed from outside
    /// the board) by this host signal.
    ClusterDied { signal: u32 },
}

impl Termination {
    /// The status a shell shows: the exit status, or 128 + the signal (for a fault,
    /// the status the fault gave).
    pub fn status(&self) -> i32 {
        match *self {
            Termination::Exited(status) => status,
            Termination::Signaled(signal) | Termination::ClusterDied { signal } => {
                128 + signal as i32
            }
            Termination::Faulted { status, .. } => status,
        }
    }

    /// The fault that ended it, if one did.
    pub fn fault(&self) -> Option<FaultKind> {
        match *self {
            Termination::Faulted { fault, .. } => FaultKind::from_code(fault),
            _ => None,
        }
    }
}

impl core::fmt::Display for Termination {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Termination::Exited(status) => write!(formatter, "exited with status {status}"),
            Termination::Signaled(number) => match signal::name(number) {
                Some(name) => write!(formatter, "killed by {name}"),
                None => write!(formatter, "killed by signal {number}"),
            },
            Termination::Faulted { .. } => write!(
                formatter,
                "killed by a fault: {}",
                self.fault().map_or("unknown fault", FaultKind::text)
            ),
            Termination::ClusterDied { signal } => {
                write!(formatter, "its cluster died (host signal {signal})")
            }
        }
    }
}

/// A process as [`ProcessReply::Processes`] lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEntry {
    /// Its number.
    pub pid: u32,
    /// The index of its compute cluster.
    pub cluster: u32,
    /// The node that spawned it.
    pub parent_node: u32,
    /// The user it runs as.
    pub user: u32,
    /// Whether the board has started it (its cluster up, its run begun).
    pub running: bool,
}

/// The process server's replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessReply {
    /// The program starts as process `pid`.
    Spawned { pid: u32 },
    /// Process `pid` ended, as `termination` says.
    Ended { pid: u32, termination: Termination },
    /// The signal was sent (a process that ends by it does so at once; its waiter
    /// learns its end).
    Signaled,
    /// The caller takes the signal as it asked from now on.
    Handling,
    /// Processes that run now, by pid; `more` when others with larger pids did not
    /// fit the reply (ask again from the last pid + 1).
    Processes {
        entries: Vec<ProcessEntry>,
        more: bool,
    },
    /// The caller's process and its parent's (`None`: not a spawned process, or a
    /// parent that is not one).
    Identity {
        pid: Option<u32>,
        parent: Option<u32>,
        user: u32,
    },
    /// The sender [`ProcessRequest::UserOf`] asked about runs as `user`.
    User { user: u32 },
    /// Every process was ended; the server stops.
    Stopped,
    /// The request was refused.
    Refused(ProcessError),
}

/// Why the process server refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessError {
    /// The image has no such program, or its name or arguments are not valid.
    NoSuchProgram,
    /// Every compute cluster is busy: try again later.
    NoFreeCluster,
    /// No such process (or it was waited for already).
    NoSuchProcess,
    /// Another node spawned the process.
    NotYours,
    /// Another call waits for the process already.
    Waited,
    /// Only the system's programs (not a spawned process) send this (`Stop`).
    NotInternal,
    /// The caller's user may not: another user's process, or another user to run as.
    NotPermitted,
    /// This system has no such signal (it knows SIGINT, SIGTERM and SIGKILL).
    NoSuchSignal,
    /// The signal cannot be caught or ignored (SIGKILL).
    NotCatchable,
    /// The user's processes hold as many compute clusters as its quota allows.
    OverQuota,
    /// The program's file is not one the user may execute (or a directory on its
    /// way may not be searched).
    NotExecutable,
    /// The program's file is not a program this board can run.
    NotAProgram,
}

impl core::fmt::Display for ProcessError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            ProcessError::NoSuchProgram => "no such program",
            ProcessError::NoFreeCluster => "no free compute cluster",
            ProcessError::NoSuchProcess => "no such process",
            ProcessError::NotYours => "another node spawned the process",
            ProcessError::Waited => "another call waits for the process",
            ProcessError::NotInternal => {
                "only the system's programs, not a spawned process, send this"
            }
            ProcessError::NotPermitted => "not permitted to this user",
            ProcessError::NoSuchSignal => "no such signal",
            ProcessError::NotCatchable => "the signal cannot be caught or ignored",
            ProcessError::OverQuota => "the user's quota of compute clusters is used up",
            ProcessError::NotExecutable => "the user may not execute the program's file",
            ProcessError::NotAProgram => "the file is not a program this board can run",
        })
    }
}

/// The process server's protocol.
pub struct ProcessProtocol;

impl Protocol for ProcessProtocol {
    const NAME: &'static str = "process";
    const SUMMARY: &'static str = "Processes: one program on one compute cluster. `Spawn` runs \
        one of the image's programs on a free compute cluster, an idle warm one first (it stays \
        on between processes), else one it powers on, and numbers the process (pids count from \
        1); the server learns its end from the board (its cluster idle, off or dead in the \
        process' boot epoch and run, with the status and the way it ended: a `Termination`, \
        exited, killed by a signal, killed by a fault of one of its threads, or its cluster \
        died), and the cluster is free again. Only the node that spawned a process waits for \
        it; root (user 0, which programs the manifest starts run as) signals any process, \
        other users their own, and a spawned process runs as its spawner's user unless root \
        names another. A server started with `path=DIRECTORIES` (`:`-separated, `/bin` for \
        example) runs programs from the file system: a `program` with a `/` is an absolute \
        path, any other name is looked up in each directory in turn, as `execvp` does; the \
        user the process runs as must be allowed to search each directory on the way and \
        to execute the file, which the server reads from the vfs server and stages with the \
        board (`program_stage`: the kernel checks it is a program and names it by its \
        bytes' hash), then runs. Without `path=`, `program` names one of the image's \
        programs. Signals: SIGKILL (9) ends a process at once; SIGINT (2) and SIGTERM \
        (15) end it too by default (status 128 + the signal), unless it asked to ignore them \
        or to catch them (`Handle`): then the server sends a notice (`nanvix_sys::signal`, the \
        signal as 4 little-endian bytes) to the port it named on its node, where its signal \
        thread runs its handler; a notice that finds that port full is dropped, as a \
        standard POSIX signal already pending is not queued twice. A `Wait` is answered \
        when the process ends, and other requests are served meanwhile. The server \
        (`servers/process`, program `process-server`) serves on port 2 (`PROCESS_PORT`) of \
        its node, which must be on an I/O cluster. A refusal is \
        `ProcessReply::Refused(ProcessError)`, and changes nothing.";
    const TABLE: &'static [Operation] = &[
        Operation {
            request: "Spawn { program, arguments, wait, user }",
            reply: "Spawned { pid }",
            summary: "starts `program` with `arguments` on a free compute cluster; with `wait`, when none is free, as soon as one is (spawns waiting start in the order they came)",
            errors: &[
                (
                    "NoSuchProgram",
                    "no such program (in the image, or with `path=` in the file system), or the name or arguments are not valid",
                ),
                (
                    "NoFreeCluster",
                    "every compute cluster is busy (and `wait` is false)",
                ),
                (
                    "NotPermitted",
                    "a user other than root names another user to run as",
                ),
                (
                    "OverQuota",
                    "the user's processes hold as many compute clusters as its quota allows (the server's `quotas=USER:CLUSTERS,...` argument; root has none), `wait` or not",
                ),
                (
                    "NotExecutable",
                    "(with `path=`) the user may not search a directory on the way, or execute the file",
                ),
                (
                    "NotAProgram",
                    "(with `path=`) the file is not a program the board can run",
                ),
            ],
        },
        Operation {
            request: "Wait { pid }",
            reply: "Ended { pid, termination }",
            summary: "answers when process `pid` ended (at once if it has), and forgets it",
            errors: &[
                ("NoSuchProcess", "no such process, or it was waited for"),
                ("NotYours", "another node spawned it"),
                ("Waited", "another call waits for it"),
            ],
        },
        Operation {
            request: "Kill { pid, signal }",
            reply: "Signaled",
            summary: "sends `signal` to process `pid`: SIGKILL ends it at once (its waiter gets `Signaled(9)`); SIGINT and SIGTERM end it the same way unless it ignores or catches them; root may signal any process, other users their own",
            errors: &[
                ("NoSuchProcess", "no such process, or it ended"),
                (
                    "NotPermitted",
                    "it runs as another user, and the caller's is not root",
                ),
                ("NoSuchSignal", "not SIGINT, SIGTERM or SIGKILL"),
            ],
        },
        Operation {
            request: "List { from }",
            reply: "Processes { entries, more }",
            summary: "the processes that run now from pid `from` on (pid, cluster, parent node, whether up yet), as many as fit a reply; `more` when there are others",
            errors: &[],
        },
        Operation {
            request: "Identify",
            reply: "Identity { pid, parent, user }",
            summary: "the process running on the caller's cluster, the process that spawned it (`None` for programs the manifest started), and the caller's user (root, 0, for programs the manifest started)",
            errors: &[(
                "NoSuchProcess",
                "the caller is neither a program of the system nor a process this server knows (one an earlier incarnation of it spawned)",
            )],
        },
        Operation {
            request: "UserOf { node, epoch, run }",
            reply: "User { user }",
            summary: "the user a message stamped with `node`, boot epoch `epoch` and run `run` (`MessageHeader`'s source fields) comes from: root for the programs of I/O clusters and the program the manifest booted a compute cluster with (run 1 of that boot's epoch), else the user of the process that run is, even ended, until it is waited for",
            errors: &[(
                "NoSuchProcess",
                "no such sender: no such node, a run no process of this server was, or one waited for already",
            )],
        },
        Operation {
            request: "Stop",
            reply: "Stopped",
            summary: "ends every process (their clusters powered off) and stops the server, whose program then ends",
            errors: &[(
                "NotInternal",
                "the caller is a spawned process (only programs of the server's cluster or the manifest's may stop it)",
            )],
        },
        Operation {
            request: "Handle { signal, action }",
            reply: "Handling",
            summary: "the calling process takes `signal` by `action` from now on: `Default` (it ends), `Ignore`, or `Catch { port }` (a notice to that port of its node)",
            errors: &[
                ("NoSuchProcess", "the caller is not a process"),
                ("NoSuchSignal", "not SIGINT, SIGTERM or SIGKILL"),
                ("NotCatchable", "SIGKILL"),
            ],
        },
    ];
    type Request = ProcessRequest;
    type Reply = ProcessReply;
}

/// Why a process call failed: the process server refused it, or the call itself failed.
pub type ProcessCallError = ServerCallError<ProcessError>;

/// A typed client of the process server on `node`.
pub struct ProcessClient {
    client: Client<ProcessProtocol>,
}

impl ProcessClient {
    /// A client of the process server on `node` (at [`PROCESS_PORT`]).
    pub fn connect(node: u32) -> Result<ProcessClient, Errno> {
        Ok(ProcessClient {
            client: Client::connect(node, PROCESS_PORT, FIRST_REPLY_PORT)?,
        })
    }

    /// Starts `program` with `arguments` on a free compute cluster; its pid.
    pub fn spawn(&mut self, program: &str, arguments: &[&str]) -> Result<u32, ProcessCallError> {
        self.spawn_with(program, arguments, false, None)
    }

    /// [`spawn`](Self::spawn), waiting for a free compute cluster if none is.
    pub fn spawn_waiting(
        &mut self,
        program: &str,
        arguments: &[&str],
    ) -> Result<u32, ProcessCallError> {
        self.spawn_with(program, arguments, true, None)
    }

    /// Starts `program` with `arguments` on a free compute cluster (with `wait`,
    /// as soon as one is), as `user` (`None`: the caller's; another than the
    /// caller's own is root's to name); its pid.
    pub fn spawn_with(
        &mut self,
        program: &str,
        arguments: &[&str],
        wait: bool,
        user: Option<u32>,
    ) -> Result<u32, ProcessCallError> {
        let request = ProcessRequest::Spawn {
            program: program.to_string(),
            arguments: arguments
                .iter()
                .map(|argument| argument.to_string())
                .collect(),
            wait,
            user,
        };
        match self.call(&request)? {
            ProcessReply::Spawned { pid } => Ok(pid),
            other => Err(unexpected(other)),
        }
    }

    /// Waits until process `pid` ends; how it ended.
    pub fn wait(&mut self, pid: u32) -> Result<Termination, ProcessCallError> {
        match self.call(&ProcessRequest::Wait { pid })? {
            ProcessReply::Ended { termination, .. } => Ok(termination),
            other => Err(unexpected(other)),
        }
    }

    /// Sends `signal` to process `pid`.
    pub fn kill(&mut self, pid: u32, signal: u32) -> Result<(), ProcessCallError> {
        match self.call(&ProcessRequest::Kill { pid, signal })? {
            ProcessReply::Signaled => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Tells the server how the calling process takes `signal` from now on.
    pub fn handle(&mut self, signal: u32, action: SignalAction) -> Result<(), ProcessCallError> {
        match self.call(&ProcessRequest::Handle { signal, action })? {
            ProcessReply::Handling => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Catches `signal` with `handler`: starts the program's signal thread (trusting
    /// the server's node `server_node`), installs the handler, and tells the server.
    pub fn catch(
        &mut self,
        server_node: u32,
        signal: u32,
        handler: signal::Handler,
    ) -> Result<(), ProcessCallError> {
        let port = signal::listen(server_node).map_err(CallError::Mailbox)?;
        signal::set_handler(signal, Some(handler)).map_err(CallError::Mailbox)?;
        self.handle(signal, SignalAction::Catch { port })
    }

    /// Ignores `signal` (SIGINT or SIGTERM) from now on.
    pub fn ignore(&mut self, signal: u32) -> Result<(), ProcessCallError> {
        self.handle(signal, SignalAction::Ignore)
    }

    /// The processes that run now, by pid (as many calls as it takes).
    pub fn list(&mut self) -> Result<Vec<ProcessEntry>, ProcessCallError> {
        let mut all = Vec::new();
        let mut from = 0;
        loop {
            match self.call(&ProcessRequest::List { from })? {
                ProcessReply::Processes { entries, more } => {
                    from = entries
                        .last()
                        .map_or(from, |entry| entry.pid.saturating_add(1));
                    all.extend(entries);
                    if !more {
                        return Ok(all);
                    }
                }
                other => return Err(unexpected(other)),
            }
        }
    }

    /// The caller's process and its parent's (`None` for programs the manifest
    /// started), and its user.
    pub fn identify(&mut self) -> Result<(Option<u32>, Option<u32>, u32), ProcessCallError> {
        match self.call(&ProcessRequest::Identify)? {
            ProcessReply::Identity { pid, parent, user } => Ok((pid, parent, user)),
            other => Err(unexpected(other)),
        }
    }

    /// The user a message with `header`'s source stamps comes from.
    pub fn user_of(&mut self, header: &MessageHeader) -> Result<u32, ProcessCallError> {
        let request = ProcessRequest::UserOf {
            node: header.source_node,
            epoch: header.source_epoch,
            run: header.source_run,
        };
        match self.call(&request)? {
            ProcessReply::User { user } => Ok(user),
            other => Err(unexpected(other)),
        }
    }

    /// [`spawn`](Self::spawn) as `user` (root only, for another user than its own).
    pub fn spawn_as(
        &mut self,
        user: u32,
        program: &str,
        arguments: &[&str],
    ) -> Result<u32, ProcessCallError> {
        self.spawn_with(program, arguments, false, Some(user))
    }

    /// Ends every process and stops the server (from the system's programs only: not
    /// from a spawned process).
    pub fn stop(&mut self) -> Result<(), ProcessCallError> {
        match self.call(&ProcessRequest::Stop)? {
            ProcessReply::Stopped => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Sends `request` as it is and returns the reply.
    pub fn call(&mut self, request: &ProcessRequest) -> Result<ProcessReply, ProcessCallError> {
        Ok(self.client.call(request)?)
    }

    /// Closes the client.
    pub fn close(self) -> Result<(), Errno> {
        self.client.close()
    }
}

/// A refusal as an error; any other reply than the one asked for is a bad reply.
fn unexpected(reply: ProcessReply) -> ProcessCallError {
    match reply {
        ProcessReply::Refused(error) => ProcessCallError::Refused(error),
        _ => ProcessCallError::Call(CallError::Rpc(nanvix_rpc::RpcError::BadReply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanvix_rpc::{MESSAGE_BYTES, encode_reply};

    fn operation_of(request: &ProcessRequest) -> usize {
        match request {
            ProcessRequest::Spawn { .. } => 0,
            ProcessRequest::Wait { .. } => 1,
            ProcessRequest::Kill { .. } => 2,
            ProcessRequest::List { .. } => 3,
            ProcessRequest::Identify => 4,
            ProcessRequest::UserOf { .. } => 5,
            ProcessRequest::Stop => 6,
            ProcessRequest::Handle { .. } => 7,
        }
    }

    fn error_name(error: ProcessError) -> &'static str {
        match error {
            ProcessError::NoSuchProgram => "NoSuchProgram",
            ProcessError::NoFreeCluster => "NoFreeCluster",
            ProcessError::NoSuchProcess => "NoSuchProcess",
            ProcessError::NotYours => "NotYours",
            ProcessError::Waited => "Waited",
            ProcessError::NotInternal => "NotInternal",
            ProcessError::NotPermitted => "NotPermitted",
            ProcessError::NoSuchSignal => "NoSuchSignal",
            ProcessError::NotCatchable => "NotCatchable",
            ProcessError::OverQuota => "OverQuota",
            ProcessError::NotExecutable => "NotExecutable",
            ProcessError::NotAProgram => "NotAProgram",
        }
    }

    #[test]
    fn the_table_is_the_request_enum() {
        let examples = [
            ProcessRequest::Spawn {
                program: "x".into(),
                arguments: Vec::new(),
                wait: false,
                user: None,
            },
            ProcessRequest::Wait { pid: 1 },
            ProcessRequest::Kill { pid: 1, signal: 9 },
            ProcessRequest::List { from: 0 },
            ProcessRequest::Identify,
            ProcessRequest::UserOf {
                node: u32::MAX,
                epoch: u32::MAX,
                run: u32::MAX,
            },
            ProcessRequest::Stop,
            ProcessRequest::Handle {
                signal: 2,
                action: SignalAction::Ignore,
            },
        ];
        for (number, example) in examples.iter().enumerate() {
            assert_eq!(operation_of(example), number);
        }
        let errors = [
            ProcessError::NoSuchProgram,
            ProcessError::NoFreeCluster,
            ProcessError::NoSuchProcess,
            ProcessError::NotYours,
            ProcessError::Waited,
            ProcessError::NotInternal,
            ProcessError::NotPermitted,
            ProcessError::NoSuchSignal,
            ProcessError::NotCatchable,
            ProcessError::OverQuota,
            ProcessError::NotExecutable,
            ProcessError::NotAProgram,
        ];
        nanvix_rpc::check_table::<ProcessProtocol>(&examples, &errors.map(error_name)).unwrap();
    }

    #[test]
    fn a_page_of_five_fits_a_reply_whatever_its_numbers() {
        let entry = ProcessEntry {
            pid: u32::MAX,
            cluster: u32::MAX,
            parent_node: u32::MAX,
            user: u32::MAX,
            running: true,
        };
        let mut buffer = [0; MESSAGE_BYTES];
        let reply = ProcessReply::Processes {
            entries: alloc::vec![entry; 5],
            more: true,
        };
        assert!(encode_reply::<ProcessProtocol>(u32::MAX, &Ok(reply), &mut buffer).is_ok());
    }
}
