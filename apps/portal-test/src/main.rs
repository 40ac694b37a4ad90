//! Test program: portal transfers between clusters.
//!
//! Arguments (`KEY=VALUE`):
//! - `mode=receive from=CLUSTER`: creates port [`PORT`]; for each size of
//!   [`SIZES`] allows the cluster's first node exactly that size and reads the
//!   transfer, checking its length, stamped source and every byte; prints
//!   `portal-test: N transfers ok`.
//! - `mode=send to=CLUSTER`: opens port [`PORT`] of the cluster and writes a
//!   transfer of each size in turn (each waits for its allow); prints
//!   `portal-test: sent N`.
//! - `mode=send-big to=CLUSTER`: prints `portal-test: writing` and writes
//!   [`BIG`] bytes, more than the hosted data NoC's ring holds, so it waits in
//!   the middle until the receiver reads (a test kills it there).
//! - `mode=receive-after-death from=CLUSTER`: allows the cluster [`BIG`] bytes,
//!   waits until the board says it is dead, then reads: prints `portal-test: read
//!   failed: ERRNO` (`EHOSTDOWN` expected) or `portal-test: read N`.
//! - `mode=send-ahead to=CLUSTER`: starts a write of [`BIG`] bytes (more than
//!   the data NoC's ring holds) and, before it waits for it, waits for the
//!   receiver's mailbox message saying the whole transfer arrived; prints
//!   `portal-test: the started write went out before its wait`. Without a write
//!   that goes on in the background, this never ends.
//! - `mode=receive-ahead from=CLUSTER`: allows the cluster [`BIG`] bytes, reads
//!   and checks them, and tells the sender by mailbox; prints `portal-test: read
//!   N ahead of the wait`.
//! - `mode=send-two to=CLUSTER`: writes [`BIG`] bytes to the cluster's port
//!   [`PORT`], then a page to its port [`SECOND_PORT`]; prints `portal-test:
//!   sent two`.
//! - `mode=receive-two from=CLUSTER`: allows both, starts the read of the page
//!   first, then the read of the big transfer, and waits for both: transfers of
//!   one sender arrive in the order sent, and two started reads take them as
//!   they come; prints `portal-test: read two, the later one started first`.
//! - `mode=start-and-end to=CLUSTER`: starts a write of [`BIG`] bytes (more than
//!   the data NoC's ring holds), prints `portal-test: ending mid-transfer`, and
//!   ends without waiting for it while it waits for room.
//! - `mode=receive-cut from=CLUSTER`: allows the cluster [`BIG`] bytes, waits a
//!   second (its sender ends meanwhile), then reads: prints `portal-test: read
//!   failed: ERRNO` (`EIO` expected: the transfer was cut short) or `portal-test:
//!   read N`.
//! - `mode=errors`: every errno one program can provoke, and a transfer to
//!   itself; prints `portal-test: N checks, M failed`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use libnanvix::abi::{CLUSTER_DEAD, Errno, Kcall, PORTAL_NONBLOCK};
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::portal::{self, Inportal, Outportal, PORTAL_PORTS, PORTAL_TRANSFER_MAX};
use libnanvix::runtime::kcall;
use libnanvix::testing::Checks;
use libnanvix::{cluster, println, process, thread};

libnanvix::entry!(main);

/// The port senders and the receiver meet on.
const PORT: u32 = 4;

/// Transfer sizes: one byte, a page, a chunk of the hosted data NoC and one more
/// byte, a mebibyte (what the original needed 256 allows for) and one more byte
/// (a compute cluster's 2 MiB of SRAM holds no more).
const SIZES: [usize; 5] = [1, 4096, 128 * 1024 + 1, 1 << 20, (1 << 20) + 1];

/// The transfer a test kills its sender in the middle of: 1.5 MiB, more than
/// the hosted data NoC's 1 MiB ring, within a compute cluster's heap.
const BIG: usize = 1536 * 1024;

