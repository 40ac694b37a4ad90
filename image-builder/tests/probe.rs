//! The NoC hardware probe `nanvix bench noc` runs: two kernel processes attached as
//! two clusters, bouncing messages through the hosted NoC without a booted kernel
//! (or one word each way through the same mappings).

use nanvix_hal_hosted::probe::Protocol;
use nanvix_image_builder::{bench, builder, manifest, workspace_root};
use std::process::Command;

fn kernel() -> std::path::PathBuf {
    builder::build(&workspace_root(), &[], false)
        .expect("`cargo nanvix test` builds the kernel first")
        .kernel
}

#[test]
fn the_probe_times_round_trips_between_two_cluster_processes() {
    let root = workspace_root();
    let board = manifest::parse_board(
        "tiny",
        &manifest::workspace_board_text(&root, "tiny").unwrap(),
    )
    .unwrap();
    for protocol in [Protocol::Noc, Protocol::Spin] {
        let trials = bench::noc_probe(&kernel(), &board, (false, protocol), 200, 2).unwrap();
        assert_eq!(trials.len(), 2, "{protocol:?}");
        assert!(
            trials.iter().all(|ns| ns.is_finite() && *ns > 0.0),
            "{protocol:?}: {trials:?}"
        );
    }
}

#[test]
fn the_probe_refuses_bad_arguments_with_a_reason() {
    for (arguments, reason) in [
        (&["cluster=1", "partner=2"][..], "fd= is required"),
        (
            &["fd=3", "colour=blue"][..],
            "unknown argument `colour=blue`",
        ),
        (
            &["fd=3", "bytes=129"][..],
            "bytes= must be between 1 and 128",
        ),
        (
            &["fd=3", "rounds=many"][..],
            "`rounds=many`: expected a number",
        ),
        (
            &["fd=3", "protocol=carrier-pigeon"][..],
            "`protocol=carrier-pigeon`: expected noc or spin",
        ),
        (
            &["fd=999", "cluster=1", "partner=2"][..],
            "cannot attach the NoC memory",
        ),
    ] {
        let output = Command::new(kernel())
            .arg("--noc-probe")
            .args(arguments)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{arguments:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(reason), "{arguments:?}: {stderr}");
    }
}
