//! Test program: the name server.
//!
//! Arguments (`KEY=VALUE`); `names=CLUSTER` names the cluster the name server runs
//! on (its first node):
//! - `mode=client`: links, looks up and unlinks names, checks every refusal (a
//!   name linked twice, missing, too long, another node's), sends requests that do
//!   not decode, name an unknown operation or are too short to answer, and checks
//!   the server answers each as it should and carries on; prints
//!   `name-test: N checks, M failed`.
//! - `mode=holder`: links `held`, prints `name-test: holding` and waits for ever (a
//!   test kills its cluster).
//! - `mode=taker`: waits until `held` is linked, prints `name-test: saw held`, then
//!   until the name server released it (its holder died), links it itself, and
//!   prints `name-test: took held`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::testing::Checks;
use libnanvix::{cluster, println, process, thread};
use nanvix_name_api::{
    NAME_MAX, NAME_PORT, NameCallError, NameClient, NameError, NameProtocol, NameReply, NameRequest,
};
use nanvix_rpc::transport::Client;
use nanvix_rpc::{MESSAGE_BYTES, RpcError, decode_reply};

libnanvix::entry!(main);

/// How long a taker waits for each step before it gives up.
const PATIENCE_NANOSECONDS: u64 = 20_000_000_000;

/// The name server's node (the first of the cluster `names=` names).
fn names_node() -> u32 {
    process::argument("names")
        .and_then(cluster::find)
        .map_or(u32::MAX, |info| info.first_node)
}

fn main() -> i32 {
    let node = names_node();
    if node == u32::MAX {
        println!("name-test: names=CLUSTER names no cluster of this board");
        return 2;
    }
    let mut names = match NameClient::connect(node) {
        Ok(names) => names,
        Err(errno) => {
            println!("name-test: cannot reach the name server: {errno}");
            return 2;
        }
    };
    match process::argument("mode") {
        Some("client") => client(&mut names),
        Some("holder") => holder(&mut names),
        Some("taker") => taker(&mut names),
        _ => {
            println!("name-test: mode=client|holder|taker");
            2
        }
    }
}

/// `Ok(result)`, so `Checks` (made for errnos) compares the whole result.
fn checked<T>(result: T) -> Result<T, libnanvix::Errno> {
    Ok(result)
}

