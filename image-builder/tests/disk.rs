//! System tests of the disk: what a program writes and flushes survives the board's
//! power-off and a killed cluster; what it did not flush survives a clean power-off
//! (which flushes) but not a killed cluster; bad requests are refused and change
//! nothing; a cluster without a disk has none; and `nanvix run` refuses a disk file
//! of another size.

use nanvix_harness::signal;
use std::path::PathBuf;

mod common;

use common::{NANVIX, boot_on_disk as boot, pid_of, printed, wait_for_line};

fn manifest(name: &str) -> PathBuf {
    nanvix_image_builder::workspace_root().join(format!("image-builder/tests/systems/{name}.toml"))
}

#[test]
fn flushed_writes_survive_and_unflushed_ones_die_with_their_cluster() {
    let directory = std::env::temp_dir().join(format!("nanvix-disk-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("test.disk");
    // Round 1, then a clean power-off: both halves reach the file.
    let mut board = boot("disk-write", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "disk-test: wrote round 1"),
        "{}",
        board.transcript()
    );
    assert_eq!(std::fs::metadata(&disk).unwrap().len(), 256 << 10);
    let mut board = boot("disk-verify", &disk, false);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "disk-test: verified round 1"),
        "{}",
        board.transcript()
    );
    // Round 2, its second half unflushed when the cluster is killed.
    let mut board = boot("disk-hold", &disk, false);
    wait_for_line(&mut board, "io0", "disk-test: wrote round 2");
    signal(pid_of(&board, "io0"), libc::SIGKILL).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 1, "{}", board.transcript());
    let mut board = boot("disk-lost", &disk, false);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "disk-test: verified round 2"),
        "{}",
        board.transcript()
    );
    // Another size than the system's: refused, the file untouched.
    let before = std::fs::read(&disk).unwrap();
    let output = std::process::Command::new(NANVIX)
        .args(["run", "--disk"])
        .arg(&disk)
        .arg(manifest("disk-check"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let errors = String::from_utf8_lossy(&output.stderr);
    assert!(
        errors.contains("262144 bytes, but the system's disk is 65536: pass --fresh-disk"),
        "{errors}"
    );
    assert_eq!(std::fs::read(&disk).unwrap(), before);
    let _ = std::fs::remove_dir_all(&directory);
}

#[test]
fn bad_disk_requests_are_refused_and_a_cluster_without_a_disk_has_none() {
    let directory = std::env::temp_dir().join(format!("nanvix-disk-check-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let mut board = boot("disk-check", &directory.join("check.disk"), true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "disk-test: 16 blocks"),
        "{}",
        board.transcript()
    );
    assert!(
        printed(&board, "io0", "disk-test: checked"),
        "{}",
        board.transcript()
    );
    assert!(
        printed(&board, "cc0", "disk-test: no disk here"),
        "{}",
        board.transcript()
    );
    let _ = std::fs::remove_dir_all(&directory);
}
