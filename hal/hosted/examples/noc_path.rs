//! The hosted control NoC's path per message, for instruction counts under callgrind.
//!
//! One thread plays both ends: cluster 1 (cc0 of the tiny board) sends an 8-byte
//! message to cluster 2 (cc1), which takes it and answers, and cc0 takes the answer.
//! Nothing waits, so `valgrind --tool=callgrind` counts the code a round trip runs
//! and nothing else (docs/src/benchmarks.md shows how):
//!
//! ```text
//! cargo build --profile nanvix -p nanvix-hal-hosted --example noc_path
//! valgrind --tool=callgrind target/nanvix/examples/noc_path 100000
//! ```
//!
//! Subtract a run with a smaller count to drop the set-up.

use nanvix_board::{Board, BoardFile};
use nanvix_hal::{ClusterState, ControlNoc, ReceiveDecision, Source};
use nanvix_hal_hosted::cores::HostedCores;
use nanvix_hal_hosted::hardware::{BoardHardware, attach};
use nanvix_hal_hosted::noc::{Doorbells, HostedDoorbell, HostedNoc};
use std::sync::Arc;

fn main() -> Result<(), String> {
    let rounds: u64 = match std::env::args().nth(1) {
        Some(text) => text
            .parse()
            .map_err(|_| format!("`{text}`: expected a round count"))?,
        None => 100_000,
    };
    let file: BoardFile = toml::from_str(include_str!("../../../boards/tiny.toml"))
        .map_err(|error| error.to_string())?;
    let board = Board::from_file("tiny", &file).map_err(|error| format!("{error:?}"))?;
    let hardware = BoardHardware::create(&board).map_err(|error| error.to_string())?;
    let board = Arc::new(board);
    let attach = |index: usize| -> Result<HostedNoc, String> {
        let (_, memory) = attach(hardware.fd(), index).map_err(|error| error.to_string())?;
        hardware.set_state(index, ClusterState::On { epoch: 1 });
        let cores = HostedCores::boot(1).map_err(|error| error.to_string())?;
        Ok(HostedNoc::new(
            Arc::new(memory),
            &board,
            index,
            1,
            HostedDoorbell::new(cores, Doorbells::Futex),
        ))
    };
    let (client, server) = (attach(1)?, attach(2)?);
    let node = |index: usize| board.clusters[index].first_node;
    let (client_node, server_node) = (node(1), node(2));
    let payload = [0x5a_u8; 8];
    let hop = |from: &HostedNoc, source: u32, to: &HostedNoc, destination: u32| {
        from.try_send(
            Source {
                node: source,
                program: 0,
                run: 1,
            },
            destination,
            0,
            &payload,
        )
        .map_err(|error| format!("send: {error:?}"))?;
        let mut taken = 0;
        to.receive(&mut |arrival| {
            taken += arrival.payload.len();
            ReceiveDecision::Take
        });
        if taken == payload.len() {
            Ok(())
        } else {
            Err(format!("took {taken} bytes, sent {}", payload.len()))
        }
    };
    for _ in 0..rounds {
        hop(&client, client_node, &server, server_node)?;
        hop(&server, server_node, &client, client_node)?;
    }
    println!("{rounds} round trips");
    Ok(())
}
