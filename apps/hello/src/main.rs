//! First program: prints its cluster and plays ping-pong over the control NoC.
//!
//! It also logs its greeting through defmt (`info!`, plus a `debug!` that default
//! builds leave out).
//!
//! Arguments (all optional):
//! - `rounds=N`: ping-pong rounds (default 1);
//! - `partner=NAME`: the cluster to play with (default: the cluster whose index
//!   differs in the lowest bit, so io0 plays io1, cc4 plays cc5); `partner=none`
//!   skips the game;
//! - `hold`: after greeting, wait for messages forever (for fault tests);
//! - `panic`: after greeting, panic (for tests of the panic path);
//! - `echo-input`: after greeting, print every line of console input as
//!   `echo: LINE` until the input ends (the manifest must give it console input);
//! - `await-death=NAME`: before playing, wait until the board reports cluster NAME
//!   dead (for tests that death events reach every kernel);
//! - `log-levels`: after greeting, log one defmt frame at every level and one
//!   `println!` frame (for tests of log decoding and filtering).
//!
//! The cluster with the lower index serves first. Every reply is checked against the
//! source node the hardware stamped, so a message from anyone else is an error.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use libnanvix::abi::{CLUSTER_DEAD, ClusterInfo, NOC_PAYLOAD_MAX};
use libnanvix::{cluster, console, defmt, noc, println, process};

libnanvix::entry!(main);

struct Options<'a> {
    rounds: u32,
    partner: Option<&'a str>,
    hold: bool,
    panic: bool,
    await_death: Option<&'a str>,
    echo_input: bool,
    log_levels: bool,
}

fn options() -> Result<Options<'static>, &'static str> {
    let mut options = Options {
        rounds: 1,
        partner: None,
        hold: false,
        panic: false,
        await_death: None,
        echo_input: false,
        log_levels: false,
    };
    for argument in process::arguments().skip(1) {
        if let Some(rounds) = argument.strip_prefix("rounds=") {
            options.rounds = rounds.parse().map_err(|_| "rounds= needs a number")?;
        } else if let Some(partner) = argument.strip_prefix("partner=") {
            options.partner = Some(partner);
        } else if argument == "hold" {
            options.hold = true;
        } else if argument == "panic" {
            options.panic = true;
        } else if argument == "echo-input" {
            options.echo_input = true;
        } else if argument == "log-levels" {
            options.log_levels = true;
        } else if let Some(name) = argument.strip_prefix("await-death=") {
            options.await_death = Some(name);
        } else {
            return Err(
                "unknown argument (expected rounds=N, partner=NAME, hold, panic, echo-input, log-levels or await-death=NAME)",
            );
        }
    }
    Ok(options)
}

fn main() -> i32 {
    let options = match options() {
        Ok(options) => options,
        Err(reason) => {
            println!("hello: {reason}");
            return 2;
        }
    };
    let this = match cluster::this() {
        Ok(this) => this,
        Err(errno) => {
            println!("hello: cluster_info failed: {errno}");
            return 1;
        }
    };
    println!(
        "hello from {}: node {}, {} cores, {} KiB SRAM, program {}",
        this.name(),
        process::node(),
        this.cores,
        this.sram_bytes / 1024,
        process::id()
    );
    defmt::info!(
        "hello from {=str}: node {=u32}, program {=u32}",
        this.name(),
        process::node(),
        process::id()
    );
    defmt::debug!("{=str} has {=u32} cores", this.name(), this.cores);
    if options.log_levels {
        log_every_level(this.name());
    }
    if options.hold {
        return hold();
    }
    if options.echo_input {
        return echo_input();
    }
    if options.panic {
        panic!("asked to panic on {}", this.name());
    }
    if let Some(name) = options.await_death {
        match await_death(name) {
            Ok(epoch) => println!("{name} is dead (epoch {epoch})"),
            Err(reason) => {
                println!("hello: {reason}");
                return 1;
            }
        }
    }
    let partner = match options.partner {
        Some("none") => return 0,
        Some(name) => cluster::find(name),
        None => cluster::info((this.index ^ 1) as usize).ok(),
    };
    let Some(partner) = partner else {
        println!("hello: no partner cluster for {}", this.name());
        return 1;
    };
    match play(&this, &partner, options.rounds) {
        Ok(()) => {
            println!(
                "ping-pong with {}: {} rounds ok",
                partner.name(),
                options.rounds
            );
            0
        }
        Err(reason) => {
            println!("ping-pong with {} failed: {reason}", partner.name());
            1
        }
    }
}

