//! Test program: bytes beside RPC requests and replies.
//!
//! Arguments:
//! - `mode=server [stops=N]`: serves [`BulkTest`] on port [`PORT`] of its node with
//!   bulk portals [`BULK_PORTS`] (`serve_bulk`) until the N-th `Stop` (default 1);
//!   prints `bulk-test: serving` first and its counters at the end.
//! - `mode=client server=CLUSTER`: stores and fetches 1 byte to 512 KiB (each fetched
//!   byte and each stored byte's sum checked), fetches bytes the server promises
//!   before it makes them (`Replies::promise`: 1 byte to 512 KiB; one short of the
//!   promise is `NoBulk`, and the next call works), checks the refusals (no bytes,
//!   more bytes than taken), then stops the server; prints `bulk-test: client N checks,
//!   0 failed`. With two clients, the server ends at the second `Stop`.
//! - `mode=liar server=CLUSTER`: asks to send bytes and never does, asks for bytes
//!   and never takes them, and checks that the server still serves it (and says
//!   `Busy` to its second such request), then stops the server; prints
//!   `bulk-test: liar N checks, 0 failed`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use libnanvix::testing::Checks;
use libnanvix::{cluster, println, process, thread};
use nanvix_rpc::transport::{Bulk, CallError, Client, Handled, Replies, ReplyTo, serve_bulk};
use nanvix_rpc::{
    BulkField, MESSAGE_BYTES, Operation, Protocol, ReplyFrame, RequestHeader, RpcError,
    decode_reply_frame, encode_request_bulk,
};
use serde::{Deserialize, Serialize};

libnanvix::entry!(main);

/// The server's mailbox port.
const PORT: u32 = 6;
/// The server's bulk portals.
const BULK_PORTS: core::ops::Range<u32> = 20..24;
/// The clients' first reply port.
const REPLY_PORT: u32 = 8;

/// The test protocol's requests.
#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Takes bytes; answers their length and sum.
    Store,
    /// Answers `length` bytes of the pattern of `seed`.
    Fetch { length: u32, seed: u8 },
    /// Ends the server.
    Stop,
    /// Answers `length` bytes of the pattern of `seed`, the reply promised before
    /// the bytes are made (all of them, or one short unless `whole`).
    Promise { length: u32, seed: u8, whole: bool },
}

/// The test protocol's replies.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
enum Reply {
    Stored {
        length: u32,
        sum: u32,
    },
    Fetched,
    Stopped,
    /// A request without the bytes it needs.
    Missing,
}

const OPERATION: Operation = Operation {
    request: "",
    reply: "",
    summary: "",
    errors: &[],
};

/// The protocol.
struct BulkTest;

impl Protocol for BulkTest {
    const NAME: &'static str = "bulk-test";
    const SUMMARY: &'static str = "Bytes beside requests and replies, for tests.";
    const TABLE: &'static [Operation] = &[OPERATION; 4];
    type Request = Request;
    type Reply = Reply;
}

fn pattern(seed: u8, length: usize) -> Vec<u8> {
    (0..length)
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn sum(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0u32, |sum, byte| {
        sum.wrapping_mul(33).wrapping_add(u32::from(*byte))
    })
}

fn main() -> i32 {
    match process::argument("mode") {
        Some("server") => server(),
        Some("client") => client(),
        Some("liar") => liar(),
        _ => {
            println!("bulk-test: mode=server|client|liar");
            2
        }
    }
}

fn server() -> i32 {
    let inbox = match libnanvix::mailbox::Inbox::create(PORT) {
        Ok(inbox) => inbox,
        Err(errno) => {
            println!("bulk-test: cannot create port {PORT}: {errno}");
            return 1;
        }
    };
    println!("bulk-test: serving");
    // It ends at the last client's `Stop`; the others' are answered.
    let mut stops_left: u32 = process::argument("stops")
        .and_then(|value| value.parse().ok())
        .unwrap_or(1);
    let served = serve_bulk::<BulkTest>(
        &inbox,
        BULK_PORTS,
        |_, _: ReplyTo, request, bulk, replies: &mut Replies| match (request, bulk) {
            (Request::Store, Bulk::Received(bytes)) => Handled::Reply(Reply::Stored {
                length: bytes.len() as u32,
                sum: sum(&bytes),
            }),
            (Request::Fetch { length, seed }, _) => {
                Handled::ReplyWith(Reply::Fetched, pattern(seed, length as usize))
            }
            (
                Request::Promise {
                    length,
                    seed,
                    whole,
                },
                _,
            ) => {
                let mut bytes = pattern(seed, length as usize);
                if replies.promise::<BulkTest>(Reply::Fetched, bytes.len()) {
                    if !whole {
                        bytes.pop();
                    }
                    Handled::Fulfil(bytes)
                } else {
                    Handled::ReplyWith(Reply::Fetched, bytes)
                }
            }
            (Request::Stop, _) => {
                stops_left = stops_left.saturating_sub(1);
                if stops_left == 0 {
                    Handled::Stop
                } else {
                    Handled::Reply(Reply::Stopped)
                }
            }
            _ => Handled::Reply(Reply::Missing),
        },
    );
    match served {
        Ok(counters) => {
            println!("bulk-test: stopped: {counters:?}");
            0
        }
        Err(errno) => {
            println!("bulk-test: serving failed: {errno}");
            1
        }
    }
}

/// A client of the server on the cluster `server=` names (waiting for it to come).
fn connect() -> Option<Client<BulkTest>> {
    let node = process::argument("server")
        .and_then(cluster::find)
        .map(|info| info.first_node)?;
    Client::connect(node, PORT, REPLY_PORT).ok()
}

