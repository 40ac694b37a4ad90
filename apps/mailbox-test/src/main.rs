//! Test program: mailboxes between clusters.
//!
//! Arguments (`KEY=VALUE`):
//! - `mode=errors`: every errno of the mailbox kcalls, a message sent to a port
//!   before its mailbox existed, and reads waiting on a peer that closes (by unlink,
//!   and by its program's end right after its answer: `mode=answer-once to=NODE`,
//!   spawned, reads one message on port 13 and answers to port 12 of NODE); prints `mailbox-test: N checks, M failed`.
//! - `mode=send to=CLUSTER count=K`: opens port [`PORT`] of the cluster's first
//!   node and sends K messages numbered 0..K (every other one through a started
//!   write); prints `mailbox-test: sent K`.
//! - `mode=read-from from=CLUSTER`: a read restricted to the cluster's first node,
//!   which never sends (a test kills it): prints `mailbox-test: read failed:
//!   ERRNO` (`EHOSTDOWN` expected). `mode=hold` prints `mailbox-test: holding`
//!   and waits for a message nobody sends.
//! - `mode=receive from=A,B,... count=K`: creates port [`PORT`], first reads K/2
//!   messages restricted to the last sender (the others wait, held back), then the
//!   rest from anyone (every other one through a started read); checks every
//!   message arrives once and in its sender's order; prints `mailbox-test: received N from S senders in order`.
//! - `mode=flood-ahead to=CLUSTER`: fills the way to the cluster's port [`PORT`]
//!   (non-blocking writes until `EAGAIN`), starts one more write, checks a
//!   non-blocking write behind it gets `EAGAIN`, signals the receiver by sync,
//!   tries one more (marked last) until it goes (it must arrive after the
//!   started one), and
//!   waits for the receiver's answer on port [`ACK_PORT`] before it waits for the
//!   started write; prints `mailbox-test: the started write went out before its
//!   wait`. A started write sent only in its wait would never reach the receiver.
//! - `mode=drain-ahead from=CLUSTER`: waits for that signal, reads until the
//!   message marked last (checking the numbers come in order), and answers with
//!   the count; prints `mailbox-test: read N in order`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use libnanvix::abi::{
    COMM_MAILBOX, CommCounters, Errno, Kcall, MAILBOX_ANY_SOURCE, MessageHeader,
    mailbox_peer_source,
};
use libnanvix::mailbox::{self, Inbox, MAILBOX_PORTS, NOC_PAYLOAD_MAX, Outbox};
use libnanvix::runtime::kcall;
use libnanvix::testing::Checks;
use libnanvix::{cluster, noc, println, process, programs, syncs};

libnanvix::entry!(main);

/// The port the senders and the receiver meet on.
const PORT: u32 = 5;

/// The port a receiver answers a flooding sender on.
const ACK_PORT: u32 = 6;

/// Byte of a flood message that marks it the last one.
const LAST: usize = 8;

/// An address no program memory is at.
const WILD: usize = 0x10;

fn main() -> i32 {
    let count = process::argument("count").and_then(|count| count.parse::<u32>().ok());
    let result = match (process::argument("mode"), count) {
        (Some("errors"), _) => return errors(),
        (Some("read-from"), _) => read_from(),
        (Some("hold"), _) => hold(),
        (Some("send"), Some(count)) => send(count),
        (Some("receive"), Some(count)) => receive(count),
        (Some("flood-ahead"), _) => flood_ahead(),
        (Some("drain-ahead"), _) => drain_ahead(),
        (Some("answer-once"), _) => answer_once(),
        _ => Err("needs mode=errors, or mode=send|receive with count=K"),
    };
    match result {
        Ok(()) => 0,
        Err(reason) => {
            println!("mailbox-test: {reason}");
            1
        }
    }
}

fn read_from() -> Result<(), &'static str> {
    let from = process::argument("from")
        .and_then(cluster::find)
        .ok_or("needs from=CLUSTER naming a cluster of the board")?;
    let inbox = Inbox::create(PORT).map_err(|_| "create failed")?;
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    match inbox.read_from(from.first_node, &mut buffer) {
        Ok((_, length)) => println!("mailbox-test: read {length}"),
        Err(errno) => println!("mailbox-test: read failed: {}", errno.name()),
    }
    Ok(())
}

