//! The frame every server's requests and replies share: postcard over mailbox messages.
//!
//! A request is one mailbox message: an 8-byte header (the call's number and the
//! port of the caller's inbox for the reply, little-endian), then the request enum
//! of the server's protocol, encoded with postcard. A reply is one message to that
//! port on the caller's node (which the server learns from the hardware-stamped
//! mailbox header, never from the body): the call's number, then
//! `Result<Reply, RpcError>` encoded with postcard.
//!
//! A server answers a body that does not decode with [`RpcError::Undecodable`] and
//! an operation it does not know with [`RpcError::UnknownOperation`], and carries on.
//! A message shorter than the header names no port to answer: the server counts it
//! and drops it. Requests and replies that would not fit a message are refused
//! before they are sent ([`RpcError::TooLarge`]).
//!
//! [`transport`] carries the frames over libnanvix mailboxes: a typed [`Client`]
//! and the loop a server runs ([`serve`]).
//!
//! [`Client`]: transport::Client
//! [`serve`]: transport::serve

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Bytes of one request or reply: one mailbox message.
pub const MESSAGE_BYTES: usize = nanvix_abi::NOC_PAYLOAD_MAX;

/// Bytes of a request's header: the call number and the reply port (u32 each).
pub const REQUEST_HEADER_BYTES: usize = 8;

/// Bytes of a reply's header: the call number (u32).
pub const REPLY_HEADER_BYTES: usize = 4;

/// A server's protocol: what its api crate defines.
pub trait Protocol {
    /// The server's name, for messages and docs.
    const NAME: &'static str;
    /// What the server does, for docs (one paragraph).
    const SUMMARY: &'static str;
    /// The operations, by number: row `n` is the request enum's variant `n`. The
    /// protocol's page in docs/ is generated from this table.
    const TABLE: &'static [Operation];
    /// How many operations the request enum has (its variants): a request whose
    /// operation number is at least this is an unknown operation.
    const OPERATIONS: u32 = Self::TABLE.len() as u32;
    /// The requests (one variant per operation).
    type Request: Serialize + DeserializeOwned;
    /// The replies.
    type Reply: Serialize + DeserializeOwned;
}

/// One operation of a protocol, as its documentation shows it.
#[derive(Clone, Copy, Debug)]
pub struct Operation {
    /// The request variant with its fields, e.g. `Lookup { name }`.
    pub request: &'static str,
    /// The reply on success.
    pub reply: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The protocol's own errors it may answer with, and when.
    pub errors: &'static [(&'static str, &'static str)],
}

/// The errors of every call, whatever the server, and when they come: the source
/// of their table in docs/.
pub const RPC_ERRORS: &[(&str, &str)] = &[
    (
        "Undecodable",
        "the request's body does not decode as any of the server's requests, or has bytes left over",
    ),
    (
        "UnknownOperation(n)",
        "the request names operation number n, past the protocol's",
    ),
    (
        "TooLarge",
        "the request or reply would not fit one 128-byte message (refused before it is sent)",
    ),
    (
        "Busy",
        "the server holds as many calls as it can: try again",
    ),
    (
        "BadReply",
        "the client's verdict on a reply that does not decode or answers another call",
    ),
];

/// What goes wrong with a call itself, whatever the server: every protocol's
/// replies carry these beside their own errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RpcError {
    /// The request's body did not decode as any of the server's requests.
    Undecodable,
    /// The request named operation number `0`, which the server does not know.
    UnknownOperation(u32),
    /// The request or reply would not fit one message.
    TooLarge,
    /// The server is busy with as many calls as it holds: try again.
    Busy,
    /// The reply did not decode, or answered another call (client side).
    BadReply,
}

impl core::fmt::Display for RpcError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RpcError::Undecodable => formatter.write_str("the request did not decode"),
            RpcError::UnknownOperation(operation) => {
                write!(formatter, "unknown operation {operation}")
            }
            RpcError::TooLarge => formatter.write_str("the message would not fit a mailbox"),
            RpcError::Busy => formatter.write_str("the server is busy"),
            RpcError::BadReply => formatter.write_str("the reply did not decode"),
        }
    }
}

/// The fixed part of a request: which call it is and where to answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestHeader {
    /// The caller's number for this call, repeated in the reply.
    pub call: u32,
    /// The port of the caller's inbox (on the node the hardware stamped).
    pub reply_port: u32,
}

/// A request that arrived, decoded as far as it would go.
#[derive(Debug, PartialEq)]
pub enum Incoming<R> {
    /// A request to serve.
    Request(RequestHeader, R),
    /// A request to answer with an error.
    Refused(RequestHeader, RpcError),
    /// A message too short to name a reply port: nothing can be answered.
    Headless,
}

