//! init: starts the servers the manifest lists on the boot cluster, restarts them by their policy, stops them in order.
//!
//! Arguments, which the image builder generates from the manifest's `[init]`
//! section, a server at a time, in start order: `serve=NAME`, `slot=N`,
//! `restart=never|on-failure|always`, `heap=BYTES`, `stack=BYTES`, then
//! `arg=ARGUMENT` for each of the server's own arguments. init starts each server in its slot of the boot cluster with its
//! arguments and `supervisor=NODE` (init's node), watches each on a thread of its
//! own (`program_wait`), and serves [`InitProtocol`] on [`INIT_PORT`]: the server
//! list, and an orderly shutdown, which the board's shutdown request (a SIGTERM
//! notice from the kernel: hosted, a SIGTERM to the runner) starts too. Prints
//! `init: serving on node N port P, K servers` once it serves, and a line for each
//! start, end, restart and stop.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use libnanvix::abi::CLUSTER_ON;
use libnanvix::cluster::Clusters;
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::signal::{self, SIGTERM};
use libnanvix::sync::Mutex;
use libnanvix::{clock, cluster, println, process, programs, thread};
use nanvix_init_api::{INIT_PORT, InitError, InitProtocol, InitReply, InitRequest, ServerEntry};
use nanvix_rpc::transport::{Handled, Replies, ReplyTo, serve};
use nanvix_rpc::{MESSAGE_BYTES, RequestHeader, encode_request};

libnanvix::entry!(main);

/// Most restarts of one server within [`RESTART_WINDOW`]; one more and init gives
/// up on it (a server that crashes at once would otherwise spin for ever).
const RESTART_LIMIT: usize = 5;
/// The window [`RESTART_LIMIT`] counts restarts in, in nanoseconds.
const RESTART_WINDOW: u64 = 10_000_000_000;
/// How long a server has to end by itself after its SIGTERM notice, in
/// nanoseconds, before init kills it.
const STOP_GRACE: u64 = 2_000_000_000;
/// The stack of a thread that watches a server.
const WATCH_STACK: usize = 16 * 1024;
/// The status init records for a server it could not start.
const NOT_STARTED: i32 = 126;

/// When a server is started again after it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restart {
    Never,
    OnFailure,
    Always,
}

/// A server as the manifest lists it.
#[derive(Clone, Debug)]
struct Server {
    name: String,
    slot: u32,
    restart: Restart,
    /// Heap and stack bytes (0: the kernel's default).
    memory: (usize, usize),
    arguments: Vec<String>,
}

/// What init knows of a server now.
#[derive(Clone, Debug, Default)]
struct Record {
    running: bool,
    restarts: u32,
    last_status: Option<i32>,
    /// It ended for good (or init stopped it).
    settled: bool,
    /// init stopped it at shutdown: its status does not count.
    stopped: bool,
}

struct Shared {
    records: Mutex<Vec<Record>>,
    shutting_down: AtomicBool,
}

/// The servers init's arguments list, or what is wrong with them.
fn parse<'a>(arguments: impl Iterator<Item = &'a str>) -> Result<Vec<Server>, String> {
    let mut servers: Vec<Server> = Vec::new();
    for argument in arguments {
        let Some((key, value)) = argument.split_once('=') else {
            return Err(alloc::format!("`{argument}` is not KEY=VALUE"));
        };
        if key == "serve" {
            servers.push(Server {
                name: value.to_string(),
                slot: u32::MAX,
                restart: Restart::OnFailure,
                memory: (0, 0),
                arguments: Vec::new(),
            });
            continue;
        }
        let Some(server) = servers.last_mut() else {
            return Err(alloc::format!("`{argument}` before any serve=NAME"));
        };
        match key {
            "slot" => {
                server.slot = value
                    .parse()
                    .map_err(|_| alloc::format!("slot `{value}` is not a number"))?;
            }
            "restart" => {
                server.restart = match value {
                    "never" => Restart::Never,
                    "on-failure" => Restart::OnFailure,
                    "always" => Restart::Always,
                    other => return Err(alloc::format!("unknown restart policy `{other}`")),
                };
            }
            "heap" | "stack" => {
                let bytes = value
                    .parse()
                    .map_err(|_| alloc::format!("{key} `{value}` is not a number of bytes"))?;
                if key == "heap" {
                    server.memory.0 = bytes;
                } else {
                    server.memory.1 = bytes;
                }
            }
            "arg" => server.arguments.push(value.to_string()),
            other => return Err(alloc::format!("unknown key `{other}`")),
        }
    }
    match servers.iter().find(|server| server.slot == u32::MAX) {
        Some(server) => Err(alloc::format!("server `{}` has no slot", server.name)),
        None => Ok(servers),
    }
}

