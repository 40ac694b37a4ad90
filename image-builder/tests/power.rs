//! System tests of power control: an I/O cluster's program powers a free compute
//! cluster on and off (with a signal), runs a second program on it while it is
//! idle (warm), how each program ended (exit, killed, fault), and every refusal of
//! the two kcalls.

mod common;

use common::{assert_no_failed_checks, printed, start};
use nanvix_harness::Event;

#[test]
fn an_io_cluster_powers_a_compute_cluster_on_and_off() {
    let mut board = start("power.toml");
    // cc0's last program panicked, but its last incarnation ended powered off by
    // the board (idle, with no I/O cluster left to give it work).
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster, line) in [
        ("io0", "power-test: 43 checks, 0 failed"),
        (
            "cc0",
            "power-test: worker up in epoch 1, 3 checks, 0 failed",
        ),
        // (The sleeper the boss runs on the warm cluster may be powered off before
        // it prints a line: the boss waits only for the board to have its request.)
    ] {
        assert!(
            printed(&board, cluster, line),
            "{cluster} did not print `{line}`:\n{}",
            board.transcript()
        );
    }
    assert_no_failed_checks(&board);
    // cc0 booted twice, in epochs 1 and 2 (the sleeper ran on the warm cluster),
    // and never died.
    let epochs: Vec<u32> = board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::ClusterUp { cluster, epoch, .. } if cluster == "cc0" => Some(*epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, [1, 2], "{}", board.transcript());
    assert!(
        !board
            .events()
            .iter()
            .any(|event| matches!(event, Event::ClusterDied { .. })),
        "{}",
        board.transcript()
    );
}