/// Encodes a request of protocol `P` into `buffer`; returns its length.
pub fn encode_request<P: Protocol>(
    header: RequestHeader,
    request: &P::Request,
    buffer: &mut [u8; MESSAGE_BYTES],
) -> Result<usize, RpcError> {
    buffer[..4].copy_from_slice(&header.call.to_le_bytes());
    buffer[4..REQUEST_HEADER_BYTES].copy_from_slice(&header.reply_port.to_le_bytes());
    let body = postcard::to_slice(request, &mut buffer[REQUEST_HEADER_BYTES..])
        .map_err(|_| RpcError::TooLarge)?;
    Ok(REQUEST_HEADER_BYTES + body.len())
}

/// Decodes a request of protocol `P`: a body that does not decode is refused as
/// undecodable, or as an unknown operation when its operation number (the enum's
/// variant index, postcard's leading varint) is not one of `P`'s; trailing bytes are
/// undecodable too.
pub fn decode_request<P: Protocol>(message: &[u8]) -> Incoming<P::Request> {
    let Some(header) = request_header(message) else {
        return Incoming::Headless;
    };
    let body = &message[REQUEST_HEADER_BYTES..];
    match postcard::take_from_bytes::<P::Request>(body) {
        Ok((request, [])) => Incoming::Request(header, request),
        Ok(_) => Incoming::Refused(header, RpcError::Undecodable),
        Err(_) => match postcard::take_from_bytes::<u32>(body) {
            Ok((operation, _)) if operation >= P::OPERATIONS => {
                Incoming::Refused(header, RpcError::UnknownOperation(operation))
            }
            _ => Incoming::Refused(header, RpcError::Undecodable),
        },
    }
}

fn request_header(message: &[u8]) -> Option<RequestHeader> {
    let word = |at: usize| {
        message
            .get(at..at + 4)
            .and_then(|bytes| bytes.try_into().ok())
            .map(u32::from_le_bytes)
    };
    Some(RequestHeader {
        call: word(0)?,
        reply_port: word(4)?,
    })
}

/// Encodes the reply to call `call` into `buffer`; returns its length.
pub fn encode_reply<P: Protocol>(
    call: u32,
    reply: &Result<P::Reply, RpcError>,
    buffer: &mut [u8; MESSAGE_BYTES],
) -> Result<usize, RpcError> {
    buffer[..REPLY_HEADER_BYTES].copy_from_slice(&call.to_le_bytes());
    let body = postcard::to_slice(reply, &mut buffer[REPLY_HEADER_BYTES..])
        .map_err(|_| RpcError::TooLarge)?;
    Ok(REPLY_HEADER_BYTES + body.len())
}

/// Decodes a reply of protocol `P`: its call number and what the server answered.
/// A reply that does not decode (or has trailing bytes) is [`RpcError::BadReply`].
pub fn decode_reply<P: Protocol>(
    message: &[u8],
) -> Result<(u32, Result<P::Reply, RpcError>), RpcError> {
    let call = message
        .get(..REPLY_HEADER_BYTES)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u32::from_le_bytes)
        .ok_or(RpcError::BadReply)?;
    match postcard::take_from_bytes(&message[REPLY_HEADER_BYTES..]) {
        Ok((reply, [])) => Ok((call, reply)),
        _ => Err(RpcError::BadReply),
    }
}

pub mod transport;

/// Checks protocol `P`'s [`Protocol::TABLE`] against its enums, for the api crates'
/// tests: `examples` holds one request per operation, in operation order; each must
/// encode with its row's number first (postcard writes the variant index first) and
/// be the variant the row names (its `Debug` form starts with the row's first word);
/// `errors` names every variant of the protocol's error enum: each must be
/// documented for some operation, and every documented error must be one of them.
pub fn check_table<P: Protocol>(
    examples: &[P::Request],
    errors: &[&str],
) -> Result<(), alloc::string::String>
where
    P::Request: core::fmt::Debug,
{
    use alloc::format;
    if examples.len() != P::TABLE.len() {
        return Err(format!(
            "{} examples for {} operations",
            examples.len(),
            P::TABLE.len()
        ));
    }
    let header = RequestHeader {
        call: 0,
        reply_port: 0,
    };
    for (number, (example, operation)) in examples.iter().zip(P::TABLE).enumerate() {
        let mut buffer = [0; MESSAGE_BYTES];
        encode_request::<P>(header, example, &mut buffer).map_err(|error| format!("{error}"))?;
        let encoded = postcard::take_from_bytes::<u32>(&buffer[REQUEST_HEADER_BYTES..])
            .map(|(operation, _)| operation as usize);
        if encoded != Ok(number) {
            return Err(format!("{example:?} is not operation {number}"));
        }
        let variant = operation.request.split(' ').next().unwrap_or_default();
        if !format!("{example:?}").starts_with(variant) {
            return Err(format!("{example:?} is not {variant}"));
        }
        if let Some((error, _)) = operation
            .errors
            .iter()
            .find(|(error, _)| !errors.contains(error))
        {
            return Err(format!("{error} is not an error of the protocol"));
        }
    }
    match errors.iter().find(|error| {
        !P::TABLE
            .iter()
            .any(|operation| operation.errors.iter().any(|(name, _)| name == *error))
    }) {
        Some(error) => Err(format!("{error} is documented for no operation")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