/// The port of the second transfer of `send-two`.
const SECOND_PORT: u32 = 6;

/// The mailbox port a receiver tells its sender on that a transfer arrived.
const ACK_PORT: u32 = 5;

/// An address no program memory is at.
const WILD: usize = 0x10;

fn pattern(size: usize, position: usize) -> u8 {
    ((position * 13 + size) % 253) as u8
}

fn main() -> i32 {
    let result = match process::argument("mode") {
        Some("errors") => return errors(),
        Some("receive") => receive(),
        Some("send") => send(),
        Some("send-big") => send_big(),
        Some("receive-after-death") => receive_after_death(),
        Some("send-ahead") => send_ahead(),
        Some("receive-ahead") => receive_ahead(),
        Some("send-two") => send_two(),
        Some("start-and-end") => start_and_end(),
        Some("receive-cut") => receive_cut(),
        Some("receive-two") => receive_two(),
        _ => Err(
            "needs mode=receive|send|send-big|receive-after-death|send-ahead|receive-ahead|send-two|receive-two|start-and-end|receive-cut|errors",
        ),
    };
    match result {
        Ok(()) => 0,
        Err(reason) => {
            println!("portal-test: {reason}");
            1
        }
    }
}

fn cluster_node(key: &str) -> Result<u32, &'static str> {
    process::argument(key)
        .and_then(cluster::find)
        .map(|info| info.first_node)
        .ok_or("needs a cluster of the board (from= or to=)")
}

fn receive() -> Result<(), &'static str> {
    let from = cluster_node("from")?;
    let inportal = Inportal::create(PORT).map_err(|_| "create failed")?;
    let mut buffer = vec![0u8; SIZES[SIZES.len() - 1]];
    for size in SIZES {
        inportal.allow(from, size).map_err(|_| "allow failed")?;
        // Odd sizes through a started read, followed by the kernel meanwhile.
        let (header, length) = if size % 2 == 1 {
            inportal
                .read_start(&mut buffer)
                .and_then(|read| read.wait())
                .map_err(|_| "started read failed")?
        } else {
            inportal.read(&mut buffer).map_err(|_| "read failed")?
        };
        if length != size || header.source_node != from {
            return Err("a transfer of the wrong size or from elsewhere");
        }
        if buffer[..size]
            .iter()
            .enumerate()
            .any(|(position, byte)| *byte != pattern(size, position))
        {
            return Err("a transfer arrived with other bytes than were sent");
        }
    }
    inportal.unlink().map_err(|_| "unlink failed")?;
    println!("portal-test: {} transfers ok", SIZES.len());
    Ok(())
}

fn send() -> Result<(), &'static str> {
    let to = cluster_node("to")?;
    let outportal = Outportal::open(to, PORT).map_err(|_| "open failed")?;
    let mut buffer = vec![0u8; SIZES[SIZES.len() - 1]];
    for size in SIZES {
        for (position, byte) in buffer[..size].iter_mut().enumerate() {
            *byte = pattern(size, position);
        }
        if size % 2 == 1 {
            outportal
                .write_start(&buffer[..size])
                .and_then(|write| write.wait())
                .map_err(|_| "started write failed")?;
        } else {
            outportal
                .write(&buffer[..size])
                .map_err(|_| "write failed")?;
        }
    }
    outportal.close().map_err(|_| "close failed")?;
    println!("portal-test: sent {}", SIZES.len());
    Ok(())
}

fn send_big() -> Result<(), &'static str> {
    let to = cluster_node("to")?;
    let outportal = Outportal::open(to, PORT).map_err(|_| "open failed")?;
    let buffer = vec![0x77u8; BIG];
    println!("portal-test: writing");
    let written = outportal.write(&buffer);
    println!("portal-test: write ended: {written:?}");
    Ok(())
}

