//! The frames over mailboxes: a typed client, and the loop a server runs.

use crate::{
    Incoming, MESSAGE_BYTES, Protocol, RequestHeader, RpcError, decode_reply, decode_request,
    encode_reply, encode_request,
};
use core::marker::PhantomData;
use nanvix_sys::Errno;
use nanvix_sys::abi::{MAILBOX_PORTS, MessageHeader};
use nanvix_sys::mailbox::{Inbox, Outbox};

/// Why a call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// The server refused the call, or its reply was bad.
    Rpc(RpcError),
    /// A mailbox kcall failed (`EHOSTDOWN`: the server's cluster is dead;
    /// `ECONNRESET`: the server's program ended, or closed its mailbox, before it
    /// answered, so whether the request was carried out is unknown; a server that
    /// starts again on the same port serves the next call).
    Mailbox(Errno),
}

impl From<RpcError> for CallError {
    fn from(error: RpcError) -> CallError {
        CallError::Rpc(error)
    }
}

impl From<Errno> for CallError {
    fn from(error: Errno) -> CallError {
        CallError::Mailbox(error)
    }
}

impl core::fmt::Display for CallError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CallError::Rpc(error) => write!(formatter, "{error}"),
            CallError::Mailbox(errno) => write!(formatter, "mailbox: {errno:?}"),
        }
    }
}

/// Why a typed call to a server failed: the server refused it with its protocol's
/// error `E`, or the call itself failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerCallError<E> {
    /// The server refused it.
    Refused(E),
    /// The call itself failed.
    Call(CallError),
}

impl<E> From<CallError> for ServerCallError<E> {
    fn from(error: CallError) -> ServerCallError<E> {
        ServerCallError::Call(error)
    }
}

impl<E: core::fmt::Display> core::fmt::Display for ServerCallError<E> {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ServerCallError::Refused(error) => write!(formatter, "{error}"),
            ServerCallError::Call(error) => write!(formatter, "{error}"),
        }
    }
}

/// A client of the server of protocol `P` at (node, port): one call at a time,
/// answered in an inbox of its own.
pub struct Client<P: Protocol> {
    server: Outbox,
    inbox: Inbox,
    reply_port: u32,
    next_call: u32,
    protocol: PhantomData<P>,
}

impl<P: Protocol> Client<P> {
    /// A client of the server at `port` of `node`, answered in an inbox on the first
    /// free port of this node from `first_reply_port` on.
    pub fn connect(node: u32, port: u32, first_reply_port: u32) -> Result<Client<P>, Errno> {
        let (inbox, reply_port) = (first_reply_port..MAILBOX_PORTS as u32)
            .find_map(|port| Inbox::create(port).ok().map(|inbox| (inbox, port)))
            .ok_or(Errno::Busy)?;
        let server = match Outbox::open(node, port) {
            Ok(server) => server,
            Err(errno) => {
                let _ = inbox.unlink();
                return Err(errno);
            }
        };
        Ok(Client {
            server,
            inbox,
            reply_port,
            // Calls are numbered from a point that differs from one client to the
            // next (the cycle counter's low bits): a late reply to a call of an
            // earlier program that had this reply port (on a warm cluster, the
            // previous process) does not pass for a reply to this client's call.
            next_call: (nanvix_sys::clock::cycles() as u32).max(1),
            protocol: PhantomData,
        })
    }

    /// The port the client's replies come to.
    pub fn reply_port(&self) -> u32 {
        self.reply_port
    }

    /// Sends `request` and waits for its reply (replies to earlier calls that come
    /// late are skipped).
    pub fn call(&mut self, request: &P::Request) -> Result<P::Reply, CallError> {
        let call = self.next_call;
        self.next_call = self.next_call.wrapping_add(1).max(1);
        let mut buffer = [0u8; MESSAGE_BYTES];
        let header = RequestHeader {
            call,
            reply_port: self.reply_port,
        };
        let length = encode_request::<P>(header, request, &mut buffer)?;
        self.server.write(&buffer[..length])?;
        loop {
            // A server whose program ended will not answer: `ECONNRESET` then.
            let (_, length) = self.inbox.read_from_peer(&self.server, &mut buffer)?;
            let (answered, reply) = decode_reply::<P>(&buffer[..length])?;
            if answered == call {
                return Ok(reply?);
            }
        }
    }

    /// Sends raw `bytes` as a request and returns the raw reply (tests of servers'
    /// refusals use it).
    pub fn call_raw(&mut self, bytes: &[u8], reply: &mut [u8]) -> Result<usize, Errno> {
        self.send_raw(bytes)?;
        let (_, length) = self.inbox.read_from_peer(&self.server, reply)?;
        Ok(length)
    }

    /// Sends raw `bytes` to the server and waits for no reply.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        self.server.write(bytes)
    }

    /// Closes the client: its outbox and inbox.
    pub fn close(self) -> Result<(), Errno> {
        self.server.close()?;
        self.inbox.unlink()
    }
}

/// What a server's loop counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ServeCounters {
    /// Requests served.
    pub served: u64,
    /// Requests refused with an error reply.
    pub refused: u64,
    /// Messages too short to answer, dropped.
    pub headless: u64,
    /// Replies that could not be sent (the caller's cluster died, or its way was
    /// full: a caller that does not read its replies loses them, and holds up no one).
    pub unsent: u64,
}

