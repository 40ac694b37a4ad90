//! System tests of portals: transfers of 1 byte to 1 MiB + 1 under one allow each,
//! every errno one program can provoke, a started write that goes on before its
//! wait, two started reads of one sender's transfers, a sender program that ends
//! mid-transfer, and a sender killed mid-transfer.

mod common;

use common::{pid_of, printed, run_and_expect, start, wait_for_line};
use nanvix_harness::{Event, signal};
use std::time::Duration;

#[test]
fn every_portal_errno_and_a_transfer_to_itself() {
    run_and_expect(
        "portal-errors.toml",
        &[("io0", "portal-test: 51 checks, 0 failed")],
    );
}

#[test]
fn transfers_up_to_a_mebibyte_and_more_arrive_intact_under_one_allow_each() {
    run_and_expect(
        "portal.toml",
        &[
            ("cc0", "portal-test: sent 5"),
            ("cc1", "portal-test: 5 transfers ok"),
        ],
    );
}

#[test]
fn a_started_write_goes_out_before_its_wait() {
    run_and_expect(
        "portal-ahead.toml",
        &[
            ("cc1", "portal-test: read 1572864 ahead of the wait"),
            (
                "cc0",
                "portal-test: the started write went out before its wait",
            ),
        ],
    );
}

#[test]
fn two_started_reads_take_one_senders_transfers_in_the_order_sent() {
    run_and_expect(
        "portal-two.toml",
        &[
            ("cc0", "portal-test: sent two"),
            ("cc1", "portal-test: read two, the later one started first"),
        ],
    );
}

#[test]
fn a_sender_program_that_ends_mid_transfer_fails_the_read_with_eio() {
    let mut board = start("portal-cut.toml");
    wait_for_line(&mut board, "io0", "portal-test: ending mid-transfer");
    wait_for_line(&mut board, "cc0", "portal-test: read failed: EIO");
    // io0 stays on (its other program waits for good): dropping the board stops it.
}

#[test]
fn a_sender_killed_mid_transfer_fails_the_read_with_ehostdown() {
    let mut board = start("portal-death.toml");
    wait_for_line(&mut board, "cc1", "portal-test: allowed");
    wait_for_line(&mut board, "cc0", "portal-test: writing");
    // Let the first mebibyte fill the ring: the write then waits, mid-transfer.
    std::thread::sleep(Duration::from_millis(300));
    signal(pid_of(&board, "cc0"), libc::SIGKILL).unwrap();
    let status = board.wait_exit().unwrap();
    assert!(
        printed(&board, "cc1", "portal-test: read failed: EHOSTDOWN"),
        "{}",
        board.transcript()
    );
    assert!(
        !board.events().iter().any(|event| matches!(event,
            Event::Console { cluster, line, .. }
                if cluster == "cc0" && line.starts_with("portal-test: write ended"))),
        "the write ended before the kill: the test proved nothing\n{}",
        board.transcript()
    );
    assert_eq!(status, 2, "a non-critical death makes the board's status 2");
}
