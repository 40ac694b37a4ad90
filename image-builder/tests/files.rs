//! System tests of the file system on the board's disk: a program formats it,
//! appends records (each write durable when it returns) and powers off; the next
//! boot finds them all; a cluster killed while appending leaves a disk that `nanvix
//! fsck` finds clean and that holds every record acknowledged before the kill, in
//! order, none torn.

use nanvix_harness::{Board, Event, signal};
use std::path::Path;

mod common;

use common::{NANVIX, boot_on_disk as boot, pid_of, wait_for_line};

/// The console lines of fs-test.
fn lines(board: &Board) -> Vec<String> {
    board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Console { program, line, .. } if program == "fs-test" => Some(line.clone()),
            _ => None,
        })
        .collect()
}

fn fsck(disk: &Path) -> (bool, String) {
    let output = std::process::Command::new(NANVIX)
        .arg("fsck")
        .arg(disk)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
    )
}

#[test]
fn files_survive_a_power_off_and_a_killed_cluster_with_every_acknowledged_write() {
    let directory = std::env::temp_dir().join(format!("nanvix-files-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    let disk = directory.join("files.disk");
    for (name, fresh, wanted) in [
        ("fs-format", true, "fs-test: formatted"),
        ("fs-append", false, "fs-test: acknowledged 20"),
        ("fs-verify", false, "fs-test: verified 25 records"),
    ] {
        let mut board = boot(name, &disk, fresh);
        assert_eq!(
            board.wait_exit().unwrap(),
            0,
            "{name}: {}",
            board.transcript()
        );
        assert!(
            lines(&board).iter().any(|line| line == wanted),
            "{name}: {}",
            board.transcript()
        );
    }
    let (clean, report) = fsck(&disk);
    assert!(clean, "{report}");
    // Appending until killed: every record acknowledged before the kill stays.
    let mut board = boot("fs-kill", &disk, false);
    wait_for_line(&mut board, "io0", "fs-test: acknowledged 60");
    signal(pid_of(&board, "io0"), libc::SIGKILL).unwrap();
    assert_eq!(board.wait_exit().unwrap(), 1, "{}", board.transcript());
    let acknowledged: u64 = lines(&board)
        .iter()
        .filter_map(|line| line.strip_prefix("fs-test: acknowledged "))
        .filter_map(|count| count.parse().ok())
        .max()
        .unwrap();
    assert!(acknowledged >= 60);
    let (clean, report) = fsck(&disk);
    assert!(clean, "after the kill: {report}");
    let mut board = boot("fs-verify-more", &disk, false);
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    let verified: u64 = lines(&board)
        .iter()
        .find_map(|line| line.strip_prefix("fs-test: verified "))
        .and_then(|rest| rest.strip_suffix(" records"))
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("{}", board.transcript()));
    assert!(
        verified >= acknowledged,
        "{verified} records after the kill, {acknowledged} acknowledged"
    );
    let _ = std::fs::remove_dir_all(&directory);
}
