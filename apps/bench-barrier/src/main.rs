//! Benchmark program: a barrier across clusters, built on inter-cluster syncs.
//!
//! Arguments: `clusters=A,B,...` (required; A leads), `rounds=N` barriers per
//! trial (default 1000), `trials=T` (default 5). Every program of the list joins
//! the barrier; after a warm-up of `rounds` barriers the leader times `trials`
//! trials and prints `bench barrier cycles=<cycles per barrier> clusters=<N>`,
//! read by `nanvix bench barrier`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use libnanvix::signals::Barrier;
use libnanvix::{clock, cluster, println, process};

libnanvix::entry!(main);

fn argument(key: &str) -> Option<&'static str> {
    process::arguments().find_map(|argument| {
        argument
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('='))
    })
}

fn main() -> i32 {
    match run() {
        Ok(()) => 0,
        Err(reason) => {
            println!("bench-barrier: {reason}");
            1
        }
    }
}

fn run() -> Result<(), &'static str> {
    let nodes: Vec<u32> = argument("clusters")
        .ok_or("needs clusters=A,B,...")?
        .split(',')
        .map(|name| cluster::find(name).map(|info| info.first_node))
        .collect::<Option<_>>()
        .ok_or("clusters= names a cluster the board does not have")?;
    let number = |key: &str, default: u64| -> Result<u64, &'static str> {
        argument(key).map_or(Ok(default), |value| {
            value.parse::<u64>().map_err(|_| "expected a number")
        })
    };
    let rounds = number("rounds", 1000)?.max(1);
    let trials = number("trials", 5)?.max(1);
    let this = process::node();
    let barrier = Barrier::new(&nodes, this).map_err(|_| "joining the barrier failed")?;
    let leads = nodes.first() == Some(&this);
    for _ in 0..rounds {
        barrier.wait().map_err(|_| "barrier wait failed")?;
    }
    for _ in 0..trials {
        let start = clock::cycles();
        for _ in 0..rounds {
            barrier.wait().map_err(|_| "barrier wait failed")?;
        }
        let elapsed = clock::cycles().wrapping_sub(start);
        if leads {
            println!(
                "bench barrier cycles={} clusters={}",
                elapsed / rounds,
                nodes.len()
            );
        }
    }
    barrier
        .destroy()
        .map_err(|_| "leaving the barrier failed")?;
    Ok(())
}