fn send_ahead() -> Result<(), &'static str> {
    let to = cluster_node("to")?;
    let inbox = Inbox::create(ACK_PORT).map_err(|_| "inbox create failed")?;
    let outportal = Outportal::open(to, PORT).map_err(|_| "open failed")?;
    let buffer: alloc::vec::Vec<u8> = (0..BIG).map(|position| pattern(BIG, position)).collect();
    let write = outportal
        .write_start(&buffer)
        .map_err(|_| "write start failed")?;
    let mut ack = [0u8; 8];
    let (header, length) = inbox.read(&mut ack).map_err(|_| "ack read failed")?;
    if header.source_node != to || ack[..length] != BIG.to_le_bytes() {
        return Err("the receiver's message says something else");
    }
    match write.wait() {
        Ok(length) if length == BIG => {}
        _ => return Err("the started write did not end with its length"),
    }
    println!("portal-test: the started write went out before its wait");
    Ok(())
}

fn receive_ahead() -> Result<(), &'static str> {
    let from = cluster_node("from")?;
    let inportal = Inportal::create(PORT).map_err(|_| "create failed")?;
    inportal.allow(from, BIG).map_err(|_| "allow failed")?;
    let mut buffer = vec![0u8; BIG];
    let (header, length) = inportal.read(&mut buffer).map_err(|_| "read failed")?;
    if length != BIG
        || header.source_node != from
        || buffer
            .iter()
            .enumerate()
            .any(|(position, byte)| *byte != pattern(BIG, position))
    {
        return Err("the transfer arrived other than it was sent");
    }
    let outbox = Outbox::open(from, ACK_PORT).map_err(|_| "outbox open failed")?;
    outbox
        .write(&length.to_le_bytes())
        .map_err(|_| "ack write failed")?;
    println!("portal-test: read {length} ahead of the wait");
    Ok(())
}

fn send_two() -> Result<(), &'static str> {
    let to = cluster_node("to")?;
    let first = Outportal::open(to, PORT).map_err(|_| "open failed")?;
    let second = Outportal::open(to, SECOND_PORT).map_err(|_| "open failed")?;
    let big: alloc::vec::Vec<u8> = (0..BIG).map(|position| pattern(BIG, position)).collect();
    first.write(&big).map_err(|_| "first write failed")?;
    let page: alloc::vec::Vec<u8> = (0..4096).map(|position| pattern(4096, position)).collect();
    second.write(&page).map_err(|_| "second write failed")?;
    println!("portal-test: sent two");
    Ok(())
}

fn receive_two() -> Result<(), &'static str> {
    let from = cluster_node("from")?;
    let first = Inportal::create(PORT).map_err(|_| "create failed")?;
    let second = Inportal::create(SECOND_PORT).map_err(|_| "create failed")?;
    first.allow(from, BIG).map_err(|_| "allow failed")?;
    second.allow(from, 4096).map_err(|_| "allow failed")?;
    let (mut big, mut page) = (vec![0u8; BIG], vec![0u8; 4096]);
    let later = second
        .read_start(&mut page)
        .map_err(|_| "started read failed")?;
    let earlier = first
        .read_start(&mut big)
        .map_err(|_| "started read failed")?;
    let later = later.wait().map_err(|_| "the later transfer failed")?;
    let earlier = earlier.wait().map_err(|_| "the earlier transfer failed")?;
    let intact = |bytes: &[u8]| {
        bytes
            .iter()
            .enumerate()
            .all(|(position, byte)| *byte == pattern(bytes.len(), position))
    };
    if (earlier.1, later.1) != (BIG, 4096) || !intact(&big) || !intact(&page) {
        return Err("a transfer arrived other than it was sent");
    }
    println!("portal-test: read two, the later one started first");
    Ok(())
}

fn start_and_end() -> Result<(), &'static str> {
    let to = cluster_node("to")?;
    let outportal = Outportal::open(to, PORT).map_err(|_| "open failed")?;
    let buffer = vec![0x55u8; BIG];
    let write = outportal
        .write_start(&buffer)
        .map_err(|_| "write start failed")?;
    // Long enough for the allow to come and the ring to fill.
    let _ = thread::sleep_nanoseconds(300_000_000);
    println!("portal-test: ending mid-transfer");
    // Not waited for: the program ends with its transfer in the middle.
    core::mem::forget(write);
    Ok(())
}

