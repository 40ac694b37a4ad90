//! The process server program: serves [`ProcessProtocol`] on [`PROCESS_PORT`] of its
//! node, on an I/O cluster.
//!
//! A watcher thread waits for the board's state generation to move
//! (`cluster_wait`), reads the compute clusters' states, and when one changed
//! answers the waits of the processes that ended and starts the spawns that wait
//! for a cluster itself, under the lock the server's thread takes for each
//! request (one hop less than telling the server's thread). With `path=DIRECTORIES`
//! it runs programs from the file system ([`files`]). Prints
//! `process-server: serving on node N port P` once it serves.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod files;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use libnanvix::abi::{CLUSTER_ON, Errno};
use libnanvix::cluster::Clusters;
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::signal::{self, SIGKILL};
use libnanvix::sync::Mutex;
use libnanvix::{cluster, println, process, thread};
use nanvix_process_api::{
    PROCESS_PORT, ProcessClient, ProcessError, ProcessProtocol, ProcessReply, ProcessRequest,
};
use nanvix_rpc::transport::{Handled, Replies, ReplyTo, serve};
use process_server::table::{self, ClusterView, Delivery, ROOT, Table};

/// Longest the watcher waits for a cluster state change before it looks anyway,
/// in nanoseconds.
const WATCH_LIMIT: u64 = 1_000_000_000;

libnanvix::entry!(main);

/// What the board's registers say of `clusters` now.
fn views(clusters: &[usize]) -> Vec<ClusterView> {
    clusters.iter().filter_map(|index| view(*index)).collect()
}

/// Compute cluster `index` as the board's registers show it now.
fn view(index: usize) -> Option<ClusterView> {
    let info = cluster::info(index).ok()?;
    Some(ClusterView {
        index: info.index as usize,
        state: info.state,
        epoch: info.epoch,
        status: info.status,
        ending: info.ending,
        fault: info.fault,
        run: info.run,
        idle: info.idle != 0,
        system_epoch: info.system_epoch,
    })
}

/// The user a message from `node` stamped with `epoch` and `run` comes from: root
/// on an I/O cluster (the system's servers), else as [`Table::user_of`] says.
fn user_of(
    table: &Table,
    (board, compute): (&Clusters, &[usize]),
    node: u32,
    epoch: u32,
    run: u32,
) -> Option<u32> {
    let cluster = board.of_node(node)?;
    if !compute.contains(&cluster) {
        return Some(ROOT);
    }
    table.user_of(&view(cluster)?, epoch, run)
}

/// What the server's thread and its watcher share, under one lock.
pub(crate) struct State {
    table: Table,
    /// Spawns that wait for a free cluster, in the order they came.
    waiting: VecDeque<Waiting>,
}

/// Watches `clusters`; whenever their states, epochs or runs moved (a warm cluster
/// going idle moves only its idle flag), answers the waits of the processes that
/// ended and starts the spawns that wait for a cluster.
fn watch(clusters: Vec<usize>, state: Arc<Mutex<State>>) {
    let mut replies = Replies::default();
    let mut seen: Vec<(u32, u32, u32, bool)> = Vec::new();
    // The generation first, then the states: a change after the look moves it.
    let mut generation = cluster::wait_for_change(0, 0);
    loop {
        let views = views(&clusters);
        let now: Vec<(u32, u32, u32, bool)> = views
            .iter()
            .map(|view| (view.state, view.epoch, view.run, view.idle))
            .collect();
        if now != seen {
            seen = now;
            let Ok(mut state) = state.lock() else {
                println!("process-server: the watcher cannot take the lock");
                return;
            };
            changed(&mut state, &mut replies, &views);
        }
        generation = cluster::wait_for_change(generation, WATCH_LIMIT);
    }
}

/// Clusters changed as `views` show: answers the waits of the processes that ended,
/// and starts the spawns that wait for a cluster, in the order they came.
fn changed(state: &mut State, replies: &mut Replies, views: &[ClusterView]) {
    answer_ended(&mut state.table, replies, views);
    while let Some(next) = state.waiting.front() {
        let started = spawn(
            &mut state.table,
            views,
            (&next.program, &next.arguments),
            (next.parent_node, next.user),
        );
        let reply = match started {
            Err(ProcessError::NoFreeCluster) => break,
            Ok(pid) => ProcessReply::Spawned { pid },
            Err(error) => ProcessReply::Refused(error),
        };
        replies.send::<ProcessProtocol>(next.to, Ok(reply));
        state.waiting.pop_front();
    }
}

/// A spawn that waits for a free compute cluster (or, from the file system, for
/// the loader).
pub(crate) struct Waiting {
    pub(crate) program: String,
    pub(crate) arguments: Vec<String>,
    pub(crate) parent_node: u32,
    pub(crate) user: u32,
    pub(crate) to: ReplyTo,
}

