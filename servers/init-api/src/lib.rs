//! init's protocol: the servers it supervises, and an orderly shutdown.
//!
//! init runs on the boot I/O cluster. It starts the servers the manifest's `[init]`
//! section lists, each in its program slot, restarts one that ends by its policy,
//! and on `Shutdown` stops them in the reverse order (a SIGTERM notice first, so a
//! server that catches it can flush and end by itself; a kill after a grace
//! period), then ends, and the board powers off.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use nanvix_rpc::transport::{Client, ServerCallError};
use nanvix_rpc::{Operation, Protocol};
use nanvix_sys::Errno;
use serde::{Deserialize, Serialize};

/// The port init serves on, on its node (the boot cluster's node of init's slot).
pub const INIT_PORT: u32 = 3;

/// The first port a client tries for the inbox its replies come to.
pub const FIRST_REPLY_PORT: u32 = 28;

/// init's requests, one variant per operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitRequest {
    /// The servers from the `from`-th on, as many as fit a reply.
    Servers { from: u32 },
    /// Stops every server in the reverse order and ends init with `status` (the
    /// board's I/O clusters' programs only).
    Shutdown { status: i32 },
    /// From init's own supervisors only: a server ended for good.
    Settled,
}

/// A server as [`InitReply::Servers`] lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerEntry {
    /// Its program name.
    pub name: String,
    /// Its program slot on the boot cluster.
    pub slot: u32,
    /// Whether it runs now.
    pub running: bool,
    /// How many times init started it again.
    pub restarts: u32,
    /// The status its last run ended with, if one ended.
    pub last_status: Option<i32>,
}

/// init's replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitReply {
    /// Servers in start order; `more` when others did not fit (ask again from the
    /// next position).
    Servers {
        entries: Vec<ServerEntry>,
        more: bool,
    },
    /// Every server was stopped; init ends.
    ShutDown,
    /// The request was refused.
    Refused(InitError),
}

/// Why init refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InitError {
    /// Only programs of the board's I/O clusters may shut it down.
    NotPermitted,
    /// Only init's own supervisors send this.
    NotInternal,
}

impl core::fmt::Display for InitError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            InitError::NotPermitted => "only programs of I/O clusters may shut the board down",
            InitError::NotInternal => "only init's own supervisors send this",
        })
    }
}

/// init's protocol.
pub struct InitProtocol;

impl Protocol for InitProtocol {
    const NAME: &'static str = "init";
    const SUMMARY: &'static str = "init (`apps/init`) runs on the boot I/O cluster and serves on \
        port 3 (`INIT_PORT`) of its node. It starts the servers the manifest's `[init]` section \
        lists, in order, each in its program slot (so its node and id stay the same when it is \
        started again), and passes each the argument `supervisor=NODE` (init's node: a server \
        that catches SIGTERM trusts notices from it). When a server ends, init starts it again \
        by its policy (`never`; `on-failure`: a status other than 0; `always`), at most 5 \
        times in 10 s; a server that ends for good is settled. `Shutdown` stops the servers in \
        the reverse order: a SIGTERM notice (`nanvix_sys::signal`) to the server's node, up to \
        2 s for it to end by itself, then a kill; init then ends with the status asked, and the \
        board powers off once every cluster is off. When every server settled by itself, init \
        ends too, with 0 when each last ended with 0. A refusal is \
        `InitReply::Refused(InitError)`, and changes nothing.";
    const TABLE: &'static [Operation] = &[
        Operation {
            request: "Servers { from }",
            reply: "Servers { entries, more }",
            summary: "the supervised servers from position `from` on (name, slot, running, restarts, last status), as many as fit a reply",
            errors: &[],
        },
        Operation {
            request: "Shutdown { status }",
            reply: "ShutDown",
            summary: "stops every server in the reverse order (a SIGTERM notice, 2 s, a kill) and ends init with `status`",
            errors: &[("NotPermitted", "the caller is not on an I/O cluster")],
        },
        Operation {
            request: "Settled",
            reply: "(none)",
            summary: "from init's own supervisors: a server ended for good",
            errors: &[("NotInternal", "the caller is not init's own node")],
        },
    ];
    type Request = InitRequest;
    type Reply = InitReply;
}

