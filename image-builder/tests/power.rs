//! System tests of power control: an I/O cluster's program powers a free compute
//! cluster on and off (with a signal), how each incarnation ended (exit, killed,
//! fault), and every refusal of the two kcalls.

mod common;

use common::{assert_no_failed_checks, printed, start};
use nanvix_harness::Event;

#[test]
fn an_io_cluster_powers_a_compute_cluster_on_and_off() {
    let mut board = start("power.toml");
    // The board's status counts each cluster's last incarnation: cc0's last program
    // panicked on purpose (a non-critical failure).
    assert_eq!(board.wait_exit().unwrap(), 2, "{}", board.transcript());
    for (cluster, line) in [
        ("io0", "power-test: 28 checks, 0 failed"),
        (
            "cc0",
            "power-test: worker up in epoch 1, 2 checks, 0 failed",
        ),
        ("cc0", "power-test: sleeping"),
    ] {
        assert!(
            printed(&board, cluster, line),
            "{cluster} did not print `{line}`:\n{}",
            board.transcript()
        );
    }
    assert_no_failed_checks(&board);
    // cc0 came up three times, in epochs 1 to 3, and never died.
    let epochs: Vec<u32> = board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::ClusterUp { cluster, epoch, .. } if cluster == "cc0" => Some(*epoch),
            _ => None,
        })
        .collect();
    assert_eq!(epochs, [1, 2, 3], "{}", board.transcript());
    assert!(
        !board
            .events()
            .iter()
            .any(|event| matches!(event, Event::ClusterDied { .. })),
        "{}",
        board.transcript()
    );
}
