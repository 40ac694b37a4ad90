//! The process server program: serves [`ProcessProtocol`] on [`PROCESS_PORT`] of its
//! node, on an I/O cluster.
//!
//! A watcher thread waits for the board's state generation to move
//! (`cluster_wait`), reads the compute clusters' states, and tells the server (a
//! `Changed` request from its own node) when one changed; the server then answers
//! the waits of the processes that ended. Prints
//! `process-server: serving on node N port P` once it serves.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use libnanvix::abi::{CLUSTER_ON, Errno};
use libnanvix::cluster::Clusters;
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::signal::{self, SIGKILL};
use libnanvix::{cluster, println, process, thread};
use nanvix_process_api::{
    PROCESS_PORT, ProcessClient, ProcessError, ProcessProtocol, ProcessReply, ProcessRequest,
};
use nanvix_rpc::transport::{Handled, Replies, ReplyTo, serve};
use nanvix_rpc::{MESSAGE_BYTES, RequestHeader, encode_request};
use process_server::table::{ClusterView, Delivery, ROOT, Table};

/// Longest the watcher waits for a cluster state change before it looks anyway,
/// in nanoseconds.
const WATCH_LIMIT: u64 = 1_000_000_000;

libnanvix::entry!(main);

/// What the board's registers say of `clusters` now.
fn views(clusters: &[usize]) -> Vec<ClusterView> {
    clusters
        .iter()
        .filter_map(|index| cluster::info(*index).ok())
        .map(|info| ClusterView {
            index: info.index as usize,
            state: info.state,
            epoch: info.epoch,
            status: info.status,
            ending: info.ending,
            fault: info.fault,
            run: info.run,
            idle: info.idle != 0,
        })
        .collect()
}

/// Watches `clusters` and sends the server a `Changed` request whenever their
/// states, epochs or runs moved (a warm cluster going idle moves only its idle
/// flag).
fn watch(clusters: Vec<usize>) {
    let Ok(server) = Outbox::open(process::node(), PROCESS_PORT) else {
        println!("process-server: the watcher cannot reach the server");
        return;
    };
    let mut buffer = [0u8; MESSAGE_BYTES];
    let header = RequestHeader {
        call: 0,
        reply_port: 0,
    };
    let Ok(length) =
        encode_request::<ProcessProtocol>(header, &ProcessRequest::Changed, &mut buffer)
    else {
        return;
    };
    let mut seen: Vec<(u32, u32, u32, bool)> = Vec::new();
    // The generation first, then the states: a change after the look moves it.
    let mut generation = cluster::wait_for_change(0, 0);
    loop {
        let now: Vec<(u32, u32, u32, bool)> = views(&clusters)
            .iter()
            .map(|view| (view.state, view.epoch, view.run, view.idle))
            .collect();
        if now != seen {
            seen = now;
            if server.write(&buffer[..length]).is_err() {
                println!("process-server: the watcher cannot reach the server");
                return;
            }
        }
        generation = cluster::wait_for_change(generation, WATCH_LIMIT);
    }
}

/// A spawn that waits for a free compute cluster.
struct Waiting {
    program: String,
    arguments: Vec<String>,
    parent_node: u32,
    user: u32,
    to: ReplyTo,
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
    let watched = clusters.clone();
    if let Err(errno) = thread::spawn(move || watch(watched)) {
        println!("process-server: cannot start the watcher: {errno}");
        return 1;
    }
    let own_node = process::node();
    let mut table = Table::new();
    let mut waiting: VecDeque<Waiting> = VecDeque::new();
    println!("process-server: serving on node {own_node} port {PROCESS_PORT}");
    let served = serve::<ProcessProtocol>(
        &inbox,
        |sender, to: ReplyTo, request, replies: &mut Replies| {
            let caller = sender.source_node;
            let caller_cluster = board.of_node(caller);
            let caller_user = table.user_on(caller_cluster);
            let reply = match request {
                ProcessRequest::Spawn {
                    user: Some(user), ..
                } if user != caller_user && caller_user != ROOT => {
                    ProcessReply::Refused(ProcessError::NotPermitted)
                }
                ProcessRequest::Spawn {
                    program,
                    arguments,
                    wait,
                    user,
                } => {
                    let user = user.unwrap_or(caller_user);
                    let views = views(&clusters);
                    answer_ended(&mut table, replies, &views);
                    match spawn(&mut table, &views, (&program, &arguments), (caller, user)) {
                        Ok(pid) => ProcessReply::Spawned { pid },
                        Err(ProcessError::NoFreeCluster) if wait => {
                            waiting.push_back(Waiting {
                                program,
                                arguments,
                                parent_node: caller,
                                user,
                                to,
                            });
                            return Handled::Later;
                        }
                        Err(error) => ProcessReply::Refused(error),
                    }
                }
                ProcessRequest::Wait { pid } => match table.wait(pid, caller, to) {
                    Ok(Some(termination)) => ProcessReply::Ended { pid, termination },
                    Ok(None) => return Handled::Later,
                    Err(error) => ProcessReply::Refused(error),
                },
                ProcessRequest::Kill { pid, signal } => {
                    match table.kill(pid, signal, caller_user).map(deliver) {
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
                ProcessRequest::Changed if caller == own_node => {
                    let views = views(&clusters);
                    answer_ended(&mut table, replies, &views);
                    // Spawns that wait for a cluster start in the order they came.
                    while let Some(next) = waiting.front() {
                        let started = spawn(
                            &mut table,
                            &views,
                            (&next.program, &next.arguments),
                            (next.parent_node, next.user),
                        );
                        let reply = match started {
                            Err(ProcessError::NoFreeCluster) => break,
                            Ok(pid) => ProcessReply::Spawned { pid },
                            Err(error) => ProcessReply::Refused(error),
                        };
                        replies.send::<ProcessProtocol>(next.to, Ok(reply));
                        waiting.pop_front();
                    }
                    return Handled::Later;
                }
                ProcessRequest::Changed => ProcessReply::Refused(ProcessError::NotInternal),
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
                ProcessRequest::Identify => {
                    let (pid, parent) = match caller_cluster {
                        Some(index) => table.identify(index, |node| board.of_node(node)),
                        None => (None, None),
                    };
                    ProcessReply::Identity {
                        pid,
                        parent,
                        user: caller_user,
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