/// Where the reply to one call goes: the caller's node (hardware-stamped), its reply
/// port and its call number. A server that answers later keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplyTo {
    /// The caller's node.
    pub node: u32,
    /// The caller's reply port.
    pub port: u32,
    /// The caller's call number.
    pub call: u32,
}

/// What a server's handler did with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled<R> {
    /// Answer the caller with this.
    Reply(R),
    /// The server answers later, through [`Replies::send`] (or never: a request
    /// that asks for no answer).
    Later,
    /// End the loop (no answer).
    Stop,
}

/// How a server answers: the reply mailboxes it keeps open.
#[derive(Default)]
pub struct Replies {
    callers: Callers,
    /// Replies that could not be sent.
    unsent: u64,
}

impl Replies {
    /// Answers the call `to` with `reply` (of protocol `P`), without waiting for room;
    /// a reply that cannot go (the caller's way is full, or its cluster died) is
    /// counted and dropped.
    pub fn send<P: Protocol>(&mut self, to: ReplyTo, reply: Result<P::Reply, RpcError>) {
        let header = RequestHeader {
            call: to.call,
            reply_port: to.port,
        };
        if self.callers.answer::<P>(to.node, header, &reply).is_err() {
            self.unsent += 1;
        }
    }
}

/// Serves protocol `P` on `inbox` until `handle` says stop: each request is handed to
/// `handle` with the mailbox header the hardware stamped (the caller's node and
/// epoch) and where its reply goes; the handler's reply goes back to the caller's
/// reply port on its node, now or later (`Handled::Later`, then [`Replies::send`]).
/// A request that does not decode, or names an unknown operation, gets an error
/// reply; a message too short to answer is counted and dropped. A failed read
/// (other than one the caller's death caused) ends the loop with its errno.
pub fn serve<P: Protocol>(
    inbox: &Inbox,
    mut handle: impl FnMut(&MessageHeader, ReplyTo, P::Request, &mut Replies) -> Handled<P::Reply>,
) -> Result<ServeCounters, Errno> {
    let mut counters = ServeCounters::default();
    let mut buffer = [0u8; MESSAGE_BYTES];
    let mut replies = Replies::default();
    loop {
        let (sender, length) = match inbox.read(&mut buffer) {
            Ok(read) => read,
            Err(Errno::HostDown) => continue,
            Err(errno) => return Err(errno),
        };
        let to = |header: RequestHeader| ReplyTo {
            node: sender.source_node,
            port: header.reply_port,
            call: header.call,
        };
        match decode_request::<P>(&buffer[..length]) {
            Incoming::Headless => counters.headless += 1,
            Incoming::Refused(header, error) => {
                counters.refused += 1;
                replies.send::<P>(to(header), Err(error));
            }
            Incoming::Request(header, request) => {
                counters.served += 1;
                match handle(&sender, to(header), request, &mut replies) {
                    Handled::Reply(reply) => replies.send::<P>(to(header), Ok(reply)),
                    Handled::Later => {}
                    Handled::Stop => {
                        counters.unsent = replies.unsent;
                        return Ok(counters);
                    }
                }
            }
        }
        counters.unsent = replies.unsent;
    }
}

/// Reply mailboxes a server keeps open, so a caller that calls again costs no
/// `mailbox_open` and `mailbox_close`: at most [`CALLERS_MAX`], the oldest closed
/// first.
#[derive(Default)]
struct Callers {
    /// (node, port, outbox), oldest first.
    open: alloc::vec::Vec<(u32, u32, Outbox)>,
}

/// Reply mailboxes a server keeps open at most (a program holds up to
/// `MAILBOXES_MAX`, 64).
pub const CALLERS_MAX: usize = 16;

impl Callers {
    /// Sends `reply` to the reply port `header` names on `node`, without waiting for
    /// room.
    fn answer<P: Protocol>(
        &mut self,
        node: u32,
        header: RequestHeader,
        reply: &Result<P::Reply, RpcError>,
    ) -> Result<(), CallError> {
        let mut buffer = [0u8; MESSAGE_BYTES];
        let length = match encode_reply::<P>(header.call, reply, &mut buffer) {
            Ok(length) => length,
            Err(error) => encode_reply::<P>(header.call, &Err(error), &mut buffer)?,
        };
        let position = match self
            .open
            .iter()
            .position(|(open_node, port, _)| *open_node == node && *port == header.reply_port)
        {
            Some(position) => position,
            None => {
                if self.open.len() >= CALLERS_MAX {
                    let (_, _, oldest) = self.open.remove(0);
                    let _ = oldest.close();
                }
                let outbox = Outbox::open(node, header.reply_port)?;
                self.open.push((node, header.reply_port, outbox));
                self.open.len() - 1
            }
        };
        let sent = self.open[position].2.try_write(&buffer[..length]);
        if sent == Err(Errno::HostDown) {
            // The caller's cluster died: forget its mailbox.
            let (_, _, outbox) = self.open.remove(position);
            let _ = outbox.close();
        }
        Ok(sent?)
    }
}
