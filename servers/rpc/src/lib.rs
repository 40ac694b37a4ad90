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
//! Bytes longer than a message go beside it over portals: a request flags them in
//! its reply-port word (the caller sends bytes, or takes bytes back, or the
//! request's own body does not fit and comes beside it), a reply flags bytes that
//! follow, and an interim frame names the portal a caller sends to
//! (`docs/src/rpc.md`).
//!
//! [`transport`] carries the frames over libnanvix mailboxes and portals: a typed
//! [`Client`] and the loops a server runs ([`serve`], `serve_bulk`).
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

/// A request's reply-port word: the port is its low 16 bits; the rest flag bulk.
pub const PORT_MASK: u32 = 0xffff;
/// Request flag: the caller sends this many bytes beside the request (a third
/// header word, the length).
pub const FLAG_SENDS: u32 = 1 << 31;
/// Request flag: the caller takes up to this many bytes back (a third header word).
pub const FLAG_ACCEPTS: u32 = 1 << 30;
/// Request flag: a notice with no body: the caller finished sending the bytes of
/// call `call`.
pub const FLAG_SENT: u32 = 1 << 29;
/// Request flag: the request's body does not fit the message and travels beside
/// it over a portal, as a caller's bytes do (its length in the third header word;
/// with [`FLAG_ACCEPTS`] too, the bytes the caller takes back in a fourth). No body.
pub const FLAG_CARRIED: u32 = 1 << 28;
/// Longest request body that travels beside its message ([`FLAG_CARRIED`]).
pub const CARRIED_MAX: usize = 16 << 10;
/// Reply flag (on the call word): bytes follow on the caller's portal of its reply
/// port; a second word holds their length, then the reply.
pub const REPLY_BULK: u32 = 1 << 31;
/// Reply flag (on the call word): not the reply yet: send your bytes to the portal
/// port in the second word, then the notice [`FLAG_SENT`]. No body.
pub const REPLY_INTERIM: u32 = 1 << 30;
/// The bits of a call number (the others flag replies).
pub const CALL_MASK: u32 = REPLY_INTERIM - 1;

/// What a request says of bytes beside it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkField {
    /// Nothing.
    None,
    /// The caller sends this many bytes.
    Sends(u32),
    /// The caller takes up to this many bytes back.
    Accepts(u32),
    /// A notice: the caller sent its bytes.
    Sent,
    /// The request's body, `length` bytes, comes beside the message; the caller
    /// takes up to `accepts` bytes back, if it says.
    Carried { length: u32, accepts: Option<u32> },
}

/// The little-endian word at byte `at` of `message`, if it holds one.
fn word_at(message: &[u8], at: usize) -> Option<u32> {
    message
        .get(at..at + 4)
        .and_then(|bytes| bytes.try_into().ok())
        .map(u32::from_le_bytes)
}

/// What a request message says of bulk bytes (its reply-port word's flags).
pub fn request_bulk(message: &[u8]) -> BulkField {
    let word = |at: usize| word_at(message, at);
    match (word(4), word(8)) {
        (Some(flags), _) if flags & FLAG_SENT != 0 => BulkField::Sent,
        (Some(flags), Some(length)) if flags & FLAG_CARRIED != 0 => BulkField::Carried {
            length,
            accepts: (flags & FLAG_ACCEPTS != 0).then(|| word(12).unwrap_or(0)),
        },
        (Some(flags), Some(length)) if flags & FLAG_SENDS != 0 => BulkField::Sends(length),
        (Some(flags), Some(length)) if flags & FLAG_ACCEPTS != 0 => BulkField::Accepts(length),
        _ => BulkField::None,
    }
}

/// Where a request's body starts: after a third header word when it flags bulk.
fn body_start(message: &[u8]) -> usize {
    match request_bulk(message) {
        BulkField::Sends(_) | BulkField::Accepts(_) => REQUEST_HEADER_BYTES + 4,
        BulkField::Carried { accepts, .. } => {
            REQUEST_HEADER_BYTES + if accepts.is_some() { 8 } else { 4 }
        }
        _ => REQUEST_HEADER_BYTES,
    }
}

