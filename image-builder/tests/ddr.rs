//! System test of the board's DDR: one DDR-attached I/O cluster writes a pattern
//! (checking bad requests are refused and change nothing), another finds it (the
//! DDR outlives the writer's cluster), and a compute cluster may not use it.

mod common;

use common::{printed, start};

#[test]
fn the_ddr_is_shared_by_the_ddr_attached_clusters_only() {
    let mut board = start("ddr.toml");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster, line) in [
        ("io0", "ddr-test: write: 10 checks, 0 failed"),
        ("io1", "ddr-test: read: 3 checks, 0 failed"),
        ("cc0", "ddr-test: absent: 3 checks, 0 failed"),
    ] {
        assert!(
            printed(&board, cluster, line),
            "{line}\n{}",
            board.transcript()
        );
    }
}
