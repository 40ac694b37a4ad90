//! System test of the memory server's shared memory: alice makes a segment and
//! writes it through a mapping on one compute cluster (and is refused one past her
//! quota), finds her bytes from another process; bob is refused her segment and
//! its removal; root reads it and removes it. And a remote heap of four times the
//! compute cluster's SRAM, every byte written and read back through the pager.

mod common;

use common::{printed, start};

#[test]
fn shared_and_remote_memory_work_across_clusters_for_those_permitted() {
    let mut board = start("shm.toml");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster, line) in [
        ("cc0", "shm-test: write: 8 checks, 0 failed"),
        ("cc0", "shm-test: read: 1 checks, 0 failed"),
        ("cc0", "shm-test: bob: 4 checks, 0 failed"),
        ("cc0", "shm-test: remote: 11 checks, 0 failed"),
        ("io0", "shm-test: users: 7 checks, 0 failed"),
    ] {
        assert!(
            printed(&board, cluster, line),
            "{line}\n{}",
            board.transcript()
        );
    }
}
