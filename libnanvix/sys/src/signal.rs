//! POSIX-like signals: their numbers, and the thread that runs a program's handlers.
//!
//! The process server carries out a signal's default action itself: it powers the
//! process' cluster off, and the process ends with status 128 + the signal. A
//! process that catches SIGINT or SIGTERM tells the process server so (the process
//! server's client does that); the server then sends it a *notice* instead, a
//! message of [`NOTICE_BYTES`] (the signal number, little-endian) to the program's
//! signal port ([`port_of`]). A signal thread of the program, started by [`listen`], reads
//! the notices (only those from the node it trusts: the process server's, as the
//! hardware stamps it) and runs the handler [`set_handler`] installed.
//!
//! Handlers run on that thread, beside the program's other threads, not on top of
//! an interrupted one: the other threads go on meanwhile (like a thread that waits
//! in `sigwait`). A notice for a signal with no handler installed here takes the
//! default action in the program: it exits with 128 + the signal.

use crate::mailbox::Inbox;
use crate::{process, thread};
use nanvix_abi::Errno;

pub use nanvix_abi::{SIGINT, SIGKILL, SIGTERM};

pub use nanvix_abi::{KERNEL_PROGRAM, SIGNAL_PORT, SIGNAL_PORTS};

/// The signal port of program `id` on a cluster of `node_count` nodes
/// (`nanvix_abi::signal_port`).
pub fn port_of(id: u32, node_count: u32) -> u32 {
    nanvix_abi::signal_port(id, node_count)
}

/// The size of a notice: the signal number, little-endian.
pub const NOTICE_BYTES: usize = 4;

/// The signal thread's stack (handlers run on it).
pub const SIGNAL_STACK: usize = 16 * 1024;

/// What runs when a caught signal arrives; it gets the signal's number.
pub type Handler = fn(u32);

/// The handlers of SIGINT and SIGTERM (the signals that may be caught).
static HANDLERS: spin::Mutex<[Option<Handler>; 2]> = spin::Mutex::new([None, None]);

/// Whether the signal thread runs, and whom it trusts.
static LISTENING: spin::Mutex<Option<Trusted>> = spin::Mutex::new(None);

/// The slot of `signal` in the handler table, if it may be caught.
fn slot(signal: u32) -> Option<usize> {
    match signal {
        SIGINT => Some(0),
        SIGTERM => Some(1),
        _ => None,
    }
}

/// Whether `signal` may be caught or ignored (SIGINT and SIGTERM).
pub fn catchable(signal: u32) -> bool {
    slot(signal).is_some()
}

/// The name of `signal` (`SIGINT`, ...), or `None` for numbers this system does not
/// name.
pub fn name(signal: u32) -> Option<&'static str> {
    match signal {
        SIGINT => Some("SIGINT"),
        SIGKILL => Some("SIGKILL"),
        SIGTERM => Some("SIGTERM"),
        _ => None,
    }
}

/// The number of the signal named `name` (`INT`, `SIGINT` or its number).
pub fn parse(name: &str) -> Option<u32> {
    let bare = name.strip_prefix("SIG").unwrap_or(name);
    match bare {
        "INT" => Some(SIGINT),
        "KILL" => Some(SIGKILL),
        "TERM" => Some(SIGTERM),
        number => number
            .parse::<u32>()
            .ok()
            .filter(|signal| self::name(*signal).is_some()),
    }
}

/// A notice of `signal`, as the process server sends it.
pub fn encode_notice(signal: u32) -> [u8; NOTICE_BYTES] {
    signal.to_le_bytes()
}

/// The signal a notice names, if `bytes` is one.
pub fn decode_notice(bytes: &[u8]) -> Option<u32> {
    let bytes: [u8; NOTICE_BYTES] = bytes.try_into().ok()?;
    Some(u32::from_le_bytes(bytes)).filter(|signal| catchable(*signal))
}

/// Installs `handler` for `signal` (SIGINT or SIGTERM; `None` takes the default
/// action back) in this program. The process server must be told too, or it goes on
/// ending the process by default.
pub fn set_handler(signal: u32, handler: Option<Handler>) -> Result<(), Errno> {
    let slot = slot(signal).ok_or(Errno::Invalid)?;
    HANDLERS.lock()[slot] = handler;
    Ok(())
}

/// The handler installed for `signal`.
pub fn handler(signal: u32) -> Option<Handler> {
    slot(signal).and_then(|slot| HANDLERS.lock()[slot])
}

/// Who a signal thread takes notices from: a node, and with `program`, only that
/// program of it (the kernel stamps the id; [`KERNEL_PROGRAM`] is the kernel's own).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trusted {
    /// The sender's node.
    pub node: u32,
    /// The sender's program id, if it must be one.
    pub program: Option<u32>,
}