fn hold() -> Result<(), &'static str> {
    let inbox = Inbox::create(PORT).map_err(|_| "create failed")?;
    println!("mailbox-test: holding");
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    let held = inbox.read(&mut buffer);
    println!("mailbox-test: hold ended: {held:?}");
    Err("a message came to a mailbox nobody writes to")
}

/// A message: the sender's cluster index, its number, then filler up to 128 bytes.
fn message(sender: u32, number: u32) -> [u8; NOC_PAYLOAD_MAX] {
    let mut bytes = [0u8; NOC_PAYLOAD_MAX];
    bytes[..4].copy_from_slice(&sender.to_le_bytes());
    bytes[4..8].copy_from_slice(&number.to_le_bytes());
    for (position, byte) in bytes.iter_mut().enumerate().skip(8) {
        *byte = (number as usize + position) as u8;
    }
    bytes
}

fn send(count: u32) -> Result<(), &'static str> {
    let to = process::argument("to")
        .and_then(cluster::find)
        .ok_or("needs to=CLUSTER naming a cluster of the board")?;
    let this = cluster::this().map_err(|_| "cluster_info failed")?;
    let outbox = Outbox::open(to.first_node, PORT).map_err(|_| "open failed")?;
    for number in 0..count {
        // Sizes 1..=128 in turn: every length crosses the NoC.
        let length = number as usize % NOC_PAYLOAD_MAX + 1;
        let bytes = message(this.index, number);
        let payload = &bytes[..length.max(8)];
        // Every other message through a started write.
        if number % 2 == 1 {
            outbox
                .write_start(payload)
                .and_then(|started| started.wait())
                .map_err(|_| "started write failed")?;
        } else {
            outbox.write(payload).map_err(|_| "write failed")?;
        }
    }
    outbox.close().map_err(|_| "close failed")?;
    println!("mailbox-test: sent {count}");
    Ok(())
}

fn flood_ahead() -> Result<(), &'static str> {
    let to = process::argument("to")
        .and_then(cluster::find)
        .ok_or("needs to=CLUSTER naming a cluster of the board")?;
    let this = cluster::this().map_err(|_| "cluster_info failed")?;
    let inbox = Inbox::create(ACK_PORT).map_err(|_| "inbox create failed")?;
    let outbox = Outbox::open(to.first_node, PORT).map_err(|_| "open failed")?;
    let mut number = 0;
    loop {
        match outbox.try_write(&message(this.index, number)[..LAST + 1]) {
            Ok(()) => number += 1,
            Err(Errno::Again) => break,
            Err(_) => return Err("a non-blocking write failed"),
        }
    }
    let write = outbox
        .write_start(&message(this.index, number)[..LAST + 1])
        .map_err(|_| "write start failed")?;
    // A write behind the started one waits for it: never before it. Room may have
    // come already (the receiver's kernel takes messages for its mailbox before
    // the mailbox exists, once it is up): then the started write goes first and
    // this one after it, which the receiver's check of the order sees.
    let mut last = message(this.index, number + 1);
    last[LAST] = 1;
    let sent = match outbox.try_write(&last[..LAST + 1]) {
        Ok(()) => true,
        Err(Errno::Again) => false,
        Err(_) => return Err("the write behind the started one failed"),
    };
    let go = syncs::SyncSender::open(&[this.first_node, to.first_node], syncs::Mode::OneToAll)
        .map_err(|_| "sync open failed")?;
    go.signal().map_err(|_| "signal failed")?;
    // Non-blocking tries catch the first room: they must not take it from the
    // started write.
    if !sent {
        loop {
            match outbox.try_write(&last[..LAST + 1]) {
                Ok(()) => break,
                Err(Errno::Again) => core::hint::spin_loop(),
                Err(_) => return Err("the write behind the started one failed"),
            }
        }
    }
    let mut answer = [0u8; 4];
    let (header, length) = inbox.read(&mut answer).map_err(|_| "answer read failed")?;
    if header.source_node != to.first_node || answer[..length] != (number + 2).to_le_bytes() {
        return Err("the receiver's answer says something else");
    }
    write.wait().map_err(|_| "the started write failed")?;
    println!("mailbox-test: the started write went out before its wait");
    Ok(())
}

