//! System test of the program kcalls: an I/O cluster's program starts, waits for
//! and ends programs of its own cluster (slots, statuses, timeouts, kills, memory
//! given back, every refusal), and a compute cluster may not.

mod common;

use common::{assert_no_failed_checks, printed, start};
use nanvix_harness::Event;

#[test]
fn an_io_cluster_starts_waits_for_and_ends_its_programs() {
    let mut board = start("programs.toml");
    let status = board.wait_exit().unwrap();
    for (cluster, line) in [
        ("io0", "program-test: 28 checks, 0 failed"),
        ("cc0", "program-test: compute, 3 checks, 0 failed"),
    ] {
        assert!(
            printed(&board, cluster, line),
            "{cluster} did not print `{line}`:\n{}",
            board.transcript()
        );
    }
    assert_no_failed_checks(&board);
    // Every child's start was reported: 1 + 1 + 1 + 30 + 1 + 1 + 2 children.
    let started = board
        .events()
        .iter()
        .filter(|event| {
            matches!(event, Event::ProgramStarted { cluster, program, .. }
                if cluster == "io0" && program == "program-test")
        })
        .count();
    assert_eq!(started, 1 + 37, "{}", board.transcript());
    // The programs io0's slots hold at the end all ended with 0.
    assert_eq!(status, 0, "{}", board.transcript());
}
