//! System tests of the vfs server: files and directories served to a client on the
//! server's cluster and one on another (bytes beside the messages), each refusal,
//! the server's `Stop` refused to another cluster, and what was written found at
//! the next boot; the disk checks clean between the two.

mod common;

use common::{assert_fsck_clean, boot_on_disk, pid_of, printed, scratch_directory, wait_for_line};
use nanvix_harness::{Event, signal};

#[test]
fn the_vfs_server_serves_files_across_clusters_and_keeps_them_across_boots() {
    let directory = scratch_directory("nanvix-vfs");
    let disk = directory.join("vfs.disk");
    let mut board = boot_on_disk("vfs", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "vfs-test: local: 42 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    assert!(
        printed(&board, "cc0", "vfs-test: remote: 8 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    assert_fsck_clean(&disk);
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
    let directory = scratch_directory("nanvix-vfs-users");
    let disk = directory.join("vfs.disk");
    let mut board = boot_on_disk("vfs-users", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster, line) in [
        ("io0", "vfs-test: users: 6 checks, 0 failed"),
        ("cc", "vfs-test: api: 30 checks, 0 failed"),
        ("cc", "vfs-test: alice: 11 checks, 0 failed"),
        ("cc", "vfs-test: bob: 10 checks, 0 failed"),
        ("cc", "vfs-test: bob ran on alice's node"),
        ("io0", "vfs-server: stopped"),
    ] {
        assert!(
            board.events().iter().any(|event| matches!(event,
                Event::Console { cluster: name, line: printed, .. }
                    if name.starts_with(cluster) && printed.starts_with(line))),
            "{line}\n{}",
            board.transcript()
        );
    }
    assert_fsck_clean(&disk);
    let _ = std::fs::remove_dir_all(&directory);
}

/// Record `number` of `vfs-test mode=append` (as `apps/vfs-test` writes it).
fn record(number: u32) -> [u8; 64] {
    let mut bytes = [0u8; 64];
    bytes[..4].copy_from_slice(&number.to_le_bytes());
    for (index, byte) in bytes[4..].iter_mut().enumerate() {
        *byte = (number as u8).wrapping_mul(7).wrapping_add(index as u8);
    }
    bytes
}

/// The server's cluster killed while a client appends with an `fsync` every third
/// record: the disk checks clean, and `/tmp/log` holds every record an `fsync`
/// acknowledged, then perhaps some more, each whole and in order.
#[test]
fn a_killed_vfs_server_keeps_every_fsynced_write() {
    let directory = scratch_directory("nanvix-vfs-kill");
    let disk = directory.join("vfs.disk");
    let mut board = boot_on_disk("vfs-kill", &disk, true);
    wait_for_line(&mut board, "cc0", "vfs-test: synced 60");
    signal(pid_of(&board, "io0"), libc::SIGKILL).unwrap();
    assert_ne!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let synced: usize = board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Console { line, .. } => line.strip_prefix("vfs-test: synced ")?.parse().ok(),
            _ => None,
        })
        .max()
        .unwrap();
    assert_fsck_clean(&disk);
    // The log as a mount finds it (the journal replayed).
    use nanvix_fs::{Caller, FileSystem, MemoryDisk};
    let bytes = std::fs::read(&disk).unwrap();
    let mut files = FileSystem::mount(MemoryDisk::from_bytes(&bytes)).unwrap();
    let log = files.resolve("/tmp/log", &Caller::root()).unwrap();
    let size = files.inode(log).unwrap().size as usize;
    let mut contents = vec![0; size];
    files.read(log, 0, &mut contents).unwrap();
    assert_eq!(size % 64, 0, "a torn record: {size} bytes");
    assert!(
        size / 64 >= synced,
        "{} records kept, {synced} acknowledged by fsync",
        size / 64
    );
    for (number, found) in contents.chunks(64).enumerate() {
        assert_eq!(found, record(number as u32), "record {number}");
    }
    let _ = std::fs::remove_dir_all(&directory);
}

/// Two clients append to one file at once: every record of each is there, whole and
/// in its writer's order.
#[test]
fn concurrent_clients_append_to_one_file_without_losing_or_tearing_a_record() {
    let directory = scratch_directory("nanvix-vfs-shared");
    let disk = directory.join("vfs.disk");
    let mut board = boot_on_disk("vfs-shared", &disk, true);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    assert!(
        printed(&board, "io0", "vfs-test: shared: 4 checks, 0 failed"),
        "{}",
        board.transcript()
    );
    for cluster in ["cc0", "cc1"] {
        assert!(
            printed(&board, cluster, "vfs-test: share: 4 checks, 0 failed"),
            "{}",
            board.transcript()
        );
    }
    let _ = std::fs::remove_dir_all(&directory);
}
