//! Helpers the system tests share: boot a test system (or run one to a clean end
//! and check its lines; or on a disk file), look for and wait for console lines,
//! find a cluster's process.

#![allow(dead_code)]

use nanvix_harness::{Board, Event};
use std::time::Duration;

pub const NANVIX: &str = env!("CARGO_BIN_EXE_nanvix");

/// Boots `manifest` (a file of image-builder/tests/systems) with a two-minute bound.
pub fn start(manifest: &str) -> Board {
    let manifest = nanvix_image_builder::workspace_root()
        .join("image-builder/tests/systems")
        .join(manifest);
    Board::start(NANVIX, manifest, Duration::from_secs(120)).unwrap()
}

/// Boots `name` (a system of image-builder/tests/systems, without `.toml`) on the
/// disk file `disk`, started over from zeros when `fresh`.
pub fn boot_on_disk(name: &str, disk: &std::path::Path, fresh: bool) -> Board {
    let manifest = nanvix_image_builder::workspace_root()
        .join("image-builder/tests/systems")
        .join(format!("{name}.toml"));
    start_on_disk_within(manifest, disk, fresh, Duration::from_secs(90))
}

/// Boots the system `manifest` on the disk file `disk`, started over from zeros
/// when `fresh`, bounded by `limit`.
pub fn start_on_disk_within(
    manifest: std::path::PathBuf,
    disk: &std::path::Path,
    fresh: bool,
    limit: Duration,
) -> Board {
    let disk = disk.to_str().unwrap();
    let mut extra = vec!["--disk", disk];
    if fresh {
        extra.push("--fresh-disk");
    }
    Board::start_with(NANVIX, manifest, limit, &extra).unwrap()
}

/// Whether a program named `name` (an event's) is `program`: the image's program
/// of that name, or a file's staged from the file system as `program@HASH`.
pub fn is_program(name: &str, program: &str) -> bool {
    name.strip_prefix(program)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('@'))
}

/// The console lines so far whose (cluster, program, line) `keep` takes, in order.
pub fn console_lines(board: &Board, keep: impl Fn(&str, &str, &str) -> bool) -> Vec<String> {
    board
        .events()
        .iter()
        .filter_map(|event| match event {
            Event::Console {
                cluster,
                program,
                line,
            } if keep(cluster, program, line) => Some(line.clone()),
            _ => None,
        })
        .collect()
}

/// Whether `cluster_name` printed `expected` so far.
pub fn printed(board: &Board, cluster_name: &str, expected: &str) -> bool {
    board.events().iter().any(|event| {
        matches!(event, Event::Console { cluster, line, .. }
            if cluster == cluster_name && line == expected)
    })
}

/// Waits until `cluster_name` printed `expected` (now or before: a wait sees
/// only the events after it starts).
pub fn wait_for_line(board: &mut Board, cluster_name: &str, expected: &str) {
    if printed(board, cluster_name, expected) {
        return;
    }
    board
        .wait_for(|event| {
            matches!(event, Event::Console { cluster, line, .. }
                if cluster == cluster_name && line == expected)
        })
        .unwrap_or_else(|error| panic!("{cluster_name} never printed `{expected}`: {error:?}"));
}

