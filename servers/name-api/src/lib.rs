//! The name server's protocol: link, look up and unlink names of (node, port).
//!
//! A name stands for a mailbox or portal port on a NoC node. A program links a name
//! to a port on *its own* node (the server takes the node from the hardware-stamped
//! header of the request, never from the body); anyone may look a name up; only a
//! program on the node holding a name may unlink it, and the names a node held are
//! released when its cluster dies.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::{String, ToString};
use nanvix_rpc::transport::{CallError, Client, ServerCallError};
use nanvix_rpc::{Operation, Protocol};
use nanvix_sys::Errno;
use serde::{Deserialize, Serialize};

/// Longest name, in bytes (UTF-8).
pub const NAME_MAX: usize = 64;

/// The port the name server serves on, on its node.
pub const NAME_PORT: u32 = 1;

/// The first port a client tries for the inbox its replies come to.
pub const FIRST_REPLY_PORT: u32 = 24;

/// The name server's requests, one variant per operation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameRequest {
    /// Links `name` to `port` on the caller's node.
    Link { name: String, port: u32 },
    /// Looks `name` up.
    Lookup { name: String },
    /// Unlinks `name` (the caller's node must hold it).
    Unlink { name: String },
}

/// The name server's replies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameReply {
    /// The name now stands for the caller's node and port.
    Linked,
    /// The name stands for `port` on `node`.
    Found { node: u32, port: u32 },
    /// The name is gone.
    Unlinked,
    /// The request was refused.
    Refused(NameError),
}

/// Why the name server refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum NameError {
    /// No such name.
    NotFound,
    /// The name is linked already.
    Exists,
    /// The name is empty, longer than [`NAME_MAX`] bytes, or holds a control character.
    BadName,
    /// The server holds as many names as it can.
    Full,
    /// The name is held by another node.
    NotHolder,
}

impl core::fmt::Display for NameError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        formatter.write_str(match self {
            NameError::NotFound => "no such name",
            NameError::Exists => "the name is linked already",
            NameError::BadName => "not a valid name",
            NameError::Full => "the name server is full",
            NameError::NotHolder => "the name is held by another node",
        })
    }
}

/// Checks `name`: 1 to [`NAME_MAX`] bytes, no control characters.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() || name.len() > NAME_MAX || name.chars().any(char::is_control) {
        return Err(NameError::BadName);
    }
    Ok(())
}

/// The name server's protocol.
pub struct NameProtocol;

impl Protocol for NameProtocol {
    const NAME: &'static str = "name";
    const SUMMARY: &'static str = "Names of (node, port): a program links a name to a port of its own \
        node (the server takes the node from the hardware-stamped header of the request), anyone \
        looks names up, and only the holder's node unlinks them. A name is 1 to 64 bytes of UTF-8 \
        with no control characters; the server holds up to 256. A name dies with the incarnation \
        of its holder's cluster: once that cluster is dead or booted again, the next request that \
        meets the name releases it. The server (`servers/name`, program `name-server`) serves on \
        port 1 (`NAME_PORT`) of its node. A refusal is `NameReply::Refused(NameError)`, and \
        changes nothing.";
    const TABLE: &'static [Operation] = &[
        Operation {
            request: "Link { name, port }",
            reply: "Linked",
            summary: "links `name` to `port` on the caller's node",
            errors: &[
                ("Exists", "the name is linked already (to a live holder)"),
                (
                    "BadName",
                    "the name is empty, too long, or holds a control character",
                ),
                ("Full", "the server holds as many names as it can"),
            ],
        },
        Operation {
            request: "Lookup { name }",
            reply: "Found { node, port }",
            summary: "where `name` points",
            errors: &[
                ("NotFound", "no such name, or its holder died"),
                ("BadName", "not a valid name"),
            ],
        },
        Operation {
            request: "Unlink { name }",
            reply: "Unlinked",
            summary: "removes `name`; the caller's node (in the epoch that linked it) must hold it",
            errors: &[
                ("NotFound", "no such name, or its holder died"),
                (
                    "NotHolder",
                    "another node, or another incarnation of this one, holds it",
                ),
                ("BadName", "not a valid name"),
            ],
        },
    ];
    type Request = NameRequest;
    type Reply = NameReply;
}

/// Why a name call failed: the name server refused it, or the call itself failed.
pub type NameCallError = ServerCallError<NameError>;

/// A typed client of the name server on `node`.
pub struct NameClient {
    client: Client<NameProtocol>,
}

impl NameClient {
    /// A client of the name server on `node` (at [`NAME_PORT`]).
    pub fn connect(node: u32) -> Result<NameClient, Errno> {
        Ok(NameClient {
            client: Client::connect(node, NAME_PORT, FIRST_REPLY_PORT)?,
        })
    }