/// Why an init call failed: init refused it, or the call itself failed.
pub type InitCallError = ServerCallError<InitError>;

/// A typed client of init on `node`.
pub struct InitClient {
    client: Client<InitProtocol>,
}

impl InitClient {
    /// A client of init on `node` (at [`INIT_PORT`]).
    pub fn connect(node: u32) -> Result<InitClient, Errno> {
        Ok(InitClient {
            client: Client::connect(node, INIT_PORT, FIRST_REPLY_PORT)?,
        })
    }

    /// The supervised servers, in start order (as many calls as it takes).
    pub fn servers(&mut self) -> Result<Vec<ServerEntry>, InitCallError> {
        let mut all = Vec::new();
        loop {
            let from = all.len() as u32;
            match self.client.call(&InitRequest::Servers { from })? {
                InitReply::Servers { entries, more } => {
                    all.extend(entries);
                    if !more {
                        return Ok(all);
                    }
                }
                other => return Err(unexpected(other)),
            }
        }
    }

    /// Stops every server and ends init with `status`.
    pub fn shutdown(&mut self, status: i32) -> Result<(), InitCallError> {
        match self.client.call(&InitRequest::Shutdown { status })? {
            InitReply::ShutDown => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Sends `request` as it is and returns the reply.
    pub fn call(&mut self, request: &InitRequest) -> Result<InitReply, InitCallError> {
        Ok(self.client.call(request)?)
    }

    /// Closes the client.
    pub fn close(self) -> Result<(), Errno> {
        self.client.close()
    }
}

/// A refusal as an error; any other reply than the one asked for is a bad reply.
fn unexpected(reply: InitReply) -> InitCallError {
    match reply {
        InitReply::Refused(error) => InitCallError::Refused(error),
        _ => InitCallError::Call(nanvix_rpc::transport::CallError::Rpc(
            nanvix_rpc::RpcError::BadReply,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanvix_rpc::{MESSAGE_BYTES, encode_reply};

    fn operation_of(request: &InitRequest) -> usize {
        match request {
            InitRequest::Servers { .. } => 0,
            InitRequest::Shutdown { .. } => 1,
            InitRequest::Settled => 2,
        }
    }

    #[test]
    fn the_table_is_the_request_enum() {
        let examples = [
            InitRequest::Servers { from: 0 },
            InitRequest::Shutdown { status: 0 },
            InitRequest::Settled,
        ];
        for (number, example) in examples.iter().enumerate() {
            assert_eq!(operation_of(example), number);
        }
        nanvix_rpc::check_table::<InitProtocol>(&examples, &["NotPermitted", "NotInternal"])
            .unwrap();
    }

    #[test]
    fn a_page_of_entries_fits_a_reply() {
        let entry = ServerEntry {
            name: "x".repeat(nanvix_rpc::MESSAGE_BYTES),
            slot: u32::MAX,
            running: true,
            restarts: u32::MAX,
            last_status: Some(i32::MIN),
        };
        // A page is as many entries as fit: init checks each page it sends.
        let mut buffer = [0; MESSAGE_BYTES];
        let one = InitReply::Servers {
            entries: alloc::vec![ServerEntry {
                name: "process-server".into(),
                ..entry.clone()
            }],
            more: true,
        };
        assert!(encode_reply::<InitProtocol>(u32::MAX, &Ok(one), &mut buffer).is_ok());
        let too_long = InitReply::Servers {
            entries: alloc::vec![entry],
            more: false,
        };
        assert!(encode_reply::<InitProtocol>(u32::MAX, &Ok(too_long), &mut buffer).is_err());
    }
}
