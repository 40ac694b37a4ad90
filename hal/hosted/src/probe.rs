//! A NoC probe: control-NoC round trips between two cluster processes, no kernel.
//!
//! `nanvix bench noc` measures the hardware model itself with it: two processes of
//! the cluster kernel executable, started as `nanvix-kernel-hosted --noc-probe ...`,
//! attach to one board's NoC memory as two clusters, exactly as booted kernels do,
//! and bounce a message through [`HostedNoc`]'s `try_send` and `receive` (built with
//! the kernel's profile, so the code measured is the kernel's). The same benchmark
//! measures program-to-program round trips (kcalls on both sides) on a booted board;
//! the difference between the two is the kernel's share.
//!
//! With `protocol=spin` the two processes run the spin baseline's protocol instead
//! (one word each way, no locks, no checks) at the first slot of each channel,
//! through the mappings a cluster has (its own region writable, the others
//! read-only): the floor the NoC's isolation sets on this machine.

use crate::cores::HostedCores;
use crate::noc::{HostedDoorbell, HostedNoc};
use nanvix_hal::{ControlNoc, NocError, ReceiveDecision, Source};
use nanvix_noc_memory::NocMemory;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which side of the round trip a probe plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends, waits for the echo, and times it.
    Client,
    /// Echoes every message back.
    Server,
}

/// What the two sides bounce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Messages through [`HostedNoc`].
    Noc,
    /// One word each way, as `baseline.spin_round_trip_processes` does, at the
    /// first slot of each side's outgoing channel.
    Spin,
}

/// What a probe does.
#[derive(Clone, Copy, Debug)]
pub struct ProbeOptions {
    /// The cluster this process attaches as.
    pub cluster: usize,
    /// The cluster at the other end.
    pub partner: usize,
    /// Client or server.
    pub role: Role,
    /// Round trips per trial (the warm-up is one trial more).
    pub rounds: u64,
    /// Timed trials.
    pub trials: u64,
    /// Payload bytes (at most 128).
    pub bytes: usize,
    /// What the two sides bounce.
    pub protocol: Protocol,
}

/// Why a probe stopped.
#[derive(Debug)]
pub enum ProbeError {
    /// The NoC memory could not be attached.
    Attach(std::io::Error),
    /// A cluster index is not on the board.
    NoSuchCluster(usize),
    /// The partner refused or could not take a message.
    Send(NocError),
    /// No message came for this long.
    Silent(Duration),
    /// A message arrived with other bytes than were sent.
    Corrupted,
}

impl std::fmt::Display for ProbeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProbeError::Attach(error) => write!(formatter, "cannot attach the NoC memory: {error}"),
            ProbeError::NoSuchCluster(index) => {
                write!(formatter, "no cluster {index} on the board")
            }
            ProbeError::Send(error) => write!(formatter, "send failed: {error:?}"),
            ProbeError::Silent(limit) => write!(formatter, "no message for {limit:?}"),
            ProbeError::Corrupted => formatter.write_str("a message arrived corrupted"),
        }
    }
}

/// The first argument that selects the probe in the kernel executable.
pub const PROBE_FLAG: &str = "--noc-probe";

/// Runs the probe from command-line `arguments` (after [`PROBE_FLAG`]):
/// `fd=N cluster=I partner=J [client] [rounds=R] [trials=T] [bytes=B]`. The client
/// prints `trial ns=<ns per round trip>` per trial. Returns the exit status.
pub fn main(arguments: impl Iterator<Item = String>) -> i32 {
    let parsed = parse(arguments)
        .and_then(|(fd, options)| run(fd, &options).map_err(|error| error.to_string()));
    match parsed {
        Ok(trials) => {
            for nanoseconds in trials {
                println!("trial ns={nanoseconds}");
            }
            0
        }
        Err(reason) => {
            eprintln!("noc probe: {reason}");
            2
        }
    }
}

fn parse(arguments: impl Iterator<Item = String>) -> Result<(RawFd, ProbeOptions), String> {
    let mut fd = None;
    let mut options = ProbeOptions {
        cluster: usize::MAX,
        partner: usize::MAX,
        role: Role::Server,
        rounds: 20_000,
        trials: 5,
        bytes: 8,
        protocol: Protocol::Noc,
    };
    for argument in arguments {
        if argument == "client" {
            options.role = Role::Client;
            continue;
        }
        let (key, value) = argument
            .split_once('=')
            .ok_or_else(|| format!("`{argument}` is not KEY=VALUE"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("`{argument}`: expected a number"))
        };
        match key {
            "fd" => fd = Some(number()? as RawFd),
            "cluster" => options.cluster = number()? as usize,
            "partner" => options.partner = number()? as usize,
            "rounds" => options.rounds = number()?.max(1),
            "trials" => options.trials = number()?.max(1),
            "bytes" => options.bytes = number()? as usize,
            "protocol" => {
                options.protocol = match value {
                    "noc" => Protocol::Noc,
                    "spin" => Protocol::Spin,
                    _ => return Err(format!("`{argument}`: expected noc or spin")),
                }
            }
            _ => return Err(format!("unknown argument `{argument}`")),
        }
    }
    if options.bytes == 0 || options.bytes > nanvix_abi::NOC_PAYLOAD_MAX {
        return Err("bytes= must be between 1 and 128".into());
    }
    Ok((fd.ok_or("fd= is required")?, options))
}

/// Every byte of a probe message.
const PAYLOAD_BYTE: u8 = 0x5a;

/// How long either side waits for the other before it gives up.
const SILENCE_LIMIT: Duration = Duration::from_secs(10);

