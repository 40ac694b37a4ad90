//! System tests of the name server: its protocol and refusals end to end, and the
//! release of a dead holder's names.

mod common;

use common::{pid_of, printed, start, wait_for_line};
use nanvix_harness::signal;

#[test]
fn names_are_linked_looked_up_and_unlinked_and_bad_requests_get_error_replies() {
    let mut board = start("names.toml");
    wait_for_line(&mut board, "cc0", "name-test: 15 checks, 0 failed");
    assert!(
        !board
            .events()
            .iter()
            .any(|event| format!("{event:?}").contains("FAIL")),
        "{}",
        board.transcript()
    );
    // The server carries on after the client ended: the board is still up, and
    // dropping it stops the server's cluster.
    assert!(printed(
        &board,
        "io0",
        "name-server: serving on node 0 port 1"
    ));
}

#[test]
fn a_killed_holders_name_is_released_and_taken_by_another() {
    let mut board = start("names-death.toml");
    wait_for_line(&mut board, "cc0", "name-test: holding");
    wait_for_line(&mut board, "cc1", "name-test: saw held");
    signal(pid_of(&board, "cc0"), libc::SIGKILL).unwrap();
    wait_for_line(&mut board, "cc1", "name-test: took held");
}

#[test]
fn rpc_bytes_go_both_ways_and_a_caller_that_never_sends_or_takes_them_holds_up_no_one() {
    common::run_and_expect(
        "bulk.toml",
        &[
            ("io0", "bulk-test: serving"),
            ("cc0", "bulk-test: client: 30 checks, 0 failed"),
            ("cc1", "bulk-test: liar: 5 checks, 0 failed"),
        ],
    );
}