/// Logs one frame at each defmt level, lowest first, then one without a level.
fn log_every_level(name: &str) {
    defmt::trace!("levels on {=str}: trace", name);
    defmt::debug!("levels on {=str}: debug", name);
    defmt::info!("levels on {=str}: info {=u8}", name, 3);
    defmt::warn!("levels on {=str}: warn {=i32}", name, -4);
    defmt::error!("levels on {=str}: error {=bool}", name, true);
    defmt::println!("levels on {=str}: println", name);
}

/// Waits until the board reports cluster `name` dead; returns its dead epoch.
fn await_death(name: &str) -> Result<u32, &'static str> {
    loop {
        let info = cluster::find(name).ok_or("await-death names no cluster of the board")?;
        if info.state == CLUSTER_DEAD {
            return Ok(info.epoch);
        }
        core::hint::spin_loop();
    }
}

/// Prints each line of console input as `echo: LINE` until the input ends.
fn echo_input() -> i32 {
    let mut line = [0u8; 256];
    let mut used = 0;
    let mut chunk = [0u8; 64];
    loop {
        let count = match console::read(&mut chunk) {
            Ok(0) => break,
            Ok(count) => count,
            Err(errno) => {
                println!("hello: console_read failed: {errno}");
                return 1;
            }
        };
        for &byte in &chunk[..count] {
            if byte == b'\n' || used == line.len() {
                println!(
                    "echo: {}",
                    core::str::from_utf8(&line[..used]).unwrap_or("(not UTF-8)")
                );
                used = 0;
            }
            if byte != b'\n' {
                line[used] = byte;
                used += 1;
            }
        }
    }
    if used > 0 {
        println!(
            "echo: {}",
            core::str::from_utf8(&line[..used]).unwrap_or("(not UTF-8)")
        );
    }
    println!("end of input");
    0
}

fn hold() -> i32 {
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    loop {
        match noc::receive(&mut buffer) {
            Ok((header, length)) if &buffer[..length] == b"stop" => {
                println!("stopped by node {}", header.source_node);
                return 0;
            }
            Ok(_) => {}
            Err(errno) => {
                println!("hello: receive failed: {errno}");
                return 1;
            }
        }
    }
}

fn play(this: &ClusterInfo, partner: &ClusterInfo, rounds: u32) -> Result<(), &'static str> {
    let serving = this.index < partner.index;
    let progress_every = if rounds >= 1000 { rounds / 4 } else { u32::MAX };
    let mut buffer = [0u8; NOC_PAYLOAD_MAX];
    for round in 0..rounds {
        let ping = round.to_le_bytes();
        if serving {
            noc::send(partner.first_node, 0, &ping).map_err(|_| "send failed")?;
        }
        let (header, length) = noc::receive(&mut buffer).map_err(|_| "receive failed")?;
        if header.source_node != partner.first_node || header.source_program != 0 {
            return Err("a message came from another sender");
        }
        if buffer[..length] != ping {
            return Err("the ball came back wrong");
        }
        if !serving {
            noc::send(partner.first_node, 0, &ping).map_err(|_| "send failed")?;
        }
        if round > 0 && round % progress_every == 0 {
            println!("round {round}");
        }
    }
    Ok(())
}
