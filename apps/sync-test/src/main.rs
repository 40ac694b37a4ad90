//! Test program: inter-cluster syncs and a barrier across clusters.
//!
//! Arguments (`KEY=VALUE`):
//! - `mode=barrier clusters=A,B,... rounds=N`: joins the barrier over the
//!   clusters' first nodes (A leads) and passes it N times. Before each round a
//!   follower writes the round's number to the leader's mailbox (port
//!   [`PORT`]); once the leader has gathered everyone, it reads one number per
//!   follower and checks each is this round's, so nobody ran ahead and no signal
//!   was lost or counted twice. Prints `sync-test: N rounds ok`.
//! - `mode=errors`: every errno of the sync kcalls that one program can provoke;
//!   prints `sync-test: N checks, M failed`.
//! - `mode=gather clusters=A,B,... [hold]`: one all-to-one gather: A waits and
//!   prints `sync-test: gathered` or `sync-test: gather failed: ERRNO`; the others
//!   signal (`sync-test: signalled`), or with `hold` print `sync-test: holding`
//!   and never signal (a test kills them: A's wait must end with `EHOSTDOWN`).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use libnanvix::abi::{Errno, Kcall, SYNC_ALL_TO_ONE};
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::runtime::kcall;
use libnanvix::syncs::{Barrier, Mode, SYNC_NODES_MAX, SyncReceiver, SyncSender};
use libnanvix::testing::Checks;
use libnanvix::{cluster, println, process};

libnanvix::entry!(main);

/// The leader's mailbox port for the followers' round numbers.
const PORT: u32 = 3;

/// An address no program memory is at.
const WILD: usize = 0x10;

fn main() -> i32 {
    match process::argument("mode") {
        Some("errors") => errors(),
        Some("gather") => gather(),
        Some("barrier") => match barrier() {
            Ok(rounds) => {
                println!("sync-test: {rounds} rounds ok");
                0
            }
            Err(reason) => {
                println!("sync-test: {reason}");
                1
            }
        },
        _ => {
            println!("sync-test: needs mode=barrier or mode=errors");
            2
        }
    }
}

/// The first nodes of the clusters `clusters=` names, in order.
fn nodes() -> Result<Vec<u32>, &'static str> {
    process::argument("clusters")
        .ok_or("needs clusters=A,B,...")?
        .split(',')
        .map(|name| cluster::find(name).map(|info| info.first_node))
        .collect::<Option<_>>()
        .ok_or("clusters= names a cluster the board does not have")
}

fn gather() -> i32 {
    let nodes = match nodes() {
        Ok(nodes) => nodes,
        Err(reason) => {
            println!("sync-test: {reason}");
            return 2;
        }
    };
    let this = process::node();
    if nodes.first() == Some(&this) {
        let waited = SyncReceiver::create(&nodes, Mode::AllToOne).and_then(|sync| sync.wait());
        match waited {
            Ok(()) => println!("sync-test: gathered"),
            Err(errno) => println!("sync-test: gather failed: {}", errno.name()),
        }
        return 0;
    }
    if process::arguments().any(|argument| argument == "hold") {
        println!("sync-test: holding");
        // Never signals: waits for a message nobody sends, until killed.
        let mut buffer = [0u8; 4];
        let held = Inbox::create(PORT).and_then(|inbox| inbox.read(&mut buffer));
        println!("sync-test: hold ended: {held:?}");
        return 1;
    }
    match SyncSender::open(&nodes, Mode::AllToOne).and_then(|sync| sync.signal()) {
        Ok(()) => {
            println!("sync-test: signalled");
            0
        }
        Err(errno) => {
            println!("sync-test: signal failed: {}", errno.name());
            1
        }
    }
}

fn barrier() -> Result<u32, &'static str> {
    let nodes = nodes()?;
    let rounds = process::argument("rounds")
        .and_then(|rounds| rounds.parse::<u32>().ok())
        .ok_or("needs rounds=N")?;
    let this = process::node();
    let leader = *nodes.first().ok_or("clusters= is empty")?;
    let barrier = Barrier::new(&nodes, this).map_err(|_| "joining the barrier failed")?;
    let mut buffer = [0u8; 4];
    if this == leader {
        let inbox = Inbox::create(PORT).map_err(|_| "mailbox create failed")?;
        for round in 0..rounds {
            barrier.wait().map_err(|_| "barrier wait failed")?;
            for _ in 1..nodes.len() {
                let (_, length) = inbox.read(&mut buffer).map_err(|_| "mailbox read failed")?;
                if length != 4 || u32::from_le_bytes(buffer) != round {
                    return Err("a follower's round number is not this round's");
                }
            }
        }
        inbox.unlink().map_err(|_| "mailbox unlink failed")?;
        // The gather completed once a round, and the release was signalled as often.
        if let Barrier::Leader { gather, release } = &barrier {
            let waits = gather.counters().map(|counters| counters.operations);
            let signals = release.counters().map(|counters| counters.operations);
            if waits != Ok(u64::from(rounds)) || signals != Ok(u64::from(rounds)) {
                return Err("the sync counters do not count one wait and one signal a round");
            }
        }
    } else {
        let outbox = Outbox::open(leader, PORT).map_err(|_| "mailbox open failed")?;
        for round in 0..rounds {
            outbox
                .write(&round.to_le_bytes())
                .map_err(|_| "mailbox write failed")?;
            barrier.wait().map_err(|_| "barrier wait failed")?;
        }
        outbox.close().map_err(|_| "mailbox close failed")?;
    }
    barrier
        .destroy()
        .map_err(|_| "leaving the barrier failed")?;
    Ok(rounds)
}

