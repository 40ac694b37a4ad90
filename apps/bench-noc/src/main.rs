//! Benchmark program: control-NoC and data-NoC round trips between two clusters.
//!
//! Arguments: `partner=NAME` (required), `rounds=N` round trips per trial (default
//! 10000), `trials=T` (default 5), `bytes=B` payload size (default 8, at most 128),
//! `mode=data` for data-NoC round trips of 4 KiB, 64 KiB and 1 MiB instead (rounds
//! scaled down for the larger sizes; lines `bench data_round_trip ...`),
//! `mode=mailbox` for round trips between two mailboxes (port [`MAILBOX_PORT`] on
//! each side; lines `bench mailbox_round_trip ...`), `mode=portal` for round trips
//! of the data sizes between two portals (port [`PORTAL_PORT`] on each side, each
//! side allowing the other's transfer before it comes; lines
//! `bench portal_round_trip ...`).
//! The cluster with the lower index is the client: after a warm-up of `rounds`
//! round trips it times `trials` trials and prints one line per trial,
//! `bench noc_round_trip cycles=<cycles per round trip> bytes=<B>`, read by
//! `nanvix bench`. The other side echoes every message back.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use libnanvix::abi::{ClusterInfo, NOC_PAYLOAD_MAX};
use libnanvix::mailbox::{Inbox, Outbox};
use libnanvix::portal::{Inportal, Outportal};
use libnanvix::testing::time_trips;
use libnanvix::{cluster, data, noc, println, process};

/// The port of each side's mailbox in `mode=mailbox`.
const MAILBOX_PORT: u32 = 1;

/// The port of each side's portal in `mode=portal`.
const PORTAL_PORT: u32 = 2;

/// What the round trips go through.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Control,
    Data,
    Mailbox,
    Portal,
}

libnanvix::entry!(main);

struct Options<'a> {
    partner: Option<&'a str>,
    mode: Mode,
    rounds: u64,
    trials: u64,
    bytes: usize,
}

fn options() -> Result<Options<'static>, &'static str> {
    let mut options = Options {
        partner: None,
        mode: Mode::Control,
        rounds: 10_000,
        trials: 5,
        bytes: 8,
    };
    for argument in process::arguments().skip(1) {
        let number = |text: &str| text.parse::<u64>().map_err(|_| "expected a number");
        if let Some(name) = argument.strip_prefix("partner=") {
            options.partner = Some(name);
        } else if let Some(rounds) = argument.strip_prefix("rounds=") {
            options.rounds = number(rounds)?.max(1);
        } else if let Some(trials) = argument.strip_prefix("trials=") {
            options.trials = number(trials)?.max(1);
        } else if argument == "mode=data" {
            options.mode = Mode::Data;
        } else if argument == "mode=mailbox" {
            options.mode = Mode::Mailbox;
        } else if argument == "mode=portal" {
            options.mode = Mode::Portal;
        } else if let Some(bytes) = argument.strip_prefix("bytes=") {
            options.bytes = number(bytes)? as usize;
        } else {
            return Err("unknown argument (expected partner=, rounds=, trials=, bytes=)");
        }
    }
    if options.bytes == 0 || options.bytes > NOC_PAYLOAD_MAX {
        return Err("bytes= must be between 1 and 128");
    }
    Ok(options)
}

fn main() -> i32 {
    let options = match options() {
        Ok(options) => options,
        Err(reason) => {
            println!("bench-noc: {reason}");
            return 2;
        }
    };
    let (Ok(this), Some(partner)) = (cluster::this(), options.partner.and_then(cluster::find))
    else {
        println!("bench-noc: needs partner=NAME naming a cluster of the board");
        return 2;
    };
    let client_side = this.index < partner.index;
    let result = match (options.mode, client_side) {
        (Mode::Control, true) => client(&partner, &options),
        (Mode::Control, false) => server(&partner, &options),
        (Mode::Data, true) => data_client(&partner, &options),
        (Mode::Data, false) => data_server(&partner, &options),
        (Mode::Mailbox, client_side) => mailboxes(&partner, &options, client_side),
        (Mode::Portal, client_side) => portals(&partner, &options, client_side),
    };
    match result {
        Ok(()) => 0,
        Err(reason) => {
            println!("bench-noc: {reason}");
            1
        }
    }
}

/// Data round-trip sizes.
const DATA_SIZES: [usize; 3] = [4096, 64 * 1024, 1024 * 1024];

/// Round trips per trial for a data size: fewer for larger transfers.
fn data_rounds(options: &Options<'_>, size: usize) -> u64 {
    (options.rounds * 4096 / size as u64).max(10)
}

fn data_client(partner: &ClusterInfo, options: &Options<'_>) -> Result<(), &'static str> {
    let mut buffer = alloc::vec![0x5au8; DATA_SIZES[DATA_SIZES.len() - 1]];
    for size in DATA_SIZES {
        let rounds = data_rounds(options, size);
        let trip = |buffer: &mut [u8]| -> Result<(), &'static str> {
            data::send(partner.first_node, 0, &buffer[..size]).map_err(|_| "data send failed")?;
            let (_, length) = data::receive(buffer).map_err(|_| "data receive failed")?;
            if length != size {
                return Err("a data reply had the wrong size");
            }
            Ok(())
        };
        time_trips("data_round_trip", size, rounds, options.trials, || {
            trip(&mut buffer)
        })?;
    }
    Ok(())
}