/// The host process of cluster `name`.
pub fn pid_of(board: &Board, name: &str) -> u32 {
    board
        .events()
        .iter()
        .find_map(|event| match event {
            Event::ClusterUp { cluster, pid, .. } if cluster == name => Some(*pid),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{name} never came up"))
}

/// Boots `manifest`, waits for a clean end and checks each (cluster, line).
pub fn run_and_expect(manifest: &str, expected: &[(&str, &str)]) {
    expect_clean_run(start(manifest), expected);
}

/// Waits for `board`'s clean end and checks each (cluster, line).
pub fn expect_clean_run(mut board: Board, expected: &[(&str, &str)]) {
    assert_eq!(board.wait_exit().unwrap(), 0, "{}", board.transcript());
    for (cluster_name, expected_line) in expected {
        assert!(
            printed(&board, cluster_name, expected_line),
            "{cluster_name} did not print `{expected_line}`:\n{}",
            board.transcript()
        );
    }
}

/// Fails the test, with the transcript, if the board stopped itself (a critical
/// cluster died, or one had to be killed).
pub fn assert_no_board_stop(board: &Board) {
    assert!(
        !board
            .events()
            .iter()
            .any(|event| matches!(event, Event::BoardStop { .. })),
        "{}",
        board.transcript()
    );
}

/// Checks what `programs-from-files` does, once its board ended with `status`:
/// process-test's file checks all passed, and the bytes written over /tmp/copied
/// ran as themselves on cc0 (hello's greeting, and its defmt log decoded with the
/// staged ELF).
pub fn assert_programs_ran_from_files(board: &Board, status: i32) {
    let transcript = board.transcript();
    assert_eq!(status, 0, "{transcript}");
    assert!(
        printed(board, "io0", "process-test: files: 18 checks, 0 failed"),
        "{transcript}"
    );
    let events = board.events();
    let greeted = events.iter().any(|event| {
        matches!(event, Event::Console { cluster, program, line }
            if cluster == "cc0" && program.starts_with("copied@") && line.starts_with("hello from cc0"))
    });
    let logged = events.iter().any(|event| {
        matches!(event, Event::Log { cluster, program, message, .. }
            if cluster == "cc0" && program.starts_with("copied@") && message.starts_with("hello from cc0"))
    });
    assert!(greeted && logged, "{transcript}");
}

/// Fails the test, with the transcript, if a test program printed a `FAIL` line.
pub fn assert_no_failed_checks(board: &Board) {
    let failed = board
        .events()
        .iter()
        .any(|event| matches!(event, Event::Console { line, .. } if line.starts_with("FAIL")));
    assert!(!failed, "{}", board.transcript());
}

/// A new directory of its own for a test's files (`name` and the test process'
/// id); the test removes it.
pub fn scratch_directory(name: &str) -> std::path::PathBuf {
    let directory = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&directory).unwrap();
    directory
}

/// Fails unless `nanvix fsck` finds the file system on `disk` clean.
pub fn assert_fsck_clean(disk: &std::path::Path) {
    let output = std::process::Command::new(NANVIX)
        .arg("fsck")
        .arg(disk)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// Waits for process-test's sleeper line (`process-test: pid N runs on CLUSTER`)
/// and kills that cluster's latest incarnation (SIGKILL to its host process: a
/// cluster process, or a QEMU machine).
pub fn kill_the_sleepers_cluster(board: &mut Board) {
    let line = board
        .wait_for(|event| {
            matches!(event, Event::Console { line, .. } if line.starts_with("process-test: pid "))
        })
        .unwrap_or_else(|error| panic!("no sleeper line: {error:?}"));
    let Event::Console { line, .. } = line else {
        unreachable!()
    };
    let cluster = line.rsplit(' ').next().unwrap().to_string();
    let pid = board
        .events()
        .iter()
        .rev()
        .find_map(|event| match event {
            Event::ClusterUp {
                cluster: up, pid, ..
            } if *up == cluster => Some(*pid),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{cluster} never came up:\n{}", board.transcript()));
    nanvix_harness::signal(pid, libc::SIGKILL).unwrap();
}

/// Waits until io0 and cc0 are up and io0's name and process servers serve, then
/// asks the board to shut down (a SIGTERM to the runner, which init hears).
pub fn shut_down_once_the_servers_serve(board: &mut Board) {
    board
        .wait_until_up(&["io0", "cc0"])
        .unwrap_or_else(|error| panic!("{error:?}\n{}", board.transcript()));
    for line in [
        "name-server: serving on node 2 port 1",
        "process-server: serving on node 0 port 2",
    ] {
        wait_for_line(board, "io0", line);
    }
    nanvix_harness::signal(board.runner_pid(), libc::SIGTERM).unwrap();
}