/// Starts `server` in its slot.
fn start(server: &Server, own_node: u32) -> Result<(), libnanvix::Errno> {
    let supervisor = alloc::format!("supervisor={own_node}");
    let mut arguments: Vec<&str> = server.arguments.iter().map(String::as_str).collect();
    arguments.push(&supervisor);
    programs::spawn_with(&server.name, &arguments, Some(server.slot), server.memory).map(|_| ())
}

fn main() -> i32 {
    let servers = match parse(process::arguments().skip(1)) {
        Ok(servers) => servers,
        Err(problem) => {
            println!("init: bad arguments: {problem}");
            return 2;
        }
    };
    let inbox = match Inbox::create(INIT_PORT) {
        Ok(inbox) => inbox,
        Err(errno) => {
            println!("init: cannot create port {INIT_PORT}: {errno}");
            return 2;
        }
    };
    let own_node = process::node();
    let Ok(records) = Mutex::new(alloc::vec![Record::default(); servers.len()]) else {
        println!("init: no room for its lock");
        return 2;
    };
    let shared = Arc::new(Shared {
        records,
        shutting_down: AtomicBool::new(false),
    });
    println!(
        "init: serving on node {own_node} port {INIT_PORT}, {} servers",
        servers.len()
    );
    for (index, server) in servers.iter().enumerate() {
        let started = start(server, own_node);
        if let Ok(mut records) = shared.records.lock() {
            let record = &mut records[index];
            record.running = started.is_ok();
            if started.is_err() {
                record.last_status = Some(NOT_STARTED);
                record.settled = true;
            }
        }
        match started {
            Ok(()) => {
                println!("init: started {} in slot {}", server.name, server.slot);
                let (watched, shared) = (server.clone(), Arc::clone(&shared));
                let watching = thread::spawn_with_stack(WATCH_STACK, move || {
                    supervise(index, &watched, &shared)
                });
                if let Err(errno) = watching {
                    println!("init: cannot watch {}: {errno}", server.name);
                }
            }
            Err(errno) => println!("init: cannot start {}: {errno}", server.name),
        }
    }
    if let Some(status) = settled_status(&shared) {
        return status;
    }
    // The board's shutdown request (a SIGTERM to the runner) comes from the kernel:
    // it ends the board as a `Shutdown` does.
    let shut_down_on_request = |_| {
        if let Ok(mut own) = nanvix_init_api::InitClient::connect(process::node()) {
            let _ = own.shutdown(0);
        }
    };
    let listening = signal::set_handler(SIGTERM, Some(shut_down_on_request))
        .and_then(|()| signal::listen_to_kernel());
    if let Err(errno) = listening {
        println!("init: cannot take the board's shutdown requests: {errno}");
    }
    let board = Clusters::read();
    let compute = board.compute();
    let mut exit_status = 0;
    let served = serve::<InitProtocol>(
        &inbox,
        |sender, to: ReplyTo, request, replies: &mut Replies| match request {
            InitRequest::Servers { from } => Handled::Reply(list(&servers, &shared, from)),
            InitRequest::Shutdown { status } => {
                let on_compute = board
                    .of_node(sender.source_node)
                    .is_none_or(|cluster| compute.contains(&cluster));
                if on_compute {
                    return Handled::Reply(InitReply::Refused(InitError::NotPermitted));
                }
                shut_down(&servers, &shared);
                exit_status = status;
                replies.send::<InitProtocol>(to, Ok(InitReply::ShutDown));
                Handled::Stop
            }
            InitRequest::Settled if sender.source_node == own_node => {
                match settled_status(&shared) {
                    Some(status) => {
                        exit_status = status;
                        Handled::Stop
                    }
                    None => Handled::Later,
                }
            }
            InitRequest::Settled => Handled::Reply(InitReply::Refused(InitError::NotInternal)),
        },
    );
    match served {
        Ok(_) => {
            println!("init: done, status {exit_status}");
            exit_status
        }
        Err(errno) => {
            println!("init: reading port {INIT_PORT}: {errno}");
            1
        }
    }
}

/// The server list from position `from`: one entry a reply (a name of up to 64
/// bytes and its figures fill most of one).
fn list(servers: &[Server], shared: &Shared, from: u32) -> InitReply {
    let Ok(records) = shared.records.lock() else {
        return InitReply::Servers {
            entries: Vec::new(),
            more: false,
        };
    };
    let from = from as usize;
    let entries = servers
        .iter()
        .zip(records.iter())
        .skip(from)
        .take(1)
        .map(|(server, record)| ServerEntry {
            name: server.name.clone(),
            slot: server.slot,
            running: record.running,
            restarts: record.restarts,
            last_status: record.last_status,
        })
        .collect();
    InitReply::Servers {
        entries,
        more: from + 1 < servers.len(),
    }
}