    /// Links `name` to `port` on this program's node.
    pub fn link(&mut self, name: &str, port: u32) -> Result<(), NameCallError> {
        check_name(name).map_err(NameCallError::Refused)?;
        let request = NameRequest::Link {
            name: name.to_string(),
            port,
        };
        match self.call(&request)? {
            NameReply::Linked => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Where `name` points: (node, port).
    pub fn lookup(&mut self, name: &str) -> Result<(u32, u32), NameCallError> {
        check_name(name).map_err(NameCallError::Refused)?;
        let request = NameRequest::Lookup {
            name: name.to_string(),
        };
        match self.call(&request)? {
            NameReply::Found { node, port } => Ok((node, port)),
            other => Err(unexpected(other)),
        }
    }

    /// Unlinks `name` (this program's node must hold it).
    pub fn unlink(&mut self, name: &str) -> Result<(), NameCallError> {
        check_name(name).map_err(NameCallError::Refused)?;
        let request = NameRequest::Unlink {
            name: name.to_string(),
        };
        match self.call(&request)? {
            NameReply::Unlinked => Ok(()),
            other => Err(unexpected(other)),
        }
    }

    /// Sends `request` as it is (no checks on this side) and returns the reply.
    pub fn call(&mut self, request: &NameRequest) -> Result<NameReply, NameCallError> {
        Ok(self.client.call(request)?)
    }

    /// The untyped client underneath (tests send raw bytes through it).
    pub fn client(&mut self) -> &mut Client<NameProtocol> {
        &mut self.client
    }

    /// Closes the client.
    pub fn close(self) -> Result<(), Errno> {
        self.client.close()
    }
}

/// A refusal as an error; any other reply than the one asked for is a bad reply.
fn unexpected(reply: NameReply) -> NameCallError {
    match reply {
        NameReply::Refused(error) => NameCallError::Refused(error),
        _ => NameCallError::Call(CallError::Rpc(nanvix_rpc::RpcError::BadReply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nanvix_rpc::{Incoming, MESSAGE_BYTES, RequestHeader, decode_request, encode_request};

    #[test]
    fn the_longest_name_fits_a_request() {
        let name: String = "n".repeat(NAME_MAX);
        assert_eq!(check_name(&name), Ok(()));
        let request = NameRequest::Link {
            name,
            port: u32::MAX,
        };
        // The largest call number and reply port a frame carries.
        let header = RequestHeader {
            call: nanvix_rpc::CALL_MASK,
            reply_port: nanvix_rpc::PORT_MASK,
        };
        let mut buffer = [0; MESSAGE_BYTES];
        let length = encode_request::<NameProtocol>(header, &request, &mut buffer).unwrap();
        assert_eq!(
            decode_request::<NameProtocol>(&buffer[..length]),
            Incoming::Request(header, request)
        );
    }

    #[test]
    fn bad_names_are_refused() {
        for name in ["", "tab\there", "line\n"] {
            assert_eq!(check_name(name), Err(NameError::BadName), "{name:?}");
        }
        assert_eq!(
            check_name(&"n".repeat(NAME_MAX + 1)),
            Err(NameError::BadName)
        );
        assert_eq!(check_name("/servers/vfs"), Ok(()));
    }

    /// The operation number of each request (exhaustive: a new variant fails to
    /// compile here until the table has its row).
    fn operation_of(request: &NameRequest) -> usize {
        match request {
            NameRequest::Link { .. } => 0,
            NameRequest::Lookup { .. } => 1,
            NameRequest::Unlink { .. } => 2,
        }
    }

    /// Each error's name (exhaustive, as above).
    fn error_name(error: NameError) -> &'static str {
        match error {
            NameError::NotFound => "NotFound",
            NameError::Exists => "Exists",
            NameError::BadName => "BadName",
            NameError::Full => "Full",
            NameError::NotHolder => "NotHolder",
        }
    }

    #[test]
    fn the_table_is_the_request_enum() {
        let name = || String::from("x");
        let examples = [
            NameRequest::Link {
                name: name(),
                port: 0,
            },
            NameRequest::Lookup { name: name() },
            NameRequest::Unlink { name: name() },
        ];
        for (number, example) in examples.iter().enumerate() {
            assert_eq!(operation_of(example), number);
        }
        let errors = [
            NameError::NotFound,
            NameError::Exists,
            NameError::BadName,
            NameError::Full,
            NameError::NotHolder,
        ];
        nanvix_rpc::check_table::<NameProtocol>(&examples, &errors.map(error_name)).unwrap();
    }

    #[test]
    fn operations_counts_the_request_variants() {
        // The last variant's index is OPERATIONS - 1: postcard writes it first.
        let mut buffer = [0; MESSAGE_BYTES];
        let header = RequestHeader {
            call: 0,
            reply_port: 0,
        };
        let last = NameRequest::Unlink { name: "x".into() };
        encode_request::<NameProtocol>(header, &last, &mut buffer).unwrap();
        assert_eq!(u32::from(buffer[8]), NameProtocol::OPERATIONS - 1);
    }
}