fn client(names: &mut NameClient) -> i32 {
    let mut checks = Checks::new();
    let me = process::node();
    checks.expect("link", checked(names.link("test/a", 7)), checked(Ok(())));
    checks.expect(
        "lookup",
        checked(names.lookup("test/a")),
        checked(Ok((me, 7))),
    );
    checks.expect(
        "link twice",
        checked(names.link("test/a", 8)),
        checked(Err(NameCallError::Refused(NameError::Exists))),
    );
    checks.expect(
        "lookup missing",
        checked(names.lookup("missing")),
        checked(Err(NameCallError::Refused(NameError::NotFound))),
    );
    checks.expect(
        "unlink missing",
        checked(names.unlink("missing")),
        checked(Err(NameCallError::Refused(NameError::NotFound))),
    );
    // The server checks names itself (the typed client checks them first).
    let empty = NameRequest::Link {
        name: "".into(),
        port: 1,
    };
    checks.expect(
        "empty name, at the server",
        checked(names.call(&empty)),
        checked(Ok(NameReply::Refused(NameError::BadName))),
    );
    let long = NameRequest::Lookup {
        name: "n".repeat(NAME_MAX + 1),
    };
    checks.expect(
        "long name, at the server",
        checked(names.call(&long)),
        checked(Ok(NameReply::Refused(NameError::BadName))),
    );
    // Raw requests: call 77, reply port the client's own.
    let port = names.client().reply_port();
    let mut request = [0u8; 12];
    request[..4].copy_from_slice(&77u32.to_le_bytes());
    request[4..8].copy_from_slice(&port.to_le_bytes());
    let raw = |body: &[u8], names: &mut NameClient| {
        let mut message = [0u8; 16];
        message[..8].copy_from_slice(&request[..8]);
        message[8..8 + body.len()].copy_from_slice(body);
        let mut reply = [0u8; MESSAGE_BYTES];
        let length = names
            .client()
            .call_raw(&message[..8 + body.len()], &mut reply)
            .map_err(|errno| errno as u32)?;
        decode_reply::<NameProtocol>(&reply[..length])
            .map(|(call, reply)| (call, reply.map(|_| ())))
            .map_err(|_| u32::MAX)
    };
    checks.expect(
        "unknown operation",
        checked(raw(&[9], names)),
        checked(Ok((77, Err(RpcError::UnknownOperation(9))))),
    );
    // Link, then a name length past the message.
    checks.expect(
        "undecodable body",
        checked(raw(&[0, 60, b'x'], names)),
        checked(Ok((77, Err(RpcError::Undecodable)))),
    );
    checks.expect(
        "empty body",
        checked(raw(&[], names)),
        checked(Ok((77, Err(RpcError::Undecodable)))),
    );
    // Too short to answer: no reply; the next call is answered as usual.
    checks.expect(
        "headless message",
        names.client().send_raw(&[1, 2, 3]),
        Ok(()),
    );
    checks.expect(
        "served after all that",
        checked(names.lookup("test/a")),
        checked(Ok((me, 7))),
    );
    // More callers than the server keeps reply mailboxes open for: each is
    // answered, twice over (the oldest are closed and opened again).
    let mut callers = alloc::vec::Vec::new();
    let count = nanvix_rpc::transport::CALLERS_MAX + 4;
    for _ in 0..count {
        match Client::<NameProtocol>::connect(names_node(), NAME_PORT, 4) {
            Ok(client) => callers.push(client),
            Err(errno) => {
                checks.expect("another caller", Err::<(), _>(errno), Ok(()));
                break;
            }
        }
    }
    let lookup = NameRequest::Lookup {
        name: "test/a".into(),
    };
    let mut answered = 0;
    for _ in 0..2 {
        for caller in &mut callers {
            if caller.call(&lookup) == Ok(NameReply::Found { node: me, port: 7 }) {
                answered += 1;
            }
        }
    }
    checks.expect("many callers answered", Ok(answered), Ok(2 * count));
    for caller in callers {
        let _ = caller.close();
    }
    checks.expect("unlink", checked(names.unlink("test/a")), checked(Ok(())));
    checks.expect(
        "lookup after unlink",
        checked(names.lookup("test/a")),
        checked(Err(NameCallError::Refused(NameError::NotFound))),
    );
    checks.finish("name-test")
}

fn holder(names: &mut NameClient) -> i32 {
    if let Err(error) = names.link("held", 3) {
        println!("name-test: link held: {error}");
        return 1;
    }
    println!("name-test: holding");
    loop {
        let _ = thread::sleep_nanoseconds(1_000_000_000);
    }
}

fn taker(names: &mut NameClient) -> i32 {
    if !wait_for(|| names.lookup("held").is_ok()) {
        println!("name-test: held never linked");
        return 1;
    }
    println!("name-test: saw held");
    let released =
        wait_for(|| names.lookup("held") == Err(NameCallError::Refused(NameError::NotFound)));
    if !released {
        println!("name-test: held never released");
        return 1;
    }
    match names.link("held", 4) {
        Ok(()) => {
            println!("name-test: took held");
            0
        }
        Err(error) => {
            println!("name-test: link held: {error}");
            1
        }
    }
}

/// Polls `done` every 10 ms until it holds (true) or the patience ran out (false).
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    let mut waited = 0;
    while waited < PATIENCE_NANOSECONDS {
        if done() {
            return true;
        }
        let _ = thread::sleep_nanoseconds(10_000_000);
        waited += 10_000_000;
    }
    false
}