/// Attaches to the NoC memory behind `fd` as `options.cluster` and plays its role;
/// the client returns nanoseconds per round trip of each trial, the server nothing.
pub fn run(fd: RawFd, options: &ProbeOptions) -> Result<Vec<f64>, ProbeError> {
    let (board, memory) =
        crate::hardware::attach(fd, options.cluster).map_err(ProbeError::Attach)?;
    let node_of = |index: usize| {
        board
            .clusters
            .get(index)
            .map(|cluster| cluster.first_node)
            .ok_or(ProbeError::NoSuchCluster(index))
    };
    let (source, partner) = (node_of(options.cluster)?, node_of(options.partner)?);
    if options.protocol == Protocol::Spin {
        for index in [options.cluster, options.partner] {
            node_of(index)?;
        }
        return spin(&memory, options);
    }
    let epoch = memory.cluster_epoch(options.cluster);
    let cores = HostedCores::boot(1).map_err(ProbeError::Attach)?;
    let noc = HostedNoc::new(
        Arc::new(memory),
        &board,
        options.cluster,
        epoch,
        HostedDoorbell::new(cores, crate::noc::Doorbells::Futex),
    );
    let source = Source {
        node: source,
        program: 0,
        run: 1,
    };
    let payload = vec![PAYLOAD_BYTE; options.bytes.min(nanvix_abi::NOC_PAYLOAD_MAX)];
    let trip = |noc: &HostedNoc| -> Result<(), ProbeError> {
        send(noc, source, partner, &payload)?;
        receive(noc)
    };
    match options.role {
        Role::Server => {
            for _ in 0..(options.trials + 1) * options.rounds {
                receive(&noc)?;
                send(&noc, source, partner, &payload)?;
            }
            Ok(Vec::new())
        }
        Role::Client => {
            for _ in 0..options.rounds {
                trip(&noc)?;
            }
            let mut trials = Vec::new();
            for _ in 0..options.trials {
                let start = Instant::now();
                for _ in 0..options.rounds {
                    trip(&noc)?;
                }
                trials.push(start.elapsed().as_nanos() as f64 / options.rounds as f64);
            }
            Ok(trials)
        }
    }
}

/// The spin baseline's protocol over the NoC memory: the client stores round `n` in
/// the first slot word of its channel to the partner and polls the partner's for
/// `n`; the server echoes. Each side writes only its own region; both words are
/// zero at the start (a probe launch has fresh NoC memory).
fn spin(memory: &NocMemory, options: &ProbeOptions) -> Result<Vec<f64>, ProbeError> {
    let layout = memory.layout();
    let mine = memory.word(layout.slot(options.cluster, options.partner, 0));
    let theirs = memory.word(layout.slot(options.partner, options.cluster, 0));
    // Both slot words start at zero: every probe launch has fresh NoC memory.
    let wait_for = |value: u32| -> Result<(), ProbeError> {
        let mut polls: u32 = 0;
        let mut started = None;
        while theirs.load(std::sync::atomic::Ordering::Acquire) != value {
            std::hint::spin_loop();
            polls = polls.wrapping_add(1);
            if polls.is_multiple_of(65_536)
                && started.get_or_insert_with(Instant::now).elapsed() > SILENCE_LIMIT
            {
                return Err(ProbeError::Silent(SILENCE_LIMIT));
            }
        }
        Ok(())
    };
    let total = (options.trials + 1) * options.rounds;
    match options.role {
        Role::Server => {
            for round in (1..=total).map(|round| round as u32) {
                wait_for(round)?;
                mine.store(round, std::sync::atomic::Ordering::Release);
            }
            Ok(Vec::new())
        }
        Role::Client => {
            let mut round = 0u32;
            let mut trip = || {
                round += 1;
                mine.store(round, std::sync::atomic::Ordering::Release);
                wait_for(round)
            };
            for _ in 0..options.rounds {
                trip()?;
            }
            let mut trials = Vec::new();
            for _ in 0..options.trials {
                let began = Instant::now();
                for _ in 0..options.rounds {
                    trip()?;
                }
                trials.push(began.elapsed().as_nanos() as f64 / options.rounds as f64);
            }
            Ok(trials)
        }
    }
}

fn send(noc: &HostedNoc, source: Source, partner: u32, payload: &[u8]) -> Result<(), ProbeError> {
    loop {
        match noc.try_send(source, partner, 0, payload) {
            Ok(()) => return Ok(()),
            Err(NocError::Full) => noc.wait_for_room(partner),
            Err(error) => return Err(ProbeError::Send(error)),
        }
    }
}

/// Polls until one message arrives (no parking: like the spin baseline) and checks
/// its payload is the probe's.
fn receive(noc: &HostedNoc) -> Result<(), ProbeError> {
    let mut intact = true;
    let mut got = false;
    let mut started = None;
    let mut polls: u32 = 0;
    while !got {
        noc.receive(&mut |arrival| {
            if got {
                return ReceiveDecision::Keep;
            }
            intact = arrival
                .payload
                .iter()
                .fold(0, |differences, byte| differences | (byte ^ PAYLOAD_BYTE))
                == 0;
            got = true;
            ReceiveDecision::Take
        });
        if !got {
            std::hint::spin_loop();
            polls = polls.wrapping_add(1);
            // The clock is read only once the wait is long, not on every message.
            if polls.is_multiple_of(65_536)
                && started.get_or_insert_with(Instant::now).elapsed() > SILENCE_LIMIT
            {
                return Err(ProbeError::Silent(SILENCE_LIMIT));
            }
        }
    }
    if intact {
        Ok(())
    } else {
        Err(ProbeError::Corrupted)
    }
}