fn errors() -> i32 {
    let mut checks = Checks::new();
    let this = process::node();
    let Some(other) = cluster::find("cc0").map(|info| info.first_node) else {
        println!("sync-test: the board has no cc0");
        return 2;
    };
    let third = cluster::find("cc1").map_or(other + 1, |info| info.first_node);
    let unit = |result: Result<SyncReceiver, Errno>| result.map(|_| ());
    let sent = |result: Result<SyncSender, Errno>| result.map(|_| ());
    checks.expect(
        "one node",
        unit(SyncReceiver::create(&[this], Mode::AllToOne)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "a node twice",
        unit(SyncReceiver::create(&[this, other, other], Mode::AllToOne)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "the leader again among the others",
        unit(SyncReceiver::create(&[this, other, this], Mode::AllToOne)),
        Err(Errno::Invalid),
    );
    let many: Vec<u32> = (0..=SYNC_NODES_MAX as u32).collect();
    checks.expect(
        "more than SYNC_NODES_MAX nodes",
        unit(SyncReceiver::create(&many, Mode::AllToOne)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "a node no cluster owns",
        unit(SyncReceiver::create(&[this, u32::MAX], Mode::AllToOne)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "an unknown mode",
        kcall(
            Kcall::SyncCreate,
            [[this, other].as_ptr() as usize, 2, 7, 0, 0],
        ),
        Err(Errno::Invalid),
    );
    checks.expect(
        "a wild node list",
        kcall(Kcall::SyncCreate, [WILD, 2, SYNC_ALL_TO_ONE, 0, 0]),
        Err(Errno::Fault),
    );
    checks.expect(
        "all to one created away from nodes[0]",
        unit(SyncReceiver::create(&[other, this], Mode::AllToOne)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "one to all created at nodes[0]",
        unit(SyncReceiver::create(&[this, other], Mode::OneToAll)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "all to one opened at nodes[0]",
        sent(SyncSender::open(&[this, other], Mode::AllToOne)),
        Err(Errno::Invalid),
    );
    checks.expect(
        "one to all opened away from nodes[0]",
        sent(SyncSender::open(&[other, this], Mode::OneToAll)),
        Err(Errno::Invalid),
    );
    let receiver = match SyncReceiver::create(&[this, other, third], Mode::AllToOne) {
        Ok(receiver) => receiver,
        Err(errno) => {
            println!("FAIL create: {errno:?}");
            return 1;
        }
    };
    checks.expect(
        "double create (the others in another order)",
        unit(SyncReceiver::create(&[this, third, other], Mode::AllToOne)),
        Err(Errno::Busy),
    );
    let sender = match SyncSender::open(&[this, other], Mode::OneToAll) {
        Ok(sender) => sender,
        Err(errno) => {
            println!("FAIL open: {errno:?}");
            return 1;
        }
    };
    checks.expect(
        "wait on an opened sync",
        kcall(Kcall::SyncWait, [sender.id(), 0, 0, 0, 0]),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "signal a created sync",
        kcall(Kcall::SyncSignal, [receiver.id(), 0, 0, 0, 0]),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "wait on an id out of range",
        kcall(Kcall::SyncWait, [4096, 0, 0, 0, 0]),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "close a created sync",
        kcall(Kcall::SyncClose, [receiver.id(), 0, 0, 0, 0]),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "unlink an opened sync",
        kcall(Kcall::SyncUnlink, [sender.id(), 0, 0, 0, 0]),
        Err(Errno::BadDescriptor),
    );
    let (receiver_id, sender_id) = (receiver.id(), sender.id());
    checks.expect("unlink", receiver.unlink(), Ok(()));
    checks.expect(
        "double unlink",
        kcall(Kcall::SyncUnlink, [receiver_id, 0, 0, 0, 0]).map(|_| ()),
        Err(Errno::BadDescriptor),
    );
    checks.expect("close", sender.close(), Ok(()));
    checks.expect(
        "double close",
        kcall(Kcall::SyncClose, [sender_id, 0, 0, 0, 0]).map(|_| ()),
        Err(Errno::BadDescriptor),
    );
    checks.finish("sync-test")
}
