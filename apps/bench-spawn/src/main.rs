//! Benchmark program: spawn and wait of an empty program through the process server.
//!
//! Arguments: `mode=empty` ends at once with status 0 (the program spawned).
//! `mode=client server=CLUSTER rounds=N trials=T` (on the process server's cluster):
//! after a warm-up of `rounds` spawn-and-waits of `bench-spawn mode=empty`, times
//! `trials` trials of `rounds` and prints `bench spawn_wait cycles=<cycles per
//! spawn and wait> bytes=0` after each, then stops the server. Each spawn is cold:
//! the process server powers a free compute cluster on for it, and the cluster
//! powers off when the program ends.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::testing::time_trips;
use libnanvix::{cluster, println, process};
use nanvix_process_api::ProcessClient;

libnanvix::entry!(main);

fn main() -> i32 {
    match process::argument("mode") {
        Some("empty") => 0,
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

fn client() -> Result<(), &'static str> {
    let number = |key: &str, default: u64| {
        process::argument(key)
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let (rounds, trials) = (number("rounds", 20), number("trials", 5));
    let node = process::argument("server")
        .and_then(cluster::find)
        .map(|info| info.first_node)
        .ok_or("server=CLUSTER names no cluster")?;
    let mut processes = ProcessClient::connect(node).map_err(|_| "cannot reach the server")?;
    let spawn_and_wait = || -> Result<(), &'static str> {
        let pid = processes
            .spawn_waiting("bench-spawn", &["mode=empty"])
            .map_err(|_| "a spawn failed")?;
        match processes.wait(pid) {
            Ok(nanvix_process_api::Termination::Exited(0)) => Ok(()),
            _ => Err("a wait failed"),
        }
    };
    time_trips("spawn_wait", 0, rounds, trials, spawn_and_wait)?;
    processes.stop().map_err(|_| "cannot stop the server")
}
