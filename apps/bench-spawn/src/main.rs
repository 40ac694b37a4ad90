//! Benchmark program: spawn and wait of an empty program through the process server.
//!
//! Arguments: `mode=empty` ends at once with status 0 (the program spawned).
//! `mode=client server=CLUSTER rounds=N trials=T` (on the process server's cluster),
//! two benchmarks of spawn-and-waits of `bench-spawn mode=empty`, each after a
//! warm-up of `rounds`, timing `trials` trials of `rounds` and printing `bench NAME
//! cycles=<cycles per spawn and wait> bytes=0` after each:
//! - `warm_spawn_wait`: the process server runs each program on an idle warm
//!   compute cluster (the warm-up booted them);
//! - `cold_spawn_wait`: after each wait the client powers the idle clusters off and
//!   waits until they are off, so each spawn boots a cluster for its program (the
//!   power-off is in the figure, as a cluster that powers off by itself was).
//!
//! Then it stops the server.
//!
//! `mode=files server=CLUSTER rounds=N trials=T` (the same, on a process server
//! with `path=/bin` beside a vfs server): `warm_spawn_wait_file`, warm spawn-and-
//! waits of `bench-spawn` looked up in `/bin` (its file checked as the user and
//! staged once; each spawn looks it up again). Then it stops both servers.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::abi::{CLUSTER_ON, SIGKILL};
use libnanvix::cluster::Clusters;
use libnanvix::testing::time_trips;
use libnanvix::{cluster, println, process};
use nanvix_process_api::ProcessClient;

libnanvix::entry!(main);

fn main() -> i32 {
    match process::argument("mode") {
        Some("empty") => 0,
        Some("files") => match files() {
            Ok(()) => 0,
            Err(reason) => {
                println!("bench-spawn: {reason}");
                1
            }
        },
        Some("client") => match client() {
            Ok(()) => 0,
            Err(reason) => {
                println!("bench-spawn: {reason}");
                1
            }
        },
        _ => {
            println!("bench-spawn: mode=empty|client");
            2
        }
    }
}

/// The rounds and trials the arguments ask for, and a client of the server.
fn connect() -> Result<(u64, u64, ProcessClient), &'static str> {
    let number = |key: &str, default: u64| {
        process::argument(key)
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let node = process::argument("server")
        .and_then(cluster::find)
        .map(|info| info.first_node)
        .ok_or("server=CLUSTER names no cluster")?;
    let processes = ProcessClient::connect(node).map_err(|_| "cannot reach the server")?;
    Ok((number("rounds", 20), number("trials", 5), processes))
}

/// Spawns `bench-spawn mode=empty` and waits for its end with 0.
fn spawn_and_wait(processes: &mut ProcessClient) -> Result<(), &'static str> {
    let pid = processes
        .spawn_waiting("bench-spawn", &["mode=empty"])
        .map_err(|_| "a spawn failed")?;
    match processes.wait(pid) {
        Ok(nanvix_process_api::Termination::Exited(0)) => Ok(()),
        _ => Err("a wait failed"),
    }
}

fn files() -> Result<(), &'static str> {
    // The servers init would start may not serve yet: the vfs first.
    let mut served = false;
    for _ in 0..500 {
        if libnanvix::fs::metadata("/bin/bench-spawn").is_ok() {
            served = true;
            break;
        }
        let _ = libnanvix::thread::sleep_nanoseconds(10_000_000);
    }
    if !served {
        return Err("no /bin/bench-spawn on the vfs server");
    }
    let (rounds, trials, mut processes) = connect()?;
    time_trips("warm_spawn_wait_file", 0, rounds, trials, || {
        spawn_and_wait(&mut processes)
    })?;
    processes.stop().map_err(|_| "cannot stop the server")?;
    nanvix_vfs_api::VfsClient::connect(libnanvix::fs::vfs_server_node())
        .map_err(|_| "cannot reach the vfs server")?
        .stop()
        .map_err(|_| "cannot stop the vfs server")
}

fn client() -> Result<(), &'static str> {
    let (rounds, trials, mut processes) = connect()?;
    time_trips("warm_spawn_wait", 0, rounds, trials, || {
        spawn_and_wait(&mut processes)
    })?;
    let compute = Clusters::read().compute();
    time_trips("cold_spawn_wait", 0, rounds, trials, || {
        spawn_and_wait(&mut processes)?;
        power_off_idle(&compute)
    })?;
    processes.stop().map_err(|_| "cannot stop the server")
}

/// Powers the idle compute clusters off and waits until none is on.
fn power_off_idle(compute: &[usize]) -> Result<(), &'static str> {
    let on = |index: &usize| cluster::info(*index).is_ok_and(|info| info.state == CLUSTER_ON);
    for index in compute.iter().filter(|index| on(index)) {
        cluster::power_off(*index, SIGKILL).map_err(|_| "a power-off failed")?;
    }
    let mut generation = cluster::wait_for_change(0, 0);
    while compute.iter().any(on) {
        generation = cluster::wait_for_change(generation, 1_000_000_000);
    }
    Ok(())
}