fn data_server(partner: &ClusterInfo, options: &Options<'_>) -> Result<(), &'static str> {
    let mut buffer = alloc::vec![0u8; DATA_SIZES[DATA_SIZES.len() - 1]];
    for size in DATA_SIZES {
        for _ in 0..data_rounds(options, size) * (options.trials + 1) {
            let (header, length) = data::receive(&mut buffer).map_err(|_| "data receive failed")?;
            if header.source_node != partner.first_node || length != size {
                return Err("a data request came from elsewhere or with the wrong size");
            }
            data::send(partner.first_node, 0, &buffer[..length]).map_err(|_| "data send failed")?;
        }
    }
    Ok(())
}

fn round_trip(
    partner: &ClusterInfo,
    payload: &[u8],
    buffer: &mut [u8],
) -> Result<(), &'static str> {
    noc::send(partner.first_node, 0, payload).map_err(|_| "send failed")?;
    let (header, length) = noc::receive(buffer).map_err(|_| "receive failed")?;
    if header.source_node != partner.first_node || length != payload.len() {
        return Err("a reply came from elsewhere or with the wrong size");
    }
    Ok(())
}

fn client(partner: &ClusterInfo, options: &Options<'_>) -> Result<(), &'static str> {
    let payload = [0x5au8; NOC_PAYLOAD_MAX];
    let payload = &payload[..options.bytes];
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    time_trips(
        "noc_round_trip",
        options.bytes,
        options.rounds,
        options.trials,
        || round_trip(partner, payload, &mut buffer),
    )
}

fn server(partner: &ClusterInfo, options: &Options<'_>) -> Result<(), &'static str> {
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    for _ in 0..options.rounds * (options.trials + 1) {
        let (header, length) = noc::receive(&mut buffer).map_err(|_| "receive failed")?;
        if header.source_node != partner.first_node {
            return Err("a request came from elsewhere");
        }
        noc::send(partner.first_node, 0, &buffer[..length]).map_err(|_| "send failed")?;
    }
    Ok(())
}

/// Mailbox round trips: each side creates its mailbox and opens the other's; the
/// client times `trials` trials after a warm-up, the server echoes.
fn mailboxes(
    partner: &ClusterInfo,
    options: &Options<'_>,
    client_side: bool,
) -> Result<(), &'static str> {
    let inbox = Inbox::create(MAILBOX_PORT).map_err(|_| "mailbox create failed")?;
    let outbox =
        Outbox::open(partner.first_node, MAILBOX_PORT).map_err(|_| "mailbox open failed")?;
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    if !client_side {
        for _ in 0..options.rounds * (options.trials + 1) {
            let (header, length) = inbox.read(&mut buffer).map_err(|_| "mailbox read failed")?;
            if header.source_node != partner.first_node {
                return Err("a mailbox request came from elsewhere");
            }
            outbox
                .write(&buffer[..length])
                .map_err(|_| "mailbox write failed")?;
        }
        return Ok(());
    }
    let payload = [0x5au8; NOC_PAYLOAD_MAX];
    let payload = &payload[..options.bytes];
    let trip = |buffer: &mut [u8]| -> Result<(), &'static str> {
        outbox.write(payload).map_err(|_| "mailbox write failed")?;
        let (header, length) = inbox.read(buffer).map_err(|_| "mailbox read failed")?;
        if header.source_node != partner.first_node || length != payload.len() {
            return Err("a mailbox reply came from elsewhere or with the wrong size");
        }
        Ok(())
    };
    time_trips(
        "mailbox_round_trip",
        options.bytes,
        options.rounds,
        options.trials,
        || trip(&mut buffer),
    )
}

/// Portal round trips of each data size: each side creates its portal and opens
/// the other's; before a transfer comes, its receiver allows it. The client times
/// `trials` trials per size after a warm-up; the server echoes.
fn portals(
    partner: &ClusterInfo,
    options: &Options<'_>,
    client_side: bool,
) -> Result<(), &'static str> {
    let inportal = Inportal::create(PORTAL_PORT).map_err(|_| "portal create failed")?;
    let outportal =
        Outportal::open(partner.first_node, PORTAL_PORT).map_err(|_| "portal open failed")?;
    let mut buffer = alloc::vec![0x5au8; DATA_SIZES[DATA_SIZES.len() - 1]];
    for size in DATA_SIZES {
        let rounds = data_rounds(options, size);
        let trip = |buffer: &mut [u8]| -> Result<(), &'static str> {
            inportal
                .allow(partner.first_node, size)
                .map_err(|_| "portal allow failed")?;
            if client_side {
                outportal
                    .write(&buffer[..size])
                    .map_err(|_| "portal write failed")?;
            }
            let (header, length) = inportal
                .read(&mut buffer[..size])
                .map_err(|_| "portal read failed")?;
            if header.source_node != partner.first_node || length != size {
                return Err("a portal transfer came from elsewhere or with the wrong size");
            }
            if !client_side {
                outportal
                    .write(&buffer[..size])
                    .map_err(|_| "portal write failed")?;
            }
            Ok(())
        };
        if !client_side {
            for _ in 0..rounds * (options.trials + 1) {
                trip(&mut buffer)?;
            }
            continue;
        }
        time_trips("portal_round_trip", size, rounds, options.trials, || {
            trip(&mut buffer)
        })?;
    }
    Ok(())
}
