//! The frames over mailboxes: a typed client, and the loop a server runs.

use crate::{
    BulkField, CALL_MASK, Incoming, MESSAGE_BYTES, Protocol, ReplyFrame, RequestHeader, RpcError,
    decode_reply_frame, decode_request, encode_interim, encode_reply, encode_reply_bulk,
    encode_request_bulk, request_bulk,
};
use alloc::vec::Vec;
use core::marker::PhantomData;
use nanvix_sys::Errno;
use nanvix_sys::abi::{MAILBOX_PORTS, MessageHeader, PORTAL_TRANSFER_MAX};
use nanvix_sys::mailbox::{Inbox, Outbox};
use nanvix_sys::portal::{Inportal, Outportal, OwnedRead, OwnedWrite};

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
    server_node: u32,
    inbox: Inbox,
    reply_port: u32,
    /// The portal of the reply port's number, where bytes a server sends arrive
    /// (created at the first call that takes bytes back).
    portal: Option<Inportal>,
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
            server_node: node,
            inbox,
            reply_port,
            portal: None,
            // Calls are numbered from a point that differs from one client to the
            // next (the cycle counter's low bits): a late reply to a call of an
            // earlier program that had this reply port (on a warm cluster, the
            // previous process) does not pass for a reply to this client's call.
            next_call: (nanvix_sys::clock::cycles() as u32 & CALL_MASK).max(1),
            protocol: PhantomData,
        })
    }

    /// The port the client's replies come to.
    pub fn reply_port(&self) -> u32 {
        self.reply_port
    }

    /// Sends `request` and waits for its reply (replies to earlier calls that come
    /// late are skipped). A request that does not fit a message goes beside it
    /// (up to `CARRIED_MAX` bytes, to a server with bulk portals).
    pub fn call(&mut self, request: &P::Request) -> Result<P::Reply, CallError> {
        let frame = match self.send(request, BulkField::None) {
            Ok(call) => self.frame(call)?,
            Err(CallError::Rpc(RpcError::TooLarge)) => self.carry(request, None)?,
            Err(error) => return Err(error),
        };
        match frame {
            ReplyFrame::Reply(_, reply, None) => Ok(reply?),
            _ => Err(CallError::Rpc(RpcError::BadReply)),
        }
    }

    /// Sends `request`'s body beside its message (it does not fit one), taking up
    /// to `accepts` bytes back; the final reply frame.
    fn carry(
        &mut self,
        request: &P::Request,
        accepts: Option<u32>,
    ) -> Result<ReplyFrame<P::Reply>, CallError> {
        let body = crate::encode_body::<P>(request)?;
        let carried = BulkField::Carried {
            length: body.len() as u32,
            accepts,
        };
        let call = self.send(request, carried)?;
        match self.frame(call)? {
            ReplyFrame::Interim(_, port) => self.deliver(call, port, &body),
            frame => Ok(frame),
        }
    }

    /// Writes `bytes` for call `call` to the server's portal `port` and says so;
    /// the final reply frame.
    fn deliver(
        &mut self,
        call: u32,
        port: u32,
        bytes: &[u8],
    ) -> Result<ReplyFrame<P::Reply>, CallError> {
        let portal = Outportal::open(self.server_node, port)?;
        let written = portal.write(bytes);
        let _ = portal.close();
        written?;
        let header = RequestHeader {
            call,
            reply_port: self.reply_port,
        };
        let mut notice = [0u8; MESSAGE_BYTES];
        // A notice has no body: any request type encodes it.
        let length = crate::encode_sent_notice(header, &mut notice);
        // The bytes left this cluster, but the server may not have taken them all
        // yet: it says `Busy` then, and the notice goes again.
        for _ in 0..NOTICES_MAX {
            self.server.write(&notice[..length])?;
            match self.frame(call)? {
                ReplyFrame::Reply(_, Err(RpcError::Busy), None) => {
                    nanvix_sys::thread::yield_now();
                }
                frame => return Ok(frame),
            }
        }
        Err(CallError::Rpc(RpcError::Busy))
    }

    /// Sends `request` and `bytes` beside it (over a portal the server names), and
    /// waits for the reply. A server that takes no bytes answers
    /// [`RpcError::NoBulk`] (or its own refusal) before any went.
    pub fn call_sending(
        &mut self,
        request: &P::Request,
        bytes: &[u8],
    ) -> Result<P::Reply, CallError> {
        if bytes.is_empty() || bytes.len() > PORTAL_TRANSFER_MAX {
            return Err(CallError::Rpc(RpcError::TooLarge));
        }
        let call = self.send(request, BulkField::Sends(bytes.len() as u32))?;
        let frame = match self.frame(call)? {
            ReplyFrame::Interim(_, port) => self.deliver(call, port, bytes)?,
            frame => frame,
        };
        match frame {
            ReplyFrame::Reply(_, reply, None) => Ok(reply?),
            _ => Err(CallError::Rpc(RpcError::BadReply)),
        }
    }

    /// Sends `request`, taking up to `buffer.len()` bytes back beside the reply
    /// (over the portal of this client's reply port); returns the reply and how
    /// many bytes came.
    pub fn call_receiving(
        &mut self,
        request: &P::Request,
        buffer: &mut [u8],
    ) -> Result<(P::Reply, usize), CallError> {
        let capacity = buffer.len().min(PORTAL_TRANSFER_MAX) as u32;
        let frame = match self.send(request, BulkField::Accepts(capacity)) {
            Ok(call) => self.frame(call)?,
            Err(CallError::Rpc(RpcError::TooLarge)) => self.carry(request, Some(capacity))?,
            Err(error) => return Err(error),
        };
        match frame {
            ReplyFrame::Reply(_, reply, None) => Ok((reply?, 0)),
            ReplyFrame::Reply(_, reply, Some(length)) if length > 0 && length <= capacity => {
                if self.portal.is_none() {
                    self.portal = Some(Inportal::create(self.reply_port)?);
                }
                let portal = self
                    .portal
                    .as_ref()
                    .ok_or(CallError::Mailbox(Errno::Busy))?;
                portal.allow(self.server_node, length as usize)?;
                let (_, arrived) = portal.read(&mut buffer[..length as usize])?;
                if arrived != length as usize {
                    return Err(CallError::Rpc(RpcError::NoBulk));
                }
                Ok((reply?, arrived))
            }
            _ => Err(CallError::Rpc(RpcError::BadReply)),
        }
    }

    /// Sends `request` (with `bulk` said of bytes beside it) as a new call; its
    /// number.
    fn send(&mut self, request: &P::Request, bulk: BulkField) -> Result<u32, CallError> {
        let call = self.next_call;
        self.next_call = (self.next_call.wrapping_add(1) & CALL_MASK).max(1);
        let mut buffer = [0u8; MESSAGE_BYTES];
        let header = RequestHeader {
            call,
            reply_port: self.reply_port,
        };
        let length = encode_request_bulk::<P>(header, bulk, request, &mut buffer)?;
        self.server.write(&buffer[..length])?;
        Ok(call)
    }

    /// The next frame for call `call` (frames of earlier calls that come late are
    /// skipped).
    fn frame(&mut self, call: u32) -> Result<ReplyFrame<P::Reply>, CallError> {
        let mut buffer = [0u8; MESSAGE_BYTES];
        loop {
            // A server whose program ended will not answer: `ECONNRESET` then.
            let (_, length) = self.inbox.read_from_peer(&self.server, &mut buffer)?;
            let frame = decode_reply_frame::<P>(&buffer[..length])?;
            let answered = match &frame {
                ReplyFrame::Reply(answered, ..) | ReplyFrame::Interim(answered, _) => *answered,
            };
            if answered == call {
                return Ok(frame);
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

    /// Closes the client: its outbox, inbox and portal.
    pub fn close(self) -> Result<(), Errno> {
        self.server.close()?;
        if let Some(portal) = self.portal {
            let _ = portal.unlink();
        }
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

/// What came beside a request (for a server that serves bytes beside its
/// messages: [`serve_bulk`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Bulk {
    /// Nothing.
    None,
    /// The bytes the caller sent, whole.
    Received(Vec<u8>),
    /// The caller takes up to this many bytes back ([`Handled::ReplyWith`]).
    Accepts(usize),
}

/// What a server's handler did with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled<R> {
    /// Answer the caller with this.
    Reply(R),
    /// Answer the caller with this and these bytes (no more than it accepts, and
    /// only to a caller that accepts bytes: else it gets [`RpcError::NoBulk`]).
    ReplyWith(R, Vec<u8>),
    /// The bytes [`Replies::promise`] promised the caller, made after the reply went
    /// (any other length, or any other answer after a promise, tells the caller its
    /// bytes did not come whole: `RpcError::NoBulk`).
    Fulfil(Vec<u8>),
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
    /// The request being handled, if its caller takes bytes back and the server
    /// has room for one more write: where they go and how many it takes.
    promisable: Option<(ReplyTo, usize)>,
    /// The bytes promised to it: their length and the caller's portal, open.
    promised: Option<(usize, Outportal)>,
}

/// A promise's fewest bytes: a shorter transfer must be able to say the bytes did
/// not come whole.
pub const PROMISE_MIN: usize = 2;

impl Replies {
    /// Answers the call `to` with `reply` and the length of bytes that follow on
    /// its portal.
    fn send_bulk<P: Protocol>(
        &mut self,
        to: ReplyTo,
        reply: Result<P::Reply, RpcError>,
        length: u32,
    ) {
        let mut buffer = [0u8; MESSAGE_BYTES];
        let sent = match encode_reply_bulk::<P>(to.call, length, &reply, &mut buffer) {
            Ok(frame) => self.callers.write(to.node, to.port, &buffer[..frame]),
            Err(error) => Err(CallError::Rpc(error)),
        };
        if sent.is_err() {
            self.unsent += 1;
        }
    }

    /// Tells the caller of `to` to send its bytes to portal port `port`.
    fn interim(&mut self, to: ReplyTo, port: u32) {
        if self
            .callers
            .write(to.node, to.port, &encode_interim(to.call, port))
            .is_err()
        {
            self.unsent += 1;
        }
    }

    /// For the request being handled, whose caller takes bytes back: sends `reply`
    /// at once saying `length` bytes follow, so that the caller allows its portal
    /// while the handler makes them; the handler then answers
    /// [`Handled::Fulfil`] with exactly those bytes. `false`, and nothing sent,
    /// when the request takes no bytes (or not that many), `length` is under
    /// [`PROMISE_MIN`], the server has [`OUTGOING_MAX`] writes going, or the
    /// caller's portal does not open: answer as usual then.
    pub fn promise<P: Protocol>(&mut self, reply: P::Reply, length: usize) -> bool {
        let Some((to, accepts)) = self.promisable else {
            return false;
        };
        if self.promised.is_some() || length < PROMISE_MIN || length > accepts {
            return false;
        }
        let Ok(portal) = Outportal::open(to.node, to.port) else {
            return false;
        };
        self.send_bulk::<P>(to, Ok(reply), length as u32);
        self.promised = Some((length, portal));
        true
    }

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
/// (other than one the caller's death caused) ends the loop with its errno. This
/// loop takes no bytes beside requests (`RpcError::NoBulk`): [`serve_bulk`] does.
pub fn serve<P: Protocol>(
    inbox: &Inbox,
    mut handle: impl FnMut(&MessageHeader, ReplyTo, P::Request, &mut Replies) -> Handled<P::Reply>,
) -> Result<ServeCounters, Errno> {
    serve_bulk::<P>(inbox, 0..0, |sender, to, request, _, replies| {
        handle(sender, to, request, replies)
    })
}

/// Writes a server keeps going at once: more bytes to send back are refused with
/// `RpcError::Busy` until some ended.
pub const OUTGOING_MAX: usize = 16;

/// Polls of a caller's transfer, once it says it sent, before the server answers
/// the notice `RpcError::Busy` (the request stays; the caller says it again): the
/// bytes are on their way by then, but the host may not run the server's kernel
/// for a while.
const SENT_POLLS: u32 = 256;

/// Notices a caller sends for one call's bytes before it gives up (`Busy`): each
/// costs the server up to [`SENT_POLLS`] polls.
const NOTICES_MAX: u32 = 100_000;

/// What a caller's bytes on their way in are for.
enum Awaiting<R> {
    /// The request they go with.
    Bytes(R),
    /// They are the request's body (the caller takes up to `accepts` bytes back).
    Body { accepts: Option<u32> },
}

/// A caller's bytes on their way in, on one of the server's bulk portals.
struct Inbound<R> {
    node: u32,
    to: ReplyTo,
    /// What they are for, until the request is served (or answered `NoBulk`).
    awaiting: Option<Awaiting<R>>,
    read: OwnedRead,
    /// How the read ended, once a poll said.
    ended: Option<Result<(u32, usize), Errno>>,
    length: usize,
}

impl<R> Inbound<R> {
    fn poll(&mut self) -> Option<Result<(u32, usize), Errno>> {
        if self.ended.is_none() {
            self.ended = self.read.poll();
        }
        self.ended
    }
}

/// The transfers beside requests a server keeps going: its bulk portals (one
/// caller's bytes each at a time) and its writes back.
struct Transfers<R> {
    portals: Vec<(u32, Inportal, Option<Inbound<R>>)>,
    outgoing: Vec<OwnedWrite>,
}

impl<R> Transfers<R> {
    /// Drops the writes that ended, and frees the portals whose transfer ended
    /// and whose request was answered, or whose transfer failed (its caller died).
    fn reap(&mut self) {
        self.outgoing.retain_mut(|write| write.poll().is_none());
        for (_, _, held) in &mut self.portals {
            let free = held.as_mut().is_some_and(|inbound| {
                let answered = inbound.awaiting.is_none();
                match inbound.poll() {
                    Some(Ok(_)) => answered,
                    Some(Err(_)) => true,
                    None => false,
                }
            });
            if free {
                *held = None;
            }
        }
    }

    /// Leaves what never ended to the program's end and unlinks the free portals
    /// (the loop stops).
    fn abandon(self) {
        for write in self.outgoing {
            write.abandon();
        }
        // A portal whose transfer never ended cannot be unlinked (its allow is
        // pending): it ends with the program; the others go now.
        for (_, portal, held) in self.portals {
            match held {
                Some(inbound) => inbound.read.abandon(),
                None => {
                    let _ = portal.unlink();
                }
            }
        }
    }
}

/// As [`serve`], and bytes beside requests: a caller's bytes (`call_sending`)
/// arrive on a portal of `ports` (one caller at a time each: with all taken, a
/// request that sends bytes gets `RpcError::Busy`) and come to `handle` as
/// [`Bulk::Received`], whole; a handler answers a caller that takes bytes
/// (`call_receiving`, [`Bulk::Accepts`]) with [`Handled::ReplyWith`], and the
/// bytes go to that caller's portal in the background. The loop never waits for
/// a caller: a transfer it started is polled, and a caller that never sends or
/// never takes its bytes holds one portal (one a caller's node at most: its next
/// request that sends bytes gets `RpcError::Busy`) or one of [`OUTGOING_MAX`]
/// writes, and no one else. `ports` must not be ports the server's own node's
/// clients take for their replies (their portals are of the same numbers).
pub fn serve_bulk<P: Protocol>(
    inbox: &Inbox,
    ports: core::ops::Range<u32>,
    mut handle: impl FnMut(&MessageHeader, ReplyTo, P::Request, Bulk, &mut Replies) -> Handled<P::Reply>,
) -> Result<ServeCounters, Errno> {
    let mut counters = ServeCounters::default();
    let mut buffer = [0u8; MESSAGE_BYTES];
    let mut replies = Replies::default();
    let mut transfers = Transfers::<P::Request> {
        portals: Vec::new(),
        outgoing: Vec::new(),
    };
    for port in ports {
        transfers
            .portals
            .push((port, Inportal::create(port)?, None));
    }
    loop {
        transfers.reap();
        let (sender, length) = match inbox.read(&mut buffer) {
            Ok(read) => read,
            Err(Errno::HostDown) => continue,
            Err(errno) => {
                transfers.abandon();
                return Err(errno);
            }
        };
        let message = &buffer[..length];
        let to = |header: RequestHeader| ReplyTo {
            node: sender.source_node,
            port: header.reply_port,
            call: header.call,
        };
        let bulk = request_bulk(message);
        let (header, request, bulk) = match (decode_request::<P>(message), bulk) {
            (Incoming::Headless, _) => {
                counters.headless += 1;
                continue;
            }
            // A caller's notice that it sent the bytes of a call it made.
            (_, BulkField::Sent) => {
                let Some(header) = crate::request_header(message) else {
                    continue;
                };
                match received(&mut transfers, sender.source_node, header.call) {
                    Some(Notice::Whole(to, Awaiting::Bytes(request), bytes)) => {
                        (to, request, Bulk::Received(bytes))
                    }
                    Some(Notice::Whole(to, Awaiting::Body { accepts }, body)) => {
                        match crate::decode_body::<P>(&body) {
                            Ok(request) => (
                                to,
                                request,
                                accepts.map_or(Bulk::None, |capacity| {
                                    Bulk::Accepts(capacity as usize)
                                }),
                            ),
                            Err(error) => {
                                counters.refused += 1;
                                replies.send::<P>(to, Err(error));
                                continue;
                            }
                        }
                    }
                    Some(Notice::Refused(to, error)) => {
                        counters.refused += 1;
                        replies.send::<P>(to, Err(error));
                        continue;
                    }
                    None => {
                        counters.headless += 1;
                        continue;
                    }
                }
            }
            // A request whose body comes beside it: taken as a caller's bytes.
            (_, BulkField::Carried { length, accepts }) => {
                let Some(header) = crate::request_header(message) else {
                    continue;
                };
                let started = if length as usize > crate::CARRIED_MAX {
                    Err(RpcError::TooLarge)
                } else {
                    start_inbound(
                        &mut transfers,
                        sender.source_node,
                        to(header),
                        Awaiting::Body { accepts },
                        length,
                    )
                };
                match started {
                    Ok(port) => replies.interim(to(header), port),
                    Err(error) => {
                        counters.refused += 1;
                        replies.send::<P>(to(header), Err(error));
                    }
                }
                continue;
            }
            (Incoming::Refused(header, error), _) => {
                counters.refused += 1;
                replies.send::<P>(to(header), Err(error));
                continue;
            }
            (Incoming::Request(header, request), BulkField::Sends(length)) => {
                match start_inbound(
                    &mut transfers,
                    sender.source_node,
                    to(header),
                    Awaiting::Bytes(request),
                    length,
                ) {
                    Ok(port) => replies.interim(to(header), port),
                    Err(error) => {
                        counters.refused += 1;
                        replies.send::<P>(to(header), Err(error));
                    }
                }
                continue;
            }
            (Incoming::Request(header, request), BulkField::Accepts(capacity)) => {
                (to(header), request, Bulk::Accepts(capacity as usize))
            }
            (Incoming::Request(header, request), BulkField::None) => {
                (to(header), request, Bulk::None)
            }
        };
        counters.served += 1;
        let accepts = match bulk {
            Bulk::Accepts(capacity) => capacity,
            _ => 0,
        };
        replies.promisable =
            (accepts > 0 && transfers.outgoing.len() < OUTGOING_MAX).then_some((header, accepts));
        let handled = handle(&sender, header, request, bulk, &mut replies);
        replies.promisable = None;
        if let Some((length, portal)) = replies.promised.take() {
            // The reply went: the bytes follow, whole, or a transfer of another
            // length that tells the caller they did not come.
            let stop = matches!(handled, Handled::Stop);
            let bytes = match handled {
                Handled::Fulfil(bytes) if bytes.len() == length => bytes,
                _ => alloc::vec![0; length - 1],
            };
            match OwnedWrite::start_on(portal, bytes) {
                Ok(write) => transfers.outgoing.push(write),
                Err(_) => replies.unsent += 1,
            }
            if stop {
                counters.unsent = replies.unsent;
                transfers.abandon();
                return Ok(counters);
            }
            counters.unsent = replies.unsent;
            continue;
        }
        match handled {
            Handled::Reply(reply) => replies.send::<P>(header, Ok(reply)),
            // Bytes nobody promised.
            Handled::Fulfil(_) => replies.send::<P>(header, Err(RpcError::NoBulk)),
            Handled::ReplyWith(reply, bytes) if bytes.is_empty() => {
                replies.send::<P>(header, Ok(reply));
            }
            Handled::ReplyWith(_, bytes) if bytes.len() > accepts => {
                replies.send::<P>(header, Err(RpcError::NoBulk));
            }
            Handled::ReplyWith(_, _) if transfers.outgoing.len() >= OUTGOING_MAX => {
                replies.send::<P>(header, Err(RpcError::Busy));
            }
            Handled::ReplyWith(reply, bytes) => {
                let length = bytes.len() as u32;
                match OwnedWrite::start(header.node, header.port, bytes) {
                    Ok(write) => {
                        transfers.outgoing.push(write);
                        replies.send_bulk::<P>(header, Ok(reply), length);
                    }
                    Err(_) => replies.send::<P>(header, Err(RpcError::NoBulk)),
                }
            }
            Handled::Later => {}
            Handled::Stop => {
                counters.unsent = replies.unsent;
                transfers.abandon();
                return Ok(counters);
            }
        }
        counters.unsent = replies.unsent;
    }
}

/// Starts taking `length` bytes from `node` for call `to` on a free bulk portal;
/// its port.
fn start_inbound<R>(
    transfers: &mut Transfers<R>,
    node: u32,
    to: ReplyTo,
    awaiting: Awaiting<R>,
    length: u32,
) -> Result<u32, RpcError> {
    if transfers.portals.is_empty() {
        return Err(RpcError::NoBulk);
    }
    if length == 0 || length as usize > PORTAL_TRANSFER_MAX {
        return Err(RpcError::TooLarge);
    }
    // One portal a caller: one that never sends holds up only itself.
    if transfers
        .portals
        .iter()
        .any(|(_, _, held)| held.as_ref().is_some_and(|inbound| inbound.node == node))
    {
        return Err(RpcError::Busy);
    }
    let Some((port, portal, held)) = transfers
        .portals
        .iter_mut()
        .find(|(_, _, held)| held.is_none())
    else {
        return Err(RpcError::Busy);
    };
    let read = OwnedRead::start(portal, node, length as usize).map_err(|errno| match errno {
        // More than the server's heap holds now.
        Errno::NoMemory => RpcError::TooLarge,
        _ => RpcError::NoBulk,
    })?;
    *held = Some(Inbound {
        node,
        to,
        awaiting: Some(awaiting),
        read,
        ended: None,
        length: length as usize,
    });
    Ok(*port)
}

/// What a caller's notice that it sent a call's bytes comes to.
enum Notice<R> {
    /// What the bytes are for, and the bytes, whole.
    Whole(ReplyTo, Awaiting<R>, Vec<u8>),
    /// The answer to the notice: `Busy` while the bytes are still on their way (the
    /// request stays, for the caller's next notice), `NoBulk` when they failed.
    Refused(ReplyTo, RpcError),
}

/// The caller at `node` says it sent the bytes of `call`: what that comes to;
/// `None` if no such call waits.
fn received<R>(transfers: &mut Transfers<R>, node: u32, call: u32) -> Option<Notice<R>> {
    let (_, _, held) = transfers.portals.iter_mut().find(|(_, _, held)| {
        held.as_ref().is_some_and(|inbound| {
            inbound.node == node && inbound.to.call == call && inbound.awaiting.is_some()
        })
    })?;
    let inbound = held.as_mut()?;
    let mut ended = None;
    for _ in 0..SENT_POLLS {
        ended = inbound.poll();
        if ended.is_some() {
            break;
        }
        nanvix_sys::thread::yield_now();
    }
    let to = inbound.to;
    match ended {
        Some(Ok((source, length))) if source == node && length == inbound.length => {
            let mut inbound = held.take()?;
            let awaiting = inbound.awaiting.take()?;
            Some(Notice::Whole(to, awaiting, inbound.read.into_bytes()))
        }
        // Still on its way: the request waits for the caller's next notice.
        None => Some(Notice::Refused(to, RpcError::Busy)),
        // Failed or short: the caller's bytes did not come whole. The request is
        // answered; the portal stays held until the transfer ends.
        Some(_) => {
            inbound.awaiting = None;
            Some(Notice::Refused(to, RpcError::NoBulk))
        }
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
        self.write(node, header.reply_port, &buffer[..length])
    }

    /// Sends the frame `bytes` to `port` on `node`, without waiting for room.
    fn write(&mut self, node: u32, reply_port: u32, bytes: &[u8]) -> Result<(), CallError> {
        let header = RequestHeader {
            call: 0,
            reply_port,
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
        let sent = self.open[position].2.try_write(bytes);
        if sent == Err(Errno::HostDown) {
            // The caller's cluster died: forget its mailbox.
            let (_, _, outbox) = self.open.remove(position);
            let _ = outbox.close();
        }
        Ok(sent?)
    }
}
