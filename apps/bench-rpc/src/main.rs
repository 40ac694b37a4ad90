//! Benchmark program: null RPC round trips to a server on another cluster.
//!
//! Arguments: `partner=NAME` (required), `rounds=N` calls per trial (default
//! 2000), `trials=T` (default 5). The cluster with the lower index is the client:
//! it calls the partner's null server through `nanvix_rpc` (a typed request, a
//! typed reply, the server's `serve` loop), after a warm-up of `rounds` calls times
//! `trials` trials, prints `bench rpc_round_trip cycles=<cycles per call> bytes=0`
//! after each (read by `nanvix bench rpc`), and stops the server. The server
//! serves [`SERVER_PORT`] until told to stop.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::mailbox::Inbox;
use libnanvix::testing::time_trips;
use libnanvix::{cluster, println, process};
use nanvix_rpc::transport::{Client, Handled, serve};
use nanvix_rpc::{Operation, Protocol};
use serde::{Deserialize, Serialize};

/// The port the null server serves on.
const SERVER_PORT: u32 = 3;

/// The first port the client tries for its replies.
const REPLY_PORT: u32 = 4;

libnanvix::entry!(main);

#[derive(Serialize, Deserialize)]
enum NullRequest {
    /// Does nothing.
    Null,
    /// Ends the server's loop (no reply).
    Stop,
}

#[derive(Serialize, Deserialize)]
enum NullReply {
    Done,
}

struct NullProtocol;

impl Protocol for NullProtocol {
    const NAME: &'static str = "null";
    const SUMMARY: &'static str = "A server that does nothing, for the RPC benchmark.";
    const TABLE: &'static [Operation] = &[
        Operation {
            request: "Null",
            reply: "Done",
            summary: "nothing",
            errors: &[],
        },
        Operation {
            request: "Stop",
            reply: "(none)",
            summary: "ends the server",
            errors: &[],
        },
    ];
    type Request = NullRequest;
    type Reply = NullReply;
}

fn main() -> i32 {
    let number = |key: &str, default: u64| {
        process::argument(key)
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    let (rounds, trials) = (number("rounds", 2000), number("trials", 5));
    let (Ok(this), Some(partner)) = (
        cluster::this(),
        process::argument("partner").and_then(cluster::find),
    ) else {
        println!("bench-rpc: needs partner=NAME naming a cluster of the board");
        return 2;
    };
    let result = if this.index < partner.index {
        client(partner.first_node, rounds, trials)
    } else {
        server()
    };
    match result {
        Ok(()) => 0,
        Err(reason) => {
            println!("bench-rpc: {reason}");
            1
        }
    }
}

fn server() -> Result<(), &'static str> {
    let inbox = Inbox::create(SERVER_PORT).map_err(|_| "cannot create the server's port")?;
    serve::<NullProtocol>(&inbox, |_, _, request, _| match request {
        NullRequest::Null => Handled::Reply(NullReply::Done),
        NullRequest::Stop => Handled::Stop,
    })
    .map_err(|_| "the server's read failed")?;
    Ok(())
}

fn client(node: u32, rounds: u64, trials: u64) -> Result<(), &'static str> {
    let mut server = Client::<NullProtocol>::connect(node, SERVER_PORT, REPLY_PORT)
        .map_err(|_| "cannot reach the server")?;
    let call = || match server.call(&NullRequest::Null) {
        Ok(NullReply::Done) => Ok(()),
        Err(_) => Err("a call failed"),
    };
    time_trips("rpc_round_trip", 0, rounds, trials, call)?;
    // The server's loop ends on Stop, which it does not answer.
    let mut stop = [0u8; nanvix_rpc::MESSAGE_BYTES];
    let header = nanvix_rpc::RequestHeader {
        call: 0,
        reply_port: server.reply_port(),
    };
    let length = nanvix_rpc::encode_request::<NullProtocol>(header, &NullRequest::Stop, &mut stop)
        .map_err(|_| "cannot encode stop")?;
    server
        .send_raw(&stop[..length])
        .map_err(|_| "cannot stop the server")?;
    Ok(())
}
