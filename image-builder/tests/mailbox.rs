//! System tests of mailboxes: delivery exactly once and in order, restricted reads,
//! backpressure, started reads and writes (one that goes out while the way is full,
//! before its wait), and every errno of the mailbox kcalls.

mod common;

use common::{pid_of, printed, run_and_expect, start, wait_for_line};
use nanvix_harness::{Event, signal};

#[test]
fn every_mailbox_errno_and_an_early_message() {
    run_and_expect(
        "mailbox-errors.toml",
        &[("io0", "mailbox-test: 70 checks, 0 failed")],
    );
}

#[test]
fn two_senders_arrive_once_in_order_and_a_restricted_read_sees_one_source() {
    run_and_expect(
        "mailbox.toml",
        &[
            (
                "io0",
                "mailbox-test: received 20000 from 2 senders in order",
            ),
            ("cc0", "mailbox-test: sent 10000"),
            ("cc1", "mailbox-test: sent 10000"),
        ],
    );
}

#[test]
fn fifteen_compute_clusters_send_ten_thousand_messages_each_to_one_mailbox() {
    run_and_expect(
        "mailbox-many.toml",
        &[(
            "io0",
            "mailbox-test: received 150000 from 15 senders in order",
        )],
    );
}

#[test]
fn a_started_write_into_a_full_way_goes_out_before_its_wait() {
    let mut board = start("mailbox-ahead.toml");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(
            &board,
            "cc0",
            "mailbox-test: the started write went out before its wait"
        ),
        "{}",
        board.transcript()
    );
    // The receiver read the flood (its size depends on the queues) and the last one.
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::Console { cluster, line, .. } if cluster == "cc1"
                && line.starts_with("mailbox-test: read ")
                && line.ends_with(" in order"))),
        "{}",
        board.transcript()
    );
}

#[test]
fn a_read_restricted_to_a_killed_sender_ends_with_ehostdown() {
    let mut board = start("mailbox-death.toml");
    wait_for_line(&mut board, "cc0", "mailbox-test: holding");
    signal(pid_of(&board, "cc0"), libc::SIGKILL).unwrap();
    let status = board.wait_exit().unwrap();
    assert!(
        printed(&board, "io0", "mailbox-test: read failed: EHOSTDOWN"),
        "{}",
        board.transcript()
    );
    assert_eq!(status, 2, "a non-critical death makes the board's status 2");
}