fn drain_ahead() -> Result<(), &'static str> {
    let from = process::argument("from")
        .and_then(cluster::find)
        .ok_or("needs from=CLUSTER naming a cluster of the board")?;
    let this = cluster::this().map_err(|_| "cluster_info failed")?;
    let inbox = Inbox::create(PORT).map_err(|_| "create failed")?;
    let go =
        syncs::SyncReceiver::create(&[from.first_node, this.first_node], syncs::Mode::OneToAll)
            .map_err(|_| "sync create failed")?;
    go.wait().map_err(|_| "sync wait failed")?;
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    let mut count = 0u32;
    let in_order = loop {
        let (_, length) = inbox.read(&mut buffer).map_err(|_| "read failed")?;
        if length != LAST + 1 || buffer[..LAST] != message(from.index, count)[..LAST] {
            break false;
        }
        count += 1;
        if buffer[LAST] == 1 {
            break true;
        }
    };
    // The answer goes out either way, so the sender does not wait for good.
    let answer = if in_order { count } else { u32::MAX };
    Outbox::open(from.first_node, ACK_PORT)
        .and_then(|outbox| outbox.write(&answer.to_le_bytes()))
        .map_err(|_| "answer failed")?;
    if !in_order {
        return Err("a message out of order, or not the flood's");
    }
    println!("mailbox-test: read {count} in order");
    Ok(())
}

/// A sender the receiver expects: its cluster, node, and next message number.
struct Sender {
    index: u32,
    node: u32,
    next: u32,
}

fn receive(count: u32) -> Result<(), &'static str> {
    let mut senders: Vec<Sender> = process::argument("from")
        .ok_or("needs from=A,B,...")?
        .split(',')
        .map(|name| {
            cluster::find(name).map(|info| Sender {
                index: info.index,
                node: info.first_node,
                next: 0,
            })
        })
        .collect::<Option<_>>()
        .ok_or("from= names a cluster the board does not have")?;
    let senders_count = senders.len() as u32;
    let restricted = senders.last().map(|sender| sender.node);
    let inbox = Inbox::create(PORT).map_err(|_| "create failed")?;
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    let mut take = |header: MessageHeader, length: usize, buffer: &[u8; NOC_PAYLOAD_MAX]| {
        let sender = u32::from_le_bytes(buffer[..4].try_into().unwrap_or_default());
        let number = u32::from_le_bytes(buffer[4..8].try_into().unwrap_or_default());
        let expected = message(sender, number);
        let Some(entry) = senders.iter_mut().find(|entry| entry.index == sender) else {
            return Err("a message from a cluster that was not asked to send");
        };
        if header.source_node != entry.node {
            return Err("a message whose stamped source is not its sender's node");
        }
        if number != entry.next {
            return Err("a message lost, repeated or out of its sender's order");
        }
        if length != (number as usize % NOC_PAYLOAD_MAX + 1).max(8)
            || buffer[..length] != expected[..length]
        {
            return Err("a message arrived with other bytes than were sent");
        }
        entry.next += 1;
        Ok(())
    };
    // The last sender's messages alone first, while the others queue up to their
    // bound and then wait in their channels.
    let total = count * senders_count;
    let mut received = 0;
    if let Some(node) = restricted {
        for _ in 0..count / 2 {
            let (header, length) = inbox
                .read_from(node, &mut buffer)
                .map_err(|_| "restricted read failed")?;
            if header.source_node != node {
                return Err("a restricted read returned another source's message");
            }
            take(header, length, &buffer)?;
            received += 1;
        }
    }
    while received < total {
        // Every other message through a started read.
        let (header, length) = if received % 2 == 1 {
            inbox
                .read_start(&mut buffer)
                .and_then(|started| started.wait())
                .map_err(|_| "started read failed")?
        } else {
            inbox.read(&mut buffer).map_err(|_| "read failed")?
        };
        take(header, length, &buffer)?;
        received += 1;
    }
    inbox.unlink().map_err(|_| "unlink failed")?;
    println!("mailbox-test: received {received} from {senders_count} senders in order");
    Ok(())
}

