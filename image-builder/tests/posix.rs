//! System test of libnanvix's POSIX-like calls (`libnanvix::posix`): getpid,
//! getppid, getuid, spawn, waitpid, kill, signal with a handler, the name calls,
//! and the standard descriptors, with the servers found by convention at the boot
//! cluster's first node.

mod common;

use common::{printed, start};

#[test]
fn posix_like_calls_reach_the_servers() {
    let mut board = start("posix.toml");
    let status = board.wait_exit().unwrap();
    assert!(
        printed(&board, "io0", "posix-test: 17 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    // The child's standard output and error reached the console.
    assert!(
        printed(&board, "cc0", "posix-test: child to stderr")
            || printed(&board, "cc1", "posix-test: child to stderr"),
        "{}",
        board.transcript()
    );
    assert_eq!(status, 0, "{}", board.transcript());
}