/// init's status once every server settled: 0 when each last ended with 0 (or
/// was stopped at shutdown), else the first other status; `None` while one runs.
fn settled_status(shared: &Shared) -> Option<i32> {
    let records = shared.records.lock().ok()?;
    if !records.iter().all(|record| record.settled) {
        return None;
    }
    Some(
        records
            .iter()
            .filter(|record| !record.stopped)
            .filter_map(|record| record.last_status)
            .find(|status| *status != 0)
            .unwrap_or(0),
    )
}

/// Watches server `index`: records each end and starts it again by its policy.
fn supervise(index: usize, server: &Server, shared: &Shared) {
    let mut restarts: VecDeque<u64> = VecDeque::new();
    loop {
        let status = programs::wait(server.slot, None);
        let status = status.unwrap_or(NOT_STARTED);
        if let Ok(mut records) = shared.records.lock() {
            records[index].running = false;
            records[index].last_status = Some(status);
        }
        if shared.shutting_down.load(Ordering::Acquire) {
            break;
        }
        let again = match server.restart {
            Restart::Never => false,
            Restart::OnFailure => status != 0,
            Restart::Always => true,
        };
        if !again {
            println!("init: {} ended with status {status}", server.name);
            break;
        }
        let now = clock::monotonic_nanoseconds().unwrap_or(0);
        while restarts
            .front()
            .is_some_and(|at| now.saturating_sub(*at) > RESTART_WINDOW)
        {
            restarts.pop_front();
        }
        if restarts.len() >= RESTART_LIMIT {
            println!(
                "init: {} ended with status {status} and keeps failing: not started again",
                server.name
            );
            break;
        }
        restarts.push_back(now);
        println!(
            "init: {} ended with status {status}: starting it again",
            server.name
        );
        let started = start(server, process::node());
        if let Ok(mut records) = shared.records.lock() {
            records[index].restarts += 1;
            records[index].running = started.is_ok();
        }
        if let Err(errno) = started {
            println!("init: cannot start {} again: {errno}", server.name);
            break;
        }
    }
    if let Ok(mut records) = shared.records.lock() {
        records[index].settled = true;
    }
    tell_settled();
}

/// Tells init's own serving loop that a server settled.
fn tell_settled() {
    let mut buffer = [0u8; MESSAGE_BYTES];
    let header = RequestHeader {
        call: 0,
        reply_port: 0,
    };
    if let Ok(length) = encode_request::<InitProtocol>(header, &InitRequest::Settled, &mut buffer)
        && let Ok(outbox) = Outbox::open(process::node(), INIT_PORT)
    {
        let _ = outbox.write(&buffer[..length]);
        let _ = outbox.close();
    }
}

/// Stops the servers in the reverse order (a SIGTERM notice to the server's node,
/// up to [`STOP_GRACE`] for it to end, then a kill), then powers off every compute
/// cluster still on (the board is off once every cluster is).
fn shut_down(servers: &[Server], shared: &Shared) {
    stop_servers(servers, shared);
    let board = Clusters::read();
    for index in board.compute() {
        let on = cluster::info(index).is_ok_and(|info| info.state == CLUSTER_ON);
        if on {
            let name = cluster::info(index).map(|info| String::from(info.name()));
            println!("init: powering off {}", name.unwrap_or_default());
            let _ = cluster::power_off(index, SIGTERM);
        }
    }
}

/// Stops the servers in the reverse order.
fn stop_servers(servers: &[Server], shared: &Shared) {
    shared.shutting_down.store(true, Ordering::Release);
    let this = cluster::this().ok();
    for (index, server) in servers.iter().enumerate().rev() {
        let running = shared
            .records
            .lock()
            .map(|records| records[index].running)
            .unwrap_or(false);
        if !running {
            continue;
        }
        println!("init: stopping {}", server.name);
        if let Some(this) = &this {
            let node = this.first_node + server.slot % this.node_count.max(1);
            let port = signal::port_of(server.slot, this.node_count);
            if let Ok(outbox) = Outbox::open(node, port) {
                let _ = outbox.try_write(&signal::encode_notice(SIGTERM));
                let _ = outbox.close();
            }
        }
        let ended = match programs::wait(server.slot, Some(STOP_GRACE)) {
            Err(libnanvix::Errno::Again) => {
                println!("init: {} did not end by itself: killing it", server.name);
                let _ = programs::kill(server.slot, SIGTERM);
                programs::wait(server.slot, None)
            }
            other => other,
        };
        if let Ok(mut records) = shared.records.lock() {
            let record = &mut records[index];
            record.running = false;
            record.stopped = true;
            record.settled = true;
            record.last_status = ended.ok().or(record.last_status);
        }
    }
}