/// Reads that wait on a peer (the mailbox an opened mailbox writes to): a queued
/// answer first, then `ECONNRESET` once the peer's mailbox closed after the last
/// write; a bad peer source refused.
fn peer_reads(checks: &mut Checks, node: u32) {
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    let opened = Inbox::create(10).and_then(|peer| {
        Ok((
            peer,
            Outbox::open(node, 10)?,
            Inbox::create(11)?,
            Outbox::open(node, 11)?,
        ))
    });
    checks.expect(
        "peer mailboxes",
        opened.as_ref().map(|_| ()).map_err(|errno| *errno),
        Ok(()),
    );
    let Ok((peer, to_peer, answers, to_answers)) = opened else {
        return;
    };
    checks.expect("ask the peer", to_peer.write(b"ask"), Ok(()));
    checks.expect(
        "the peer reads it",
        peer.read(&mut buffer).map(|(_, length)| length),
        Ok(3),
    );
    checks.expect("the peer answers", to_answers.write(b"answer"), Ok(()));
    checks.expect("the peer closes", peer.unlink(), Ok(()));
    checks.expect(
        "a queued answer comes first",
        answers
            .read_from_peer(&to_peer, &mut buffer)
            .map(|(_, length)| length),
        Ok(6),
    );
    checks.expect(
        "then the closed peer",
        answers
            .read_from_peer(&to_peer, &mut buffer)
            .map(|(_, length)| length),
        Err(Errno::ConnectionReset),
    );
    checks.expect(
        "a peer source out of range",
        mailbox::read(answers.id(), mailbox_peer_source(4096), &mut buffer),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "a created mailbox as a peer source",
        mailbox::read(answers.id(), mailbox_peer_source(answers.id()), &mut buffer),
        Err(Errno::BadDescriptor),
    );
    let header = MessageHeader::default();
    checks.expect(
        "a started read from a peer",
        kcall(
            Kcall::MailboxAread,
            [
                answers.id(),
                mailbox_peer_source(to_peer.id()),
                &raw const header as usize,
                buffer.as_mut_ptr() as usize,
                buffer.len(),
            ],
        ),
        Err(Errno::Invalid),
    );
    checks.expect("close the peer's outbox", to_peer.close(), Ok(()));
    checks.expect("close the answers' outbox", to_answers.close(), Ok(()));
    checks.expect("unlink the answers", answers.unlink(), Ok(()));
}

/// Rounds of [`answers_before_the_end`].
const ANSWER_ROUNDS: u32 = 100;

/// A peer program that answers and ends at once, [`ANSWER_ROUNDS`] times: its
/// answer, which may still be in the channel when its end closes its mailbox, is
/// read before the `ECONNRESET` the end brings.
fn answers_before_the_end(checks: &mut Checks, node: u32) {
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    let Ok(answers) = Inbox::create(12) else {
        checks.expect("the answers' mailbox", Err(Errno::Busy), Ok(()));
        return;
    };
    let (mut answered, mut reset) = (0, 0);
    for _ in 0..ANSWER_ROUNDS {
        let to = alloc::format!("to={node}");
        let Ok(id) = programs::spawn("mailbox-test", &["mode=answer-once", &to], None) else {
            break;
        };
        let peer_node = cluster::this().map_or(0, |this| this.first_node + id % this.node_count);
        if let Ok(to_peer) = Outbox::open(peer_node, 13) {
            if to_peer.write(b"ask").is_ok() {
                let first = answers.read_from_peer(&to_peer, &mut buffer);
                if first.map(|(header, length)| (header.source_node, length)) == Ok((peer_node, 6))
                {
                    answered += 1;
                }
            }
            let _ = programs::wait(id, None);
            if answers.read_from_peer(&to_peer, &mut buffer).map(|_| ())
                == Err(Errno::ConnectionReset)
            {
                reset += 1;
            }
            let _ = to_peer.close();
        }
    }
    checks.expect(
        "a peer's answer comes before its end's reset, every round",
        Ok((answered, reset)),
        Ok((ANSWER_ROUNDS, ANSWER_ROUNDS)),
    );
    let _ = answers.unlink();
}

