//! System tests of the data NoC: bulk transfers between clusters.

use nanvix_harness::{Board, Event};
use std::time::Duration;

const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

#[test]
fn data_noc_transfers_of_several_sizes_arrive_intact() {
    let manifest =
        nanvix_image_builder::workspace_root().join("image-builder/tests/systems/data.toml");
    let mut board = Board::start(NANVIX, manifest, Duration::from_secs(90)).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for cluster_name in ["cc0", "cc1"] {
        assert!(
            board.events().iter().any(|event| matches!(event,
                Event::Console { cluster, line, .. }
                    if cluster == cluster_name && line == "data-test: 10 transfers ok")),
            "{}",
            board.transcript()
        );
    }
}

#[test]
fn polled_doorbells_carry_control_and_data_traffic() {
    let root = nanvix_image_builder::workspace_root();
    for (manifest, expected) in [
        (
            "image-builder/tests/systems/data.toml",
            "data-test: 10 transfers ok",
        ),
        ("systems/tiny.toml", "ping-pong with cc1: 1000 rounds ok"),
    ] {
        let mut board = Board::start_with(
            NANVIX,
            root.join(manifest),
            Duration::from_secs(90),
            &["--doorbells", "polling"],
        )
        .unwrap();
        assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
        assert!(
            board.events().iter().any(|event| matches!(event,
                Event::Console { cluster, line, .. } if cluster == "cc0" && line == expected)),
            "{manifest}: {}",
            board.transcript()
        );
    }
}
