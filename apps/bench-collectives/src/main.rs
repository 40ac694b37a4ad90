//! Benchmark program: a barrier, a broadcast, a gather and an allgather across
//! clusters, built on inter-cluster syncs and portals.
//!
//! Arguments: `clusters=A,B,...` (required; A is the root), `rounds=N` operations
//! per trial (default 200), `trials=T` (default 5), `bytes=B` each cluster's
//! share (default 1024). Every program of the list runs the same phases: a
//! barrier; a broadcast of B bytes from the root (one portal write per other
//! cluster); a gather of B bytes from each other cluster at the root (one portal
//! a sender, all allowed at once); an allgather (a gather, then a broadcast of
//! all the shares). After a warm-up of `rounds`, the root times `trials` trials
//! of each and prints `bench OP cycles=<cycles per operation> clusters=<N>`
//! (OP: barrier, broadcast, gather, allgather), read by `nanvix bench
//! collectives`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use libnanvix::abi::Errno;
use libnanvix::portal::{Inportal, Outportal};
use libnanvix::syncs::Barrier;
use libnanvix::{clock, cluster, println, process};

libnanvix::entry!(main);

/// The port of the portal every other cluster receives broadcasts on.
const BROADCAST_PORT: u32 = 1;
/// The root's portal for the gather from the `i`th other cluster is this + `i`.
const GATHER_PORT: u32 = 8;

fn main() -> i32 {
    match run() {
        Ok(()) => 0,
        Err(reason) => {
            println!("bench-collectives: {reason}");
            1
        }
    }
}

/// What one cluster holds for the collectives.
struct Group {
    nodes: Vec<u32>,
    /// This cluster's position in `nodes` (0: the root).
    rank: usize,
    barrier: Barrier,
    /// Root: a portal to each other cluster; others: the one to the root.
    outportals: Vec<Outportal>,
    /// Root: one gather portal per other cluster; others: the broadcast portal.
    inportals: Vec<Inportal>,
}

fn failed(what: &'static str) -> impl Fn(Errno) -> &'static str {
    move |_| what
}

impl Group {
    fn join(nodes: Vec<u32>) -> Result<Group, &'static str> {
        let this = process::node();
        let rank = nodes
            .iter()
            .position(|node| *node == this)
            .ok_or("this cluster is not in clusters=")?;
        let barrier = Barrier::new(&nodes, this).map_err(failed("joining the barrier failed"))?;
        let (outportals, inportals) = if rank == 0 {
            let mut outportals = Vec::new();
            let mut inportals = Vec::new();
            for (index, node) in nodes.iter().enumerate().skip(1) {
                outportals
                    .push(Outportal::open(*node, BROADCAST_PORT).map_err(failed("open failed"))?);
                inportals.push(
                    Inportal::create(GATHER_PORT + index as u32)
                        .map_err(failed("create failed"))?,
                );
            }
            (outportals, inportals)
        } else {
            (
                vec![
                    Outportal::open(nodes[0], GATHER_PORT + rank as u32)
                        .map_err(failed("open failed"))?,
                ],
                vec![Inportal::create(BROADCAST_PORT).map_err(failed("create failed"))?],
            )
        };
        Ok(Group {
            nodes,
            rank,
            barrier,
            outportals,
            inportals,
        })
    }

    fn barrier(&self) -> Result<(), &'static str> {
        self.barrier.wait().map_err(failed("barrier wait failed"))
    }

    /// The root sends `data` to every other cluster; the others receive it.
    fn broadcast(&self, data: &mut [u8]) -> Result<(), &'static str> {
        if self.rank == 0 {
            for outportal in &self.outportals {
                outportal
                    .write(data)
                    .map_err(failed("broadcast write failed"))?;
            }
        } else {
            let inportal = &self.inportals[0];
            inportal
                .allow(self.nodes[0], data.len())
                .map_err(failed("broadcast allow failed"))?;
            inportal
                .read(data)
                .map_err(failed("broadcast read failed"))?;
        }
        Ok(())
    }

    /// Every other cluster sends its `share` to the root, which reads them into
    /// `all` (one share a cluster, the root's first).
    fn gather(&self, share: &[u8], all: &mut [u8]) -> Result<(), &'static str> {
        if self.rank != 0 {
            return self.outportals[0]
                .write(share)
                .map_err(failed("gather write failed"));
        }
        for (index, inportal) in self.inportals.iter().enumerate() {
            inportal
                .allow(self.nodes[index + 1], share.len())
                .map_err(failed("gather allow failed"))?;
        }
        all[..share.len()].copy_from_slice(share);
        for (index, chunk) in all.chunks_mut(share.len()).skip(1).enumerate() {
            self.inportals[index]
                .read(chunk)
                .map_err(failed("gather read failed"))?;
        }
        Ok(())
    }
}

fn run() -> Result<(), &'static str> {
    let nodes: Vec<u32> = process::argument("clusters")
        .ok_or("needs clusters=A,B,...")?
        .split(',')
        .map(|name| cluster::find(name).map(|info| info.first_node))
        .collect::<Option<_>>()
        .ok_or("clusters= names a cluster the board does not have")?;
    let number = |key: &str, default: u64| -> Result<u64, &'static str> {
        process::argument(key).map_or(Ok(default), |value| {
            value.parse::<u64>().map_err(|_| "expected a number")
        })
    };
    let rounds = number("rounds", 200)?.max(1);
    let trials = number("trials", 5)?.max(1);
    let bytes = number("bytes", 1024)?.max(1) as usize;
    let count = nodes.len();
    let group = Group::join(nodes)?;
    let mut share = vec![group.rank as u8; bytes];
    let mut all = vec![0u8; bytes * count];
    type Operation<'a> = &'a dyn Fn(&mut [u8], &mut [u8]) -> Result<(), &'static str>;
    let barrier: Operation<'_> = &|_, _| group.barrier();
    let broadcast: Operation<'_> = &|share, _| group.broadcast(share);
    let gather: Operation<'_> = &|share, all| group.gather(share, all);
    let allgather: Operation<'_> = &|share, all| {
        group.gather(share, all)?;
        group.broadcast(all)
    };
    for (name, operation) in [
        ("barrier", barrier),
        ("broadcast", broadcast),
        ("gather", gather),
        ("allgather", allgather),
    ] {
        // Everyone starts the phase together.
        group.barrier()?;
        for _ in 0..rounds {
            operation(&mut share, &mut all)?;
        }
        for _ in 0..trials {
            let start = clock::cycles();
            for _ in 0..rounds {
                operation(&mut share, &mut all)?;
            }
            let elapsed = clock::cycles().wrapping_sub(start);
            if group.rank == 0 {
                println!("bench {name} cycles={} clusters={count}", elapsed / rounds);
            }
        }
    }
    group.barrier()?;
    Ok(())
}
