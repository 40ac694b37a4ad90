//! System tests of the vfs server: files and directories served to a client on the
//! server's cluster and one on another (bytes beside the messages), each refusal,
//! the server's `Stop` refused to another cluster, and what was written found at
//! the next boot; the disk checks clean between the two.

mod common;

use common::{NANVIX, boot_on_disk, printed};

#[test]
fn the_vfs_server_serves_files_across_clusters_and_keeps_them_across_boots() {
    let directory = std::env::temp_dir().join(format!("nanvix-vfs-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("vfs.disk");
    let mut board = boot_on_disk("vfs", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "vfs-test: local: 32 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    assert!(
        printed(&board, "cc0", "vfs-test: remote: 8 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    let output = std::process::Command::new(NANVIX)
        .arg("fsck")
        .arg(&disk)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let mut board = boot_on_disk("vfs-persisted", &disk, false);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "vfs-test: persisted: 2 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    let _ = std::fs::remove_dir_all(&directory);
}

/// Users and permissions: alice's private file is refused to bob, sticky `/tmp`
/// keeps her shared file hers, root may do anything, and a descriptor she left
/// open on a warm cluster is not bob's when his process runs there next.
#[test]
fn the_vfs_server_checks_each_callers_permissions() {
    let directory = std::env::temp_dir().join(format!("nanvix-vfs-users-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("vfs.disk");
    let mut board = boot_on_disk("vfs-users", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster, line) in [
        ("io0", "vfs-test: users: 5 checks, 0 failed"),
        ("cc", "vfs-test: alice: 11 checks, 0 failed"),
        ("cc", "vfs-test: bob: 10 checks, 0 failed"),
        ("cc", "vfs-test: bob ran on alice's node"),
        ("io0", "vfs-server: stopped"),
    ] {
        assert!(
            board.events().iter().any(|event| matches!(event,
                nanvix_harness::Event::Console { cluster: name, line: printed, .. }
                    if name.starts_with(cluster) && printed.starts_with(line))),
            "{line}\n{}",
            board.transcript()
        );
    }
    let output = std::process::Command::new(NANVIX)
        .arg("fsck")
        .arg(&disk)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let _ = std::fs::remove_dir_all(&directory);
}