fn receive_cut() -> Result<(), &'static str> {
    let from = cluster_node("from")?;
    let inportal = Inportal::create(PORT).map_err(|_| "create failed")?;
    inportal.allow(from, BIG).map_err(|_| "allow failed")?;
    let _ = thread::sleep_nanoseconds(1_000_000_000);
    let mut buffer = vec![0u8; BIG];
    match inportal.read(&mut buffer) {
        Ok((_, length)) => println!("portal-test: read {length}"),
        Err(errno) => println!("portal-test: read failed: {}", errno.name()),
    }
    Ok(())
}

fn receive_after_death() -> Result<(), &'static str> {
    let from_name = process::argument("from").ok_or("needs from=CLUSTER")?;
    let from = cluster::find(from_name).ok_or("from= names no cluster")?;
    let inportal = Inportal::create(PORT).map_err(|_| "create failed")?;
    inportal
        .allow(from.first_node, BIG)
        .map_err(|_| "allow failed")?;
    println!("portal-test: allowed");
    while cluster::info(from.index as usize).map(|info| info.state) != Ok(CLUSTER_DEAD) {
        let _ = thread::sleep_nanoseconds(1_000_000);
    }
    let mut buffer = vec![0u8; BIG];
    match inportal.read(&mut buffer) {
        Ok((_, length)) => println!("portal-test: read {length}"),
        Err(errno) => println!("portal-test: read failed: {}", errno.name()),
    }
    Ok(())
}

/// Polls with `poll` until it says the transfer ended (at most a million times:
/// `EAGAIN` if it never does).
fn poll_until<T>(mut poll: impl FnMut() -> Option<Result<T, Errno>>) -> Result<T, Errno> {
    for _ in 0..1_000_000 {
        if let Some(ended) = poll() {
            return ended;
        }
        thread::yield_now();
    }
    Err(Errno::Again)
}