/// Spawns `program` for `parent_node`, to run as `user`, on the first free compute
/// cluster `views` show that takes it (an idle warm one first). The caller noted
/// the processes that ended (`answer_ended`), so their clusters count as free; a
/// cluster a spawn just took is held by its process, so `views` serve several.
fn spawn(
    table: &mut Table,
    views: &[ClusterView],
    (program, arguments): (&str, &[String]),
    (parent_node, user): (u32, u32),
) -> Result<u32, ProcessError> {
    if table.over_quota(user) {
        return Err(ProcessError::OverQuota);
    }
    let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
    let free: Vec<ClusterView> = table.free(views).copied().collect();
    for view in free {
        match cluster::power_on(view.index, program, &arguments) {
            Ok(()) => return Ok(table.add(&view, parent_node, user)),
            // Another requester took it since the look.
            Err(Errno::Busy) => continue,
            Err(_) => return Err(ProcessError::NoSuchProgram),
        }
    }
    Err(ProcessError::NoFreeCluster)
}

/// Starts `load` as [`spawn`] does, once the processes that ended are noted; the
/// reply, or `None` when it waits for a free cluster (`wait`): it is queued then.
pub(crate) fn start_or_wait(
    state: &mut State,
    replies: &mut Replies,
    clusters: &[usize],
    load: Waiting,
    wait: bool,
) -> Option<ProcessReply> {
    let views = views(clusters);
    answer_ended(&mut state.table, replies, &views);
    let started = spawn(
        &mut state.table,
        &views,
        (&load.program, &load.arguments),
        (load.parent_node, load.user),
    );
    match started {
        Ok(pid) => Some(ProcessReply::Spawned { pid }),
        Err(ProcessError::NoFreeCluster) if wait => {
            state.waiting.push_back(load);
            None
        }
        Err(error) => Some(ProcessReply::Refused(error)),
    }
}

/// Answers the waits of the processes `views` show ended.
fn answer_ended(table: &mut Table, replies: &mut Replies, views: &[ClusterView]) {
    for (waiter, pid, termination) in table.update(views) {
        replies.send::<ProcessProtocol>(waiter, Ok(ProcessReply::Ended { pid, termination }));
    }
}

/// Carries a signal out: powers the process' cluster off, or sends it a notice (a
/// notice that finds its port full is dropped: the signal is pending there already).
fn deliver(delivery: Delivery) -> Result<(), ProcessError> {
    match delivery {
        Delivery::PowerOff { cluster, signal } => {
            cluster::power_off(cluster, signal).map_err(|_| ProcessError::NoSuchProcess)
        }
        Delivery::Notify { node, port, signal } => {
            let outbox = Outbox::open(node, port).map_err(|_| ProcessError::NoSuchProcess)?;
            let sent = outbox.try_write(&signal::encode_notice(signal));
            let _ = outbox.close();
            match sent {
                Ok(()) | Err(Errno::Again) => Ok(()),
                Err(_) => Err(ProcessError::NoSuchProcess),
            }
        }
        Delivery::Ignored => Ok(()),
    }
}

