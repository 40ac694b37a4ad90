//! System tests of the process server: spawn and wait with exit statuses, more
//! programs than compute clusters (clusters reused), kill, list, every refusal, and
//! a cluster killed under its process (reaped, its waiter told, the cluster reused).

mod common;

use common::{assert_no_failed_checks, printed, start, wait_for_line};

#[test]
fn programs_are_spawned_waited_for_killed_and_reaped() {
    let mut board = start("processes.toml");
    common::kill_the_sleepers_cluster(&mut board);
    wait_for_line(&mut board, "io0", "process-test: 25 checks, 0 failed");
    assert_no_failed_checks(&board);
    assert!(printed(
        &board,
        "io0",
        "process-server: serving on node 0 port 2"
    ));
}

/// A quota of one compute cluster for user 1000: a second refused (waiting or not)
/// while root gets one; room again once its process ended.
#[test]
fn a_users_quota_of_compute_clusters_is_kept() {
    let mut board = start("quota.toml");
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "process-test: quota: 8 checks, 0 failed"),
        "{}",
        board.transcript()
    );
}

/// A quota that does not read is a clear error, and the server does not serve.
#[test]
fn a_bad_quota_argument_is_refused() {
    let mut board = start("quota-bad.toml");
    board.wait_exit().unwrap();
    assert!(
        printed(
            &board,
            "io0",
            "process-server: quotas=`1000`: expected USER:CLUSTERS"
        ),
        "{}",
        board.transcript()
    );
}

/// A process server with a search path runs programs from the file system: one
/// looked up in /bin, a copy under a name the image has no program of, and other
/// bytes written over that copy (staged by their hash, logs decoded with them);
/// a text file, a file without an execute bit, a directory the user may not
/// search, a missing file and a relative path are refused.
#[test]
fn programs_run_from_the_file_system_and_bad_ones_are_refused() {
    let directory = common::scratch_directory("nanvix-programs");
    let mut board = common::boot_on_disk("programs-from-files", &directory.join("disk"), true);
    let status = board.wait_exit().unwrap();
    let _ = std::fs::remove_dir_all(&directory);
    common::assert_programs_ran_from_files(&board, status);
}