fn client() -> i32 {
    let mut checks = Checks::new();
    let Some(mut client) = connect() else {
        println!("bulk-test: no server");
        return 1;
    };
    for length in [1usize, 127, 4096, 100_000, 1 << 19] {
        let bytes = pattern(length as u8, length);
        checks.same(
            "store",
            call_with_retry(|| client.call_sending(&Request::Store, &bytes)),
            Ok(Reply::Stored {
                length: length as u32,
                sum: sum(&bytes),
            }),
        );
        let mut buffer = vec![0u8; length];
        let fetched = call_with_retry(|| {
            client.call_receiving(
                &Request::Fetch {
                    length: length as u32,
                    seed: 7,
                },
                &mut buffer,
            )
        });
        checks.same("fetch", fetched, Ok((Reply::Fetched, length)));
        checks.same("the fetched bytes", buffer == pattern(7, length), true);
    }
    // Promised before made: whole, then one short (the caller hears the bytes did not
    // come whole), then whole again (nothing is left over from the short one).
    for (length, whole) in [
        (1usize, true),
        (2, true),
        (4096, true),
        (1 << 19, true),
        (4096, false),
        (100_000, true),
    ] {
        let mut buffer = vec![0u8; length];
        let fetched = call_with_retry(|| {
            client.call_receiving(
                &Request::Promise {
                    length: length as u32,
                    seed: 9,
                    whole,
                },
                &mut buffer,
            )
        });
        if whole {
            checks.same("promised", fetched, Ok((Reply::Fetched, length)));
            checks.same("the promised bytes", buffer == pattern(9, length), true);
        } else {
            checks.same(
                "promised, one short",
                fetched,
                Err(CallError::Rpc(RpcError::NoBulk)),
            );
        }
    }
    checks.same(
        "store nothing",
        client.call_sending(&Request::Store, &[]),
        Err(CallError::Rpc(RpcError::TooLarge)),
    );
    let mut small = [0u8; 10];
    checks.same(
        "fetch more than taken",
        client
            .call_receiving(
                &Request::Fetch {
                    length: 11,
                    seed: 1,
                },
                &mut small,
            )
            .map(|(reply, _)| reply),
        Err(CallError::Rpc(RpcError::NoBulk)),
    );
    checks.same(
        "store without bytes",
        client.call(&Request::Store),
        Ok(Reply::Missing),
    );
    checks.same("stop", stop(&mut client), true);
    checks.finish("bulk-test: client")
}

/// Calls again while the server says it is busy (a liar may hold its portals a
/// moment).
fn call_with_retry<T>(mut call: impl FnMut() -> Result<T, CallError>) -> Result<T, CallError> {
    for _ in 0..1000 {
        match call() {
            Err(CallError::Rpc(RpcError::Busy)) => thread::yield_now(),
            other => return other,
        }
    }
    call()
}

fn liar() -> i32 {
    let mut checks = Checks::new();
    let Some(mut client) = connect() else {
        println!("bulk-test: no server");
        return 1;
    };
    // Asks to send 1000 bytes and never does (the interim frame is ignored).
    let lie = |client: &mut Client<BulkTest>, bulk: BulkField, request: &Request, call: u32| {
        let mut buffer = [0u8; MESSAGE_BYTES];
        let header = RequestHeader {
            call,
            reply_port: client.reply_port(),
        };
        let length =
            encode_request_bulk::<BulkTest>(header, bulk, request, &mut buffer).unwrap_or_default();
        let mut reply = [0u8; MESSAGE_BYTES];
        client
            .call_raw(&buffer[..length], &mut reply)
            .map(|length| reply[..length].to_vec())
    };
    let first = lie(&mut client, BulkField::Sends(1000), &Request::Store, 1);
    let frame = |bytes: Result<Vec<u8>, libnanvix::Errno>| {
        bytes
            .map_err(CallError::Mailbox)
            .and_then(|bytes| decode_reply_frame::<BulkTest>(&bytes).map_err(CallError::Rpc))
    };
    checks.same(
        "the first lie gets a portal to send to",
        frame(first).map(|frame| match frame {
            ReplyFrame::Interim(1, port) => BULK_PORTS.contains(&port),
            _ => false,
        }),
        Ok(true),
    );
    let second = lie(&mut client, BulkField::Sends(1000), &Request::Store, 2);
    checks.same(
        "the second gets Busy (one portal a caller)",
        frame(second),
        Ok(ReplyFrame::Reply(2, Err(RpcError::Busy), None)),
    );
    // Asks for bytes and never takes them.
    let third = lie(
        &mut client,
        BulkField::Accepts(1 << 20),
        &Request::Fetch {
            length: 1 << 20,
            seed: 3,
        },
        3,
    );
    checks.same(
        "a reply with bytes that are never taken",
        frame(third),
        Ok(ReplyFrame::Reply(3, Ok(Reply::Fetched), Some(1 << 20))),
    );
    // The server still serves this caller.
    let mut buffer = [0u8; 64];
    checks.same(
        "served after lying",
        client
            .call_receiving(
                &Request::Fetch {
                    length: 64,
                    seed: 9,
                },
                &mut buffer,
            )
            .map(|(reply, length)| (reply, length, buffer.to_vec() == pattern(9, 64))),
        Ok((Reply::Fetched, 64, true)),
    );
    checks.same("stop", stop(&mut client), true);
    checks.finish("bulk-test: liar")
}

/// Asks the server to stop: answered (another client's `Stop` ends it), or the
/// call ends with `ECONNRESET` (this one did: the server ends without answering).
fn stop(client: &mut Client<BulkTest>) -> bool {
    matches!(
        client.call(&Request::Stop),
        Ok(Reply::Stopped) | Err(CallError::Mailbox(libnanvix::Errno::ConnectionReset))
    )
}