/// A reply frame: a reply (with the length of bytes that follow on the caller's
/// portal, if any), or an interim frame naming the portal port to send to.
#[derive(Debug, PartialEq)]
pub enum ReplyFrame<R> {
    /// The reply to `call`, and the bytes that follow, if any.
    Reply(u32, Result<R, RpcError>, Option<u32>),
    /// For `call`: send the bytes to this portal port.
    Interim(u32, u32),
}

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
    (
        "NoBulk",
        "the call sends or takes bytes beside its messages and the server serves none, or they did not arrive whole",
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
    /// The server takes or gives no bytes beside its messages, or the bytes of
    /// this call did not arrive whole.
    NoBulk,
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
            RpcError::NoBulk => formatter.write_str("the call's bytes did not go"),
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
    encode_request_bulk::<P>(header, BulkField::None, request, buffer)
}

/// Encodes a request of protocol `P` with `bulk` said of bytes beside it.
pub fn encode_request_bulk<P: Protocol>(
    header: RequestHeader,
    bulk: BulkField,
    request: &P::Request,
    buffer: &mut [u8; MESSAGE_BYTES],
) -> Result<usize, RpcError> {
    // The flags, up to two header words after the first two, and whether a body
    // follows in the message.
    let (flags, words, body) = match bulk {
        BulkField::None => (0, [None, None], true),
        BulkField::Sends(length) => (FLAG_SENDS, [Some(length), None], true),
        BulkField::Accepts(length) => (FLAG_ACCEPTS, [Some(length), None], true),
        BulkField::Sent => (FLAG_SENT, [None, None], false),
        BulkField::Carried { length, accepts } => (
            FLAG_CARRIED | accepts.map_or(0, |_| FLAG_ACCEPTS),
            [Some(length), accepts],
            false,
        ),
    };
    buffer[..4].copy_from_slice(&header.call.to_le_bytes());
    let word = (header.reply_port & PORT_MASK) | flags;
    buffer[4..REQUEST_HEADER_BYTES].copy_from_slice(&word.to_le_bytes());
    let mut start = REQUEST_HEADER_BYTES;
    for word in words.into_iter().flatten() {
        buffer[start..start + 4].copy_from_slice(&word.to_le_bytes());
        start += 4;
    }
    if !body {
        return Ok(start);
    }
    let body = postcard::to_slice(request, &mut buffer[start..]).map_err(|_| RpcError::TooLarge)?;
    Ok(start + body.len())
}

/// A request of protocol `P` as a body to carry beside its message: at most
/// [`CARRIED_MAX`] bytes ([`RpcError::TooLarge`] past that).
pub fn encode_body<P: Protocol>(request: &P::Request) -> Result<alloc::vec::Vec<u8>, RpcError> {
    let body = postcard::to_allocvec(request).map_err(|_| RpcError::TooLarge)?;
    if body.len() > CARRIED_MAX {
        return Err(RpcError::TooLarge);
    }
    Ok(body)
}

/// Decodes a request body of protocol `P`: one that does not decode is
/// undecodable, or an unknown operation when its operation number (the enum's
/// variant index, postcard's leading varint) is not one of `P`'s; trailing bytes
/// are undecodable too.
pub fn decode_body<P: Protocol>(body: &[u8]) -> Result<P::Request, RpcError> {
    match postcard::take_from_bytes::<P::Request>(body) {
        Ok((request, [])) => Ok(request),
        Ok(_) => Err(RpcError::Undecodable),
        Err(_) => match postcard::take_from_bytes::<u32>(body) {
            Ok((operation, _)) if operation >= P::OPERATIONS => {
                Err(RpcError::UnknownOperation(operation))
            }
            _ => Err(RpcError::Undecodable),
        },
    }
}

