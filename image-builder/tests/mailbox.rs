//! System tests of mailboxes: delivery exactly once and in order, restricted reads,
//! backpressure, and every errno of the mailbox kcalls.

use nanvix_harness::{Board, Event, signal};
use std::time::Duration;

const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

/// Boots `manifest` (under image-builder/tests/systems), waits for a clean end and
/// checks `cluster` printed `line`.
fn run_and_expect(manifest: &str, expected: &[(&str, &str)]) {
    let manifest = nanvix_image_builder::workspace_root()
        .join("image-builder/tests/systems")
        .join(manifest);
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(120)).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster_name, expected_line) in expected {
        assert!(
            board.events().iter().any(|event| matches!(event,
                Event::Console { cluster, line, .. }
                    if cluster == cluster_name && line == expected_line)),
            "{cluster_name} did not print `{expected_line}`:\n{}",
            board.transcript()
        );
    }
}

#[test]
fn every_mailbox_errno_and_an_early_message() {
    run_and_expect(
        "mailbox-errors.toml",
        &[("io0", "mailbox-test: 56 checks, 0 failed")],
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
fn a_read_restricted_to_a_killed_sender_ends_with_ehostdown() {
    let manifest = nanvix_image_builder::workspace_root()
        .join("image-builder/tests/systems/mailbox-death.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(120)).unwrap();
    board
        .wait_for(|event| {
            matches!(event, Event::Console { cluster, line, .. }
                if cluster == "cc0" && line == "mailbox-test: holding")
        })
        .unwrap();
    let cc0 = board
        .events()
        .iter()
        .find_map(|event| match event {
            Event::ClusterUp { cluster, pid, .. } if cluster == "cc0" => Some(*pid),
            _ => None,
        })
        .unwrap();
    signal(cc0, libc::SIGKILL).unwrap();
    let status = board.wait_exit().unwrap();
    assert!(
        board.events().iter().any(|event| matches!(event,
            Event::Console { cluster, line, .. }
                if cluster == "io0" && line == "mailbox-test: read failed: EHOSTDOWN")),
        "{}",
        board.transcript()
    );
    assert_eq!(status, 2, "a non-critical death makes the board's status 2");
}