/// Spawned by [`answers_before_the_end`]: reads one message on port 13 and answers
/// `answer` to port 12 of node `to`, then ends at once.
fn answer_once() -> Result<(), &'static str> {
    let to = process::argument("to")
        .and_then(|node| node.parse().ok())
        .ok_or("needs to=NODE")?;
    let inbox = Inbox::create(13).map_err(|_| "create failed")?;
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    inbox.read(&mut buffer).map_err(|_| "read failed")?;
    let outbox = Outbox::open(to, 12).map_err(|_| "open failed")?;
    outbox.write(b"answer").map_err(|_| "answer failed")?;
    Ok(())
}

fn errors() -> i32 {
    let mut checks = Checks::new();
    let node = process::node();
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];

    // A message to a port nobody created yet waits for its mailbox.
    let early = Outbox::open(node, 9);
    checks.expect(
        "open before create",
        early.as_ref().map(|_| ()).map_err(|errno| *errno),
        Ok(()),
    );
    if let Ok(early) = early {
        checks.expect("write before create", early.write(b"early"), Ok(()));
        let inbox = Inbox::create(9);
        checks.expect(
            "create after write",
            inbox.as_ref().map(|_| ()).map_err(|errno| *errno),
            Ok(()),
        );
        if let Ok(inbox) = inbox {
            let read = inbox
                .read(&mut buffer)
                .map(|(header, length)| (header.source_node, buffer[..length] == *b"early"));
            checks.expect("early message kept", read, Ok((node, true)));
            checks.expect("unlink emptied", inbox.unlink(), Ok(()));
        }
        checks.expect("close", early.close(), Ok(()));
    }

    peer_reads(&mut checks, node);
    answers_before_the_end(&mut checks, node);

    let inbox = match Inbox::create(PORT) {
        Ok(inbox) => inbox,
        Err(errno) => {
            println!("FAIL create: {errno:?}");
            return 1;
        }
    };
    checks.expect("double create", Inbox::create(PORT), Err(Errno::Busy));
    checks.expect(
        "create port out of range",
        Inbox::create(MAILBOX_PORTS as u32),
        Err(Errno::Invalid),
    );
    checks.expect(
        "open port out of range",
        Outbox::open(node, MAILBOX_PORTS as u32),
        Err(Errno::Invalid),
    );
    checks.expect(
        "open node out of range",
        Outbox::open(u32::MAX, PORT),
        Err(Errno::Invalid),
    );
    let outbox = match Outbox::open(node, PORT) {
        Ok(outbox) => outbox,
        Err(errno) => {
            println!("FAIL open: {errno:?}");
            return 1;
        }
    };
    checks.expect(
        "write over 128 bytes",
        outbox.write(&[0u8; NOC_PAYLOAD_MAX + 1]),
        Err(Errno::MessageSize),
    );
    checks.expect("write nothing", outbox.write(&[]), Err(Errno::Invalid));
    checks.expect(
        "write wild pointer",
        kcall(Kcall::MailboxWrite, [outbox.id(), WILD, 8, 0, 0]),
        Err(Errno::Fault),
    );
    checks.expect(
        "write to an id out of range",
        mailbox::write(usize::MAX, b"x"),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "write to a created mailbox",
        mailbox::write(inbox.id(), b"x"),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "read an id out of range",
        mailbox::read(4096, MAILBOX_ANY_SOURCE, &mut buffer),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "read an opened mailbox",
        mailbox::read(outbox.id(), MAILBOX_ANY_SOURCE, &mut buffer),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "read from a node out of range",
        mailbox::read(inbox.id(), u32::MAX as usize, &mut buffer),
        Err(Errno::Invalid),
    );
    checks.expect(
        "read into a wild header",
        kcall(
            Kcall::MailboxRead,
            [
                inbox.id(),
                MAILBOX_ANY_SOURCE,
                WILD,
                buffer.as_mut_ptr() as usize,
                8,
            ],
        ),
        Err(Errno::Fault),
    );
    checks.expect(
        "write with unknown flags",
        mailbox::write_with(outbox.id(), b"x", 2),
        Err(Errno::Invalid),
    );
    checks.expect("write", outbox.write(b"first"), Ok(()));
    checks.expect("write again", outbox.write(b"second"), Ok(()));
    checks.expect(
        "unlink with unread messages",
        mailbox::unlink(inbox.id()),
        Err(Errno::Busy),
    );
    // Unlink routed both: they wait in the mailbox now.
    checks.expect(
        "counters of the created end",
        inbox
            .counters()
            .map(|counters| (counters.operations, counters.queued)),
        Ok((0, 2)),
    );
    checks.expect(
        "counters of the opened end",
        outbox
            .counters()
            .map(|counters| (counters.operations, counters.bytes)),
        Ok((2, 11)),
    );
    checks.expect(
        "counters of an unknown kind",
        noc::counters(7, inbox.id()),
        Err(Errno::Invalid),
    );
    checks.expect(
        "counters of an id out of range",
        noc::counters(COMM_MAILBOX, 4096),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "counters of the wrong size",
        kcall(Kcall::CommCounters, [COMM_MAILBOX, inbox.id(), WILD, 3, 0]),
        Err(Errno::Invalid),
    );
    checks.expect(
        "counters into a wild pointer",
        kcall(
            Kcall::CommCounters,
            [
                COMM_MAILBOX,
                inbox.id(),
                WILD,
                core::mem::size_of::<CommCounters>(),
                0,
            ],
        ),
        Err(Errno::Fault),
    );
    checks.expect(
        "read into too small a buffer",
        inbox.read(&mut buffer[..4]).map(|(_, length)| length),
        Err(Errno::MessageSize),
    );
    let first = inbox
        .read_from(node, &mut buffer)
        .map(|(header, length)| (header.source_node, buffer[..length] == *b"first"));
    checks.expect("restricted read, own node", first, Ok((node, true)));
    let second = inbox
        .read(&mut buffer)
        .map(|(_, length)| buffer[..length] == *b"second");
    checks.expect("second in order", second, Ok(true));
    checks.expect(
        "counters after two reads",
        inbox
            .counters()
            .map(|counters| (counters.operations, counters.bytes, counters.queued)),
        Ok((2, 11, 0)),
    );
    // Without reading, the mailbox (16 a sender) and then the channel fill: a
    // non-blocking write says EAGAIN, and every message written arrives once.
    let mut written = 0u32;
    let mut refused = Ok(());
    for number in 0..200u32 {
        match outbox.try_write(&number.to_le_bytes()) {
            Ok(()) => written += 1,
            Err(errno) => {
                refused = Err(errno);
                break;
            }
        }
    }
    checks.expect(
        "a full mailbox refuses a non-blocking write",
        refused,
        Err(Errno::Again),
    );
    let mut in_order = true;
    for number in 0..written {
        let read = inbox.read(&mut buffer);
        in_order &= matches!(read, Ok((_, 4))) && buffer[..4] == number.to_le_bytes();
    }
    checks.expect(
        "every message written arrived, in order",
        Ok(in_order),
        Ok(true),
    );

    // Asynchronous reads and writes: start, then wait.
    checks.expect(
        "wait with nothing started",
        mailbox::wait(inbox.id()),
        Err(Errno::Invalid),
    );
    let mut async_buffer = [0u8; NOC_PAYLOAD_MAX];
    let inbox_id = inbox.id();
    match inbox.read_start(&mut async_buffer) {
        Ok(started) => {
            checks.expect(
                "a second read started",
                kcall(
                    Kcall::MailboxAread,
                    [
                        inbox_id,
                        MAILBOX_ANY_SOURCE,
                        buffer.as_mut_ptr() as usize,
                        buffer.as_mut_ptr() as usize,
                        8,
                    ],
                ),
                Err(Errno::Busy),
            );
            checks.expect(
                "a read while one is started",
                mailbox::read(inbox_id, MAILBOX_ANY_SOURCE, &mut buffer).map(|(_, length)| length),
                Err(Errno::Busy),
            );
            checks.expect(
                "unlink while a read is started",
                mailbox::unlink(inbox_id),
                Err(Errno::Busy),
            );
            checks.expect(
                "a write of nothing started",
                kcall(
                    Kcall::MailboxAwrite,
                    [outbox.id(), buffer.as_ptr() as usize, 0, 0, 0],
                ),
                Err(Errno::Invalid),
            );
            checks.expect(
                "a write over 128 bytes started",
                kcall(
                    Kcall::MailboxAwrite,
                    [
                        outbox.id(),
                        buffer.as_ptr() as usize,
                        NOC_PAYLOAD_MAX + 1,
                        0,
                        0,
                    ],
                ),
                Err(Errno::MessageSize),
            );
            match outbox.write_start(b"async") {
                Ok(write) => {
                    checks.expect(
                        "a second write before the wait",
                        kcall(
                            Kcall::MailboxAwrite,
                            [outbox.id(), buffer.as_ptr() as usize, 1, 0, 0],
                        ),
                        Err(Errno::Busy),
                    );
                    checks.expect("the started write ends", write.wait(), Ok(()));
                }
                Err(errno) => checks.expect("write_start", Err::<(), _>(errno), Ok(())),
            }
            let ended = started
                .wait()
                .map(|(header, length)| (header.source_node, length));
            checks.expect("the started read ends", ended, Ok((node, 5)));
        }
        Err(errno) => checks.expect("read_start", Err::<(), _>(errno), Ok(())),
    }
    checks.expect(
        "the started read's bytes",
        Ok(async_buffer[..5] == *b"async"),
        Ok(true),
    );
    // A read started with its message already queued ends at once.
    checks.expect("write for a started read", outbox.write(b"queued"), Ok(()));
    checks.expect(
        "unlink routes it first",
        mailbox::unlink(inbox_id),
        Err(Errno::Busy),
    );
    let queued = inbox
        .read_start(&mut async_buffer)
        .and_then(|started| started.wait())
        .map(|(_, length)| length);
    checks.expect("a started read of a queued message", queued, Ok(6));
    checks.expect(
        "close an inbox",
        mailbox::close(inbox.id()),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "unlink an outbox",
        mailbox::unlink(outbox.id()),
        Err(Errno::BadDescriptor),
    );
    let outbox_id = outbox.id();
    checks.expect("close", outbox.close(), Ok(()));
    checks.expect(
        "double close",
        mailbox::close(outbox_id),
        Err(Errno::BadDescriptor),
    );
    let inbox_id = inbox.id();
    checks.expect("unlink", inbox.unlink(), Ok(()));
    checks.expect(
        "double unlink",
        mailbox::unlink(inbox_id),
        Err(Errno::BadDescriptor),
    );
    let mut held = vec![];
    let mut limit = Ok(());
    for port in 0..=libnanvix::mailbox::MAILBOXES_MAX {
        match Outbox::open(node, port as u32 % MAILBOX_PORTS as u32) {
            Ok(outbox) => held.push(outbox),
            Err(errno) => {
                limit = Err(errno);
                break;
            }
        }
    }
    checks.expect("more than MAILBOXES_MAX", limit, Err(Errno::Again));
    checks.expect(
        "MAILBOXES_MAX held",
        Ok(held.len()),
        Ok(libnanvix::mailbox::MAILBOXES_MAX),
    );
    for outbox in held {
        let _ = outbox.close();
    }
    checks.finish("mailbox-test")
}
