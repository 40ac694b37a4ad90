//! System tests of inter-cluster syncs: every errno, barriers of 3 and 20 clusters
//! passed 1000 times, and a wait that a dead sender ends with EHOSTDOWN.

mod common;

use common::{pid_of, printed, start, wait_for_line};
use nanvix_harness::{Event, signal};

#[test]
fn every_sync_errno_one_program_can_provoke() {
    let mut board = start("sync-errors.toml");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "sync-test: 21 checks, 0 failed"),
        "{}",
        board.transcript()
    );
}

#[test]
fn a_barrier_of_three_clusters_holds_a_thousand_times() {
    let mut board = start("barrier.toml");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for cluster in ["io0", "cc0", "cc1"] {
        assert!(
            printed(&board, cluster, "sync-test: 1000 rounds ok"),
            "{cluster}: {}",
            board.transcript()
        );
    }
}

#[test]
fn a_barrier_across_all_twenty_mppa256_clusters_holds_a_thousand_times() {
    let mut board = start("barrier-mppa256.toml");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let passed = board
        .events()
        .iter()
        .filter(|event| {
            matches!(event, Event::Console { line, .. } if line == "sync-test: 1000 rounds ok")
        })
        .count();
    assert_eq!(passed, 20, "{}", board.transcript());
}

#[test]
fn a_wait_for_a_killed_sender_ends_with_ehostdown() {
    let mut board = start("sync-death.toml");
    wait_for_line(&mut board, "cc0", "sync-test: holding");
    wait_for_line(&mut board, "cc1", "sync-test: signalled");
    signal(pid_of(&board, "cc0"), libc::SIGKILL).unwrap();
    let status = board.wait_exit().unwrap();
    assert!(
        printed(&board, "io0", "sync-test: gather failed: EHOSTDOWN"),
        "{}",
        board.transcript()
    );
    assert!(
        !printed(&board, "io0", "sync-test: gathered"),
        "{}",
        board.transcript()
    );
    assert_eq!(status, 2, "a non-critical death makes the board's status 2");
}