/// Decodes a request of protocol `P` (its body as [`decode_body`] does).
pub fn decode_request<P: Protocol>(message: &[u8]) -> Incoming<P::Request> {
    let Some(header) = request_header(message) else {
        return Incoming::Headless;
    };
    let Some(body) = message.get(body_start(message)..) else {
        return Incoming::Refused(header, RpcError::Undecodable);
    };
    match decode_body::<P>(body) {
        Ok(request) => Incoming::Request(header, request),
        Err(error) => Incoming::Refused(header, error),
    }
}

pub(crate) fn request_header(message: &[u8]) -> Option<RequestHeader> {
    let word = |at: usize| word_at(message, at);
    Some(RequestHeader {
        call: word(0)?,
        reply_port: word(4)? & PORT_MASK,
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

/// Encodes the reply to call `call`, with `length` bytes following on the caller's
/// portal, into `buffer`; returns its length.
pub fn encode_reply_bulk<P: Protocol>(
    call: u32,
    length: u32,
    reply: &Result<P::Reply, RpcError>,
    buffer: &mut [u8; MESSAGE_BYTES],
) -> Result<usize, RpcError> {
    buffer[..4].copy_from_slice(&(call | REPLY_BULK).to_le_bytes());
    buffer[4..8].copy_from_slice(&length.to_le_bytes());
    let body = postcard::to_slice(reply, &mut buffer[8..]).map_err(|_| RpcError::TooLarge)?;
    Ok(8 + body.len())
}

/// Encodes the notice that the caller of `header`'s call sent its bytes; returns
/// its length.
pub fn encode_sent_notice(header: RequestHeader, buffer: &mut [u8; MESSAGE_BYTES]) -> usize {
    buffer[..4].copy_from_slice(&header.call.to_le_bytes());
    let word = (header.reply_port & PORT_MASK) | FLAG_SENT;
    buffer[4..REQUEST_HEADER_BYTES].copy_from_slice(&word.to_le_bytes());
    REQUEST_HEADER_BYTES
}

/// The interim frame for call `call`: send the bytes to portal port `port`.
pub fn encode_interim(call: u32, port: u32) -> [u8; 8] {
    let mut frame = [0; 8];
    frame[..4].copy_from_slice(&(call | REPLY_INTERIM).to_le_bytes());
    frame[4..].copy_from_slice(&port.to_le_bytes());
    frame
}

/// Decodes any reply frame of protocol `P`. One that does not decode (or has
/// trailing bytes) is [`RpcError::BadReply`].
pub fn decode_reply_frame<P: Protocol>(message: &[u8]) -> Result<ReplyFrame<P::Reply>, RpcError> {
    let word = |at: usize| word_at(message, at).ok_or(RpcError::BadReply);
    let first = word(0)?;
    let call = first & CALL_MASK;
    if first & REPLY_INTERIM != 0 {
        return match message.len() {
            8 => Ok(ReplyFrame::Interim(call, word(4)?)),
            _ => Err(RpcError::BadReply),
        };
    }
    let (start, bulk) = if first & REPLY_BULK != 0 {
        (8, Some(word(4)?))
    } else {
        (REPLY_HEADER_BYTES, None)
    };
    match postcard::take_from_bytes(&message[start..]) {
        Ok((reply, [])) => Ok(ReplyFrame::Reply(call, reply, bulk)),
        _ => Err(RpcError::BadReply),
    }
}

/// Decodes a plain reply of protocol `P` (no bytes beside, not interim): its call
/// number and what the server answered. A reply that does not decode (or has
/// trailing bytes), or another kind of frame, is [`RpcError::BadReply`].
pub fn decode_reply<P: Protocol>(
    message: &[u8],
) -> Result<(u32, Result<P::Reply, RpcError>), RpcError> {
    match decode_reply_frame::<P>(message)? {
        ReplyFrame::Reply(call, reply, None) => Ok((call, reply)),
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