fn errors() -> i32 {
    let mut checks = Checks::new();
    let node = process::node();
    let mut buffer = [0u8; 256];
    checks.expect(
        "create a port out of range",
        Inportal::create(PORTAL_PORTS as u32),
        Err(Errno::Invalid),
    );
    let inportal = match Inportal::create(PORT) {
        Ok(inportal) => inportal,
        Err(errno) => {
            println!("FAIL create: {errno:?}");
            return 1;
        }
    };
    checks.expect("double create", Inportal::create(PORT), Err(Errno::Busy));
    checks.expect(
        "open a port out of range",
        Outportal::open(node, PORTAL_PORTS as u32),
        Err(Errno::Invalid),
    );
    checks.expect(
        "open a node no cluster owns",
        Outportal::open(u32::MAX, PORT),
        Err(Errno::Invalid),
    );
    let outportal = match Outportal::open(node, PORT) {
        Ok(outportal) => outportal,
        Err(errno) => {
            println!("FAIL open: {errno:?}");
            return 1;
        }
    };
    checks.expect(
        "read with nothing allowed",
        inportal.read(&mut buffer).map(|(_, length)| length),
        Err(Errno::Invalid),
    );
    checks.expect(
        "write without allow (non-blocking)",
        outportal.try_write(b"unasked"),
        Err(Errno::Access),
    );
    checks.expect(
        "allow 0 bytes",
        inportal.allow(node, 0),
        Err(Errno::Invalid),
    );
    checks.expect(
        "allow over 16 MiB",
        inportal.allow(node, PORTAL_TRANSFER_MAX + 1),
        Err(Errno::Invalid),
    );
    checks.expect(
        "allow a node no cluster owns",
        inportal.allow(u32::MAX, 64),
        Err(Errno::Invalid),
    );
    checks.expect(
        "write with unknown flags",
        portal::write(outportal.id(), b"x", 2),
        Err(Errno::Invalid),
    );
    checks.expect(
        "write over 16 MiB",
        kcall(
            Kcall::PortalWrite,
            [
                outportal.id(),
                buffer.as_ptr() as usize,
                PORTAL_TRANSFER_MAX + 1,
                0,
                0,
            ],
        ),
        Err(Errno::MessageSize),
    );
    checks.expect(
        "write from a wild buffer",
        kcall(
            Kcall::PortalWrite,
            [outportal.id(), WILD, 64, PORTAL_NONBLOCK, 0],
        ),
        Err(Errno::Fault),
    );
    checks.expect(
        "write to a created portal",
        portal::write(inportal.id(), b"x", PORTAL_NONBLOCK),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "allow on an opened portal",
        kcall(
            Kcall::PortalAllow,
            [outportal.id(), node as usize, 64, 0, 0],
        )
        .map(|_| ()),
        Err(Errno::BadDescriptor),
    );
    checks.expect(
        "a started read with nothing allowed",
        inportal.read_start(&mut buffer).map(|_| ()),
        Err(Errno::Invalid),
    );
    checks.expect(
        "wait with nothing started",
        portal::wait(inportal.id()),
        Err(Errno::Invalid),
    );
    checks.expect("allow 64 bytes", inportal.allow(node, 64), Ok(()));
    checks.expect("allow again", inportal.allow(node, 64), Err(Errno::Busy));
    checks.expect(
        "unlink with an allow pending",
        kcall(Kcall::PortalUnlink, [inportal.id(), 0, 0, 0, 0]).map(|_| ()),
        Err(Errno::Busy),
    );
    // The allow reaches this cluster's own sender: a blocking write waits for it.
    checks.expect(
        "write more than allowed",
        outportal.write(&[1u8; 100]),
        Err(Errno::MessageSize),
    );
    let message: [u8; 64] = core::array::from_fn(|position| position as u8);
    checks.expect("write as allowed", outportal.write(&message), Ok(()));
    checks.expect(
        "write again without a new allow",
        outportal.try_write(&message),
        Err(Errno::Access),
    );
    checks.expect(
        "read into too small a buffer",
        inportal.read(&mut buffer[..10]).map(|(_, length)| length),
        Err(Errno::MessageSize),
    );
    let read = inportal
        .read(&mut buffer)
        .map(|(header, length)| (header.source_node, buffer[..length] == message));
    checks.expect("read the transfer", read, Ok((node, true)));
    checks.expect(
        "counters of the created end",
        inportal
            .counters()
            .map(|counters| (counters.operations, counters.bytes)),
        Ok((1, 64)),
    );
    checks.expect(
        "counters of the opened end",
        outportal
            .counters()
            .map(|counters| (counters.operations, counters.bytes)),
        Ok((1, 64)),
    );
    // The same, started: read first, then write, then both waits.
    checks.expect("allow again", inportal.allow(node, 64), Ok(()));
    let mut started_buffer = [0u8; 64];
    let inportal_id = inportal.id();
    match inportal.read_start(&mut started_buffer) {
        Ok(read) => {
            checks.expect(
                "wait on the opened end with nothing started",
                portal::wait(outportal.id()).map(|_| ()),
                Err(Errno::Invalid),
            );
            checks.expect(
                "a second started read",
                kcall(Kcall::PortalAread, [inportal_id, WILD, WILD, 0, 0]).map(|_| ()),
                Err(Errno::Fault),
            );
            checks.expect(
                "unlink during a started read",
                kcall(Kcall::PortalUnlink, [inportal_id, 0, 0, 0, 0]).map(|_| ()),
                Err(Errno::Busy),
            );
            match outportal.write_start(&message) {
                Ok(write) => {
                    checks.expect(
                        "a second started write",
                        kcall(
                            Kcall::PortalAwrite,
                            [outportal.id(), message.as_ptr() as usize, 64, 0, 0],
                        )
                        .map(|_| ()),
                        Err(Errno::Busy),
                    );
                    checks.expect("the started write ends", write.wait(), Ok(64));
                }
                Err(errno) => checks.expect("write_start", Err::<(), _>(errno), Ok(())),
            }
            let ended = read
                .wait()
                .map(|(header, length)| (header.source_node, length));
            checks.expect("the started read ends", ended, Ok((node, 64)));
        }
        Err(errno) => checks.expect("read_start", Err::<(), _>(errno), Ok(())),
    }
    checks.expect(
        "the started read's bytes",
        Ok(started_buffer == message),
        Ok(true),
    );
    // Polled: nothing waits, and a transfer not yet sent is `None` (EAGAIN).
    checks.expect("allow for a polled read", inportal.allow(node, 64), Ok(()));
    let mut polled_buffer = [0u8; 64];
    let inportal_id = inportal.id();
    match inportal.read_start(&mut polled_buffer) {
        Ok(mut read) => {
            checks.expect(
                "poll with unknown flags",
                portal::wait_with(inportal_id, 2),
                Err(Errno::Invalid),
            );
            checks.expect(
                "poll a read nothing was sent to",
                Ok(read.poll().is_none()),
                Ok(true),
            );
            let reversed: [u8; 64] = core::array::from_fn(|position| 63 - position as u8);
            match outportal.write_start(&reversed) {
                Ok(mut write) => {
                    let written = poll_until(|| write.poll());
                    checks.expect("the polled write ends", written, Ok(64));
                    checks.expect(
                        "poll the write again",
                        write.poll().unwrap_or(Ok(0)),
                        Err(Errno::Invalid),
                    );
                }
                Err(errno) => checks.expect("write_start", Err::<(), _>(errno), Ok(())),
            }
            let ended =
                poll_until(|| read.poll()).map(|(header, length)| (header.source_node, length));
            checks.expect("the polled read ends", ended, Ok((node, 64)));
            checks.expect(
                "the polled read's bytes",
                Ok(polled_buffer == reversed),
                Ok(true),
            );
        }
        Err(errno) => checks.expect("read_start", Err::<(), _>(errno), Ok(())),
    }
    checks.expect(
        "read after the allow was used",
        inportal.read(&mut buffer).map(|(_, length)| length),
        Err(Errno::Invalid),
    );
    checks.expect(
        "close an inportal",
        kcall(Kcall::PortalClose, [inportal.id(), 0, 0, 0, 0]).map(|_| ()),
        Err(Errno::BadDescriptor),
    );
    // A write started before its allow: the portal stays open until it ended,
    // and the allow it waited for lets it go out while this thread reads.
    match outportal.write_start(&message) {
        Ok(write) => {
            checks.expect(
                "close during a started write",
                kcall(Kcall::PortalClose, [outportal.id(), 0, 0, 0, 0]).map(|_| ()),
                Err(Errno::Busy),
            );
            checks.expect("allow after the start", inportal.allow(node, 64), Ok(()));
            let read = inportal
                .read(&mut buffer)
                .map(|(header, length)| (header.source_node, buffer[..length] == message));
            checks.expect("read what was started first", read, Ok((node, true)));
            checks.expect("the early started write ends", write.wait(), Ok(64));
        }
        Err(errno) => checks.expect("write_start", Err::<(), _>(errno), Ok(())),
    }
    let (inportal_id, outportal_id) = (inportal.id(), outportal.id());
    checks.expect("close", outportal.close(), Ok(()));
    checks.expect(
        "double close",
        kcall(Kcall::PortalClose, [outportal_id, 0, 0, 0, 0]).map(|_| ()),
        Err(Errno::BadDescriptor),
    );
    checks.expect("unlink", inportal.unlink(), Ok(()));
    checks.expect(
        "double unlink",
        kcall(Kcall::PortalUnlink, [inportal_id, 0, 0, 0, 0]).map(|_| ()),
        Err(Errno::BadDescriptor),
    );
    checks.finish("portal-test")
}