impl Trusted {
    /// Whether a message stamped with `header` comes from the trusted sender.
    pub fn sent(&self, header: &nanvix_abi::MessageHeader) -> bool {
        header.source_node == self.node
            && self
                .program
                .is_none_or(|program| program == header.source_program)
    }
}

/// Starts the signal thread (once; later calls only check the sender matches): it
/// reads notices at this program's signal port ([`port_of`]) sent from
/// `trusted_node` and runs their handlers. Returns the port.
pub fn listen(trusted_node: u32) -> Result<u32, Errno> {
    listen_to(Trusted {
        node: trusted_node,
        program: None,
    })
}

/// [`listen`] to the kernel of this program's own node only: the board's shutdown
/// request reaches the boot cluster's first program (init) as a SIGTERM notice the
/// kernel sends (hosted: a SIGTERM to the runner).
pub fn listen_to_kernel() -> Result<u32, Errno> {
    listen_to(Trusted {
        node: process::node(),
        program: Some(KERNEL_PROGRAM),
    })
}

fn listen_to(trusted: Trusted) -> Result<u32, Errno> {
    let port = port_of(
        process::id(),
        crate::cluster::this().map_or(1, |this| this.node_count),
    );
    let mut listening = LISTENING.lock();
    match *listening {
        Some(already) if already == trusted => return Ok(port),
        Some(_) => return Err(Errno::Busy),
        None => {}
    }
    let inbox = Inbox::create(port)?;
    thread::spawn_with_stack(SIGNAL_STACK, move || run(inbox, trusted))?;
    *listening = Some(trusted);
    Ok(port)
}

/// For a program init supervises (argument `supervisor=NODE`): runs `handler` when
/// init's SIGTERM notice comes (at shutdown), so the program can flush and end by
/// itself. Returns whether there is a supervisor.
pub fn follow_supervisor(handler: Handler) -> Result<bool, Errno> {
    let Some(node) = process::argument("supervisor").and_then(|node| node.parse().ok()) else {
        return Ok(false);
    };
    set_handler(SIGTERM, Some(handler))?;
    listen(node)?;
    Ok(true)
}

/// The signal thread: runs the handler of each notice `trusted` sends.
fn run(inbox: Inbox, trusted: Trusted) {
    let mut buffer = [0u8; crate::mailbox::NOC_PAYLOAD_MAX];
    loop {
        let Ok((header, length)) = inbox.read(&mut buffer) else {
            return;
        };
        if !trusted.sent(&header) {
            continue;
        }
        let Some(signal) = decode_notice(&buffer[..length]) else {
            continue;
        };
        match handler(signal) {
            Some(handler) => handler(signal),
            None => process::exit(128 + signal as i32),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_round_trip_and_only_catchable_signals_decode() {
        assert_eq!(decode_notice(&encode_notice(SIGINT)), Some(SIGINT));
        assert_eq!(decode_notice(&encode_notice(SIGTERM)), Some(SIGTERM));
        assert_eq!(decode_notice(&encode_notice(SIGKILL)), None);
        assert_eq!(decode_notice(&[2, 0, 0]), None, "short");
        assert_eq!(decode_notice(&[2, 0, 0, 0, 0]), None, "long");
    }

    #[test]
    fn programs_sharing_a_node_get_ports_of_their_own() {
        // Four nodes: ids 0, 4, 8 and 12 share node 0.
        let ports: alloc::vec::Vec<u32> = [0, 4, 8, 12].map(|id| port_of(id, 4)).into();
        assert_eq!(ports, [31, 30, 29, 28]);
        assert_eq!(port_of(3, 4), SIGNAL_PORT);
        assert_eq!(
            port_of(15, 1),
            SIGNAL_PORT - SIGNAL_PORTS + 1,
            "the last is shared"
        );
        assert_eq!(port_of(0, 0), SIGNAL_PORT);
    }

    #[test]
    fn names_parse_back() {
        for signal in [SIGINT, SIGKILL, SIGTERM] {
            let name = name(signal).unwrap();
            assert_eq!(parse(name), Some(signal));
            assert_eq!(parse(&name[3..]), Some(signal));
        }
        assert_eq!(parse("15"), Some(SIGTERM));
        assert_eq!(parse("3"), None);
        assert_eq!(parse("HUP"), None);
    }

    #[test]
    fn only_sigint_and_sigterm_take_handlers() {
        fn ignore(_: u32) {}
        assert_eq!(set_handler(SIGKILL, Some(ignore)), Err(Errno::Invalid));
        assert_eq!(set_handler(SIGINT, Some(ignore)), Ok(()));
        assert!(handler(SIGINT).is_some());
        assert!(handler(SIGTERM).is_none());
        assert_eq!(set_handler(SIGINT, None), Ok(()));
        assert!(handler(SIGINT).is_none());
    }
}