fn main() -> i32 {
    let inbox = match Inbox::create(PROCESS_PORT) {
        Ok(inbox) => inbox,
        Err(errno) => {
            println!("process-server: cannot create port {PROCESS_PORT}: {errno}");
            return 1;
        }
    };
    // At shutdown it ends every process first, as a `Stop` from its cluster does.
    let stop_self = |_| {
        if let Ok(mut own) = ProcessClient::connect(process::node()) {
            let _ = own.stop();
        }
    };
    if let Err(errno) = signal::follow_supervisor(stop_self) {
        println!("process-server: cannot follow its supervisor: {errno}");
    }
    let board = Clusters::read();
    let own_cluster = board.of_node(process::node());
    let clusters = board.compute();
    let mut table = Table::new();
    match table::parse_quotas(process::argument("quotas").unwrap_or("")) {
        Ok(quotas) => table.set_quotas(quotas),
        Err(problem) => {
            println!("process-server: quotas={problem}");
            return 2;
        }
    }
    let state = match Mutex::new(State {
        table,
        waiting: VecDeque::new(),
    }) {
        Ok(state) => Arc::new(state),
        Err(errno) => {
            println!("process-server: cannot create its lock: {errno}");
            return 1;
        }
    };
    let (watched, shared) = (clusters.clone(), Arc::clone(&state));
    if let Err(errno) = thread::spawn(move || watch(watched, shared)) {
        println!("process-server: cannot start the watcher: {errno}");
        return 1;
    }
    let loader = match process::argument("path") {
        Some(search) => match files::Loader::start(search, Arc::clone(&state), clusters.clone()) {
            Ok(loader) => Some(loader),
            Err(errno) => {
                println!("process-server: cannot start its loader: {errno}");
                return 1;
            }
        },
        None => None,
    };
    let own_node = process::node();
    println!("process-server: serving on node {own_node} port {PROCESS_PORT}");
    let served = serve::<ProcessProtocol>(
        &inbox,
        |sender, to: ReplyTo, request, replies: &mut Replies| {
            let Ok(mut state) = state.lock() else {
                println!("process-server: cannot take its lock");
                return Handled::Stop;
            };
            let table = &mut state.table;
            let caller = sender.source_node;
            let caller_cluster = board.of_node(caller);
            let known = (&board, clusters.as_slice());
            // Nobody: a sender this server cannot name (an orphan of its earlier
            // incarnation) may not spawn or signal.
            let caller_user = user_of(table, known, caller, sender.source_epoch, sender.source_run);
            let reply = match request {
                ProcessRequest::Spawn { user, .. }
                    if caller_user.is_none()
                        || user.is_some_and(|user| {
                            Some(user) != caller_user && caller_user != Some(ROOT)
                        }) =>
                {
                    ProcessReply::Refused(ProcessError::NotPermitted)
                }
                ProcessRequest::Spawn {
                    program,
                    arguments,
                    wait,
                    user,
                } => {
                    let user = user.or(caller_user).unwrap_or(ROOT);
                    let load = Waiting {
                        program,
                        arguments,
                        parent_node: caller,
                        user,
                        to,
                    };
                    if let Some(loader) = &loader {
                        // Looked up and read from the file system by the loader,
                        // so that this thread goes on serving (the vfs server asks
                        // it who its callers are meanwhile).
                        return match loader.push(load, wait) {
                            Ok(()) => Handled::Later,
                            Err(errno) => {
                                println!(
                                    "process-server: cannot hand a spawn to its loader: {errno}"
                                );
                                Handled::Reply(ProcessReply::Refused(ProcessError::NoSuchProgram))
                            }
                        };
                    }
                    match start_or_wait(&mut state, replies, &clusters, load, wait) {
                        Some(reply) => reply,
                        None => return Handled::Later,
                    }
                }
                ProcessRequest::Wait { pid } => match table.wait(pid, caller, to) {
                    Ok(Some(termination)) => ProcessReply::Ended { pid, termination },
                    Ok(None) => return Handled::Later,
                    Err(error) => ProcessReply::Refused(error),
                },
                ProcessRequest::Kill { .. } if caller_user.is_none() => {
                    ProcessReply::Refused(ProcessError::NotPermitted)
                }
                ProcessRequest::Kill { pid, signal } => {
                    match table
                        .kill(pid, signal, caller_user.unwrap_or(ROOT))
                        .map(deliver)
                    {
                        Ok(Ok(())) => ProcessReply::Signaled,
                        Ok(Err(error)) | Err(error) => ProcessReply::Refused(error),
                    }
                }
                ProcessRequest::Handle { signal, action } => {
                    match table.handle(caller_cluster, caller, signal, action) {
                        Ok(()) => ProcessReply::Handling,
                        Err(error) => ProcessReply::Refused(error),
                    }
                }
                ProcessRequest::List { from } => {
                    let (entries, more) = table.list(from);
                    ProcessReply::Processes { entries, more }
                }
                ProcessRequest::Stop => {
                    // The system's own programs (its cluster's, or any the manifest
                    // started) may; a spawned process may not.
                    let spawned = caller_cluster
                        .is_some_and(|cluster| table.identify(cluster, |_| None).0.is_some());
                    if caller_cluster != own_cluster && spawned {
                        return Handled::Reply(ProcessReply::Refused(ProcessError::NotInternal));
                    }
                    // Its processes' clusters, and the idle warm ones (not the
                    // programs the manifest started on compute clusters).
                    let live = table.live_clusters();
                    for view in views(&clusters) {
                        if view.state == CLUSTER_ON && (view.idle || live.contains(&view.index)) {
                            let _ = cluster::power_off(view.index, SIGKILL);
                        }
                    }
                    replies.send::<ProcessProtocol>(to, Ok(ProcessReply::Stopped));
                    return Handled::Stop;
                }
                ProcessRequest::Identify => match (caller_cluster, caller_user) {
                    (Some(index), Some(user)) => {
                        let (pid, parent) = table.identify(index, |node| board.of_node(node));
                        ProcessReply::Identity { pid, parent, user }
                    }
                    _ => ProcessReply::Refused(ProcessError::NoSuchProcess),
                },
                ProcessRequest::UserOf { node, epoch, run } => {
                    match user_of(table, known, node, epoch, run) {
                        Some(user) => ProcessReply::User { user },
                        None => ProcessReply::Refused(ProcessError::NoSuchProcess),
                    }
                }
            };
            Handled::Reply(reply)
        },
    );
    match served {
        Ok(counters) => {
            println!("process-server: stopped: {counters:?}");
            0
        }
        Err(errno) => {
            println!("process-server: reading port {PROCESS_PORT}: {errno}");
            1
        }
    }
}
